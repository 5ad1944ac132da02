"""iommu-rules: which IOMMU group, domain, context and DMA ops each device gets, and why.

The front door is :class:`Board` (docs/api.md)::

    from iommu_rules import Board

    board = Board.load("examples/tegra30.iommu")
    print(board.why("gr3d.dma_ops").text())

It is imported lazily, so ``iommu-rules check`` does not pay for what it does not use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["Board", "BoardError", "ChangeError", "QueryError", "__version__"]

if TYPE_CHECKING:
    from .board import Board, BoardError
    from .explain import QueryError
    from .whatif import ChangeError

_LAZY = {
    "Board": "board",
    "BoardError": "board",
    "ChangeError": "whatif",
    "QueryError": "explain",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
