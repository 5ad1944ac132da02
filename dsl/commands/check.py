"""`iommu-rules check`: parse, validate, resolve and lint rule files."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from .base import (
    EXIT_FAIL,
    EXIT_INPUT,
    EXIT_OK,
    RULE_FILES,
    WATCH,
    Command,
    arg,
    diag_style,
    read_stdin,
    watching,
)

if TYPE_CHECKING:
    from ..resultcache import Verdict
    from ..watch import Outcome


def run(args: argparse.Namespace) -> int:
    if args.watch:
        return watching(args, lambda: check(args))
    return check(args).status


def check(args: argparse.Namespace) -> Outcome:
    from ..diagnostics import SourceMap, render_all, summary, to_json
    from ..watch import Outcome

    diags = []
    sources = SourceMap()
    input_error = False
    files: set[Path] = set()
    for verdict in _verdicts(args.files):
        input_error = input_error or not verdict.ok
        diags += verdict.diagnostics
        sources.update(verdict.sources)
        files |= verdict.files
    given = {"<stdin>" if f == "-" else f for f in args.files}
    if args.format == "json":
        print(to_json(diags))
    elif args.format in ("github", "sarif", "junit"):
        from .. import formats

        if args.format == "github":
            sys.stdout.write(formats.github(diags))
        elif args.format == "sarif":
            sys.stdout.write(formats.sarif(diags))
        else:
            roots = sorted({d.span.file for d in diags if d.span.line} | set(args.files))
            sys.stdout.write(formats.junit(diags, roots))
    else:
        if diags:
            print(render_all(diags, sources, diag_style(args, sys.stderr)), file=sys.stderr)
        # the files given, then the files they include (packs among them), once each
        included = len(sources) - len(given & set(sources.names()))
        print(
            f"{summary(diags)} in {_files(len(given))}"
            + (f" (and {_files(included)} included)" if included > 0 else ""),
            file=sys.stderr if diags else sys.stdout,
        )
    if input_error:
        status = EXIT_INPUT
    elif any(d.is_error for d in diags):
        status = EXIT_FAIL
    else:
        status = EXIT_OK
    return Outcome(status, frozenset(files))


def _verdicts(paths: list[str]) -> list[Verdict]:
    """Each board's verdict: the stored one where nothing it read has changed (its files
    are read and compared, resultcache.py), else the board loaded and resolved now."""
    from ..board import Board
    from ..resultcache import Verdict, lookup, store
    from ..watch import files_read

    stdin = read_stdin() if "-" in paths else None
    out = []
    for path in paths:
        found = lookup(path) if path != "-" else None
        if found is None:
            board = Board.load(path, stdin=stdin)
            found = Verdict(board.diagnostics, board.ok, board.base.sources, files_read([board]))
            if path != "-":
                store(path, board, found)
        out.append(found)
    return out


def _files(n: int) -> str:
    return f"{n} file{'s' if n != 1 else ''}"


COMMAND = Command(
    name="check",
    help="parse and validate rule files; report every problem",
    description="Parse and validate rule files and everything they include; report every "
    "problem as file:line:col with the offending line.",
    examples=(
        "iommu-rules check examples/tegra30.iommu",
        "iommu-rules check --watch board.iommu",
    ),
    args=(
        RULE_FILES,
        arg(
            "--format",
            choices=("text", "json", "github", "sarif", "junit"),
            default="text",
            help="output format (default text): json (docs/json.md), github (workflow "
            "annotations), sarif (2.1.0, for code scanning), junit (XML test report)",
        ),
        WATCH,
    ),
    run=run,
)
