"""`iommu-rules fmt`: the canonical layout of rule files."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .base import (
    EXIT_FAIL,
    EXIT_INPUT,
    EXIT_OK,
    EXIT_USAGE,
    RULE_FILES,
    Command,
    arg,
    diag_style,
    read_stdin,
)


def run(args: argparse.Namespace) -> int:
    import difflib

    from ..diagnostics import DiagnosticError, SourceMap, render_all
    from ..fmt import format_text
    from ..loader import read_source
    from ..pathio import WriteError, as_written, write_atomic

    status = EXIT_OK
    style = diag_style(args, sys.stderr)
    if args.write and "-" in args.files:
        print("iommu-rules fmt: --write cannot be used with '-' (stdin)", file=sys.stderr)
        return EXIT_USAGE
    for path in args.files:
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
        formatted, mixed = as_written(text, formatted)
        changed = formatted != text
        if args.check and changed:
            print(f"would reformat {display}", file=sys.stderr)
            status = max(status, EXIT_FAIL)
        if args.diff and changed:
            sys.stdout.writelines(
                difflib.unified_diff(
                    text.splitlines(keepends=True),
                    formatted.splitlines(keepends=True),
                    f"{display} (original)",
                    f"{display} (formatted)",
                )
            )
            status = max(status, EXIT_FAIL)
        if args.write and changed:
            refused = _read_only(Path(path)) if not args.force else None
            if refused:
                print(f"iommu-rules fmt: {refused}; --force rewrites it", file=sys.stderr)
                status = max(status, EXIT_INPUT)
                continue
            try:
                write_atomic(Path(path), formatted)
            except WriteError as exc:
                print(f"iommu-rules fmt: cannot write '{path}': {exc.strerror}", file=sys.stderr)
                status = max(status, EXIT_INPUT)
                continue
            note = " (mixed line endings written as LF)" if mixed else ""
            print(f"reformatted {display}{note}", file=sys.stderr)
        if not (args.check or args.diff or args.write):
            sys.stdout.write(formatted)
    return status


def _read_only(path: Path) -> str | None:
    """Why a file is not to be rewritten: no write bit for anyone (0444), which even root
    should respect."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return None
    if not mode & 0o222:
        return f"'{path}' is read-only (mode {mode & 0o777:04o})"
    return None


COMMAND = Command(
    name="fmt",
    help="format rule files canonically",
    description="Lay out rule files canonically, keeping every comment. Without an option "
    "the formatted text goes to stdout; --check, --diff and --write combine (a CI step: "
    "--check --diff). A file's CRLF line endings and byte-order mark are kept.",
    examples=(
        "iommu-rules fmt board.iommu",
        "iommu-rules fmt --check *.iommu",
        "iommu-rules fmt --write board.iommu",
    ),
    args=(
        RULE_FILES,
        arg("--check", action="store_true", help="exit 1 if any file would change"),
        arg(
            "--diff",
            action="store_true",
            help="print a unified diff of the changes (exit 1 if there is one)",
        ),
        arg(
            "--write",
            action="store_true",
            help="rewrite the files in place, keeping their line endings, mode and owner",
        ),
        arg("--force", action="store_true", help="with --write: rewrite read-only files too"),
    ),
    run=run,
)
