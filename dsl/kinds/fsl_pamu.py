"""Freescale QorIQ's PAMU (fsl-pamu, e500mc/e6500): drivers/iommu/fsl_pamu_domain.c and
drivers/iommu/fsl_pamu.c."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..diagnostics import Label, warning
from ..enums import DomainType
from ..eras import BLOCKING_DOMAIN
from ..provenance import Reason
from .base import GENERIC_GROUP, IOMMU_C, Contexts, Kind

if TYPE_CHECKING:
    from ..conditions import Platform
    from ..diagnostics import Span
    from ..groups import Grouper
    from ..model import Device, Iommu
    from ..resolution import Domain, Resolution
    from ..validate import Builder

PAMU_DOMAIN_C = "drivers/iommu/fsl_pamu_domain.c"
# drivers/iommu/fsl_pamu.h: the PAACT's size; a LIODN indexes it
PAACE_NUMBER_ENTRIES = 0x500


class FslPamu(Kind):
    def device_group(self, grouper: Grouper, iommu: Iommu, devs: Sequence[Device]) -> None:
        """A PCIe controller older than rev 2.4 cannot tell its endpoints apart (one LIODN
        for all): every function behind it shares the controller's group
        (get_pci_device_group, check_pci_ctl_endpt_part); rev 2.4+ (`quirk
        endpoint-partitioning`) hands them to pci_device_group."""
        pci = [d for d in devs if d.pci is not None]
        if "endpoint-partitioning" in iommu.quirks:
            grouper.pci(pci)
            return
        grouper.by_key(
            pci,
            lambda d: d.pci.domain if d.pci is not None else None,
            lambda d, _holder, domain: Reason(
                f"the functions of PCI domain {domain:04x} share their controller's LIODN on "
                f"'{iommu.name}'",
                iommu.span,
                f"{PAMU_DOMAIN_C}: get_pci_device_group "
                "(check_pci_ctl_endpt_part: controller rev < 2.4)",
            ),
        )

    def alone(self, res: Resolution, dev: Device, iommu: Iommu) -> tuple[str, str]:
        if dev.pci is not None:
            return "its group", f"{PAMU_DOMAIN_C}: get_pci_device_group"
        return "its group", self.group_source

    def cannot_build(self, dtype: str, platform: Platform) -> str | None:
        if dtype == "blocked" and not platform.since(BLOCKING_DOMAIN):
            return (
                "fsl_pamu_domain_alloc allocates UNMANAGED domains only and the driver has no "
                "blocked domain (drivers/iommu/fsl_pamu_domain.c); the core's empty stand-in "
                "came with DMA ownership in 5.19"
            )
        return None

    def stand_in(self, res: Resolution, dom: Domain, span: Span) -> None:
        """__iommu_group_alloc_blocking_domain: a driver without a blocked domain gets an
        empty UNMANAGED one, and fsl_pamu_attach_device programs its fixed window."""
        dom.type = DomainType.UNMANAGED
        dom.reason = Reason(
            f"'{dom.name}': the core's stand-in for a blocked domain, an empty UNMANAGED one",
            span,
            f"{IOMMU_C}: __iommu_group_alloc_blocking_domain",
            dom.reason.because,
        )
        res.diagnostics.append(
            warning(
                "W216",
                f"'{dom.name}' does not block DMA on fsl-pamu: the PAMU has no blocked domain, "
                "the core attaches an empty UNMANAGED one instead, and the PAMU's attach maps "
                "its fixed window (0..64 GiB, 1:1)",
                span,
                help="fsl_pamu_attach_device -> pamu_set_liodn: one hard-coded window since "
                "57fa44be7fdb (5.13); a VFIO user of a PAMU device is not isolated",
            )
        )

    def check_board(
        self, builder: Builder, iommus: Sequence[Iommu], devices: dict[str, Device]
    ) -> None:
        """One PAMU IOMMU for all PAMU blocks (E133); a LIODN indexes the PAACT (E109)."""
        for extra in iommus[1:]:
            builder.err(
                "E133",
                f"a second fsl-pamu, '{extra.name}': the kernel registers one PAMU IOMMU for "
                "all PAMU blocks",
                extra.span,
                secondary=(Label(iommus[0].span, "the first"),),
                help="pamu_domain_init registers one iommu_device (pamu_iommu) and every "
                "PAMU shares one PAACT indexed by LIODN: declare one fsl-pamu",
            )
        mine = {i.name for i in iommus}
        for dev in sorted(devices.values(), key=lambda d: d.probe_order):
            for link in dev.iommus:
                if link.iommu not in mine:
                    continue
                for st in link.streams:
                    if isinstance(st.value, int) and st.value >= PAACE_NUMBER_ENTRIES:
                        builder.err(
                            "E109",
                            f"LIODN {st.value:#x} is past the PAACT's "
                            f"{PAACE_NUMBER_ENTRIES:#x} entries",
                            st.span,
                            help="fsl_pamu_attach_device fails such a device (-EINVAL, "
                            "-ENODEV from 6.2) and setup_liodns skips it: check the "
                            "fsl,liodn U-Boot wrote",
                        )


FSL_PAMU = FslPamu(
    name="fsl-pamu",
    driver=PAMU_DOMAIN_C,
    notes="Freescale QorIQ PAMU, e500mc/e6500, powerpc only: `E130` elsewhere; ONE per machine, "
    "`E133`; a platform device is a client by its `fsl,liodn` list, which U-Boot writes, a PCI "
    "function without a link by its controller; PCI functions share one group per controller "
    "(PCI domain) unless the IOMMU says `quirk endpoint-partitioning`; it never translates the "
    "DMA API; no default domain before 6.7, `platform` from 6.8 (in 6.7 every probe fails, "
    "`E210`); a `blocked` domain is, from 5.19, the core's empty unmanaged stand-in, which "
    "does not block (`W216`); a LIODN past the PAACT, 0x500, is `E109`; `std/iommu/fsl-pamu`",
    pack="std/iommu/fsl-pamu",
    compatibles=(),
    arch=("powerpc", "drivers/iommu/Kconfig: FSL_PAMU depends on PPC_E500MC"),
    selects_arm_dma_use_iommu=None,
    streams=frozenset({"sid"}),
    stream_doc="`sid N` (LIODN)",
    cells=1,
    xlate=f"{PAMU_DOMAIN_C}: fsl_pamu_probe_device (no `iommus` cells: a platform device's "
    "`fsl,liodn` list, written by U-Boot and required from 6.5, device_group before, is its "
    "`sid`s)",
    dt_stream=None,
    smr=False,
    pci=True,
    pci_note="",
    # the only IOMMU driver of the machine, whose ops the core uses for a device without a
    # fwspec
    pci_claim="the PAMU's ops, the machine's only ones (drivers/iommu/iommu.c: "
    "__iommu_probe_device, iommu_ops_from_fwnode(NULL)); fsl_pamu_probe_device takes any "
    "PCI device and the controller's LIODN",
    pci_only=None,
    probes_unbound=True,  # every device, as the machine's only ops
    quirks=frozenset({"endpoint-partitioning"}),
    pci_groups=False,
    group_source=GENERIC_GROUP,
    fq_alloc=False,
    deferred_flush=None,
    static_default=f"{PAMU_DOMAIN_C}: fsl_pamu_ops.default_domain (8565915e7558)",
    span=f"{PAMU_DOMAIN_C}: attach_device (dma_domain->devices, any LIODN)",
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
        uncounted="one PAACE per LIODN in the table every PAMU shares (PAACE_NUMBER_ENTRIES), "
        "nothing per domain",
        pool=None,
        source=None,
        fixed=False,
        release_on_leave=None,
        id_text="domain ID {n} (not a scarce resource)",
    ),
    # the probe programs every LIODN with a 64 GiB window that does not translate
    # (PAACE_ATM_NO_XLATE); only a domain's attach reprograms it
    passes_unattached="drivers/iommu/fsl_pamu.c: setup_liodns",
    faults_unattached=None,
    arch_dma=None,
    aperture=None,
)

KINDS = (FSL_PAMU,)
