"""REPL figures: time to the first prompt, completion latency, what-if latency.

python benchmarks/repl.py
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import pexpect

from iommu_rules.repl.completer import ReplCompleter
from iommu_rules.repl.session import Session

from synth import board

ROOT = Path(__file__).parent.parent


def first_prompt() -> float:
    env = {
        **os.environ,
        "TERM": "xterm",
        "NO_COLOR": "1",
        "PROMPT_TOOLKIT_NO_CPR": "1",
        "XDG_STATE_HOME": tempfile.mkdtemp(),
    }
    times = []
    for _ in range(5):
        t = time.perf_counter()
        child = pexpect.spawn(
            "iommu-rules",
            ["repl", str(ROOT / "examples/tegra30.iommu")],
            env=env,
            encoding="utf-8",
            timeout=30,
        )
        child.expect_exact("iommu>")
        times.append(time.perf_counter() - t)
        child.sendeof()
        child.expect(pexpect.EOF)
    return statistics.median(times)


def main() -> None:
    print(f"first prompt (tegra30 example): {first_prompt() * 1000:.0f} ms (median of 5)")
    with tempfile.TemporaryDirectory() as tmp:
        for n in (1_000, 10_000):
            path = Path(tmp) / f"b{n}.iommu"
            path.write_text(board(n))
            session = Session()
            session.load([str(path)])
            comp = ReplCompleter(session)
            comp.candidates("show soc1")  # warm the model cache
            t = time.perf_counter()
            for prefix in ("show soc12", "why pci3", "ops ", "why soc7.dm"):
                comp.candidates(prefix)
            per = (time.perf_counter() - t) / 4
            t = time.perf_counter()
            session.apply('set cmdline "iommu.passthrough=1"')
            whatif = time.perf_counter() - t
            print(
                f"{n:>6} devices: completion {per * 1000:.1f} ms, "
                f"what-if (one cmdline change) {whatif * 1000:.0f} ms"
            )


if __name__ == "__main__":
    main()
