"""`iommu-rules snapshot`: this machine (or a copied /sys tree) as a rule file."""

from __future__ import annotations

import argparse
import sys

from .base import EXIT_INPUT, Command, arg, diag_style, write_output


def run(args: argparse.Namespace) -> int:
    from ..diagnostics import SourceMap, render_all
    from ..importers.sysfs import snapshot

    result = snapshot(args.root)
    if result.diagnostics:
        print(
            render_all(result.diagnostics, SourceMap(), diag_style(args, sys.stderr)),
            file=sys.stderr,
        )
    if any(d.is_error for d in result.diagnostics):
        return EXIT_INPUT
    return write_output(result.text, args.output, args.force, "snapshot")


COMMAND = Command(
    name="snapshot",
    help="describe this machine (or a copied /sys tree) as a rule file",
    description="Read the running kernel's IOMMU groups, their default domain types, the "
    "PCI devices and bridges, the command line, kernel release and RAM, and write a rule "
    "file whose expectations record what the kernel decided. 'iommu-rules test' on it "
    "then shows whether the model reproduces the machine.",
    examples=(
        "iommu-rules snapshot -o this-pc.iommu",
        "iommu-rules snapshot --root ./copied-tree -o their-pc.iommu",
    ),
    exit_codes=None,
    args=(
        arg(
            "--root",
            default="/",
            metavar="DIR",
            completes="dir",
            help="read DIR/sys and DIR/proc instead of /",
        ),
        arg(
            "-o", "--output", metavar="FILE", completes="file", help="write FILE instead of stdout"
        ),
        arg("--force", action="store_true", help="overwrite an existing FILE"),
    ),
    run=run,
)
