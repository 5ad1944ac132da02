"""`iommu-rules test`: every board's expectations as test cases."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from .base import (
    EXIT_FAIL,
    WATCH,
    Command,
    arg,
    diag_style,
    expand_dirs,
    load_each,
    resolvable,
    watching,
)

if TYPE_CHECKING:
    from ..watch import Outcome


def run(args: argparse.Namespace) -> int:
    if args.watch:
        return watching(args, lambda: test(args))
    return test(args).status


def test(args: argparse.Namespace) -> Outcome:
    from ..testing import run_tests
    from ..watch import Outcome, files_read

    loaded = load_each(expand_dirs(args.files))  # a directory's files as they are now
    boards, status = resolvable(args, loaded)
    failed = run_tests(boards, args.format, diag_style(args, sys.stdout))
    if failed:
        status = max(status, EXIT_FAIL)
    dirs = frozenset(Path(os.path.abspath(f)) for f in args.files if f != "-" and Path(f).is_dir())
    return Outcome(status, files_read(loaded), dirs)


COMMAND = Command(
    name="test",
    help="check every 'expect' of the given boards (a directory: its *.iommu files)",
    description="Run the expectations of each board. A failure shows the expected and "
    "actual values and why the actual value is what it is.",
    examples=(
        "iommu-rules test examples/",
        "iommu-rules test --format junit board.iommu > report.xml",
        "iommu-rules test --watch boards/",
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
        WATCH,
    ),
    run=run,
)
