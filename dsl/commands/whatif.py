"""`iommu-rules whatif`: changes on top of a board, and the diff."""

from __future__ import annotations

import argparse
import sys

from .base import EXIT_FAIL, EXIT_OK, EXIT_USAGE, Command, apply_changes, arg, resolve_each

EXIT_DIFF = 2  # --detailed-exitcode: the board changed


def run(args: argparse.Namespace) -> int:
    """With --detailed-exitcode every error is 1 and a difference 2, as Terraform's plan."""
    status = _run(args)
    if args.detailed_exitcode and status not in (EXIT_OK, EXIT_DIFF):
        return EXIT_FAIL
    return status


def _run(args: argparse.Namespace) -> int:
    import json

    texts = [f"set {t}" for t in args.set] + [f"add {t}" for t in args.add]
    texts += [f"drop rule {t}" for t in args.drop_rule]
    texts += [f"drop device {t}" for t in args.drop_device]
    texts += [f"drop include {t}" for t in args.drop_include]
    texts += [f'add include "{t}"' for t in args.add_include]
    texts += [f"move {t}" for t in args.move]
    texts += list(args.change)
    if not texts:
        print(
            "iommu-rules whatif: give at least one change (--set, --add, --drop-rule, ...)",
            file=sys.stderr,
        )
        return EXIT_FAIL if args.detailed_exitcode else EXIT_USAGE  # 2 would say "a diff"
    boards, status = resolve_each(args, [args.file])
    if not boards:
        return status
    board = boards[0]
    after, code = apply_changes(args, board, texts)
    if after is None:
        return code
    result = board.diff(after)
    if args.json:
        print(json.dumps(result.data, indent=2, sort_keys=True, default=str))
    else:
        sys.stdout.write(result.text())
    if result.counts.get("new_errors"):
        return EXIT_FAIL  # the change breaks the board: exhaustion, conflicts, expectations
    if args.detailed_exitcode and result.changed:
        return EXIT_DIFF
    return EXIT_OK


COMMAND = Command(
    name="whatif",
    help="apply changes on top of a board, re-resolve and show the diff",
    description="Apply a change set on top of a board, resolve again and print the "
    "difference in Terraform's plan style: '+' added, '-' removed, '~' changed "
    "(old → new), then a summary line. Changes are written in the rule language.",
    examples=(
        "iommu-rules whatif examples/tegra30.iommu --set 'kernel 6.8'",
        "iommu-rules whatif examples/tegra30.iommu --set 'cmdline \"iommu.passthrough=1\"'",
        "iommu-rules whatif examples/tegra30.iommu --set 'mc contexts 2'",
        "iommu-rules whatif examples/tegra30.iommu --drop-rule "
        "'GPU drivers own their address space'",
        "iommu-rules whatif board.iommu --add 'rule gpu excludes implicit' --detailed-exitcode",
        "iommu-rules whatif examples/x86-desktop.iommu --move 'dgpu to pch_rp9'",
    ),
    exit_codes="""exit codes:
  0  the changed board has no new error (with --detailed-exitcode: and nothing changed)
  1  the change brings new errors (exhaustion, rule conflicts, failed expectations)
  2  usage error; with --detailed-exitcode: the board changed, without new errors
  3  input error: a change that does not parse or names nothing, a broken board
  with --detailed-exitcode every error is 1, as in Terraform's plan""",
    args=(
        arg("file", metavar="FILE", completes="rules", help="the board"),
        arg(
            "--set",
            completes="fact",
            action="append",
            default=[],
            metavar="FACT",
            help="set a platform fact ('kernel 6.8', 'cmdline \"iommu=pt\"', 'config X') "
            "or an IOMMU property ('mc contexts 2'); a repeatable property (`map`, `group`, "
            "`region`) replaces all of that IOMMU's lines of its kind",
        ),
        arg(
            "--add",
            action="append",
            default=[],
            metavar="STATEMENT",
            help="add a statement ('rule gpu excludes implicit', 'device x: ...')",
        ),
        arg(
            "--drop-rule",
            action="append",
            default=[],
            metavar="NAME",
            help="drop a rule by name or FILE:LINE",
        ),
        arg("--drop-device", action="append", default=[], metavar="NAME", help="drop a device"),
        arg(
            "--add-include",
            completes="pack",
            action="append",
            default=[],
            metavar="PACK",
            help="add an include, e.g. std/soc/qcom",
        ),
        arg(
            "--drop-include",
            completes="pack",
            action="append",
            default=[],
            metavar="PACK",
            help="drop an included file and what it says",
        ),
        arg(
            "--move",
            action="append",
            default=[],
            metavar="'DEVICE to BRIDGE'",
            help="move the card in DEVICE's slot (all its functions, and what is below its "
            "own bridges) below BRIDGE, as into another slot: 'dgpu to pch_rp7'",
        ),
        arg(
            "--change",
            action="append",
            default=[],
            metavar="CHANGE",
            help="any change: 'set ...', 'add ...', 'drop rule|device|iommu|bridge|domain|include "
            "NAME', 'move DEVICE to BRIDGE'",
        ),
        arg(
            "--detailed-exitcode",
            action="store_true",
            help="exit 2 when the diff is not empty, 0 when it is, 1 on any error",
        ),
        arg("--json", action="store_true", help="JSON diff (version 1)"),
    ),
    run=run,
)
