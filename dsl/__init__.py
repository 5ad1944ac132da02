"""iommu-rules: which IOMMU group, domain, context and DMA ops each device gets, and why.

The public API is small and lazy, so ``iommu-rules check`` does not pay for
networkx or prompt_toolkit.
"""

from __future__ import annotations

__version__ = "0.1.0"
