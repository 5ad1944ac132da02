"""Shell completion scripts, generated from the CLI's own argument parser."""

from __future__ import annotations

import argparse


def _commands(parser: argparse.ArgumentParser) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                out[name] = sorted(
                    opt for a in sub._actions for opt in a.option_strings if opt.startswith("--")
                )
    return out


def script(shell: str, parser: argparse.ArgumentParser) -> str:
    cmds = _commands(parser)
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
