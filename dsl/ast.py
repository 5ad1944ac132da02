"""Syntax tree of a rule file: what the user wrote, with a span on every node.

Spans are excluded from equality so that ``parse(fmt(x)) == parse(x)`` compares
meaning, not layout.  Numbers keep their spelling so ``fmt`` never turns a hex
stream ID into decimal.
"""

from __future__ import annotations

from .diagnostics import NO_SPAN, Span
from .node import Node, node_field


class Ident(Node):
    text: str
    span: Span = node_field(default=NO_SPAN, compare=False)

    def __str__(self) -> str:
        return self.text


class Num(Node):
    value: int
    text: str
    span: Span = node_field(default=NO_SPAN, compare=False)


class Str(Node):
    """A string literal; ``value`` is unescaped, ``text`` is as written."""

    value: str
    text: str
    span: Span = node_field(default=NO_SPAN, compare=False)


class Version(Node):
    parts: tuple[int, ...]
    text: str
    span: Span = node_field(default=NO_SPAN, compare=False)


# ------------------------------------------------------------------ platform
class Arch(Node):
    value: Ident
    span: Span = node_field(default=NO_SPAN, compare=False)


class Kernel(Node):
    version: Version
    span: Span = node_field(default=NO_SPAN, compare=False)


class Ram(Node):
    base: Num
    size: Num | None
    span: Span = node_field(default=NO_SPAN, compare=False)


class Cmdline(Node):
    text: Str
    span: Span = node_field(default=NO_SPAN, compare=False)


class Config(Node):
    symbol: Ident
    value: Ident | None
    span: Span = node_field(default=NO_SPAN, compare=False)


PlatformProp = Arch | Kernel | Ram | Cmdline | Config


class Platform(Node):
    props: tuple[PlatformProp, ...]
    span: Span = node_field(default=NO_SPAN, compare=False)


# ------------------------------------------------------------------ iommu
class ContextRange(Node):
    first: Num
    last: Num | None
    span: Span = node_field(default=NO_SPAN, compare=False)


class Contexts(Node):
    count: Num
    span: Span = node_field(default=NO_SPAN, compare=False)


class Domains(Node):
    types: tuple[Ident, ...]
    span: Span = node_field(default=NO_SPAN, compare=False)


class Reserved(Node):
    contexts: tuple[ContextRange, ...]
    span: Span = node_field(default=NO_SPAN, compare=False)


class Secure(Node):
    contexts: tuple[ContextRange, ...]
    span: Span = node_field(default=NO_SPAN, compare=False)


class Cells(Node):
    count: Num
    span: Span = node_field(default=NO_SPAN, compare=False)


class StreamBits(Node):
    bits: Num
    span: Span = node_field(default=NO_SPAN, compare=False)


class Smrs(Node):
    count: Num
    span: Span = node_field(default=NO_SPAN, compare=False)


class StreamMatchMask(Node):
    mask: Num
    span: Span = node_field(default=NO_SPAN, compare=False)


class Reg(Node):
    address: Num
    span: Span = node_field(default=NO_SPAN, compare=False)


class Aperture(Node):
    """`aperture BASE size SIZE`: the IOVAs the IOMMU's domains translate."""

    base: Num
    size: Num
    span: Span = node_field(default=NO_SPAN, compare=False)


class Window(Node):
    """`window BASE size SIZE`: an arm32 mapping's IOVA window."""

    base: Num
    size: Num
    span: Span = node_field(default=NO_SPAN, compare=False)


class IommuMap(Node):
    pci_domain: Num | None  # the host bridge's PCI domain; None: every domain
    rid: Num
    sid: Num
    length: Num
    mask: Num | None  # this host's iommu-map-mask; None: the IOMMU's map-mask
    span: Span = node_field(default=NO_SPAN, compare=False)
    smr_mask: Num | None = None  # a 2-cell specifier's second cell: the SMR mask


class MapMask(Node):
    mask: Num
    span: Span = node_field(default=NO_SPAN, compare=False)


class SocGroup(Node):
    name: Ident
    members: tuple[Ident | Num, ...]
    condition: Condition | None = node_field(default=None)  # `when ...`: the kernels that have it
    span: Span = node_field(default=NO_SPAN, compare=False)


class Region(Node):
    """`region N larb L, ... [ports P, ... | except ports P, ...]`: which ports of which larbs
    an M4U puts in IOVA region N (one row of mtk_iommu.c's iova_region_larb_msk)."""

    number: Num
    larbs: tuple[Num, ...]
    ports: tuple[Num, ...]  # empty: every port
    except_ports: bool
    span: Span = node_field(default=NO_SPAN, compare=False)


class Quirk(Node):
    name: Ident
    span: Span = node_field(default=NO_SPAN, compare=False)


class Disabled(Node):
    span: Span = node_field(default=NO_SPAN, compare=False)


IommuProp = (
    Contexts
    | Domains
    | Reserved
    | Secure
    | Cells
    | StreamBits
    | Smrs
    | StreamMatchMask
    | Aperture
    | Reg
    | IommuMap
    | MapMask
    | SocGroup
    | Region
    | Quirk
    | Disabled
)


class Iommu(Node):
    name: Ident
    kind: Ident
    props: tuple[IommuProp, ...]
    span: Span = node_field(default=NO_SPAN, compare=False)


# ------------------------------------------------------------------ device
class StreamSid(Node):
    sid: Num
    mask: Num | None
    span: Span = node_field(default=NO_SPAN, compare=False)


class StreamSwgroup(Node):
    swgroup: Ident | Num
    span: Span = node_field(default=NO_SPAN, compare=False)


class StreamContext(Node):
    index: Num
    span: Span = node_field(default=NO_SPAN, compare=False)


Stream = StreamSid | StreamSwgroup | StreamContext


class Tags(Node):
    names: tuple[Ident, ...]
    span: Span = node_field(default=NO_SPAN, compare=False)


class AttachIommu(Node):
    iommu: Ident
    streams: tuple[Stream, ...]
    span: Span = node_field(default=NO_SPAN, compare=False)


class Pci(Node):
    address: Ident
    span: Span = node_field(default=NO_SPAN, compare=False)


class Upstream(Node):
    bridge: Ident
    span: Span = node_field(default=NO_SPAN, compare=False)


class DmaMask(Node):
    bits: Num
    span: Span = node_field(default=NO_SPAN, compare=False)


class DmaRange(Node):
    """`dma-range CPU size SIZE [bus BUS]`: the bus's dma-ranges window."""

    cpu: Num
    size: Num
    bus: Num | None
    span: Span = node_field(default=NO_SPAN, compare=False)


class Coherent(Node):
    coherent: bool
    span: Span = node_field(default=NO_SPAN, compare=False)


class Untrusted(Node):
    span: Span = node_field(default=NO_SPAN, compare=False)


class Driver(Node):
    flags: tuple[Ident, ...]
    span: Span = node_field(default=NO_SPAN, compare=False)


class Alias(Node):
    address: Ident
    span: Span = node_field(default=NO_SPAN, compare=False)


class Acs(Node):
    enabled: bool
    span: Span = node_field(default=NO_SPAN, compare=False)


class AcsRegs(Node):
    """The ACS capability and control registers, flag words as lspci names them (sv, tb, rr,
    cr, uf, ec, dt); ``ctl`` None: as the firmware leaves it, nothing set."""

    cap: tuple[Ident, ...]
    ctl: tuple[Ident, ...] | None
    span: Span = node_field(default=NO_SPAN, compare=False)


class PcieType(Node):
    kind: Ident
    span: Span = node_field(default=NO_SPAN, compare=False)


class Multifunction(Node):
    enabled: bool
    span: Span = node_field(default=NO_SPAN, compare=False)


class Bound(Node):
    """The driver bound to the function: an Ident or a Str (``bound "8139too"``)."""

    driver: Ident | Str
    span: Span = node_field(default=NO_SPAN, compare=False)


class Caps(Node):
    """PCIe capabilities the device has (``caps pasid, ats``): facts drivers decide on."""

    caps: tuple[Ident, ...]
    span: Span = node_field(default=NO_SPAN, compare=False)


class ProbeOrder(Node):
    order: Num
    span: Span = node_field(default=NO_SPAN, compare=False)


DeviceProp = (
    Tags
    | AttachIommu
    | Pci
    | Upstream
    | DmaMask
    | DmaRange
    | Coherent
    | Untrusted
    | Driver
    | Caps
    | Alias
    | Acs
    | AcsRegs
    | ProbeOrder
    | Disabled
    | PcieType
    | Multifunction
    | Bound
)


class Device(Node):
    name: Ident
    compatibles: tuple[Str, ...]
    props: tuple[DeviceProp, ...]
    span: Span = node_field(default=NO_SPAN, compare=False)


BridgeProp = Pci | Upstream | Acs | AcsRegs | Multifunction | Alias | Bound


class Bridge(Node):
    name: Ident
    kind: Ident
    props: tuple[BridgeProp, ...]
    span: Span = node_field(default=NO_SPAN, compare=False)
    compatibles: tuple[Str, ...] = ()  # its IDs, as for a device: "pci8086,a290"


class Domain(Node):
    name: Ident
    type: Ident
    iommus: tuple[Ident, ...]  # `on A, B`: a domain that drivers attach across instances
    attach: tuple[Ident, ...]
    span: Span = node_field(default=NO_SPAN, compare=False)
    # `default of DEVICE`: that device's default domain, which a driver attaches to others
    of: Ident | None = None
    window: Window | None = None  # an arm-mapping's `window BASE size SIZE`


# ------------------------------------------------------------------ selectors
class SelName(Node):
    """A device name or a tag; which one is decided by the model."""

    name: Ident
    span: Span = node_field(default=NO_SPAN, compare=False)


class SelCompatible(Node):
    pattern: Str
    span: Span = node_field(default=NO_SPAN, compare=False)


class SelOn(Node):
    iommu: Ident
    span: Span = node_field(default=NO_SPAN, compare=False)


class SelKind(Node):
    kind: Ident
    span: Span = node_field(default=NO_SPAN, compare=False)


class SelPci(Node):
    pattern: Ident
    span: Span = node_field(default=NO_SPAN, compare=False)


class SelUntrusted(Node):
    span: Span = node_field(default=NO_SPAN, compare=False)


class SelCap(Node):
    cap: Ident
    span: Span = node_field(default=NO_SPAN, compare=False)


class SelAll(Node):
    span: Span = node_field(default=NO_SPAN, compare=False)


class SelNot(Node):
    operand: Selector
    span: Span = node_field(default=NO_SPAN, compare=False)


class SelAnd(Node):
    operands: tuple[Selector, ...]
    span: Span = node_field(default=NO_SPAN, compare=False)


class SelOr(Node):
    operands: tuple[Selector, ...]
    span: Span = node_field(default=NO_SPAN, compare=False)


Selector = (
    SelName
    | SelCompatible
    | SelOn
    | SelKind
    | SelPci
    | SelUntrusted
    | SelCap
    | SelAll
    | SelNot
    | SelAnd
    | SelOr
)


# ------------------------------------------------------------------ rules
class Verb(Node):
    """``kind`` is the verb as written (``requires``, ``excludes implicit``, ...)."""

    kind: str
    domain_type: Ident | None = node_field(default=None)
    contexts: tuple[ContextRange, ...] = node_field(default=())
    flags: tuple[Ident, ...] = node_field(default=())  # `driver FLAG, ...`
    # `builds domain NAME: KIND [per device]`
    domain: Ident | None = node_field(default=None)
    built: Ident | None = node_field(default=None)
    per_device: bool = node_field(default=False)
    unless: Ident | None = node_field(default=None)  # `unless attached|translated`
    log: Str | None = node_field(default=None)  # `log "failed to attach: {errno}"`
    window: Window | None = node_field(default=None)  # an arm-mapping's IOVA window
    span: Span = node_field(default=NO_SPAN, compare=False)


class Reserve(Node):
    iommu: Ident
    index: Num
    selector: Selector
    span: Span = node_field(default=NO_SPAN, compare=False)


class Rule(Node):
    name: Str | None
    selector: Selector | None
    verb: Verb | Reserve
    because: Str | None
    source: Str | None
    span: Span = node_field(default=NO_SPAN, compare=False)


# ------------------------------------------------------------------ conditions
class CondKernel(Node):
    op: str
    version: Version
    span: Span = node_field(default=NO_SPAN, compare=False)


class CondArch(Node):
    op: str
    arch: Ident
    span: Span = node_field(default=NO_SPAN, compare=False)


class CondCmdline(Node):
    token: Str
    span: Span = node_field(default=NO_SPAN, compare=False)


class CondConfig(Node):
    symbol: Ident
    span: Span = node_field(default=NO_SPAN, compare=False)


class CondNot(Node):
    operand: Condition
    span: Span = node_field(default=NO_SPAN, compare=False)


class CondAnd(Node):
    operands: tuple[Condition, ...]
    span: Span = node_field(default=NO_SPAN, compare=False)


class CondOr(Node):
    operands: tuple[Condition, ...]
    span: Span = node_field(default=NO_SPAN, compare=False)


Condition = CondKernel | CondArch | CondCmdline | CondConfig | CondNot | CondAnd | CondOr


# ------------------------------------------------------------------ expect
class Query(Node):
    subject: Ident
    attribute: Ident
    span: Span = node_field(default=NO_SPAN, compare=False)


class Word(Node):
    """A bare value such as ``dma-direct+swiotlb``."""

    text: str
    span: Span = node_field(default=NO_SPAN, compare=False)


class ValueList(Node):
    items: tuple[Value, ...]
    span: Span = node_field(default=NO_SPAN, compare=False)


Value = Word | Num | Str | Version | ValueList


class Expect(Node):
    query: Query
    op: str
    value: Value
    span: Span = node_field(default=NO_SPAN, compare=False)


# ------------------------------------------------------------------ file
class Include(Node):
    path: Str
    span: Span = node_field(default=NO_SPAN, compare=False)


class When(Node):
    condition: Condition
    items: tuple[Item, ...]
    span: Span = node_field(default=NO_SPAN, compare=False)


class HostMap(Node):
    """`map IOMMU ...` at the top level: a PCI host's iommu-map onto an IOMMU declared
    elsewhere (a fact pack's), with the entry as an `iommu` block's `map` line has it."""

    iommu: Ident
    entry: IommuMap
    span: Span = node_field(default=NO_SPAN, compare=False)


Item = Include | Platform | Iommu | Device | Bridge | Domain | Rule | When | Expect | HostMap


class Comment(Node):
    text: str
    span: Span = node_field(default=NO_SPAN, compare=False)


class File(Node):
    path: str
    items: tuple[Item, ...]
    comments: tuple[Comment, ...] = node_field(default=(), compare=False)
    span: Span = node_field(default=NO_SPAN, compare=False)
