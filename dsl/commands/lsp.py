"""`iommu-rules lsp`: the language server, over standard input and output."""

from __future__ import annotations

import argparse

from .base import EXIT_OK, Command


def run(args: argparse.Namespace) -> int:
    from ..lsp.server import serve

    serve()
    return EXIT_OK


COMMAND = Command(
    name="lsp",
    help="run the language server (LSP over stdin/stdout) for editors",
    description="Run the language server on standard input and output, as editors start "
    "it: diagnostics as you type (the same as `check`), hover with resolved values and "
    "`why`, completion, go to definition, references, outline, rename, formatting and "
    "quick fixes. docs/editors.md shows the set-up for VS Code, Neovim, Helix and Emacs.",
    examples=("iommu-rules lsp",),
    exit_codes=None,
    color=False,
    args=(),
    run=run,
)
