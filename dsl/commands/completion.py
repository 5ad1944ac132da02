"""`iommu-rules completion`: shell completion scripts, from the command table."""

from __future__ import annotations

import argparse
import sys

from .base import EXIT_OK, Command, arg


def run(args: argparse.Namespace) -> int:
    from ..completion import script
    from . import COMMANDS

    sys.stdout.write(script(args.shell, COMMANDS))
    return EXIT_OK


COMMAND = Command(
    name="completion",
    help="print a shell completion script (bash, zsh, fish)",
    description="Print a completion script for your shell; the first line says where to "
    "install it.",
    examples=(
        "iommu-rules completion bash > ~/.local/share/bash-completion/completions/iommu-rules",
        "iommu-rules completion zsh > ~/.zfunc/_iommu-rules",
        "iommu-rules completion fish > ~/.config/fish/completions/iommu-rules.fish",
    ),
    exit_codes=None,
    color=False,
    args=(arg("shell", choices=("bash", "zsh", "fish")),),
    run=run,
)
