"""Watch mode: ``check --watch`` and ``test --watch`` run the command, then run it again
whenever a file it read changes, until Ctrl-C.

What is watched is what the last run read: the files given and everything they include,
a missing or unparsable one too (the loader records each file it reached, in
``Loaded.reached``), never a shipped pack (it changes only with the package).  The set is
recomputed after every run, since an edit can add or drop an include; ``test DIR`` also
watches the directory for ``*.iommu`` files coming and going.

The watching is watchfiles' (the Rust ``notify`` crate: inotify, FSEvents, kqueue,
ReadDirectoryChangesW), not a polling loop of ours.  It watches each file's directory
rather than the file: an editor that saves by writing a temporary file and renaming it
over the original (vim, most IDEs) leaves a watch on the old inode blind, and a deleted
file can come back.  Events are filtered to the watched files; a burst of them (one save
is several) is grouped into one re-run by watchfiles' debounce.

A watcher starts after the run it follows, so a save made while the run was reading
would go unseen: each file's identity (inode, size, mtime) is taken before the run, and
compared once the new watcher is up.

Each run starts with a clear screen (on a terminal only: a pipe or a log gets no escape
codes) and a header line with the time and what changed; the command's own output
follows, then ``watching N files; Ctrl-C to stop``.  Ctrl-C ends it with the last run's
exit status, so a script can still tell how the board stood.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from .board import Board

CLEAR = "\x1b[H\x1b[2J"  # cursor home, erase the screen: earlier runs stay in the scrollback
DEBOUNCE_MS = 1600  # the longest one burst of events is grouped for
STEP_MS = 100  # a burst is over after this long without another event
SETTLE_MS = 200  # the first wait of a new watcher; then what changed before it started
INTERRUPTED = 130  # Ctrl-C before any run finished: the shell's status for SIGINT

Stamp = tuple[int, int, int] | None


@dataclass(frozen=True)
class Outcome:
    """One run: its exit status, the files it read, and the directories whose ``*.iommu``
    files are its input (``test DIR``)."""

    status: int
    files: frozenset[Path]
    dirs: frozenset[Path] = frozenset()


def files_read(boards: Iterable[Board]) -> frozenset[Path]:
    """Every file these boards' loads read or tried to read, but the shipped packs."""
    from .loader import std_root

    std = Path(os.path.realpath(std_root()))
    return frozenset(
        p for board in boards for p in board.base.reached if not _inside(os.path.realpath(p), std)
    )


def _inside(path: str, root: Path) -> bool:
    return Path(path) == root or root in Path(path).parents


def _shown(path: Path) -> str:
    """Below the working directory: relative, as the user typed it; elsewhere: absolute."""
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return str(path)
    return rel if not rel.startswith("..") else str(path)


def _stamp(path: Path) -> Stamp:
    try:
        st = path.stat()  # through a link: an edit of the target counts
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def _existing(path: Path) -> tuple[Path, list[Path]]:
    """The nearest directory at or above ``path`` that exists, and the missing ones below
    it (their creation is the first step of a file coming back)."""
    missing: list[Path] = []
    while not path.is_dir() and path != path.parent:
        missing.append(path)
        path = path.parent
    return path, missing


class _Watched:
    """The files and directories of one run, as the watcher sees them: the directories to
    watch, and which event paths stand for which watched file."""

    def __init__(self, files: frozenset[Path], dirs: frozenset[Path]):
        self.files = files
        self.dirs = dirs
        self.names: dict[str, Path] = {}  # an event's path -> the watched path it is about
        roots: set[Path] = set()
        for file in self.files:
            for alias in {file, Path(os.path.realpath(file))}:
                self.names[str(alias)] = file
                root, missing = _existing(alias.parent)
                roots.add(root)
                self.names.update((str(m), m) for m in missing)
        for folder in self.dirs:
            root, missing = _existing(folder)
            roots.add(root)
            self.names.update((str(m), m) for m in missing)
        self.roots = sorted(roots)

    def wanted(self, path: str) -> bool:
        if path in self.names:
            return True
        p = Path(path)
        return p.suffix == ".iommu" and p.parent in self.dirs

    def key(self, path: str) -> Path:
        return self.names.get(path, Path(path))

    def stamps(self) -> dict[Path, Stamp]:
        """The identity of every watched file now (a directory's: of each rule file in it)."""
        out = {f: _stamp(f) for f in self.files}
        for folder in self.dirs:
            with contextlib.suppress(OSError):
                out.update((f, _stamp(f)) for f in folder.glob("*.iommu"))
        return out

    def describe(self, paths: Iterable[Path], before: dict[Path, Stamp]) -> str:
        """'board.iommu changed', 'inc.iommu deleted', 'a.iommu, b.iommu changed and 2 more'."""
        words: dict[str, list[str]] = {}
        for path in sorted(set(paths)):
            if not path.exists():
                word = "deleted"
            elif before.get(path) is None:
                word = "created"
            else:
                word = "changed"
            words.setdefault(word, []).append(_shown(path))
        parts = []
        for word, names in words.items():
            more = f" and {len(names) - 3} more" if len(names) > 3 else ""
            parts.append(f"{', '.join(names[:3])}{more} {word}")
        return "; ".join(parts)

    def count(self) -> str:
        n = len(self.files)
        text = f"{n} file{'s' if n != 1 else ''}"
        if self.dirs:
            d = len(self.dirs)
            text += f" and {d} director{'ies' if d != 1 else 'y'}"
        return text

    def wait(self, before: dict[Path, Stamp]) -> str:
        """Block until a watched file changes; what changed, in words."""
        from watchfiles import watch as notify

        changes = notify(
            *self.roots,
            watch_filter=lambda _change, path: self.wanted(path),
            debounce=DEBOUNCE_MS,
            step=STEP_MS,
            rust_timeout=SETTLE_MS,
            yield_on_timeout=True,
            recursive=False,
        )
        with contextlib.closing(changes):
            first = True
            for batch in changes:
                if batch:
                    return self.describe((self.key(path) for _, path in batch), before)
                if first:  # the watcher is up: what changed before it was?
                    first = False
                    now = self.stamps()
                    moved = [p for p in before.keys() | now.keys() if before.get(p) != now.get(p)]
                    if moved:
                        return self.describe(moved, before)
        raise AssertionError("watchfiles stopped watching without a stop event")


def watch(
    run: Callable[[], Outcome], command: str, given: Iterable[str], out: TextIO | None = None
) -> int:
    """Run, and run again on every change of what the last run read, until Ctrl-C; the
    last finished run's exit status. ``given``: the paths named on the command line, all
    that is known to be read before the first run."""
    out = out or sys.stdout
    clear = out.isatty()
    status: int | None = None
    reason = "first run"
    named = [Path(os.path.abspath(p)) for p in given]
    watched = _Watched(
        frozenset(p for p in named if not p.is_dir()), frozenset(p for p in named if p.is_dir())
    )
    try:
        while True:
            before = watched.stamps()
            stamp = time.strftime("%H:%M:%S")
            out.write(f"{CLEAR if clear else ''}[{stamp}] iommu-rules {command}: {reason}\n")
            out.flush()
            outcome = run()
            status = outcome.status
            sys.stderr.flush()
            watched = _Watched(outcome.files, outcome.dirs)
            # a file new to the set was read by this run: its identity now is the one it read
            now = watched.stamps()
            kept = {p: s for p, s in before.items() if p in now or p.parent in watched.dirs}
            before = {**now, **kept}
            out.write(f"watching {watched.count()}; Ctrl-C to stop\n")
            out.flush()
            reason = watched.wait(before)
    except KeyboardInterrupt:
        return status if status is not None else INTERRUPTED
