"""MediaTek's M4Us: mtk-iommu (drivers/iommu/mtk_iommu.c) and the arm32 M4U v1 of mt2701 and
mt7623, mtk-iommu-v1 (drivers/iommu/mtk_iommu_v1.c)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..diagnostics import Label, warning
from ..enums import DomainType, Origin
from ..eras import MTK_IOVA_REGIONS, MTK_ONE_LARB
from ..provenance import Reason
from .base import GENERIC_GROUP, Contexts, Kind, one_group_per_instance

if TYPE_CHECKING:
    from .. import ast
    from ..allocator import Allocator
    from ..groups import Grouper
    from ..model import Device, Iommu, Model
    from ..resolution import DeviceResult, Domain, Group, Resolution
    from ..rules import ActiveRule
    from ..validate import Builder

MTK_C = "drivers/iommu/mtk_iommu.c"
MTK_V1_C = "drivers/iommu/mtk_iommu_v1.c"


# -- the M4U's hw_list and IOVA regions -------------------------------------------------------
def hw_list(model: Model, iommu: Iommu) -> list[Iommu]:
    """The M4Us on one hw_list: every `quirk share-pgtable` M4U is on the global m4ulist (in
    probe order, here declaration order), any other on a list of its own (mtk_iommu_probe:
    SHARE_PGTABLE)."""
    if "share-pgtable" not in iommu.quirks:
        return [iommu]
    return [  # a disabled M4U never probes, so it is on no list
        i
        for i in model.iommus.values()
        if i.kind == "mtk-iommu" and "share-pgtable" in i.quirks and not i.disabled
    ] or [iommu]


def region_table(model: Model, iommu: Iommu) -> Iommu:
    """The M4U whose `region` lines decide: the first on the hw_list, whose platform data
    mtk_iommu_device_group reads (mtk_iommu_get_frst_data); if it has none, the master's
    own M4U's (the M4Us of one SoC carry the same table)."""
    first = hw_list(model, iommu)[0]
    return first if first.regions or not iommu.regions else iommu


def region_of(res: Resolution, dev: Device, iommu: Iommu) -> int | None:
    """The IOVA region, hence the group, an M4U gives a master; None when none holds it.

    From MTK_IOVA_REGIONS mtk_iommu_get_iova_region_id picks the first region whose port
    mask for the master's (first) larb holds all its ports.  Before, it matched the
    master's dma_range_map (its bus's `dma-ranges`; a leaf node's are not honoured since
    f1ad5338a4d5) against the regions and returned region 0 for a master without one.  The
    language has no `dma-ranges`, so before then every master is in region 0, as one
    without them is.  The table is the first M4U's on the hw_list (mtk_iommu_get_frst_data)."""
    regions = region_table(res.model, iommu).regions
    if not regions or not res.platform.since(MTK_IOVA_REGIONS):
        return 0
    larb, ports = _ports(dev, iommu)
    for number in sorted({r.number for r in regions}):
        mask = next((r.ports for r in regions if r.number == number and r.larb == larb), 0)
        if mask & ports == ports:
            return number
    return None


def _ports(dev: Device, iommu: Iommu) -> tuple[int, int]:
    """The larb of a master's first port and the mask of all its ports (MTK_M4U_TO_LARB,
    MTK_M4U_TO_PORT: an M4U ID is larb << 5 | port, the larb 5 bits wide)."""
    sids = [sid for sid, _ in dev.stream_ids(iommu)]
    ports = 0
    for sid in sids:
        ports |= 1 << (sid & 0x1F)
    return ((sids[0] >> 5) & 0x1F if sids else 0), ports


def _larbs_refused(res: Resolution, dev: Device, iommu: Iommu) -> list[int]:
    """The first two larbs of a master the M4U refuses for spanning larbs (an M4U port is
    larb << 5 | port, MTK_M4U_TO_LARB); empty when it accepts the master."""
    if "multi-larb" in iommu.quirks:
        return []
    if not res.platform.since(MTK_ONE_LARB):
        return []
    larbs = list(dict.fromkeys((sid >> 5) & 0x1F for sid, _ in dev.stream_ids(iommu)))
    return larbs[:2] if len(larbs) > 1 else []


class MtkIommu(Kind):
    def refuse_probe(self, res: Resolution, dev: Device, iommu: Iommu) -> Reason | None:
        """mtk_iommu_probe_device refuses ports on two larbs (W209) before
        mtk_iommu_device_group finds no IOVA region for them (W211)."""
        span = dev.span
        if larbs := _larbs_refused(res, dev, iommu):
            why = Reason(
                f"'{iommu.name}' refuses '{dev.name}': its ports are on larbs "
                f'{larbs[0]} and {larbs[1]} ("Can only use one larb", -EINVAL)',
                span,
                f"{MTK_C}: mtk_iommu_probe_device (635319a4a744)",
            )
            log = f"{dev.name}: Can only use one larb. Fail@larb{larbs[0]}-{larbs[1]}."
            diag = warning(
                "W209",
                f"the M4U '{iommu.name}' refuses '{dev.name}': a master may use one larb "
                f"only, and its ports are on larbs {larbs[0]} and {larbs[1]}",
                span,
                help="the kernel leaves it untranslated (dma-direct); on an M4U whose "
                "platform data allows it, say `quirk multi-larb`",
            )
        elif region_of(res, dev, iommu) is None:
            larb, ports = _ports(dev, iommu)
            table = region_table(res.model, iommu)
            why = Reason(
                f"no IOVA region of '{iommu.name}' holds all the ports of '{dev.name}' "
                f"(larb {larb}, ports {ports:#x}): device_group fails with -EINVAL",
                span,
                f"{MTK_C}: mtk_iommu_get_iova_region_id (b2a6876d215b)",
            )
            log = f"{dev.name}: Can NOT find the region for larb({larb}-{ports:x})."
            diag = warning(
                "W211",
                f"the M4U '{iommu.name}' has no IOVA region for '{dev.name}': no region's "
                f"ports on larb {larb} include all of its ports ({ports:#x})",
                span,
                secondary=(Label(table.span, f"'{table.name}' and its regions"),),
                help="the kernel leaves it without a group (dma-direct); split the master's "
                "ports so each region holds them, or check the `region` lines",
            )
        else:
            return None
        res.log.append(log)
        res.diagnostics.append(diag)
        return why

    def device_group(self, grouper: Grouper, iommu: Iommu, devs: Sequence[Device]) -> None:
        """mtk_iommu_device_group: one group per IOVA region, kept in the first M4U's
        m4u_group[] for every M4U on its hw_list (mtk_iommu_get_frst_data); an M4U
        without regions on a list of its own has one group."""
        if not iommu.regions and "share-pgtable" not in iommu.quirks:
            one_group_per_instance(grouper, self, iommu, devs)
            return
        model = grouper.model
        listed = hw_list(model, iommu)
        table = listed[0]
        if not grouper.first_time(("mtk hw_list", table.name)):
            return  # all the list's masters at once
        members = sorted(
            (d for i in listed for d in grouper.devices_on(i.name)), key=lambda d: d.probe_order
        )
        res = grouper.res
        first: dict[int, str] = {}
        for dev in members:
            m4u = model.iommus[res.devices[dev.name].iommu or ""]
            region = region_of(res, dev, m4u)
            assert region is not None  # refuse_probe left masters without one untranslated
            if region not in first:
                first[region] = dev.name
                continue
            if not res.platform.since(MTK_IOVA_REGIONS):
                text = (
                    f"before 6.4 '{m4u.name}' picks a master's IOVA region from its bus's "
                    "dma-ranges, and a master without them is in region 0: one group"
                )
                src = f"{MTK_C}: mtk_iommu_get_iova_region_id (dma_range_map)"
            else:
                larb, _ = _ports(dev, m4u)
                text = (
                    f"'{m4u.name}' puts '{dev.name}' (larb {larb}) in IOVA region {region}, "
                    f"as it does '{first[region]}': one group per region"
                )
                src = f"{MTK_C}: mtk_iommu_get_iova_region_id, mtk_iommu_device_group"
            if m4u is not table:
                text += f" (its M4U shares the groups of '{table.name}', first on their hw_list)"
                src += ", mtk_iommu_get_frst_data"
            grouper.link(first[region], dev.name, Reason(text, table.span, src))

    def alone(self, res: Resolution, dev: Device, iommu: Iommu) -> tuple[str, str]:
        where = "its group"
        if region_table(res.model, iommu).regions and res.platform.since(MTK_IOVA_REGIONS):
            where = f"the group of IOVA region {region_of(res, dev, iommu)}"
        return where, self.group_source

    def take_context(self, alloc: Allocator, iommu: Iommu, dom: Domain) -> bool | None:
        """One page-table base register: every domain (one per IOVA region) re-uses the
        first one's io-pgtable and only sets its own aperture; M4Us on one hw_list
        (`quirk share-pgtable`) share it too."""
        holder = alloc.pgtables.setdefault(hw_list(alloc.res.model, iommu)[0].name, dom.name)
        alloc.used.setdefault(iommu.name, {}).setdefault(0, dom.name)
        dom.context = 0
        dom.context_reason = Reason(
            "the M4U's one page table"
            + ("" if holder == dom.name else f", shared with '{holder}'"),
            None,
            f"{MTK_C}: mtk_iommu_domain_finalise (share_dom)",
        )
        return True

    def took(self, alloc: Allocator, dom: Domain) -> None:
        """A group of a shared hw_list spans M4Us: each one it attaches points its page table
        base at the shared table (mtk_iommu_attach_device: bank->m4u_dom)."""
        for d in dom.devices:
            m4u = alloc.res.devices[d].iommu
            if m4u and m4u != dom.iommu and m4u not in dom.contexts_on:
                alloc.used.setdefault(m4u, {}).setdefault(0, dom.name)
                dom.contexts_on[m4u] = 0

    def spans(self, iommus: Sequence[Iommu]) -> bool | None:
        """M4Us on one hw_list share one page table (mtk_iommu_attach_device: frstdata);
        others are not modelled."""
        return True if all("share-pgtable" in i.quirks for i in iommus) else None


class MtkIommuV1(Kind):
    def take_context(self, alloc: Allocator, iommu: Iommu, dom: Domain) -> bool | None:
        """One page table (data->m4u_dom), the driver's arm32 mapping's: its attach ignores
        any other domain ("Only allow the domain created internally")."""
        if dom.origin is Origin.DEFAULT:
            return True
        alloc.used.setdefault(iommu.name, {})[0] = dom.name
        dom.context = 0
        dom.context_reason = Reason(
            f"'{iommu.name}' has one page table, for every master (data->m4u_dom)",
            None,
            f"{MTK_V1_C}: mtk_iommu_v1_domain_finalise",
        )
        return True

    def implicit_mapping(
        self, alloc: Allocator, dres: DeviceResult, group: Group, excluded: ActiveRule | None
    ) -> bool:
        """The M4U v1 builds ONE arm32 mapping for all its masters and attaches each to it
        (mtk_iommu_v1_probe_finalize: arm_iommu_attach_device(dev, data->mapping); before
        5.8 mtk_iommu_create_mapping from add_device), so the arch code gives them no
        mapping of their own and `excludes implicit` does not stop it. Its domain is the
        one page table (data->m4u_dom) the M4U has; the group's default domain, where there
        is one, is never programmed (attach returns 0 for any domain but the mapping's)."""
        from ..resolution import Domain

        res = alloc.res
        iommu = res.model.iommus[group.iommu]
        name = f"arm_iommu:{iommu.name}"
        mapping = res.domains.get(name)
        if mapping is None:
            mapping = Domain(
                name,
                DomainType.UNMANAGED,
                iommu.name,
                Origin.ARM32,
                [],
                Reason(
                    f"'{iommu.name}' (M4U v1) attaches every master to its one arm32 mapping",
                    iommu.span,
                    self.shared_arm_mapping,
                    (res.platform.config_reason("ARM_DMA_USE_IOMMU"),),
                ),
            )
            res.domains[name] = mapping
            alloc.take(mapping)
        mapping.devices.append(dres.name)
        dres.domain = name
        if excluded is not None:
            res.diagnostics.append(
                warning(
                    "W213",
                    f"'{excluded.rule.name}' cannot keep '{dres.name}' out of an IOMMU "
                    f"mapping: the M4U v1 driver of '{group.iommu}' attaches every master "
                    "to its own mapping, not the arch code",
                    excluded.rule.span,
                    help="'excludes implicit' stops arch_setup_dma_ops; "
                    "mtk_iommu_v1_probe_finalize attaches every master regardless",
                )
            )
        return True

    def check_domain(self, builder: Builder, node: ast.Domain, iommu: Iommu) -> None:
        builder.err(
            "E120",
            f"'{iommu.name}' is an M4U v1: its driver programs only its own mapping",
            node.span,
            label="this domain would never be used",
            help="mtk_iommu_v1_attach_device returns 0 for any domain but the one of "
            "its arm32 mapping ('Only allow the domain created internally'): every "
            "master already shares that mapping",
        )


MTK_IOMMU = MtkIommu(
    name="mtk-iommu",
    driver=MTK_C,
    notes="M4U port",
    pack=None,
    compatibles=("mediatek,",),
    arch=None,
    selects_arm_dma_use_iommu="MTK_IOMMU",
    streams=frozenset({"sid"}),
    stream_doc="`sid N`",
    cells=1,
    xlate=f"{MTK_C}: mtk_iommu_of_xlate (the M4U port, larb << 5 | port)",
    dt_stream="sid",
    smr=False,
    # an infra M4U with IFA_IOMMU_PCIE_SUPPORT (MT8195's) takes the PCIe hosts' functions
    # through their iommu-map: mtk_iommu_probe registers it for the PCI bus
    pci=True,
    pci_note=" (the infra M4U, MT8195, through the hosts' iommu-map)",
    pci_claim=None,
    pci_only=None,
    probes_unbound=False,
    quirks=frozenset({"multi-larb", "share-pgtable"}),
    pci_groups=False,
    # one group per M4U, or per IOVA region and hw_list
    group_source=f"{MTK_C}: mtk_iommu_device_group",
    fq_alloc=False,
    deferred_flush=None,
    static_default=None,
    span=None,
    no_span=None,
    all_links=False,
    single_client=None,
    shared_page_table=True,
    shared_arm_mapping=None,
    iova_regions=f"{MTK_C}: mtk_iommu_get_iova_region_id",
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
    # a larb port's MMU bit is set only on attach (larb_mmu->mmu |= portid_msk)
    passes_unattached=f"{MTK_C}: mtk_iommu_config",
    faults_unattached=None,
    arch_dma=None,
    aperture=None,
)

MTK_IOMMU_V1 = MtkIommuV1(
    name="mtk-iommu-v1",
    driver=MTK_V1_C,
    notes="mt2701/mt7623 M4U, arm32 only: `E130` elsewhere; every master shares the driver's "
    "one arm32 mapping, named `arm_iommu:IOMMU`, instead of one implicit mapping each; "
    "`std/iommu/mtk-iommu-v1`",
    pack="std/iommu/mtk-iommu-v1",
    compatibles=("mediatek,mt2701-m4u", "mediatek,mt7623-m4u"),  # mtk_iommu_v1_of_ids
    arch=("arm", "drivers/iommu/Kconfig: MTK_IOMMU_V1 depends on ARM"),
    selects_arm_dma_use_iommu="MTK_IOMMU_V1",
    streams=frozenset({"sid"}),
    stream_doc="`sid N` (flat port ID)",
    cells=1,
    xlate=f"{MTK_V1_C}: mtk_iommu_v1_probe_device walks `iommus` itself (no of_xlate); one "
    "cell, the flat port ID (MT2701_M4U_ID_LARBn(port))",
    dt_stream="sid",
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
    shared_arm_mapping=f"{MTK_V1_C}: mtk_iommu_v1_create_mapping, mtk_iommu_v1_probe_finalize",
    iova_regions=None,
    contexts=Contexts(
        max=None,
        first=0,
        errno="-ENOSPC",
        uncounted="one page table (data->m4u_dom), shared by every master",
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

KINDS = (MTK_IOMMU, MTK_IOMMU_V1)
