"""Importers: real boards and machines into rule files."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from ..kinds import KINDS


def driver_packs(kinds: Iterable[str]) -> list[str]:
    """The include lines for the driver packs of these IOMMU kinds (a kind's `pack`), in a
    stable order."""
    packs = {KINDS[k].pack for k in kinds if k in KINDS and KINDS[k].pack}
    return [f'include "{p}"' for p in sorted(p for p in packs if p)]


def unchecked(text: str, source: Path) -> str | None:
    """The first input error `iommu-rules check` would report in a generated rule file
    (includes resolved from beside ``source``), or None when it loads clean: an importer
    writes only files that check."""
    from ..board import Board

    board = Board.from_text(text, "<import>", source)
    errors = [d for d in board.input_diagnostics if d.is_error]
    return f"{errors[0].code}: {errors[0].message}" if errors else None


def phb_name(domain: int) -> str:
    """A POWER host bridge's spapr-tce, named after its PCI domain ("iommu-phb%04x")."""
    return f"phb{domain:04x}"


def unique_name(base: str, used: set[str]) -> str:
    """``base``, or ``base_2``, ``base_3``, ... whichever is not taken yet; records it."""
    name, n = base, 1
    while name in used:
        n += 1
        name = f"{base}_{n}"
    used.add(name)
    return name
