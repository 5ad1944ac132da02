"""Allwinner H6's IOMMU (sun50i-iommu): drivers/iommu/sun50i-iommu.c."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from .base import Contexts, Kind, one_group_per_instance

if TYPE_CHECKING:
    from ..groups import Grouper
    from ..model import Device, Iommu

SUN50I_C = "drivers/iommu/sun50i-iommu.c"


class Sun50i(Kind):
    def device_group(self, grouper: Grouper, iommu: Iommu, devs: Sequence[Device]) -> None:
        """One TTB register, one group (iommu->group, later generic_single_device_group)."""
        one_group_per_instance(grouper, self, iommu, devs)


SUN50I_IOMMU = Sun50i(
    name="sun50i-iommu",
    driver=SUN50I_C,
    notes="Allwinner H6: one table register, so one group for all masters, and a driver domain "
    "replaces the default one; `std/iommu/sun50i-iommu`",
    pack="std/iommu/sun50i-iommu",
    # H616 (and A523, which lists it as its fallback) has the same IP: sun50i_iommu_dt
    # matches "allwinner,sun50i-h616-iommu" from the series that added the H616 IOMMU node
    # (the release is not established here, so the kind takes the node on every kernel).
    # D1's "allwinner,sun20i-d1-iommu" exists only as a posted patch.
    compatibles=("allwinner,sun50i-h6-iommu", "allwinner,sun50i-h616-iommu"),
    arch=None,
    selects_arm_dma_use_iommu="SUN50I_IOMMU",
    streams=frozenset({"sid"}),
    stream_doc="`sid N` (master ID)",
    cells=1,
    xlate=f"{SUN50I_C}: sun50i_iommu_of_xlate (the master ID; the driver enables all six "
    "masters alike)",
    dt_stream="sid",
    smr=False,
    pci=False,
    pci_note="",
    pci_claim=None,
    pci_only=None,
    probes_unbound=False,
    quirks=frozenset(),
    pci_groups=False,
    group_source=f"{SUN50I_C}: sun50i_iommu_device_group",
    fq_alloc=False,
    deferred_flush=None,
    static_default=None,
    span=None,
    no_span=None,
    all_links=False,
    single_client=None,
    shared_page_table=False,
    shared_arm_mapping=None,
    iova_regions=None,
    contexts=Contexts(
        max=None,
        first=0,
        errno="-ENOSPC",
        uncounted="one table register (IOMMU_TTB_REG) that each attach repoints",
        pool=None,
        source=None,
        fixed=False,
        # sun50i_iommu_attach_device: "if (iommu->domain) sun50i_iommu_detach_device"
        release_on_leave=f"{SUN50I_C}: sun50i_iommu_attach_device",
        id_text="domain ID {n} (not a scarce resource)",
    ),
    # translation is switched on only when a domain is attached (IOMMU_ENABLE_REG)
    passes_unattached=f"{SUN50I_C}: sun50i_iommu_attach_domain (enable)",
    faults_unattached=None,
    arch_dma=None,
    aperture=None,
)

KINDS = (SUN50I_IOMMU,)
