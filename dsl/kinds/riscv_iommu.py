"""The RISC-V IOMMU (riscv-iommu, 6.13+): drivers/iommu/riscv/iommu.c."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..diagnostics import warning
from .base import GENERIC_GROUP, Contexts, Kind, shared_streams

if TYPE_CHECKING:
    from ..groups import Grouper
    from ..model import Device, Iommu

RISCV_C = "drivers/iommu/riscv/iommu.c"


class RiscvIommu(Kind):
    def device_group(self, grouper: Grouper, iommu: Iommu, devs: Sequence[Device]) -> None:
        """riscv_iommu_device_group: platform masters get generic_device_group, one group
        each, even two on one device ID: both probe, in groups of their own, onto ONE
        device context, which whichever domain attaches last programs for both
        (riscv_iommu_probe_device)."""
        others = [d for d in devs if d.pci is None]
        for dev, sid, first in shared_streams(iommu, others):
            grouper.res.diagnostics.append(
                warning(
                    "W205",
                    f"'{dev.name}' and '{first}' share device ID {sid:#x} "
                    f"on {iommu.kind} '{iommu.name}'",
                    dev.link_span(iommu) or dev.span,
                    help="riscv_iommu_probe_device takes the device context the first master "
                    "has (riscv_iommu_get_dc): the two groups share it, and the domain attached "
                    "last translates both",
                )
            )
        super().device_group(grouper, iommu, devs)


RISCV_IOMMU = RiscvIommu(
    name="riscv-iommu",
    driver=RISCV_C,
    notes="6.13+, riscv64 only: `E130` elsewhere; PCI functions through `map`; a paging "
    "domain's PSCID comes from one system-wide pool from 1, so no `contexts`; default domains "
    "are identity unless the board has `config IOMMU_DMA`; `std/iommu/riscv-iommu`",
    pack="std/iommu/riscv-iommu",
    # Documentation/devicetree/bindings/iommu/riscv,iommu.yaml: the platform IOMMU and the
    # one that is itself a PCI function (drivers/iommu/riscv/iommu-platform.c, iommu-pci.c)
    compatibles=("riscv,iommu", "riscv,pci-iommu"),
    arch=("riscv64", "drivers/iommu/riscv/Kconfig: RISCV_IOMMU depends on RISCV && 64BIT"),
    selects_arm_dma_use_iommu=None,
    streams=frozenset({"sid"}),
    stream_doc="`sid N` (device ID)",
    cells=1,
    xlate=f"{RISCV_C}: riscv_iommu_of_xlate (one device ID, the index of its device context in "
    "the IOMMU's device directory)",
    dt_stream="sid",
    smr=False,
    pci=True,
    pci_note="",
    pci_claim=None,
    pci_only=None,
    probes_unbound=False,
    quirks=frozenset(),
    pci_groups=True,
    group_source=GENERIC_GROUP,
    fq_alloc=False,
    deferred_flush=None,
    static_default=None,
    span=f"{RISCV_C}: riscv_iommu_attach_paging_domain (domain->bonds lists devices of any "
    "instance)",
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
        uncounted="a paging domain's PSCID comes from one system-wide pool "
        "(riscv_iommu_pscids, 1..2^20-1), not from the instance",
        # a domain keeps its PSCID on every IOMMU it is bonded to (riscv_iommu_iotlb_inval)
        pool=1,
        source=f"{RISCV_C}: riscv_iommu_alloc_paging_domain "
        "(ida_alloc_range(&riscv_iommu_pscids, 1, RISCV_IOMMU_MAX_PSCID))",
        fixed=False,
        release_on_leave=None,
        id_text="PSCID {n} from the one system-wide pool of process soft-context IDs",
    ),
    passes_unattached=None,
    faults_unattached=None,
    arch_dma=None,
    aperture=None,
)

KINDS = (RISCV_IOMMU,)
