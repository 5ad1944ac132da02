"""A session's changes written into the rule file they change, keeping what the user wrote.

The REPL's ``save --changes``: every statement the changes leave alone keeps its text, its
layout and its comments; a dropped one is cut out; a fact a ``set`` replaces is rewritten
where it stood; what the changes add is appended. The edited text is then loaded again and
must resolve exactly as the session does, or nothing is written (an :class:`EditError`
says why, and that ``save FILE`` writes the whole session instead).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import ast
from .diagnostics import DiagnosticError, Span
from .fmt import INDENT, format_file, prop
from .loader import Loaded, load_text
from .parse import normalize_text, parse
from .resolution import Resolution
from .whatif import Change, ChangedLoad, WhatIf, diff

Key = tuple[str, int, int, int, int]


class EditError(Exception):
    """The changes cannot be written into the file keeping its text; the message says why."""


def as_loaded(base: Loaded, name: str, text: str) -> bool:
    """Whether ``text`` is still the file ``name`` as the session loaded it."""
    lines = base.sources.lines(name)
    loaded = normalize_text("\n".join(lines)) if lines is not None else None
    return loaded is not None and loaded.splitlines() == normalize_text(text).splitlines()


def _key(file: str, span: Span) -> Key:
    return (file, span.line, span.col, span.end_line, span.end_col)


def _walk(items: Sequence[tuple[str, ast.Item]]) -> Iterator[tuple[str, ast.Item]]:
    for fname, item in items:
        yield fname, item
        if isinstance(item, ast.When):
            yield from _walk([(fname, i) for i in item.items])


def _same_fact(old: Any, new: Any) -> bool:
    """Whether ``new`` replaces ``old`` (the same kind of fact; for config the same symbol)."""
    if type(old) is not type(new):
        return False
    return not isinstance(new, ast.Config) or old.symbol.text == new.symbol.text


@dataclass(frozen=True)
class _Edit:
    start: int
    end: int
    text: str


class _Text:
    """The file's text with offsets by line and column, and the edits to make to it."""

    def __init__(self, text: str):
        self.text = text
        self.starts = [0] + [i + 1 for i, ch in enumerate(text) if ch == "\n"]
        self.edits: list[_Edit] = []

    def at(self, line: int, col: int) -> int:
        return self.starts[line - 1] + col - 1

    def bounds(self, span: Span) -> tuple[int, int]:
        return self.at(span.line, span.col), self.at(span.end_line, span.end_col)

    def line_end(self, offset: int) -> int:
        end = self.text.find("\n", offset)
        return len(self.text) if end < 0 else end

    def indent(self, line: int) -> str:
        start = self.starts[line - 1]
        text = self.text[start : self.line_end(start)]
        return text[: len(text) - len(text.lstrip())]

    def replace(self, span: Span, text: str) -> None:
        self.edits.append(_Edit(*self.bounds(span), text))

    def cut(self, span: Span) -> None:
        """Cut a statement or property: its whole lines when it has them to itself (with
        its trailing comment, which is about it), else it and one ';' beside it."""
        start, end = self.bounds(span)
        first = self.starts[span.line - 1]
        last = self.line_end(end)
        after = self.text[end:last].strip()
        if not self.text[first:start].strip() and (not after or after.startswith("#")):
            stop = min(last + 1, len(self.text))
            # no two blank lines where the statement stood between them
            above = span.line < 2 or not self._line(span.line - 1).strip()
            if above and stop < len(self.text) and not self._line_at(stop).strip():
                stop = min(self.line_end(stop) + 1, len(self.text))
            self.edits.append(_Edit(first, stop, ""))
            return
        j = end
        while j < last and self.text[j] in " \t":
            j += 1
        if j < last and self.text[j] == ";":
            j += 1
            while j < last and self.text[j] in " \t":
                j += 1
            self.edits.append(_Edit(start, j, ""))
            return
        i = start
        while i > first and self.text[i - 1] in " \t":
            i -= 1
        if i > first and self.text[i - 1] == ";":
            i -= 1
        self.edits.append(_Edit(i, end, ""))

    def _line(self, line: int) -> str:
        start = self.starts[line - 1]
        return self.text[start : self.line_end(start)]

    def _line_at(self, offset: int) -> str:
        return self.text[offset : self.line_end(offset)]

    def insert_prop(self, block: ast.Platform | ast.Iommu, text: str) -> None:
        """A new property last in a block: on a line of its own before the closing brace
        of a block laid out on lines, else after the last property."""
        span = block.span
        close = self.at(span.end_line, span.end_col) - 1
        brace_line = self.starts[span.end_line - 1]
        props = block.props
        if span.line != span.end_line and not self.text[brace_line:close].strip():
            indent = self.indent(props[-1].span.line) if props else self.indent(span.line) + INDENT
            self.edits.append(_Edit(brace_line, brace_line, f"{indent}{text}\n"))
        elif props:
            end = self.at(props[-1].span.end_line, props[-1].span.end_col)
            self.edits.append(_Edit(end, end, f"; {text}"))
        else:
            pad = "" if self.text[close - 1] in " \t" else " "
            self.edits.append(_Edit(close, close, f"{pad}{text} "))

    def result(self) -> str:
        text = self.text
        last = len(text) + 1
        for edit in sorted(self.edits, key=lambda e: (e.start, e.end), reverse=True):
            if edit.end > last:
                raise EditError("two changes touch the same text")
            text = text[: edit.start] + edit.text + text[edit.end :]
            last = edit.start
        return text


def edit_text(
    base: Loaded,
    changes: Sequence[Change],
    text: str,
    path: Path,
    expected: Resolution | None = None,
) -> str:
    """The one loaded file's ``text`` (as on disk, LF line endings) with ``changes`` written
    in. ``expected`` is the session's resolution, when the caller has it. Raises EditError."""
    if len(base.roots) != 1:
        raise EditError(f"the session loaded {len(base.roots)} files; it edits one only")
    root = base.roots[0]
    try:
        file = parse(text, root, keep_comments=True)
    except DiagnosticError:
        raise EditError(f"'{root}' has changed on disk since it was loaded") from None
    if not as_loaded(base, root, text):
        raise EditError(f"'{root}' has changed on disk since it was loaded")
    load = ChangedLoad(base, list(changes))
    final = load.ordered_items()
    _only_root_changes(base, list(changes), root)

    brought = {i for i in load.statement}
    now = {_key(f, it.span): it for f, it in _walk(final) if f == root and id(it) not in brought}
    pending: list[Any] = []  # platform facts a 'set' gives, placed where the old one stood
    for fname, item in final:
        if fname == "<change>" and isinstance(item, ast.Platform):
            pending += item.props
    edits = _Text(text)
    targets = {_key(root, inc.span): t for inc, t in base.includes.get(root, [])}
    present = {f for f, it in final if id(it) not in brought}

    # the file's statements, a changed `when` block's own in their place (a stack, not a
    # closure calling itself: that is a reference cycle, holding the loaded files until the
    # collector runs, and the REPL freezes what the collector has not freed)
    stack: list[Iterator[ast.Item]] = [iter(file.items)]
    while stack:
        old = next(stack[-1], None)
        if old is None:
            stack.pop()
            continue
        key = _key(root, old.span)
        if isinstance(old, ast.Include):
            target = targets.get(key)
            if target is not None and target not in present and base.files[target].items:
                edits.cut(old.span)  # 'drop include'
            continue
        new = now.get(key)
        if new is None:
            edits.cut(old.span)
        elif new == old:
            continue
        elif isinstance(old, ast.When) and isinstance(new, ast.When):
            stack.append(iter(old.items))
        elif isinstance(old, ast.Platform | ast.Iommu):
            _props(edits, old, new, root, pending)
        else:
            edits.replace(old.span, _formatted(new, file, edits, old.span))
    platforms = [it for it in file.items if isinstance(it, ast.Platform)]
    if pending and platforms:
        for p in pending:
            edits.insert_prop(platforms[-1], prop(p))
        pending = []

    added: list[ast.Item] = [ast.Platform(tuple(pending))] if pending else []
    for fname, item in final:
        statement = load.statement.get(id(item))
        if statement is None and fname.startswith("<change ") and fname != "<change>":
            statement = item  # a brought item a later change rewrote (a drop's cascade)
        if statement is not None and not any(s is statement for s in added):
            added.append(statement)
    out = edits.result()
    if added:
        block = format_file(ast.File("<added>", tuple(added)), "")
        out = (out.rstrip("\n") + "\n\n" if out.strip() else "") + block
    _verify(base, list(changes), out, root, path, expected)
    return out


def _props(
    edits: _Text, old: ast.Platform | ast.Iommu, new: Any, root: str, pending: list[Any]
) -> None:
    """A block whose facts a 'set' changed: each replaced fact rewritten in its place."""
    kept = {_key(root, p.span) for p in new.props if p.span.file == root}
    fresh = [p for p in new.props if p.span.file != root]
    for p in old.props:
        if _key(root, p.span) in kept:
            continue
        pool = fresh if any(_same_fact(p, q) for q in fresh) else pending
        q = next((q for q in pool if _same_fact(p, q)), None)
        if q is None:
            edits.cut(p.span)
        else:
            pool.remove(q)
            edits.replace(p.span, prop(q))
    for q in fresh:
        edits.insert_prop(old, prop(q))


def _formatted(item: ast.Item, file: ast.File, edits: _Text, span: Span) -> str:
    """A rewritten statement in the canonical layout, with the comments inside it, indented
    as the one it replaces."""
    inside = tuple(
        c
        for c in file.comments
        if (span.line, span.col) <= (c.span.line, c.span.col) < (span.end_line, span.end_col)
    )
    text = format_file(ast.File(file.path, (item,), inside), edits.text).rstrip("\n")
    indent = edits.indent(span.line)
    return text.replace("\n", "\n" + indent)


def _only_root_changes(base: Loaded, changes: list[Change], root: str) -> None:
    """Every file but the loaded one must come out as it was: the edit writes one file."""
    before: dict[str, list[tuple[Key, ast.Item]]] = {}
    for f, it in base.ordered_items():
        before.setdefault(f, []).append((_key(f, it.span), it))
    for n in range(1, len(changes) + 1):
        load = ChangedLoad(base, changes[:n])
        after: dict[str, list[tuple[Key, ast.Item]]] = {}
        seen: set[Key] = set()  # a file a change includes again adds nothing to it
        for f, it in load.ordered_items():
            key = _key(f, it.span)
            if key not in seen:
                seen.add(key)
                after.setdefault(f, []).append((key, it))
        for f, items in before.items():
            if f == root or after.get(f, []) == items:
                continue
            if not after.get(f) and _included_by(base, f) == root:
                continue  # a 'drop include' of a file the loaded one includes
            what = "the stdlib pack" if base.is_std(f) else "the included file"
            raise EditError(
                f"change {n} ('{changes[n - 1].text}') alters {what} '{f}', not '{root}'"
            )


def _included_by(base: Loaded, target: str) -> str | None:
    for name, incs in base.includes.items():
        if any(t == target for _, t in incs):
            return name
    return None


def _verify(
    base: Loaded,
    changes: list[Change],
    text: str,
    root: str,
    path: Path,
    expected: Resolution | None,
) -> None:
    from .resolve import resolve
    from .validate import build_model

    if expected is None:
        expected, _ = WhatIf(base, changes).resolve()
        if expected is None:
            raise EditError("the session does not resolve")
    loaded = load_text(text, root, path)
    model = build_model(loaded)
    if not loaded.ok or not model.ok:
        raise EditError("the edited file would not load without errors")
    if diff(expected, resolve(model)).changed:
        raise EditError("the edited file would not resolve as the session does")
