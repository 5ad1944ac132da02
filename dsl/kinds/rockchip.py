"""Rockchip's IOMMUs (rockchip): drivers/iommu/rockchip-iommu.c."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from .base import Contexts, Kind, one_group_per_instance

if TYPE_CHECKING:
    from ..groups import Grouper
    from ..model import Device, Iommu

RK_C = "drivers/iommu/rockchip-iommu.c"


class Rockchip(Kind):
    def device_group(self, grouper: Grouper, iommu: Iommu, devs: Sequence[Device]) -> None:
        """rk_iommu_device_group: one group per IOMMU."""
        one_group_per_instance(grouper, self, iommu, devs)


ROCKCHIP = Rockchip(
    name="rockchip",
    driver=RK_C,
    notes="one group per IOMMU; an instance holds one domain, so a driver domain replaces "
    "the default one",
    pack=None,
    compatibles=("rockchip,iommu", "rockchip,"),
    arch=None,
    selects_arm_dma_use_iommu="ROCKCHIP_IOMMU",
    streams=frozenset({"none"}),
    stream_doc="none",
    cells=0,
    xlate=f"{RK_C}: rk_iommu_of_xlate (no cells)",
    dt_stream=None,
    smr=False,
    pci=False,
    pci_note="",
    pci_claim=None,
    pci_only=None,
    probes_unbound=False,
    quirks=frozenset(),
    pci_groups=False,
    group_source=f"{RK_C}: rk_iommu_device_group",
    fq_alloc=False,
    deferred_flush=None,
    static_default=None,
    span=f"{RK_C}: rk_iommu_attach_device (rk_domain->iommus)",
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
        uncounted="one directory table address (RK_MMU_DTE_ADDR) that each attach repoints",
        pool=None,
        source=None,
        fixed=False,
        # rk_iommu_attach_device: an instance holds one domain (iommu->domain); attaching
        # another first detaches the previous one (rk_iommu_detach_device, in later kernels
        # the identity attach), so a domain no group is in any more holds nothing
        release_on_leave=f"{RK_C}: rk_iommu_attach_device (iommu->domain = domain)",
        id_text="domain ID {n} (not a scarce resource)",
    ),
    # the IOMMU stays disabled (stall/bypass) until the first attach enables it
    passes_unattached=f"{RK_C}: rk_iommu_attach_device (rk_iommu_enable)",
    faults_unattached=None,
    arch_dma=None,
    aperture=None,
)

KINDS = (ROCKCHIP,)
