"""The x86 IOMMUs, which claim PCI functions from the ACPI tables: Intel VT-d (intel-vtd,
drivers/iommu/intel/) and AMD-Vi (amd-vi, drivers/iommu/amd/)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..enums import DomainType
from ..eras import AMD_GLOBAL_IDENTITY, DEFERRED_FLUSH_CAP
from ..provenance import Reason
from .base import GENERIC_GROUP, Contexts, Kind

if TYPE_CHECKING:
    from ..allocator import Allocator
    from ..conditions import Platform
    from ..model import Device, Iommu
    from ..resolution import Domain, Resolution

AMD_C = "drivers/iommu/amd/iommu.c"


class AmdVi(Kind):
    def take_unpaged(self, alloc: Allocator, iommu: Iommu, dom: Domain) -> bool:
        """AMD-Vi identity domains are protection domains with IDs of their own: before
        AMD_GLOBAL_IDENTITY one per group, from the same pool as the paging ones
        (protection_domain_alloc -> protection_domain_init_v1 -> domain_id_alloc, whose ID
        set_dte_entry writes into the DTE); from then on every group shares the one global
        identity_domain, whose ID amd_iommu_init_identity_domain takes before any IOMMU is
        registered: 1."""
        if dom.type is not DomainType.IDENTITY:
            return True
        if alloc.res.platform.since(AMD_GLOBAL_IDENTITY):
            n = 1
            text = (
                "protection domain ID 1: the one global identity domain, set up at init "
                "before any device probes"
            )
            src = f"{AMD_C}: amd_iommu_init_identity_domain"
        else:
            n = alloc.next_id(dom.iommu)
            text = f"protection domain ID {n}: an identity domain is a protection domain too"
            src = f"{AMD_C}: protection_domain_alloc (domain_id_alloc)"
        dom.context = n
        dom.context_reason = Reason(text, None, src)
        alloc.used.setdefault(dom.iommu, {}).setdefault(n, dom.name)
        return True

    def refuse_probe(self, res: Resolution, dev: Device, iommu: Iommu) -> Reason | None:
        """The IOMMU does not translate itself: init_iommu_one clears the rlookup entry of
        its own requester ID ("The IVRS table tells us so, but this is a lie!"), so
        check_device refuses the IOMMU function (class 0806) and it gets no group."""
        if dev.pci is not None and any(c.startswith("pciclass,0806") for c in dev.compatibles):
            return Reason(
                f"'{dev.name}' is the AMD IOMMU's own function: the IOMMU does not translate "
                "itself",
                dev.span,
                "drivers/iommu/amd/init.c: init_iommu_one; drivers/iommu/amd/iommu.c: check_device",
            )
        return None

    def pool_start(self, platform: Platform) -> int:
        """AMD-Vi never hands out protection domain 0 (amd/init.c: "never allocate domain
        0"; amd_iommu_pd_alloc_bitmap, the pdom_ids IDA from 6.13), and from
        AMD_GLOBAL_IDENTITY ID 1 is the global identity domain's, taken at init."""
        return 2 if platform.since(AMD_GLOBAL_IDENTITY) else 1


INTEL_VTD = Kind(
    name="intel-vtd",
    driver="drivers/iommu/intel/iommu.c",
    notes="claims devices from ACPI DMAR",
    pack="std/iommu/intel-vtd",
    compatibles=(),
    arch=None,
    selects_arm_dma_use_iommu=None,
    streams=frozenset({"none"}),
    stream_doc="none",
    cells=0,
    xlate="drivers/iommu/intel/dmar.c: dmar_find_matched_drhd_unit (no DT cells: the DMAR's "
    "device scopes and INCLUDE_ALL units claim PCI functions)",
    dt_stream=None,
    smr=False,
    pci=True,
    pci_note="",
    pci_claim="ACPI DMAR",
    pci_only=None,
    probes_unbound=True,  # every PCI function, from the ACPI tables at init
    quirks=frozenset(),
    pci_groups=True,
    group_source=GENERIC_GROUP,
    fq_alloc=True,
    deferred_flush=DEFERRED_FLUSH_CAP,
    static_default=None,
    span="drivers/iommu/intel/iommu.c: domain_attach_iommu (domain->iommu_array)",
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

AMD_VI = INTEL_VTD.variant(
    AmdVi,
    name="amd-vi",
    driver=AMD_C,
    notes="claims devices from ACPI IVRS",
    pack="std/iommu/amd-vi",
    xlate="drivers/iommu/amd/init.c: init_iommu_from_acpi (no DT cells: the IVRS's device "
    "entries claim PCI functions)",
    pci_claim="ACPI IVRS",
    span=f"{AMD_C}: protection domains count their IOMMUs (dev_iommu[])",
    iova_regions=None,
    contexts=Contexts(
        max=None,
        first=0,
        errno="-ENOSPC",
        uncounted=None,
        pool=1,
        source=f"{AMD_C}: domain_id_alloc (amd_iommu_pdom_id_alloc from 6.13)",
        fixed=False,
        release_on_leave=None,
        id_text="protection domain ID {n} from the one system-wide pool (0 is never handed out)",
    ),
)

KINDS = (INTEL_VTD, AMD_VI)
