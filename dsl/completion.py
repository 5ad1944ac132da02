"""Shell completion scripts, generated from the CLI's command table.

Each command completes its long options; an option or positional argument with
a closed set of values completes those values (``--view`` the three views,
``--format`` the formats, ``completion`` the shells), ``--set`` the platform
facts, ``--add-include``/``--drop-include`` the stdlib packs, and anything else
``*.iommu`` files and directories.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .commands.base import Command


@dataclass(frozen=True)
class _Shape:
    """What one command completes."""

    options: list[str]  # its long options, --help and --color included
    values: dict[str, list[str]]  # option -> the values it takes
    positional: list[str]  # the values of its first positional argument, if closed


def _shapes(commands: Sequence[Command]) -> dict[str, _Shape]:
    from .loader import std_packs
    from .whatif import PLATFORM_WORDS

    out: dict[str, _Shape] = {}
    for cmd in commands:
        opts = {"--help"} | ({"--color"} if cmd.color else set())
        values: dict[str, list[str]] = {"--color": ["auto", "always", "never"]} if cmd.color else {}
        positional: list[str] = []
        for a in cmd.args:
            longs = [n for n in a.names if n.startswith("--")]
            opts |= set(longs)
            choices = [str(c) for c in a.options.get("choices", ())]
            if longs and choices:
                values[longs[0]] = choices
            elif not a.names[0].startswith("-") and choices and not positional:
                positional = choices
        if "--set" in opts:
            values["--set"] = list(PLATFORM_WORDS)
        for option in ("--add-include", "--drop-include"):
            if option in opts:
                values[option] = std_packs()
        out[cmd.name] = _Shape(sorted(opts), dict(sorted(values.items())), positional)
    return out


def script(shell: str, commands: Sequence[Command]) -> str:
    shapes = _shapes(commands)
    names = " ".join(sorted(shapes))
    if shell == "bash":
        return _bash(shapes, names)
    if shell == "zsh":
        return _zsh(shapes)
    if shell == "fish":
        return _fish(shapes)
    raise ValueError(shell)


def _bash(shapes: dict[str, _Shape], names: str) -> str:
    cases, value_cases = [], []
    for name, shape in sorted(shapes.items()):
        first = " ".join(shape.positional)
        cases.append(f'        {name}) opts="{" ".join(shape.options)}"; first="{first}" ;;')
        for option, values in shape.values.items():
            value_cases.append(f'        {name}:{option}) vals="{" ".join(values)}" ;;')
    return f"""# bash completion for iommu-rules; install: iommu-rules completion bash \\
#   > ~/.local/share/bash-completion/completions/iommu-rules
_iommu_rules() {{
    local cur=${{COMP_WORDS[COMP_CWORD]}} prev=${{COMP_WORDS[COMP_CWORD-1]}}
    local cmd=${{COMP_WORDS[1]}} opts="" first="" vals=""
    if [ "$COMP_CWORD" -eq 1 ]; then
        COMPREPLY=($(compgen -W "{names} --help --version" -- "$cur")); return
    fi
    case "$cmd" in
{chr(10).join(cases)}
    esac
    case "$cmd:$prev" in
{chr(10).join(value_cases)}
    esac
    if [ -n "$vals" ]; then
        COMPREPLY=($(compgen -W "$vals" -- "$cur")); return
    fi
    if [[ "$cur" == -* ]]; then
        COMPREPLY=($(compgen -W "$opts" -- "$cur"))
    elif [ "$COMP_CWORD" -eq 2 ] && [ -n "$first" ]; then
        COMPREPLY=($(compgen -W "$first" -- "$cur"))
    else
        COMPREPLY=($(compgen -f -X '!*.iommu' -- "$cur") $(compgen -d -- "$cur"))
    fi
}}
complete -o filenames -F _iommu_rules iommu-rules
"""


def _zsh(shapes: dict[str, _Shape]) -> str:
    lines = "\n".join(f"    '{c}:{c}'" for c in sorted(shapes))
    cases = []
    for name, shape in sorted(shapes.items()):
        specs = []
        for option in shape.options:
            values = shape.values.get(option)
            specs.append(f"'{option}[]" + (f":value:({' '.join(values)})'" if values else "'"))
        first = f" '1:value:({' '.join(shape.positional)})'" if shape.positional else ""
        cases.append(
            f"    {name}) _arguments {' '.join(specs)}{first} '*:file:_files -g \"*.iommu\"' ;;"
        )
    return f"""#compdef iommu-rules
# zsh completion for iommu-rules; install: iommu-rules completion zsh > ~/.zfunc/_iommu-rules
_iommu_rules() {{
  local -a commands
  commands=(
{lines}
  )
  if (( CURRENT == 2 )); then
    _describe 'command' commands
    return
  fi
  shift words; (( CURRENT-- ))
  case "$words[1]" in
{chr(10).join(cases)}
  esac
}}
_iommu_rules "$@"
"""


def _fish(shapes: dict[str, _Shape]) -> str:
    out = [
        "# fish completion for iommu-rules; install: iommu-rules completion fish > "
        "~/.config/fish/completions/iommu-rules.fish"
    ]
    for c, shape in sorted(shapes.items()):
        out.append(f"complete -c iommu-rules -n '__fish_use_subcommand' -a {c}")
        seen = f"__fish_seen_subcommand_from {c}"
        for o in shape.options:
            values = shape.values.get(o)
            takes = f" -r -f -a '{' '.join(values)}'" if values else ""
            out.append(f"complete -c iommu-rules -n '{seen}' -l {o[2:]}{takes}")
        if shape.positional:
            out.append(f"complete -c iommu-rules -n '{seen}' -f -a '{' '.join(shape.positional)}'")
    return "\n".join(out) + "\n"
