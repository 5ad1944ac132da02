"""Shell completion scripts (bash, zsh, fish), generated from the CLI's parser.

What a shell offers comes from one place each: the commands, their options and
every ``choices=`` list from argparse as ``cli.build_parser`` builds it (so
``--view`` offers exactly the views ``dot`` accepts); what a value is beyond its
choices from the command table's ``Arg.completes``: rule files (``*.iommu`` and
directories), any file, a directory, the shipped stdlib packs (``loader.std_packs``),
the platform facts of the grammar (``grammar.platform_facts``) or the diagnostic codes
(``codes.CODES``).  :func:`shapes` is that model, shell-neutral; each shell's writer
only spells it.

A value with nothing to complete (``--add STATEMENT``) completes nothing rather than
file names; ``--help`` is argparse's own option, listed once per command.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from .commands.base import Arg, Command

PathKind = Literal["rules", "file", "dir"]


@dataclass(frozen=True)
class Value:
    """What an argument's value completes: a closed list of words, a kind of path, or
    (neither) nothing."""

    words: tuple[str, ...] = ()
    path: PathKind | None = None

    @property
    def kind(self) -> str:
        return "words" if self.words else self.path or "none"


@dataclass(frozen=True)
class Option:
    names: tuple[str, ...]  # as argparse has them: -o before --output
    help: str
    value: Value | None  # None: a flag
    metavar: str
    repeats: bool  # action="append": may be given again


@dataclass(frozen=True)
class Positional:
    metavar: str
    help: str
    value: Value
    many: bool  # nargs + or *: the last positional takes every further word
    optional: bool  # nargs ? or *


@dataclass(frozen=True)
class Shape:
    """One command (or, named '', the program itself) as a shell sees it."""

    name: str
    help: str
    options: tuple[Option, ...]
    positionals: tuple[Positional, ...]

    @property
    def value_options(self) -> list[str]:
        return [n for o in self.options if o.value is not None for n in o.names]


def _one_line(text: str | None) -> str:
    return re.sub(r"\s+", " ", text or "").strip()


def _value(action: argparse.Action, spec: Arg | None) -> Value:
    if action.choices is not None:
        return Value(tuple(str(c) for c in action.choices))
    completes = spec.completes if spec is not None else None
    if completes == "pack":
        from .loader import std_packs

        return Value(tuple(std_packs()))
    if completes == "fact":
        from .grammar import platform_facts

        return Value(platform_facts())
    if completes == "code":
        from .codes import CODES

        return Value(tuple(CODES))
    if completes in ("rules", "file", "dir"):
        return Value(path=completes)
    return Value()


def _metavar(action: argparse.Action) -> str:
    if isinstance(action.metavar, str):
        return action.metavar
    return action.dest.upper() if action.option_strings else action.dest


def _shape(name: str, help: str, parser: argparse.ArgumentParser, cmd: Command | None) -> Shape:
    specs = {n: a for a in (cmd.args if cmd else ()) for n in a.names}
    options: list[Option] = []
    positionals: list[Positional] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            continue
        spec = specs.get(action.option_strings[0] if action.option_strings else action.dest)
        if action.option_strings:
            takes = action.nargs != 0
            options.append(
                Option(
                    tuple(action.option_strings),
                    _one_line(action.help),
                    _value(action, spec) if takes else None,
                    _metavar(action),
                    isinstance(action, argparse._AppendAction),
                )
            )
        else:
            positionals.append(
                Positional(
                    _metavar(action),
                    _one_line(action.help),
                    _value(action, spec),
                    action.nargs in ("+", "*"),
                    action.nargs in ("?", "*"),
                )
            )
    return Shape(name, help, tuple(options), tuple(positionals))


def subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """The command parsers below the program's parser, by command name."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def shapes(commands: Sequence[Command]) -> tuple[Shape, list[Shape]]:
    """(the program's own options, each command in ``commands``), read from the parser."""
    from .cli import build_parser

    parser = build_parser()
    subs = subparsers(parser)
    top = _shape("", _one_line(parser.description), parser, None)
    return top, [_shape(c.name, c.help, subs[c.name], c) for c in commands]


def script(shell: str, commands: Sequence[Command]) -> str:
    top, cmds = shapes(commands)
    if shell == "bash":
        return _bash(top, cmds)
    if shell == "zsh":
        return _zsh(top, cmds)
    if shell == "fish":
        return _fish(top, cmds)
    raise ValueError(shell)


# -- bash ---------------------------------------------------------------------------------
def _bash(top: Shape, cmds: list[Shape]) -> str:
    names = " ".join(c.name for c in cmds)
    top_options = " ".join(n for o in top.options for n in o.names)
    cases, value_cases = [], []
    for c in cmds:
        opts = " ".join(sorted(n for o in c.options for n in o.names))
        pos = " ".join(f'"{p.value.kind}:{" ".join(p.value.words)}"' for p in c.positionals)
        many = int(bool(c.positionals) and c.positionals[-1].many)
        cases.append(
            f'        {c.name}) opts="{opts}"; valopts="{" ".join(c.value_options)}"; '
            f"pos=({pos}); many={many} ;;"
        )
        for o in c.options:
            if o.value is not None:
                pattern = "|".join(f"{c.name}:{n}" for n in o.names)
                value_cases.append(
                    f'        {pattern}) kind={o.value.kind}; words="{" ".join(o.value.words)}" ;;'
                )
    return f"""# bash completion for iommu-rules; install: iommu-rules completion bash \\
#   > ~/.local/share/bash-completion/completions/iommu-rules
_iommu_rules_reply() {{
    # $1: what the value is (words, rules, file, dir or none); $2: the words; $3: typed so far
    case "$1" in
        words) COMPREPLY=($(compgen -W "$2" -- "$3")) ;;
        rules) COMPREPLY=($(compgen -f -X '!*.iommu' -- "$3") $(compgen -d -- "$3")) ;;
        file) COMPREPLY=($(compgen -f -- "$3")) ;;
        dir) COMPREPLY=($(compgen -d -- "$3")) ;;
        *) COMPREPLY=() ;;
    esac
}}
_iommu_rules() {{
    local cur=${{COMP_WORDS[COMP_CWORD]}} prev=${{COMP_WORDS[COMP_CWORD-1]}}
    local cmd=${{COMP_WORDS[1]}} opts="" valopts="" kind="" words="" many=0 i n=0 w spec
    local -a pos=()
    # --view=groups: readline splits the word at '=' (COMP_WORDBREAKS)
    if [ "$cur" = "=" ]; then
        cur=""
    elif [ "$prev" = "=" ] && [ "$COMP_CWORD" -ge 3 ]; then
        prev=${{COMP_WORDS[COMP_CWORD-2]}}
    fi
    if [ "$COMP_CWORD" -eq 1 ] && [[ "$cur" == -* ]]; then
        _iommu_rules_reply words "{top_options}" "$cur"; return
    elif [ "$COMP_CWORD" -eq 1 ]; then
        _iommu_rules_reply words "{names}" "$cur"; return
    fi
    case "$cmd" in
{chr(10).join(cases)}
        *) return ;;
    esac
    case "$cmd:$prev" in
{chr(10).join(value_cases)}
    esac
    if [ -n "$kind" ]; then
        _iommu_rules_reply "$kind" "$words" "$cur"; return
    fi
    if [[ "$cur" == -* ]]; then
        _iommu_rules_reply words "$opts" "$cur"; return
    fi
    # which positional argument this is: options and their values do not count
    for (( i = 2; i < COMP_CWORD; i++ )); do
        w=${{COMP_WORDS[i]}}
        case "$w" in
            -*) if [[ " $valopts " == *" $w "* ]]; then
                    if [ "${{COMP_WORDS[i+1]}}" = "=" ]; then (( i += 2 )); else (( i++ )); fi
                fi ;;
            *) (( n++ )) ;;
        esac
    done
    if (( n >= ${{#pos[@]}} )); then
        if (( many == 0 )); then
            _iommu_rules_reply words "$opts" "$cur"; return
        fi
        n=$(( ${{#pos[@]}} - 1 ))
    fi
    spec=${{pos[n]}}
    _iommu_rules_reply "${{spec%%:*}}" "${{spec#*:}}" "$cur"
}}
complete -o filenames -F _iommu_rules iommu-rules
"""


# -- zsh ----------------------------------------------------------------------------------
def _zq(text: str) -> str:
    """One single-quoted zsh word."""
    return "'" + text.replace("'", "'\\''") + "'"


def _zdesc(text: str) -> str:
    """An _arguments description or message: brackets and colons escaped."""
    return re.sub(r"([\\\[\]:])", r"\\\1", text)


def _zaction(value: Value) -> str:
    if value.words:
        return "(" + " ".join(value.words) + ")"
    return {"rules": '_files -g "*.iommu"', "file": "_files", "dir": "_files -/"}.get(
        value.path or "", " "
    )


def _zmessage(metavar: str) -> str:
    return _zdesc(metavar.strip("'\"")) or "value"


def _zoption(o: Option) -> str:
    if o.names[-1] == "--help" or o.names[-1] == "--version":
        prefix = "'(- *)'"
    elif o.repeats:
        prefix = "'*'"
    elif len(o.names) > 1:
        prefix = _zq("(" + " ".join(o.names) + ")")
    else:
        prefix = ""
    # a value in the same word too: -oOUT, --output=OUT
    spelled = [n + ("" if o.value is None else "=" if n.startswith("--") else "+") for n in o.names]
    names = "{" + ",".join(spelled) + "}" if len(spelled) > 1 else spelled[0]
    spec = f"[{_zdesc(o.help)}]"
    if o.value is not None:
        spec += f":{_zmessage(o.metavar)}:{_zaction(o.value)}"
    return prefix + names + _zq(spec)


def _zpositionals(c: Shape) -> list[str]:
    out = []
    for i, p in enumerate(c.positionals, 1):
        where = "*" if p.many else str(i) + (":" if p.optional else "")
        out.append(_zq(f"{where}:{_zmessage(p.metavar)}:{_zaction(p.value)}"))
    return out


def _zsh(top: Shape, cmds: list[Shape]) -> str:
    described = "\n".join(f"    {_zq(c.name + ':' + _zdesc(c.help))}" for c in cmds)
    cases = []
    for c in cmds:
        specs = [_zoption(o) for o in c.options] + _zpositionals(c)
        cases.append(
            f"        {c.name})\n          _arguments -s -S \\\n            "
            + (" \\\n            ".join(specs))
            + " ;;"
        )
    top_specs = " ".join(_zoption(o) for o in top.options)
    return f"""#compdef iommu-rules
# zsh completion for iommu-rules; install: iommu-rules completion zsh > ~/.zfunc/_iommu-rules
_iommu_rules() {{
  local curcontext="$curcontext" state line
  local -a commands
  commands=(
{described}
  )
  _arguments -C {top_specs} '1:command:->command' '*::argument:->argument'
  case $state in
    command) _describe -t commands 'iommu-rules command' commands ;;
    argument)
      curcontext="${{curcontext%:*:*}}:iommu-rules-$words[1]:"
      case $words[1] in
{chr(10).join(cases)}
      esac ;;
  esac
}}
if [ "$funcstack[1]" = "_iommu_rules" ] || [ "$funcstack[1]" = "_iommu-rules" ]; then
  _iommu_rules "$@"
else
  compdef _iommu_rules iommu-rules
fi
"""


# -- fish ---------------------------------------------------------------------------------
def _fq(text: str) -> str:
    """One single-quoted fish word."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _faction(value: Value) -> str:
    if value.words:
        return f"-a {_fq(' '.join(value.words))}"
    return {
        "rules": "-a '(__iommu_rules_files)'",
        "file": "-F",
        "dir": "-a '(__fish_complete_directories)'",
    }.get(value.path or "", "")


def _fish(top: Shape, cmds: list[Shape]) -> str:
    out = [
        "# fish completion for iommu-rules; install: iommu-rules completion fish > "
        "~/.config/fish/completions/iommu-rules.fish",
        "function __iommu_rules_using --argument-names cmd",
        "    set -l tokens (commandline -opc)",
        '    test (count $tokens) -ge 2; and test "$tokens[2]" = "$cmd"',
        "end",
        "# true when the word typed is CMD's positional argument N (from 0; MANY: or later):",
        "# options and the values of VALUE-OPTIONS do not count",
        "function __iommu_rules_at --argument-names cmd n many",
        "    set -l tokens (commandline -opc)",
        '    test (count $tokens) -ge 2; and test "$tokens[2]" = "$cmd"; or return 1',
        "    set -l count 0",
        "    set -l skip 0",
        "    for t in $tokens[3..-1]",
        "        if test $skip = 1",
        "            set skip 0",
        "        else if contains -- $t $argv[4..-1]",
        "            set skip 1",
        "        else if not string match -q -- '-*' $t",
        "            set count (math $count + 1)",
        "        end",
        "    end",
        "    test $skip = 0; or return 1",
        "    test $count -eq $n; or begin; test $many = 1; and test $count -gt $n; end",
        "end",
        "# rule files: *.iommu and directories, as fish completes file names",
        "function __iommu_rules_files",
        "    set -l token (commandline -ct)",
        "    string match -r -- '^.*(?:\\\\.iommu|/)$' "
        '(complete -C"__fish_command_without_completions $token")',
        "end",
        "complete -c iommu-rules -f",
    ]

    def option_line(condition: str, o: Option) -> str:
        parts = [f"complete -c iommu-rules -n {_fq(condition)}"]
        for n in o.names:
            parts.append(f"-l {n[2:]}" if n.startswith("--") else f"-s {n[1:]}")
        if o.value is not None:
            # -x: a value, and no file names unless the value is one (-r -F)
            parts.append("-r" if o.value.path == "file" else "-x")
            if action := _faction(o.value):
                parts.append(action)
        parts.append(f"-d {_fq(o.help)}")
        return " ".join(parts)

    for o in top.options:
        out.append(option_line("__fish_use_subcommand", o))
    for c in cmds:
        out.append(f"complete -c iommu-rules -n __fish_use_subcommand -a {c.name} -d {_fq(c.help)}")
    for c in cmds:
        for o in c.options:
            out.append(option_line(f"__iommu_rules_using {c.name}", o))
        valopts = " ".join(c.value_options)
        for i, p in enumerate(c.positionals):
            action = _faction(p.value)
            if not action:
                continue
            last = int(p.many and i == len(c.positionals) - 1)
            condition = f"__iommu_rules_at {c.name} {i} {last} {valopts}".rstrip()
            out.append(f"complete -c iommu-rules -n {_fq(condition)} {action} -d {_fq(p.help)}")
    return "\n".join(out) + "\n"
