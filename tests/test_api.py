"""The library's front door, `iommu_rules.Board`, as docs/api.md shows it."""

from __future__ import annotations

import contextlib
import io
import os
import re
from pathlib import Path

import pytest

from iommu_rules import Board, BoardError, ChangeError, QueryError

ROOT = Path(__file__).resolve().parent.parent
API_DOC = ROOT / "docs" / "api.md"


def test_the_docs_example_runs_as_written() -> None:
    block = re.search(r"```python\n(.*?)```", API_DOC.read_text(encoding="utf-8"), re.DOTALL)
    assert block is not None
    out = io.StringIO()
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        with contextlib.redirect_stdout(out):
            exec(compile(block.group(1), str(API_DOC), "exec"), {})
    finally:
        os.chdir(cwd)
    text = out.getvalue()
    assert text.startswith("dma-direct\ngr3d.dma_ops = dma-direct\n")
    assert "[examples/tegra30.iommu:49:1]" in text  # the rule, with its file:line
    assert "~ device host1x" in text and "1 context freed" in text


def test_a_board_with_input_errors_loads_but_does_not_resolve() -> None:
    board = Board.from_text('device a: "x" { iommu smu sid 1 }\n', "bad.iommu")
    assert not board.ok
    assert [d.code for d in board.diagnostics] == ["E104"]
    with pytest.raises(BoardError) as exc:
        board.resolution  # noqa: B018
    assert exc.value.diagnostics[0].code == "E104"
    assert "device a" in (exc.value.sources.line("bad.iommu", 1) or "")


def test_queries_and_changes_that_name_nothing_are_errors_with_hints() -> None:
    board = Board.load(ROOT / "examples" / "tegra30.iommu")
    with pytest.raises(QueryError, match="did you mean 'gr3d'"):
        board.why("gr3e.dma_ops")
    with pytest.raises(ChangeError) as exc:
        board.whatif("drop device gr3e")
    assert exc.value.diagnostics[0].code == "E502"
    # named as a parse error of the same change would name it: the board's second change
    for second in ("drop device gr3e", "drop device"):
        with pytest.raises(ChangeError) as exc:
            board.whatif("set kernel 6.8", second)
        assert exc.value.name == "<change 2>"
        assert [d.span.file for d in exc.value.diagnostics] == ["<change 2>"]
    broken = board.whatif("set kernel 6")  # parses, but is no Linux version
    assert not broken.ok and broken.errors[0].code == "E113"


def test_changes_stack_and_come_off_again() -> None:
    board = Board.load(ROOT / "examples" / "tegra30.iommu")
    once = board.whatif("set kernel 6.8")
    twice = once.whatif("set mc contexts 2")
    assert [c.text for c in twice.changes] == ["set kernel 6.8", "set mc contexts 2"]
    batch = board.whatif("set kernel 6.8", "set mc contexts 2")
    assert twice.report() == batch.report()
    assert twice.value("mc.contexts_free") == 2 - twice.value("mc.contexts_used")  # type: ignore[operator]
    assert twice.unchanged().value("mc.contexts_free") == board.value("mc.contexts_free")
    assert board.resolution is board.resolution  # resolved once
