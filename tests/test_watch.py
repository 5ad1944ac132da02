"""`check --watch` and `test --watch` as a user runs them: a real process, in a terminal
(pexpect's pty) or through a pipe, with the board edited under it and Ctrl-C at the end."""

from __future__ import annotations

import io
import os
import re
import signal
import sys
from pathlib import Path

import pexpect
import pytest
from pexpect.popen_spawn import PopenSpawn

from conftest import STRIPPED_ENV

TIMEOUT = 30  # a run takes well under a second; this is for a loaded CI machine
CLEAR = "\x1b[H\x1b[2J"

BOARD = """\
include "std/linux"
include "inc"
platform {
    arch arm
    kernel 6.8
}
device gr3d: "nvidia,tegra30-gr3d" { iommu mc swgroup nv }
expect gr3d.iommu == mc
"""
INC = "iommu mc: tegra-smmu { contexts 4 }\n"


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in STRIPPED_ENV}


def _argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "iommu_rules", *args, "--color", "never"]


Child = pexpect.spawn | PopenSpawn


def next_run(child: Child, command: str, reason: str) -> str:
    """Wait for the run that ``reason`` starts to finish; what it printed."""
    child.expect(rf"\[\d\d:\d\d:\d\d\] iommu-rules {command}: {re.escape(reason)}\r?\n")
    child.expect(r"watching [^\r\n]*; Ctrl-C to stop")
    return str(child.before) + str(child.after)


def save_as_vim_does(path: Path, text: str) -> None:
    """Write a new file beside it and rename it over the old one: the watched inode goes."""
    tmp = path.with_name(f".{path.name}.swp")
    tmp.write_text(text)
    os.replace(tmp, path)


def test_check_watch_in_a_terminal(tmp_path: Path) -> None:
    board, inc = tmp_path / "board.iommu", tmp_path / "inc.iommu"
    board.write_text(BOARD)
    inc.write_text(INC)
    argv = _argv("check", "--watch", "board.iommu")
    child = pexpect.spawn(
        argv[0], argv[1:], cwd=str(tmp_path), env=_env(), encoding="utf-8", timeout=TIMEOUT
    )
    log = child.logfile_read = io.StringIO()
    try:
        out = next_run(child, "check", "first run")
        assert "no problems in 1 file (and 2 files included)" in out
        assert "watching 2 files; Ctrl-C to stop" in out  # the pack is not watched
        assert log.getvalue().startswith(CLEAR + "[")  # a terminal: the screen is cleared

        with board.open("a") as fh:
            fh.write("garbage {\n")
        out = next_run(child, "check", "board.iommu changed")
        assert "board.iommu:9:1: error[E001]: unknown statement 'garbage'" in out
        assert "watching 2 files" in out  # what was read before the error is still watched

        save_as_vim_does(board, BOARD)
        out = next_run(child, "check", "board.iommu changed")
        assert "no problems in 1 file (and 2 files included)" in out

        # an include added: the new file is watched from the next run on
        (tmp_path / "extra.iommu").write_text("# nothing yet\n")
        inc.write_text(INC + 'include "extra"\n')
        out = next_run(child, "check", "inc.iommu changed")
        assert "no problems in 1 file (and 3 files included)" in out
        assert "watching 3 files" in out
        (tmp_path / "extra.iommu").write_text("# nothing yet, and a longer comment\n")
        out = next_run(child, "check", "extra.iommu changed")
        assert "no problems in 1 file (and 3 files included)" in out

        inc.unlink()
        out = next_run(child, "check", "inc.iommu deleted")
        assert "error[E121]: included file 'inc' not found" in out
        assert "watching 2 files" in out  # the missing file is watched for coming back
        inc.write_text(INC)
        out = next_run(child, "check", "inc.iommu created")
        assert "no problems" in out

        board.write_text(BOARD.replace("== mc", "== none"))
        out = next_run(child, "check", "board.iommu changed")
        assert "error" in out and "gr3d.iommu" in out

        child.sendintr()  # Ctrl-C, through the terminal
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert child.exitstatus == 1, log.getvalue()  # the last run's: a failed expectation
    assert "Traceback" not in log.getvalue()
    assert log.getvalue().count(CLEAR) == 8  # once before each run


def test_test_watch_on_a_directory_through_a_pipe(tmp_path: Path) -> None:
    boards = tmp_path / "boards"
    boards.mkdir()
    (boards / "inc.iommu").write_text(INC)
    a = boards / "a.iommu"
    a.write_text(BOARD.replace('include "std/linux"\n', ""))
    child = PopenSpawn(
        _argv("test", "--watch", "boards"),
        cwd=str(tmp_path),
        env=_env(),
        encoding="utf-8",
        timeout=TIMEOUT,
    )
    log = child.logfile_read = io.StringIO()
    try:
        out = next_run(child, "test", "first run")
        # inc.iommu is a board of its own too: no expectations, nothing to report
        assert "ok   boards/a.iommu:7: gr3d.iommu == mc" in out
        assert "watching 2 files and 1 directory; Ctrl-C to stop" in out

        (boards / "b.iommu").write_text(
            BOARD.replace('include "std/linux"\n', "").replace("== mc", "== none")
        )
        out = next_run(child, "test", "boards/b.iommu created")
        assert "FAIL boards/b.iommu:7: gr3d.iommu == none" in out
        assert "1 passed, 1 failed" in out

        a.write_text("garbage {\n")
        out = next_run(child, "test", "boards/a.iommu changed")
        assert "error[E001]" in out

        save_as_vim_does(a, BOARD.replace('include "std/linux"\n', ""))
        out = next_run(child, "test", "boards/a.iommu changed")
        assert "1 passed, 1 failed" in out

        child.kill(signal.SIGINT)
        child.expect(pexpect.EOF)
    finally:
        status = child.wait()
    assert status == 1, log.getvalue()
    assert "\x1b" not in log.getvalue()  # a pipe gets no escape codes
    assert "Traceback" not in log.getvalue()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("check", "--watch", "--format", "json", "b.iommu"), "--format json is not"),
        (("test", "--watch", "--format", "junit", "b.iommu"), "--format junit is not"),
        (("test", "--watch", "-"), "'-' (stdin) cannot be"),
    ],
)
def test_watch_refuses_what_it_cannot_do(cli, args: tuple[str, ...], message: str) -> None:  # type: ignore[no-untyped-def]
    proc = cli(*args)
    assert proc.returncode == 2
    assert message in proc.stderr
    assert proc.stdout == ""


def test_watch_is_in_the_help(cli) -> None:  # type: ignore[no-untyped-def]
    for command in ("check", "test"):
        out = cli(command, "--help").stdout
        assert "--watch" in out and "last run's status" in " ".join(out.split())
