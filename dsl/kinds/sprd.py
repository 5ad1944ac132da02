"""Unisoc (Spreadtrum) multimedia IOMMUs (sprd-iommu): drivers/iommu/sprd-iommu.c."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from .base import Contexts, Kind, one_group_per_instance

if TYPE_CHECKING:
    from ..groups import Grouper
    from ..model import Device, Iommu

SPRD_C = "drivers/iommu/sprd-iommu.c"


class Sprd(Kind):
    def device_group(self, grouper: Grouper, iommu: Iommu, devs: Sequence[Device]) -> None:
        """sprd_iommu_device_group returns sdev->group ("All the client devices are in the
        same iommu-group"; generic_single_device_group from 6.7)."""
        one_group_per_instance(grouper, self, iommu, devs)


SPRD_IOMMU = Sprd(
    name="sprd-iommu",
    driver=SPRD_C,
    notes="Unisoc multimedia IOMMUs: one group per IOMMU, an attach repoints its one table "
    "register; DMA default domains, never identity; a domain on two of them is `E120`; "
    "`std/iommu/sprd-iommu`",
    pack="std/iommu/sprd-iommu",
    compatibles=("sprd,iommu-v1",),  # sprd_iommu_of_match
    arch=None,
    selects_arm_dma_use_iommu=None,
    streams=frozenset({"none"}),
    stream_doc="none",
    cells=0,
    xlate=f"{SPRD_C}: #iommu-cells = <0>; sprd_iommu_of_xlate only records the IOMMU (one "
    "client device per IOMMU)",
    dt_stream=None,
    smr=False,
    pci=False,
    pci_note="",
    pci_claim=None,
    pci_only=None,
    probes_unbound=False,
    quirks=frozenset(),
    pci_groups=False,
    group_source=f"{SPRD_C}: sprd_iommu_device_group",
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
        uncounted="one page-table base register per IOMMU (sprd_iommu_pgt_base), the attached "
        "domain's",
        pool=None,
        source=None,
        fixed=False,
        # its attach repoints the first-PPN register at the new domain
        release_on_leave=f"{SPRD_C}: sprd_iommu_attach_device (sprd_iommu_first_ppn)",
        id_text="domain ID {n} (not a scarce resource)",
    ),
    passes_unattached=None,
    faults_unattached=None,
    arch_dma=None,
    aperture=None,
)

KINDS = (SPRD_IOMMU,)
