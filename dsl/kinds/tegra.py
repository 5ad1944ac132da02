"""NVIDIA Tegra's own IOMMUs: the Tegra30/114/124/210 SMMU of the memory controller
(tegra-smmu, drivers/iommu/tegra-smmu.c) and Tegra20's GART (tegra-gart,
drivers/iommu/tegra-gart.c). Tegra186 and later have an Arm MMU-500 (arm_smmu.py)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..eras import ATTACH_EINVAL, TEGRA_SWGROUP_GROUPS
from ..provenance import Reason
from .base import GENERIC_GROUP, Contexts, Kind

if TYPE_CHECKING:
    from ..allocator import Allocator
    from ..groups import Grouper
    from ..model import Device, Iommu, SocGroup
    from ..resolution import Domain, Resolution

SMMU_C = "drivers/iommu/tegra-smmu.c"
GART_C = "drivers/iommu/tegra-gart.c"


class TegraSmmu(Kind):
    def device_group(self, grouper: Grouper, iommu: Iommu, devs: Sequence[Device]) -> None:
        """tegra_smmu_device_group, tegra_smmu_find_group: the clients of a SoC group (the
        MC tables of this kernel) share it, and from TEGRA_SWGROUP_GROUPS the clients of one
        swgroup; PCI functions go to pci_device_group."""
        src = f"{SMMU_C}: tegra_smmu_device_group"
        soc: dict[str, tuple[SocGroup, tuple[Reason, ...]]] = {}
        for g, because in grouper.soc_groups(iommu):
            for m in g.members:
                soc.setdefault(str(m), (g, because))  # tegra_smmu_find_group: the first
        first_by_key: dict[str, str] = {}
        newer = grouper.res.platform.since(TEGRA_SWGROUP_GROUPS)
        others = [d for d in devs if d.pci is None]
        for dev in sorted(others, key=lambda d: d.probe_order):
            sw = next(
                (str(s.value) for lk in dev.iommus if lk.iommu == iommu.name for s in lk.streams),
                None,
            )
            if sw is None:
                continue
            keys: list[tuple[str, Reason]] = []
            if sw in soc:
                g, because = soc[sw]
                text = f'SoC group "{g.name}" lists swgroup {sw}'
                keys.append(("soc:" + g.name, Reason(text, g.span, src, because)))
            if newer:
                keys.append(("sw:" + sw, Reason(f"same swgroup {sw}", iommu.span, src)))
            for key, reason in keys:
                owner = first_by_key.setdefault(key, dev.name)
                if owner != dev.name:
                    grouper.link(owner, dev.name, reason)
        super().device_group(grouper, iommu, devs)

    def alone(self, res: Resolution, dev: Device, iommu: Iommu) -> tuple[str, str]:
        return "its group", self.group_source


class TegraGart(Kind):
    def take_context(self, alloc: Allocator, iommu: Iommu, dom: Domain) -> bool | None:
        """One aperture, one active domain system-wide: a second attach fails."""
        used = alloc.used.setdefault(iommu.name, {})
        src = self.contexts.source
        if used:
            holder = next(iter(used.values()))
            errno = "-EINVAL" if alloc.res.platform.since(ATTACH_EINVAL) else "-EBUSY"
            dom.fail(errno)
            dom.context_reason = Reason(
                f"the GART's single aperture is taken by '{holder}': {errno}", iommu.span, src
            )
            return False
        used[0] = dom.name
        dom.context = 0
        dom.context_reason = Reason("the GART's single aperture", iommu.span, src)
        return True


TEGRA_SMMU = TegraSmmu(
    name="tegra-smmu",
    driver=SMMU_C,
    notes="Tegra30/114/124/210 ASIDs",
    pack=None,
    # the memory controller (tegra*-mc); Tegra186+'s "nvidia,tegra186-smmu" is an arm-smmu
    compatibles=("nvidia,tegra",),
    arch=None,
    selects_arm_dma_use_iommu=None,
    streams=frozenset({"swgroup"}),
    stream_doc="`swgroup X`",
    cells=1,
    xlate=f"{SMMU_C}: tegra_smmu_of_xlate (the SWGROUP)",
    dt_stream="swgroup",
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
    no_span=None,
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
        source=f"{SMMU_C}: tegra_smmu_alloc_asid",
        fixed=False,
        # the ASID goes when the last group leaves (tegra_smmu_detach_as, tegra_smmu_free_asid)
        release_on_leave=f"{SMMU_C}: tegra_smmu_detach_as",
        id_text="domain ID {n} (not a scarce resource)",
    ),
    # a swgroup's ASID stays disabled until tegra_smmu_enable
    passes_unattached=f"{SMMU_C}: tegra_smmu_attach_dev",
    faults_unattached=None,
    arch_dma=None,
    aperture=None,
)

TEGRA_GART = TegraGart(
    name="tegra-gart",
    driver=GART_C,
    notes="Tegra20, one shared aperture",
    pack=None,
    compatibles=("nvidia,tegra20-mc-gart", "nvidia,tegra20-gart"),
    arch=None,
    selects_arm_dma_use_iommu=None,
    streams=frozenset({"none"}),
    stream_doc="none",
    cells=0,
    xlate=f"{GART_C}: gart_iommu_of_xlate ignores its arguments",
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
    span=None,
    no_span=None,
    all_links=False,
    single_client=None,
    shared_page_table=False,
    shared_arm_mapping=None,
    iova_regions=None,
    contexts=Contexts(
        max=1,
        first=0,
        errno="-ENOSPC",
        uncounted=None,
        pool=None,
        source=f"{GART_C}: gart_iommu_attach_dev",
        fixed=False,
        release_on_leave=None,
        id_text="domain ID {n} (not a scarce resource)",
    ),
    # the GART remaps only its aperture
    passes_unattached=f"{GART_C}: gart_iommu_attach_dev",
    faults_unattached=None,
    arch_dma=None,
    # Tegra20's 32 MiB aperture, the MC node's second reg (tegra20.dtsi); every IOVA outside
    # it is refused by gart_iommu_map (gart_iova_range_invalid: -EINVAL)
    aperture=(
        0x58000000,
        32 << 20,
        f"{GART_C}: tegra_gart_probe (iovmm_base, page_count from the MC's second reg), "
        "gart_iommu_domain_alloc (geometry.aperture_start/_end, force_aperture)",
    ),
)

KINDS = (TEGRA_SMMU, TEGRA_GART)
