"""Arm SMMUv3 (arm-smmu-v3): drivers/iommu/arm/arm-smmu-v3/arm-smmu-v3.c."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..diagnostics import warning
from ..eras import DEFERRED_FLUSH_CAP
from ..provenance import Reason
from .base import GENERIC_GROUP, Contexts, Kind, shared_streams

if TYPE_CHECKING:
    from ..groups import Grouper
    from ..model import Device, Iommu

V3_C = "drivers/iommu/arm/arm-smmu-v3/arm-smmu-v3.c"


class ArmSmmuV3(Kind):
    def device_group(self, grouper: Grouper, iommu: Iommu, devs: Sequence[Device]) -> None:
        """Shared StreamIDs are supported only for PCI aliases (arm_smmu_device_group): a
        second platform master on a StreamID fails to probe (arm_smmu_insert_master)."""
        others = [d for d in devs if d.pci is None]
        for dev, sid, first in shared_streams(iommu, others):
            grouper.res.diagnostics.append(
                warning(
                    "W205",
                    f"'{dev.name}' and '{first}' share StreamID {sid:#x} "
                    f"on {iommu.kind} '{iommu.name}'",
                    dev.link_span(iommu) or dev.span,
                    help="arm-smmu-v3 supports shared StreamIDs only for PCI aliases "
                    "(arm_smmu_device_group); the second master fails to probe",
                )
            )
            if dev.name in grouper.failed:
                continue  # the first shared StreamID is the one the probe fails on
            grouper.fail(
                dev,
                Reason(
                    f"StreamID {sid:#x} already used by '{first}'",
                    dev.link_span(iommu),
                    f"{V3_C}: arm_smmu_insert_master",
                ),
            )
        super().device_group(grouper, iommu, devs)


ARM_SMMU_V3 = ArmSmmuV3(
    name="arm-smmu-v3",
    driver=V3_C,
    notes="",
    pack="std/iommu/arm-smmu-v3",
    compatibles=("arm,smmu-v3",),
    arch=None,
    selects_arm_dma_use_iommu=None,
    streams=frozenset({"sid"}),
    stream_doc="`sid N`",
    cells=1,
    xlate=f"{V3_C}: arm_smmu_of_xlate (one StreamID)",
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
    fq_alloc=True,
    deferred_flush=DEFERRED_FLUSH_CAP,
    static_default=None,
    span=None,
    no_span="arm-smmu-v3.c: arm_smmu_attach_dev (smmu_domain->smmu != smmu)",
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

KINDS = (ARM_SMMU_V3,)
