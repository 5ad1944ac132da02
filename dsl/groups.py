"""Stage 1 and 2: which IOMMU each device is behind, and the IOMMU groups.

Groups are the connected components of a graph whose nodes are the devices
(and PCI bridges) and whose edges are the reasons the kernel cannot isolate
two of them, each edge labelled with that reason and its kernel source.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import networkx as nx

from .diagnostics import NO_SPAN, Label, error, warning
from .model import (
    PCI_CLAIM_KINDS,
    PCI_CLAIMS,
    Bridge,
    Device,
    Iommu,
    IommuMapEntry,
    Model,
    PciAddress,
    SocGroup,
)
from .provenance import Reason
from .resolution import DeviceResult, Group, Resolution
from .rules import ActiveRule, by_verb

ARM_SMMU = {"arm-smmu", "qcom-smmu", "adreno-smmu"}
# Drivers whose device_group hands PCI functions to pci_device_group (riscv-iommu:
# riscv_iommu_device_group; platform masters get generic_device_group, one group each).
PCI_GROUPING = {
    "intel-vtd",
    "amd-vi",
    "arm-smmu-v3",
    "virtio",
    "apple-dart",
    "riscv-iommu",
} | ARM_SMMU
PER_INSTANCE = {
    # drivers/iommu/rockchip-iommu.c: rk_iommu_device_group (one group per IOMMU)
    "rockchip": "drivers/iommu/rockchip-iommu.c: rk_iommu_device_group",
    # drivers/iommu/mtk_iommu.c: mtk_iommu_device_group (one group per M4U, or per IOVA
    # region and hw_list: see mtk_region)
    "mtk-iommu": "drivers/iommu/mtk_iommu.c: mtk_iommu_device_group",
    # drivers/iommu/sun50i-iommu.c: one TTB register, one group (iommu->group, later
    # generic_single_device_group)
    "sun50i-iommu": "drivers/iommu/sun50i-iommu.c: sun50i_iommu_device_group",
    # drivers/iommu/omap-iommu.c: omap_iommu_device_group returns the MMU's obj->group
    # (generic_single_device_group from 6.7), the group of the device's first MMU
    "omap-iommu": "drivers/iommu/omap-iommu.c: omap_iommu_device_group",
    # drivers/iommu/sprd-iommu.c: sprd_iommu_device_group returns sdev->group ("All the
    # client devices are in the same iommu-group"; generic_single_device_group from 6.7)
    "sprd-iommu": "drivers/iommu/sprd-iommu.c: sprd_iommu_device_group",
}


def attach_iommus(res: Resolution, rules: list[ActiveRule]) -> None:
    """fwspec: a device is translated only through a valid `iommus` entry or a PCI claim
    (drivers/iommu/of_iommu.c: of_iommu_configure; PCI_CLAIMS: x86 DMAR/IVRS, s390 zPCI)."""
    model = res.model
    excluded: dict[str, ActiveRule] = {}
    for rule in by_verb(rules, "excludes iommu"):
        for name in rule.devices:
            excluded.setdefault(name, rule)
    claimers = [i for i in model.iommus.values() if i.kind in PCI_CLAIM_KINDS]
    mapped = [i for i in model.iommus.values() if i.maps]
    for dev in sorted(model.devices.values(), key=lambda d: d.probe_order):
        out = DeviceResult(dev.name)
        res.devices[dev.name] = out
        iommu, why = _iommu_of(dev, model, claimers, mapped)
        if iommu is not None and dev.disabled:
            iommu, why = None, Reason(f"'{dev.name}' is disabled in the device tree", dev.span)
        if iommu is not None and iommu.disabled:
            why = Reason(
                f"IOMMU '{iommu.name}' is disabled: its clients are not translated",
                iommu.span,
                "drivers/iommu/of_iommu.c: of_iommu_xlate (unavailable IOMMU is no IOMMU)",
            )
            iommu = None
        if iommu is not None and dev.name in excluded:
            rule = excluded[dev.name]
            why = rule.reason(f"'{iommu.name}' does not translate '{dev.name}'")
            iommu = None
        # before the M4U's checks: a device no driver binds never reaches probe_device
        unbound = res.driver_does(dev.name, "none")
        if iommu is not None and unbound is not None and not _probed_unbound(res, iommu):
            why = Reason(
                f"no driver binds '{dev.name}': before 6.15 a firmware-described device is set "
                "up for its IOMMU only when a driver binds (really_probe -> dma_configure -> "
                "of_iommu_configure), so it gets no group",
                unbound.span,
                "drivers/base/dd.c: really_probe; drivers/iommu/of_iommu.c: of_iommu_configure",
                (unbound, res.platform.kernel_reason),
            )
            iommu = None
        if iommu is not None and (refused := _m4u_refusal(res, dev, iommu)) is not None:
            why, iommu = refused, None
        out.iommu = iommu.name if iommu else None
        out.set("iommu", iommu.name if iommu else "none", why)


def _m4u_refusal(res: Resolution, dev: Device, iommu: Iommu) -> Reason | None:
    """Why an M4U leaves a master untranslated, logging and warning as the kernel's probe
    does; None when it takes the master. mtk_iommu_probe_device refuses ports on two larbs
    (W209) before mtk_iommu_device_group finds no IOVA region for them (W211)."""
    if iommu.kind != "mtk-iommu":
        return None
    span = dev.span
    if larbs := _larbs_refused(res, dev, iommu):
        why = Reason(
            f"'{iommu.name}' refuses '{dev.name}': its ports are on larbs "
            f'{larbs[0]} and {larbs[1]} ("Can only use one larb", -EINVAL)',
            span,
            "drivers/iommu/mtk_iommu.c: mtk_iommu_probe_device (635319a4a744)",
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
    elif mtk_region(res, dev, iommu) is None:
        larb, ports = _mtk_ports(dev, iommu)
        table = mtk_table(res.model, iommu)
        why = Reason(
            f"no IOVA region of '{iommu.name}' holds all the ports of '{dev.name}' "
            f"(larb {larb}, ports {ports:#x}): device_group fails with -EINVAL",
            span,
            "drivers/iommu/mtk_iommu.c: mtk_iommu_get_iova_region_id (b2a6876d215b)",
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


def _larbs_refused(res: Resolution, dev: Device, iommu: Iommu) -> list[int]:
    """The first two larbs of a master the M4U refuses for spanning larbs (an M4U port is
    larb << 5 | port, MTK_M4U_TO_LARB); empty when it accepts the master."""
    if "multi-larb" in iommu.quirks:
        return []
    if res.platform.kernel < (5, 17):
        return []
    larbs = list(dict.fromkeys((sid >> 5) & 0x1F for sid, _ in stream_ids(dev, iommu)))
    return larbs[:2] if len(larbs) > 1 else []


def _mtk_ports(dev: Device, iommu: Iommu) -> tuple[int, int]:
    """The larb of a master's first port and the mask of all its ports (MTK_M4U_TO_LARB,
    MTK_M4U_TO_PORT: an M4U ID is larb << 5 | port, the larb 5 bits wide)."""
    sids = [sid for sid, _ in stream_ids(dev, iommu)]
    ports = 0
    for sid in sids:
        ports |= 1 << (sid & 0x1F)
    return ((sids[0] >> 5) & 0x1F if sids else 0), ports


def mtk_list(model: Model, iommu: Iommu) -> list[Iommu]:
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


def mtk_table(model: Model, iommu: Iommu) -> Iommu:
    """The M4U whose `region` lines decide: the first on the hw_list, whose platform data
    mtk_iommu_device_group reads (mtk_iommu_get_frst_data); if it has none, the master's
    own M4U's (the M4Us of one SoC carry the same table)."""
    first = mtk_list(model, iommu)[0]
    return first if first.regions or not iommu.regions else iommu


def mtk_region(res: Resolution, dev: Device, iommu: Iommu) -> int | None:
    """The IOVA region, hence the group, an M4U gives a master; None when none holds it.

    From 6.4 (b2a6876d215b) mtk_iommu_get_iova_region_id picks the first region whose port
    mask for the master's (first) larb holds all its ports.  Before, it matched the master's
    dma_range_map (its bus's `dma-ranges`; a leaf node's are not honoured since f1ad5338a4d5)
    against the regions and returned region 0 for a master without one.  The language has no
    `dma-ranges`, so before 6.4 every master is in region 0, as one without them is.
    The table is the first M4U's on the hw_list (mtk_iommu_get_frst_data)."""
    regions = mtk_table(res.model, iommu).regions
    if not regions or res.platform.kernel < (6, 4):
        return 0
    larb, ports = _mtk_ports(dev, iommu)
    for number in sorted({r.number for r in regions}):
        mask = next((r.ports for r in regions if r.number == number and r.larb == larb), 0)
        if mask & ports == ports:
            return number
    return None


def _probed_unbound(res: Resolution, iommu: Iommu) -> bool:
    """Whether a device no driver binds still joins a group: x86 IOMMUs probe every PCI
    function from the ACPI tables at init (s390 every zPCI function, the PAMU every
    device, as the machine's only ops), POWER adds each function to its PE's group when
    the PCI code sets up its DMA (pnv_pci_ioda_dma_dev_setup: iommu_add_device), and from
    6.15 bus_iommu_probe parses DT/ACPI for every device (bcb81ac6ae3c, "iommu: Get DT/ACPI
    parsing into the proper probe path")."""
    return (
        iommu.kind in PCI_CLAIM_KINDS or iommu.kind == "spapr-tce" or res.platform.kernel >= (6, 15)
    )


def _iommu_of(
    dev: Device, model: Model, claimers: list[Iommu], mapped: list[Iommu]
) -> tuple[Iommu | None, Reason]:
    links = [link for link in dev.iommus if link.iommu in model.iommus]
    if links:
        link = links[0]
        return model.iommus[link.iommu], Reason(
            f"'{dev.name}' has an iommus entry for '{link.iommu}'",
            link.span,
            "drivers/iommu/of_iommu.c: of_iommu_configure",
        )
    if dev.pci is not None and claimers:
        iommu = claimers[0]
        return iommu, Reason(
            f"{iommu.kind} '{iommu.name}' claims PCI device {dev.pci} ({PCI_CLAIMS[iommu.kind]})",
            iommu.span,
            "drivers/iommu/iommu.c: __iommu_probe_device",
        )
    if dev.pci is not None and mapped:
        for iommu in mapped:  # E127 makes the match unique
            found = _map_entry(dev.pci, iommu)
            if found is not None:
                return iommu, Reason(
                    f"PCI device {dev.pci} reaches '{iommu.name}' through its iommu-map",
                    found[0].span,
                    "drivers/iommu/of_iommu.c: of_iommu_configure_dev_id (of_map_id)",
                )
        return None, Reason(
            f"no iommu-map entry covers PCI device {dev.pci} (RID {dev.pci.rid:#06x}): "
            "'no iommu-map translation for id', the device bypasses the IOMMU",
            mapped[0].maps[0].span,
            "drivers/of/base.c: of_map_id",
        )
    return None, Reason(f"'{dev.name}' has no iommus entry: not behind an IOMMU", dev.span)


def _map_entry(addr: PciAddress, iommu: Iommu) -> tuple[IommuMapEntry, int] | None:
    """The first iommu-map entry that covers this function, and the stream ID it gives
    (drivers/of/base.c: of_map_id)."""
    for entry in iommu.maps:
        sid = entry.sid_of(addr)
        if sid is not None:
            return entry, sid
    return None


def stream_ids(dev: Device, iommu: Iommu) -> list[tuple[int, int]]:
    """(SID, SMR mask) pairs the device emits on this IOMMU."""
    out: list[tuple[int, int]] = []
    for link in dev.iommus:
        if link.iommu != iommu.name:
            continue
        for s in link.streams:
            if s.form == "sid" and isinstance(s.value, int):
                out.append((s.value, s.mask or 0))
    if not out and dev.pci is not None and iommu.maps:
        found = _map_entry(dev.pci, iommu)
        if found is not None:
            out.append((found[1], found[0].smr_mask))
    return out


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

    def first_overlap(self, sid: int, mask: int, owner: str) -> tuple[int, int, str] | None:
        best: int | None = None
        for mask0, positions in self.by_mask.items():
            table = self.index.get((mask0, mask))
            if table is None:
                table = {}
                for pos in positions:
                    table.setdefault(self.entries[pos][0] & ~(mask | mask0), []).append(pos)
                self.index[(mask0, mask)] = table
            for pos in table.get(sid & ~(mask | mask0), ()):
                if self.entries[pos][2] != owner:
                    if best is None or pos < best:
                        best = pos
                    break
        return self.entries[best] if best is not None else None


class _Grouper:
    def __init__(self, res: Resolution):
        self.res = res
        self.model = res.model
        self.graph: nx.Graph = nx.Graph()
        self.failed: dict[str, Reason] = {}
        self._soc_groups: dict[str, list[tuple[SocGroup, tuple[Reason, ...]]]] = {}

    def link(self, a: str, b: str, reason: Reason) -> None:
        if a != b and not self.graph.has_edge(a, b):
            self.graph.add_edge(a, b, reason=reason)

    def run(self) -> None:
        model = self.model
        translated = [
            model.devices[d.name] for d in self.res.devices.values() if d.iommu is not None
        ]
        for dev in translated:
            self.graph.add_node(dev.name)
        by_iommu: dict[str, list[Device]] = {}
        for dev in translated:
            by_iommu.setdefault(self.res.devices[dev.name].iommu or "", []).append(dev)
        m4u_lists: set[str] = set()
        for name, devs in by_iommu.items():
            iommu = model.iommus[name]
            pci = [d for d in devs if d.pci is not None]
            others = [d for d in devs if d.pci is None]
            if iommu.kind == "mtk-iommu" and (iommu.regions or "share-pgtable" in iommu.quirks):
                hw_list = mtk_list(model, iommu)
                if hw_list[0].name not in m4u_lists:  # all the list's masters at once
                    m4u_lists.add(hw_list[0].name)
                    members = [d for i in hw_list for d in by_iommu.get(i.name, [])]
                    self.mtk_regions(hw_list[0], sorted(members, key=lambda d: d.probe_order))
                continue
            if iommu.kind in PER_INSTANCE:
                for d in devs[1:]:
                    self.link(
                        devs[0].name,
                        d.name,
                        Reason(
                            f"{iommu.kind} '{iommu.name}' has one group for all its masters",
                            iommu.span,
                            PER_INSTANCE[iommu.kind],
                        ),
                    )
                continue
            if iommu.kind == "spapr-tce":
                self.pe(iommu, devs)
                continue
            if iommu.kind == "fsl-pamu" and "endpoint-partitioning" not in iommu.quirks:
                self.pamu_controllers(iommu, pci)
                continue
            if iommu.kind in ARM_SMMU:
                self.arm_smmu(iommu, devs)
            elif iommu.kind == "tegra-smmu":
                self.tegra(iommu, others)
            elif iommu.kind in ("arm-smmu-v3", "apple-dart", "riscv-iommu"):
                self.same_sid(iommu, others)
            if iommu.kind in PCI_GROUPING or iommu.kind in ("tegra-smmu", "fsl-pamu"):
                self.pci(pci)
        self.number(translated)

    # -- MediaTek M4U: one group per IOVA region ----------------------------------------
    def mtk_regions(self, table: Iommu, devs: list[Device]) -> None:
        """mtk_iommu_device_group: one group per IOVA region, kept in the first M4U's
        m4u_group[] for every M4U on its hw_list (mtk_iommu_get_frst_data)."""
        first: dict[int, str] = {}
        for dev in devs:
            iommu = self.model.iommus[self.res.devices[dev.name].iommu or ""]
            region = mtk_region(self.res, dev, iommu)
            assert region is not None  # attach_iommus left masters without one untranslated
            if region not in first:
                first[region] = dev.name
                continue
            if self.res.platform.kernel < (6, 4):
                text = (
                    f"before 6.4 '{iommu.name}' picks a master's IOVA region from its bus's "
                    "dma-ranges, and a master without them is in region 0: one group"
                )
                src = "drivers/iommu/mtk_iommu.c: mtk_iommu_get_iova_region_id (dma_range_map)"
            else:
                larb, _ = _mtk_ports(dev, iommu)
                text = (
                    f"'{iommu.name}' puts '{dev.name}' (larb {larb}) in IOVA region {region}, "
                    f"as it does '{first[region]}': one group per region"
                )
                src = (
                    "drivers/iommu/mtk_iommu.c: mtk_iommu_get_iova_region_id, "
                    "mtk_iommu_device_group"
                )
            if iommu is not table:
                text += f" (its M4U shares the groups of '{table.name}', first on their hw_list)"
                src += ", mtk_iommu_get_frst_data"
            self.link(first[region], dev.name, Reason(text, table.span, src))

    # -- arm-smmu: stream map entries ------------------------------------------------
    def arm_smmu(self, iommu: Iommu, devs: list[Device]) -> None:
        """drivers/iommu/arm/arm-smmu/arm-smmu.c: arm_smmu_find_sme, arm_smmu_device_group."""
        smrs = _SmrTable()
        src = "drivers/iommu/arm/arm-smmu/arm-smmu.c: arm_smmu_find_sme"
        for dev in sorted(devs, key=lambda d: d.probe_order):
            # PCI functions too: their iommu-map SIDs take stream map entries, and a group
            # found through a shared entry comes before pci_device_group.
            for sid, mask in stream_ids(dev, iommu):
                hit = smrs.first_overlap(sid, mask, dev.name)
                if hit is None:
                    smrs.add(sid, mask, dev.name)
                    continue
                sid0, mask0, owner = hit
                if (mask & mask0) == mask and ((sid ^ sid0) & ~mask0) == 0:
                    # The new entry lies entirely within an existing SMR: reuse it.
                    self.link(
                        owner,
                        dev.name,
                        Reason(
                            f"'{dev.name}' stream {sid:#x}/{mask:#x} lies within "
                            f"'{owner}''s SMR {sid0:#x}/{mask0:#x}: one stream map entry",
                            _link_span(dev, iommu),
                            src,
                        ),
                    )
                    continue
                # Overlapping but not contained: the kernel refuses (-EINVAL).
                self.fail(
                    dev,
                    Reason(
                        f"stream {sid:#x}/{mask:#x} of '{dev.name}' partly overlaps "
                        f"'{owner}''s SMR {sid0:#x}/{mask0:#x}: -EINVAL",
                        _link_span(dev, iommu),
                        src,
                    ),
                    "E201",
                    f"stream {sid:#x}/{mask:#x} of '{dev.name}' partly overlaps "
                    f"the SMR of '{owner}'",
                    owner,
                )

    def fail(self, dev: Device, reason: Reason, code: str, message: str, other: str) -> None:
        self.failed[dev.name] = reason
        other_dev = self.model.devices[other]
        self.res.diagnostics.append(
            error(
                code,
                message,
                reason.span or dev.span,
                label="the kernel fails this device's IOMMU probe with -EINVAL",
                secondary=(Label(other_dev.span, f"'{other}' defined here"),),
                help="give both devices the same SID/mask, or non-overlapping ones",
            )
        )

    # -- tegra-smmu: swgroups and SoC groups --------------------------------------------
    def tegra(self, iommu: Iommu, devs: list[Device]) -> None:
        """drivers/iommu/tegra-smmu.c: tegra_smmu_device_group, tegra_smmu_find_group."""
        src = "drivers/iommu/tegra-smmu.c: tegra_smmu_device_group"
        soc: dict[str, tuple[SocGroup, tuple[Reason, ...]]] = {}
        for g, because in self.soc_groups(iommu):
            for m in g.members:
                soc.setdefault(str(m), (g, because))  # tegra_smmu_find_group: the first
        first_by_key: dict[str, str] = {}
        newer = self.res.platform.kernel >= (6, 7)
        for dev in sorted(devs, key=lambda d: d.probe_order):
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
                    self.link(owner, dev.name, reason)

    def soc_groups(self, iommu: Iommu) -> list[tuple[SocGroup, tuple[Reason, ...]]]:
        """The SoC groups this kernel's MC tables have, and why (a group's `when`);
        worked out once per IOMMU, as numbering asks for every group."""
        if iommu.name in self._soc_groups:
            return self._soc_groups[iommu.name]
        out: list[tuple[SocGroup, tuple[Reason, ...]]] = []
        for g in iommu.soc_groups:
            if g.condition is None:
                out.append((g, ()))
                continue
            ok, why, _pos = self.res.platform.holds(g.condition)
            if ok:
                out.append((g, tuple(why)))
        self._soc_groups[iommu.name] = out
        return out

    def same_sid(self, iommu: Iommu, devs: list[Device]) -> None:
        """apple-dart merges masters whose SIDs map to one group (apple_dart_device_group);
        arm-smmu-v3 does not support shared StreamIDs outside PCI aliases; riscv-iommu lets
        both probe onto one device context (riscv_iommu_probe_device)."""
        seen: dict[int, str] = {}
        for dev in sorted(devs, key=lambda d: d.probe_order):
            for sid, _ in stream_ids(dev, iommu):
                if sid in seen and seen[sid] != dev.name:
                    if iommu.kind == "apple-dart":
                        self.link(
                            seen[sid],
                            dev.name,
                            Reason(
                                f"'{dev.name}' and '{seen[sid]}' share stream {sid:#x}",
                                _link_span(dev, iommu),
                                "drivers/iommu/apple-dart.c: apple_dart_device_group",
                            ),
                        )
                    else:
                        # riscv-iommu: both probe, in groups of their own, on ONE device
                        # context, which whichever domain attaches last programs for both.
                        # arm-smmu-v3 refuses the second.
                        riscv = iommu.kind == "riscv-iommu"
                        self.res.diagnostics.append(
                            warning(
                                "W205",
                                f"'{dev.name}' and '{seen[sid]}' share "
                                f"{'device ID' if riscv else 'StreamID'} {sid:#x} "
                                f"on {iommu.kind} '{iommu.name}'",
                                _link_span(dev, iommu) or dev.span,
                                help="riscv_iommu_probe_device takes the device context the "
                                "first master has (riscv_iommu_get_dc): the two groups share it, "
                                "and the domain attached last translates both"
                                if riscv
                                else "arm-smmu-v3 supports shared StreamIDs only for PCI "
                                "aliases (arm_smmu_device_group); the second master fails to probe",
                            )
                        )
                        if riscv:
                            continue
                        self.failed.setdefault(
                            dev.name,
                            Reason(
                                f"StreamID {sid:#x} already used by '{seen[sid]}'",
                                _link_span(dev, iommu),
                                "drivers/iommu/arm/arm-smmu-v3/arm-smmu-v3.c: "
                                "arm_smmu_insert_master",
                            ),
                        )
                else:
                    seen.setdefault(sid, dev.name)

    # -- POWER PEs and PAMU controllers: one group per shared key --------------------------
    def by_key(
        self,
        devs: list[Device],
        key: Callable[[Device], int | None],
        why: Callable[[Device, str, int], Reason],
    ) -> None:
        """Link each device to the first (in probe order) with the same key."""
        first: dict[int, str] = {}
        for dev in sorted(devs, key=lambda d: d.probe_order):
            k = key(dev)
            if k is not None:
                holder = first.setdefault(k, dev.name)
                self.link(holder, dev.name, why(dev, holder, k))

    def pe(self, iommu: Iommu, devs: list[Device]) -> None:
        """The PE's table_group owns the group (iommu_register_group, "domainN-peX"): the
        functions of one PE share it whatever ACS says (pnv_pci_device_group,
        pSeries_pci_device_group through spapr_tce_iommu_device_group)."""
        self.by_key(
            devs,
            lambda d: next((sid for sid, _ in stream_ids(d, iommu)), None),
            lambda d, holder, pe: Reason(
                f"'{d.name}' is in PE#{pe:x} of '{iommu.name}', with '{holder}'",
                _link_span(d, iommu),
                "arch/powerpc/platforms/powernv/pci-ioda.c: pnv_pci_device_group "
                "(the PE's table_group.group)",
            ),
        )

    def pamu_controllers(self, iommu: Iommu, devs: list[Device]) -> None:
        """A PCIe controller older than rev 2.4 cannot tell its endpoints apart (one LIODN
        for all): every function behind it shares the controller's group
        (fsl_pamu_domain.c: get_pci_device_group, check_pci_ctl_endpt_part)."""
        self.by_key(
            devs,
            lambda d: d.pci.domain if d.pci is not None else None,
            lambda d, _holder, domain: Reason(
                f"the functions of PCI domain {domain:04x} share their controller's LIODN on "
                f"'{iommu.name}'",
                iommu.span,
                "drivers/iommu/fsl_pamu_domain.c: get_pci_device_group "
                "(check_pci_ctl_endpt_part: controller rev < 2.4)",
            ),
        )

    # -- PCI: pci_device_group ------------------------------------------------------------
    def pci(self, devs: list[Device]) -> None:
        """drivers/iommu/iommu.c: pci_device_group (aliases, ACS, multifunction)."""
        src = "drivers/iommu/iommu.c: pci_device_group"
        bridges = self.model.bridges
        by_addr = {d.pci: d.name for d in devs if d.pci is not None}
        for dev in devs:
            assert dev.pci is not None
            # DMA aliases: quirks, and PCIe-to-PCI bridges aliasing everything behind them.
            for alias in dev.aliases:
                other = by_addr.get(alias)
                if other:
                    self.link(
                        dev.name, other, Reason(f"'{dev.name}' DMA-aliases {alias}", dev.span, src)
                    )
            # Walk up: stop at the first bridge whose path to the root has ACS.
            cur = dev.upstream
            prev = dev.name
            while cur is not None and cur in bridges:
                b = bridges[cur]
                if b.kind == "pci-bridge":
                    self.link(
                        prev,
                        "bridge:" + b.name,
                        Reason(
                            f"PCIe-to-PCI bridge '{b.name}' aliases every device behind it",
                            b.span,
                            "drivers/pci/search.c: pci_for_each_dma_alias",
                        ),
                    )
                elif _acs_path(b.name, bridges):
                    break
                else:
                    self.link(
                        prev,
                        "bridge:" + b.name,
                        Reason(
                            f"'{b.name}' ({b.kind}) has no ACS isolation up to the root",
                            b.span,
                            src,
                        ),
                    )
                prev = "bridge:" + b.name
                cur = b.upstream
        # Multifunction slots without ACS are one group, bridge functions included (a
        # chipset's xHCI, SATA and switch upstream port often share one slot).
        slots: dict[tuple[int, int, int], list[tuple[str, Any]]] = {}
        for dev in devs:
            assert dev.pci is not None
            if not dev.acs:
                slots.setdefault(dev.pci.slot, []).append((dev.name, dev))
        for b in bridges.values():
            if b.pci is not None and not b.acs and b.pci.slot in slots:
                slots[b.pci.slot].append(("bridge:" + b.name, b))
        for slot_fns in slots.values():
            first = slot_fns[0][0]
            for node, fn in slot_fns[1:]:
                self.link(
                    first,
                    node,
                    Reason(
                        f"functions of multifunction slot {str(fn.pci)[:-2]} without ACS",
                        fn.span,
                        "drivers/iommu/iommu.c: get_pci_function_alias_group",
                    ),
                )

    # -- numbering ---------------------------------------------------------------------
    def number(self, translated: list[Device]) -> None:
        order = {d.name: d.probe_order for d in translated}
        comps = []
        for comp in nx.connected_components(self.graph):
            members = sorted((n for n in comp if n in order), key=lambda n: (order[n], n))
            if members:
                comps.append((members, sorted(n[7:] for n in comp if n.startswith("bridge:"))))
        comps.sort(key=lambda c: (order[c[0][0]], c[0][0]))
        # Each edge's reason goes to the component of its ends (one pass over the edges).
        comp_of = {}
        for cid, (members, bridges) in enumerate(comps):
            for n in members:
                comp_of[n] = cid
            for b in bridges:
                comp_of["bridge:" + b] = cid
        reasons: dict[int, list[Reason]] = {}
        for u, _v, data in self.graph.edges(data=True):
            if u in comp_of:
                reasons.setdefault(comp_of[u], []).append(data["reason"])
        for gid, (members, bridges) in enumerate(comps):
            first = members[0]
            iommu = self.res.devices[first].iommu or ""
            # One reason per distinct fact, even where it links several pairs.
            unique = {(r.text, r.span): r for r in reasons.get(gid, [])}
            edges = sorted(unique.values(), key=lambda r: (r.text, r.span or NO_SPAN))
            if len(members) == 1 and not edges:
                where = "its group"
                mtk = self.model.iommus[iommu]
                if (
                    mtk.kind == "mtk-iommu"
                    and mtk_table(self.model, mtk).regions
                    and self.res.platform.kernel >= (6, 4)
                ):
                    region = mtk_region(self.res, self.model.devices[first], mtk)
                    where = f"the group of IOVA region {region}"
                why = Reason(
                    f"'{first}' is alone in {where}",
                    None,
                    _alone_source(
                        self.model.iommus[iommu].kind, self.model.devices[first].pci is not None
                    ),
                )
            else:
                why = Reason(f"{len(members)} devices share group {gid}", None, None, tuple(edges))
            group = Group(gid, iommu, members, why, bridges=bridges)
            soc_names = {
                g.name
                for g, _ in self.soc_groups(self.model.iommus[iommu])
                for m in members
                for link in self.model.devices[m].iommus
                for s in link.streams
                if str(s.value) in {str(x) for x in g.members}
            }
            group.name = sorted(soc_names)[0] if soc_names else None
            for m in members:
                if m in self.failed:
                    group.failed = True
            self.res.groups.append(group)
            for m in members:
                self.res.devices[m].group = gid


def _acs_path(name: str, bridges: dict[str, Bridge]) -> bool:
    """pci_acs_path_enabled(bridge -> root, REQ_ACS_FLAGS)."""
    cur: str | None = name
    seen = set()
    while cur is not None and cur in bridges and cur not in seen:
        seen.add(cur)
        b = bridges[cur]
        if not b.acs:
            return False
        cur = b.upstream
    return True


def _alone_source(kind: str, pci: bool) -> str:
    if kind in PER_INSTANCE:
        return PER_INSTANCE[kind]
    if kind == "spapr-tce":
        return "arch/powerpc/kernel/iommu.c: iommu_register_group (one group per PE)"
    if kind == "fsl-pamu" and pci:
        return "drivers/iommu/fsl_pamu_domain.c: get_pci_device_group"
    if pci and kind in PCI_GROUPING:
        return "drivers/iommu/iommu.c: pci_device_group"
    return "drivers/iommu/iommu.c: generic_device_group"


def _link_span(dev: Device, iommu: Iommu):  # type: ignore[no-untyped-def]
    """Where the device's streams on this IOMMU are written: its `iommu` line, or for a PCI
    function the `map` entry that gives it its stream ID."""
    for link in dev.iommus:
        if link.iommu == iommu.name:
            return link.span
    found = _map_entry(dev.pci, iommu) if dev.pci is not None else None
    return found[0].span if found is not None else dev.span


def build_groups(res: Resolution) -> None:
    grouper = _Grouper(res)
    grouper.run()
    for name, reason in grouper.failed.items():
        dev = res.devices[name]
        dev.set(
            "iommu",
            "none",
            Reason(f"'{name}' failed to probe into its IOMMU", None, None, (reason,)),
        )
