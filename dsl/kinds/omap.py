"""TI OMAP and DRA7 remote-processor and camera MMUs (omap-iommu): drivers/iommu/omap-iommu.c."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from .base import Contexts, Kind, one_group_per_instance

if TYPE_CHECKING:
    from ..groups import Grouper
    from ..model import Device, Iommu

OMAP_C = "drivers/iommu/omap-iommu.c"


class Omap(Kind):
    def device_group(self, grouper: Grouper, iommu: Iommu, devs: Sequence[Device]) -> None:
        """omap_iommu_device_group returns the MMU's obj->group (generic_single_device_group
        from 6.7), the group of the device's first MMU."""
        one_group_per_instance(grouper, self, iommu, devs)


OMAP_IOMMU = Omap(
    name="omap-iommu",
    driver=OMAP_C,
    notes="TI OMAP/DRA7 remote-processor MMUs, arm32 only: `E130` elsewhere; one group per "
    "MMU; a domain programs every MMU its client lists and takes ONE client device, "
    "`E302`/`E120`; no default domain before 6.7, identity from 6.7; `std/iommu/omap-iommu`",
    pack="std/iommu/omap-iommu",
    compatibles=("ti,omap2-iommu", "ti,omap4-iommu", "ti,dra7-iommu", "ti,dra7-dsp-iommu"),
    arch=("arm", "drivers/iommu/Kconfig: OMAP_IOMMU depends on ARCH_OMAP2PLUS (arm32)"),
    selects_arm_dma_use_iommu=None,
    streams=frozenset({"none"}),
    stream_doc="none",
    cells=0,
    xlate=f"{OMAP_C}: #iommu-cells = <0>; omap_iommu_probe_device counts the `iommus` phandles "
    "itself (DRA7 DSPs have two MMUs)",
    dt_stream=None,
    smr=False,
    pci=False,
    pci_note="",
    pci_claim=None,
    pci_only=None,
    probes_unbound=False,
    quirks=frozenset(),
    pci_groups=False,
    group_source=f"{OMAP_C}: omap_iommu_device_group",
    fq_alloc=False,
    deferred_flush=None,
    static_default=None,
    span=None,
    no_span='omap-iommu.c: omap_iommu_attach_dev ("iommu domain is already attached": one '
    "client device per domain)",
    # omap_iommu_attach_dev programs every MMU the device's `iommus` lists, each with its own
    # copy of the page table (omap_iommu_attach_init; the DRA7 DSPs' two MMUs)
    all_links=True,
    # a second attach fails, -EBUSY until ATTACH_EINVAL, -EINVAL after
    single_client=f'{OMAP_C}: omap_iommu_attach_dev ("only a single client device can be '
    'attached to a domain")',
    shared_page_table=False,
    shared_arm_mapping=None,
    iova_regions=None,
    contexts=Contexts(
        max=None,
        first=0,
        errno="-ENOSPC",
        uncounted="one page-table base (MMU_TTB) per MMU, the attached domain's",
        pool=None,
        source=None,
        fixed=False,
        release_on_leave=None,
        id_text="domain ID {n} (not a scarce resource)",
    ),
    # the MMU is switched on only when a domain attaches, and off again by the identity
    # domain (omap_iommu_identity_attach detaches)
    passes_unattached=f"{OMAP_C}: omap_iommu_attach (iommu_enable)",
    faults_unattached=None,
    arch_dma=None,
    aperture=None,
)

KINDS = (OMAP_IOMMU,)
