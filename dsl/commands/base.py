"""What a command of the ``iommu-rules`` CLI is, and what the commands share.

A :class:`Command` is one record (name, help, description, arguments, examples,
exit codes and the handler), as the REPL's registry is; ``cli.build_parser``
turns the table ``commands.COMMANDS`` into argparse.  A new command is a module
in this package with its ``COMMAND``, listed in ``commands/__init__.py``.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TextIO

if TYPE_CHECKING:
    from ..board import Board
    from ..diagnostics import Diagnostic, Style
    from ..watch import Outcome

EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_INPUT, EXIT_INTERNAL = 0, 1, 2, 3, 4

EXIT_CODES = """exit codes:
  0  no problems
  1  a rule or expectation failed, or fmt --check found files to reformat
  2  usage error
  3  input error: syntax, unknown name, unreadable file
  4  internal error (a bug: please report it with the input that caused it)"""


# What a shell completes for an argument's value, beyond argparse's ``choices`` (which
# completion reads from the parser itself): rule files (``*.iommu`` and directories),
# any file, a directory, a stdlib pack name, a platform fact keyword of the grammar, a
# diagnostic code.  Without one, a value that is not a choice completes nothing.
Completes = Literal["rules", "file", "dir", "pack", "fact", "code"]


@dataclass(frozen=True)
class Arg:
    """One argument, as argparse's add_argument takes it; arguments with the same
    ``exclusive`` name form a mutually exclusive group; ``completes`` says what a shell
    offers for its value."""

    names: tuple[str, ...]
    options: Mapping[str, Any] = field(default_factory=dict)
    exclusive: str | None = None
    completes: Completes | None = None


def arg(
    *names: str, exclusive: str | None = None, completes: Completes | None = None, **options: Any
) -> Arg:
    return Arg(names, options, exclusive, completes)


@dataclass(frozen=True)
class Command:
    name: str
    help: str  # one line, in `iommu-rules --help`
    description: str
    examples: tuple[str, ...]
    args: tuple[Arg, ...]
    run: Callable[[argparse.Namespace], int]
    exit_codes: str | None = EXIT_CODES  # the epilog's exit-code section; None: none
    color: bool = True  # takes --color

    @property
    def epilog(self) -> str:
        head = "example:" if len(self.examples) == 1 else "examples:"
        text = head + "\n" + "\n".join(f"  {e}" for e in self.examples)
        return text + (f"\n\n{self.exit_codes}" if self.exit_codes else "")


# -- what the commands share --------------------------------------------------------------
def color_enabled(choice: str, stream: TextIO) -> bool:
    """--color always or never as asked; auto: on a terminal, unless NO_COLOR is set (an
    explicit option wins over NO_COLOR, as no-color.org asks)."""
    if choice in ("always", "never"):
        return choice == "always"
    if os.environ.get("NO_COLOR"):
        return False
    return stream.isatty() and os.environ.get("TERM") != "dumb"


def diag_style(args: argparse.Namespace, stream: TextIO) -> Style:
    from ..diagnostics import Style

    return Style(enabled=color_enabled(args.color, stream))


class InputError(Exception):
    """Input that cannot be read at all: standard input past the size limit, or not UTF-8.
    The CLI prints the diagnostic (quoting ``text`` where there is one) and exits 3."""

    def __init__(self, diagnostic: Diagnostic, text: str = ""):
        super().__init__(diagnostic.message)
        self.diagnostic = diagnostic
        self.text = text


def read_stdin() -> str:
    """Standard input as text, held to the limits every rule file has (16 MiB, UTF-8)."""
    from ..diagnostics import Span, error
    from ..loader import MAX_FILE_BYTES, decode

    data = sys.stdin.buffer.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise InputError(
            error(
                "E125",
                f"standard input is too large (more than {MAX_FILE_BYTES // (1024 * 1024)} MiB)",
                Span("<stdin>", 0, 0, 0, 0),
                help="split it into several files joined with 'include'",
            )
        )
    text, problem = decode(data, "<stdin>")
    if problem is not None:
        raise InputError(problem, data.decode("utf-8", "replace"))
    assert text is not None
    return text


def load_each(paths: Sequence[str]) -> list[Board]:
    """Each FILE argument is one board: loaded, with its includes, into its own model."""
    from ..board import Board

    stdin = read_stdin() if "-" in paths else None
    return [Board.load(path, stdin=stdin) for path in paths]


def resolve_each(args: argparse.Namespace, paths: Sequence[str]) -> tuple[list[Board], int]:
    """The boards that load without input errors; print the others' errors (code 3)."""
    return resolvable(args, load_each(paths))


def resolvable(args: argparse.Namespace, loaded: Sequence[Board]) -> tuple[list[Board], int]:
    """Of these boards, those without input errors; print the others' errors (code 3)."""
    from ..diagnostics import render_all

    boards: list[Board] = []
    status = EXIT_OK
    for board in loaded:
        if not board.ok:
            print(
                render_all(board.input_diagnostics, board.sources, diag_style(args, sys.stderr)),
                file=sys.stderr,
            )
            status = EXIT_INPUT
            continue
        boards.append(board)
    return boards, status


def apply_changes(
    args: argparse.Namespace, board: Board, texts: list[str]
) -> tuple[Board | None, int]:
    """Apply what-if changes to a board; report problems as diagnostics.

    Returns the changed board, or None and the exit code to give.
    """
    from ..diagnostics import SourceMap, render_all
    from ..whatif import ChangeError

    style = diag_style(args, sys.stderr)
    try:
        after = board.whatif(*texts)
    except ChangeError as exc:
        sources = SourceMap()
        sources.add(exc.name, exc.text)
        print(render_all(exc.diagnostics, sources, style), file=sys.stderr)
        return None, EXIT_INPUT
    if not after.ok:
        errors = [d for d in after.input_diagnostics if d.is_error]
        print(render_all(errors, board.base.sources, style), file=sys.stderr)
        # A bad value in the change itself is an input error; a board it breaks, a failure.
        bad_input = any(d.span.file.startswith("<change") for d in errors)
        return None, EXIT_INPUT if bad_input else EXIT_FAIL
    return after, EXIT_OK


def write_output(text: str, output: str | None, force: bool, what: str) -> int:
    """Write an importer's result: stdout, or a new file (never overwritten without --force)."""
    from pathlib import Path

    from ..pathio import write_atomic

    if not output:
        sys.stdout.write(text)
        return EXIT_OK
    path = Path(output)
    if path.exists() and not force:
        print(
            f"iommu-rules {what}: '{output}' exists; use --force to overwrite it", file=sys.stderr
        )
        return EXIT_USAGE
    write_atomic(path, text)
    print(f"wrote {output}", file=sys.stderr)
    return EXIT_OK


def expand_dirs(paths: Sequence[str]) -> list[str]:
    from pathlib import Path

    out: list[str] = []
    for p in paths:
        path = Path(p)
        if p != "-" and path.is_dir():
            out += sorted(str(f) for f in path.glob("*.iommu"))
        else:
            out.append(p)
    return out


# -- watch mode (check, test) -------------------------------------------------------------
# the rule files most commands take: one board each
RULE_FILES = arg(
    "files", nargs="+", metavar="FILE", completes="rules", help="rule files ('-' reads stdin)"
)

WATCH = arg(
    "--watch",
    action="store_true",
    help="run again whenever a file this run read changes (the FILEs, what they include, "
    "a directory's *.iommu files), clearing the screen first on a terminal; Ctrl-C stops "
    "and exits with the last run's status. For a person at a terminal: text output only, "
    "and not with '-' (stdin)",
)


def watching(args: argparse.Namespace, once: Callable[[], Outcome]) -> int:
    """Run ``once`` under watch mode (see watch.py), or refuse what it cannot do: another
    format is for a program, which would get one document per change in one stream with
    headers between them; standard input cannot be read again."""
    from ..watch import watch

    problem = None
    if args.format != "text":
        problem = f"--watch is for a terminal and prints text; --format {args.format} is not"
    elif "-" in args.files:
        problem = "--watch reads its files again on each change; '-' (stdin) cannot be"
    if problem is not None:
        print(f"iommu-rules {args.command}: error: {problem}", file=sys.stderr)
        return EXIT_USAGE
    return watch(once, args.command, args.files)
