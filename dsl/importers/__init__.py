"""Importers: real boards and machines into rule files."""

from __future__ import annotations

from collections.abc import Iterable

from ..kinds import KINDS


def driver_packs(kinds: Iterable[str]) -> list[str]:
    """The include lines for the driver packs of these IOMMU kinds (a kind's `pack`), in a
    stable order."""
    packs = {KINDS[k].pack for k in kinds if k in KINDS and KINDS[k].pack}
    return [f'include "{p}"' for p in sorted(p for p in packs if p)]


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
