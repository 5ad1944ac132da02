"""The ``iommu-rules`` command: a thin client of the library.

The commands are a table (``commands.COMMANDS``, one module each); this module
turns it into argparse and runs one, with the top-level guard that keeps a
traceback from ever reaching a user.

Exit codes (also in ``--help`` and the README):
  0  no problems
  1  rule or expectation failures (the model resolved, but a check failed),
     or ``fmt --check`` found files to reformat
  2  usage error (bad flags)
  3  input errors (syntax, unknown names, unreadable files)
  4  internal error: a bug in iommu-rules, reported with a short message
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import sys
from collections.abc import Sequence

from . import __version__, caches
from .commands import COMMANDS
from .commands.base import (
    EXIT_CODES,
    EXIT_FAIL,
    EXIT_INPUT,
    EXIT_INTERNAL,
    EXIT_OK,
    EXIT_USAGE,
    Command,
    InputError,
)

BUG_HINT = (
    "this is a bug in iommu-rules; please report it with the input that caused it "
    "and the output of 'iommu-rules --version'"
)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _add(sub: argparse._SubParsersAction[_Parser], cmd: Command, common: _Parser) -> None:
    """One command's parser, from its record: examples keep their layout in the epilog."""
    parser = sub.add_parser(
        cmd.name,
        parents=[common] if cmd.color else [],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        help=cmd.help,
        description=cmd.description,
        epilog=cmd.epilog,
    )
    groups: dict[str, argparse._MutuallyExclusiveGroup] = {}
    for a in cmd.args:
        target: argparse._ActionsContainer = parser
        if a.exclusive is not None:
            if a.exclusive not in groups:
                groups[a.exclusive] = parser.add_mutually_exclusive_group()
            target = groups[a.exclusive]
        target.add_argument(*a.names, **a.options)
    parser.set_defaults(func=cmd.run)


def build_parser() -> argparse.ArgumentParser:
    common = _Parser(add_help=False)
    common.add_argument(
        "--color",
        choices=("auto", "always", "never"),
        default="auto",
        help="colour diagnostics (default: auto = on a terminal unless NO_COLOR is set)",
    )
    parser = _Parser(
        prog="iommu-rules",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Which IOMMU group, domain, context and DMA ops does each device get, "
        "and why?\nCheck, resolve and explore *.iommu rule files.",
        epilog=EXIT_CODES,
    )
    parser.add_argument("--version", action="version", version=f"iommu-rules {__version__}")
    parser.add_argument(
        "--no-cache",
        action="store_true",
        help="neither read nor write the caches in $XDG_CACHE_HOME/iommu-rules (parsed "
        "files, check's verdicts); also IOMMU_RULES_NO_CACHE=1",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for cmd in COMMANDS:
        _add(sub, cmd, common)
    return parser


def _io_problem(exc: OSError) -> str:
    """One line: the path the user named and why it failed."""
    from .pathio import WriteError

    why = exc.strerror or str(exc)
    if isinstance(exc, WriteError):
        return f"cannot write '{exc.filename}': {why}"
    if exc.filename:
        return f"cannot read '{exc.filename}': {why}"
    return f"cannot write to standard output: {why}"


def main(argv: Sequence[str] | None = None, end_process: bool = False) -> int:
    """Run one command and return its exit status. ``end_process``: end the process as soon as
    the command has run and its output is flushed (see :func:`run`)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        # whatif --detailed-exitcode keeps 2 for "a difference": its usage errors are 1
        if exc.code == EXIT_USAGE and "--detailed-exitcode" in argv and "whatif" in argv:
            return EXIT_FAIL
        raise
    if not getattr(args, "command", None):
        parser.print_help()
        return EXIT_USAGE
    caches.use(not args.no_cache)  # each run says it anew (tests run many in-process)
    collecting = gc.isenabled()
    if not _lives_on(args):
        gc.disable()
    try:
        status = int(args.func(args))
        if not sys.stdout.closed:  # the language server's transport closes it at 'exit'
            sys.stdout.flush()  # a full disk or a closed pipe shows here, not at exit
        if end_process and not _observed():
            if sys.stderr is not None:
                with contextlib.suppress(OSError, ValueError):  # closed: nothing to keep
                    sys.stderr.flush()
            os._exit(status)
        return status
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # Output went to a closed pipe (e.g. `| head`): not an error of ours.
        with contextlib.suppress(OSError):
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115
        return EXIT_OK
    except InputError as exc:
        from .diagnostics import SourceMap, render_all

        sources = SourceMap()
        sources.add(exc.diagnostic.span.file, exc.text)
        print(render_all([exc.diagnostic], sources), file=sys.stderr)
        return EXIT_INPUT
    except OSError as exc:  # the machine's, not a bug: a path that cannot be written or read
        print(f"iommu-rules {args.command}: {_io_problem(exc)}", file=sys.stderr)
        with contextlib.suppress(OSError):
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (what was buffered is lost)
        return EXIT_INPUT
    except Exception as exc:  # the top-level guard: no traceback reaches a user
        if os.environ.get("IOMMU_RULES_DEBUG"):
            raise
        print(f"iommu-rules: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        print(f"iommu-rules: {BUG_HINT} (set IOMMU_RULES_DEBUG=1 for a traceback)", file=sys.stderr)
        return EXIT_INTERNAL
    finally:
        if collecting:
            gc.enable()


def run() -> int:
    """The console script, and ``python -m iommu_rules``: once the command has run and its
    output is flushed, the process ends at once, without Python's teardown. The process
    keeps what it parsed (the parse memo, the parser's shapes), the REPL its boards, and at
    exit Python freed all of it object by object, with full collections in between: a fifth
    of a first `check` of a 10k-device board (4.22 s against 3.37 s), and 0.6-0.8 s between
    `quit` and the shell's prompt in the REPL on the same board. Every file a command writes
    is closed before it returns (the REPL's history line by line, as it is typed). What the
    guard around a command catches (Ctrl-C, a broken pipe, a path it cannot read or write, a
    bug) ends as before, and so does a run under a profiler or tracer (``python -m cProfile
    -o F -m iommu_rules``, coverage), which writes its data at exit. In-process callers use
    main()."""
    return main(end_process=True)


def _observed() -> bool:
    """Whether a profiler, tracer or monitoring tool (cProfile, coverage, a debugger) is
    attached: they write what they gathered as Python ends, so the process must end so."""
    if sys.getprofile() is not None or sys.gettrace() is not None:
        return True
    monitoring = getattr(sys, "monitoring", None)  # Python 3.12+: tools 0-5 by ID
    return monitoring is not None and any(monitoring.get_tool(i) for i in range(6))


def _lives_on(args: argparse.Namespace) -> bool:
    """Whether the command runs until the user stops it: the REPL, the language server,
    --watch. Every other run has no use for the cyclic collector: the boards it builds
    live until it ends, and the collector's scans of them were a sixth of `check` on a
    100k-device board (20.6 -> 17.5 s; they grow faster than the board). What cycles it
    leaves, the process's exit frees, or the caller's next collection in-process."""
    return args.command in ("repl", "lsp") or bool(getattr(args, "watch", False))
