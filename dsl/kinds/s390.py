"""IBM Z's zPCI translation (s390-iommu): drivers/iommu/s390-iommu.c."""

from __future__ import annotations

from ..eras import S390_DMA_IOMMU
from .base import GENERIC_GROUP, Contexts, Kind

S390_C = "drivers/iommu/s390-iommu.c"

S390_IOMMU = Kind(
    name="s390-iommu",
    driver=S390_C,
    notes="IBM Z zPCI, s390 only: `E130` elsewhere; claims every PCI function without a link, "
    "one group and one translation table per function; before 6.7 no default domain and the "
    "arch's own `s390_pci_dma` ops, from 6.7 iommu-dma; identity from 6.15 unless `quirk "
    "no-identity`; `std/iommu/s390-iommu`",
    pack="std/iommu/s390-iommu",
    compatibles=(),
    arch=("s390", "drivers/iommu/Kconfig: S390_IOMMU def_bool y if S390 && PCI"),
    selects_arm_dma_use_iommu=None,
    streams=frozenset({"none"}),
    stream_doc="none",
    cells=0,
    xlate=f"{S390_C}: s390_iommu_probe_device takes any PCI device",
    dt_stream=None,
    smr=False,
    pci=True,
    pci_note="",
    # one IOMMU per zPCI function, registered by the platform
    pci_claim="the zPCI function's own IOMMU, arch/s390/pci/pci.c: zpci_init_iommu",
    pci_only="s390_iommu_probe_device returns -ENODEV for any other device",
    probes_unbound=True,  # every zPCI function, as the platform registers it
    quirks=frozenset(),
    # every zPCI function has its own translation (one IOAT), no shared IDs: one group each
    pci_groups=False,
    group_source=GENERIC_GROUP,
    fq_alloc=False,
    deferred_flush=S390_DMA_IOMMU,
    static_default=None,
    span=f"{S390_C}: s390_iommu_attach_device (s390_domain->devices)",
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
        uncounted="one translation table (IOAT) per zPCI function, the attached domain's",
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

KINDS = (S390_IOMMU,)
