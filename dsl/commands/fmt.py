"""`iommu-rules fmt`: the canonical layout of rule files."""

from __future__ import annotations

import argparse
import sys

from .base import EXIT_FAIL, EXIT_INPUT, EXIT_OK, EXIT_USAGE, Command, arg, diag_style, read_stdin


def run(args: argparse.Namespace) -> int:
    import difflib

    from ..diagnostics import DiagnosticError, SourceMap, render_all
    from ..fmt import format_text
    from ..loader import read_source
    from ..pathio import write_atomic

    status = EXIT_OK
    style = diag_style(args, sys.stderr)
    if args.write and "-" in args.files:
        print("iommu-rules fmt: --write cannot be used with '-' (stdin)", file=sys.stderr)
        return EXIT_USAGE
    for path in args.files:
        from pathlib import Path

        if path == "-":
            text, display = read_stdin(), "<stdin>"
        else:
            display = path
            read, diag = read_source(Path(path), path, None)
            if diag is not None:
                sources = SourceMap()
                print(render_all([diag], sources, style), file=sys.stderr)
                status = max(status, EXIT_INPUT)
                continue
            assert read is not None
            text = read
        try:
            formatted = format_text(text, display)
        except DiagnosticError as exc:
            sources = SourceMap()
            from ..parse import normalize_text

            sources.add(display, normalize_text(text))
            print(render_all(exc.diagnostics, sources, style), file=sys.stderr)
            status = max(status, EXIT_INPUT)
            continue
        changed = formatted != text
        if args.check:
            if changed:
                print(f"would reformat {display}", file=sys.stderr)
                status = max(status, EXIT_FAIL)
        elif args.diff:
            if changed:
                sys.stdout.writelines(
                    difflib.unified_diff(
                        text.splitlines(keepends=True),
                        formatted.splitlines(keepends=True),
                        f"{display} (original)",
                        f"{display} (formatted)",
                    )
                )
                status = max(status, EXIT_FAIL)
        elif args.write:
            if changed:
                write_atomic(Path(path), formatted)
                print(f"reformatted {display}", file=sys.stderr)
        else:
            sys.stdout.write(formatted)
    return status


COMMAND = Command(
    name="fmt",
    help="format rule files canonically",
    description="Lay out rule files canonically, keeping every comment. Without an option "
    "the formatted text goes to stdout.",
    examples=(
        "iommu-rules fmt board.iommu",
        "iommu-rules fmt --check *.iommu",
        "iommu-rules fmt --write board.iommu",
    ),
    args=(
        arg("files", nargs="+", metavar="FILE", help="rule files ('-' reads stdin)"),
        arg(
            "--check", action="store_true", exclusive="mode", help="exit 1 if any file would change"
        ),
        arg(
            "--diff",
            action="store_true",
            exclusive="mode",
            help="print a unified diff of the changes",
        ),
        arg("--write", action="store_true", exclusive="mode", help="rewrite the files in place"),
    ),
    run=run,
)
