"""`iommu-rules compare`: one board under two kernels."""

from __future__ import annotations

import argparse
import sys

from .base import EXIT_OK, EXIT_USAGE, Command, apply_changes, arg, resolve_each


def run(args: argparse.Namespace) -> int:
    import json

    if len(args.kernel) != 2:
        print(
            "iommu-rules compare: give --kernel twice, e.g. --kernel 4.18 --kernel 6.8",
            file=sys.stderr,
        )
        return EXIT_USAGE
    boards, status = resolve_each(args, [args.file])
    if not boards:
        return status
    results = []
    for version in args.kernel:
        after, code = apply_changes(args, boards[0], [f"set kernel {version}"])
        if after is None:
            return code
        results.append(after)
    # The expectations speak of the board's own kernel: leave them out here.
    result = results[0].diff(results[1], ignore=("E401",))
    if args.json:
        print(
            json.dumps(
                {**result.data, "from": args.kernel[0], "to": args.kernel[1]},
                indent=2,
                sort_keys=True,
                default=str,
            )
        )
    else:
        print(f"kernel {args.kernel[0]} → {args.kernel[1]}")
        sys.stdout.write(result.text())
    return EXIT_OK


COMMAND = Command(
    name="compare",
    help="resolve a board under two kernel versions and show what changes",
    description="Resolve the same board under two kernel versions and print the "
    "differences per device, in the what-if diff's format.",
    examples=("iommu-rules compare examples/tegra30.iommu --kernel 4.18 --kernel 6.8",),
    exit_codes=None,
    args=(
        arg("file", metavar="FILE", completes="rules", help="the board"),
        arg(
            "--kernel",
            action="append",
            default=[],
            metavar="VERSION",
            help="a kernel version; give it twice",
        ),
        arg("--json", action="store_true", help="JSON diff"),
    ),
    run=run,
)
