"""parse_edited (the language server's statement-by-statement parse) gives what parse_text
gives, spans included, whatever edits came before: lines added, removed and changed."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from iommu_rules.parse import Statements, parse_edited, parse_text

from conftest import EXAMPLES, all_spans

ROOT = Path(__file__).parent.parent
FILES = sorted(EXAMPLES.glob("*.iommu")) + sorted((ROOT / "stdlib-rules").rglob("*.iommu"))
PIECES = [
    "",
    "# a comment",
    "}",
    "{",
    'device n: "v,n" { tags t }',
    "rule r: t excludes implicit",
    "when kernel >= 5.4 {",
    '"',
    "iommu",
    "    iommu smmu sid 1",
]


def same(text: str, memo: Statements) -> None:
    full, edited = parse_text(text, "f.iommu"), parse_edited(text, "f.iommu", memo)
    assert (full.file is None) == (edited.file is None)
    if full.file is not None and edited.file is not None:
        assert edited.file.items == full.file.items
        assert all_spans(edited.file.items) == all_spans(full.file.items)
    assert [(d.code, d.message, d.span) for d in edited.diagnostics] == [
        (d.code, d.message, d.span) for d in full.diagnostics
    ]
    assert edited.partial == full.partial


@settings(max_examples=40, deadline=None)
@given(
    path=st.sampled_from(FILES),
    edits=st.lists(
        st.tuples(
            st.sampled_from(["insert", "delete", "replace"]),
            st.floats(0, 1),
            st.sampled_from(PIECES),
        ),
        min_size=1,
        max_size=6,
    ),
)
def test_any_edits_parse_as_the_whole_file(path: Path, edits: list[tuple[str, float, str]]) -> None:
    lines = path.read_text().split("\n")
    memo: Statements = {}
    same("\n".join(lines), memo)
    for what, where, piece in edits:
        at = min(int(where * len(lines)), len(lines) - 1)
        if what == "insert":
            lines.insert(at, piece)
        elif what == "delete" and len(lines) > 1:
            del lines[at]
        else:
            lines[at] = piece
        same("\n".join(lines), memo)


def test_a_statement_is_moved_once_per_shift_of_the_lines_above_it() -> None:
    """A line added above statements moves them (new spans, new nodes) once: the memo keeps
    them where they now are, so the next edit elsewhere takes them as they are (before, it
    moved every statement below the first shift at every later keystroke: 31,000 nodes at
    1k devices)."""
    text = (EXAMPLES / "tegra30.iommu").read_text()
    memo: Statements = {}
    first = parse_edited(text, "f.iommu", memo).file
    shifted = parse_edited("\n" + text, "f.iommu", memo).file
    assert first is not None and shifted is not None
    assert all(a is not b for a, b in zip(first.items, shifted.items, strict=True))
    body = ("\n" + text).replace("tags gpu; iommu mc swgroup g2", "tags gpu;  iommu mc swgroup g2")
    assert body != "\n" + text
    edited = parse_edited(body, "f.iommu", memo).file
    assert edited is not None
    moved_again = [a for a, b in zip(shifted.items, edited.items, strict=True) if a is not b]
    assert len(moved_again) == 1  # the edited statement, parsed again
    same(body, {})
