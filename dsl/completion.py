"""Shell completion scripts, generated from the CLI's command table."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .commands.base import Command


def _commands(commands: Sequence[Command]) -> dict[str, list[str]]:
    """Each command's long options, as argparse gives them (--help and --color too)."""
    out: dict[str, list[str]] = {}
    for cmd in commands:
        opts = {"--help"} | ({"--color"} if cmd.color else set())
        opts |= {name for a in cmd.args for name in a.names if name.startswith("--")}
        out[cmd.name] = sorted(opts)
    return out


def script(shell: str, commands: Sequence[Command]) -> str:
    cmds = _commands(commands)
    names = " ".join(sorted(cmds))
    if shell == "bash":
        cases = "\n".join(f'        {c}) opts="{" ".join(o)}" ;;' for c, o in sorted(cmds.items()))
        return f"""# bash completion for iommu-rules; install: iommu-rules completion bash \\
#   > ~/.local/share/bash-completion/completions/iommu-rules
_iommu_rules() {{
    local cur=${{COMP_WORDS[COMP_CWORD]}} cmd=${{COMP_WORDS[1]}} opts=""
    if [ "$COMP_CWORD" -eq 1 ]; then
        COMPREPLY=($(compgen -W "{names} --help --version" -- "$cur")); return
    fi
    case "$cmd" in
{cases}
    esac
    if [[ "$cur" == -* ]]; then
        COMPREPLY=($(compgen -W "$opts --help" -- "$cur"))
    else
        COMPREPLY=($(compgen -f -X '!*.iommu' -- "$cur") $(compgen -d -- "$cur"))
    fi
}}
complete -o filenames -F _iommu_rules iommu-rules
"""
    if shell == "zsh":
        lines = "\n".join(f"    '{c}:{c}'" for c in sorted(cmds))
        return f"""#compdef iommu-rules
# zsh completion for iommu-rules; install: iommu-rules completion zsh > ~/.zfunc/_iommu-rules
_iommu_rules() {{
  local -a commands
  commands=(
{lines}
  )
  if (( CURRENT == 2 )); then
    _describe 'command' commands
  else
    _files -g '*.iommu'
  fi
}}
_iommu_rules "$@"
"""
    if shell == "fish":
        out = [
            "# fish completion for iommu-rules; install: iommu-rules completion fish > "
            "~/.config/fish/completions/iommu-rules.fish"
        ]
        for c, opts in sorted(cmds.items()):
            out.append(f"complete -c iommu-rules -n '__fish_use_subcommand' -a {c}")
            for o in opts:
                out.append(
                    f"complete -c iommu-rules -n '__fish_seen_subcommand_from {c}' -l {o[2:]}"
                )
        return "\n".join(out) + "\n"
    raise ValueError(shell)
