"""Samsung Exynos System MMUs (exynos-sysmmu): drivers/iommu/exynos-iommu.c."""

from __future__ import annotations

from .base import GENERIC_GROUP, Contexts, Kind

EXYNOS_C = "drivers/iommu/exynos-iommu.c"

EXYNOS_SYSMMU = Kind(
    name="exynos-sysmmu",
    driver=EXYNOS_C,
    notes="a master's System MMUs hold one page table, so a driver domain replaces the default one",
    pack=None,
    compatibles=("samsung,exynos-sysmmu",),
    arch=None,
    selects_arm_dma_use_iommu="EXYNOS_IOMMU",
    streams=frozenset({"none"}),
    stream_doc="none",
    cells=0,
    xlate=f"{EXYNOS_C}: exynos_iommu_of_xlate (no cells; each entry one System MMU of the "
    "master, in owner->controllers)",
    dt_stream=None,
    smr=False,
    pci=False,
    pci_note="",
    pci_claim=None,
    pci_only=None,
    probes_unbound=False,
    quirks=frozenset(),
    pci_groups=False,
    group_source=GENERIC_GROUP,
    fq_alloc=False,
    deferred_flush=None,
    static_default=None,
    span=f"{EXYNOS_C}: exynos_iommu_attach_device (domain->clients)",
    no_span=None,
    # exynos_iommu_attach_device points every System MMU of the master at the page table
    all_links=True,
    single_client=None,
    shared_page_table=False,
    shared_arm_mapping=None,
    iova_regions=None,
    contexts=Contexts(
        max=None,
        first=0,
        errno="-ENOSPC",
        uncounted="one page table base register per System MMU that each attach repoints",
        pool=None,
        source=None,
        fixed=False,
        # exynos_iommu_attach_device: a master's System MMUs hold one page table
        # (data->pgtable); attaching another first detaches the previous domain
        # (exynos_iommu_detach_device, in later kernels the identity attach)
        release_on_leave=f"{EXYNOS_C}: exynos_iommu_attach_device (data->pgtable = pagetable)",
        id_text="domain ID {n} (not a scarce resource)",
    ),
    # the System MMU is enabled only when a domain is attached
    passes_unattached=f"{EXYNOS_C}: exynos_iommu_attach_device",
    faults_unattached=None,
    arch_dma=None,
    aperture=None,
)

KINDS = (EXYNOS_SYSMMU,)
