"""IBM POWER's PHBs and their TCE tables (spapr-tce, pseries and powernv):
arch/powerpc/kernel/iommu.c."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..diagnostics import Label
from ..eras import SPAPR_TCE_OPS
from ..provenance import Reason
from .base import Contexts, Kind

if TYPE_CHECKING:
    from ..conditions import Platform
    from ..groups import Grouper
    from ..model import Device, Iommu
    from ..resolution import Resolution
    from ..validate import Builder

PPC_IOMMU_C = "arch/powerpc/kernel/iommu.c"


class SpaprTce(Kind):
    def device_group(self, grouper: Grouper, iommu: Iommu, devs: Sequence[Device]) -> None:
        """The PE's table_group owns the group (iommu_register_group, "domainN-peX"): the
        functions of one PE share it whatever ACS says (pnv_pci_device_group,
        pSeries_pci_device_group through spapr_tce_iommu_device_group)."""
        grouper.by_key(
            devs,
            lambda d: next((sid for sid, _ in d.stream_ids(iommu)), None),
            lambda d, holder, pe: Reason(
                f"'{d.name}' is in PE#{pe:x} of '{iommu.name}', with '{holder}'",
                d.link_span(iommu),
                "arch/powerpc/platforms/powernv/pci-ioda.c: pnv_pci_device_group "
                "(the PE's table_group.group)",
            ),
        )

    def alone(self, res: Resolution, dev: Device, iommu: Iommu) -> tuple[str, str]:
        return "its group", self.group_source

    def cannot_build(self, dtype: str, platform: Platform) -> str | None:
        if not platform.since(SPAPR_TCE_OPS):
            return (
                "before 6.4 POWER has IOMMU groups but no iommu_ops, so no domain at all "
                "(a940904443e4 added spapr_tce_iommu_ops); VFIO drives the PE's TCE tables "
                "itself (drivers/vfio/vfio_iommu_spapr_tce.c)"
            )
        if dtype == "unmanaged":
            return (
                "spapr_tce_iommu_ops has no paging domain, only the blocked and platform ones "
                "(arch/powerpc/kernel/iommu.c); VFIO maps through the SPAPR TCE IOMMU type"
            )
        return None

    def check_board(
        self, builder: Builder, iommus: Sequence[Iommu], devices: dict[str, Device]
    ) -> None:
        """Every PCI function is in one PE (W215 where the board does not say which), on one
        PHB (E131), and names one PE (E108)."""
        mine = {i.name for i in iommus}
        for dev in sorted(devices.values(), key=lambda d: d.probe_order):
            if dev.pci is not None and not dev.iommus and not dev.disabled:
                builder.warn(
                    "W215",
                    f"PCI function '{dev.name}' has no PE: on a POWER machine every function is "
                    "in one; modelled here without a group, with the arch's TCE DMA ops",
                    dev.span,
                    help="write 'iommu PHB sid PE' with the spapr-tce of its PCI domain and the "
                    "PE dmesg names (\"Configured PE#..\"), or its group's name, 'domainN-peX'",
                )
            phbs = [lk for lk in dev.iommus if lk.iommu in mine]
            for second in phbs[1:]:
                builder.err(
                    "E131",
                    f"'{dev.name}' is below one host bridge: it cannot be behind spapr-tce "
                    f"'{second.iommu}' too",
                    second.span,
                    secondary=(Label(phbs[0].span, "its PHB"),),
                    help="a PCI function's TCE tables are its PE's, on the PHB of its PCI domain",
                )
            for link in phbs[:1]:
                if len(link.streams) > 1:
                    builder.err(
                        "E108",
                        f"'{dev.name}' is in one PE: spapr-tce '{link.iommu}' takes one 'sid'",
                        link.streams[1].span,
                        help="the platform code puts each function in one PE "
                        "(pnv_pci_ioda_dma_dev_setup); functions that share a PE each name it",
                    )


SPAPR_TCE = SpaprTce(
    name="spapr-tce",
    driver=PPC_IOMMU_C,
    notes="IBM POWER PHBs, pseries and powernv, powerpc only: `E130` elsewhere; one per PHB; a "
    "PCI function names its PE (one `sid`, one PHB), `W215` without one, and each PE is one "
    "group, also for functions no driver binds; the DMA API is the arch's `dma_iommu` in every "
    "case, or for a 64-bit mask the PHB's bypass (`dma-direct`) unless `quirk no-bypass`; no "
    "domains before 6.4, a blocked one (VFIO, which takes the PE's tables: DMA ops `none`) "
    "from 6.4, the `platform` default from 6.8 (in 6.7 every probe fails, `E210`); "
    "`std/iommu/spapr-tce`",
    pack="std/iommu/spapr-tce",
    compatibles=(),
    arch=(
        "powerpc",
        "drivers/iommu/Kconfig: SPAPR_TCE_IOMMU depends on PPC_POWERNV || PPC_PSERIES",
    ),
    selects_arm_dma_use_iommu=None,
    streams=frozenset({"sid"}),
    stream_doc="`sid N` (PE number)",
    cells=1,
    xlate="arch/powerpc/platforms/powernv/pci-ioda.c: pnv_ioda_setup_dev_PE (no DT cells: the "
    "platform code puts each PCI function in a PE, _bus_PE too, pseries by its ibm,dma-window "
    "node; its `sid` is the PE)",
    dt_stream=None,
    smr=False,
    pci=True,
    pci_note="",
    pci_claim=None,
    pci_only="the platform code puts only PCI functions in PEs (iommu_add_device; from "
    "6.4 spapr_tce_iommu_probe_device returns -EPERM for any other device, -ENODEV from 6.9)",
    # the PCI code adds each function to its PE's group when it sets up its DMA
    # (pnv_pci_ioda_dma_dev_setup: iommu_add_device)
    probes_unbound=True,
    quirks=frozenset({"no-bypass"}),
    pci_groups=False,
    group_source=f"{PPC_IOMMU_C}: iommu_register_group (one group per PE)",
    fq_alloc=False,
    deferred_flush=None,
    static_default=f"{PPC_IOMMU_C}: spapr_tce_iommu_ops.default_domain (2ad56efa80db)",
    # only the blocked domain can be attached, and it is one static domain for every PHB
    span=f"{PPC_IOMMU_C}: spapr_tce_blocked_domain (one static domain)",
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
        uncounted="one TCE table set per PE (its table_group), owned by the kernel or by VFIO",
        pool=None,
        source=None,
        fixed=False,
        release_on_leave=None,
        id_text="domain ID {n} (not a scarce resource)",
    ),
    passes_unattached=None,
    faults_unattached=None,
    arch_dma="the PHB's PCI devices get dma_iommu_ops",
    aperture=None,
)

KINDS = (SPAPR_TCE,)
