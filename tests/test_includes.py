"""Includes: relative, stdlib, once-only, cycles, missing files, deep chains."""

from __future__ import annotations

from pathlib import Path

from iommu_rules import Board
from iommu_rules.loader import load_paths, std_packs


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_relative_and_std_includes(tmp_path: Path) -> None:
    write(tmp_path / "soc" / "chip.iommu", "iommu mc: tegra-smmu { contexts 4 }\n")
    board = Board.load(
        write(
            tmp_path / "board.iommu",
            'include "std/linux"\ninclude "soc/chip"\ndevice dc: "x" { iommu mc swgroup dc }\n',
        )
    )
    loaded = board.base
    assert loaded.ok, loaded.diagnostics
    model = board.model
    assert model.ok and "mc" in model.iommus
    assert any(name.startswith("std/linux") for name in loaded.files)
    assert any(r.std for r in model.rules)


def test_file_reached_twice_is_loaded_once(tmp_path: Path) -> None:
    write(tmp_path / "common.iommu", "iommu mc: tegra-smmu { contexts 4 }\n")
    write(tmp_path / "a.iommu", 'include "common"\n')
    write(tmp_path / "sub" / "b.iommu", 'include "../common.iommu"\n')
    board = Board.load(write(tmp_path / "board.iommu", 'include "a"\ninclude "sub/b"\n'))
    loaded, model = board.base, board.model
    assert loaded.ok and model.ok  # no duplicate 'mc'
    assert len(model.iommus) == 1


def test_include_cycle_shows_the_chain(tmp_path: Path) -> None:
    write(tmp_path / "a.iommu", 'include "b"\n')
    write(tmp_path / "b.iommu", 'include "c"\n')
    write(tmp_path / "c.iommu", 'include "a"\n')
    loaded = load_paths([str(tmp_path / "a.iommu")])
    (diag,) = loaded.diagnostics
    assert diag.code == "E122"
    assert "a.iommu -> " in diag.message and "b.iommu" in diag.message
    assert len(diag.secondary) == 2


def test_self_include(tmp_path: Path) -> None:
    write(tmp_path / "a.iommu", 'include "a"\n')
    loaded = load_paths([str(tmp_path / "a.iommu")])
    assert [d.code for d in loaded.diagnostics] == ["E122"]


def test_missing_include_suggests(tmp_path: Path) -> None:
    write(tmp_path / "common.iommu", "")
    board = write(tmp_path / "board.iommu", 'include "comon"\ninclude "std/soc/tegr"\n')
    loaded = load_paths([str(board)])
    codes = [(d.code, d.span.line) for d in loaded.diagnostics]
    assert codes == [("E121", 1), ("E121", 2)]
    assert loaded.diagnostics[0].help == "did you mean 'common'?"
    assert loaded.diagnostics[1].help.startswith("did you mean 'std/soc/tegra'")


def test_deep_include_chain_does_not_recurse(tmp_path: Path) -> None:
    depth = 1000
    for i in range(depth):
        write(tmp_path / f"f{i}.iommu", f'include "f{i + 1}"\n')
    write(tmp_path / f"f{depth}.iommu", 'device last: "x"\n')
    board = Board.load(tmp_path / "f0.iommu")
    assert board.base.ok
    assert "last" in board.model.devices


def test_directory_fifo_and_unreadable(tmp_path: Path) -> None:
    import os

    (tmp_path / "dir.iommu").mkdir()
    os.mkfifo(tmp_path / "fifo.iommu")
    board = write(tmp_path / "board.iommu", 'include "dir"\ninclude "fifo"\n')
    loaded = load_paths([str(board)])
    assert [d.code for d in loaded.diagnostics] == ["E123", "E123"]


def test_std_packs_are_shipped() -> None:
    packs = std_packs()
    assert "std/linux" in packs and "std/soc/tegra" in packs
