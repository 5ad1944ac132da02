"""The REPL's `save`: never over a file without --force, and `save --changes` writes only
the session's changes into the loaded file, keeping every comment and line it leaves alone."""

from __future__ import annotations

import difflib
import os
from pathlib import Path

import pytest

from iommu_rules import Board
from iommu_rules.repl.session import Session, execute
from iommu_rules.whatif import diff

from conftest import EXAMPLES

TEGRA = EXAMPLES / "tegra30.iommu"


def tegra_with_its_own_mc() -> str:
    """examples/tegra30.iommu with the memory controller declared in the file instead of
    taken from std/soc/tegra30: changes to it are the board's to save."""
    text = TEGRA.read_text().replace('include "std/soc/tegra30"', 'include "std/soc/tegra"')
    mc = "iommu mc: tegra-smmu {\n    contexts 4\n    group display: dc, dcb\n}\n\n"
    return text.replace("# Devices: name,", mc + "# Devices: name,", 1)


def session_on(tmp_path: Path, text: str, name: str = "board.iommu") -> tuple[Session, Path]:
    path = tmp_path / name
    path.write_bytes(text.encode())
    session = Session()
    session.load([str(path)])
    return session, path


def run(session: Session, *lines: str) -> str:
    outs = [execute(session, line) for line in lines]
    for line, out in zip(lines, outs, strict=True):
        assert out.ok, f"{line}: {out.text}"
    return outs[-1].text


def changed_lines(before: str, after: str) -> list[str]:
    return [
        line
        for line in difflib.unified_diff(before.splitlines(), after.splitlines(), n=0)
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]


def test_save_over_the_loaded_file_asks_for_force(tmp_path: Path) -> None:
    """It replaced a commented file with a generated one (29 comment lines became 1)."""
    original = TEGRA.read_text()
    session, path = session_on(tmp_path, original)
    run(session, "try set kernel 6.1")
    out = execute(session, f"save {path}")
    assert not out.ok and "exists (the file this session loaded)" in out.text
    assert "save --force" in out.text and "save --changes" in out.text
    assert path.read_text() == original and len(session.changes) == 1
    other = tmp_path / "other.iommu"
    other.write_text("# mine\n")
    out = execute(session, f"save {other}")
    assert not out.ok and other.read_text() == "# mine\n"
    assert "saved" in run(session, f"save --force {other}")
    assert other.read_text().startswith("# saved by iommu-rules repl")


def test_save_changes_writes_only_the_changes_into_the_loaded_file(tmp_path: Path) -> None:
    original = tegra_with_its_own_mc()
    session, path = session_on(tmp_path, original)
    run(
        session,
        "try set kernel 6.1",
        "try set mc contexts 2",
        "try drop device vde",
        "try set config IOMMU_DEFAULT_PASSTHROUGH",
        'device epp: "nvidia,tegra30-epp" { iommu mc swgroup epp }',
    )
    expected = session.resolved()[0]
    out = run(session, "save --changes")
    assert out == f"saved 5 changes into {path}; the session starts from it now"
    saved = path.read_text()
    assert changed_lines(original, saved) == [
        "-    kernel 4.18",
        "+    kernel 6.1",
        "+    config IOMMU_DEFAULT_PASSTHROUGH",
        "-    contexts 4",
        "+    contexts 2",
        '-device vde: "nvidia,tegra30-vde" { tags video; iommu mc swgroup vde }',
        "+",
        '+device epp: "nvidia,tegra30-epp" { iommu mc swgroup epp }',
    ]
    # the session now starts from the file, which resolves as the session did
    assert session.changes == [] and "no pending changes" in run(session, "diff")
    assert not diff(expected, Board.load(path).resolution).changed


def test_a_dropped_device_takes_its_expectations_and_attachments(tmp_path: Path) -> None:
    original = tegra_with_its_own_mc()
    session, path = session_on(tmp_path, original)
    run(
        session,
        "try drop device gr3d",
        'try drop rule "keep ASID 0 for the GPU"',
        "try drop include std/soc/tegra",
        "try set mc reserved 3",
    )
    out = tmp_path / "out.iommu"
    assert run(session, f"save --changes {out}") == f"saved {path} with 4 changes as {out}"
    assert path.read_text() == original and len(session.changes) == 4  # the session stays
    assert changed_lines(original, out.read_text()) == [
        '-include "std/soc/tegra"',
        "+    reserved 3",
        '-device gr3d: "nvidia,tegra30-gr3d" { tags gpu; iommu mc swgroup nv }',
        '-rule "keep ASID 0 for the GPU": context mc.0 reserved for gpu',
        "-expect gr3d.dma_ops == dma-direct",
    ]
    refused = execute(session, f"save --changes {out}")
    assert not refused.ok and "--force" in refused.text
    run(session, f"save --changes --force {out}")


BOARD = """\
# a small board\r
include "std/linux"\r
platform { arch arm64; kernel 6.8 }  # the BSP kernel\r
iommu smmu: arm-smmu { contexts 8 }\r
device gpu: "x,gpu" { tags gpu; iommu smmu sid 0x1 }\r
device dsp: "x,dsp" { iommu smmu sid 0x2 }  # the audio DSP\r
"""


def test_one_line_blocks_crlf_and_byte_order_mark_are_kept(tmp_path: Path) -> None:
    session, path = session_on(tmp_path, "\ufeff" + BOARD)
    path.chmod(0o640)
    run(session, "try set kernel 6.1", "try set smmu reserved 1", "try drop device dsp")
    run(session, "save --changes")
    data = path.read_bytes().decode()
    assert data == "\ufeff" + (
        "# a small board\r\n"
        'include "std/linux"\r\n'
        "platform { arch arm64; kernel 6.1 }  # the BSP kernel\r\n"
        "iommu smmu: arm-smmu { contexts 8; reserved 1 }\r\n"
        'device gpu: "x,gpu" { tags gpu; iommu smmu sid 0x1 }\r\n'
    )
    assert os.stat(path).st_mode & 0o777 == 0o640


def test_a_change_to_an_included_file_is_refused_and_nothing_written(tmp_path: Path) -> None:
    (tmp_path / "soc.iommu").write_text("iommu smmu: arm-smmu { contexts 8 }\n")
    text = 'include "std/linux"\ninclude "soc.iommu"\nplatform { arch arm64; kernel 6.8 }\n'
    text += 'device gpu: "x,gpu" { iommu smmu sid 0x1 }\n'
    session, path = session_on(tmp_path, text)
    run(session, "try set kernel 6.6", "try set smmu contexts 2")
    out = execute(session, "save --changes")
    assert not out.ok
    assert "change 2 ('set smmu contexts 2') alters the included file" in out.text
    assert "'save FILE' writes the whole session" in out.text
    assert path.read_text() == text and len(session.changes) == 2


def test_a_file_edited_on_disk_since_loading_is_not_overwritten(tmp_path: Path) -> None:
    session, path = session_on(tmp_path, BOARD.replace("\r", ""))
    run(session, "try set kernel 6.1")
    path.write_text(BOARD.replace("\r", "") + "# edited meanwhile\n")
    out = execute(session, "save --changes")
    assert not out.ok and "changed on disk since it was loaded" in out.text
    assert "reload" in out.text and path.read_text().endswith("# edited meanwhile\n")
    run(session, "reload", "save --changes")  # reload keeps the changes
    assert "kernel 6.1" in path.read_text() and "# edited meanwhile" in path.read_text()


@pytest.mark.parametrize("line", ["save", "save --changes a b", "save --frobnicate x"])
def test_save_usage(tmp_path: Path, line: str) -> None:
    session, _ = session_on(tmp_path, BOARD)
    run(session, "try set kernel 6.1")
    out = execute(session, line)
    assert not out.ok and "usage: save [--force] FILE | save --changes" in out.text


EXAMPLE_BOARDS = sorted(
    p for p in EXAMPLES.glob("*.iommu") if 'include "' not in p.read_text().replace('"std/', "")
)


@pytest.mark.parametrize("example", EXAMPLE_BOARDS, ids=lambda p: p.stem)
def test_every_example_keeps_its_comments_through_save_changes(
    tmp_path: Path, example: Path
) -> None:
    """On every shipped board: drop a device, set the kernel and a fact of an IOMMU, add a
    device; the saved file resolves as the session did and keeps every comment line."""
    original = example.read_text()
    session, path = session_on(tmp_path, original, example.name)
    model = session.model()
    victim = sorted(model.devices)[0]
    iommu = sorted(model.iommus)[0]
    execute(session, f"try drop device {victim}")
    execute(session, "try set kernel 6.6")
    execute(session, f'device extra_dev: "x,extra" {{ iommu {iommu} }}')
    if not session.changes:
        pytest.skip("no change applies to this board")
    expected = session.resolved()[0]
    run(session, "save --changes")
    saved = path.read_text()
    assert not diff(expected, Board.load(path).resolution).changed
    comments = [line for line in original.splitlines() if line.lstrip().startswith("#")]
    kept = saved.splitlines()
    assert [c for c in comments if c not in kept] == []


def test_a_host_map_typed_at_the_prompt_joins_and_is_saved(tmp_path: Path) -> None:
    """`map IOMMU ...` is a statement like the others: typed at the prompt it joins the
    session, the function behind it reaches the IOMMU, and `save --changes` writes it."""
    original = (
        'include "std/linux"\ninclude "std/soc/mt8195"\nplatform { arch arm64; kernel 6.8 }\n'
    )
    session, path = session_on(tmp_path, original)
    run(
        session,
        "map iommu_infra rid 0x0 sid 0x10 length 0x2 mask 0x0",
        'device nvme: "pci144d,a808" { pci 0000:01:00.0 }',
    )
    assert run(session, "why nvme.iommu").startswith("nvme.iommu = iommu_infra")
    run(session, "save --changes")
    assert "\nmap iommu_infra rid 0x0 sid 0x10 length 0x2 mask 0x0\n" in path.read_text()
