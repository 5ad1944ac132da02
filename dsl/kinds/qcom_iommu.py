"""Qualcomm's MSM IOMMU v1 with static contexts (qcom-iommu):
drivers/iommu/arm/arm-smmu/qcom_iommu.c."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..provenance import Reason
from .base import GENERIC_GROUP, Contexts, Kind

if TYPE_CHECKING:
    from ..allocator import Allocator
    from ..model import Iommu
    from ..resolution import Domain

QCOM_IOMMU_C = "drivers/iommu/arm/arm-smmu/qcom_iommu.c"


class QcomIommu(Kind):
    def take_context(self, alloc: Allocator, iommu: Iommu, dom: Domain) -> bool | None:
        """Contexts are not allocated: a domain programs the contexts its FIRST device's
        cells name (qcom_iommu_init_domain walks that device's fwspec->ids, and returns
        early for every later device once qcom_domain->iommu is set)."""
        first = alloc.res.model.devices[dom.devices[0]] if dom.devices else None
        ctxs = sorted(
            {
                int(s.value)
                for lk in (first.iommus if first else ())
                if lk.iommu == iommu.name
                for s in lk.streams
                if s.form == "context"
            }
        )
        if not ctxs:
            return True
        dom.context, dom.more_contexts = ctxs[0], tuple(ctxs[1:])
        named = ", ".join(str(c) for c in ctxs)
        plural = "s" if len(ctxs) > 1 else ""
        secure = [c for c in ctxs if c in iommu.secure]
        if secure:
            # A `qcom,msm-iommu-v1-sec` context still serves the client that names it; the
            # compatible only makes the IOMMU's probe hand TZ a secure page-table pool.
            which = ", ".join(str(c) for c in secure)
            dom.context_reason = Reason(
                f"fixed context{plural} {named} from the device tree; secure "
                f"(qcom,msm-iommu-v1-sec): {which}, which the driver still programs for this "
                "domain, TZ's secure page-table pool having been set up at probe",
                None,
                f"{QCOM_IOMMU_C}: qcom_iommu_init_domain, qcom_iommu_sec_ptbl_init",
            )
        else:
            dom.context_reason = Reason(
                f"fixed context{plural} {named} from the device tree", None, self.contexts.source
            )
        return True


QCOM_IOMMU = QcomIommu(
    name="qcom-iommu",
    driver=QCOM_IOMMU_C,
    notes="MSM IOMMU v1, static contexts",
    pack=None,
    compatibles=("qcom,msm-iommu-v1",),
    arch=None,
    selects_arm_dma_use_iommu="QCOM_IOMMU",
    streams=frozenset({"context"}),
    stream_doc="`context N` (1-based)",
    cells=1,
    xlate=f"{QCOM_IOMMU_C}: qcom_iommu_of_xlate (context index)",
    dt_stream="context",
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
    span=None,
    no_span="qcom_iommu.c: qcom_iommu_attach_dev (\"We don't support domains across different "
    'IOMMUs")',
    all_links=False,
    single_client=None,
    shared_page_table=False,
    shared_arm_mapping=None,
    iova_regions=None,
    contexts=Contexts(
        max=None,
        first=1,  # as its clients' cells count them (qcom_iommu_of_xlate)
        errno="-ENOSPC",
        uncounted=None,
        pool=None,
        source=f"{QCOM_IOMMU_C}: qcom_iommu_of_xlate",
        fixed=True,
        release_on_leave=None,
        id_text="domain ID {n} (not a scarce resource)",
    ),
    passes_unattached=None,
    faults_unattached=None,
    arch_dma=None,
    aperture=None,
)

KINDS = (QCOM_IOMMU,)
