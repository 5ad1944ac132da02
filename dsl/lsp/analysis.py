"""One open document's analysis: the board it starts, its diagnostics, and its names.

A document is loaded as ``iommu-rules check`` loads a file (the same loader, model and
resolution, so the same diagnostics), with two differences an editor needs: the text is
the editor's buffer, parsed statement by statement (``parse_edited``) so a keystroke
re-parses one statement, and any file it includes that is open in the editor is read
from its buffer too. Names are indexed from the syntax tree: each identifier that names a
device, IOMMU, bridge, domain or tag, with where it is and whether it defines the name.
"""

from __future__ import annotations

import bisect
import dataclasses
import traceback
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import ast
from ..board import Board
from ..diagnostics import Diagnostic, Label, Span
from ..lalr import no_gc
from ..loader import Loaded, Loader, remember_parsed
from ..node import Node, kept
from ..parse import Statement, Statements, normalize_text, parse_edited, statements
from ..resolution import Resolution
from ..validate import Known

# Identifier fields that define a name, and what the name is.
DEFINES: dict[tuple[type, str], str] = {
    (ast.Device, "name"): "device",
    (ast.Iommu, "name"): "iommu",
    (ast.Bridge, "name"): "bridge",
    (ast.Domain, "name"): "domain",
    (ast.Verb, "domain"): "domain",  # `builds domain NAME`
}
# Identifier fields that name one of those (or a tag: `tags` both defines and uses one).
REFERS: frozenset[tuple[type, str]] = frozenset(
    {
        (ast.Domain, "iommus"),
        (ast.Domain, "attach"),
        (ast.Domain, "of"),
        (ast.Tags, "names"),
        (ast.AttachIommu, "iommu"),
        (ast.Upstream, "bridge"),
        (ast.SelName, "name"),
        (ast.SelOn, "iommu"),
        (ast.Reserve, "iommu"),
        (ast.Query, "subject"),
        (ast.HostMap, "iommu"),
    }
)


@dataclass(frozen=True)
class Occurrence:
    """One identifier that names something: ``role`` is what a definition defines
    ("device", "iommu", "bridge", "domain"), "tag" in a `tags` list, else "ref"."""

    name: str
    span: Span
    role: str

    @property
    def defines(self) -> bool:
        return self.role not in ("ref", "tag")

    def holds(self, line: int, col: int) -> bool:
        """Whether the 1-based position is on the identifier (or just after it)."""
        s = self.span
        return s.line == line and s.col <= col <= s.end_col


def occurrences(file: ast.File) -> list[Occurrence]:
    """Every naming identifier of a file, in file order."""
    out: list[Occurrence] = []
    _occurrences(file.items, out)
    out.sort(key=lambda o: (o.span.line, o.span.col))
    return out


def _occurrences(value: Any, out: list[Occurrence]) -> None:
    """(A function, not a closure calling itself: that would be a reference cycle.)"""
    if type(value) is tuple:  # a field's items (a Span is a tuple too: no names in it)
        for v in value:
            _occurrences(v, out)
        return
    if not isinstance(value, Node):
        return
    cls = type(value)
    for name in value._fields:
        field_value = getattr(value, name)
        role = DEFINES.get((cls, name))
        if role is None and (cls, name) in REFERS:
            role = "tag" if cls is ast.Tags else "ref"
        if role is None:
            _occurrences(field_value, out)
            continue
        for ident in field_value if isinstance(field_value, tuple) else (field_value,):
            if isinstance(ident, ast.Ident):
                out.append(Occurrence(ident.text, ident.span, role))


def walk_items(items: tuple[ast.Item, ...]) -> Iterator[ast.Item]:
    """Every statement, those inside `when` blocks too, in file order."""
    for item in items:
        yield item
        if isinstance(item, ast.When):
            yield from walk_items(item.items)


@dataclass
class Analysis:
    """What the server knows of one open document after its last change."""

    uri: str
    display: str  # the document's name in spans: its path
    text: str
    loaded: Loaded
    board: Board
    diagnostics: list[Diagnostic]
    failure: str | None = None  # an internal error's traceback, reported, never raised
    known: Known | None = None  # what validating it gave: the next analysis's start
    _lines: dict[str, list[str]] = field(default_factory=dict, repr=False)

    @property
    def model(self) -> Any:
        return self.board.model

    @property
    def resolution(self) -> Resolution | None:
        """The resolution, when the board has no input error (and resolving worked)."""
        if not self.board.ok or self.failure is not None:
            return None
        try:
            return self.board.resolution
        except Exception:  # reported as a diagnostic by analyse(); never crash a request
            return None

    def file(self, display: str) -> ast.File | None:
        return self.loaded.files.get(display)

    def path_of(self, display: str) -> Path | None:
        return self.loaded.paths.get(display)

    def lines(self, display: str) -> list[str]:
        """A loaded file's lines (the document's from its buffer); [] for any other name."""
        found = self._lines.get(display)
        if found is None:
            if display == self.display:  # as spans count them: CR and CRLF end lines too
                found = normalize_text(self.text).split("\n")
            else:
                found = self.loaded.sources.lines(display) or []
            self._lines[display] = found
        return found

    def user_files(self) -> list[str]:
        """The files of the board that are not shipped packs: the ones a rename edits."""
        return [n for n in self.loaded.files if not self.loaded.is_std(n)]

    @kept
    def statements(self) -> list[Statement]:
        """The document's statements without layout: an analysis stays the base of every
        relocated edit after it, so they are worked out once, not on each keystroke."""
        return statements(self.text)

    @kept
    def names(self) -> dict[str, list[Occurrence]]:
        """Each loaded file's naming identifiers."""
        return {name: occurrences(file) for name, file in self.loaded.files.items()}

    def at(self, display: str, line: int, col: int) -> Occurrence | None:
        """The naming identifier at a 1-based position."""
        for occ in self.names.get(display, []):
            if occ.holds(line, col):
                return occ
        return None

    def all_of(self, name: str) -> Iterator[tuple[str, Occurrence]]:
        """Every occurrence of a name across the board's files, packs included."""
        for display, found in self.names.items():
            for occ in found:
                if occ.name == name:
                    yield display, occ

    def kind_of(self, name: str) -> str | None:
        """What the model says a name is: device, iommu, bridge, domain or tag."""
        model = self.model
        for kind, table in (
            ("device", model.devices),
            ("iommu", model.iommus),
            ("bridge", model.bridges),
            ("domain", model.domains),
        ):
            if name in table:
                return kind
        res = self.resolution
        if res is not None and name in res.built:
            return "domain"
        if name in model.tags:
            return "tag"
        return None


FILE_LEVEL = frozenset({"W218"})  # diagnostics at a file's first character, not a statement


def relocated(
    prev: Analysis, text: str, new: list[Statement] | None = None
) -> list[Diagnostic] | None:
    """The previous analysis's diagnostics on a new text of the document that differs from
    the analysed one only in comments and blank lines between statements (an Enter, a
    comment typed): the same syntax, so the same diagnostics, each moved by as many lines
    as its statement moved. None when any statement changed: analyse it. ``new``: the
    text's statements, where the caller has them."""
    if any(d.is_error for d in prev.board.input_diagnostics):
        return None  # a syntax error may sit at the end of the file, past every statement
    old = prev.statements
    if new is None:
        new = statements(text)
    if len(old) != len(new) or any(a.text != b.text for a, b in zip(old, new, strict=True)):
        return None
    starts = [s.first for s in old]

    def move(span: Span) -> Span:
        if span.file != prev.display or not span.line:
            return span
        i = bisect.bisect_right(starts, span.line - 1) - 1
        if i < 0:
            return span
        by = new[i].first - old[i].first
        return Span(span.file, span.line + by, span.col, span.end_line + by, span.end_col)

    return [
        d
        if d.code in FILE_LEVEL
        else dataclasses.replace(
            d,
            span=move(d.span),
            secondary=tuple(Label(move(lab.span), lab.message) for lab in d.secondary),
        )
        for d in prev.diagnostics
    ]


def analyse(
    uri: str,
    display: str,
    text: str,
    overlay: Mapping[str, str],
    statements: Statements,
    split: list[Statement] | None = None,
    before: Analysis | None = None,
) -> Analysis:
    """Load the document as `check` would; ``overlay`` gives the texts of other open
    files by real path, ``statements`` is the document's statement memo, ``split`` the
    text's statements where the caller has them (relocated() split it: the analysis is
    the base of the next edit's relocated() and would split it again), ``before`` the
    document's last analysis, whose validated devices serve the statements a keystroke
    left as they were (validate.Known), and whose groups serve where it left what they
    read as it was."""
    path = Path(display)
    # an analysis allocates a board's worth of small objects and frees the last one: the
    # cyclic collector's scans would cost a keystroke a sixth more (lalr.no_gc)
    with no_gc():
        parsed = parse_edited(text, display, statements)
        remember_parsed(text, display, parsed)
        loader = Loader(overlay)
        loader.add_text(text, display, path)
        known = Known(before=before.known if before is not None else None)
        # the last analysis's groups serve when the keystroke left what they read as it
        # was (a rule, an expectation, a domain edited: resolve.Grouping)
        previous = before.resolution if before is not None else None
        board = Board(loader.result, known=known, previous=previous)
        failure = None
        try:
            diagnostics = list(board.diagnostics)
        except Exception:  # a bug must not take the editor's server down: the server says so
            failure = traceback.format_exc()
            diagnostics = list(board.input_diagnostics)
    found = Analysis(uri, display, text, loader.result, board, diagnostics, failure, known)
    if split is not None:
        found.__dict__["statements"] = split  # the cached property, worked out already
    return found
