"""`check`'s stored verdict: the same output as checking again, never once anything the
check read has changed (an include edited, removed or added back), and not across working
directories, a --no-cache run or a broken entry."""

from __future__ import annotations

from pathlib import Path

import pytest

from iommu_rules import caches, resultcache
from iommu_rules.loader import forget_parsed

from conftest import EXAMPLES, GOLDEN, run_cli

BOARD = """\
include "std/linux"
include "soc.iommu"
platform { arch arm64; kernel 6.8 }
device gpu: "vendor,gpu" { iommu smmu sid 0x10 }
device dc: "vendor,dc" { iommu smmu sid 0x11 }
expect gpu.group == 0
"""


@pytest.fixture
def board(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv(caches.ENV_OFF, raising=False)
    monkeypatch.chdir(tmp_path)
    forget_parsed()
    (tmp_path / "soc.iommu").write_text("iommu smmu: arm-smmu { contexts 8 }\n")
    (tmp_path / "board.iommu").write_text(BOARD)
    return tmp_path


def outputs(*args: str) -> tuple[int, str, str]:
    proc = run_cli(*args)
    return proc.returncode, proc.stdout, proc.stderr


def no_loading(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the board was loaded again")

    monkeypatch.setattr("iommu_rules.board.Board.load", refuse)


def test_a_second_check_answers_from_the_verdict(
    board: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (board / "soc.iommu").write_text("iommu smmu: arm-smmu { contexts 8 }\niommu x: arm-smmu\n")
    first = outputs("check", "board.iommu")
    as_json = outputs("check", "--format", "json", "board.iommu")
    assert list((board / "cache" / "iommu-rules" / "verdicts").glob("*.verdict"))
    no_loading(monkeypatch)
    assert outputs("check", "board.iommu") == first
    assert outputs("check", "--format", "json", "board.iommu") == as_json


@pytest.mark.parametrize("edit", ["change", "remove", "restore"])
def test_anything_read_that_changed_means_checking_again(board: Path, edit: str) -> None:
    soc = board / "soc.iommu"
    if edit == "restore":  # a missing include that comes back
        soc.unlink()
    first = outputs("check", "board.iommu")
    if edit == "change":
        soc.write_text("iommu smmu: arm-smmu { contexts 0 }\n")
    elif edit == "remove":
        soc.unlink()
    else:
        soc.write_text("iommu smmu: arm-smmu { contexts 8 }\n")
    got = outputs("check", "board.iommu")
    forget_parsed()
    again = outputs("--no-cache", "check", "board.iommu")
    assert got == again and got != first


def test_the_board_file_itself_is_part_of_the_key(board: Path) -> None:
    outputs("check", "board.iommu")
    (board / "board.iommu").write_text(BOARD.replace("== 0", "== 5"))
    code, _, err = outputs("check", "board.iommu")
    assert (code == 1 and "E401" in err) or "expect" in err


def test_another_working_directory_is_another_verdict(
    board: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Included files are named relative to where check runs: the verdict is per cwd."""
    sub = board / "sub"
    sub.mkdir()
    (board / "bad.iommu").write_text("device x: {\n")  # its diagnostic names the file
    (sub / "other.iommu").write_text('include "../bad.iommu"\n')
    other = str(sub / "other.iommu")  # the same name from both directories
    assert "\nbad.iommu:1:" in "\n" + outputs("check", other)[2]
    monkeypatch.chdir(sub)
    code, out, err = outputs("check", other)
    assert f"{board / 'bad.iommu'}:1:" in err  # named from here, not from board/
    monkeypatch.setenv(caches.ENV_OFF, "1")
    assert (code, out, err) == outputs("check", other)


def test_no_cache_and_broken_entries(board: Path) -> None:
    outputs("--no-cache", "check", "board.iommu")
    verdicts = board / "cache" / "iommu-rules" / "verdicts"
    assert not verdicts.exists() or not list(verdicts.glob("*.verdict"))
    first = outputs("check", "board.iommu")
    (entry,) = verdicts.glob("*.verdict")
    entry.write_bytes(resultcache.FORMAT + b"\x00garbage")
    assert outputs("check", "board.iommu") == first
    (entry,) = verdicts.glob("*.verdict")  # replaced by a good one
    assert resultcache.lookup("board.iommu") is not None


def test_examples_check_the_same_from_the_verdict(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv(caches.ENV_OFF, raising=False)
    for example in sorted(EXAMPLES.glob("*.iommu"))[:8]:
        first = outputs("check", str(example))
        assert outputs("check", str(example)) == first, example.name


def test_every_golden_mistake_checks_the_same_from_the_verdict(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stored verdict quotes the same lines as the check that stored it, for files that
    did not load too (a file that is not UTF-8 is quoted with its bad bytes replaced)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv(caches.ENV_OFF, raising=False)
    cases = sorted((GOLDEN / "diagnostics").glob("*.iommu"))
    assert len(cases) >= 20
    monkeypatch.chdir(GOLDEN / "diagnostics")
    for case in cases:
        first = outputs("check", "--color", "never", case.name)
        assert outputs("check", "--color", "never", case.name) == first, case.name
