"""`iommu-rules explain`: what a diagnostic code means, why, and an example (codes.py)."""

from __future__ import annotations

import argparse
import sys

from .base import EXIT_INPUT, EXIT_OK, Command, arg


def run(args: argparse.Namespace) -> int:
    from ..codes import CODES, explain_text

    if args.code is None:
        width = max(len(c.code) for c in CODES.values())
        for c in CODES.values():
            print(f"{c.code:<{width}}  {c.severity.value:<7}  {c.summary}")
        return EXIT_OK
    try:
        sys.stdout.write(explain_text(args.code))
    except KeyError as exc:
        print(f"iommu-rules explain: {exc.args[0]}", file=sys.stderr)
        return EXIT_INPUT
    return EXIT_OK


COMMAND = Command(
    name="explain",
    help="explain a diagnostic code: what it means, why, how to fix it, an example",
    description="Print the explanation of a diagnostic code (E104, W202, ...): what it "
    "means, why the kernel or the tool refuses it, how to fix it, and an example that "
    "raises it. Without a code, list every code with its one-line summary.",
    examples=("iommu-rules explain E301", "iommu-rules explain"),
    exit_codes="exit codes:\n  0  explained\n  3  no such code (the message suggests the closest)",
    color=False,
    args=(
        arg(
            "code", nargs="?", metavar="CODE", completes="code", help="a code such as E104 or W202"
        ),
    ),
    run=run,
)
