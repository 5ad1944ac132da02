"""Hostile input and environments: a clear error within seconds, never a traceback or a hang."""

from __future__ import annotations

import concurrent.futures
import time
from pathlib import Path

import pytest

from iommu_rules import Board

from conftest import EXAMPLES, as_unprivileged, run_cli, run_process


def test_huge_file_is_refused_quickly(tmp_path: Path) -> None:
    big = tmp_path / "big.iommu"
    with big.open("wb") as fh:
        fh.truncate(100 * 1024 * 1024)  # a sparse 100 MB file
    t = time.monotonic()
    proc = run_cli("check", str(big))
    assert time.monotonic() - t < 10
    assert proc.returncode == 3 and "error[E125]" in proc.stderr and "too large" in proc.stderr


def test_many_statements_on_one_line(tmp_path: Path) -> None:
    """30k statements on one line (a generator's output): linear, or far past the limit."""
    path = tmp_path / "line.iommu"
    path.write_text(" ".join(f'device d{i}: "x";' for i in range(30_000)) + "\n")
    t = time.monotonic()
    proc = run_cli("check", str(path))
    assert proc.returncode == 0, proc.stderr[-500:]
    assert time.monotonic() - t < 60


def test_error_on_a_huge_line_quotes_a_window_around_the_caret(tmp_path: Path) -> None:
    # A generated file with 3000 devices on one line and a misspelt keyword near its end: the
    # diagnostic quotes at most MAX_QUOTE columns of that line, with the caret under the word.
    path = tmp_path / "line.iommu"
    body = " ".join(f'device d{i}: "x";' for i in range(3000))
    path.write_text(body + ' devcie bad: "x";\n')
    proc = run_cli("check", str(path))
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    quote, caret = [ln for ln in proc.stderr.splitlines() if " | " in ln][:2]
    assert quote.split(" | ", 1)[1].startswith("...") and len(quote) < 140
    column = caret.index("^")
    assert quote[column : column + 6] == "devcie"
    assert f"line.iommu:1:{len(body) + 2}" in proc.stderr


def test_symlink_loop_and_dangling_link(tmp_path: Path) -> None:
    (tmp_path / "a.iommu").symlink_to(tmp_path / "b.iommu")
    (tmp_path / "b.iommu").symlink_to(tmp_path / "a.iommu")
    (tmp_path / "gone.iommu").symlink_to(tmp_path / "nowhere.iommu")
    proc = run_cli("check", "a.iommu", "gone.iommu", cwd=tmp_path)
    assert proc.returncode == 3 and "Traceback" not in proc.stderr
    assert "error[E123]" in proc.stderr and "error[E121]" in proc.stderr


def test_unreadable_file(tmp_path: Path) -> None:
    path = tmp_path / "secret.iommu"
    path.write_text('device a: "x"\n')
    path.chmod(0)
    proc = run_process("check", str(path), prefix=as_unprivileged())
    assert proc.returncode == 3 and "cannot read" in proc.stderr, proc.stderr
    assert "Permission denied" in proc.stderr and "Traceback" not in proc.stderr


def test_save_on_a_full_disk_keeps_the_old_file(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import errno

    from iommu_rules import pathio

    target = tmp_path / "board.iommu"
    target.write_text("# the user's work\n")

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pathio.os, "fsync", full)
    with pytest.raises(OSError):
        pathio.write_atomic(target, "new text\n")
    assert target.read_text() == "# the user's work\n"
    assert [p.name for p in tmp_path.iterdir()] == ["board.iommu"]  # no temp file left


def test_repl_save_reports_a_full_disk(monkeypatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import errno

    from iommu_rules import pathio
    from iommu_rules.repl.session import Session, execute

    session = Session()
    session.load([str(EXAMPLES / "tegra30.iommu")])

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pathio.os, "fsync", full)
    out = execute(session, f"save {tmp_path / 's.iommu'}")
    assert not out.ok and "No space left on device" in out.text
    assert "gr3d" in execute(session, "ops").text


def test_threads_resolving_separate_boards_agree_with_one_thread() -> None:
    boards = sorted(str(p) for p in EXAMPLES.glob("*.iommu")) * 3

    def one(path: str) -> str:
        return Board.load(path).to_json()

    expected = [one(p) for p in boards]
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        got = list(pool.map(one, boards))
    assert got == expected


def test_random_repl_commands_never_end_the_session() -> None:
    import random

    from iommu_rules.repl.session import REGISTRY, Session, execute

    rng = random.Random(20261125)
    session = Session()
    session.load([str(EXAMPLES / "tegra30.iommu")])
    words = [
        *REGISTRY,
        "set",
        "add",
        "drop",
        "rule",
        "device",
        "gr3d",
        "mc",
        "gpu",
        "{",
        "}",
        '"',
        "kernel",
        "6.8",
        "contexts",
        "0",
        "not",
        ".",
        "dma_ops",
        "try",
        "undo",
        "\\",
    ]
    words.remove("quit")
    for _ in range(500):
        line = " ".join(rng.choice(words) for _ in range(rng.randint(0, 6)))
        out = execute(session, line)
        assert isinstance(out.text, str)
    assert "gr3d" in execute(session, "ops").text
