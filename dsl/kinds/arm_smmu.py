"""Arm SMMUv1/v2 and MMU-500 (arm-smmu), with the Qualcomm implementations (qcom-smmu, and
adreno-smmu, the Adreno GPU's SMMU): drivers/iommu/arm/arm-smmu/."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, ClassVar

from ..diagnostics import Diagnostic, Label, error
from ..eras import ADRENO_CONTEXT_BANK_0, DEFERRED_FLUSH_CAP
from ..provenance import Reason
from .base import GENERIC_GROUP, Contexts, Kind

if TYPE_CHECKING:
    from ..allocator import Allocator
    from ..groups import Grouper
    from ..model import Device, Iommu
    from ..resolution import Domain

ARM_SMMU_C = "drivers/iommu/arm/arm-smmu/arm-smmu.c"
QCOM_C = "drivers/iommu/arm/arm-smmu/arm-smmu-qcom.c"
# quirk bypass-last-context: set_bit(qsmmu->bypass_cbndx, smmu->context_map)
BYPASS_SOURCE = f"{QCOM_C}: qcom_smmu_cfg_probe"


class _SmrTable:
    """Stream match registers in allocation order, indexed so a lookup does not scan them.

    arm_smmu_find_sme walks the SMRs in order and stops at the first that
    overlaps the new (id, mask).  Entries are bucketed by mask; for each mask
    pair a dict maps the bits both masks leave significant to the earliest SMR,
    so a lookup costs one probe per distinct mask instead of one per SMR.
    """

    def __init__(self) -> None:
        self.entries: list[tuple[int, int, str]] = []
        self.by_mask: dict[int, list[int]] = {}
        self.index: dict[tuple[int, int], dict[int, list[int]]] = {}

    def add(self, sid: int, mask: int, owner: str) -> None:
        pos = len(self.entries)
        self.entries.append((sid, mask, owner))
        self.by_mask.setdefault(mask, []).append(pos)
        for (mask0, m), table in self.index.items():
            if mask0 == mask:
                table.setdefault(sid & ~(m | mask0), []).append(pos)

    def truncate(self, n: int) -> None:
        """Forget the entries from position n on (a master whose probe failed)."""
        del self.entries[n:]
        self.by_mask = {}
        for pos, (_, mask, _) in enumerate(self.entries):
            self.by_mask.setdefault(mask, []).append(pos)
        self.index = {}

    def first_overlap(self, sid: int, mask: int) -> tuple[int, int, str] | None:
        """The first SMR, in allocation order, that (sid, mask) overlaps: the master's own
        too, as arm_smmu_master_alloc_smes marks each entry valid as it takes it."""
        best: int | None = None
        for mask0, positions in self.by_mask.items():
            table = self.index.get((mask0, mask))
            if table is None:
                table = {}
                for pos in positions:
                    table.setdefault(self.entries[pos][0] & ~(mask | mask0), []).append(pos)
                self.index[(mask0, mask)] = table
            found = table.get(sid & ~(mask | mask0))
            if found and (best is None or found[0] < best):
                best = found[0]
        return self.entries[best] if best is not None else None


class ArmSmmu(Kind):
    stream_matching: ClassVar[bool] = True

    def device_group(self, grouper: Grouper, iommu: Iommu, devs: Sequence[Device]) -> None:
        """arm_smmu_find_sme, arm_smmu_device_group: masters whose streams fall in one stream
        map entry share its group; a stream that partly overlaps another master's SMR fails
        the probe, and so does one that finds every SMR taken (`smrs`). PCI functions too:
        their iommu-map SIDs take stream map entries, and a group found through a shared
        entry comes before pci_device_group."""
        smrs = _SmrTable()
        src = f"{ARM_SMMU_C}: arm_smmu_find_sme"
        for dev in sorted(devs, key=lambda d: d.probe_order):
            before = len(smrs.entries)
            links: list[tuple[str, Reason]] = []  # made only if the whole master succeeds
            refusal: tuple[Reason, Diagnostic] | None = None
            for sid, mask in dev.stream_ids(iommu):
                hit = smrs.first_overlap(sid, mask)
                if hit is None and iommu.smrs is not None and len(smrs.entries) >= iommu.smrs:
                    refusal = _no_free_smr(iommu, dev, sid, mask)
                    break
                if hit is None:
                    smrs.add(sid, mask, dev.name)
                elif (mask & hit[1]) == mask and ((sid ^ hit[0]) & ~hit[1]) == 0:
                    # The new entry lies entirely within an existing SMR: reuse it (one of
                    # its own, or another master's, whose group it then shares).
                    if hit[2] != dev.name:
                        links.append(
                            (
                                hit[2],
                                Reason(
                                    f"'{dev.name}' stream {sid:#x}/{mask:#x} lies within "
                                    f"'{hit[2]}''s SMR {hit[0]:#x}/{hit[1]:#x}: one stream "
                                    "map entry",
                                    dev.link_span(iommu),
                                    src,
                                ),
                            )
                        )
                else:
                    refusal = _partial_overlap(grouper, iommu, dev, sid, mask, hit)
                    break
            if refusal is not None:
                # arm_smmu_master_alloc_smes: the master's probe fails, the entries it took
                # are freed again, and it never reaches arm_smmu_device_group
                smrs.truncate(before)
                grouper.fail(dev, refusal[0])
                grouper.res.diagnostics.append(refusal[1])
                continue
            for owner, reason in links:
                grouper.link(owner, dev.name, reason)
        super().device_group(grouper, iommu, devs)


def _partial_overlap(
    grouper: Grouper, iommu: Iommu, dev: Device, sid: int, mask: int, hit: tuple[int, int, str]
) -> tuple[Reason, Diagnostic]:
    """E201: the stream overlaps another master's SMR without lying within it (-EINVAL)."""
    sid0, mask0, owner = hit
    whose = "its own" if owner == dev.name else f"'{owner}''s"
    reason = Reason(
        f"stream {sid:#x}/{mask:#x} of '{dev.name}' partly overlaps "
        f"{whose} SMR {sid0:#x}/{mask0:#x}: -EINVAL",
        dev.link_span(iommu),
        f"{ARM_SMMU_C}: arm_smmu_find_sme",
    )
    return reason, error(
        "E201",
        f"stream {sid:#x}/{mask:#x} of '{dev.name}' partly overlaps "
        + ("another SMR of its own" if owner == dev.name else f"the SMR of '{owner}'"),
        reason.span or dev.span,
        label="the kernel fails this device's IOMMU probe with -EINVAL",
        secondary=(Label(grouper.model.devices[owner].span, f"'{owner}' defined here"),),
        help="give both devices the same SID/mask, or non-overlapping ones",
    )


def _no_free_smr(iommu: Iommu, dev: Device, sid: int, mask: int) -> tuple[Reason, Diagnostic]:
    """E202: every stream match register is taken when this master's stream needs one."""
    reason = Reason(
        f"stream {sid:#x}/{mask:#x} of '{dev.name}' finds all {iommu.smrs} stream match "
        f"registers of '{iommu.name}' taken: -ENOSPC",
        dev.link_span(iommu),
        f"{ARM_SMMU_C}: arm_smmu_find_sme, arm_smmu_master_alloc_smes",
    )
    return reason, error(
        "E202",
        f"no free stream match register on '{iommu.name}' for stream {sid:#x} of "
        f"'{dev.name}': all {iommu.smrs} are taken",
        reason.span or dev.span,
        label="the kernel fails this device's IOMMU probe with -ENOSPC",
        secondary=(Label(iommu.span, f"'{iommu.name}' has {iommu.smrs} SMRs"),),
        help="masters whose streams share one SMR (the same SID/mask, or one within "
        "another) use one register: widen a mask, or check `smrs` against the boot "
        "log's 'stream matching with N register groups'",
    )


class AdrenoSmmu(ArmSmmu):
    def restrict_contexts(
        self, alloc: Allocator, iommu: Iommu, dom: Domain, allowed: set[int], why: list[Reason]
    ) -> None:
        """qcom_adreno_smmu_alloc_context_bank: the GPU (SID 0) may only use context bank 0,
        every other client starts at 1."""
        if not alloc.res.platform.since(ADRENO_CONTEXT_BANK_0):
            return
        gpu = any(
            (0, 0) in [(s, 0) for s, _ in alloc.res.model.devices[d].stream_ids(iommu)]
            for d in dom.devices
        )
        if gpu:
            allowed &= {0}
            why.append(
                Reason(
                    "the Adreno GPU (SID 0) may only use context bank 0", None, self.contexts.source
                )
            )
        else:
            allowed.discard(0)
            why.append(
                Reason(
                    "other Adreno SMMU clients start at context bank 1", None, self.contexts.source
                )
            )


ARM_SMMU = ArmSmmu(
    name="arm-smmu",
    driver=ARM_SMMU_C,
    notes="SMMUv1/v2, MMU-500",
    pack=None,
    compatibles=(
        # Tegra186 and later: an MMU-500 with NVIDIA's glue (arm-smmu-nvidia.c)
        "nvidia,tegra186-smmu",
        "nvidia,tegra194-smmu",
        "nvidia,tegra234-smmu",
        "nvidia,smmu-500",
        "arm,mmu-500",
        "arm,mmu-401",
        "arm,mmu-400",
        "arm,smmu-v",
    ),
    arch=None,
    selects_arm_dma_use_iommu="ARM_SMMU",
    streams=frozenset({"sid"}),
    stream_doc="`sid N [mask M]`",
    cells=1,
    xlate=f"{ARM_SMMU_C}: arm_smmu_of_xlate (SID, optional SMR mask)",
    dt_stream="sid",
    smr=True,
    pci=True,
    pci_note="",
    pci_claim=None,
    pci_only=None,
    probes_unbound=False,
    quirks=frozenset({"bypass-last-context"}),
    pci_groups=True,
    group_source=GENERIC_GROUP,
    fq_alloc=True,
    deferred_flush=DEFERRED_FLUSH_CAP,
    static_default=None,
    span=None,
    no_span="arm-smmu.c: arm_smmu_attach_dev (smmu_domain->smmu != smmu)",
    all_links=False,
    single_client=None,
    shared_page_table=False,
    shared_arm_mapping=None,
    iova_regions=None,
    contexts=Contexts(
        max=128,
        first=0,
        errno="-ENOSPC",
        uncounted=None,
        pool=None,
        source=f"{ARM_SMMU_C}: arm_smmu_alloc_context_bank",
        fixed=False,
        release_on_leave=None,
        id_text="domain ID {n} (not a scarce resource)",
    ),
    passes_unattached=None,
    faults_unattached=f"{ARM_SMMU_C}: disable_bypass",
    arch_dma=None,
    aperture=None,
)

QCOM_SMMU = ARM_SMMU.variant(
    name="qcom-smmu",
    driver=QCOM_C,
    notes="Qualcomm implementation of arm-smmu",
    compatibles=("qcom,",),  # qcom,<soc>-smmu-500, qcom,smmu-v2
)

ADRENO_SMMU = ARM_SMMU.variant(
    AdrenoSmmu,
    name="adreno-smmu",
    driver=QCOM_C,
    notes="`qcom,adreno-smmu`, the GPU's SMMU: the GPU, SID 0, may only use context bank 0, "
    "`qcom_adreno_smmu_alloc_context_bank`",
    compatibles=("qcom,adreno-smmu",),
    pci=False,
    contexts=replace(ARM_SMMU.contexts, source=f"{QCOM_C}: qcom_adreno_smmu_alloc_context_bank"),
)

KINDS = (ARM_SMMU, QCOM_SMMU, ADRENO_SMMU)
