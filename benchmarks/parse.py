"""Parse + validate speed on synthetic boards (figures, not a timed test).

python benchmarks/parse.py [N ...]
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from iommu_rules.loader import load_text
from iommu_rules.model import build_model

from synth import board


def best_of(fn, repeat: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    sizes = [int(a) for a in sys.argv[1:]] or [1_000, 10_000, 100_000]
    print(f"{'devices':>8} {'MB':>7} {'parse+validate s':>17} {'MB/s':>7}")
    for n in sizes:
        text = board(n)
        mb = len(text.encode()) / 1e6

        def run(text: str = text) -> None:
            loaded = load_text(text, "synth.iommu")
            model = build_model(loaded)
            assert loaded.ok and model.ok, (loaded.diagnostics[:3], model.diagnostics[:3])

        secs = best_of(run, 3 if n <= 10_000 else 1)
        print(f"{n:>8} {mb:>7.2f} {secs:>17.3f} {mb / secs:>7.2f}")

    example = Path(__file__).parent.parent / "examples" / "tegra30.iommu"
    walls = []
    for _ in range(7):
        t = time.perf_counter()
        subprocess.run(["iommu-rules", "check", str(example)], check=True, capture_output=True)
        walls.append(time.perf_counter() - t)
    print(
        f"cold start: iommu-rules check examples/tegra30.iommu  "
        f"median {statistics.median(walls) * 1000:.0f} ms, best {min(walls) * 1000:.0f} ms"
    )


if __name__ == "__main__":
    main()
