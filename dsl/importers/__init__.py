"""Importers: real boards and machines into rule files."""

from __future__ import annotations


def unique_name(base: str, used: set[str]) -> str:
    """``base``, or ``base_2``, ``base_3``, ... whichever is not taken yet; records it."""
    name, n = base, 1
    while name in used:
        n += 1
        name = f"{base}_{n}"
    used.add(name)
    return name
