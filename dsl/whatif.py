"""What-if: a change set applied on top of the loaded files, re-resolved, and the diff.

Changes are written in the language itself, so they need no second syntax:

    set kernel 6.8                  set a platform fact (arch, kernel, ram, cmdline, config)
    set mc contexts 2               set a property of an IOMMU
    add rule gpu excludes implicit  add any statement (device, rule, domain, include, ...)
    drop rule "GPU drivers own..."  drop a rule by name, or by FILE:LINE
    drop device vde                 drop a device, IOMMU, bridge or domain
    drop include std/soc/tegra      drop an included file and what it says

The diff reads like Terraform's plan: ``+`` added, ``-`` removed, ``~`` changed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import ast
from .checks import render_value
from .diagnostics import Diagnostic, SourceMap, Span, did_you_mean, error
from .enums import Origin
from .grammar import mask_line
from .lalr import no_gc
from .loader import Loaded, Loader
from .model import Model, PciAddress, parse_pci
from .node import Node
from .parse import parse_text
from .report import COLUMNS
from .resolution import Domain, Resolution
from .validate import Known, build_model

# what a what-if compares per device: the report's columns, and the VFIO viability
ATTRS = (*COLUMNS[1:], "vfio")
PLATFORM_WORDS = ("arch", "kernel", "ram", "cmdline", "config")
DROP_TARGETS = ("rule", "device", "iommu", "bridge", "domain", "include")


class ChangeError(Exception):
    """A change that cannot be applied; carries diagnostics for the change text."""

    def __init__(self, diagnostics: list[Diagnostic], text: str, name: str):
        super().__init__(diagnostics[0].message if diagnostics else "bad change")
        self.diagnostics = diagnostics
        self.text = text
        self.name = name


@dataclass(frozen=True)
class Change:
    text: str
    verb: str  # set, add, drop
    items: tuple[ast.Item, ...] = ()
    target: str = ""  # for drop: what kind ("rule", "device", "include"); for set: the IOMMU
    name: str = ""


def _fail(text: str, name: str, message: str, col: int = 1, help: str = "") -> ChangeError:
    span = Span(name, 1, col, 1, max(col + 1, len(text) + 1))
    return ChangeError([error("E501", message, span, help=help)], text, name)


def parse_change(text: str, name: str = "<change>") -> Change:
    """Parse one change; raise ChangeError with a diagnostic on the change's text."""
    words = text.strip().split(None, 1)
    if not words:
        raise _fail(text, name, "empty change", help="write 'set ...', 'add ...' or 'drop ...'")
    verb, rest = words[0], (words[1] if len(words) > 1 else "")
    at = text.index(rest) + 1 if rest else len(text) + 1  # the column where `rest` starts
    if verb == "set":
        return _parse_set(text, name, rest, at)
    if verb == "add":
        return Change(text, "add", _parse(rest, text, name, at - 1))
    if verb == "drop":
        parts = rest.split(None, 1)
        if len(parts) != 2 or parts[0] not in DROP_TARGETS:
            raise _fail(
                text,
                name,
                "expected 'drop rule|device|iommu|bridge|domain|include NAME'",
                at,
                help=did_you_mean(parts[0], DROP_TARGETS) if parts else "",
            )
        return Change(text, "drop", (), parts[0], parts[1].strip().strip('"'))
    if verb == "move":
        parts = rest.split()
        if len(parts) != 3 or parts[1] != "to":
            raise _fail(
                text,
                name,
                "expected 'move DEVICE to BRIDGE'",
                at,
                help="moves the card in DEVICE's slot, all its functions, below BRIDGE (a "
                "root or downstream port): e.g. 'move dgpu to pch_rp7'",
            )
        return Change(text, "move", (), parts[2], parts[0])
    raise _fail(
        text,
        name,
        f"unknown change '{verb}'",
        1,
        help="write 'set ...', 'add ...', 'drop ...' or 'move ...'",
    )


def _parse_set(text: str, name: str, rest: str, at: int) -> Change:
    """`set FACT` (a platform fact) or `set IOMMU PROPERTY`: parsed inside the block it
    belongs to, with every diagnostic pointing at what the user typed."""
    if not rest.strip():
        raise _fail(
            text,
            name,
            "set what?",
            1,
            help="e.g. 'set kernel 6.8', 'set cmdline \"iommu=pt\"', 'set mc contexts 2'",
        )
    first = rest.split(None, 1)[0]
    if first in PLATFORM_WORDS:
        target, fact, fact_at = "", rest, at
        prefix = "platform { "
    elif did_you_mean(first, PLATFORM_WORDS):
        raise _fail(
            text,
            name,
            f"unknown platform fact '{first}'",
            at,
            help=did_you_mean(first, PLATFORM_WORDS),
        )
    else:
        target = first
        fact = rest[len(first) :].lstrip()
        fact_at = at + len(rest) - len(fact)
        prefix = f"iommu {first}: arm-smmu {{ "
    code, _comment = mask_line(fact)
    braces = [i for i, ch in enumerate(code) if ch in "{}"]
    if braces:
        col = fact_at + braces[0]
        raise ChangeError(
            [
                error(
                    "E501",
                    f"'{code[braces[0]]}' in a 'set' change",
                    Span(name, 1, col, 1, col + 1),
                    label="a 'set' change stays inside the block of the fact it sets",
                    help="'set' changes one fact of the board; to add statements, write 'add ...'",
                )
            ],
            text,
            name,
        )
    items = _parse(prefix + fact + " }", text, name, fact_at - len(prefix) - 1)
    if len(items) != 1:
        raise _fail(text, name, "'set' changes one fact", fact_at)
    return Change(text, "set", items, target)


def _parse(body: str, text: str, name: str, shift: int) -> tuple[ast.Item, ...]:
    """Parse generated text in which the user's text starts ``shift`` columns to the left of
    where it starts in ``text``; diagnostics point at ``text``. An error in the text around
    the user's (a block's closing brace) is reported where the user's text ends."""
    result = parse_text(body, name)
    if not result.ok or result.file is None:
        end = len(text.rstrip()) + 1
        diags = []
        for d in result.diagnostics:
            col, end_col = d.span.col + shift, d.span.end_col + shift
            message = d.message
            if col > end:  # in what we generated: the user's text ended too early
                col, end_col = end, end + 1
                if message == "unexpected '}'":
                    message = "the change ends too early"
            span = Span(name, 1, max(col, 1), 1, max(end_col, max(col, 1) + 1))
            diags.append(error(d.code, message, span, label=d.label, help=d.help))
        raise ChangeError(diags, text, name)
    return tuple(_shifted(item, shift) for item in result.file.items)


def _shifted(value: Any, cols: int) -> Any:
    """Parsed syntax with the columns of its first line as they are in the change's text
    (the body starts ``cols`` columns to the left of where the user wrote it), so a later
    diagnostic on an added or set statement is quoted where it points; the lines after the
    first are the text's own."""
    if type(value) is Span:
        file, line, col, end_line, end_col = value
        if not line:
            return value
        col = max(col + cols, 1) if line == 1 else col
        end_col = max(end_col + cols, col + 1) if end_line == 1 else end_col
        return Span(file, line, col, end_line, end_col)
    if type(value) is tuple:
        return tuple(_shifted(v, cols) for v in value)
    if isinstance(value, Node):
        return value.replace(**{f: _shifted(getattr(value, f), cols) for f in value._fields})
    return value


class ChangedLoad:
    """Loaded files with a change set applied; quacks like Loaded for build_model."""

    def __init__(self, base: Loaded, changes: list[Change]):
        self.base = base
        self.changes = changes
        self.sources = SourceMap()  # the base's own map stays as it was loaded
        self.sources.update(base.sources)
        self.diagnostics = list(base.diagnostics)
        self.partial = base.partial
        self.std = set(base.std)
        self.files = dict(base.files)
        # What each 'add' change brings, by change index (includes already loaded).
        self.added: dict[int, list[tuple[str, ast.Item]]] = {}
        # The statement of a change that brought each item (by id): the item, or its include.
        self.statement: dict[int, ast.Item] = {}
        for i, change in enumerate(changes):
            if change.verb == "add":
                added = self.added.setdefault(i, [])
                for item in change.items:
                    brought = (
                        self._include(item, f"<change {i + 1}>")
                        if isinstance(item, ast.Include)
                        else [(f"<change {i + 1}>", item)]
                    )
                    self.statement.update((id(it), item) for _, it in brought)
                    added += brought
            self.sources.add(f"<change {i + 1}>", change.text)

    def _include(self, inc: ast.Include, name: str) -> list[tuple[str, ast.Item]]:
        loader = Loader()
        loader.add_text(f"include {inc.path.text}\n", name, Path.cwd() / "whatif.iommu")
        loaded = loader.result
        self.diagnostics += loaded.diagnostics
        self.files.update(loaded.files)
        self.sources.update(loaded.sources)
        self.std |= loaded.std
        return loaded.ordered_items()

    @property
    def ok(self) -> bool:
        return not any(d.is_error for d in self.diagnostics)

    def is_std(self, name: str) -> bool:
        return name in self.std

    def platform_items(self) -> list[tuple[str, ast.Platform]]:
        """The `platform` statements of ordered_items: where every change sets platform
        facts, the base's with the changes applied, not walking all of its items (10,000
        on a 10k-device board, at every what-if of the command line)."""
        items: list[tuple[str, ast.Item]]
        if all(c.verb == "set" and not c.target for c in self.changes):
            items = list(self.base.platform_items())
            for change in self.changes:
                items = _apply_set(change, items)
        else:
            items = self.ordered_items()
        return [(f, it) for f, it in items if isinstance(it, ast.Platform)]

    def ordered_items(self) -> list[tuple[str, ast.Item]]:
        """The base's items with each change applied in turn (a later 'add' survives an
        earlier 'drop' of the same name)."""
        items = self.base.ordered_items()
        for i, change in enumerate(self.changes):
            if change.verb == "add":
                items = items + self.added[i]
            elif change.verb == "drop":
                items = [(f, it) for f, it in items if not _dropped(change, f, it)]
                items = [(f, _drop_in_when(change, f, it)) for f, it in items]
                if change.target in ("device", "bridge", "domain"):
                    items = _without_name(change.name, items)
            elif change.verb == "set":
                items = _apply_set(change, items)
            elif change.verb == "move":
                items = _apply_move(change, items)
        return items


def _dropped(change: Change, fname: str, item: ast.Item) -> bool:
    what, name = change.target, change.name
    if what == "include":
        target = name if name.endswith(".iommu") else name + ".iommu"
        return fname == target or fname.endswith("/" + target)
    if what == "rule" and isinstance(item, ast.Rule):
        return _rule_matches(item, name)
    kinds = {"device": ast.Device, "iommu": ast.Iommu, "bridge": ast.Bridge, "domain": ast.Domain}
    cls = kinds.get(what)
    return cls is not None and isinstance(item, cls) and item.name.text == name  # type: ignore[union-attr]


def _rule_matches(rule: ast.Rule, name: str) -> bool:
    return _rule_called(rule.name.value if rule.name is not None else None, rule.span, name)


def _rule_called(rule_name: str | None, span: Span, name: str) -> bool:
    """Whether `drop rule NAME` names this rule: by its name, or where it is as FILE:LINE
    (the file as the board names it, or its base name)."""
    return name in (rule_name, f"{span.file}:{span.line}", f"{Path(span.file).name}:{span.line}")


def _drop_in_when(change: Change, fname: str, item: ast.Item) -> ast.Item:
    """Drop the target inside `when` blocks too: rules and driver domains may sit there."""
    if not isinstance(item, ast.When) or change.target not in ("rule", "domain"):
        return item
    kept = tuple(
        _drop_in_when(change, fname, i) for i in item.items if not _dropped(change, fname, i)
    )
    return ast.When(item.condition, kept, item.span)


def _without_name(name: str, items: list[tuple[str, ast.Item]]) -> list[tuple[str, ast.Item]]:
    """A dropped device, bridge or domain leaves the board: expectations about it go, domains no
    longer attach the device, and a `default of` it goes with its own expectations
    (otherwise each would be an unknown-name error, E103)."""
    gone = {name} | {
        it.name.text for _, it in _walk(items) if isinstance(it, ast.Domain) and _of(it) == name
    }
    out: list[tuple[str, ast.Item]] = []
    for fname, item in items:
        kept = _cascade(gone, item)
        if kept is not None:
            out.append((fname, kept))
    return out


def _of(item: ast.Domain) -> str | None:
    return item.of.text if item.of is not None else None


def _walk(items: list[tuple[str, ast.Item]]) -> Iterator[tuple[str, ast.Item]]:
    for fname, item in items:
        yield fname, item
        if isinstance(item, ast.When):
            yield from _walk([(fname, i) for i in item.items])


def _cascade(gone: set[str], item: ast.Item) -> ast.Item | None:
    if isinstance(item, ast.Expect):
        return None if item.query.subject.text in gone else item
    if isinstance(item, ast.Domain):
        if _of(item) in gone:
            return None
        if any(a.text in gone for a in item.attach):
            attach = tuple(a for a in item.attach if a.text not in gone)
            return ast.Domain(item.name, item.type, item.iommus, attach, item.span, item.of)
        return item
    if isinstance(item, ast.When):
        inner = (_cascade(gone, i) for i in item.items)
        return ast.When(item.condition, tuple(i for i in inner if i is not None), item.span)
    return item


def _pci_of(item: ast.Item) -> PciAddress | None:
    for p in getattr(item, "props", ()):
        if isinstance(p, ast.Pci):
            return parse_pci(p.address.text)
    return None


def _upstream_of(item: ast.Item) -> str | None:
    for p in getattr(item, "props", ()):
        if isinstance(p, ast.Upstream):
            return p.bridge.text
    return None


def _apply_move(change: Change, items: list[tuple[str, ast.Item]]) -> list[tuple[str, ast.Item]]:
    """`move DEVICE to BRIDGE`: the card in DEVICE's slot, every function of it and what
    hangs below its own bridges, now below BRIDGE: at device 00 of BRIDGE's secondary bus
    (a PCIe link has one slot), each function keeping its number; the buses below the card
    renumbered past every bus in use, as a rescan would give them new numbers."""
    functions = {
        it.name.text: (f, it)
        for f, it in items
        if isinstance(it, ast.Device | ast.Bridge) and _pci_of(it) is not None
    }
    at = parse_pci(change.name)  # a card by its address: 'move 01:00.0 to pch_rp9'
    if at is not None:
        named = [n for n, (_, it) in functions.items() if _pci_of(it) == at]
        change = Change(change.text, change.verb, (), change.target, named[0] if named else "")
    if change.name not in functions or change.target not in functions:
        return items  # validate() said so
    card = _pci_of(functions[change.name][1])
    assert card is not None
    slot = {n for n, (_, it) in functions.items() if (p := _pci_of(it)) and p.slot == card.slot}
    below: set[str] = set()
    frontier = set(slot)
    while frontier:  # the card's own bridges' subtrees
        frontier = {
            n for n, (_, it) in functions.items() if _upstream_of(it) in frontier and n not in slot
        } - below
        below |= frontier
    used = {p.bus for _, it in functions.values() if (p := _pci_of(it)) is not None}
    target = _pci_of(functions[change.target][1])
    assert target is not None
    children = [
        p
        for n, (_, it) in functions.items()
        if _upstream_of(it) == change.target and n not in slot and (p := _pci_of(it))
    ]
    bus = children[0].bus if children else max(used | {target.bus}) + 1
    renumber: dict[int, int] = {}
    fresh = max(used | {bus}) + 1
    for n in sorted(below, key=lambda n: str(_pci_of(functions[n][1]))):
        old = _pci_of(functions[n][1])
        assert old is not None
        if old.bus not in renumber:
            renumber[old.bus] = fresh
            fresh += 1
    out: list[tuple[str, ast.Item]] = []
    for f, it in items:
        name = it.name.text if isinstance(it, ast.Device | ast.Bridge) else None
        if name in slot or name in below:
            old = _pci_of(it)
            assert old is not None and isinstance(it, ast.Device | ast.Bridge)
            up: str | None
            if name in slot:
                addr = f"{old.domain:04x}:{bus:02x}:00.{old.function}"
                up = change.target
            else:
                addr = f"{old.domain:04x}:{renumber[old.bus]:02x}:{old.device:02x}.{old.function}"
                up = _upstream_of(it)
            it = _with_place(it, addr, up)
        out.append((f, it))
    return out


def _with_place(item: ast.Device | ast.Bridge, address: str, upstream: str | None) -> ast.Item:
    props: list[Any] = [p for p in item.props if not isinstance(p, ast.Pci | ast.Upstream)]
    span = item.span
    props.insert(0, ast.Pci(ast.Ident(address, span), span))
    if upstream is not None:
        props.insert(1, ast.Upstream(ast.Ident(upstream, span), span))
    if isinstance(item, ast.Device):
        return ast.Device(item.name, item.compatibles, tuple(props), span)
    return ast.Bridge(item.name, item.kind, tuple(props), span, item.compatibles)


def _apply_set(change: Change, items: list[tuple[str, ast.Item]]) -> list[tuple[str, ast.Item]]:
    (new,) = change.items
    if not change.target:
        assert isinstance(new, ast.Platform)
        props = new.props

        def same(old: object) -> bool:
            """A fact the new one replaces: its kind, or for config the same symbol."""
            for p in props:
                if type(old) is type(p):
                    if isinstance(p, ast.Config):
                        return isinstance(old, ast.Config) and old.symbol.text == p.symbol.text
                    return True
            return False

        out: list[tuple[str, ast.Item]] = []
        for f, it in items:
            if isinstance(it, ast.Platform):
                it = ast.Platform(tuple(p for p in it.props if not same(p)), it.span)
            out.append((f, it))
        out.append(("<change>", new))
        return out
    assert isinstance(new, ast.Iommu)
    out = []
    for f, it in items:
        if isinstance(it, ast.Iommu) and it.name.text == change.target:
            kinds = {type(p) for p in new.props}
            it = ast.Iommu(
                it.name,
                it.kind,
                tuple(p for p in it.props if type(p) not in kinds) + new.props,
                it.span,
            )
        out.append((f, it))
    return out


# ---------------------------------------------------------------- the diff
# One device's entry in a diff: its name, "added", "removed" or "changed", and what
# changed as (attribute, before, after); an added device's one item is its DMA ops.
# Values are rendered when written out: a change can move every device of a large board,
# and the REPL writes the first few.
DeviceChange = tuple[str, str, list[tuple[str, object, object]]]


@dataclass
class Diff:
    """A what-if's difference. The device entries are kept as data and written out when
    asked: a change can move every device of a large board, and the REPL shows the first
    few (``text(max_devices)``)."""

    head: list[str] = field(default_factory=list)  # before the devices: the global default
    entries: list[DeviceChange] = field(default_factory=list)  # devices added, removed, changed
    tail: list[str] = field(default_factory=list)  # groups, contexts, errors, warnings
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def lines(self) -> list[str]:
        return [*self.head, *_entry_lines(self.entries), *self.tail]

    @property
    def devices(self) -> list[str]:
        return [name for name, _, _ in self.entries]

    @property
    def data(self) -> dict[str, object]:
        """The JSON form (schemas/whatif.json)."""
        changes: list[dict[str, object]] = []
        for name, change, moved in self.entries:
            entry: dict[str, object] = {"device": name, "change": change}
            if change == "changed":
                entry["attributes"] = {k: [x, y] for k, x, y in moved}
            changes.append(entry)
        return {
            "version": 1,
            "changes": changes,
            "summary": self.summary(),
            "counts": self.counts,
            "lines": self.lines,
        }

    @property
    def changed(self) -> bool:
        return bool(self.head or self.entries or self.tail)

    def count(self, key: str, n: int = 1) -> None:
        self.counts[key] = self.counts.get(key, 0) + n

    def summary(self) -> str:
        parts = []
        labels = [
            ("dma_ops", "device{s} change DMA ops"),
            ("domain", "device{s} change domain"),
            ("default_domain", "device{s} change default domain"),
            ("group", "device{s} change group"),
            ("iommu", "device{s} change IOMMU"),
            ("context", "device{s} change context"),
            ("system", "global default changes"),
            ("added", "device{s} added"),
            ("removed", "device{s} removed"),
            ("split", "group{s} split"),
            ("merged", "group{s} merged"),
            ("freed", "context{s} freed"),
            ("taken", "context{s} taken"),
            ("new_errors", "new error{s}"),
            ("fixed_errors", "error{s} gone"),
            ("new_warnings", "new warning{s}"),
            ("fixed_warnings", "warning{s} gone"),
        ]
        for key, label in labels:
            n = self.counts.get(key, 0)
            if n:
                parts.append(f"{n} " + label.format(s="" if n == 1 else "s"))
        return ", ".join(parts) if parts else "no changes"

    def text(self, max_devices: int | None = None) -> str:
        """The plan-style text; with ``max_devices``, the devices past that many are told
        as a count, and so are an IOMMU's contexts past a few (a change can move every
        device of a large board: the REPL's `try` shows the first ones and the summary of
        all at once, `diff` lists them all)."""
        if max_devices is None:
            lines = self.lines
        else:
            shown = _entry_lines(self.entries[:max_devices])
            hidden = len(self.entries) - max_devices
            more = [_more(hidden, "device")] if hidden > 0 else []
            lines = [*self.head, *shown, *more, *_abridged(self.tail)]
        return "\n".join([*lines, "", self.summary()]) + "\n"


def _entry_lines(entries: list[DeviceChange]) -> list[str]:
    lines: list[str] = []
    for name, change, moved in entries:
        if change == "removed":
            lines.append(f"- device {name}")
        elif change == "added":
            lines.append(f"+ device {name}: dma_ops {moved[0][2]}")
        else:
            lines.append(f"~ device {name}")
            lines += [f"    {k}: {render_value(x)} → {render_value(y)}" for k, x, y in moved]
    return lines


CONTEXT_LINES = 8  # an IOMMU's context lines an abridged diff shows


def _abridged(tail: list[str]) -> list[str]:
    """The lines after the devices with each IOMMU's context lines (the indented lines
    under its `~ iommu` line) past CONTEXT_LINES counted in one line where they were."""
    out: list[str] = []
    shown = hidden = 0
    under_iommu = False
    for line in tail:
        if line.startswith("    ") and under_iommu:
            shown += 1
            if shown > CONTEXT_LINES:
                hidden += 1
                continue
        elif not line.startswith("    "):
            if hidden:
                out.append("    " + _more(hidden, "context line"))
            under_iommu = line.startswith("~ iommu ")
            shown = hidden = 0
        out.append(line)
    if hidden:
        out.append("    " + _more(hidden, "context line"))
    return out


def _more(n: int, what: str) -> str:
    return f"… {n} more {what}{'' if n == 1 else 's'} (`diff` lists every change)"


def _list(value: object) -> list[object]:
    return list(value) if isinstance(value, list) else []


# More context moves than this on one IOMMU are summarised in one line.
MAX_MOVES = 3


def _domain_label(dom: Domain) -> str:
    """A default domain by its group's first device (its name follows the group number,
    which shifts when other groups come or go, or a `default of` statement that holds on one
    side only); other domains by name."""
    if dom.origin is Origin.DEFAULT and dom.devices:
        return f"default domain of {dom.devices[0]}"
    return dom.name


def _held(slots: dict[int, Domain]) -> dict[str, tuple[int, ...]]:
    """Domain label -> the contexts it holds on one IOMMU."""
    held: dict[str, list[int]] = {}
    for ctx, dom in slots.items():
        held.setdefault(_domain_label(dom), []).append(ctx)
    return {label: tuple(ctxs) for label, ctxs in held.items()}


def _ctxs(ctxs: tuple[int, ...]) -> str:
    return ", ".join(map(str, ctxs))


def _renumbered(
    move: tuple[str, object, object], before: Resolution, after: Resolution, members: list[str]
) -> bool:
    """The device's own group's default domain on both sides, under another name: its
    group's new number (default:3 -> default:2), or a `default of` name (default:0 -> drm)."""
    key, old, new = move

    def own(res: Resolution, name: object) -> bool:
        dom = res.domains.get(str(name))
        return (
            dom is not None
            and dom.origin is Origin.DEFAULT
            and dom.devices[: len(members)] == members
        )

    return key == "domain" and own(before, old) and own(after, new)


def _partition(res: Resolution) -> set[frozenset[str]]:
    return {frozenset(g.members) for g in res.groups}


Said = tuple[str, str]  # a diagnostic's code and its message, as compared
# "group 12", "default:12": a group's number in a diagnostic's message
_GROUP_NUMBER = re.compile(r"\b(group |default:)(\d+)\b")


def _numbering(before: Resolution, after: Resolution) -> Callable[[str], str]:
    """Each group number after a change as the number its group had before: that of the
    group its first member with a group before was in (a change that renumbers the
    groups, a device dropped before them, leaves the same group the same number); a group
    of devices new to the board gets a name no number before has. Worked out for the
    numbers the messages name, once each."""
    groups, was = after.groups, before.devices
    memo: dict[str, str] = {}

    def number(text: str) -> str:
        found = memo.get(text)
        if found is None:
            gid = int(text)
            found = text  # not a group of this board: as it is
            if gid < len(groups) and groups[gid].id == gid:
                members = groups[gid].members
                found = next(
                    (
                        str(old)
                        for m in members
                        if (dres := was.get(m)) is not None and (old := dres.group) is not None
                    ),
                    f"new:{members[0] if members else gid}",
                )
            memo[text] = found
        return found

    return number


def _keyed(
    diags: list[Diagnostic], numbering: Callable[[str], str] | None = None
) -> dict[Said, str]:
    """Each diagnostic's message by its code and its message with every group number
    the one ``numbering`` gives (none: as it is)."""
    if numbering is None:
        return {(x.code, x.message): x.message for x in diags}

    def renumbered(m: re.Match[str]) -> str:
        return m.group(1) + numbering(m.group(2))

    return {(x.code, _GROUP_NUMBER.sub(renumbered, x.message)): x.message for x in diags}


def _news(
    d: Diff,
    what: str,
    before: dict[Said, str],
    after: dict[Said, str],
    counts: tuple[str, str],
) -> None:
    """The diagnostics only one side has (``_keyed``): new ones, then gone ones."""
    for sign, side, other, count in (
        ("+", after, before, counts[0]),
        ("-", before, after, counts[1]),
    ):
        for found in sorted(side.keys() - other.keys(), key=lambda k: (k[0], side[k])):
            d.tail.append(f"{sign} {what}[{found[0]}]: {side[found]}")
            d.count(count)


def diff(before: Resolution, after: Resolution, ignore: tuple[str, ...] = ()) -> Diff:
    """The plan-style difference; diagnostics with codes in ``ignore`` are left out."""
    with no_gc():  # it builds a line per change and no cycles: the collector only costs
        return _diff(before, after, ignore)


def _diff(before: Resolution, after: Resolution, ignore: tuple[str, ...]) -> Diff:
    d = Diff()
    names = list(before.devices) + [n for n in after.devices if n not in before.devices]
    for name in names:
        if name not in after.devices:
            d.entries.append((name, "removed", []))
            d.count("removed")
            continue
        if name not in before.devices:
            ops = after.devices[name].values.get("dma_ops")
            d.entries.append((name, "added", [("dma_ops", None, ops)]))
            d.count("added")
            continue
        bv, av = before.devices[name].values, after.devices[name].values
        if bv == av:
            continue  # most devices, in most what-ifs: one comparison in C, not one per key
        # Equal values render equally, and unequal ones of one type but a list (names,
        # numbers, the enums) differently: only the others are rendered to compare.
        moved: list[tuple[str, object, object]] = []
        for k in ATTRS:
            x, y = bv.get(k), av.get(k)
            if x != y and (type(x) is type(y) is not list or render_value(x) != render_value(y)):
                moved.append((k, x, y))
        if not moved:
            continue
        keys = [m[0] for m in moved]
        # Group numbers shift when others change, and the default domains named after
        # them: report only a change of members.
        if "group" in keys or "domain" in keys:
            members = [str(m) for m in _list(av.get("group_members"))]
            if sorted(map(str, _list(bv.get("group_members")))) == sorted(members):
                moved = [
                    m
                    for m in moved
                    if m[0] != "group" and not _renumbered(m, before, after, members)
                ]
                keys = [m[0] for m in moved]
        if moved:
            d.entries.append((name, "changed", moved))
            for key in ("dma_ops", "domain", "default_domain", "group", "iommu", "context"):
                if key in keys:
                    d.count(key)
                    break
    # Both sides' groups copied from one snapshot of the group stage (a what-if that kept
    # them, resolve.Grouping): the same partition, and no stage after it moves members.
    shared = before.grouping is not None and before.grouping is after.grouping
    pb, pa = (set(), set()) if shared else (_partition(before), _partition(after))
    # A group gone from one side that overlaps several groups of the other was split
    # (before -> after) or merged (after <- before).
    for gone, other, verb, key in (
        (pb - pa, pa, "split into", "split"),
        (pa - pb, pb, "merged from", "merged"),
    ):
        for g in sorted(gone, key=sorted):
            parts = [p for p in other if p & g]
            if len(parts) > 1:
                d.tail.append(
                    f"~ group {{{', '.join(sorted(g))}}} {verb} "
                    + " + ".join(
                        "{" + ", ".join(sorted(p)) + "}" for p in sorted(parts, key=sorted)
                    )
                )
                d.count(key)
    live_b, live_a = before.live_domains(), after.live_domains()
    for iommu in sorted(set(before.model.iommus) | set(after.model.iommus)):
        ub = _held(before.context_slots(iommu, live_b))
        ua = _held(after.context_slots(iommu, live_a))
        if ub == ua:
            continue
        nb, na = sum(map(len, ub.values())), sum(map(len, ua.values()))
        d.tail.append(f"~ iommu {iommu}: contexts used {nb} → {na}")
        for dom in sorted(set(ub) - set(ua)):
            d.tail.append(f"    - context {_ctxs(ub[dom])}: {dom}")
        for dom in sorted(set(ua) - set(ub)):
            d.tail.append(f"    + context {_ctxs(ua[dom])}: {dom}")
        shifted = [dom for dom in sorted(set(ua) & set(ub)) if ua[dom] != ub[dom]]
        if len(shifted) > MAX_MOVES:  # a shifted allocation order, not news per domain
            first = shifted[0]
            d.tail.append(
                f"    ~ {len(shifted)} domains moved to other contexts "
                f"(e.g. {first}: {_ctxs(ub[first])} → {_ctxs(ua[first])})"
            )
        else:
            for dom in shifted:
                d.tail.append(f"    ~ {dom}: context {_ctxs(ub[dom])} → {_ctxs(ua[dom])}")
        if na < nb:
            d.count("freed", nb - na)
        elif na > nb:
            d.count("taken", na - nb)
    # messages name groups by number: after's are read in before's numbering, so that a
    # change that renumbers the groups says the same of the same group
    numbering = _numbering(before, after)
    eb = _keyed([x for x in before.diagnostics if x.is_error and x.code not in ignore])
    ea = _keyed([x for x in after.diagnostics if x.is_error and x.code not in ignore], numbering)
    _news(d, "error", eb, ea, ("new_errors", "fixed_errors"))
    # warnings a change brings or removes are news too (VFIO viability, scarce contexts);
    # they do not make the changed board fail
    wb = _keyed([x for x in before.diagnostics if not x.is_error])
    wa = _keyed([x for x in after.diagnostics if not x.is_error], numbering)
    _news(d, "warning", wb, wa, ("new_warnings", "fixed_warnings"))
    if before.global_default != after.global_default:
        d.head.append(f"~ system default_domain: {before.global_default} → {after.global_default}")
        d.count("system")
    return d


@dataclass
class WhatIf:
    """A base board and a change set, re-resolved on demand."""

    base: Loaded
    changes: list[Change] = field(default_factory=list)
    base_model: Model | None = None  # the model of ``base``, when the caller has it
    known: Known | None = None  # what validating ``base`` gave (validate.Known)

    def model(self) -> tuple[Model, list[Diagnostic]]:
        if not self.changes:
            model = build_model(self.base, self.known)
            return model, [*self.base.diagnostics, *model.diagnostics]
        load = ChangedLoad(self.base, self.changes)
        if (
            self.base_model is not None
            and self.base_model.ok
            and all(c.verb == "set" and not c.target for c in self.changes)
        ):
            # Only platform facts change: revalidate the platform, keep the rest.
            from .validate import platform_of

            platform, pdiags = platform_of(load, self.base_model.iommus)  # type: ignore[arg-type]
            if not any(d.is_error for d in pdiags):
                model = self.base_model.with_platform(platform)
                return model, [*load.diagnostics, *pdiags, *model.diagnostics]
        model = build_model(load, self.known)  # type: ignore[arg-type]
        return model, [*load.diagnostics, *model.diagnostics]

    def resolve(self) -> tuple[Resolution | None, list[Diagnostic]]:
        from .resolve import resolve  # networkx loads only when a board is resolved

        model, diags = self.model()
        if any(x.is_error for x in diags):
            return None, diags
        return resolve(model), diags


def checked(change: str | Change, model: Model, name: str) -> Change:
    """The change, parsed where it is text, once the names it refers to are in the board;
    ChangeError calls it ``name`` (``<change N>``) whether it does not parse or names
    nothing: the board's what-if and the REPL's `try` alike."""
    if isinstance(change, str):
        change = parse_change(change, name)
    problems = validate(change, model, name)
    if problems:
        raise ChangeError(problems, change.text, name)
    return change


def validate(change: Change, model: Model, name: str = "<change>") -> list[Diagnostic]:
    """Names a change refers to must exist in the board. ``name``: the change's, as its
    parse errors call it (``<change N>`` for the board's Nth)."""
    span = Span(name, 1, 1, 1, len(change.text) + 1)
    if change.verb == "set" and change.target and change.target not in model.iommus:
        return [
            error(
                "E502",
                f"no IOMMU named '{change.target}'",
                span,
                help=did_you_mean(change.target, [*model.iommus, *PLATFORM_WORDS]),
            )
        ]
    if change.verb == "move":
        return _validate_move(change, model, span)
    if change.verb == "drop":
        pools: dict[str, list[str]] = {
            "rule": [r.name for r in model.rules],
            "device": list(model.devices),
            "iommu": list(model.iommus),
            "bridge": list(model.bridges),
            "domain": list(model.domains),
            "include": [f.removesuffix(".iommu") for f in model.files],
        }
        pool = pools.get(change.target, [])
        if change.target == "device" and change.name in model.bridges:
            # model.devices holds the bridges too (they are PCI functions), but a bridge is
            # its own statement: `drop device` would leave it in place
            return [
                error(
                    "E502",
                    f"'{change.name}' is a bridge, not a device",
                    span,
                    help=f"write 'drop bridge {change.name}'",
                )
            ]
        target = change.name.removesuffix(".iommu")
        found = target in pool or (
            change.target == "rule"
            and any(_rule_called(r.name, r.span, change.name) for r in model.rules)
        )
        if change.target == "include":
            found = any(p == target or p.endswith("/" + target) for p in pool)
        if not found:
            builders = model.builders(target) if change.target == "domain" else []
            return [
                error(
                    "E502",
                    f"no {change.target} '{change.name}' to drop",
                    span,
                    help=f'a pack\'s rule builds it: drop rule "{builders[0].name}"'
                    if builders
                    else did_you_mean(target, pool),
                )
            ]
    return []


def _validate_move(change: Change, model: Model, span: Span) -> list[Diagnostic]:
    """A move names a PCI function to take and a port to put it below, whose link is free."""
    dev = model.devices.get(model.at_address(change.name) or change.name)
    if dev is None or dev.pci is None:
        pool = [d.name for d in model.devices.values() if d.pci is not None]
        return [
            error(
                "E502",
                f"no PCI device '{change.name}' to move",
                span,
                help=did_you_mean(change.name, pool),
            )
        ]
    port = model.bridges.get(change.target)
    if port is None or port.pci is None:
        pool = [b.name for b in model.bridges.values() if b.pci is not None]
        return [
            error(
                "E502",
                f"no bridge '{change.target}' with an address to move to",
                span,
                help=did_you_mean(change.target, pool),
            )
        ]
    there = [
        d.name
        for d in model.devices.values()
        if d.upstream == change.target and d.pci is not None and d.pci.slot != dev.pci.slot
    ]
    if there and port.kind in ("root-port", "downstream-port", "switch-port"):
        return [
            error(
                "E503",
                f"'{change.target}' already has '{there[0]}' in its slot",
                span,
                help=f"a PCIe port has one slot: move or drop '{there[0]}' first",
            )
        ]
    return []
