"""The canonical layout of a rule file: the generator half of parse.

Every comment is kept, in place: a comment on its own line stays before the
statement that follows it, a comment after a statement stays on its line.
Blank lines between statements are kept (at most one).  Small blocks go on one
line, ``{ a; b }``, when they fit and hold no comment; ``platform``, ``iommu``
and ``when`` blocks are always one property per line.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

from . import ast
from .enums import Verb
from .parse import normalize_text, parse

INDENT = "    "
WIDTH = 100


# ---------------------------------------------------------------- expressions
# Each node type has its own layout: the tables below map an AST class to it, as
# parse.py maps each grammar rule to the node it builds.
def num(n: ast.Num) -> str:
    return n.text


def ctx_set(ranges: tuple[ast.ContextRange, ...]) -> str:
    return ", ".join(
        num(r.first) + (f"..{num(r.last)}" if r.last is not None else "") for r in ranges
    )


def _joined(op: str, parts: list[str], parent: str, joiner: str = "") -> str:
    """`a and b`, parenthesised inside another operator."""
    text = (joiner or f" {op} ").join(parts)
    return f"({text})" if parent else text


SELECTORS: dict[type, Callable[[Any, str], str]] = {
    ast.SelName: lambda s, _p: s.name.text,
    ast.SelCompatible: lambda s, _p: f"compatible {s.pattern.text}",
    ast.SelOn: lambda s, _p: f"on {s.iommu.text}",
    ast.SelKind: lambda s, _p: f"kind {s.kind.text}",
    ast.SelPci: lambda s, _p: f"pci {s.pattern.text}",
    ast.SelUntrusted: lambda s, _p: "untrusted",
    ast.SelCap: lambda s, _p: f"cap {s.cap.text}",
    ast.SelAll: lambda s, _p: "all",
    ast.SelNot: lambda s, _p: "not " + selector(s.operand, "not"),
    ast.SelAnd: lambda s, p: _joined("and", [selector(o, "and") for o in s.operands], p),
    ast.SelOr: lambda s, p: _joined("or", [selector(o, "or") for o in s.operands], p),
}


def selector(s: ast.Selector, parent: str = "") -> str:
    return SELECTORS[type(s)](s, parent)


def _cond_op(op: str, c: ast.CondAnd | ast.CondOr, parent: str, wrap: str) -> str:
    parts = [condition(o, op) for o in c.operands]
    return _joined(op, parts, parent, f"{wrap}{op} " if wrap else "")


CONDITIONS: dict[type, Callable[[Any, str, str], str]] = {
    ast.CondKernel: lambda c, _p, _w: f"kernel {c.op} {c.version.text}",
    ast.CondArch: lambda c, _p, _w: f"arch {c.op} {c.arch.text}",
    ast.CondCmdline: lambda c, _p, _w: f"cmdline has {c.token.text}",
    ast.CondConfig: lambda c, _p, _w: f"config {c.symbol.text}",
    ast.CondNot: lambda c, _p, _w: "not " + condition(c.operand, "not"),
    ast.CondAnd: lambda c, p, w: _cond_op("and", c, p, w),
    ast.CondOr: lambda c, p, w: _cond_op("or", c, p, w),
}


def condition(c: ast.Condition, parent: str = "", wrap: str = "") -> str:
    """A condition; with ``wrap``, the top-level and/or operands go on their own lines."""
    return CONDITIONS[type(c)](c, parent, wrap)


def value(v: ast.Value) -> str:
    if isinstance(v, ast.ValueList):
        return "[" + ", ".join(value(i) for i in v.items) + "]"
    return v.text


def verb(v: ast.Verb) -> str:
    if v.kind == Verb.ALLOWS_CONTEXTS:
        return f"allows contexts {ctx_set(v.contexts)}"
    if v.flags:
        return "driver " + ", ".join(f.text for f in v.flags)
    if v.domain is not None and v.built is not None:
        each = " per device" if v.per_device else ""
        unless = f" unless {v.unless.text}" if v.unless is not None else ""
        log = f" log {v.log.text}" if v.log is not None else ""
        window = _window(v.window)
        return f"builds domain {v.domain.text}: {v.built.text}{window}{each}{unless}{log}"
    if v.domain_type is not None:
        return f"{v.kind} {v.domain_type.text}"
    return v.kind


def rule_text(r: ast.Rule, wrap: str = " ") -> str:
    """A rule on one line, or with ``wrap`` before its because/source clauses."""
    head = "rule " + (f"{r.name.text}: " if r.name else "")
    if isinstance(r.verb, ast.Reserve):
        body = f"context {r.verb.iommu.text}.{num(r.verb.index)} reserved for " + selector(
            r.verb.selector
        )
    else:
        assert r.selector is not None
        body = f"{selector(r.selector)} {verb(r.verb)}"
    tail = ""
    if r.because:
        tail += f"{wrap}because {r.because.text}"
    if r.source:
        tail += f"{wrap}source {r.source.text}"
    return head + body + tail


STREAMS: dict[type, Callable[[Any], str]] = {
    ast.StreamSid: lambda s: f"sid {num(s.sid)}" + (f" mask {num(s.mask)}" if s.mask else ""),
    ast.StreamSwgroup: lambda s: f"swgroup {s.swgroup.text}",
    ast.StreamContext: lambda s: f"context {num(s.index)}",
}


def stream(s: ast.Stream) -> str:
    return STREAMS[type(s)](s)


def _ram(p: ast.Ram) -> str:
    if p.base.value == 0 and p.base.text == "0" and p.size is not None:
        return f"ram {num(p.size)}"
    return f"ram {num(p.base)}" + (f" size {num(p.size)}" if p.size else "")


def _map(p: ast.IommuMap) -> str:
    dom = f"pci-domain {num(p.pci_domain)} " if p.pci_domain is not None else ""
    mask = f" mask {num(p.mask)}" if p.mask is not None else ""
    smr = f" smr-mask {num(p.smr_mask)}" if p.smr_mask is not None else ""
    return f"map {dom}rid {num(p.rid)} sid {num(p.sid)}{smr} length {num(p.length)}{mask}"


def _soc_group(p: ast.SocGroup) -> str:
    members = ", ".join(m.text for m in p.members)
    when = f" when {condition(p.condition)}" if p.condition is not None else ""
    return f"group {p.name.text}: {members}{when}"


def _region(p: ast.Region) -> str:
    larbs = ", ".join(num(n) for n in p.larbs)
    ports = ", ".join(num(n) for n in p.ports)
    which = f" {'except ' if p.except_ports else ''}ports {ports}" if p.ports else ""
    return f"region {num(p.number)} larb {larbs}{which}"


def _attach(p: ast.AttachIommu) -> str:
    streams = ", ".join(stream(s) for s in p.streams)
    return f"iommu {p.iommu.text}" + (f" {streams}" if streams else "")


# One property of a platform, iommu, device or bridge block.
PROPS: dict[type, Callable[[Any], str]] = {
    ast.Arch: lambda p: f"arch {p.value.text}",
    ast.Kernel: lambda p: f"kernel {p.version.text}",
    ast.Ram: _ram,
    ast.Cmdline: lambda p: f"cmdline {p.text.text}",
    ast.Config: lambda p: f"config {p.symbol.text}" + (f" = {p.value.text}" if p.value else ""),
    ast.Contexts: lambda p: f"contexts {num(p.count)}",
    ast.Domains: lambda p: "domains " + ", ".join(t.text for t in p.types),
    ast.Reserved: lambda p: f"reserved {ctx_set(p.contexts)}",
    ast.Secure: lambda p: f"secure {ctx_set(p.contexts)}",
    ast.Cells: lambda p: f"cells {num(p.count)}",
    ast.StreamBits: lambda p: f"stream-bits {num(p.bits)}",
    ast.Smrs: lambda p: f"smrs {num(p.count)}",
    ast.StreamMatchMask: lambda p: f"stream-match-mask {num(p.mask)}",
    ast.Reg: lambda p: f"reg {num(p.address)}",
    ast.Aperture: lambda p: f"aperture {num(p.base)} size {num(p.size)}",
    ast.IommuMap: _map,
    ast.MapMask: lambda p: f"map-mask {num(p.mask)}",
    ast.SocGroup: _soc_group,
    ast.Region: _region,
    ast.Quirk: lambda p: f"quirk {p.name.text}",
    ast.Disabled: lambda p: "disabled",
    ast.Tags: lambda p: "tags " + ", ".join(t.text for t in p.names),
    ast.AttachIommu: _attach,
    ast.Pci: lambda p: f"pci {p.address.text}",
    ast.Upstream: lambda p: f"upstream {p.bridge.text}",
    ast.DmaMask: lambda p: f"dma-mask {num(p.bits)}",
    ast.DmaRange: lambda p: (
        f"dma-range {num(p.cpu)} size {num(p.size)}"
        + (f" bus {num(p.bus)}" if p.bus is not None else "")
    ),
    ast.Coherent: lambda p: "coherent" if p.coherent else "non-coherent",
    ast.Untrusted: lambda p: "untrusted",
    ast.Caps: lambda p: "caps " + ", ".join(c.text for c in p.caps),
    ast.Driver: lambda p: "driver " + ", ".join(f.text for f in p.flags),
    ast.Alias: lambda p: f"alias {p.address.text}",
    ast.Acs: lambda p: "acs yes" if p.enabled else "acs no",
    ast.ProbeOrder: lambda p: f"probe-order {num(p.order)}",
    ast.AcsRegs: lambda p: (
        "acs cap "
        + " ".join(f.text for f in p.cap)
        + (" ctl " + " ".join(f.text for f in p.ctl) if p.ctl is not None else "")
    ),
    ast.PcieType: lambda p: f"pcie {p.kind.text}",
    ast.Multifunction: lambda p: "multifunction yes" if p.enabled else "multifunction no",
    ast.Bound: lambda p: f"bound {p.driver.text}",
}


def prop(p: Any) -> str:
    """One property of a platform, iommu, device or bridge block."""
    layout = PROPS.get(type(p))
    if layout is None:
        raise TypeError(f"no layout for {type(p).__name__}")
    return layout(p)


def _window(w: ast.Window | None) -> str:
    return "" if w is None else f" window {num(w.base)} size {num(w.size)}"


def _domain_header(item: ast.Domain) -> str:
    if item.of is not None:
        return f"domain {item.name.text}: default of {item.of.text}{_window(item.window)}"
    on = ", ".join(i.text for i in item.iommus)
    return f"domain {item.name.text}: {item.type.text} on {on}{_window(item.window)}"


HEADERS: dict[type, Callable[[Any], str]] = {
    ast.Platform: lambda item: "platform",
    ast.Iommu: lambda item: f"iommu {item.name.text}: {item.kind.text}",
    ast.Device: lambda item: (
        f"device {item.name.text}: " + ", ".join(c.text for c in item.compatibles)
    ),
    ast.Bridge: lambda item: (
        f"bridge {item.name.text}: {item.kind.text}"
        + "".join((" " if i == 0 else ", ") + c.text for i, c in enumerate(item.compatibles))
    ),
    ast.Domain: _domain_header,
    ast.When: lambda item: f"when {condition(item.condition)}",
}


def header(item: ast.Item) -> str:
    layout = HEADERS.get(type(item))
    if layout is None:
        raise TypeError(type(item).__name__)
    return layout(item)


def _words(text: str) -> list[str]:
    """Split at spaces outside string literals."""
    words: list[str] = []
    cur = ""
    in_str = False
    i = 0
    while i < len(text):
        ch = text[i]
        if in_str and ch == "\\":
            cur += text[i : i + 2]
            i += 2
            continue
        if ch == '"':
            in_str = not in_str
        if ch == " " and not in_str:
            if cur:
                words.append(cur)
            cur = ""
        else:
            cur += ch
        i += 1
    if cur:
        words.append(cur)
    return words


# keywords whose string argument stays on their line: `compatible "x"`, `log "..."`
STRING_ARGUMENT = frozenset({"compatible", "log", "cmdline", "because", "source"})


def _glued(words: list[str]) -> list[str]:
    """The words, with each STRING_ARGUMENT keyword joined to its string and each
    'and'/'or'/'not' to what follows, so no line ends in a connective."""
    out: list[str] = []
    for word in words:
        last = out[-1].rsplit(" ", 1)[-1] if out else ""
        if (last in STRING_ARGUMENT and word.startswith('"')) or last in ("and", "or", "not"):
            out[-1] += " " + word
        else:
            out.append(word)
    return out


def fill(text: str, depth: int) -> str:
    """Break a too-long line, before 'and'/'or' where it can, else between tokens;
    continuation lines get two more indents."""
    if len(INDENT * depth + text) <= WIDTH:
        return text
    # Phrases start at 'and'/'or'; a phrase too long for a line is split into words.
    phrases: list[str] = []
    for word in _words(text):
        if word in ("and", "or") or not phrases:
            phrases.append(word)
        else:
            phrases[-1] += " " + word
    width = WIDTH - len(INDENT * depth)
    pieces: list[str] = []
    for phrase in phrases:
        if len(phrase) + len(INDENT * 2) <= width:
            pieces.append(phrase)
        else:
            pieces.extend(_glued(_words(phrase)))
    lines: list[str] = []
    cur = ""
    for piece in pieces:
        if cur and len(cur) + 1 + len(piece) > width:
            lines.append(cur)
            cur = INDENT * 2 + piece
        else:
            cur = f"{cur} {piece}" if cur else piece
    lines.append(cur)
    return ("\n" + INDENT * depth).join(lines)


class _Attach:
    """The 'attach a, b' line of a domain block, as a property."""

    def __init__(self, names: tuple[ast.Ident, ...]):
        self.names = names
        spans = [n.span for n in names]
        self.span = spans[0].__class__(
            spans[0].file, spans[0].line, spans[0].col, spans[-1].end_line, spans[-1].end_col
        )


def _props(item: ast.Item) -> list[Any]:
    if isinstance(item, ast.Domain):
        return [_Attach(item.attach)] if item.attach else []
    return list(getattr(item, "props", ()))


def _prop_text(p: Any) -> str:
    if isinstance(p, _Attach):
        return "attach " + ", ".join(n.text for n in p.names)
    return prop(p)


class _Writer:
    def __init__(self, file: ast.File, text: str):
        self.out: list[str] = []
        self.comments = deque(sorted(file.comments, key=lambda c: (c.span.line, c.span.col)))
        lines = text.split("\n")
        self.blank = {i + 1 for i, line in enumerate(lines) if not line.strip()}
        self.last_line = 0

    def emit(self, depth: int, text: str) -> None:
        self.out.append(INDENT * depth + text if text else "")

    def separate(self, upto: int) -> None:
        """One blank line if the source had one between the last line written and ``upto``."""
        if not self.out or not self.out[-1] or self.out[-1].endswith("{"):
            return
        if any(line in self.blank for line in range(self.last_line + 1, upto)):
            self.out.append("")

    def leading(self, depth: int, line: int) -> None:
        while self.comments and self.comments[0].span.line < line:
            comment = self.comments.popleft()
            self.separate(comment.span.line)
            self.emit(depth, comment.text)
            self.last_line = comment.span.line

    def trailing(self, line: int, after_col: int = 0) -> str:
        if (
            self.comments
            and self.comments[0].span.line == line
            and self.comments[0].span.col >= after_col
        ):
            return "  " + self.comments.popleft().text
        return ""

    def comments_within(self, first: int, last: int, end_col: int) -> bool:
        for c in self.comments:
            if c.span.line > last:
                return False
            if first <= c.span.line < last or (c.span.line == last and c.span.col < end_col):
                return True
        return False

    def items(self, items: tuple[ast.Item, ...], depth: int) -> None:
        prev_kind = None
        for item in items:
            start = item.span.line
            kind = type(item)
            if (
                depth == 0
                and prev_kind is not None
                and _is_block(item)
                and prev_kind is not kind
                and self.out
                and self.out[-1]
            ):
                self.emit(0, "")
            self.leading(depth, start)
            self.separate(start)
            self.item(item, depth)
            self.last_line = item.span.end_line
            prev_kind = kind

    def item(self, item: ast.Item, depth: int) -> None:
        span = item.span
        if isinstance(item, ast.Include):
            self.emit(depth, f"include {item.path.text}" + self.trailing(span.end_line))
            return
        if isinstance(item, ast.Rule):
            text = rule_text(item)
            if len(INDENT * depth + text) > WIDTH:
                head, *clauses = rule_text(item, "\n").split("\n")
                text = "\n".join(
                    [fill(head, depth)]
                    + [INDENT * (depth + 1) + fill(c, depth + 1) for c in clauses]
                )
            self.emit(depth, text + self.trailing(span.end_line, span.end_col))
            return
        if isinstance(item, ast.HostMap):
            text = f"map {item.iommu.text} " + _map(item.entry).removeprefix("map ")
            self.emit(depth, text + self.trailing(span.end_line, span.end_col))
            return
        if isinstance(item, ast.Expect):
            text = f"expect {item.query.subject.text}.{item.query.attribute.text} {item.op} "
            text = fill(text + value(item.value), depth)
            self.emit(depth, text + self.trailing(span.end_line, span.end_col))
            return
        if isinstance(item, ast.When):
            head = header(item) + " {"
            head = fill(head, depth)
            first_line = item.items[0].span.line if item.items else span.end_line
            tail = self.trailing(span.line) if first_line > span.line else ""
            self.emit(depth, head + tail)
            self.last_line = span.line
            self.items(item.items, depth + 1)
            self.leading(depth + 1, span.end_line)
            self.emit(depth, "}" + self.trailing(span.end_line, span.end_col - 1))
            return
        props = _props(item)
        head = header(item)
        always_multi = isinstance(item, ast.Platform | ast.Iommu)
        if not props and not isinstance(item, ast.Platform):
            self.emit(depth, head + self.trailing(span.end_line))
            return
        inline = (
            f"{head} {{ " + "; ".join(_prop_text(p) for p in props) + " }"
            if props
            else f"{head} {{ }}"
        )
        if (
            not always_multi
            and len(INDENT * depth + inline) <= WIDTH
            and not self.comments_within(span.line, span.end_line, span.end_col)
        ):
            self.emit(depth, inline + self.trailing(span.end_line, span.end_col))
            return
        first_line = props[0].span.line if props else span.end_line
        tail = self.trailing(span.line) if first_line > span.line else ""
        self.emit(depth, head + " {" + tail)
        self.last_line = span.line
        for p in props:
            self.leading(depth + 1, p.span.line)
            self.separate(p.span.line)
            self.emit(depth + 1, _prop_text(p) + self.trailing(p.span.end_line, p.span.end_col))
            self.last_line = p.span.end_line
        self.leading(depth + 1, span.end_line)
        self.emit(depth, "}" + self.trailing(span.end_line, span.end_col - 1))


def _is_block(item: ast.Item) -> bool:
    return isinstance(item, ast.Platform | ast.Iommu | ast.When)


def format_file(file: ast.File, text: str) -> str:
    """Lay out a parsed file (parsed with comments kept) canonically."""
    writer = _Writer(file, normalize_text(text))
    writer.items(file.items, 0)
    writer.leading(0, 1 << 30)
    lines = writer.out
    while lines and not lines[0]:
        lines.pop(0)
    return "\n".join(lines).rstrip() + "\n" if lines else ""


def format_text(text: str, path: str = "<input>") -> str:
    """Parse and format; raises DiagnosticError on a syntax error."""
    file = parse(text, path, keep_comments=True)
    return format_file(file, text)
