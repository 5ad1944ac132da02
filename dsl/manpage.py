"""The manual page iommu-rules(1), generated from the command table and the parser.

Every command, option, argument, exit code and example comes from ``commands.COMMANDS``
and ``cli.build_parser`` (through ``completion.shapes``, the same reading of the parser
that the shells get), so the page cannot say less than ``--help`` does.  What the parser
does not know (the environment the program reads, the files it keeps) is in the two tables
below; a test checks that every variable the code reads is in ``ENVIRONMENT``.

The page is committed at the top of the repository, so ``man ./iommu-rules.1`` works in a
clone, and installed to ``share/man/man1``; after changing a command, regenerate it::

    python -m iommu_rules.manpage > iommu-rules.1

The output is man(7) roff, deterministic (no date), ASCII (other characters as ``\\[uXXXX]``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from . import __version__
from .commands.base import EXIT_CODES, Command
from .completion import Option, Positional, Shape, shapes

# What the program reads from its environment, and why.
ENVIRONMENT: tuple[tuple[str, str], ...] = (
    (
        "NO_COLOR",
        "When set and not empty, diagnostics are not coloured unless --color always is given "
        "(no-color.org).",
    ),
    ("TERM", "When dumb, diagnostics are not coloured by default."),
    (
        "XDG_CACHE_HOME",
        "Where the parse tables and the parsed files are cached (default ~/.cache); a "
        "read-only cache only makes start-up slower.",
    ),
    ("XDG_STATE_HOME", "Where the REPL keeps its history (default ~/.local/state)."),
    (
        "IOMMU_RULES_NO_CACHE",
        "When set and not empty, files are parsed every time, as with --no-cache.",
    ),
    (
        "IOMMU_RULES_DEBUG",
        "When set, an internal error shows its Python traceback instead of a one-line report.",
    ),
)

FILES: tuple[tuple[str, str], ...] = (
    (
        "*.iommu",
        "Rule files: a board, its rules and expectations; includes are relative to "
        "the including file, or std/... from the shipped stdlib packs (iommu-rules packs).",
    ),
    (
        "$XDG_CACHE_HOME/iommu-rules/tables-*.pickle",
        "The grammar's parse tables, rebuilt when the grammar or the version changes.",
    ),
    (
        "$XDG_CACHE_HOME/iommu-rules/trees/*.tree",
        "Parsed files, by their text; at most 256 MiB, least recently used first out.",
    ),
    (
        "$XDG_CACHE_HOME/iommu-rules/verdicts/*.verdict",
        "check's diagnostics by the bytes of every file it read, the working directory and "
        "the program; at most 64 MiB.",
    ),
    ("$XDG_STATE_HOME/iommu-rules/history", "The REPL's command history."),
)

SEE_ALSO = "dot(1), cpp(1), lspci(8), dmesg(1)"


def text(s: str) -> str:
    """Running text for roff: backslashes and hyphen-minus escaped, non-ASCII as \\[uXXXX],
    and a line that would start with a control character ('.' or "'") guarded with \\&."""
    s = s.replace("\\", "\\e").replace("-", "\\-")
    s = "".join(c if ord(c) < 128 else f"\\[u{ord(c):04X}]" for c in s)
    return re.sub(r"(?m)^([.'])", r"\\&\1", s)


def _bold(s: str) -> str:
    return f"\\fB{text(s)}\\fR"


def _italic(s: str) -> str:
    return f"\\fI{text(s)}\\fR"


def _option_tag(o: Option) -> str:
    names = ", ".join(_bold(n) for n in o.names)
    return names + (" " + _italic(o.metavar) if o.value is not None else "")


def _option_help(o: Option) -> str:
    out = o.help
    words = o.value.words if o.value is not None else ()
    # a short closed list the help does not spell out: say it (packs and codes are long)
    if words and len(words) <= 12 and not all(w in out for w in words):
        out += f" ({o.metavar}: {', '.join(words)})"
    return out


def _positional_synopsis(p: Positional) -> str:
    word = _italic(p.metavar)
    if p.many:
        word += " .\\|.\\|."
    return f"[{word}]" if p.optional else word


def _synopsis(c: Shape) -> str:
    parts = [_bold(f"iommu-rules {c.name}")]
    for o in c.options:
        if o.names[-1] == "--help":
            continue
        spelled = _bold(o.names[0])
        if o.value is not None:
            spelled += " " + _italic(o.metavar)
        parts.append(f"[{spelled}]" + (" .\\|.\\|." if o.repeats else ""))
    parts += [_positional_synopsis(p) for p in c.positionals]
    return " ".join(parts)


def exit_codes(block: str) -> list[tuple[str, str]]:
    """An epilog's 'exit codes:' block as (code, meaning); a line without a code continues
    the one before (whatif's note on --detailed-exitcode stands as its own row)."""
    rows: list[tuple[str, str]] = []
    for line in block.splitlines()[1:]:
        m = re.match(r"\s*(\d+)\s+(.*)", line)
        if m:
            rows.append((m.group(1), m.group(2).strip()))
        elif line.strip():
            rows.append(("", line.strip()))
    return rows


def _exit_rows(block: str) -> list[str]:
    out = []
    for code, meaning in exit_codes(block):
        if code:
            out += [".TP", _bold(code), text(meaning)]
        else:
            out += [".PP", text(meaning)]
    return out


def _examples(examples: Sequence[str]) -> list[str]:
    out = [".PP", ".RS 4", ".nf"]
    out += [text(e) for e in examples]
    return [*out, ".fi", ".RE"]


def page(commands: Sequence[Command]) -> str:
    from .cli import build_parser

    top, cmds = shapes(commands)
    by_name = {c.name: c for c in commands}
    parser = build_parser()
    summary = (parser.description or "").splitlines()
    out = [
        '.\\" Generated by: python -m iommu_rules.manpage > iommu-rules.1 (do not edit)',
        f'.TH IOMMU\\-RULES 1 "" "iommu\\-rules {text(__version__)}" "User Commands"',
        ".SH NAME",
        "iommu\\-rules \\- " + text(summary[-1][0].lower() + summary[-1][1:].rstrip(".")),
        ".SH SYNOPSIS",
        _bold("iommu-rules") + " [" + _bold("-h") + "] [" + _bold("--version") + "]",
        ".br",
        _bold("iommu-rules") + " " + _italic("COMMAND") + " [" + _italic("OPTION") + "].\\|.\\|."
        " [" + _italic("ARGUMENT") + "].\\|.\\|.",
        ".SH DESCRIPTION",
        text(" ".join(summary)),
        ".PP",
        text(
            "Each FILE is one board, resolved with everything it includes; '-' reads standard "
            "input. The commands:"
        ),
    ]
    for c in cmds:
        out += [".TP", _bold(c.name), text(c.help)]
    out += [".SH COMMANDS"]
    for c in cmds:
        cmd = by_name[c.name]
        out += [f'.SS "{text(c.name)}"', _synopsis(c), ".PP", text(cmd.description)]
        if c.positionals:
            out += [".PP", "Arguments:"]
            for p in c.positionals:
                out += [".TP", _italic(p.metavar), text(p.help or p.metavar.lower())]
        out += [".PP", "Options:"]
        for o in c.options:
            out += [".TP", _option_tag(o), text(_option_help(o))]
        out += [".PP", "Examples:", *_examples(cmd.examples)[1:]]
        if cmd.exit_codes and cmd.exit_codes != EXIT_CODES:
            out += [".PP", "Exit status:", *_exit_rows(cmd.exit_codes)]
    out += [".SH OPTIONS", text("Before a command:")]
    for o in top.options:
        out += [".TP", _option_tag(o), text(_option_help(o))]
    out += [
        ".PP",
        text("Every command takes -h, --help; the commands that print diagnostics take:"),
    ]
    color = next(o for c in cmds for o in c.options if o.names == ("--color",))
    out += [".TP", _option_tag(color), text(_option_help(color))]
    out += [".SH EXIT STATUS", *_exit_rows(EXIT_CODES)]
    own = [c.name for c in commands if c.exit_codes and c.exit_codes != EXIT_CODES]
    if own:
        out += [
            ".PP",
            text(f"Commands with codes of their own list them under COMMANDS: {', '.join(own)}."),
        ]
    out += [".SH ENVIRONMENT"]
    for name, meaning in ENVIRONMENT:
        out += [".TP", _bold(name), text(meaning)]
    out += [".SH FILES"]
    for name, meaning in FILES:
        out += [".TP", _italic(name), text(meaning)]
    out += [".SH EXAMPLES"]
    for c in cmds:
        out += _examples(by_name[c.name].examples[:1])
    out += [".SH SEE ALSO", text(SEE_ALSO)]
    return "\n".join(out) + "\n"


def main() -> int:
    import sys

    from .commands import COMMANDS

    sys.stdout.write(page(COMMANDS))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
