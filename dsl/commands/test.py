"""`iommu-rules test`: every board's expectations as test cases."""

from __future__ import annotations

import argparse
import sys

from .base import EXIT_FAIL, Command, arg, diag_style, expand_dirs, resolve_each


def run(args: argparse.Namespace) -> int:
    from ..testing import run_tests

    paths = expand_dirs(args.files)
    boards, status = resolve_each(args, paths)
    failed = run_tests(boards, args.format, diag_style(args, sys.stdout))
    if failed:
        status = max(status, EXIT_FAIL)
    return status


COMMAND = Command(
    name="test",
    help="check every 'expect' of the given boards (a directory: its *.iommu files)",
    description="Run the expectations of each board. A failure shows the expected and "
    "actual values and why the actual value is what it is.",
    examples=(
        "iommu-rules test examples/",
        "iommu-rules test --format junit board.iommu > report.xml",
    ),
    args=(
        arg(
            "files", nargs="+", metavar="FILE", completes="rules", help="rule files or directories"
        ),
        arg(
            "--format",
            choices=("text", "json", "junit", "github", "sarif"),
            default="text",
            help="output format (default text); github and sarif report the failures",
        ),
    ),
    run=run,
)
