"""Renesas R-Car's IPMMU (ipmmu-vmsa): drivers/iommu/ipmmu-vmsa.c."""

from __future__ import annotations

from .base import GENERIC_GROUP, Contexts, Kind

IPMMU_C = "drivers/iommu/ipmmu-vmsa.c"

IPMMU_VMSA = Kind(
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
    group_source=GENERIC_GROUP,
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
)

KINDS = (IPMMU_VMSA,)
