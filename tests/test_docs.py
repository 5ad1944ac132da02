"""docs/language.md must not drift from the language it documents.

The grammar is the single source of keywords and the dsl sources the single
source of diagnostic codes; these tests read both from the installed package
and check the reference against them.  Its examples are checked too: a fenced
```iommu block whose first line is ``# complete`` is a whole file that must
load and validate without a single diagnostic; one whose first line is
``# error E108, E109`` must produce exactly those codes; any other ```iommu
block is a fragment that must at least parse.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

import iommu_rules
from iommu_rules import Board, grammar
from iommu_rules.parse import parse_text

DOC = Path(__file__).parent.parent / "docs" / "language.md"
PACKAGE = Path(iommu_rules.__file__).parent

FENCE = re.compile(r"^```([^\n`]*)\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
INLINE_CODE = re.compile(r"`([^`\n]+)`")
# A word as the language spells names and keywords: hyphens join, '.', ',' and '=' split.
WORD = re.compile(r"[A-Za-z0-9_]+(?:-[A-Za-z0-9_]+)*")
CODE_IN_SOURCE = re.compile(r"""["']([EW]\d{3})["']""")
# A table row's first cell: `E101`, `W802`, `W803` or a range `W811`–`W813`.
CODE_CELL = re.compile(r"^\|\s*(`[EW]\d{3}`(?:\s*(?:,|–)\s*`[EW]\d{3}`)*)\s*\|", re.MULTILINE)
CODE = re.compile(r"([EW])(\d{3})")
ERROR_MARK = re.compile(r"#\s*error\s+(E\d{3}(?:\s*,\s*E\d{3})*)\s*$")


def doc_text() -> str:
    assert DOC.is_file(), f"missing {DOC}"
    return DOC.read_text(encoding="utf-8")


def prose(text: str) -> str:
    """The document without its fenced code blocks."""
    return FENCE.sub("", text)


def iommu_blocks() -> list[tuple[int, str]]:
    """(line number, body) of every fenced block tagged 'iommu'."""
    text = doc_text()
    return [
        (text.count("\n", 0, m.start()) + 1, m.group(2))
        for m in FENCE.finditer(text)
        if m.group(1).strip() == "iommu"
    ]


def first_line(body: str) -> str:
    return body.split("\n", 1)[0].strip()


def blocks_marked(predicate) -> list[tuple[int, str]]:  # type: ignore[no-untyped-def]
    return [(line, body) for line, body in iommu_blocks() if predicate(first_line(body))]


COMPLETE = blocks_marked(lambda head: head == "# complete")
ERRORS = blocks_marked(lambda head: ERROR_MARK.fullmatch(head) is not None)
FRAGMENTS = blocks_marked(lambda head: head != "# complete" and ERROR_MARK.fullmatch(head) is None)


def diagnostics_of(body: str) -> list:  # type: ignore[type-arg]
    """Everything loading and validating the text reports, loader first."""
    board = Board.from_text(body, "doc.iommu")
    found = list(board.base.diagnostics)
    if board.base.ok:
        found += list(board.model.diagnostics)
    return found


def describe(diags: list) -> str:  # type: ignore[type-arg]
    return "\n".join(f"  {d.span}: {d.code}: {d.message}" for d in diags)


# ---------------------------------------------------------------- keywords
def test_every_keyword_is_documented_in_backticks() -> None:
    quoted: set[str] = set()
    for span in INLINE_CODE.findall(prose(doc_text())):
        quoted.update(WORD.findall(span))
    missing = sorted(grammar.keywords() - quoted)
    assert not missing, (
        "keywords of grammar/iommu.lark missing from docs/language.md "
        f"(write each inside backticks, e.g. `{missing[0]}`): {', '.join(missing)}"
    )


# ---------------------------------------------------------------- diagnostic codes
def source_codes() -> set[str]:
    import iommu_rules.repl

    # The REPL subpackage may live apart from the engine (an editable install).
    dirs = {PACKAGE, Path(iommu_rules.repl.__file__).parent}
    codes: set[str] = set()
    for path in sorted(p for d in dirs for p in d.rglob("*.py")):
        codes.update(CODE_IN_SOURCE.findall(path.read_text(encoding="utf-8")))
    return codes


def table_codes() -> list[str]:
    out: list[str] = []
    for cell in CODE_CELL.findall(prose(doc_text())):
        codes = CODE.findall(cell)
        if "–" in cell:  # a range: every number from the first to the last
            (letter, lo), (_, hi) = codes[0], codes[-1]
            out += [f"{letter}{n:03d}" for n in range(int(lo), int(hi) + 1)]
        else:
            out += [letter + num for letter, num in codes]
    return out


def test_sources_have_codes() -> None:
    # Guards the regex: if it stopped matching, the next test would pass vacuously.
    assert {"E001", "E101", "E121", "W201", "W801"} <= source_codes(), PACKAGE
    assert {"E101", "W201", "W803", "W812"} <= set(table_codes())


def test_every_diagnostic_code_is_in_the_table() -> None:
    missing = sorted(source_codes() - set(table_codes()))
    assert not missing, (
        f"diagnostic codes used in {PACKAGE} but missing from the table in "
        f"docs/language.md: {', '.join(missing)}"
    )


def test_table_lists_no_stale_or_duplicate_codes() -> None:
    rows = table_codes()
    stale = sorted(set(rows) - source_codes())
    twice = sorted(code for code, n in Counter(rows).items() if n > 1)
    assert not stale, f"codes in the docs table that no dsl source raises: {', '.join(stale)}"
    assert not twice, f"codes listed twice in the docs table: {', '.join(twice)}"


# ---------------------------------------------------------------- examples
def test_doc_has_checked_examples() -> None:
    assert len(COMPLETE) >= 10, "expected most examples to be marked '# complete'"
    assert ERRORS, "expected some '# error CODE' examples"


@pytest.mark.parametrize(("line", "body"), COMPLETE, ids=[f"line{n}" for n, _ in COMPLETE])
def test_complete_example_loads_without_diagnostics(line: int, body: str) -> None:
    board = Board.from_text(body, "doc.iommu")
    loaded = board.base
    assert loaded.ok and not loaded.diagnostics, (
        f"docs/language.md:{line}: example does not load:\n{describe(loaded.diagnostics)}"
    )
    model = board.model
    assert model.ok and not model.diagnostics, (
        f"docs/language.md:{line}: example does not validate:\n{describe(list(model.diagnostics))}"
    )


@pytest.mark.parametrize(("line", "body"), ERRORS, ids=[f"line{n}" for n, _ in ERRORS])
def test_error_example_reports_its_codes(line: int, body: str) -> None:
    mark = ERROR_MARK.fullmatch(first_line(body))
    assert mark is not None
    expected = sorted(re.findall(r"E\d{3}", mark.group(1)))
    found = diagnostics_of(body)
    assert sorted(d.code for d in found) == expected, (
        f"docs/language.md:{line}: expected {', '.join(expected)}, got:\n{describe(found)}"
    )


@pytest.mark.parametrize(("line", "body"), FRAGMENTS, ids=[f"line{n}" for n, _ in FRAGMENTS])
def test_fragment_parses(line: int, body: str) -> None:
    result = parse_text(body, "doc.iommu")
    assert not result.diagnostics, (
        f"docs/language.md:{line}: fragment does not parse:\n{describe(result.diagnostics)}"
    )
