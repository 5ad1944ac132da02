"""Renesas R-Car's IPMMU (ipmmu-vmsa): drivers/iommu/ipmmu-vmsa.c."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from .base import GENERIC_GROUP, Contexts, Kind, one_group_per_instance

if TYPE_CHECKING:
    from ..groups import Grouper
    from ..model import Device, Iommu
    from ..resolution import Resolution

IPMMU_C = "drivers/iommu/ipmmu-vmsa.c"


class Ipmmu(Kind):
    """ipmmu_ops.device_group = IS_ENABLED(CONFIG_ARM) && !IS_ENABLED(CONFIG_IOMMU_DMA) ?
    generic_device_group : ipmmu_find_group. ipmmu_find_group hands every master of one
    IPMMU (to_ipmmu(dev), PCI functions too) that IPMMU's one group (mmu->group)."""

    def device_group(self, grouper: Grouper, iommu: Iommu, devs: Sequence[Device]) -> None:
        if grouper.res.platform.enabled("IOMMU_DMA"):
            one_group_per_instance(grouper, self, iommu, devs)

    def alone(self, res: Resolution, dev: Device, iommu: Iommu) -> tuple[str, str]:
        if res.platform.enabled("IOMMU_DMA"):
            return "its group", self.group_source
        return "its group", f"{GENERIC_GROUP} (arm32 without IOMMU_DMA)"


IPMMU_VMSA = Ipmmu(
    name="ipmmu-vmsa",
    driver=IPMMU_C,
    notes="R-Car Gen3+ masters must opt in: `std/soc/rcar-gen3`",
    pack=None,
    compatibles=("renesas,ipmmu", "renesas,"),
    arch=None,
    selects_arm_dma_use_iommu="IPMMU_VMSA",
    streams=frozenset({"sid"}),
    stream_doc="`sid N`",
    cells=1,
    xlate=f"{IPMMU_C}: ipmmu_of_xlate (the micro-TLB)",
    dt_stream="sid",
    smr=False,
    pci=True,  # since 6.6 (52a8fd24d129)
    pci_note=" (6.6+)",
    pci_claim=None,
    pci_only=None,
    probes_unbound=False,
    quirks=frozenset(),
    pci_groups=False,
    group_source=f"{IPMMU_C}: ipmmu_find_group",
    fq_alloc=False,
    deferred_flush=None,
    static_default=None,
    span=None,
    no_span='ipmmu-vmsa.c: ipmmu_attach_device ("Can\'t attach IPMMU %s to domain on IPMMU %s")',
    all_links=False,
    single_client=None,
    shared_page_table=False,
    shared_arm_mapping=None,
    iova_regions=None,
    contexts=Contexts(
        max=16,  # IPMMU_CTX_MAX since R-Car Gen4 support (8 before)
        first=0,
        errno="-EBUSY",  # ipmmu_domain_allocate_context
        uncounted=None,
        pool=None,
        source=None,
        fixed=False,
        release_on_leave=None,
        id_text="domain ID {n} (not a scarce resource)",
    ),
    passes_unattached=None,
    faults_unattached=None,
    arch_dma=None,
    aperture=None,
)

KINDS = (IPMMU_VMSA,)
