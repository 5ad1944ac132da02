"""Validation: the loaded files into a model, every problem the kernel would refuse reported.

``build_model`` walks the loaded files in include order, resolves every name
and checks what the kernel would refuse (a stream ID that does not fit
``#iommu-cells``, a context index past the IOMMU's count, ...).  It reports all
independent problems at once; the model is built even when there are errors,
so that tools can still show what is there.  What a kind's driver refuses is
asked of the kind (``kinds/``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import NamedTuple

from . import ast
from .diagnostics import Diagnostic, Label, Span, article, did_you_mean, error, warning
from .grammar import domain_types
from .kinds import KINDS, Kind
from .kinds import kind as driver_of
from .lalr import no_gc
from .loader import Loaded
from .model import (
    ATTRIBUTES,
    DEFAULT_ARCH,
    DMA_OPS,
    Acs,
    Bridge,
    Device,
    Domain,
    Expectation,
    Fact,
    Iommu,
    IommuLink,
    IommuMapEntry,
    IovaRegion,
    Model,
    PciAddress,
    Platform,
    Rule,
    SocGroup,
    Stream,
    builders,
    parse_pci,
    reachable_iommus,
)
from .pci.acs import STD_ENABLE, WORDS, AcsFlag

# Two DMA-ops names made of the same words, easy to swap.
DMA_OPS_MEANING = {
    "iommu-dma": "the IOMMU DMA layer, drivers/iommu/dma-iommu.c",
    "dma_iommu": "POWER's TCE ops, arch/powerpc/kernel/dma-iommu.c",
}


def _dma_ops_hint(word: str) -> str:
    """did-you-mean, naming both iommu-dma and dma_iommu for a word of theirs."""
    words = sorted(re.split(r"[-_]", word.lower()))
    same = [o for o in DMA_OPS_MEANING if sorted(re.split(r"[-_]", o)) == words]
    if len(same) > 1:
        return "did you mean " + " or ".join(f"'{o}' ({DMA_OPS_MEANING[o]})" for o in same) + "?"
    return did_you_mean(word, DMA_OPS)


def _conditions(
    items: Iterable[tuple[str, ast.Item]],
) -> Iterator[tuple[str, ast.Item, tuple[ast.Condition, ...]]]:
    """Flatten `when` blocks, giving each item its enclosing conditions."""
    stack: list[tuple[str, Iterator[ast.Item], tuple[ast.Condition, ...]]] = []
    for name, item in items:
        if not isinstance(item, ast.When):  # most items: no block to walk
            yield name, item, ()
            continue
        stack.append((name, iter([item]), ()))
        while stack:
            fname, it, conds = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                stack.pop()
                continue
            if isinstance(nxt, ast.When):
                stack.append((fname, iter(nxt.items), (*conds, nxt.condition)))
                continue
            yield fname, nxt, conds


_new = tuple.__new__


class _Validated(NamedTuple):
    """One device's validation: what it read and what it gave."""

    node: ast.Device
    fname: str
    order: int
    partial: bool  # the load had a syntax error (unknown names are then not reported)
    links: tuple[str, ...]  # the IOMMU each `iommu` link names
    read: tuple[Iommu | None, ...]  # and what it found by that name
    names: tuple[str, ...] | None  # every IOMMU's name, where a link named none (E104 help)
    device: Device
    diags: tuple[Diagnostic, ...]


@dataclass
class Known:
    """What validating a board's files gave, for the next models of nearly the same files
    (a what-if's: the files with changes on top; an editor's: its buffer after a
    keystroke), whose unchanged statements are the same syntax nodes: an IOMMU equal to one
    validated before is taken as that one, and a device whose node, file, probe order and
    IOMMUs are those it had is the device it gave, with the same diagnostics. A 10k-device
    board's what-if then validates the devices its change reaches, not 10,000.

    The build given an unsealed Known fills it (taking what it can from ``before``, which
    is then let go) and seals it; a build given a sealed one reads it and leaves it."""

    iommus: dict[str, Iommu] = field(default_factory=dict)
    devices: dict[int, _Validated] = field(default_factory=dict)  # by id() of the node
    sealed: bool = False
    before: Known | None = None  # an earlier text's, sealed: an editor's last analysis

    @property
    def source(self) -> Known | None:
        """Where a build finds what was validated before: this Known once sealed, else
        the one before it."""
        return self if self.sealed else self.before


class Builder:
    def __init__(self, loaded: Loaded, known: Known | None = None):
        self.loaded = loaded
        self.known = known
        self.diags: list[Diagnostic] = []
        self.defined: dict[str, tuple[str, Span]] = {}  # name -> (what, span)

    def err(self, code: str, message: str, span: Span, **kw: object) -> None:
        self.diags.append(error(code, message, span, **kw))

    def warn(self, code: str, message: str, span: Span, **kw: object) -> None:
        self.diags.append(warning(code, message, span, **kw))

    def define(self, what: str, name: ast.Ident) -> bool:
        prev = self.defined.get(name.text)
        if prev is not None:
            pwhat, pspan = prev
            self.err(
                "E101",
                f"duplicate name '{name.text}'"
                + (f" ({what} and {pwhat})" if pwhat != what else f": {what} defined twice"),
                name.span,
                label="defined again here",
                secondary=(Label(pspan, f"first defined here as {article(pwhat)}"),),
                help="devices, IOMMUs, bridges and domains share one namespace; rename one",
            )
            return False
        self.defined[name.text] = (what, name.span)
        return True

    def number(self, n: ast.Num, lo: int, hi: int, what: str) -> int | None:
        if not lo <= n.value <= hi:
            self.err(
                "E114",
                f"{what} {n.text} is out of range",
                n.span,
                label=f"expected {lo}..{hi}",
            )
            return None
        return n.value

    def build(self) -> Model:
        items = list(_conditions(self.loaded.ordered_items()))
        platform_nodes: list[tuple[str, ast.Platform]] = []
        iommu_nodes: list[tuple[str, ast.Iommu]] = []
        device_nodes: list[tuple[str, ast.Device]] = []
        bridge_nodes: list[tuple[str, ast.Bridge]] = []
        order: dict[int, int] = {}  # probe order of devices and bridges: as written
        domain_nodes: list[tuple[str, ast.Domain, tuple[ast.Condition, ...]]] = []
        rule_nodes: list[tuple[str, ast.Rule, tuple[ast.Condition, ...]]] = []
        expect_nodes: list[tuple[str, ast.Expect, tuple[ast.Condition, ...]]] = []
        host_maps: list[ast.HostMap] = []
        for fname, item, conds in items:
            if conds and not isinstance(item, ast.Rule | ast.Expect | ast.Domain):
                self.err(
                    "E115",
                    f"{_what(item)} cannot be inside a 'when' block",
                    item.span,
                    label="only rules, expectations and driver domains can depend on a condition",
                    help="hardware facts hold on every kernel; move it out of the block",
                )
                continue
            if isinstance(item, ast.Platform):
                platform_nodes.append((fname, item))
            elif isinstance(item, ast.Iommu):
                iommu_nodes.append((fname, item))
            elif isinstance(item, ast.HostMap):
                host_maps.append(item)
            elif isinstance(item, ast.Device):
                order[id(item)] = len(order)
                device_nodes.append((fname, item))
            elif isinstance(item, ast.Bridge):
                order[id(item)] = len(order)
                bridge_nodes.append((fname, item))
            elif isinstance(item, ast.Domain):
                domain_nodes.append((fname, item, conds))
            elif isinstance(item, ast.Rule):
                rule_nodes.append((fname, item, conds))
            elif isinstance(item, ast.Expect):
                expect_nodes.append((fname, item, conds))

        platform = self.platform(platform_nodes)
        iommus = {}
        for fname, node in iommu_nodes:
            if self.define("iommu", node.name):
                iommus[node.name.text] = self.iommu(node, fname)
        for hmap in host_maps:
            self.host_map(hmap, iommus)
        bridges = {}
        for fname, bnode in bridge_nodes:
            if self.define("bridge", bnode.name):
                bridges[bnode.name.text] = self.bridge(bnode, fname, order[id(bnode)])
        known = self.known
        if known is not None:
            source = known.source
            if source is not None:  # the IOMMUs equal to those validated before are those
                iommus = {
                    n: i if source.iommus.get(n) != i else source.iommus[n]
                    for n, i in iommus.items()
                }
            if not known.sealed:
                known.iommus = dict(iommus)
        devices = {}
        for fname, dnode in device_nodes:
            if self.define("device", dnode.name):
                devices[dnode.name.text] = self.validated(dnode, fname, order[id(dnode)], iommus)
        # A bridge with an address is a PCI function too: the IOMMU probes it, it joins a
        # group (drivers/iommu/iommu.c: pci_device_group), pcieport binds it.
        functions = {b.name: b.function() for b in bridges.values() if b.pci is not None}
        devices = dict(sorted({**devices, **functions}.items(), key=lambda kv: kv[1].probe_order))
        domains = {}
        for fname, mnode, conds in domain_nodes:
            if self.define("domain", mnode.name):
                domains[mnode.name.text] = self.domain(mnode, fname, iommus, devices, conds)
        self.check_bridges(bridges, devices)
        self.check_pci(devices, bridges)
        self.check_maps(list(iommus.values()))
        self.check_arch(platform, iommus)
        self.check_clients(iommus, devices)
        tags = frozenset(t for d in devices.values() for t in d.tags)
        rules = []
        rule_names: dict[str, Span] = {}
        for fname, rnode, conds in rule_nodes:
            rule = self.rule(rnode, fname, conds, iommus, devices, tags, domains)
            if rule.explicit_name and rnode.name is not None:
                prev = rule_names.get(rule.name)
                if prev is not None:
                    self.err(
                        "E101",
                        f"duplicate rule name '{rule.name}'",
                        rnode.name.span,
                        label="named again here",
                        secondary=(Label(prev, "first named here"),),
                        help="rule names are how what-if drops a rule; make them unique",
                    )
                else:
                    rule_names[rule.name] = rnode.name.span
            rules.append(rule)
        expectations = [
            self.expect(enode, fname, conds, iommus, devices, domains, rules)
            for fname, enode, conds in expect_nodes
        ]
        return Model(
            platform=platform,
            iommus=iommus,
            devices=devices,
            bridges=bridges,
            domains=domains,
            rules=tuple(rules),
            expectations=tuple(e for e in expectations if e is not None),
            files=tuple(self.loaded.files),
            diagnostics=tuple(self.diags),
        )

    # -- platform ------------------------------------------------------------
    def platform(self, nodes: list[tuple[str, ast.Platform]]) -> Platform:
        arch = kernel = cmdline = None
        ram: list[tuple[int, int, Span]] = []
        config: list[tuple[str, str, Span]] = []
        single: dict[str, Span] = {}

        def once(key: str, span: Span) -> bool:
            if key in single:
                self.err(
                    "E102",
                    f"platform '{key}' given twice",
                    span,
                    label="given again here",
                    secondary=(Label(single[key], "first given here"),),
                    help=f"a board has one {key}; keep one of them",
                )
                return False
            single[key] = span
            return True

        for _fname, node in nodes:
            for prop in node.props:
                if isinstance(prop, ast.Arch):
                    if once("arch", prop.span):
                        arch = Fact(prop.value.text, prop.span)
                elif isinstance(prop, ast.Kernel):
                    v = prop.version
                    if once("kernel", prop.span):
                        if len(v.parts) < 2:
                            self.err(
                                "E113",
                                f"kernel version '{v.text}' needs a minor number",
                                v.span,
                                help=f"write for example '{v.text}.0'",
                            )
                        elif not 2 <= v.parts[0] <= 9:
                            self.err(
                                "E113",
                                f"kernel version '{v.text}' is not a Linux version",
                                v.span,
                                label="expected 2.6 .. 9.x",
                            )
                        kernel = Fact(v.parts, prop.span)
                elif isinstance(prop, ast.Ram):
                    size = prop.size.value if prop.size else 0
                    if size <= 0:
                        self.err("E114", "RAM size must be positive", prop.span)
                        continue
                    for base, osize, ospan in ram:
                        if prop.base.value < base + osize and base < prop.base.value + size:
                            self.err(
                                "E126",
                                "RAM ranges overlap",
                                prop.span,
                                secondary=(Label(ospan, "overlaps this range"),),
                            )
                    ram.append((prop.base.value, size, prop.span))
                elif isinstance(prop, ast.Cmdline):
                    if once("cmdline", prop.span):
                        cmdline = Fact(prop.text.value, prop.span)
                elif isinstance(prop, ast.Config):
                    value = prop.value.text if prop.value else "y"
                    earlier = next((c for c in config if c[0] == prop.symbol.text), None)
                    if earlier is None:
                        config.append((prop.symbol.text, value, prop.span))
                    elif earlier[1] != value:
                        # A .config holds one value per symbol; a second, different one
                        # would make the result depend on include order.
                        self.err(
                            "E102",
                            f"config {prop.symbol.text} set to '{earlier[1]}' and to '{value}'",
                            prop.span,
                            label=f"set to '{value}' here",
                            secondary=(Label(earlier[2], f"set to '{earlier[1]}' here"),),
                            help="a kernel is built with one value per symbol; keep one",
                        )
        return Platform(arch, kernel, tuple(ram), cmdline, tuple(config))

    # -- iommu ---------------------------------------------------------------
    def iommu(self, node: ast.Iommu, fname: str) -> Iommu:
        kind = node.kind.text
        info = driver_of(kind)
        contexts = None
        dtypes: frozenset[str] | None = None
        reserved: set[int] = set()
        secure: set[int] = set()
        cells = info.cells
        bits = None
        smrs: int | None = None
        match_mask = 0
        reg: int | None = None
        aperture: tuple[int, int] | None = None
        aperture_span: Span | None = None
        map_props: list[ast.IommuMap] = []
        map_mask = None
        groups: list[SocGroup] = []
        quirks: set[str] = set()
        regions: list[IovaRegion] = []
        disabled = False
        ranges: list[tuple[str, ast.ContextRange]] = []
        seen_group_members: dict[int | str, Span] = {}
        for prop in node.props:
            if isinstance(prop, ast.Contexts) and info.contexts.uncounted:
                self.err(
                    "E114",
                    f"{article(kind)} has no contexts to count: {info.contexts.uncounted}",
                    prop.span,
                    label="not a property of this kind",
                    help="remove 'contexts'",
                )
            elif isinstance(prop, ast.Contexts):
                hi = info.contexts.max or 1 << 16
                contexts = self.number(prop.count, 1, hi, f"{kind} context count")
            elif isinstance(prop, ast.Domains):
                dtypes = frozenset(t.text for t in prop.types)
            elif isinstance(prop, ast.Reserved | ast.Secure):
                target = reserved if isinstance(prop, ast.Reserved) else secure
                label = "reserved" if isinstance(prop, ast.Reserved) else "secure"
                for r in prop.contexts:
                    ranges.append((label, r))
                    target.update(_expand(r))
            elif isinstance(prop, ast.Cells):
                c = self.number(prop.count, 0, 4, "#iommu-cells")
                if c is not None:
                    cells = c
            elif isinstance(prop, ast.StreamBits):
                bits = self.number(prop.bits, 1, 32, "stream-bits")
            elif isinstance(prop, ast.Reg):
                reg = prop.address.value
            elif isinstance(prop, ast.Aperture):
                aperture = self.iova_range(prop, "aperture", 1 << 64)
                aperture_span = prop.span
            elif isinstance(prop, ast.Smrs | ast.StreamMatchMask):
                got = self.smr_prop(prop, kind)
                if isinstance(prop, ast.Smrs):
                    smrs = got
                else:
                    match_mask = got or 0
            elif isinstance(prop, ast.IommuMap):
                map_props.append(prop)
            elif isinstance(prop, ast.MapMask):
                map_mask = prop.mask.value
            elif isinstance(prop, ast.SocGroup):
                members = []
                for m in prop.members:
                    key = m.text if isinstance(m, ast.Ident) else m.value
                    # Groups of different kernel eras may list the same swgroup; which
                    # ones apply is decided per kernel at resolve time.
                    if key in seen_group_members and prop.condition is None:
                        self.err(
                            "E117",
                            f"'{_sid_text(key)}' is in two SoC groups",
                            m.span,
                            secondary=(Label(seen_group_members[key], "already listed here"),),
                            help="the kernel takes the first group that lists it "
                            "(tegra_smmu_find_group); list it once",
                        )
                    if prop.condition is None:
                        seen_group_members[key] = m.span
                    members.append(key)
                groups.append(SocGroup(prop.name.text, tuple(members), prop.condition, prop.span))
            elif isinstance(prop, ast.Region):
                regions += self.region(prop, kind, regions)
            elif isinstance(prop, ast.Quirk):
                quirks.add(prop.name.text)
            elif isinstance(prop, ast.Disabled):
                disabled = True
        for prop in node.props:
            if isinstance(prop, ast.Quirk) and kind in KINDS:
                owners = {k.name for k in KINDS.values() if prop.name.text in k.quirks}
                if owners and kind not in owners:
                    self.warn(
                        "W217",
                        f"quirk '{prop.name.text}' means nothing on {article(kind)}",
                        prop.span,
                        help=f"it is a quirk of {', '.join(sorted(owners))}; drop it or check "
                        "the IOMMU kind",
                    )
        info.check_iommu(self, node, disabled)
        if map_props and info.pci_claim:
            self.warn(
                "W214",
                f"'{node.name.text}' ({kind}) claims every PCI function itself: its `map` lines "
                "are ignored",
                map_props[0].span,
                help=f"it takes them from {info.pci_claim}; drop the `map` lines",
            )
        elif map_props and kind in KINDS and not info.pci:
            self.warn(
                "W214",
                f"'{node.name.text}' ({kind}) is not known to translate PCI functions: its `map` "
                "lines route them to it all the same",
                map_props[0].span,
                help="check the IOMMU kind: the PCI column of the kinds table says which "
                "drivers take PCI functions",
            )
        maps = []
        # drivers/of/base.c: of_map_id: no iommu-map-mask means all ones
        default_mask = map_mask if map_mask is not None else 0xFFFFFFFF
        for mp in map_props:
            dom = mp.pci_domain
            mask = mp.mask.value if mp.mask is not None else default_mask
            maps.append(
                IommuMapEntry(
                    None if dom is None else self.number(dom, 0, 0xFFFF, "PCI domain"),
                    mp.rid.value,
                    mp.sid.value,
                    mp.length.value,
                    mask,
                    mp.span,
                    self.smr_mask(mp, kind, cells, bits),
                )
            )
        first = info.contexts.first
        for label, r in ranges:
            for idx in (r.first, r.last):
                if idx is not None and contexts is not None:
                    numbers = range(first, first + contexts)
                    self.check_context(f"{label} context", idx, node.name.text, numbers)
            if r.last is not None and r.last.value < r.first.value:
                self.err("E112", "context range runs backwards", r.span)
        return Iommu(
            name=node.name.text,
            kind=kind,
            contexts=contexts,
            domains=dtypes,
            reserved=frozenset(reserved),
            secure=frozenset(secure),
            cells=cells,
            stream_bits=bits,
            maps=tuple(maps),
            map_mask=map_mask,
            soc_groups=tuple(groups),
            regions=tuple(regions),
            quirks=frozenset(quirks),
            disabled=disabled,
            span=node.span,
            file=fname,
            smrs=smrs,
            match_mask=match_mask,
            reg=reg,
            aperture=aperture,
            aperture_span=aperture_span,
        )

    def smr_prop(self, prop: ast.Smrs | ast.StreamMatchMask, kind: str) -> int | None:
        """`smrs N` (1..255: IDR0.NUMSMRG is 8 bits) and `stream-match-mask M` (an SMR mask,
        15 bits: ARM_SMMU_SMR_MASK) belong to the Arm SMMU kinds, whose stream matching
        arm_smmu_find_sme does."""
        word = "smrs" if isinstance(prop, ast.Smrs) else "stream-match-mask"
        if kind in KINDS and not driver_of(kind).stream_matching:
            self.err(
                "E114",
                f"'{word}' is a property of an Arm SMMU (arm-smmu, qcom-smmu, adreno-smmu), "
                f"not of {article(kind)}",
                prop.span,
                label="not a property of this kind",
                help=f"remove '{word}'",
            )
            return None
        if isinstance(prop, ast.Smrs):
            return self.number(prop.count, 1, 255, "stream match register count")
        return self.number(prop.mask, 0, 0x7FFF, "stream-match-mask")

    def host_map(self, node: ast.HostMap, iommus: dict[str, Iommu]) -> None:
        """`map IOMMU ...`: one more iommu-map entry on an IOMMU declared anywhere (a fact
        pack's), as the PCI host's node says it; the same checks as an `iommu` block's."""
        iommu = iommus.get(node.iommu.text)
        if iommu is None:
            self.unknown("E104", "iommu", node.iommu, iommus)
            return
        info = driver_of(iommu.kind)
        if info.pci_claim or (iommu.kind in KINDS and not info.pci):
            why = (
                f"it takes them from {info.pci_claim}"
                if info.pci_claim
                else "it is not known to translate PCI functions"
            )
            self.warn(
                "W214",
                f"a `map` onto '{iommu.name}' ({iommu.kind}): {why}",
                node.span,
                help="check the IOMMU: the PCI column of the kinds table says which drivers "
                "take PCI functions",
            )
            if info.pci_claim:
                return
        mp = node.entry
        default_mask = iommu.map_mask if iommu.map_mask is not None else 0xFFFFFFFF
        entry = IommuMapEntry(
            None if mp.pci_domain is None else self.number(mp.pci_domain, 0, 0xFFFF, "PCI domain"),
            mp.rid.value,
            mp.sid.value,
            mp.length.value,
            mp.mask.value if mp.mask is not None else default_mask,
            mp.span,
            self.smr_mask(mp, iommu.kind, iommu.cells, iommu.stream_bits),
        )
        iommus[iommu.name] = iommu.replace(maps=(*iommu.maps, entry))

    def region(self, prop: ast.Region, kind: str, seen: list[IovaRegion]) -> list[IovaRegion]:
        """The rows one `region` line adds; larbs and ports are 0..31 (MTK_LARB_NR_MAX, a
        32-bit port mask), and a region gives each larb one mask."""
        if driver_of(kind).iova_regions is None:
            owners = [k for k in KINDS.values() if k.iova_regions is not None]
            self.err(
                "E129",
                f"'region' is an {', '.join(k.name for k in owners)} property, not one of {kind}",
                prop.span,
                help="IOVA regions chosen by larb and port are the MediaTek M4U's "
                f"({'; '.join(str(k.iova_regions) for k in owners)})",
            )
            return []
        number = self.number(prop.number, 0, 31, "IOVA region")
        ports = 0
        for p in prop.ports:
            if self.number(p, 0, 31, "larb port") is not None:
                ports |= 1 << p.value
        if prop.except_ports:
            ports ^= 0xFFFFFFFF
        elif not prop.ports:
            ports = 0xFFFFFFFF
        out: list[IovaRegion] = []
        for larb in prop.larbs:
            if self.number(larb, 0, 31, "larb") is None or number is None:
                continue
            twice = next(
                (r for r in seen + out if r.number == number and r.larb == larb.value), None
            )
            if twice is not None:
                self.err(
                    "E129",
                    f"region {number} lists larb {larb.value} twice",
                    larb.span,
                    secondary=(Label(twice.span, "first given here"),),
                    help="a region has one port mask per larb; put its ports on one line",
                )
                continue
            out.append(IovaRegion(number, larb.value, ports, prop.span))
        return out

    # -- bridges and devices -------------------------------------------------------
    def pci(self, addr: ast.Ident) -> PciAddress | None:
        pci = parse_pci(addr.text)
        if pci is None:
            self.err("E110", f"bad PCI address '{addr.text}'", addr.span)
            return None
        if pci.device > 0x1F:
            self.err(
                "E110",
                f"bad PCI address '{addr.text}': device {pci.device:#04x} is past 0x1f",
                addr.span,
                label="a PCI bus has 32 devices (00..1f)",
                help="the form is dddd:bb:dd.f with device 00..1f and function 0..7",
            )
            return None
        return pci

    def bridge(self, node: ast.Bridge, fname: str, order: int) -> Bridge:
        pci = upstream = acs = multifunction = bound = None
        pci_span = node.span
        aliases: list[PciAddress] = []
        for prop in node.props:
            if isinstance(prop, ast.Pci):
                pci = self.pci(prop.address)
                pci_span = prop.address.span
            elif isinstance(prop, ast.Upstream):
                upstream = prop.bridge.text
            elif isinstance(prop, ast.Acs | ast.AcsRegs):
                acs = self.acs(prop)
            elif isinstance(prop, ast.Multifunction):
                multifunction = prop.enabled
            elif isinstance(prop, ast.Alias):
                a = self.pci(prop.address)
                if a is not None:
                    aliases.append(a)
            elif isinstance(prop, ast.Bound):
                bound = prop.driver.value if isinstance(prop.driver, ast.Str) else prop.driver.text
        return Bridge(
            node.name.text,
            node.kind.text,
            pci,
            pci_span,
            upstream,
            acs,
            node.span,
            fname,
            compatibles=tuple(c.value for c in node.compatibles),
            multifunction=multifunction,
            aliases=tuple(aliases),
            bound=bound,
            probe_order=order,
        )

    def acs(self, prop: ast.Acs | ast.AcsRegs) -> Acs:
        """`acs yes`: the capability with what the kernel asks for (SV RR CR UF), which it
        then enables; `acs no`: no capability; `acs cap .. ctl ..`: the registers."""
        if isinstance(prop, ast.Acs):
            if prop.enabled:
                return Acs(STD_ENABLE, AcsFlag(0), "yes", prop.span)
            return Acs(None, AcsFlag(0), "no", prop.span)

        def flags(words: tuple[ast.Ident, ...]) -> AcsFlag:
            out = AcsFlag(0)
            for w in words:
                out |= WORDS.get(w.text, AcsFlag(0))
            return out

        ctl = flags(prop.ctl) if prop.ctl is not None else AcsFlag(0)
        return Acs(flags(prop.cap), ctl, "registers", prop.span)

    def validated(
        self, node: ast.Device, fname: str, order: int, iommus: dict[str, Iommu]
    ) -> Device:
        """device(), or what it gave the same node before (``Known``)."""
        known = self.known
        if known is None:
            return self.device(node, fname, order, iommus)
        partial = self.loaded.partial
        source = known.source
        if source is not None:
            hit = source.devices.get(id(node))
            if (
                hit is not None
                and hit.node is node
                and hit.fname == fname
                and hit.order == order
                and hit.partial == partial
                and tuple(map(iommus.get, hit.links)) == hit.read
                and (hit.names is None or hit.names == tuple(iommus))
            ):
                self.diags.extend(hit.diags)
                if not known.sealed:
                    known.devices[id(node)] = hit
                return hit.device
        if known.sealed:
            return self.device(node, fname, order, iommus)
        mark = len(self.diags)
        dev = self.device(node, fname, order, iommus)
        # made as plain tuples (10,000 at 10k devices; a named tuple's __new__ is Python)
        links = tuple([link.iommu for link in dev.iommus])  # one per `iommu` clause
        read = tuple(map(iommus.get, links))
        names = tuple(iommus) if None in read else None
        diags = tuple(self.diags[mark:]) if len(self.diags) > mark else ()
        known.devices[id(node)] = _new(
            _Validated, (node, fname, order, partial, links, read, names, dev, diags)
        )
        return dev

    def device(self, node: ast.Device, fname: str, order: int, iommus: dict[str, Iommu]) -> Device:
        tags: set[str] = set()
        links: list[IommuLink] = []
        pci = upstream = dma_mask = coherent = acs = pcie = multifunction = bound = None
        pci_span = node.span
        dma_range: tuple[int, int, int] | None = None
        dma_range_span: Span | None = None
        untrusted = disabled = False
        driver: set[str] = set()
        caps: set[str] = set()
        aliases: list[PciAddress] = []
        probe = order
        for prop in node.props:
            if isinstance(prop, ast.Tags):
                tags.update(t.text for t in prop.names)
            elif isinstance(prop, ast.AttachIommu):
                links.append(self.link(node, prop, iommus))
            elif isinstance(prop, ast.Pci):
                pci = self.pci(prop.address)
                pci_span = prop.address.span
            elif isinstance(prop, ast.Upstream):
                upstream = prop.bridge.text
            elif isinstance(prop, ast.DmaMask):
                dma_mask = self.number(prop.bits, 12, 64, "DMA mask width")
            elif isinstance(prop, ast.DmaRange):
                dma_range = self.dma_range(prop)
                dma_range_span = prop.span
            elif isinstance(prop, ast.Coherent):
                coherent = prop.coherent
            elif isinstance(prop, ast.Untrusted):
                untrusted = True
            elif isinstance(prop, ast.Driver):
                driver.update(f.text for f in prop.flags)
            elif isinstance(prop, ast.Caps):
                caps.update(c.text for c in prop.caps)
            elif isinstance(prop, ast.Alias):
                a = self.pci(prop.address)
                if a is not None:
                    aliases.append(a)
            elif isinstance(prop, ast.Acs | ast.AcsRegs):
                acs = self.acs(prop)
            elif isinstance(prop, ast.PcieType):
                pcie = prop.kind.text
            elif isinstance(prop, ast.Multifunction):
                multifunction = prop.enabled
            elif isinstance(prop, ast.Bound):
                bound = prop.driver.value if isinstance(prop.driver, ast.Str) else prop.driver.text
            elif isinstance(prop, ast.ProbeOrder):
                probe = prop.order.value
            elif isinstance(prop, ast.Disabled):
                disabled = True
        if untrusted and pci is None:
            self.err(
                "E118",
                f"'{node.name.text}' is untrusted but not a PCI device",
                node.name.span,
                help="the kernel marks PCI devices below an external-facing port as untrusted "
                "(drivers/pci/probe.c: set_pcie_untrusted); give it a 'pci' address",
            )
        # by position, in Device's field order: 23 keywords cost 1.1 us a device to bind
        return Device(
            node.name.text,  # name
            tuple([c.value for c in node.compatibles]),  # compatibles
            frozenset(tags),  # tags
            tuple(links),  # iommus
            pci,
            pci_span,
            upstream,
            dma_mask,
            coherent,
            untrusted,
            frozenset(driver),  # driver
            frozenset(caps),  # caps
            tuple(aliases),  # aliases
            acs,
            probe,  # probe_order
            disabled,
            node.span,  # span
            fname,  # file
            pcie,
            multifunction,
            bound,
            None,  # bridge
            dma_range,
            dma_range_span,
        )

    def iova_range(
        self, prop: ast.Aperture | ast.Window, word: str, top: int
    ) -> tuple[int, int] | None:
        """An IOVA range, `WORD BASE size SIZE`: a size above zero, all of it below ``top``
        (2^64 for an IOMMU's aperture; 4 GiB for an arm32 mapping, whose dma_addr_t is 32 bits
        and which arm_iommu_create_mapping refuses larger than that, -ERANGE)."""
        size = self.number(prop.size, 1, top, f"{word} size")
        if size is None:
            return None
        if prop.base.value + size > top:
            self.err(
                "E114",
                f"{word} {prop.base.value:#x} + {size:#x} runs past {top:#x}",
                prop.span,
                help="an arm32 mapping's IOVAs are 32-bit dma_addr_t: the window must end "
                "at or below 4 GiB (arm_iommu_create_mapping refuses a size above it, -ERANGE)"
                if top == 1 << 32
                else "check the size",
            )
            return None
        return prop.base.value, size

    def window(self, kind: str, window: ast.Window | None) -> tuple[int, int] | None:
        """An arm-mapping's `window`; other kinds of domain have none (E120)."""
        if window is None:
            return None
        if kind != "arm-mapping":
            self.err(
                "E120",
                f"only an arm-mapping has an IOVA window, not {article(kind)} domain",
                window.span,
                help="a driver's own paging domain allocates IOVAs itself; drop the window",
            )
            return None
        return self.iova_range(window, "window", 1 << 32)

    def dma_range(self, prop: ast.DmaRange) -> tuple[int, int, int] | None:
        """A dma-ranges window: a size above zero, all of it below 2^64."""
        size = self.number(prop.size, 1, 1 << 64, "dma-range size")
        bus = prop.bus.value if prop.bus is not None else prop.cpu.value
        for what, base in (("CPU", prop.cpu.value), ("bus", bus)):
            if size is not None and base + size > 1 << 64:
                self.err(
                    "E114",
                    f"dma-range {what} window {base:#x} + {size:#x} runs past 2^64",
                    prop.span,
                    help="dma-ranges = <bus-address cpu-address size>: check the size",
                )
                return None
        return None if size is None else (prop.cpu.value, size, bus)

    def check_maps(self, iommus: list[Iommu]) -> None:
        """iommu-map entries: each must survive its mask, and no requester ID may reach
        two IOMMUs (which one wins would depend on declaration order)."""
        for iommu in iommus:
            for e in iommu.maps:
                if e.rid & ~e.mask:
                    self.err(
                        "E128",
                        f"map mask {e.mask:#x} clears bits of rid base {e.rid:#x}",
                        e.span,
                        secondary=(Label(iommu.span, f"'{iommu.name}' declared here"),),
                        help="the kernel refuses the map: 'Invalid iommu-map translation - "
                        "iommu-map-mask ignores id-base' (drivers/of/base.c: of_map_id)",
                    )
        entries = [(i, e) for i in iommus for e in i.maps]
        for n, (a, ea) in enumerate(entries):
            for b, eb in entries[n + 1 :]:
                # an entry without pci-domain serves every domain
                same_host = None in (ea.pci_domain, eb.pci_domain) or ea.pci_domain == eb.pci_domain
                if a is b or not same_host:
                    continue
                if ea.rid < eb.rid + eb.length and eb.rid < ea.rid + ea.length:
                    self.err(
                        "E127",
                        f"requester IDs {max(ea.rid, eb.rid):#x}.. reach both '{a.name}' "
                        f"and '{b.name}'",
                        eb.span,
                        secondary=(Label(ea.span, f"also mapped by '{a.name}'"),),
                        help="each PCI host bridge has its own iommu-map: give the entries "
                        "'pci-domain N' (the host's linux,pci-domain) to tell them apart",
                    )

    def unknown(self, code: str, what: str, name: ast.Ident, pool: Iterable[str]) -> None:
        if self.loaded.partial:
            return  # its definition may be in a statement that did not parse
        self.err(
            code,
            f"unknown {what} '{name.text}'",
            name.span,
            label=f"no {what} named '{name.text}'",
            help=did_you_mean(name.text, pool),
        )

    def link(self, dev: ast.Device, prop: ast.AttachIommu, iommus: dict[str, Iommu]) -> IommuLink:
        iommu = iommus.get(prop.iommu.text)
        streams: list[Stream] = []
        if iommu is None:
            self.unknown("E104", "iommu", prop.iommu, iommus)
        for s in prop.streams:
            if isinstance(s, ast.StreamSid):
                streams.append(Stream("sid", s.sid.value, s.mask.value if s.mask else None, s.span))
            elif isinstance(s, ast.StreamSwgroup):
                val = s.swgroup.text if isinstance(s.swgroup, ast.Ident) else s.swgroup.value
                streams.append(Stream("swgroup", val, None, s.span))
            else:
                streams.append(Stream("context", s.index.value, None, s.span))
        if iommu is not None:
            self.check_streams(iommu, prop, streams)
        return IommuLink(prop.iommu.text, tuple(streams), prop.span)

    def smr_mask(self, mp: ast.IommuMap, kind: str, cells: int, bits: int | None) -> int:
        """A `map` entry's `smr-mask`: the second cell of a 2-cell specifier, which
        arm_smmu_of_xlate takes as the SMR mask; E109 where the IOMMU has one cell, is no
        arm-smmu, or the mask is wider than its stream IDs, or the entry maps a range."""
        if mp.smr_mask is None:
            return 0
        if not driver_of(kind).smr:
            self.err(
                "E109",
                f"'smr-mask' is an arm-smmu stream match mask; {article(kind)} IOMMU has none",
                mp.smr_mask.span,
                label=f"only {_names(k for k in KINDS.values() if k.smr)} take it",
                help="drop 'smr-mask'",
            )
            return 0
        limit = (1 << bits) if bits else 1 << 16
        if mp.smr_mask.value >= limit:
            self.err(
                "E109",
                f"SMR mask {mp.smr_mask.value:#x} out of range ({limit - 1:#x})",
                mp.smr_mask.span,
                label=f"wider than {bits or 16} bits",
                help="the SMR mask field has the stream ID's width",
            )
            return 0
        if mp.length.value > 1:
            self.err(
                "E109",
                f"a 2-cell specifier maps one ID, but this entry maps {mp.length.value}",
                mp.length.span,
                label="of_map_id: 'cannot handle %d-ID range' (-EINVAL)",
                help="give each requester ID its own entry with 'length 1'",
            )
            return 0
        if cells < 2:
            self.err(
                "E109",
                f"'smr-mask' is a specifier's second cell, but this {kind} has "
                f"#iommu-cells = {cells}",
                mp.smr_mask.span,
                label="the SMR mask needs a second cell",
                help="add 'cells 2' to the IOMMU, or drop 'smr-mask'",
            )
        return mp.smr_mask.value

    def check_streams(self, iommu: Iommu, prop: ast.AttachIommu, streams: list[Stream]) -> None:
        info = KINDS.get(iommu.kind)
        if info is None:
            return  # an unknown kind: E005 said so
        forms = _stream_forms(info.streams)
        limit = (1 << iommu.stream_bits) if iommu.stream_bits else 1 << 32
        if not streams and "none" not in info.streams:
            self.err(
                "E108",
                f"'{iommu.name}' ({iommu.kind}) needs a stream for this device",
                prop.span,
                label=f"expected {' or '.join(forms)} after '{iommu.name}'",
                help=_stream_example(iommu.kind),
            )
        for s in streams:
            if s.form not in info.streams:
                takes = " or ".join(forms) if forms else "no stream arguments (#iommu-cells = 0)"
                self.err(
                    "E108",
                    f"{iommu.kind} '{iommu.name}' does not take a {s.form}",
                    s.span,
                    label=f"{iommu.kind} takes {takes}",
                    help=_stream_example(iommu.kind),
                )
                continue
            used = 1 + (1 if s.mask is not None else 0)
            if used > iommu.cells:
                self.err(
                    "E109",
                    f"stream has {used} cells but '{iommu.name}' has #iommu-cells = {iommu.cells}",
                    s.span,
                    label="the SMR mask needs a second cell" if s.mask is not None else "",
                    secondary=(Label(iommu.span, f"'{iommu.name}' defined here"),),
                    help=f"add 'cells 2' to '{iommu.name}', or drop the mask "
                    "(arm-smmu then uses the node's stream-match-mask)",
                )
            for what, val in (("stream ID", s.value), ("SMR mask", s.mask)):
                if isinstance(val, int) and val >= limit:
                    # drivers/iommu/arm/arm-smmu/arm-smmu.c: arm_smmu_probe_device
                    self.err(
                        "E109",
                        f"{what} {val:#x} out of range for '{iommu.name}' ({limit - 1:#x})",
                        s.span,
                        label=f"wider than {iommu.stream_bits or 32} bits",
                        help='kernel: "stream ID 0x%x out of range for SMMU (0x%x)"',
                    )
            if s.form == "context" and iommu.contexts is not None:
                assert isinstance(s.value, int)
                if s.value not in iommu.context_numbers:
                    self.err(
                        "E112",
                        f"context {s.value} is not a context of '{iommu.name}'",
                        s.span,
                        label=f"qcom-iommu contexts are 1..{iommu.contexts} "
                        "(qcom_iommu_of_xlate counts from 1)",
                    )
                elif s.value in iommu.reserved:
                    self.err(
                        "E112",
                        f"context {s.value} of '{iommu.name}' is reserved: no context device "
                        "serves it",
                        s.span,
                        label="qcom_iommu_init_domain would find no context here",
                        help="a qcom-iommu bank exists only where the IOMMU node has an "
                        "iommu-ctx child (qcom_iommu_ctx_probe)",
                    )

    def check_bridges(self, bridges: dict[str, Bridge], devices: dict[str, Device]) -> None:
        for b in bridges.values():
            if b.upstream is not None and b.upstream not in bridges:
                self.unknown_ref(b.span, b.upstream, "bridge", bridges, "upstream")
            # upstream cycles
            seen = {b.name}
            cur = b.upstream
            while cur is not None and cur in bridges:
                if cur in seen:
                    self.err(
                        "E119",
                        f"bridge '{b.name}' is its own upstream",
                        b.span,
                        help="the 'upstream' chain must end at a root port",
                    )
                    break
                seen.add(cur)
                cur = bridges[cur].upstream
        for d in devices.values():
            if d.upstream is not None and d.upstream not in bridges:
                self.unknown_ref(d.span, d.upstream, "bridge", bridges, "upstream")

    def unknown_ref(self, span: Span, name: str, what: str, pool: Iterable[str], prop: str) -> None:
        if self.loaded.partial:
            return
        self.err(
            "E105",
            f"unknown {what} '{name}'",
            self._find_ref(span, prop, name),
            label=f"no {what} named '{name}'",
            help=did_you_mean(name, pool),
        )

    def _find_ref(self, owner: Span, prop: str, name: str) -> Span:
        text = self.loaded.sources.line(owner.file, owner.line)
        for lineno in range(owner.line, owner.end_line + 1):
            text = self.loaded.sources.line(owner.file, lineno)
            if text is None:
                break
            m = re.search(rf"\b{re.escape(prop)}\s+({re.escape(name)})\b", text)
            if m:
                return Span(owner.file, lineno, m.start(1) + 1, lineno, m.end(1) + 1)
        return owner

    def check_pci(self, devices: dict[str, Device], bridges: dict[str, Bridge]) -> None:
        seen: dict[PciAddress, Span] = {}
        for owner in devices.values():  # bridges with an address are PCI functions too
            if owner.pci is None:
                continue
            if owner.pci in seen:
                self.err(
                    "E111",
                    f"PCI address {owner.pci} used twice",
                    owner.pci_span,
                    label=f"'{owner.name}' is at {owner.pci}",
                    secondary=(Label(seen[owner.pci], "already used here"),),
                    help="each PCI function has its own address; is one of them a typo?",
                )
            else:
                seen[owner.pci] = owner.pci_span

    def domain(
        self,
        node: ast.Domain,
        fname: str,
        iommus: dict[str, Iommu],
        devices: dict[str, Device],
        conds: tuple[ast.Condition, ...] = (),
    ) -> Domain:
        if node.of is not None:
            return self.default_of(node, fname, iommus, devices, conds)
        known: list[Iommu] = []
        for ref in node.iommus:
            iommu = iommus.get(ref.text)
            if iommu is None:
                self.unknown("E104", "iommu", ref, iommus)
            else:
                known.append(iommu)
        # a default-domain type is refused here with the reason; any other word is E005 already
        if node.type.text in ("identity", "dma", "dma-fq", "platform"):
            self.err(
                "E120",
                "a driver-built domain is 'unmanaged', 'blocked' or 'arm-mapping', not "
                f"'{node.type.text}'",
                node.type.span,
                help="default domains (identity, dma, dma-fq, platform) are chosen by the "
                "kernel; steer them with rules such as 'requires identity'",
            )
        self.check_span(node.iommus, known, node.span)
        for iommu in known:
            iommu.driver.check_domain(self, node, iommu)
        names = {i.name for i in known}
        on = ", ".join(f"'{n}'" for n in sorted(names))
        for name in node.attach:
            dev = devices.get(name.text)
            if dev is None:
                self.unknown("E103", "device", name, devices)
            elif (
                known
                and len(known) == len(node.iommus)
                and not names & set(reachable_iommus(dev, iommus))
            ):
                first = known[0].name
                self.err(
                    "E120",
                    f"'{name.text}' is not behind {on}",
                    name.span,
                    label=f"a domain on {on} can only hold "
                    + ("their clients" if len(names) > 1 else "its clients"),
                    secondary=(Label(dev.span, f"'{name.text}' defined here"),),
                    help=f"add 'iommu {first} ...' to '{name.text}'",
                )
        return Domain(
            node.name.text,
            node.type.text,
            tuple(i.text for i in node.iommus),
            tuple(n.text for n in node.attach),
            node.span,
            fname,
            conds,
            window=self.window(node.type.text, node.window),
        )

    def check_context(self, what: str, idx: ast.Num, iommu: str, numbers: range) -> None:
        """E112 for a context index outside the IOMMU's contexts (contexts.first..)."""
        if idx.value in numbers:
            return
        where = "past the last" if idx.value >= numbers.start else "not a"
        self.err(
            "E112",
            f"{what} {idx.value} is {where} context of '{iommu}'",
            idx.span,
            label=f"'{iommu}' has contexts {numbers.start}..{numbers.stop - 1}",
        )

    def check_arch(self, platform: Platform, iommus: dict[str, Iommu]) -> None:
        """E130: a driver the platform's architecture cannot build (Kconfig `depends on`)."""
        if self.loaded.partial:
            return  # the platform may be in a statement that did not parse
        arch = platform.arch_name or DEFAULT_ARCH
        here = f"arch {arch}" if platform.arch is not None else f"no arch given: {arch} assumed"
        for iommu in iommus.values():
            need = iommu.driver.arch
            if need is not None and arch != need[0]:
                where = (
                    (Label(platform.arch.span, f"the platform is arch {arch}"),)
                    if platform.arch is not None
                    else ()
                )
                self.err(
                    "E130",
                    f"'{iommu.name}' ({iommu.kind}) is built only on arch {need[0]} (here: {here})",
                    iommu.span,
                    label=need[1],
                    secondary=where,
                    help=f"write 'platform {{ arch {need[0]} }}', or check the IOMMU kind",
                )

    def check_clients(self, iommus: dict[str, Iommu], devices: dict[str, Device]) -> None:
        """E131: a client its IOMMU's driver cannot take (PCI functions only); then what
        each kind's driver refuses on the whole board (kinds' check_board)."""
        for dev in sorted(devices.values(), key=lambda d: d.probe_order):
            for link in dev.iommus:
                iommu = iommus.get(link.iommu)
                if iommu is None:
                    continue
                pci_only = iommu.driver.pci_only
                if pci_only is not None and dev.pci is None:
                    self.err(
                        "E131",
                        f"'{dev.name}' is not a PCI function: {iommu.kind} '{iommu.name}' takes "
                        "PCI functions only",
                        link.span,
                        help=f"{pci_only}; give the device its 'pci' address, or drop the link",
                    )
        by_kind: dict[str, list[Iommu]] = {}
        for iommu in iommus.values():
            by_kind.setdefault(iommu.kind, []).append(iommu)
        for name, instances in by_kind.items():
            driver_of(name).check_board(self, instances, devices)

    def default_of(
        self,
        node: ast.Domain,
        fname: str,
        iommus: dict[str, Iommu],
        devices: dict[str, Device],
        conds: tuple[ast.Condition, ...],
    ) -> Domain:
        """`domain NAME: default of DEV { attach ... }`: DEV's default domain, which a driver
        attaches to other devices with iommu_attach_device (exynos_drm_dma.c on arm64:
        `iommu_get_domain_for_dev(priv->dma_dev)`). Its IOMMUs are those of the devices."""
        assert node.of is not None
        self.window("default", node.window)
        # where each IOMMU first comes in: the device that brings it, for the span checks
        refs: dict[str, ast.Ident] = {}
        for ref in (node.of, *node.attach):
            dev = devices.get(ref.text)
            if dev is None:
                self.unknown("E103", "device", ref, devices)
                continue
            behind = reachable_iommus(dev, iommus)
            if not behind:
                self.err(
                    "E120",
                    f"'{ref.text}' is behind no IOMMU",
                    ref.span,
                    label="it has no default domain"
                    if ref is node.of
                    else "no IOMMU can attach a domain to it",
                    secondary=(Label(dev.span, f"'{ref.text}' defined here"),),
                    help=f"add 'iommu IOMMU ...' to '{ref.text}'",
                )
                continue
            if ref is not node.of and ref.text == node.of.text:
                self.err(
                    "E120",
                    f"'{ref.text}' is the device whose default domain this is",
                    ref.span,
                    label="it is in this domain already",
                    help=f"attach only the other devices that share the default domain of "
                    f"'{ref.text}'",
                )
            refs.setdefault(behind[0], ast.Ident(behind[0], ref.span))
        known = [iommus[n] for n in refs if n in iommus]
        self.check_span(tuple(refs.values()), known, node.span)
        return Domain(
            node.name.text,
            "default",
            tuple(refs),
            tuple(n.text for n in node.attach),
            node.span,
            fname,
            conds,
            node.of.text,
        )

    def check_span(self, refs: tuple[ast.Ident, ...], known: list[Iommu], span: Span) -> None:
        """A domain on several IOMMUs: one driver's instances, and a driver that lets one
        domain span instances (a kind's `span`); others refuse the second attach."""
        seen: set[str] = set()
        for ref in refs:
            if ref.text in seen:
                self.err("E120", f"'{ref.text}' is named twice", ref.span)
            seen.add(ref.text)
        if len(known) < 2:
            return
        kinds = {i.kind for i in known}
        if len(kinds) > 1:
            self.err(
                "E120",
                "a domain belongs to one IOMMU driver, but these IOMMUs are "
                + ", ".join(f"'{i.name}' ({i.kind})" for i in known),
                span,
                help="iommu_attach_group refuses a domain of another driver's ops (-EINVAL)",
            )
            return
        kind = known[0].kind
        spans = known[0].driver.spans(known)
        if spans:
            return
        if spans is None:
            self.err(
                "E120",
                f"iommu-rules does not know whether one domain can span {kind} instances",
                refs[1].span,
                help="give each IOMMU its own domain, or report what the driver does",
            )
        else:
            refusal = known[0].driver.no_span
            self.err(
                "E120",
                f"one domain cannot span {kind} instances: the driver refuses to attach it "
                f"to '{known[1].name}' once it is set up on '{known[0].name}' (-EINVAL)",
                refs[1].span,
                label="a second instance",
                help=f"kernel: {refusal}; give each IOMMU its own domain",
            )

    # -- rules and expectations ------------------------------------------------------
    def rule(
        self,
        node: ast.Rule,
        fname: str,
        conds: tuple[ast.Condition, ...],
        iommus: dict[str, Iommu],
        devices: dict[str, Device],
        tags: frozenset[str],
        domains: dict[str, Domain],
    ) -> Rule:
        std = self.loaded.is_std(fname)
        selector = node.selector
        if isinstance(node.verb, ast.Reserve):
            selector = node.verb.selector
            iommu = iommus.get(node.verb.iommu.text)
            if iommu is None:
                if not std:
                    self.unknown("E104", "iommu", node.verb.iommu, iommus)
            elif iommu.contexts is not None:
                self.check_context("context", node.verb.index, iommu.name, iommu.context_numbers)
        if selector is not None and not std:
            self.check_selector(selector, iommus, devices, tags)
        if isinstance(node.verb, ast.Verb) and node.verb.domain is not None:
            self.check_builds(node.verb, std)
        if isinstance(node.verb, ast.Verb) and node.verb.contexts:
            for r in node.verb.contexts:
                if r.last is not None and r.last.value < r.first.value:
                    self.err("E112", "context range runs backwards", r.span)
        name = node.name.value if node.name else f"{node.span.file}:{node.span.line}"
        return Rule(
            name=name,
            explicit_name=node.name is not None,
            selector=selector,
            verb=node.verb,
            because=node.because.value if node.because else None,
            source=node.source.value if node.source else None,
            conditions=conds,
            span=node.span,
            file=fname,
            std=std,
        )

    def check_builds(self, verb: ast.Verb, std: bool) -> None:
        """`builds domain NAME: KIND [per device]`: a driver-built kind, a name of its own
        (a pack's rule yields to a board that uses the name: built.py does not build it)."""
        assert verb.domain is not None and verb.built is not None
        kind = verb.built.text
        if kind in ("identity", "dma", "dma-fq", "platform"):
            self.err(
                "E120",
                "a driver-built domain is 'unmanaged', 'blocked', 'arm-mapping' or "
                f"'default-of-first', not '{kind}'",
                verb.built.span,
                help="default domains (identity, dma, dma-fq, platform) are chosen by the "
                "kernel; a driver asks for one with 'def-domain-type'",
            )
        elif verb.window is not None:
            self.window(kind, verb.window)
        elif kind == "default-of-first" and verb.per_device:
            self.err(
                "E120",
                "'default-of-first' shares one device's default domain with the others: it "
                "cannot be built per device",
                verb.built.span,
                help="drop 'per device'",
            )
        prev = self.defined.get(verb.domain.text)
        if prev is not None and prev[0] != "domain" and not std:
            self.err(
                "E101",
                f"duplicate name '{verb.domain.text}' (domain and {prev[0]})",
                verb.domain.span,
                label="a domain built by this rule",
                secondary=(Label(prev[1], f"defined here as {article(prev[0])}"),),
                help="devices, IOMMUs, bridges and domains share one namespace; rename one",
            )

    def check_selector(
        self,
        sel: ast.Selector,
        iommus: dict[str, Iommu],
        devices: dict[str, Device],
        tags: frozenset[str],
    ) -> None:
        stack = [sel]
        while stack:
            s = stack.pop()
            if isinstance(s, ast.SelName):
                if self.loaded.partial:
                    continue
                if s.name.text not in devices and s.name.text not in tags:
                    self.err(
                        "E106",
                        f"unknown device or tag '{s.name.text}'",
                        s.name.span,
                        label="no device has this name or tag",
                        help=did_you_mean(s.name.text, list(devices) + list(tags)),
                    )
            elif isinstance(s, ast.SelOn):
                if s.iommu.text not in iommus:
                    self.unknown("E104", "iommu", s.iommu, iommus)
            elif isinstance(s, ast.SelPci):
                if not re.fullmatch(
                    r"([0-9a-fA-F*]{4}:)?[0-9a-fA-F*]{2}:[0-9a-fA-F*]{2}\.[0-7*]", s.pattern.text
                ):
                    self.err("E110", f"bad PCI pattern '{s.pattern.text}'", s.pattern.span)
            elif isinstance(s, ast.SelNot):
                stack.append(s.operand)
            elif isinstance(s, ast.SelAnd | ast.SelOr):
                stack.extend(s.operands)

    def expect(
        self,
        node: ast.Expect,
        fname: str,
        conds: tuple[ast.Condition, ...],
        iommus: dict[str, Iommu],
        devices: dict[str, Device],
        domains: dict[str, Domain],
        rules: Sequence[Rule],
    ) -> Expectation | None:
        q = node.query
        subject = q.subject.text
        if subject == "system":
            kind = "system"
        elif subject in devices:
            kind = "device"
        elif subject in iommus:
            kind = "iommu"
        elif subject in domains or builders(rules, devices, subject):
            kind = "domain"
        elif self.loaded.partial:
            return None
        else:
            self.err(
                "E103",
                f"unknown name '{subject}' in expectation",
                q.subject.span,
                label="not a device, IOMMU or domain",
                help=did_you_mean(subject, [*devices, *iommus, *domains, "system"]),
            )
            return None
        attrs = ATTRIBUTES[kind]
        if q.attribute.text not in attrs:
            self.err(
                "E116",
                f"{kind} '{subject}' has no attribute '{q.attribute.text}'",
                q.attribute.span,
                label=f"{kind} attributes: {', '.join(sorted(attrs))}",
                help=did_you_mean(q.attribute.text, attrs),
            )
            return None
        attr = q.attribute.text
        if (
            attr == "dma_ops"
            and isinstance(node.value, ast.Word)
            and node.value.text not in DMA_OPS
        ):
            self.err(
                "E116",
                f"'{node.value.text}' is not a kind of DMA ops",
                node.value.span,
                label=f"expected one of: {', '.join(DMA_OPS)}",
                help=_dma_ops_hint(node.value.text),
            )
        if attr in ("domain_type", "default_domain", "type") and isinstance(node.value, ast.Word):
            allowed = (*domain_types(), "none")
            if node.value.text not in allowed:
                self.err(
                    "E116",
                    f"'{node.value.text}' is not a domain type",
                    node.value.span,
                    label=f"expected one of: {', '.join(allowed)}",
                    help=did_you_mean(node.value.text, allowed),
                )
        if node.op in ("<", "<=", ">", ">=") and not isinstance(node.value, ast.Num):
            self.err(
                "E116",
                f"'{node.op}' compares numbers",
                node.value.span,
                label="expected a number",
            )
        return Expectation(q, node.op, node.value, conds, node.span, fname)


def _expand(r: ast.ContextRange) -> range:
    last = r.last.value if r.last is not None else r.first.value
    return range(r.first.value, last + 1)


def _sid_text(key: int | str) -> str:
    return key if isinstance(key, str) else f"{key:#x}"


@cache
def _stream_forms(streams: frozenset[str]) -> tuple[str, ...]:
    """The stream forms a kind takes, for messages (sorted once per kind, not per device)."""
    return tuple(sorted(streams - {"none"}))


def _stream_example(kind: str) -> str:
    examples = {
        "sid": "for example 'iommu smmu sid 0x5000 mask 0x400'",
        "swgroup": "for example 'iommu mc swgroup dc'",
        "context": "for example 'iommu apps_iommu context 1'",
    }
    info = KINDS.get(kind)
    if info is None:
        return ""
    if info.streams == {"none"}:
        return f"write just 'iommu NAME' for {article(kind)}"
    if not info.smr:  # a mask is an arm-smmu SMR's
        examples["sid"] = "for example 'iommu NAME sid 3' (no mask: that is an arm-smmu's)"
    return "; ".join(examples[f] for f in sorted(info.streams - {"none"}))


def _names(kinds: Iterable[Kind]) -> str:
    """'a, b and c'."""
    names = [k.name for k in kinds]
    return ", ".join(names[:-1]) + " and " + names[-1] if len(names) > 1 else "".join(names)


def _what(item: ast.Item) -> str:
    return {
        ast.Include: "an include",
        ast.Platform: "a platform block",
        ast.Iommu: "an iommu",
        ast.Device: "a device",
        ast.Bridge: "a bridge",
        ast.Domain: "a domain",
        ast.HostMap: "a map",
    }.get(type(item), "this statement")


def platform_of(loaded: Loaded, iommus: dict[str, Iommu]) -> tuple[Platform, list[Diagnostic]]:
    """Only the platform facts of the loaded files, validated, with the checks that hold the
    board's IOMMUs against them (what-if of kernel, cmdline, config, arch)."""
    builder = Builder(loaded)
    platform = builder.platform(loaded.platform_items())
    builder.check_arch(platform, iommus)
    return platform, builder.diags


def build_model(loaded: Loaded, known: Known | None = None) -> Model:
    """Validate the loaded files into a model; problems go into model.diagnostics.
    ``known``: what validating the same files gave before, filled by the first build
    (see Known)."""
    with no_gc():
        model = Builder(loaded, known).build()
    if known is not None:
        known.sealed, known.before = True, None
    return model
