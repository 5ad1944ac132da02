"""Apple's DARTs (apple-dart): drivers/iommu/apple-dart.c."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..provenance import Reason
from .base import GENERIC_GROUP, Contexts, Kind, shared_streams

if TYPE_CHECKING:
    from ..groups import Grouper
    from ..model import Device, Iommu

DART_C = "drivers/iommu/apple-dart.c"


class AppleDart(Kind):
    def device_group(self, grouper: Grouper, iommu: Iommu, devs: Sequence[Device]) -> None:
        """apple_dart_device_group: masters whose streams map to one group share it."""
        others = [d for d in devs if d.pci is None]
        for dev, sid, first in shared_streams(iommu, others):
            grouper.link(
                first,
                dev.name,
                Reason(
                    f"'{dev.name}' and '{first}' share stream {sid:#x}",
                    dev.link_span(iommu),
                    f"{DART_C}: apple_dart_device_group",
                ),
            )
        super().device_group(grouper, iommu, devs)


APPLE_DART = AppleDart(
    name="apple-dart",
    driver=DART_C,
    notes="",
    pack="std/iommu/apple-dart",
    compatibles=("apple,",),
    arch=None,
    selects_arm_dma_use_iommu=None,
    streams=frozenset({"sid"}),
    stream_doc="`sid N`",
    cells=1,
    xlate=f"{DART_C}: apple_dart_of_xlate (the stream index)",
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
    span=None,
    no_span="apple-dart.c: apple_dart_mod_streams (a domain's DARTs must be the device's)",
    # apple_dart_attach_dev sets up every stream map of the device (up to two DARTs: the
    # M1's dwc3 controllers)
    all_links=True,
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

KINDS = (APPLE_DART,)
