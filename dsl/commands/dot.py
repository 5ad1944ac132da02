"""`iommu-rules dot`: a Graphviz view of a resolved board."""

from __future__ import annotations

import argparse
import sys

from .base import EXIT_INTERNAL, EXIT_USAGE, Command, apply_changes, arg, resolve_each


def run(args: argparse.Namespace) -> int:
    import shutil
    import subprocess
    from pathlib import Path

    from ..pathio import write_atomic, write_bytes_atomic

    boards, status = resolve_each(args, [args.file])
    if not boards:
        return status
    board = boards[0]
    changed: frozenset[str] = frozenset()
    if args.whatif:
        after, code = apply_changes(args, board, list(args.whatif))
        if after is None:
            return code
        changed = frozenset(board.diff(after).devices)
        board = after
    text = board.dot(args.view, changed)
    if args.render:
        dot = shutil.which("dot")
        if dot is None:
            print(
                "iommu-rules dot: --render needs Graphviz's 'dot', which is not installed "
                "(Debian/Ubuntu: apt-get install graphviz; macOS: brew install graphviz); "
                "without --render the DOT text is written instead",
                file=sys.stderr,
            )
            return EXIT_USAGE
        proc = subprocess.run(
            [dot, f"-T{args.render}"], input=text.encode(), capture_output=True, check=False
        )
        if proc.returncode != 0:
            print(
                f"iommu-rules dot: dot failed: {proc.stderr.decode(errors='replace')}",
                file=sys.stderr,
            )
            return EXIT_INTERNAL
        if not args.output:
            print("iommu-rules dot: --render writes binary output; give -o FILE", file=sys.stderr)
            return EXIT_USAGE
        write_bytes_atomic(Path(args.output), proc.stdout)
        return status
    if args.output:
        write_atomic(Path(args.output), text)
    else:
        sys.stdout.write(text)
    return status


COMMAND = Command(
    name="dot",
    help="export a Graphviz view: topology, groups or contexts",
    description="Export a Graphviz DOT view of a resolved board: 'topology' (IOMMUs, "
    "bridges, devices and their streams), 'groups' (groups per IOMMU, coloured by domain "
    "type, labelled with DMA ops) or 'contexts' (each IOMMU's contexts and the domains in "
    "them; exhaustion in red).",
    examples=(
        "iommu-rules dot examples/tegra30.iommu --view groups | dot -Tsvg > groups.svg",
        "iommu-rules dot examples/tegra30.iommu --view contexts --render png -o contexts.png",
    ),
    args=(
        arg("file", metavar="FILE", completes="rules", help="rule file ('-' reads stdin)"),
        arg(
            "--view",
            choices=("topology", "groups", "contexts"),
            default="groups",
            help="which view (default groups)",
        ),
        arg(
            "-o", "--output", metavar="OUT", completes="file", help="write to OUT instead of stdout"
        ),
        arg(
            "--whatif",
            action="append",
            default=[],
            metavar="CHANGE",
            help="draw the board after this change ('set kernel 6.8', 'drop rule X'); "
            "changed devices are marked; repeatable",
        ),
        arg(
            "--render",
            choices=("svg", "png", "pdf"),
            help="run Graphviz's dot to produce this format (needs -o)",
        ),
    ),
    run=run,
)
