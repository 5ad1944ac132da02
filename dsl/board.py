"""The library's front door: one board, loaded, validated, resolved and queried.

A :class:`Board` is what every front end works on (the CLI, the REPL, the
importers' round trips, the tests), in the way Kconfiglib's ``Kconfig(...)``
object is::

    from iommu_rules import Board

    board = Board.load("examples/tegra30.iommu")
    board.value("gr3d.dma_ops")                 # 'dma-direct'
    print(board.why("gr3d.dma_ops").text())     # the derivation, with file:line
    newer = board.whatif("set kernel 6.8")      # the same board on another kernel
    print(board.diff(newer).text())             # what changes, plan-style

Loading never raises for a bad board: problems are :attr:`Board.diagnostics`.
Only asking for the resolution of a board with input errors (syntax, unknown
names) raises :class:`BoardError`, which carries them.  The resolution is
computed once, on first use, so tools that only validate never pay for it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .diagnostics import Diagnostic, SourceMap
from .loader import Loaded, load_paths, load_text
from .model import Model
from .validate import Known
from .whatif import Change, WhatIf, checked, parse_change

if TYPE_CHECKING:
    from .explain import Explanation
    from .resolution import Resolution
    from .whatif import Diff


class BoardError(Exception):
    """The board has input errors (syntax, unknown names, unreadable files), so it has no
    resolution; ``diagnostics`` are those errors and ``sources`` their text."""

    def __init__(self, diagnostics: Sequence[Diagnostic], sources: SourceMap):
        super().__init__("; ".join(d.message for d in diagnostics) or "the board does not load")
        self.diagnostics = list(diagnostics)
        self.sources = sources


class Board:
    """One board: the files as loaded (with any what-if changes on top), the validated
    model, and the resolution on demand."""

    def __init__(
        self,
        base: Loaded,
        changes: Sequence[Change] = (),
        *,
        base_model: Model | None = None,
        seed: Board | None = None,
        known: Known | None = None,
        previous: Resolution | None = None,
    ):
        self.base = base
        self.changes: tuple[Change, ...] = tuple(changes)
        # the unchanged board this one derives from: its resolution, once made, lends the
        # what-if its IOMMUs and groups where the change cannot touch them (resolve.py)
        self._seed = seed
        # or a resolution of nearly the same files (an editor's last text), lent the same
        # way and let go once this board is resolved
        self._previous = previous
        # what validating the unchanged files gave: a what-if validates what it changes
        self._known = known if known is not None else Known()
        what = WhatIf(base, list(self.changes), base_model, self._known)
        self.model, self.input_diagnostics = what.model()
        # the model of the unchanged files, from which each what-if starts
        self._base_model = self.model if not self.changes else base_model
        self._resolution: Resolution | None = None

    # -- loading --------------------------------------------------------------------------
    @classmethod
    def load(cls, *paths: str | Path, stdin: str | None = None) -> Board:
        """The board of these files (with everything they include; '-' is ``stdin``)."""
        return cls(load_paths([str(p) for p in paths], stdin))

    @classmethod
    def from_text(cls, text: str, name: str = "<input>", base: Path | None = None) -> Board:
        """The board of one text; its includes are relative to ``base`` (a file's path)."""
        return cls(load_text(text, name, base))

    @property
    def name(self) -> str:
        """The first file given, as diagnostics name it."""
        return self.base.roots[0] if self.base.roots else "<empty>"

    @property
    def sources(self) -> SourceMap:
        """The text of every file loaded, so diagnostics can quote their lines (the
        changes' too, as ``<change N>``)."""
        sources = SourceMap()
        sources.update(self.base.sources)
        for i, change in enumerate(self.changes):
            sources.add(f"<change {i + 1}>", change.text)
        return sources

    @property
    def ok(self) -> bool:
        """No input errors: the board can be resolved."""
        return not any(d.is_error for d in self.input_diagnostics)

    # -- resolving --------------------------------------------------------------------------
    @property
    def resolution(self) -> Resolution:
        """What the kernel would do at boot, every value with its reason; computed once.
        Raises BoardError when the board has input errors."""
        if self._resolution is None:
            if not self.ok:
                errors = [d for d in self.input_diagnostics if d.is_error]
                raise BoardError(errors, self.sources)
            from .resolve import resolve  # networkx loads only when a board is resolved

            seed = self._seed._resolution if self._seed is not None else self._previous
            self._resolution = resolve(self.model, seed)
            self._previous = None
        return self._resolution

    @property
    def diagnostics(self) -> list[Diagnostic]:
        """Every problem: loading and validation, then (when those leave no error) the
        resolution's conflicts, exhaustion, failed expectations and lints."""
        if not self.ok:
            return list(self.input_diagnostics)
        return [*self.input_diagnostics, *self.resolution.diagnostics]

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.is_error]

    # -- queries ------------------------------------------------------------------------------
    def why(self, query: str, not_value: str | None = None) -> Explanation:
        """The derivation of one value: 'gr3d.dma_ops', 'group-of dc0', 'mc.contexts_used';
        with ``not_value``, what stands between the value and that one. Raises QueryError
        (with a did-you-mean) for a name or attribute the board does not have."""
        from .explain import explain

        return explain(self.resolution, query, not_value)

    def value(self, query: str) -> object:
        """The value of one query, as `why` would explain it."""
        return self.why(query).value

    # -- what-if -------------------------------------------------------------------------------
    def whatif(self, *changes: str | Change) -> Board:
        """The board with these changes on top ('set kernel 6.8', 'add rule gpu excludes
        implicit', 'drop device vde'). Raises ChangeError for a change that does not
        parse or names nothing the board has; the new board may have input errors of
        its own (a change can break it): check ``ok``."""
        parsed: list[Change] = []
        for i, change in enumerate(changes):
            name = f"<change {len(self.changes) + i + 1}>"
            if isinstance(change, str):
                change = parse_change(change, name)
            # each change names what the board has after the ones before it
            model = self.with_changes([*self.changes, *parsed]).model if parsed else self.model
            parsed.append(checked(change, model, name))
        return self.with_changes([*self.changes, *parsed])

    def with_changes(self, changes: Iterable[Change]) -> Board:
        """The same files under another change set (the REPL's undo and redo)."""
        changes = tuple(changes)
        if not changes and not self.changes:
            return self  # the same board: its resolution, once made, serves both
        base_model = self._base_model
        if base_model is None:
            base_model = Board(self.base, known=self._known).model
        seed = self if not self.changes else self._seed  # always the unchanged board
        return Board(self.base, changes, base_model=base_model, seed=seed, known=self._known)

    def unchanged(self) -> Board:
        """The board without its changes."""
        return self if not self.changes else self.with_changes(())

    def diff(self, after: Board, ignore: tuple[str, ...] = ()) -> Diff:
        """What changes from this board to ``after``, plan-style (see whatif.diff)."""
        from .whatif import diff

        return diff(self.resolution, after.resolution, ignore)

    # -- reports -----------------------------------------------------------------------------
    def report(self) -> str:
        """The resolution as `iommu-rules resolve` prints it."""
        from .report import text

        return text(self.resolution)

    def to_json(self) -> str:
        """The resolution as `iommu-rules resolve --json` prints it (docs/json.md)."""
        from .report import to_json

        return to_json(self.resolution)

    def dot(self, view: str = "groups", changed: frozenset[str] = frozenset()) -> str:
        """A Graphviz view: 'topology', 'groups' or 'contexts'."""
        from .dot import render

        return render(self.resolution, view, changed)
