"""The parse cache: a file's tree read back is the tree parsing gives, spans and all; a
broken entry is parsed again; writers never leave half an entry; --no-cache writes none."""

from __future__ import annotations

import marshal
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from iommu_rules import caches, parsecache
from iommu_rules.loader import forget_parsed, load_text
from iommu_rules.parse import parse_text

from conftest import EXAMPLES, all_spans, run_cli, run_process

ROOT = Path(__file__).parent.parent
FILES = sorted(EXAMPLES.glob("*.iommu")) + sorted((ROOT / "stdlib-rules").rglob("*.iommu"))


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty cache of this test's own."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv(caches.ENV_OFF, raising=False)
    forget_parsed()
    return tmp_path / "cache" / "iommu-rules" / "trees"


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_a_tree_read_back_is_the_parsed_tree(cache: Path, path: Path) -> None:
    text = path.read_text()
    parsed = parse_text(text, str(path))
    parsecache.store(text, str(path), parsed)
    got = parsecache.load(text, str(path))
    if len(text) < parsecache.SMALLEST:  # parsing it is quicker than finding an entry
        assert got is None
        return
    assert got is not None and got.file is not None and parsed.file is not None
    assert got.file == parsed.file and got.diagnostics == []
    assert all_spans(got.file) == all_spans(parsed.file)


def test_loading_an_unchanged_file_reads_the_cache(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = (EXAMPLES / "tegra30.iommu").read_text()
    first = load_text(text, "tegra30.iommu")
    assert list(cache.glob("*.tree"))  # the board and the packs it includes
    forget_parsed()

    def no_parsing(*args: object, **kwargs: object) -> None:
        raise AssertionError("parsed again")

    monkeypatch.setattr("iommu_rules.loader.parse_text", no_parsing)
    second = load_text(text, "tegra30.iommu")
    assert second.files == first.files and second.diagnostics == first.diagnostics


def test_a_file_with_problems_is_not_cached(cache: Path) -> None:
    text = "device x: {\n" + "# padding\n" * 100
    parsecache.store(text, "bad.iommu", parse_text(text, "bad.iommu"))
    assert not cache.exists() or not list(cache.glob("*.tree"))


def _short_record(data: bytes) -> bytes:
    """The entry with its file record one field short (the fields after have defaults)."""
    record = marshal.loads(data[len(parsecache.FORMAT) :])
    return parsecache.FORMAT + marshal.dumps(record[:-1])


def _record(record: object) -> bytes:
    return parsecache.FORMAT + marshal.dumps(record)


def _nested(depth: int) -> object:
    """A record of tuples inside tuples, deeper than the decoder's recursion goes."""
    record: object = (parsecache.SPAN, 1, 1, 1, 2)
    for _ in range(depth):
        record = (parsecache.TUPLE, record)
    return record


@pytest.mark.parametrize(
    "damage",
    [
        "truncate",
        "garbage",
        "other-format",
        "short-record",
        "unknown-tag",
        "foreign-span",
        "deep",
        "not-a-record",
        "empty-record",
    ],
)
def test_a_broken_entry_is_parsed_again(cache: Path, damage: str) -> None:
    path = EXAMPLES / "jetson-tk1.iommu"
    text = path.read_text()
    parsecache.store(text, str(path), parse_text(text, str(path)))
    (entry,) = cache.glob("*.tree")
    data = entry.read_bytes()
    entry.write_bytes(
        {
            "truncate": data[: len(data) // 2],
            "garbage": parsecache.FORMAT + os.urandom(200),
            "other-format": b"iommu-rules tree 0\n" + data[len(parsecache.FORMAT) :],
            "short-record": _short_record(data),
            "unknown-tag": _record((-7, 1, 2)),
            "foreign-span": _record((parsecache.FOREIGN_SPAN, "x.iommu", 1, 1)),
            "deep": _record(_nested(1_500)),
            "not-a-record": _record(42),
            "empty-record": _record(()),
        }[damage]
    )
    assert parsecache.load(text, str(path)) is None
    assert not entry.exists()  # removed, so the next store writes a good one
    proc = run_cli("check", str(path))  # and the command itself is unaffected
    assert proc.returncode == 0, proc.stderr


def test_no_cache_writes_nothing(cache: Path) -> None:
    proc = run_process(
        "--no-cache",
        "check",
        str(EXAMPLES / "tegra30.iommu"),
        env={"XDG_CACHE_HOME": str(cache.parent.parent)},
    )
    assert proc.returncode == 0, proc.stderr
    assert not cache.exists() or not list(cache.glob("*.tree"))
    proc = run_process(
        "check",
        str(EXAMPLES / "tegra30.iommu"),
        env={"XDG_CACHE_HOME": str(cache.parent.parent), caches.ENV_OFF: "1"},
    )
    assert proc.returncode == 0, proc.stderr
    assert not cache.exists() or not list(cache.glob("*.tree"))


def test_concurrent_writers_leave_whole_entries(cache: Path, tmp_path: Path) -> None:
    """Four processes check one board into an empty cache at once: each succeeds, and
    every entry left reads back (a rename puts it in place whole)."""
    board = tmp_path / "big.iommu"
    board.write_text(
        'include "std/linux"\nplatform { arch arm64; kernel 6.8 }\n'
        "iommu smmu: arm-smmu { contexts 128 }\n"
        + "".join(f'device d{i}: "v,ip" {{ iommu smmu sid {i} }}\n' for i in range(2000))
    )
    env = {**os.environ, "XDG_CACHE_HOME": str(cache.parent.parent)}
    exe = str(Path(sys.executable).parent / "iommu-rules")
    procs = [
        subprocess.Popen(
            [exe, "check", str(board)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for _ in range(4)
    ]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode in (0, 1), err
    assert not list(cache.glob("*.tmp*")) and not list(cache.glob(".*"))
    text = board.read_text()
    got = parsecache.load(text, str(board))
    assert got is not None and got.file == parse_text(text, str(board)).file


def test_the_cache_stays_under_its_bound(cache: Path) -> None:
    cache.mkdir(parents=True)
    for i in range(10):
        entry = cache / f"{i:040x}.tree"
        entry.write_bytes(b"x" * 1000)
        os.utime(entry, (time.time() - 100 + i, time.time() - 100 + i))
    parsecache.prune(cache, 5000)
    left = sorted(e.name for e in cache.glob("*.tree"))
    assert sum(e.stat().st_size for e in cache.glob("*.tree")) <= 5000 * 3 // 4
    assert left == [f"{i:040x}.tree" for i in range(7, 10)]  # the newest stay
