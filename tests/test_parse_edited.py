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
