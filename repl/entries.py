"""Where an entry at the prompt ends: a line, or lines joined while braces and parentheses
are open (strings and comments ignored).

Apart from the session: the prompt's Enter key asks it before the engine is imported.
"""

from __future__ import annotations

from iommu_rules.grammar import mask_line


def entries(text: str) -> list[str]:
    """Split pasted text into entries: lines, joined while braces are open."""
    out: list[str] = []
    buffer = ""
    for line in text.split("\n"):
        buffer = f"{buffer}\n{line}" if buffer else line
        if balanced(buffer):
            if buffer.strip():
                out.append(buffer)
            buffer = ""
    if buffer.strip():
        out.append(buffer)
    return out


def balanced(text: str) -> bool:
    """Whether braces and parentheses are closed (strings and comments ignored)."""
    return sum(nesting(line) for line in text.split("\n")) <= 0


def nesting(line: str) -> int:
    """How many braces and parentheses one line opens (negative: closes)."""
    code, _ = mask_line(line)
    return sum(code.count(c) for c in "{(") - sum(code.count(c) for c in "})")
