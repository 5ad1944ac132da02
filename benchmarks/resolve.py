"""Parse + resolve on synthetic boards, beside a floor measured in the same run.

    python benchmarks/resolve.py [N ...]

The floor is what no resolver can beat: lark's LALR parse of the same text (its
own runtime, no tree building of ours) plus networkx connected_components on a
graph of the same size.  Figures, not a timed test.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import networkx as nx
from lark import Lark

from iommu_rules.grammar import grammar_text
from iommu_rules.loader import load_text
from iommu_rules.model import build_model
from iommu_rules.resolve import resolve

from synth import board


def timed(fn, repeat: int) -> float:  # type: ignore[no-untyped-def]
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def main() -> None:
    sizes = [int(a) for a in sys.argv[1:]] or [1_000, 10_000, 100_000]
    # lark's own runtime with its contextual lexer (keywords are soft there too)
    lark = Lark(grammar_text(), parser="lalr", lexer="contextual", maybe_placeholders=True)
    print(
        f"{'devices':>8} {'parse+validate':>15} {'resolve':>9} {'total':>8} {'floor':>8} "
        f"{'ratio':>6}"
    )
    totals = {}
    for n in sizes:
        text = board(n)
        repeat = 3 if n <= 10_000 else 1
        state: dict[str, object] = {}

        def load(text: str = text, state: dict[str, object] = state) -> None:
            state["model"] = build_model(load_text(text, "synth.iommu"))

        t_load = timed(load, repeat)
        model = state["model"]
        t_res = timed(lambda model=model: resolve(model), repeat)  # type: ignore[misc]

        def floor(text: str = text, n: int = n) -> None:
            lark.parse(text)
            g = nx.Graph()
            g.add_nodes_from(range(n))
            g.add_edges_from((i, i + 1) for i in range(0, n - 1, 2))
            list(nx.connected_components(g))

        t_floor = timed(floor, 1)
        total = t_load + t_res
        totals[n] = total
        print(
            f"{n:>8} {t_load:>14.3f}s {t_res:>8.3f}s {total:>7.3f}s {t_floor:>7.3f}s "
            f"{total / t_floor:>6.2f}"
        )
    if 10_000 in totals and 100_000 in totals:
        print(f"100k / 10k growth: {totals[100_000] / totals[10_000]:.1f}x (linear: 10x)")


if __name__ == "__main__":
    main()
