"""`iommu-rules resolve`: what the kernel does at boot, per device and per IOMMU."""

from __future__ import annotations

import argparse
import sys

from .base import EXIT_FAIL, RULE_FILES, Command, arg, diag_style, resolve_each


def run(args: argparse.Namespace) -> int:
    from ..diagnostics import render_all

    boards, status = resolve_each(args, args.files)
    for board in boards:
        if args.json:
            print(board.to_json())
        else:
            if len(args.files) > 1:
                print(f"== {board.name}")
            sys.stdout.write(board.report())
            if board.diagnostics:
                print(
                    render_all(board.diagnostics, board.sources, diag_style(args, sys.stderr)),
                    file=sys.stderr,
                )
        if any(d.is_error for d in board.diagnostics):
            status = max(status, EXIT_FAIL)
    return status


COMMAND = Command(
    name="resolve",
    help="resolve boards: groups, default domains, contexts, DMA ops, kernel log",
    description="Resolve each board the way the kernel would at boot: IOMMU groups, "
    "default domains, contexts and DMA ops per device, and the kernel log lines.",
    examples=(
        "iommu-rules resolve examples/tegra30.iommu",
        "iommu-rules resolve --json examples/sdm845.iommu",
    ),
    args=(
        RULE_FILES,
        arg(
            "--json",
            action="store_true",
            help="JSON output (schema iommu-rules/resolution, version 1; docs/json.md)",
        ),
    ),
    run=run,
)
