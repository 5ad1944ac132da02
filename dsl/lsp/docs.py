"""A keyword's entries in the language reference (docs/language.md, shipped in the package).

The reference's tables give each statement, property and rule verb a row: its syntax in
backticks, then what it means. A keyword's entries are the rows whose syntax uses it first
among the grammar's keywords, so hovering `contexts` shows the `contexts N` row, not every
row that mentions contexts.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

from ..grammar import keywords

ROW = re.compile(r"^\| `([^`]+)` \|(.*)\|\s*$")
SECTION = re.compile(r"^## \d+\. `([a-z]+)`\s*$")


@cache
def _rows() -> tuple[tuple[str, str], ...]:
    try:
        text = resources.files("iommu_rules.docs").joinpath("language.md").read_text("utf-8")
    except (OSError, ModuleNotFoundError):  # an install without the docs: no entries
        return ()
    out = []
    lines = text.splitlines()
    for i, line in enumerate(lines):
        head = SECTION.match(line)
        if head is not None:  # a statement's section: its first paragraph after the syntax
            out.append((head.group(1), _first_paragraph(lines[i + 1 :])))
            continue
        m = ROW.match(line)
        if m is None:
            continue
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", m.group(2))]
        meaning = max(cells, key=len) if cells else ""
        out.append((m.group(1).replace("\\|", "|"), meaning.replace("\\|", "|")))
    return tuple(out)


def _first_paragraph(lines: list[str]) -> str:
    """The first prose paragraph of a section (code blocks and tables skipped)."""
    para: list[str] = []
    fenced = False
    for line in lines:
        if line.startswith("```"):
            fenced = not fenced
            continue
        if fenced or line.startswith(("|", "#")):
            if para:
                break
            continue
        if not line.strip():
            if para:
                break
            continue
        para.append(line.strip())
    return " ".join(para)


@cache
def _index() -> dict[str, tuple[tuple[str, str], ...]]:
    words = keywords()
    found: dict[str, list[tuple[str, str]]] = {}
    for syntax, meaning in _rows():
        first = next((w for w in re.findall(r"[a-z][\w\-]*", syntax) if w in words), None)
        if first is not None:
            found.setdefault(first, []).append((syntax, meaning))
    return {k: tuple(v) for k, v in found.items()}


def keyword_entries(word: str) -> tuple[tuple[str, str], ...]:
    """(syntax, meaning) rows of the reference for a keyword, in document order."""
    return _index().get(word, ())
