"""The paravirtual virtio-iommu (virtio): drivers/iommu/virtio-iommu.c."""

from __future__ import annotations

from ..eras import VIRTIO_DEFERRED_FLUSH
from .base import GENERIC_GROUP, Contexts, Kind

VIRTIO_C = "drivers/iommu/virtio-iommu.c"

VIRTIO = Kind(
    name="virtio",
    driver=VIRTIO_C,
    notes="",
    pack="std/iommu/virtio",
    compatibles=("virtio,",),
    arch=None,
    selects_arm_dma_use_iommu=None,
    streams=frozenset({"sid", "none"}),
    stream_doc="`sid N` or none",
    cells=1,
    xlate=f"{VIRTIO_C}: viommu_of_xlate (the endpoint ID)",
    dt_stream=None,
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
    deferred_flush=VIRTIO_DEFERRED_FLUSH,
    static_default=None,
    span=None,
    no_span='virtio-iommu.c: viommu_attach_dev ("cannot attach to foreign vIOMMU")',
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

KINDS = (VIRTIO,)
