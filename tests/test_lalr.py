"""The LALR driver's generated reducers build the trees its general reducer builds.

Most rules reduce through straight-line code generated per rule (lalr._reducer), a
shortcut the general closure does not take; both must give the same nodes, children
and positions on every shipped file, broken input included.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from iommu_rules import lalr
from iommu_rules.grammar import tables
from iommu_rules.parse import normalize_text

from conftest import EXAMPLES, ROOT


def _dump(node: Any) -> object:
    if isinstance(node, lalr.Raw):
        where = (node.line, node.column, node.end_line, node.end_column)
        return (node.data, where, [_dump(c) for c in node.children])
    if node is None:
        return None
    return (str(node), node.type, node.line, node.column, node.end_line, node.end_column)


def _parse(parser: lalr.Parser, text: str) -> object:
    try:
        return _dump(parser.parse(normalize_text(text)))
    except (lalr.UnexpectedToken, lalr.UnexpectedCharacters) as exc:
        return (type(exc).__name__, exc.line, exc.column)


FAST = lalr.Parser(tables())
GENERAL = lalr.Parser(tables())
GENERAL.rules = [(r["size"], lalr._general_reducer(r), r["origin"]) for r in tables()["rules"]]
FILES = sorted(
    [
        *EXAMPLES.rglob("*.iommu"),
        *(ROOT / "stdlib-rules").rglob("*.iommu"),
        *(ROOT / "tests").rglob("*.iommu"),
    ]
)


def test_most_rules_take_the_generated_path() -> None:
    generated = [r for _, r, _ in FAST.rules if getattr(r, "__name__", "") == "reduce"]
    assert len(generated) > len(FAST.rules) // 2


def test_every_shipped_file_parses_to_the_same_tree() -> None:
    assert len(FILES) > 50
    for path in FILES:
        text = path.read_text(errors="replace")
        assert _parse(FAST, text) == _parse(GENERAL, text), path


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(FILES), st.integers(0, 10_000), st.integers(0, 40))
def test_a_cut_file_parses_to_the_same_tree_or_error(path: Any, at: int, length: int) -> None:
    text = path.read_text(errors="replace")
    at %= len(text) + 1
    cut = text[:at] + text[at + length :]
    assert _parse(FAST, cut) == _parse(GENERAL, cut)
