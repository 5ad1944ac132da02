"""`iommu-rules repl`: the interactive session (iommu_rules.repl)."""

from __future__ import annotations

import argparse
import sys

from .base import Command, arg, color_enabled


def run(args: argparse.Namespace) -> int:
    from ..repl.app import main as repl_main

    return repl_main(list(args.files), color_enabled(args.color, sys.stdout))


COMMAND = Command(
    name="repl",
    help="explore boards interactively: query, why, try changes, diff, save",
    description="An interactive session over the given boards: 'ops', 'show NAME', "
    "'groups', 'contexts', 'why QUERY', 'try CHANGE', 'diff', 'undo', 'save FILE', "
    "'export dot FILE'; statements typed at the prompt join the session. Without a "
    "terminal it reads commands from stdin, one per line, and exits 1 if one failed.",
    examples=(
        "iommu-rules repl examples/tegra30.iommu",
        "printf 'ops gpu\\nwhy gr3d.dma_ops\\n' | iommu-rules repl examples/tegra30.iommu",
    ),
    exit_codes=None,
    args=(arg("files", nargs="*", metavar="FILE", completes="rules", help="rule files to load"),),
    run=run,
)
