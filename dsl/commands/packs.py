"""`iommu-rules packs` and `show-pack`: the stdlib packs."""

from __future__ import annotations

import argparse
import sys

from .base import EXIT_OK, EXIT_USAGE, Command, arg


def run_packs(args: argparse.Namespace) -> int:
    from ..packs import all_packs

    packs = all_packs()
    width = max(len(p.name) for p in packs)
    for p in packs:
        eras = f"  [kernel eras: {', '.join(p.eras)}]" if p.eras else ""
        print(f"{p.name:<{width}}  {p.summary}{eras}")
    return EXIT_OK


def run_show_pack(args: argparse.Namespace) -> int:
    from ..diagnostics import did_you_mean
    from ..loader import std_packs
    from ..packs import load_pack

    pack = load_pack(args.pack)
    if pack is None:
        hint = did_you_mean(args.pack, std_packs())
        print(
            f"iommu-rules show-pack: no pack '{args.pack}'"
            + (f"; {hint}" if hint else "; 'iommu-rules packs' lists them"),
            file=sys.stderr,
        )
        return EXIT_USAGE
    sys.stdout.write(pack.text)
    return EXIT_OK


PACKS = Command(
    name="packs",
    help="list the shipped stdlib packs",
    description="List the stdlib packs shipped with iommu-rules, with what each holds and "
    "the kernel versions its rules distinguish.",
    examples=("iommu-rules packs",),
    exit_codes=None,
    args=(),
    run=run_packs,
)

SHOW_PACK = Command(
    name="show-pack",
    help="print a stdlib pack",
    description="Print one stdlib pack, as a board would include it.",
    examples=("iommu-rules show-pack std/soc/tegra",),
    exit_codes=None,
    args=(arg("pack", metavar="PACK", completes="pack", help="e.g. std/linux"),),
    run=run_show_pack,
)
