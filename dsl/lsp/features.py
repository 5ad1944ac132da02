"""What the editor asks, answered from an analysis: pure functions over spans.

Positions here are the language's own: 1-based lines and columns counted in characters, as
spans are; the server converts them to the editor's units. Word lists come from the grammar
(keywords, what the LALR tables accept next) and from the model (names, attributes), as the
REPL's completer takes them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from .. import ast
from ..checks import render_value
from ..diagnostics import Diagnostic, DiagnosticError, Span
from ..explain import QueryError
from ..grammar import keywords, keywords_after, parser
from ..loader import STD_PREFIX, std_packs
from ..model import ATTRIBUTES
from ..parse import TOP_LEVEL
from .analysis import Analysis, Occurrence, walk_items
from .docs import keyword_entries

WORD = re.compile(r"[A-Za-z_][\w]*(?:-[\w]+)*")
NAME = re.compile(r"[A-Za-z_]\w*(?:-\w+)*\Z")
CODE = re.compile(r"[EW]\d{3}\Z")
STATEMENT = re.compile(r"^(?:{})\b".format("|".join(TOP_LEVEL)))
# the keyword before a name, and which kind of name it takes
NAME_AFTER = {
    "iommu": ("iommu",),
    "on": ("iommu",),
    "upstream": ("bridge",),
    "attach": ("device",),
    "of": ("device",),
    "map": ("iommu",),
}
HOVER_WHY_LINES = 6


@dataclass(frozen=True)
class Edit:
    span: Span  # what to replace (an empty span inserts)
    text: str


@dataclass(frozen=True)
class Completion:
    label: str
    kind: str  # keyword, device, iommu, bridge, domain, tag, attribute, pack, file, value
    detail: str
    start_col: int  # 1-based column where the replaced word starts


@dataclass
class Symbol:
    name: str
    kind: str  # platform, iommu, device, bridge, domain, rule, when, include, expect, map
    span: Span
    selection: Span
    children: list[Symbol] = field(default_factory=list)


@dataclass(frozen=True)
class Action:
    title: str
    kind: str  # quickfix or source
    edits: dict[str, list[Edit]]
    diagnostic: Diagnostic | None = None
    preferred: bool = False


class RenameError(Exception):
    """A rename the server refuses, with the reason the editor shows."""


# ---------------------------------------------------------------- words at a position
def word_at(line_text: str, col: int) -> tuple[str, int] | None:
    """The word under (or just before) a 1-based column, and its first column."""
    for m in WORD.finditer(line_text):
        if m.start() + 1 <= col <= m.end() + 1:
            return m.group(), m.start() + 1
    return None


def _line(a: Analysis, display: str, line: int) -> str:
    lines = a.lines(display)
    return lines[line - 1] if 0 < line <= len(lines) else ""


def _in_comment_or_string(text: str) -> str | None:
    """'comment' or 'string' when the end of ``text`` (a line's start) is inside one."""
    quoted = False
    for ch in text:
        if ch == '"':
            quoted = not quoted
        elif ch == "#" and not quoted:
            return "comment"
    return "string" if quoted else None


# ---------------------------------------------------------------- hover
def hover(a: Analysis, display: str, line: int, col: int) -> tuple[str, Span | None] | None:
    """Markdown for the thing under the cursor, and the span it covers."""
    occ = a.at(display, line, col)
    if occ is not None:
        return _hover_name(a, occ), occ.span
    text = _line(a, display, line)
    found = word_at(text, col)
    inc = _include_at(a, display, line, col)
    if inc is not None:
        return _hover_include(inc[0]), inc[0].path.span
    if found is None:
        return None
    word, start = found
    span = Span(display, line, start, line, start + len(word))
    if CODE.match(word):
        from ..codes import explain_text

        try:
            return "```text\n" + explain_text(word) + "\n```", span
        except KeyError:
            return None
    if _in_comment_or_string(text[: start - 1]) is not None:
        return None
    rule = _rule_at(a, display, line, col)
    if word == "rule" and rule is not None:
        return _hover_rule(a, rule), span
    if word in keywords():
        entries = keyword_entries(word)
        if entries:
            body = "\n\n".join(f"`{syntax}`: {text}" for syntax, text in entries[:3])
            more = (
                f"\n\n(and {len(entries) - 3} more in docs/language.md)" if len(entries) > 3 else ""
            )
            return f"**{word}** (keyword)\n\n{body}{more}", span
        return f"**{word}** (keyword)", span
    return None


def _values(a: Analysis, name: str, attrs: tuple[str, ...]) -> list[str]:
    out = []
    for attr in attrs:
        try:
            value = a.board.why(f"{name}.{attr}").value
        except QueryError:  # a value the board cannot give: leave it out
            continue
        out.append(f"- {attr}: `{render_value(value)}`")
    return out


def _hover_name(a: Analysis, occ: Occurrence) -> str:
    name = occ.name
    kind = a.kind_of(name) or ("tag" if occ.role == "tag" else None)
    model = a.model
    if kind is None:
        return f"`{name}`: not defined on this board"
    head = f"**{kind} {name}**"
    if kind == "device":
        dev = model.devices[name]
        if dev.compatibles:
            head += " — " + ", ".join(f'"{c}"' for c in dev.compatibles)
    elif kind == "iommu":
        head += f" — {model.iommus[name].kind}"
    elif kind == "bridge":
        head += f" — {model.bridges[name].kind}"
    if a.resolution is None:
        return head + "\n\n(resolved values appear once the board has no errors)"
    lines = [head, ""]
    if kind == "device":
        lines += _values(
            a, name, ("group", "default_domain", "domain", "domain_type", "context", "dma_ops")
        )
        try:
            why = a.board.why(f"{name}.dma_ops").text().split("\n")
        except QueryError:
            why = []
        if why:
            lines += ["", "```text", *why[:HOVER_WHY_LINES], "```"]
    elif kind in ("iommu", "domain"):
        lines += _values(a, name, tuple(ATTRIBUTES[kind]))
    elif kind == "tag":
        tagged = sorted(d.name for d in model.devices.values() if name in d.tags)
        lines.append(f"- devices: {', '.join(tagged) or 'none'}")
    return "\n".join(lines)


def _hover_include(inc: ast.Include) -> str:
    from ..packs import load_pack

    target = inc.path.value
    if target.startswith(STD_PREFIX):
        pack = load_pack(target)
        if pack is not None:
            return f"**{pack.name}** (stdlib pack)\n\n{pack.summary}"
    return f"**include** `{target}`"


def _rule_at(a: Analysis, display: str, line: int, col: int) -> ast.Rule | None:
    file = a.file(display)
    if file is None:
        return None
    for item in walk_items(file.items):
        if isinstance(item, ast.Rule) and _contains(item.span, line, col):
            return item
    return None


def _hover_rule(a: Analysis, rule: ast.Rule) -> str:
    from ..rules import active_rules

    title = (
        f'rule "{rule.name.value}"' if rule.name is not None else f"rule at line {rule.span.line}"
    )
    lines = [f"**{title}**"]
    if rule.source is not None:
        lines.append(f"\nsource: {rule.source.value}")
    res = a.resolution
    if res is None:
        return "\n".join(lines)
    active = [r for r in active_rules(res) if r.rule.span == rule.span]
    if not active:
        lines.append("\nnot active on this platform (its `when` conditions do not hold)")
    else:
        devices = sorted(active[0].devices)
        shown = ", ".join(devices[:20]) + (
            f", … ({len(devices)} in all)" if len(devices) > 20 else ""
        )
        lines.append(f"\nmatches: {shown or 'no device'}")
    return "\n".join(lines)


def _contains(span: Span, line: int, col: int) -> bool:
    if not span.line or line < span.line or line > span.end_line:
        return False
    if line == span.line and col < span.col:
        return False
    return not (line == span.end_line and col > span.end_col)


def _include_at(a: Analysis, display: str, line: int, col: int) -> tuple[ast.Include, str] | None:
    """The include whose path is under the cursor, and the file it reached (if any)."""
    for inc, target in a.loaded.includes.get(display, []):
        if _contains(inc.path.span, line, col):
            return inc, target
    file = a.file(display)
    for item in walk_items(file.items if file else ()):
        if isinstance(item, ast.Include) and _contains(item.path.span, line, col):
            return item, ""
    return None


# ---------------------------------------------------------------- completion
def completion(a: Analysis, display: str, line: int, col: int) -> list[Completion]:
    lines = a.lines(display)
    text = lines[line - 1][: col - 1] if 0 < line <= len(lines) else ""
    inc = re.search(r'\binclude\s+"([^"]*)$', text)
    if inc is not None:
        return _complete_include(a, display, inc.group(1), inc.start(1) + 1)
    if _in_comment_or_string(text) is not None:
        return []
    dotted = re.search(r"([A-Za-z_][\w\-]*)\.(\w*)$", text)
    if dotted is not None:
        kind = a.kind_of(dotted.group(1)) or ("system" if dotted.group(1) == "system" else "")
        attrs = ATTRIBUTES.get(kind, {})
        start = dotted.start(2) + 1
        return [
            Completion(attr, "attribute", f"{kind} attribute: {doc}", start)
            for attr, doc in attrs.items()
            if attr.startswith(dotted.group(2))
        ]
    current_match = re.search(r"[A-Za-z_][\w\-]*$", text)
    current = current_match.group() if current_match else ""
    start = col - len(current)
    first = line - 1
    while first > 0 and not STATEMENT.match(lines[first]):
        first -= 1
    if not STATEMENT.match(lines[first] if lines else ""):
        first = line - 1
    before = "\n".join([*lines[first : line - 1], text[: len(text) - len(current)]])
    out: list[Completion] = []
    if not before.strip():
        words = [w for w in TOP_LEVEL if w.startswith(current)]
        return [Completion(w, "keyword", "statement", start) for w in words]
    expected = parser().expected_after(before) or set()
    out += [
        Completion(w, "keyword", "keyword", start)
        for w in keywords_after(before)
        if w.startswith(current)
    ]
    if "NAME" in expected:
        previous = re.findall(r"[A-Za-z_][\w\-]*", before)
        wanted = NAME_AFTER.get(previous[-1]) if previous else None
        for name, kind in sorted(_names(a).items()):
            if name.startswith(current) and (wanted is None or kind in wanted):
                out.append(Completion(name, kind, kind, start))
    if "STRING" in expected and re.search(r"\bcompatible\s*$", before):
        seen = sorted({c for d in a.model.devices.values() for c in d.compatibles})
        out += [Completion(f'"{c}"', "value", "a compatible on this board", start) for c in seen]
    return out


def _names(a: Analysis) -> dict[str, str]:
    model = a.model
    out = {t: "tag" for t in model.tags}
    for kind, table in (
        ("bridge", model.bridges),
        ("domain", model.domains),
        ("iommu", model.iommus),
        ("device", model.devices),
    ):
        out.update({n: kind for n in table})
    return out


def _complete_include(a: Analysis, display: str, typed: str, start: int) -> list[Completion]:
    out = [Completion(p, "pack", "stdlib pack", start) for p in std_packs() if p.startswith(typed)]
    if typed.startswith(STD_PREFIX):
        return out
    here = Path(display).parent
    sub, _, _ = typed.rpartition("/")
    try:
        files = sorted((here / sub).glob("*.iommu")) if (here / sub).is_dir() else []
    except OSError:
        files = []
    for f in files:
        rel = f"{sub}/{f.name}" if sub else f.name
        if f.resolve() != Path(display).resolve() and rel.startswith(typed):
            out.append(Completion(rel, "file", "rule file", start))
    return out


# ---------------------------------------------------------------- definitions, references
def definition(a: Analysis, display: str, line: int, col: int) -> list[Span]:
    inc = _include_at(a, display, line, col)
    if inc is not None:
        return [Span(inc[1], 1, 1, 1, 1)] if inc[1] else []
    occ = a.at(display, line, col)
    if occ is None:
        return []
    return definitions_of(a, occ.name)


def definitions_of(a: Analysis, name: str) -> list[Span]:
    model = a.model
    for table in (model.devices, model.iommus, model.bridges, model.domains):
        if name in table:
            return [table[name].span]
    res = a.resolution
    if res is not None and name in res.built:
        return [res.built[name].spec.span]
    found = [occ.span for _, occ in a.all_of(name) if occ.defines or occ.role == "tag"]
    return found


def references(a: Analysis, display: str, line: int, col: int, declarations: bool) -> list[Span]:
    occ = a.at(display, line, col)
    if occ is None:
        return []
    return [o.span for _, o in a.all_of(occ.name) if declarations or not o.defines]


def prepare_rename(a: Analysis, display: str, line: int, col: int) -> Span:
    occ = a.at(display, line, col)
    if occ is None:
        raise RenameError("put the cursor on a device, IOMMU, bridge, domain or tag name")
    _renamable(a, occ.name)
    return occ.span


def _renamable(a: Analysis, name: str) -> None:
    for display, occ in a.all_of(name):
        if a.loaded.is_std(display):
            what = "defines" if occ.defines else "uses"
            raise RenameError(
                f"the pack {display} {what} '{name}': a rename here would not change the "
                "pack, and its rules would stop matching"
            )


# names a selector or a query reads as something else: `all` selects every device,
# `system` is the board's own subject
RESERVED = frozenset({"all", "system"})


def rename(a: Analysis, display: str, line: int, col: int, new: str) -> dict[str, list[Edit]]:
    """The edits that rename the name under the cursor across the board's own files."""
    occ = a.at(display, line, col)
    if occ is None:
        raise RenameError("put the cursor on a device, IOMMU, bridge, domain or tag name")
    if not NAME.match(new):
        raise RenameError(
            f"'{new}' is not a name: a letter or '_', then letters, digits and '_', "
            "optionally joined by single '-'"
        )
    if new in keywords() or new in RESERVED:
        # a keyword is a plain name only where the grammar expects no keyword: in a
        # selector or after a property it would be read as the keyword
        raise RenameError(f"'{new}' is a keyword of the language: choose another name")
    _renamable(a, occ.name)
    taken = a.kind_of(new) or ("tag" if new in a.model.tags else None)
    if taken is not None and new != occ.name:
        raise RenameError(f"'{new}' is already a {taken} on this board")
    kind = a.kind_of(occ.name)
    if kind not in (None, "tag") and occ.name in a.model.tags:
        raise RenameError(
            f"'{occ.name}' is both a {kind} and a tag, and a selector naming it means "
            "both: rename one of them by hand"
        )
    edits: dict[str, list[Edit]] = {}
    for where, o in a.all_of(occ.name):
        edits.setdefault(where, []).append(Edit(o.span, new))
    return edits


# ---------------------------------------------------------------- outline
def symbols(a: Analysis, display: str) -> list[Symbol]:
    file = a.file(display)
    return _symbols(file.items) if file is not None else []


def _symbols(items: tuple[ast.Item, ...]) -> list[Symbol]:
    out = []
    for item in items:
        span = getattr(item, "span", None)
        if span is None or not span.line:
            continue
        if isinstance(item, ast.Device | ast.Iommu | ast.Bridge | ast.Domain):
            kind = type(item).__name__.lower()
            out.append(Symbol(item.name.text, kind, span, item.name.span))
        elif isinstance(item, ast.Rule):
            name = f'rule "{item.name.value}"' if item.name else f"rule (line {span.line})"
            out.append(Symbol(name, "rule", span, item.name.span if item.name else span))
        elif isinstance(item, ast.When):
            out.append(Symbol(f"when (line {span.line})", "when", span, span, _symbols(item.items)))
        elif isinstance(item, ast.Include):
            out.append(Symbol(f'include "{item.path.value}"', "include", span, item.path.span))
        elif isinstance(item, ast.Platform):
            out.append(Symbol("platform", "platform", span, span))
        elif isinstance(item, ast.Expect):
            q = item.query
            out.append(Symbol(f"expect {q.subject.text}.{q.attribute.text}", "expect", span, span))
        elif isinstance(item, ast.HostMap):
            out.append(Symbol(f"map {item.iommu.text}", "map", span, item.iommu.span))
    return out


# ---------------------------------------------------------------- formatting, code actions
def formatting(a: Analysis) -> str | None:
    """The document as `iommu-rules fmt` lays it out; None when it does not parse."""
    from ..fmt import format_text

    try:
        return format_text(a.text, a.display)
    except DiagnosticError:
        return None


def code_actions(a: Analysis, display: str, first: int, last: int) -> list[Action]:
    """Quick fixes for the diagnostics on lines first..last, and includes the board lacks."""
    out: list[Action] = []
    for d in a.diagnostics:
        if d.span.file != display or not (first <= d.span.line <= last or d.code == "W218"):
            continue
        out += _did_you_mean(a, display, d)
        if d.code == "W218" and "std/linux" not in _included(a, display):
            out.append(_add_include(a, display, "std/linux", d))
    for pack in _missing_packs(a, display):
        out.append(_add_include(a, display, pack, None))
    return out


def _did_you_mean(a: Analysis, display: str, d: Diagnostic) -> list[Action]:
    hint = re.search(r"did you mean (.*)\?", d.help)
    if hint is None or d.span.line != d.span.end_line:
        return []
    written = _line(a, display, d.span.line)[d.span.col - 1 : d.span.end_col - 1]
    quoted = written.startswith('"') and written.endswith('"')
    out = []
    for i, word in enumerate(re.findall(r"'([^']+)'", hint.group(1))):
        text = f'"{word}"' if quoted else word
        out.append(
            Action(f"Replace with {text}", "quickfix", {display: [Edit(d.span, text)]}, d, i == 0)
        )
    return out


def _included(a: Analysis, display: str) -> set[str]:
    file = a.file(display)
    return {
        i.path.value.removesuffix(".iommu")
        for i in walk_items(file.items if file else ())
        if isinstance(i, ast.Include)
    }


def _missing_packs(a: Analysis, display: str) -> list[str]:
    """SoC packs the board's devices' compatibles call for and no file includes."""
    from ..importers.dts import PACKS

    # every file the board loaded, spelt as an include names it (no .iommu): transitive
    # includes count (std/soc/tegra30 brings std/soc/tegra)
    every = {n.removesuffix(".iommu") for n in a.loaded.files}
    compatibles = {c for d in a.model.devices.values() for c in d.compatibles}
    wanted = sorted({p for c in compatibles for pre, p in PACKS if c.startswith(pre)})
    return [p for p in wanted if p not in every and p not in _included(a, display)]


def _add_include(a: Analysis, display: str, pack: str, d: Diagnostic | None) -> Action:
    """Insert `include "PACK"` after the other includes, else after the leading comments."""
    lines = a.lines(display)
    at = 0
    file = a.file(display)
    incs = [i for i in (file.items if file else ()) if isinstance(i, ast.Include)]
    if incs:
        at = max(i.span.end_line for i in incs)
    else:
        while at < len(lines) and (lines[at].startswith("#") or not lines[at].strip()):
            at += 1
        while at > 0 and not lines[at - 1].strip():
            at -= 1
    text = f'include "{pack}"\n'
    if at >= len(lines):  # after the last line: it may have no line end of its own
        last = len(lines)
        end = len(lines[-1]) + 1 if lines else 1
        where = Span(display, max(last, 1), end, max(last, 1), end)
        text = ("\n" if lines and lines[-1] else "") + text
    else:
        where = Span(display, at + 1, 1, at + 1, 1)
    return Action(
        f'Add include "{pack}"',
        "quickfix" if d is not None else "source",
        {display: [Edit(where, text)]},
        d,
        d is not None,
    )
