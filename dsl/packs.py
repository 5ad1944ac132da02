"""The shipped stdlib packs: what each is for, and which kernel eras it speaks about."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .loader import std_packs, std_root


@dataclass(frozen=True)
class Pack:
    name: str
    summary: str
    eras: tuple[str, ...]  # kernel versions its `when kernel` conditions mention
    text: str


def load_pack(name: str) -> Pack | None:
    path = std_root() / f"{name.removesuffix('.iommu')}.iommu"
    if not path.is_file():
        return None
    text = path.read_text(encoding="utf-8")
    first = text.splitlines()[0] if text else ""
    summary = re.sub(r"^#\s*std/\S+\s*[—-]\s*", "", first).strip() or first.lstrip("# ")
    versions = sorted(
        set(re.findall(r"when[^{]*?kernel\s*(?:>=|<=|==|<|>)\s*([0-9]+\.[0-9]+)", text)),
        key=lambda v: tuple(int(p) for p in v.split(".")),
    )
    return Pack(name, summary, tuple(versions), text)


def all_packs() -> list[Pack]:
    return [p for p in (load_pack(n) for n in std_packs()) if p is not None]
