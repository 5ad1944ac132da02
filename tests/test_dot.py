"""DOT export: reviewed golden files, and Graphviz's own dot on every view of every board."""

from __future__ import annotations

import concurrent.futures
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import EXAMPLES, GOLDEN, processes_soon, run_cli

BOARDS = sorted(EXAMPLES.glob("*.iommu")) + sorted(
    (Path(__file__).parent / "scenarios").glob("*.iommu")
)
VIEWS = ("topology", "groups", "contexts")
DOT = shutil.which("dot")


@pytest.mark.parametrize("view", VIEWS)
def test_golden_dot(view: str) -> None:
    proc = run_cli("dot", str(EXAMPLES / "tegra30.iommu"), "--view", view)
    assert proc.returncode == 0, proc.stderr
    golden = GOLDEN / "dot" / f"tegra30-{view}.dot"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(proc.stdout, encoding="utf-8")
    assert proc.stdout == golden.read_text(encoding="utf-8")


@pytest.mark.skipif(DOT is None, reason="Graphviz is not installed (.ci/run installs it)")
@pytest.mark.parametrize("board", BOARDS, ids=[b.stem for b in BOARDS])
def test_graphviz_accepts_every_view(board: Path) -> None:
    assert DOT is not None
    texts = []
    for view in VIEWS:
        proc = run_cli("dot", str(board), "--view", view)
        assert proc.returncode in (0, 1), proc.stderr
        texts.append(proc.stdout.encode())

    def render(text: bytes) -> subprocess.CompletedProcess[bytes]:
        assert DOT is not None
        return subprocess.run([DOT, "-Tsvg"], input=text, capture_output=True)

    # Graphviz's own dot, once per view, as many at a time as there are CPUs
    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        outs = list(pool.map(render, texts))
    for view, text, out in zip(VIEWS, texts, outs, strict=True):
        assert out.returncode == 0 and not out.stderr, (view, out.stderr.decode())
        assert b"<svg" in out.stdout
        assert b'"legend" [label=<<table' in text, f"{view}: no legend"
        assert b">legend</text>" in out.stdout  # Graphviz drew it


@pytest.mark.skipif(DOT is None, reason="Graphviz is not installed")
def test_ids_with_colons_dots_commas_and_quotes(tmp_path: Path) -> None:
    board = tmp_path / "q.iommu"
    board.write_text(
        'include "std/linux"\nplatform { arch x86_64; kernel 6.8 }\niommu vtd: intel-vtd\n'
        "bridge rp: root-port { pci 0000:00:1c.0; acs no }\n"
        'device nic: "pci8086,15b8", "weird \\"quoted\\" name" { pci 0000:03:00.0; upstream rp }\n'
    )
    proc = run_cli("dot", str(board), "--view", "topology")
    assert '\\"quoted\\"' not in proc.stdout or 'label="nic\\npci8086,15b8' in proc.stdout
    assert DOT is not None
    out = subprocess.run([DOT, "-Tsvg"], input=proc.stdout.encode(), capture_output=True)
    assert out.returncode == 0 and not out.stderr
    assert b"0000:03:00.0" in out.stdout


def test_render_needs_output_and_writes_svg(tmp_path: Path) -> None:
    proc = run_cli("dot", str(EXAMPLES / "tegra30.iommu"), "--render", "svg")
    if DOT is None:
        assert proc.returncode == 2 and "apt-get install graphviz" in proc.stderr
        return
    assert proc.returncode == 2 and "-o FILE" in proc.stderr
    out = tmp_path / "g.svg"
    proc = run_cli("dot", str(EXAMPLES / "tegra30.iommu"), "--render", "svg", "-o", str(out))
    assert proc.returncode == 0 and out.read_bytes().lstrip().startswith(b"<?xml")


SEED_RUNS = processes_soon(  # one process per hash seed, started after collection
    "dot",
    str(EXAMPLES / "x86-desktop.iommu"),
    "--view",
    "groups",
    envs=[{"PYTHONHASHSEED": seed} for seed in ("0", "1", "random")],
)


@pytest.mark.soon
def test_dot_is_deterministic_across_hash_seeds() -> None:
    outs = {proc.stdout for proc in SEED_RUNS.results()}
    assert len(outs) == 1


@pytest.mark.skipif(DOT is None, reason="Graphviz is not installed")
def test_whatif_marks_changed_devices() -> None:
    proc = run_cli(
        "dot",
        str(EXAMPLES / "tegra30.iommu"),
        "--view",
        "groups",
        "--whatif",
        'drop rule "GPU drivers own their address space"',
    )
    assert proc.returncode == 0
    marked = [ln for ln in proc.stdout.splitlines() if 'color="#d00000"' in ln]
    assert sorted(ln.split('"')[1] for ln in marked) == [
        "dev:dc0",
        "dev:dc1",
        "dev:gr2d",
        "dev:gr3d",
        "dev:vde",
    ]
    assert DOT is not None
    out = subprocess.run([DOT, "-Tsvg"], input=proc.stdout.encode(), capture_output=True)
    assert out.returncode == 0 and not out.stderr


@pytest.mark.skipif(DOT is None, reason="Graphviz is not installed")
def test_a_run_of_free_contexts_is_one_box() -> None:
    """Jetson TK1's 128 ASIDs drew a 421x9687 px column of 'N: free' boxes."""
    import re

    assert DOT is not None
    proc = run_cli("dot", str(EXAMPLES / "jetson-tk1.iommu"), "--view", "contexts")
    assert '"ctx:mc:2-127" [fillcolor="white", label="2-127: free (126)"' in proc.stdout
    assert proc.stdout.count('"ctx:mc:') == 3  # 0 and 1 are used
    svg = subprocess.run([DOT, "-Tsvg"], input=proc.stdout.encode(), capture_output=True)
    height = re.search(rb'<svg width="(\d+)pt" height="(\d+)pt"', svg.stdout)
    assert height and int(height.group(2)) < 1000, height
