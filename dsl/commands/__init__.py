"""The commands of the ``iommu-rules`` CLI, one module each, in the order ``--help`` lists
them.  A new command: a module here with its ``COMMAND`` (see base.py), added below."""

from __future__ import annotations

from . import (
    check,
    compare,
    completion,
    dot,
    explain,
    fmt,
    importing,
    lsp,
    packs,
    repl,
    resolve,
    schema,
    snapshot,
    test,
    whatif,
    why,
)
from .base import Command

COMMANDS: tuple[Command, ...] = (
    check.COMMAND,
    resolve.COMMAND,
    why.COMMAND,
    explain.COMMAND,
    test.COMMAND,
    dot.COMMAND,
    whatif.COMMAND,
    repl.COMMAND,
    packs.PACKS,
    packs.SHOW_PACK,
    compare.COMMAND,
    completion.COMMAND,
    importing.COMMAND,
    snapshot.COMMAND,
    fmt.COMMAND,
    schema.COMMAND,
    lsp.COMMAND,
)

__all__ = ["COMMANDS", "Command"]
