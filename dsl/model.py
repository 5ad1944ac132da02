"""The validated, typed model of a board: what the resolver works on.

Records only: ``validate.build_model`` builds them from the loaded files and
reports what the kernel would refuse.  Each ``Iommu`` knows its kind's record
(``iommu.driver``, see ``kinds/``); each ``Device`` which stream IDs it emits.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Collection, Iterable
from typing import NamedTuple

from . import ast
from .diagnostics import Diagnostic, Span
from .enums import DmaOps
from .kinds import Kind, claiming_pci, kind
from .node import Node, kept, node_field
from .pci.acs import AcsFlag
from .provenance import Reason

DEFAULT_ARCH = "arm64"  # a board without `arch` (the resolver's why says it assumed it)


def reachable_iommus(dev: Device, iommus: dict[str, Iommu]) -> list[str]:
    """The IOMMUs a device is behind, as the resolver finds them: its `iommus` links; for a
    PCI function without links, the first IOMMU that claims every PCI function (a kind's
    pci_claim: x86 from ACPI DMAR/IVRS, s390 per zPCI function), else those whose iommu-map
    covers it (of_iommu_configure_dev_id)."""
    if dev.iommus or dev.pci is None:
        return [link.iommu for link in dev.iommus]
    claimers = [i.name for i in iommus.values() if i.kind in claiming_pci()]
    if claimers:
        return claimers[:1]
    pci = dev.pci
    return [i.name for i in iommus.values() if i.maps and i.maps_cover(pci)]


# What `expect` may ask about, per subject; the resolver computes each.
ATTRIBUTES: dict[str, dict[str, str]] = {
    "device": {
        "dma_ops": "DMA ops the driver gets: iommu-dma, dma-direct, dma-direct+swiotlb, "
        "arm_iommu, s390_pci_dma, dma_iommu or none",
        "group": "IOMMU group number, or none",
        "group_members": "devices in the same IOMMU group",
        "domain_type": "type of the domain the device ends up in",
        "default_domain": "type of the group's default domain",
        "domain": "name of the domain the device ends up in",
        "context": "context (bank/ASID) of that domain, or none",
        "iommu": "the IOMMU the device is behind, or none",
        "vfio": "whether VFIO can use the device's group: viable, not-viable, or none "
        "(nothing in it is bound to vfio-pci)",
    },
    "iommu": {
        "contexts_used": "contexts in use",
        "contexts_free": "contexts left",
        "groups": "number of IOMMU groups",
        "domains": "names of domains with a context on this IOMMU",
    },
    "domain": {
        "context": "context (bank/ASID) of the domain, or none",
        "members": "devices attached to the domain",
        "type": "domain type",
    },
    "system": {
        "default_domain": "global default domain type (Kconfig, then command line)",
        "diagnostics": "codes of every diagnostic the resolution raised",
    },
}

DMA_OPS = tuple(str(ops) for ops in DmaOps)


class PciAddress(Node):
    domain: int
    bus: int
    device: int
    function: int

    def __str__(self) -> str:
        return self.text

    @kept
    def text(self) -> str:
        """0000:01:00.0. Kept once asked: the PCI layer's reasons name each function several
        times (13,000 times at 10k devices)."""
        return f"{self.domain:04x}:{self.bus:02x}:{self.device:02x}.{self.function}"

    @property
    def slot(self) -> tuple[int, int, int]:
        return (self.domain, self.bus, self.device)

    @property
    def rid(self) -> int:
        """The requester ID: bus, device and function packed as on the wire."""
        return (self.bus << 8) | (self.device << 3) | self.function


_PCI_RE = re.compile(r"^(?:([0-9a-fA-F]{4}):)?([0-9a-fA-F]{2}):([0-9a-fA-F]{2})\.([0-7])$")


def parse_pci(text: str) -> PciAddress | None:
    m = _PCI_RE.match(text)
    if not m:
        return None
    dom, bus, dev, fn = m.groups()
    return PciAddress(int(dom or "0", 16), int(bus, 16), int(dev, 16), int(fn))


class Stream(Node):
    """One `iommus` entry: a SID (with SMR mask), a swgroup or a context index."""

    form: str  # "sid", "swgroup", "context", "none"
    value: int | str
    mask: int | None
    span: Span


class IommuLink(Node):
    iommu: str
    streams: tuple[Stream, ...]
    span: Span


class SocGroup(Node):
    name: str
    members: tuple[int | str, ...]
    condition: ast.Condition | None  # the kernels whose MC tables have this group
    span: Span


class IovaRegion(Node):
    """One row of an M4U's iova_region_larb_msk: the ports of one larb in IOVA region
    ``number`` (a bit per port, MTK_M4U_TO_PORT)."""

    number: int
    larb: int
    ports: int
    span: Span


class IommuMapEntry(Node):
    pci_domain: int | None  # None: the entry serves every PCI domain
    rid: int
    sid: int
    length: int
    mask: int  # the iommu-map-mask the requester ID is ANDed with
    span: Span
    smr_mask: int = 0  # the specifier's SMR mask (arm_smmu_of_xlate: args[1])

    def sid_of(self, addr: PciAddress) -> int | None:
        """drivers/of/base.c: of_map_id: the stream ID for this function, or None when
        the entry does not cover its (masked) requester ID."""
        if self.pci_domain is not None and self.pci_domain != addr.domain:
            return None
        rid = addr.rid & self.mask
        if self.rid <= rid < self.rid + self.length:
            return self.sid + rid - self.rid
        return None


class Iommu(Node):
    name: str
    kind: str
    contexts: int | None
    domains: frozenset[str] | None
    reserved: frozenset[int]
    secure: frozenset[int]
    cells: int
    stream_bits: int | None
    maps: tuple[IommuMapEntry, ...]
    map_mask: int | None
    soc_groups: tuple[SocGroup, ...]
    regions: tuple[IovaRegion, ...]  # empty: one IOVA region for every master
    quirks: frozenset[str]
    disabled: bool
    span: Span
    file: str
    smrs: int | None = None  # an Arm SMMU's stream match registers; None: not stated
    match_mask: int = 0  # the node's stream-match-mask, for streams with no SMR mask cell
    reg: int | None = None  # the node's MMIO base: names it in a .dtb, which has no labels
    # `aperture BASE size SIZE`: the IOVAs its domains translate; None: the kind's (or all)
    aperture: tuple[int, int] | None = None
    aperture_span: Span | None = None

    @kept
    def driver(self) -> Kind:
        """Its kind's record: what its kernel driver does (kinds/). Kept once asked: the
        stages ask 70,000 times on a 10k-device board."""
        return kind(self.kind)

    def iova_aperture(self) -> tuple[int, int, Reason] | None:
        """The IOVAs its domains translate (domain->geometry with force_aperture): the
        board's `aperture`, else its kind's; None where nothing narrower than the page
        tables is known."""
        if self.aperture is not None:
            base, size = self.aperture
            why = Reason(f"'{self.name}' states its aperture", self.aperture_span)
        elif self.driver.aperture is not None:
            base, size, src = self.driver.aperture
            why = Reason(f"the {self.kind} driver's aperture", None, src)
        else:
            return None
        return base, size, why

    def maps_cover(self, addr: PciAddress) -> bool:
        """Whether one of this IOMMU's iommu-map entries translates the function."""
        return any(entry.sid_of(addr) is not None for entry in self.maps)

    def map_entry(self, addr: PciAddress) -> tuple[IommuMapEntry, int] | None:
        """The first iommu-map entry that covers this function, and the stream ID it gives
        (drivers/of/base.c: of_map_id)."""
        for entry in self.maps:
            sid = entry.sid_of(addr)
            if sid is not None:
                return entry, sid
        return None

    @property
    def bypass_context(self) -> int | None:
        """The bank the driver keeps to emulate bypass (quirk bypass-last-context):
        BYPASS_SOURCE sets bit num_context_banks - 1 in context_map, so no domain ever
        gets it."""
        if "bypass-last-context" in self.quirks and self.contexts:
            return self.contexts - 1
        return None

    def withheld(self) -> dict[int, str]:
        """Contexts no domain is handed, and why: firmware reservations, secure banks and
        the bypass bank."""
        if not (self.reserved or self.secure) and self.bypass_context is None:
            return {}  # the common case, asked at every failed allocation
        out = {i: "reserved by firmware" for i in self.reserved}
        out.update({i: "secure" for i in self.secure if i not in out})
        bypass = self.bypass_context
        if bypass is not None:
            out.setdefault(bypass, "reserved to emulate bypass")
        return dict(sorted(out.items()))

    def withheld_text(self, used: Collection[int] = ()) -> str:
        """', context 7 reserved to emulate bypass' for each withheld context not in USED,
        to follow a count of contexts in a message."""
        return "".join(
            f", context {i} {why}" for i, why in self.withheld().items() if i not in used
        )

    @property
    def context_numbers(self) -> range:
        """The context indices: qcom-iommu counts from 1 (qcom_iommu_of_xlate), others from 0."""
        first = self.driver.contexts.first
        return range(first, first + (self.contexts or 0))


class Acs(Node):
    """A function's ACS registers as the board states them: ``cap`` None is no ACS
    capability; ``ctl`` is the control register as the firmware leaves it, before the
    kernel enables what it wants (pci_enable_acs). ``stated``: yes, no, or registers."""

    cap: AcsFlag | None
    ctl: AcsFlag
    stated: str
    span: Span


class DmaReach(NamedTuple):
    """What a device's DMA reaches without an IOMMU (Device.dma_reach)."""

    lo: int  # the CPU addresses [lo, hi) it reaches
    hi: int
    limited: str  # what limits it, for the reasons' text
    mask: Reason  # why its mask is what it is
    why: tuple[Reason, ...]  # the mask's reason, then the dma-ranges window's if any


class Device(Node):
    name: str
    compatibles: tuple[str, ...]
    tags: frozenset[str]
    iommus: tuple[IommuLink, ...]
    pci: PciAddress | None
    pci_span: Span
    upstream: str | None
    dma_mask: int | None
    coherent: bool | None
    untrusted: bool
    driver: frozenset[str]
    caps: frozenset[str]  # PCIe capabilities: pasid, ats, pri
    aliases: tuple[PciAddress, ...]
    acs: Acs | None
    probe_order: int
    disabled: bool
    span: Span
    file: str
    pcie: str | None = None  # `pcie TYPE`: its PCI Express type, as stated
    multifunction: bool | None = None  # `multifunction yes|no`, as stated
    bound: str | None = None  # the driver bound to it (`bound DRIVER`)
    bridge: str | None = None  # a PCI bridge's kind: the bridge as a PCI function
    # `dma-range CPU size SIZE [bus BUS]`: the CPU window it reaches, and its bus address
    dma_range: tuple[int, int, int] | None = None
    dma_range_span: Span | None = None

    @kept
    def dma_reach(self) -> DmaReach:
        """The CPU addresses [lo, hi) its DMA reaches, what limits it, and why: the mask,
        and the bus's dma-ranges window, whose end is dev->bus_dma_limit (of_dma_configure_id)
        and whose offset turns CPU into bus addresses (dma_capable checks the bus address
        against min(mask, bus_dma_limit)). Kept once asked: the DMA ops of every device ask
        again at each what-if."""
        bits = self.dma_mask or 32
        mask_why = Reason(
            f"DMA mask {bits} bits"
            + ("" if self.dma_mask else " (the default for DT/PCI devices)"),
            self.span,
            "drivers/of/device.c: of_dma_configure_id" if not self.dma_mask else None,
        )
        if self.dma_range is None:
            return DmaReach(0, 1 << bits, f"a {bits}-bit mask", mask_why, (mask_why,))
        cpu, size, bus = self.dma_range
        end = min(1 << bits, bus + size)  # bus addresses below this are capable
        window = Reason(
            f"dma-ranges: CPU {cpu:#x}..{cpu + size - 1:#x} at bus {bus:#x}",
            self.dma_range_span,
            "drivers/of/device.c: of_dma_configure_id (bus_dma_limit, dma_range_map)",
        )
        limited = f"the dma-ranges window with a {bits}-bit mask"
        return DmaReach(cpu, cpu + max(end - bus, 0), limited, mask_why, (mask_why, window))

    def stream_ids(self, iommu: Iommu) -> list[tuple[int, int]]:
        """(SID, SMR mask) pairs the device emits on this IOMMU: its `iommus` cells, or for
        a PCI function its iommu-map entry's."""
        out: list[tuple[int, int]] = []
        for link in self.iommus:
            if link.iommu != iommu.name:
                continue
            for s in link.streams:
                if s.form == "sid" and isinstance(s.value, int):
                    # arm_smmu_of_xlate: a one-cell specifier takes the stream-match-mask
                    out.append((s.value, s.mask if s.mask is not None else iommu.match_mask))
        if not out and self.pci is not None and iommu.maps:
            found = iommu.map_entry(self.pci)
            if found is not None:
                out.append((found[1], found[0].smr_mask or iommu.match_mask))
        return out

    def link_span(self, iommu: Iommu) -> Span:
        """Where the device's streams on this IOMMU are written: its `iommu` line, or for a
        PCI function the `map` entry that gives it its stream ID."""
        for link in self.iommus:
            if link.iommu == iommu.name:
                return link.span
        found = iommu.map_entry(self.pci) if self.pci is not None else None
        return found[0].span if found is not None else self.span


class Bridge(Node):
    name: str
    kind: str
    pci: PciAddress | None
    pci_span: Span
    upstream: str | None
    acs: Acs | None
    span: Span
    file: str
    compatibles: tuple[str, ...] = ()
    multifunction: bool | None = None
    aliases: tuple[PciAddress, ...] = ()
    bound: str | None = None
    probe_order: int = 0

    def function(self) -> Device:
        """The bridge as a PCI function: the IOMMU probes it and it joins a group like any
        function (pci_device_group); pcieport binds it."""
        return Device(
            name=self.name,
            compatibles=self.compatibles,
            tags=frozenset(),
            iommus=(),
            pci=self.pci,
            pci_span=self.pci_span,
            upstream=self.upstream,
            dma_mask=None,
            coherent=None,
            untrusted=False,
            driver=frozenset(),
            caps=frozenset(),
            aliases=self.aliases,
            acs=self.acs,
            probe_order=self.probe_order,
            disabled=False,
            span=self.span,
            file=self.file,
            multifunction=self.multifunction,
            bound=self.bound,
            bridge=self.kind,
        )


class Domain(Node):
    name: str
    type: str
    iommus: tuple[str, ...]  # one, or several instances of a driver that spans them
    attach: tuple[str, ...]
    span: Span
    file: str
    conditions: tuple[ast.Condition, ...] = ()  # `when` blocks: the platforms it is built on
    of: str | None = None  # `default of DEVICE`: that device's default domain, shared
    # a pack's `unless attached|translated`: devices the driver leaves where they are
    unless: str | None = None
    log: str | None = None  # a pack's `log "..."`: what the driver prints when it fails
    window: tuple[int, int] | None = None  # an arm-mapping's IOVA base and size

    @property
    def iommu(self) -> str:
        return self.iommus[0]


class Rule(Node):
    """A rule and the `when` conditions it sits under (all must hold)."""

    name: str
    explicit_name: bool
    selector: ast.Selector | None
    verb: ast.Verb | ast.Reserve
    because: str | None
    source: str | None
    conditions: tuple[ast.Condition, ...]
    span: Span
    file: str
    std: bool


class Expectation(Node):
    query: ast.Query
    op: str
    value: ast.Value
    conditions: tuple[ast.Condition, ...]
    span: Span
    file: str


class Fact(Node):
    """A platform fact with where it was stated."""

    value: object
    span: Span


class Platform(Node):
    arch: Fact | None
    kernel: Fact | None  # value: tuple[int, ...]
    ram: tuple[tuple[int, int, Span], ...]  # (base, size, span)
    cmdline: Fact | None  # value: str
    config: tuple[tuple[str, str, Span], ...]  # (symbol, y/n/m, span)

    @property
    def kernel_version(self) -> tuple[int, ...] | None:
        return self.kernel.value if self.kernel else None  # type: ignore[return-value]

    @property
    def arch_name(self) -> str | None:
        return str(self.arch.value) if self.arch else None

    def config_value(self, symbol: str) -> str | None:
        found = None
        for sym, val, _ in self.config:
            if sym == symbol:
                found = val
        return found

    @property
    def ram_top(self) -> int:
        return max((base + size for base, size, _ in self.ram), default=0)

    @property
    def ram_base(self) -> int:
        """Where RAM starts: what reaches [ram_base, ram_top) reaches every region."""
        return min((base for base, _, _ in self.ram), default=0)


def builders(rules: Iterable[Rule], devices: Collection[str], name: str) -> list[Rule]:
    """The `builds domain` rules that may build a domain of this name: NAME, or
    NAME-DEVICE for a rule that builds one per device."""
    out = []
    for rule in rules:
        verb = rule.verb
        if not isinstance(verb, ast.Verb) or verb.domain is None:
            continue
        base = verb.domain.text
        if verb.per_device:
            if name.startswith(base + "-") and name[len(base) + 1 :] in devices:
                out.append(rule)
        elif name == base:
            out.append(rule)
    return out


class Model(Node):
    platform: Platform
    iommus: dict[str, Iommu]
    devices: dict[str, Device]
    bridges: dict[str, Bridge]
    domains: dict[str, Domain]
    rules: tuple[Rule, ...]
    expectations: tuple[Expectation, ...]
    files: tuple[str, ...]
    diagnostics: tuple[Diagnostic, ...] = node_field(default=(), compare=False)

    @property
    def ok(self) -> bool:
        return not any(d.is_error for d in self.diagnostics)

    def builders(self, name: str) -> list[Rule]:
        """The `builds domain` rules that may build a domain of this name on some platform."""
        return builders(self.rules, self.devices, name)

    def at_address(self, text: str) -> str | None:
        """The device or bridge at a PCI address ('01:00.0' or '0000:01:00.0'), or None."""
        pci = parse_pci(text.strip())
        if pci is None:
            return None
        for dev in self.devices.values():
            if dev.pci == pci:
                return dev.name
        return None

    def with_platform(self, platform: Platform) -> Model:
        """The same board on another platform (what-if of kernel, cmdline, config)."""
        return Model(
            platform,
            self.iommus,
            self.devices,
            self.bridges,
            self.domains,
            self.rules,
            self.expectations,
            self.files,
            self.diagnostics,
        )

    @property
    def tags(self) -> frozenset[str]:
        return frozenset(t for d in self.devices.values() for t in d.tags)

    def names(self) -> set[str]:
        return set(self.devices) | set(self.iommus) | set(self.bridges) | set(self.domains)


def matches_glob(pattern: str, text: str) -> bool:
    return fnmatch.fnmatchcase(text, pattern)
