"""A check's verdict on disk, by everything it read: a second `check` of an unchanged board
prints the same diagnostics without loading, validating and resolving it again.

A board's diagnostics are a function of the bytes of the files its load read (the file
given, what it includes, the packs), of the directory it was run from (included files are
named relative to it) and of this program. An entry, in ``$XDG_CACHE_HOME/iommu-rules/
verdicts/``, is named by a hash of the file's name, its bytes, the working directory and
the program (the version and every source file's size and time, so an edited install
never answers with an old verdict); it lists every file the load reached with its bytes'
hash (None for one that could not be read) and the diagnostics. A later check reads each
listed file again: all the same, the stored diagnostics are the answer, and the texts just
read let them quote their lines; anything different, or an entry that does not read back,
and the board is checked as usual and the entry replaced. Writes and pruning are the parse
cache's (parsecache.py): atomic, bounded, off with ``--no-cache``.
"""

from __future__ import annotations

import contextlib
import hashlib
import marshal
import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import __version__, caches, parsecache
from .diagnostics import Diagnostic, Label, Severity, SourceMap, Span

if TYPE_CHECKING:
    from .board import Board

FORMAT = b"iommu-rules verdict 1\n"
LIMIT = 64 * 1024 * 1024


@dataclass(frozen=True)
class Verdict:
    """What `check` needs of one board: its diagnostics, whether it loaded without input
    errors, the texts its diagnostics quote, and every file its load reached."""

    diagnostics: list[Diagnostic]
    ok: bool
    sources: SourceMap
    files: frozenset[Path]


def directory() -> Path:
    return parsecache.directory().parent / "verdicts"


@cache
def _program() -> bytes:
    """This program, as far as a verdict depends on it: the version and every file of the
    installed package (size and modification time: reading them all would cost more)."""
    from .grammar import grammar_text

    root = Path(__file__).parent
    digest = hashlib.sha256(FORMAT + __version__.encode() + grammar_text().encode())
    for path in sorted(root.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            st = path.stat()
            digest.update(f"{path.relative_to(root)}\0{st.st_size}\0{st.st_mtime_ns}\0".encode())
    return digest.digest()


def _read(path: str) -> bytes | None:
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except OSError:
        return None


def _hash(data: bytes | None) -> bytes | None:
    return None if data is None else hashlib.sha256(data).digest()


def _entry(name: str, data: bytes) -> Path:
    digest = hashlib.sha256(_program())
    for part in (name.encode("utf-8", "surrogateescape"), os.getcwd().encode(), data):
        digest.update(hashlib.sha256(part).digest())
    return directory() / f"{digest.hexdigest()[:40]}.verdict"


def lookup(name: str) -> Verdict | None:
    """The stored verdict for the file as given, if nothing it read has changed since."""
    if not caches.enabled():
        return None
    data = _read(name)
    if data is None:
        return None
    entry = _entry(name, data)
    raw = _read(str(entry))
    if raw is None:
        return None
    try:
        if not raw.startswith(FORMAT):
            raise ValueError("another format")
        deps, shown, ok, diags = marshal.loads(raw[len(FORMAT) :])
        texts: dict[str, bytes | None] = {}
        for path, digest in deps:
            texts[path] = _read(path)
            if _hash(texts[path]) != digest:
                return None  # something it read has changed: check again
        sources = SourceMap()
        for display, path in shown:
            body = texts.get(path)
            if body is not None:
                sources.add(display, body.decode("utf-8", "replace"))
        verdict = Verdict([_diagnostic(d) for d in diags], ok, sources, _files(deps))
    except (ValueError, EOFError, TypeError, IndexError, KeyError):
        with contextlib.suppress(OSError):
            entry.unlink()
        return None
    with contextlib.suppress(OSError):
        os.utime(entry)
    return verdict


def _files(deps: Any) -> frozenset[Path]:
    from .loader import std_root

    std = os.path.realpath(std_root()) + os.sep
    return frozenset(Path(p) for p, _ in deps if not os.path.realpath(p).startswith(std))


def store(name: str, board: Board, verdict: Verdict) -> None:
    """Keep the verdict of a board loaded from ``name`` (a file, not stdin)."""
    if not caches.enabled():
        return
    data = _read(name)
    if data is None:
        return
    loaded = board.base
    deps = [(str(p), _hash(_read(str(p)))) for p in loaded.reached]
    try:
        given = any(os.path.samefile(name, p) for p, h in deps if h is not None)
    except OSError:  # a file gone since it was read: the next check reads it again
        return
    if not given:
        return  # the file given is not among what was read: nothing to key on
    shown = [(d, str(loaded.paths[d])) for d in verdict.sources.names() if d in loaded.paths]
    try:
        body = marshal.dumps((deps, shown, verdict.ok, [_flat(d) for d in verdict.diagnostics]))
    except ValueError:
        return
    entry = _entry(name, data)
    try:
        from .pathio import write_bytes_atomic

        entry.parent.mkdir(parents=True, exist_ok=True)
        write_bytes_atomic(entry, FORMAT + body)
        parsecache.prune(entry.parent, LIMIT, "*.verdict")
    except OSError:
        pass


def _span(s: Span) -> tuple[str, int, int, int, int]:
    return (s.file, s.line, s.col, s.end_line, s.end_col)


def _flat(d: Diagnostic) -> tuple[Any, ...]:
    return (
        d.severity.value,
        d.code,
        d.message,
        _span(d.span),
        d.label,
        tuple((_span(lab.span), lab.message) for lab in d.secondary),
        d.help,
    )


def _diagnostic(t: Any) -> Diagnostic:
    severity, code, message, span, label, secondary, help_ = t
    return Diagnostic(
        Severity(severity),
        code,
        message,
        Span(*span),
        label,
        tuple(Label(Span(*s), m) for s, m in secondary),
        help_,
    )
