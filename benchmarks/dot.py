"""DOT export speed on a synthetic 10k-device board (figures, not a timed test).

python benchmarks/dot.py [N]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from iommu_rules.dot import VIEWS, render
from iommu_rules.loader import load_text
from iommu_rules.model import build_model
from iommu_rules.resolve import resolve

from synth import board


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    res = resolve(build_model(load_text(board(n), "synth.iommu")))
    for view in VIEWS:
        best = float("inf")
        for _ in range(3):
            t = time.perf_counter()
            text = render(res, view)
            best = min(best, time.perf_counter() - t)
        print(f"{n} devices, {view:<9} view: {best * 1000:6.0f} ms, {len(text) / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
