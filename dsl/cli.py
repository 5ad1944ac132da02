"""The ``iommu-rules`` command: a thin client of the library.

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
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TextIO

from . import __version__

if TYPE_CHECKING:
    from .board import Board

EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_INPUT, EXIT_INTERNAL = 0, 1, 2, 3, 4

EXIT_CODES = """exit codes:
  0  no problems
  1  a rule or expectation failed, or fmt --check found files to reformat
  2  usage error
  3  input error: syntax, unknown name, unreadable file
  4  internal error (a bug: please report it with the input that caused it)"""

BUG_HINT = (
    "this is a bug in iommu-rules; please report it with the input that caused it "
    "and the output of 'iommu-rules --version'"
)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _color_enabled(choice: str, stream: TextIO) -> bool:
    if choice == "never" or os.environ.get("NO_COLOR"):
        return False
    if choice == "always":
        return True
    return stream.isatty() and os.environ.get("TERM") != "dumb"


def _style(args: argparse.Namespace, stream: TextIO):  # type: ignore[no-untyped-def]
    from .diagnostics import Style

    return Style(enabled=_color_enabled(args.color, stream))


def _read_stdin() -> str:
    data = sys.stdin.buffer.read()
    from .loader import decode

    text, _ = decode(data, "<stdin>")
    return text if text is not None else data.decode("utf-8", "replace")


def _load_each(paths: Sequence[str]) -> list[Board]:
    """Each FILE argument is one board: loaded, with its includes, into its own model."""
    from .board import Board

    stdin = _read_stdin() if "-" in paths else None
    return [Board.load(path, stdin=stdin) for path in paths]


def _resolve_each(args: argparse.Namespace, paths: Sequence[str]) -> tuple[list[Board], int]:
    """The boards that load without input errors; print the others' errors (code 3)."""
    from .diagnostics import render_all

    boards: list[Board] = []
    status = EXIT_OK
    for board in _load_each(paths):
        if not board.ok:
            print(
                render_all(board.input_diagnostics, board.sources, _style(args, sys.stderr)),
                file=sys.stderr,
            )
            status = EXIT_INPUT
            continue
        boards.append(board)
    return boards, status


def cmd_check(args: argparse.Namespace) -> int:
    from .diagnostics import SourceMap, render_all, summary, to_json

    diags = []
    sources = SourceMap()
    files = 0
    input_error = False
    for board in _load_each(args.files):
        input_error = input_error or not board.ok
        diags += board.diagnostics
        sources.update(board.base.sources)
        files += len(board.base.sources)
    if args.format == "json":
        print(to_json(diags))
    elif args.format in ("github", "sarif", "junit"):
        from . import formats

        if args.format == "github":
            sys.stdout.write(formats.github(diags))
        elif args.format == "sarif":
            sys.stdout.write(formats.sarif(diags))
        else:
            roots = sorted({d.span.file for d in diags if d.span.line} | set(args.files))
            sys.stdout.write(formats.junit(diags, roots))
    else:
        if diags:
            print(render_all(diags, sources, _style(args, sys.stderr)), file=sys.stderr)
        print(
            f"{summary(diags)} in {files} file{'s' if files != 1 else ''}",
            file=sys.stderr if diags else sys.stdout,
        )
    if input_error:
        return EXIT_INPUT
    if any(d.is_error for d in diags):
        return EXIT_FAIL
    return EXIT_OK


def cmd_resolve(args: argparse.Namespace) -> int:
    from .diagnostics import render_all

    boards, status = _resolve_each(args, args.files)
    for board in boards:
        if args.json:
            print(board.to_json())
        else:
            if len(args.files) > 1:
                print(f"== {board.name}")
            sys.stdout.write(board.report())
            if board.diagnostics:
                print(
                    render_all(board.diagnostics, board.sources, _style(args, sys.stderr)),
                    file=sys.stderr,
                )
        if any(d.is_error for d in board.diagnostics):
            status = max(status, EXIT_FAIL)
    return status


def cmd_why(args: argparse.Namespace) -> int:
    import json

    from .explain import QueryError

    boards, status = _resolve_each(args, [args.file])
    if not boards:
        return status
    query = " ".join(args.query)
    not_value = None
    if args.query and args.query[0] == "not":
        if len(args.query) != 3:
            print(
                "iommu-rules why: 'why not' takes a query and a value, e.g. "
                "'why FILE not gr3d.dma_ops iommu-dma'",
                file=sys.stderr,
            )
            return EXIT_USAGE
        query, not_value = args.query[1], args.query[2]
    try:
        ex = boards[0].why(query, not_value)
    except QueryError as exc:
        print(f"iommu-rules why: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(
        json.dumps(ex.to_json(), indent=2, sort_keys=True, default=str) if args.json else ex.text()
    )
    return EXIT_OK


def cmd_test(args: argparse.Namespace) -> int:
    from .testing import run_tests

    paths = _expand_dirs(args.files)
    boards, status = _resolve_each(args, paths)
    failed = run_tests(boards, args.format, _style(args, sys.stdout))
    if failed:
        status = max(status, EXIT_FAIL)
    return status


def cmd_dot(args: argparse.Namespace) -> int:
    import shutil
    import subprocess
    from pathlib import Path

    from .pathio import write_atomic

    boards, status = _resolve_each(args, [args.file])
    if not boards:
        return status
    board = boards[0]
    changed: frozenset[str] = frozenset()
    if args.whatif:
        after, code = _apply_changes(args, board, list(args.whatif))
        if after is None:
            return code
        changed = frozenset(board.diff(after).devices)
        board = after
    text = board.dot(args.view, changed)
    if args.render:
        dot = shutil.which("dot")
        if dot is None:
            print(
                "iommu-rules dot: --render needs Graphviz's 'dot', which is not installed "
                "(Debian/Ubuntu: apt-get install graphviz; macOS: brew install graphviz); "
                "without --render the DOT text is written instead",
                file=sys.stderr,
            )
            return EXIT_USAGE
        proc = subprocess.run(
            [dot, f"-T{args.render}"], input=text.encode(), capture_output=True, check=False
        )
        if proc.returncode != 0:
            print(
                f"iommu-rules dot: dot failed: {proc.stderr.decode(errors='replace')}",
                file=sys.stderr,
            )
            return EXIT_INTERNAL
        if not args.output:
            print("iommu-rules dot: --render writes binary output; give -o FILE", file=sys.stderr)
            return EXIT_USAGE
        Path(args.output).write_bytes(proc.stdout)
        return status
    if args.output:
        write_atomic(Path(args.output), text)
    else:
        sys.stdout.write(text)
    return status


def _apply_changes(
    args: argparse.Namespace, board: Board, texts: list[str]
) -> tuple[Board | None, int]:
    """Apply what-if changes to a board; report problems as diagnostics.

    Returns the changed board, or None and the exit code to give.
    """
    from .diagnostics import SourceMap, render_all
    from .whatif import ChangeError

    style = _style(args, sys.stderr)
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


def cmd_whatif(args: argparse.Namespace) -> int:
    import json

    texts = [f"set {t}" for t in args.set] + [f"add {t}" for t in args.add]
    texts += [f"drop rule {t}" for t in args.drop_rule]
    texts += [f"drop device {t}" for t in args.drop_device]
    texts += [f"drop include {t}" for t in args.drop_include]
    texts += [f'add include "{t}"' for t in args.add_include]
    texts += list(args.change)
    if not texts:
        print(
            "iommu-rules whatif: give at least one change (--set, --add, --drop-rule, ...)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    boards, status = _resolve_each(args, [args.file])
    if not boards:
        return status
    board = boards[0]
    after, code = _apply_changes(args, board, texts)
    if after is None:
        return code
    result = board.diff(after)
    if args.json:
        print(json.dumps(result.data, indent=2, sort_keys=True, default=str))
    else:
        sys.stdout.write(result.text())
    if args.detailed_exitcode:
        return 2 if result.changed else EXIT_OK
    return EXIT_OK


def cmd_repl(args: argparse.Namespace) -> int:
    from .repl.app import main as repl_main

    return repl_main(list(args.files), _color_enabled(args.color, sys.stdout))


def cmd_packs(args: argparse.Namespace) -> int:
    from .packs import all_packs

    packs = all_packs()
    width = max(len(p.name) for p in packs)
    for p in packs:
        eras = f"  [kernel eras: {', '.join(p.eras)}]" if p.eras else ""
        print(f"{p.name:<{width}}  {p.summary}{eras}")
    return EXIT_OK


def cmd_show_pack(args: argparse.Namespace) -> int:
    from .diagnostics import did_you_mean
    from .loader import std_packs
    from .packs import load_pack

    pack = load_pack(args.pack)
    if pack is None:
        hint = did_you_mean(args.pack, std_packs())
        print(
            f"iommu-rules show-pack: no pack '{args.pack}'"
            + (f"; {hint}" if hint else "; 'iommu-rules packs' lists them"),
            file=sys.stderr,
        )
        return EXIT_USAGE
    sys.stdout.write(pack.text)
    return EXIT_OK


def cmd_compare(args: argparse.Namespace) -> int:
    import json

    if len(args.kernel) != 2:
        print(
            "iommu-rules compare: give --kernel twice, e.g. --kernel 4.18 --kernel 6.8",
            file=sys.stderr,
        )
        return EXIT_USAGE
    boards, status = _resolve_each(args, [args.file])
    if not boards:
        return status
    results = []
    for version in args.kernel:
        after, code = _apply_changes(args, boards[0], [f"set kernel {version}"])
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


def cmd_completion(args: argparse.Namespace) -> int:
    from .completion import script

    sys.stdout.write(script(args.shell, build_parser()))
    return EXIT_OK


def _write_output(text: str, output: str | None, force: bool, what: str) -> int:
    """Write an importer's result: stdout, or a new file (never overwritten without --force)."""
    from pathlib import Path

    from .pathio import write_atomic

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


def cmd_snapshot(args: argparse.Namespace) -> int:
    from .diagnostics import SourceMap, render_all
    from .importers.sysfs import snapshot

    result = snapshot(args.root)
    if result.diagnostics:
        print(
            render_all(result.diagnostics, SourceMap(), _style(args, sys.stderr)), file=sys.stderr
        )
    if any(d.is_error for d in result.diagnostics):
        return EXIT_INPUT
    return _write_output(result.text, args.output, args.force, "snapshot")


def cmd_import(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .diagnostics import SourceMap, render_all

    sources = SourceMap()
    if args.format == "dts":
        from .importers.dts import import_dts

        if len(args.files) != 1:
            print("iommu-rules import dts: give one device tree", file=sys.stderr)
            return EXIT_USAGE
        result = import_dts(Path(args.files[0]), list(args.include), args.arch)
        text, diags = result.text, result.diagnostics
    else:
        from .importers.listing import import_listings
        from .loader import read_source

        inputs: list[tuple[str, str]] = []
        problems = []
        stdin: str | None = None
        raw: str | None
        for name in args.files:
            if name == "-":
                stdin = _read_stdin() if stdin is None else stdin
                display, raw = "<stdin>", stdin
            else:
                display = name
                raw, problem = read_source(Path(name), name, None)
                if problem is not None:
                    problems.append(problem)
                    continue
            assert raw is not None
            inputs.append((display, raw))
            sources.add(display, raw)  # every file, so each diagnostic shows its own line
        if problems:
            print(render_all(problems, sources, _style(args, sys.stderr)), file=sys.stderr)
            return EXIT_INPUT
        listing = import_listings(inputs)
        text, diags = listing.text, listing.diagnostics
    if diags:
        print(render_all(diags, sources, _style(args, sys.stderr)), file=sys.stderr)
    if any(d.is_error for d in diags) or not text:
        return EXIT_INPUT
    return _write_output(text, args.output, args.force, "import")


def _expand_dirs(paths: Sequence[str]) -> list[str]:
    from pathlib import Path

    out: list[str] = []
    for p in paths:
        path = Path(p)
        if p != "-" and path.is_dir():
            out += sorted(str(f) for f in path.glob("*.iommu"))
        else:
            out.append(p)
    return out


def cmd_fmt(args: argparse.Namespace) -> int:
    import difflib

    from .diagnostics import DiagnosticError, SourceMap, render_all
    from .fmt import format_text
    from .loader import read_source
    from .pathio import write_atomic

    status = EXIT_OK
    style = _style(args, sys.stderr)
    if args.write and "-" in args.files:
        print("iommu-rules fmt: --write cannot be used with '-' (stdin)", file=sys.stderr)
        return EXIT_USAGE
    for path in args.files:
        from pathlib import Path

        if path == "-":
            text, display = _read_stdin(), "<stdin>"
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
            from .parse import normalize_text

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


def build_parser() -> argparse.ArgumentParser:
    common = _Parser(add_help=False)
    common.add_argument(
        "--color",
        choices=("auto", "always", "never"),
        default="auto",
        help="colour diagnostics (default: auto = on a terminal, never with NO_COLOR)",
    )
    parser = _Parser(
        prog="iommu-rules",
        description="Which IOMMU group, domain, context and DMA ops does each device get, "
        "and why? Check, resolve and explore *.iommu rule files.",
        epilog=EXIT_CODES,
    )
    parser.add_argument("--version", action="version", version=f"iommu-rules {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    def command(name: str, **kw: Any) -> argparse.ArgumentParser:
        """A subcommand: examples in its epilog keep their layout; common options."""
        kw.setdefault("parents", [common])
        return sub.add_parser(name, formatter_class=argparse.RawDescriptionHelpFormatter, **kw)

    p = command(
        "check",
        help="parse and validate rule files; report every problem",
        description="Parse and validate rule files and everything they include; report every "
        "problem as file:line:col with the offending line.",
        epilog="example:\n  iommu-rules check examples/tegra30.iommu\n\n" + EXIT_CODES,
    )
    p.add_argument("files", nargs="+", metavar="FILE", help="rule files ('-' reads stdin)")
    p.add_argument(
        "--format",
        choices=("text", "json", "github", "sarif", "junit"),
        default="text",
        help="output format (default text): json (docs/json.md), github (workflow "
        "annotations), sarif (2.1.0, for code scanning), junit (XML test report)",
    )
    p.set_defaults(func=cmd_check)

    p = command(
        "resolve",
        help="resolve boards: groups, default domains, contexts, DMA ops, kernel log",
        description="Resolve each board the way the kernel would at boot: IOMMU groups, "
        "default domains, contexts and DMA ops per device, and the kernel log lines.",
        epilog="examples:\n  iommu-rules resolve examples/tegra30.iommu\n"
        "  iommu-rules resolve --json examples/sdm845.iommu\n\n" + EXIT_CODES,
    )
    p.add_argument("files", nargs="+", metavar="FILE", help="rule files ('-' reads stdin)")
    p.add_argument(
        "--json",
        action="store_true",
        help="JSON output (schema iommu-rules/resolution, version 1; docs/json.md)",
    )
    p.set_defaults(func=cmd_resolve)

    p = command(
        "why",
        help="explain a derived value: the rules and facts behind it",
        description="Explain a derived value: each rule and fact that produced it with its "
        "file:line, and the kernel source it mirrors. QUERY is NAME.ATTRIBUTE "
        "(gr3d.dma_ops, mc.contexts_used), 'group-of NAME', or 'not NAME.ATTRIBUTE VALUE' "
        "to see what blocks a value.",
        epilog="examples:\n  iommu-rules why examples/tegra30.iommu gr3d.dma_ops\n"
        "  iommu-rules why examples/tegra30.iommu group-of dc0\n"
        "  iommu-rules why examples/tegra30.iommu not host1x.dma_ops dma-direct\n\n" + EXIT_CODES,
    )
    p.add_argument("file", metavar="FILE", help="rule file ('-' reads stdin)")
    p.add_argument("query", nargs="+", metavar="QUERY", help="what to explain")
    p.add_argument("--json", action="store_true", help="JSON output")
    p.set_defaults(func=cmd_why)

    p = command(
        "test",
        help="check every 'expect' of the given boards (a directory: its *.iommu files)",
        description="Run the expectations of each board. A failure shows the expected and "
        "actual values and why the actual value is what it is.",
        epilog="examples:\n  iommu-rules test examples/\n"
        "  iommu-rules test --format junit board.iommu > report.xml\n\n" + EXIT_CODES,
    )
    p.add_argument("files", nargs="+", metavar="FILE", help="rule files or directories")
    p.add_argument(
        "--format",
        choices=("text", "json", "junit", "github", "sarif"),
        default="text",
        help="output format (default text); github and sarif report the failures",
    )
    p.set_defaults(func=cmd_test)

    p = command(
        "dot",
        help="export a Graphviz view: topology, groups or contexts",
        description="Export a Graphviz DOT view of a resolved board: 'topology' (IOMMUs, "
        "bridges, devices and their streams), 'groups' (groups per IOMMU, coloured by domain "
        "type, labelled with DMA ops) or 'contexts' (each IOMMU's contexts and the domains in "
        "them; exhaustion in red).",
        epilog="examples:\n  iommu-rules dot examples/tegra30.iommu --view groups | dot -Tsvg "
        "> groups.svg\n  iommu-rules dot examples/tegra30.iommu --view contexts --render png "
        "-o contexts.png\n\n" + EXIT_CODES,
    )
    p.add_argument("file", metavar="FILE", help="rule file ('-' reads stdin)")
    p.add_argument(
        "--view",
        choices=("topology", "groups", "contexts"),
        default="groups",
        help="which view (default groups)",
    )
    p.add_argument("-o", "--output", metavar="OUT", help="write to OUT instead of stdout")
    p.add_argument(
        "--whatif",
        action="append",
        default=[],
        metavar="CHANGE",
        help="draw the board after this change ('set kernel 6.8', 'drop rule X'); "
        "changed devices are marked; repeatable",
    )
    p.add_argument(
        "--render",
        choices=("svg", "png", "pdf"),
        help="run Graphviz's dot to produce this format (needs -o)",
    )
    p.set_defaults(func=cmd_dot)

    p = command(
        "whatif",
        help="apply changes on top of a board, re-resolve and show the diff",
        description="Apply a change set on top of a board, resolve again and print the "
        "difference in Terraform's plan style: '+' added, '-' removed, '~' changed "
        "(old → new), then a summary line. Changes are written in the rule language.",
        epilog="examples:\n"
        "  iommu-rules whatif examples/tegra30.iommu --set 'kernel 6.8'\n"
        "  iommu-rules whatif examples/tegra30.iommu --set 'cmdline \"iommu.passthrough=1\"'\n"
        "  iommu-rules whatif examples/tegra30.iommu --set 'mc contexts 2'\n"
        "  iommu-rules whatif examples/tegra30.iommu --drop-rule "
        "'GPU drivers own their address space'\n"
        "  iommu-rules whatif board.iommu --add 'rule gpu excludes implicit' "
        "--detailed-exitcode\n\n"
        "exit codes: 0 no change (or no --detailed-exitcode), 2 changes with "
        "--detailed-exitcode, 1 the changed board fails to resolve, 3 input errors",
    )
    p.add_argument("file", metavar="FILE", help="the board")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FACT",
        help="set a platform fact ('kernel 6.8', 'cmdline \"iommu=pt\"', 'config X') "
        "or an IOMMU property ('mc contexts 2'); a repeatable property (`map`, `group`, "
        "`region`) replaces all of that IOMMU's lines of its kind",
    )
    p.add_argument(
        "--add",
        action="append",
        default=[],
        metavar="STATEMENT",
        help="add a statement ('rule gpu excludes implicit', 'device x: ...')",
    )
    p.add_argument(
        "--drop-rule",
        action="append",
        default=[],
        metavar="NAME",
        help="drop a rule by name or FILE:LINE",
    )
    p.add_argument(
        "--drop-device", action="append", default=[], metavar="NAME", help="drop a device"
    )
    p.add_argument(
        "--add-include",
        action="append",
        default=[],
        metavar="PACK",
        help="add an include, e.g. std/soc/qcom",
    )
    p.add_argument(
        "--drop-include",
        action="append",
        default=[],
        metavar="PACK",
        help="drop an included file and what it says",
    )
    p.add_argument(
        "--change",
        action="append",
        default=[],
        metavar="CHANGE",
        help="any change: 'set ...', 'add ...', 'drop rule|device|include ...'",
    )
    p.add_argument(
        "--detailed-exitcode",
        action="store_true",
        help="exit 2 when the diff is not empty, 0 when it is",
    )
    p.add_argument("--json", action="store_true", help="JSON diff (version 1)")
    p.set_defaults(func=cmd_whatif)

    p = command(
        "repl",
        help="explore boards interactively: query, why, try changes, diff, save",
        description="An interactive session over the given boards: 'ops', 'show NAME', "
        "'groups', 'contexts', 'why QUERY', 'try CHANGE', 'diff', 'undo', 'save FILE', "
        "'export dot FILE'; statements typed at the prompt join the session. Without a "
        "terminal it reads commands from stdin, one per line, and exits 1 if one failed.",
        epilog="examples:\n  iommu-rules repl examples/tegra30.iommu\n"
        "  printf 'ops gpu\\nwhy gr3d.dma_ops\\n' | iommu-rules repl examples/tegra30.iommu",
    )
    p.add_argument("files", nargs="*", metavar="FILE", help="rule files to load")
    p.set_defaults(func=cmd_repl)

    p = command(
        "packs",
        help="list the shipped stdlib packs",
        description="List the stdlib packs shipped with iommu-rules, with what each holds and "
        "the kernel versions its rules distinguish.",
        epilog="example:\n  iommu-rules packs",
    )
    p.set_defaults(func=cmd_packs)

    p = command(
        "show-pack",
        help="print a stdlib pack",
        description="Print one stdlib pack, as a board would include it.",
        epilog="example:\n  iommu-rules show-pack std/soc/tegra",
    )
    p.add_argument("pack", metavar="PACK", help="e.g. std/linux")
    p.set_defaults(func=cmd_show_pack)

    p = command(
        "compare",
        help="resolve a board under two kernel versions and show what changes",
        description="Resolve the same board under two kernel versions and print the "
        "differences per device, in the what-if diff's format.",
        epilog="example:\n  iommu-rules compare examples/tegra30.iommu --kernel 4.18 --kernel 6.8",
    )
    p.add_argument("file", metavar="FILE")
    p.add_argument(
        "--kernel",
        action="append",
        default=[],
        metavar="VERSION",
        help="a kernel version; give it twice",
    )
    p.add_argument("--json", action="store_true", help="JSON diff")
    p.set_defaults(func=cmd_compare)

    p = command(
        "completion",
        parents=[],
        help="print a shell completion script (bash, zsh, fish)",
        description="Print a completion script for your shell; the first line says where to "
        "install it.",
        epilog="examples:\n  iommu-rules completion bash > "
        "~/.local/share/bash-completion/completions/iommu-rules\n"
        "  iommu-rules completion zsh > ~/.zfunc/_iommu-rules\n"
        "  iommu-rules completion fish > ~/.config/fish/completions/iommu-rules.fish",
    )
    p.add_argument("shell", choices=("bash", "zsh", "fish"))
    p.set_defaults(func=cmd_completion)

    p = command(
        "import",
        help="turn a device tree, or IOMMU-group listings, dmesg and lspci trees, into a rule file",
        description="Import a board: 'dts' reads a device tree source (.dts, run through cpp "
        "for its #includes) or blob (.dtb). 'listing' reads what people post about a PC: the "
        "'IOMMU Group N ...' script output, lspci -nn lines, lspci -tv (or -t, -tvnn) trees "
        "and dmesg or journalctl -k output (IOMMU groups, the default domain type, DMAR / "
        "AMD-Vi / arm-smmu lines, POWER's 'Configured PE#' lines, the kernel version and "
        "command line), alone or mixed, from "
        "one file or several files of the same machine, merged by PCI address. The tree gives "
        "each device's 'upstream' bridge; observed groups and the default domain type become "
        "expectations. What is there is imported and the output says what was missing; lines "
        "that look like these but cannot be read are W801 warnings at file:line:col (other "
        "dmesg lines are skipped silently).",
        epilog="examples:\n  iommu-rules import dts tegra30-grouper.dts -I linux/include "
        "-o nexus7.iommu\n  iommu-rules import listing groups.txt -o my-pc.iommu\n"
        "  iommu-rules import listing groups.txt dmesg.txt lspci-tv.txt -o board.iommu\n"
        "  sudo dmesg | iommu-rules import listing - lspci-tv.txt",
    )
    p.add_argument("format", choices=("dts", "listing"), help="what FILE is")
    p.add_argument(
        "files",
        nargs="+",
        metavar="FILE",
        help="the input: one device tree, or one or more listing, lspci or dmesg files of one "
        "machine ('-' reads stdin)",
    )
    p.add_argument(
        "-I",
        "--include",
        action="append",
        default=[],
        metavar="DIR",
        help="include directory for cpp (dts)",
    )
    p.add_argument(
        "--arch",
        choices=("arm", "arm64", "x86_64", "riscv64", "powerpc"),
        help="the architecture, when the root compatible does not tell (dts)",
    )
    p.add_argument("-o", "--output", metavar="OUT", help="write OUT instead of stdout")
    p.add_argument("--force", action="store_true", help="overwrite an existing OUT")
    p.set_defaults(func=cmd_import)

    p = command(
        "snapshot",
        help="describe this machine (or a copied /sys tree) as a rule file",
        description="Read the running kernel's IOMMU groups, their default domain types, the "
        "PCI devices and bridges, the command line, kernel release and RAM, and write a rule "
        "file whose expectations record what the kernel decided. 'iommu-rules test' on it "
        "then shows whether the model reproduces the machine.",
        epilog="examples:\n  iommu-rules snapshot -o this-pc.iommu\n"
        "  iommu-rules snapshot --root ./copied-tree -o their-pc.iommu",
    )
    p.add_argument("--root", default="/", help="read DIR/sys and DIR/proc instead of /")
    p.add_argument("-o", "--output", metavar="FILE", help="write FILE instead of stdout")
    p.add_argument("--force", action="store_true", help="overwrite an existing FILE")
    p.set_defaults(func=cmd_snapshot)

    p = command(
        "fmt",
        help="format rule files canonically",
        description="Lay out rule files canonically, keeping every comment. Without an option "
        "the formatted text goes to stdout.",
        epilog="examples:\n  iommu-rules fmt board.iommu\n  iommu-rules fmt --check *.iommu\n"
        "  iommu-rules fmt --write board.iommu\n\n" + EXIT_CODES,
    )
    p.add_argument("files", nargs="+", metavar="FILE", help="rule files ('-' reads stdin)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="exit 1 if any file would change")
    mode.add_argument("--diff", action="store_true", help="print a unified diff of the changes")
    mode.add_argument("--write", action="store_true", help="rewrite the files in place")
    p.set_defaults(func=cmd_fmt)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # Output went to a closed pipe (e.g. `| head`): not an error of ours.
        with contextlib.suppress(OSError):
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115
        return EXIT_OK
    except Exception as exc:  # the top-level guard: no traceback reaches a user
        if os.environ.get("IOMMU_RULES_DEBUG"):
            raise
        print(f"iommu-rules: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        print(f"iommu-rules: {BUG_HINT} (set IOMMU_RULES_DEBUG=1 for a traceback)", file=sys.stderr)
        return EXIT_INTERNAL
