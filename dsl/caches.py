"""Whether this process reads and writes its caches on disk (the parse cache's trees, check's
verdicts): ``--no-cache`` or ``IOMMU_RULES_NO_CACHE=1`` turns both off.

Its own module, importing nothing of the engine: the CLI sets it for every command before
the command runs, and the interactive prompt must not wait for the parser's import.
"""

from __future__ import annotations

import os

ENV_OFF = "IOMMU_RULES_NO_CACHE"

_enabled = True


def use(on: bool) -> None:
    """Turn the caches on or off for this process (``--no-cache``: off)."""
    global _enabled
    _enabled = on


def enabled() -> bool:
    return _enabled and not os.environ.get(ENV_OFF)
