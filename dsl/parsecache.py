"""Each file's syntax tree on disk, by its text: an unchanged board and the packs are read
back, not parsed, by the next command.

An entry is one file in ``$XDG_CACHE_HOME/iommu-rules/trees/`` (the parse tables' home),
named by a hash of everything the tree depends on: the text, the name spans give the file,
the grammar, the syntax tree's classes and the package version. Its content is a header
and the tree as nested tuples, in ``marshal`` format, which Python reads back at C speed;
turning the tuples into nodes again is the rest of the cost, and runs with the cyclic
collector paused, as parsing does (with it on, the same objects cost four times as much).

Safe by construction: an entry is written to a temporary file and renamed into place, so
a reader never sees half of one, even with several writers; an entry that does not read
back (truncated, corrupt, another format) is removed and the file parsed again; only a
clean parse is kept (a file with problems is parsed each time, for its diagnostics); the
directory stays under ``LIMIT`` bytes, least recently used entries going first.
``--no-cache`` or ``IOMMU_RULES_NO_CACHE=1`` turns it off.
"""

from __future__ import annotations

import contextlib
import hashlib
import marshal
import os
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

from . import __version__, ast
from .caches import enabled
from .diagnostics import Span
from .lalr import no_gc
from .node import Node
from .parse import ParseResult

FORMAT = b"iommu-rules tree 1\n"
LIMIT = 256 * 1024 * 1024  # bytes the directory may hold
SMALLEST = 512  # shorter texts parse faster than an entry is found and read


def directory() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "iommu-rules" / "trees"


@cache
def _classes() -> tuple[type[Node], ...]:
    """The syntax tree's node classes, in a fixed order: an entry stores their index."""
    found = [v for v in vars(ast).values() if isinstance(v, type) and issubclass(v, Node)]
    return tuple(sorted((c for c in found if c is not Node), key=lambda c: c.__name__))


@cache
def _salt() -> bytes:
    """What every entry depends on besides its text: a change to any makes new entries."""
    from .grammar import grammar_text

    layout = "\n".join(f"{c.__name__}:{','.join(c._fields)}" for c in _classes())
    return hashlib.sha256(
        b"\0".join((FORMAT, __version__.encode(), grammar_text().encode(), layout.encode()))
    ).digest()


def _path(text: str, name: str) -> Path:
    digest = hashlib.sha256(_salt())
    digest.update(name.encode("utf-8", "surrogateescape") + b"\0")
    digest.update(text.encode("utf-8", "surrogateescape"))
    return directory() / f"{digest.hexdigest()[:40]}.tree"


# -- encoding: nodes as tuples whose first item says what they are ---------------------------
SPAN, TUPLE, FOREIGN_SPAN = -1, -2, -3


class _Unsupported(Exception):
    """A value the encoding does not carry: the file is simply not cached."""


_ATOMS = frozenset({str, int, bool, type(None)})  # values the encoding keeps as they are
_tuple_new = tuple.__new__


# Each node class has its encoder and decoder, straight-line code generated once per process:
# a 10k-device board is 130,000 nodes, and one generic function taking each apart field by
# field through getattr (and building it again through a list) took twice as long.
@cache
def _encoders() -> dict[type, Callable[[Any, str], tuple[Any, ...]]]:
    out: dict[type, Callable[[Any, str], tuple[Any, ...]]] = {}
    for index, kind in enumerate(_classes()):
        fields = "".join(
            f"x if type(x := v.{f}) in _atoms else _e(x, name), " for f in kind._fields
        )
        env: dict[str, Any] = {"_atoms": _ATOMS, "_e": _encode}
        exec(f"def encode(v, name):\n    return ({index}, {fields})\n", env)
        out[kind] = env["encode"]
    return out


@cache
def _decoders() -> tuple[Callable[[tuple[Any, ...], str], Node], ...]:
    out = []
    for kind in _classes():
        size = len(kind._fields) + 1
        fields = "".join(
            f"x if type(x := v[{i}]) is not tuple else _d(x, name), " for i in range(1, size)
        )
        env: dict[str, Any] = {"kind": kind, "_d": _decode}
        exec(
            "def decode(v, name):\n"
            # a damaged record: never let defaults fill it
            f"    if len(v) != {size}:\n"
            f"        raise ValueError('a {kind.__name__} of %d fields' % (len(v) - 1))\n"
            f"    return kind({fields})\n",
            env,
        )
        out.append(env["decode"])
    return tuple(out)


def _encode(value: Any, name: str) -> Any:
    kind = type(value)
    if kind in _ATOMS:
        return value
    encode = _encoders().get(kind)
    if encode is not None:
        return encode(value, name)
    if kind is Span:
        if value.file == name:
            return (SPAN, value.line, value.col, value.end_line, value.end_col)
        return (FOREIGN_SPAN, value.file, value.line, value.col, value.end_line, value.end_col)
    if kind is tuple:
        return (TUPLE, *[v if type(v) in _ATOMS else _encode(v, name) for v in value])
    raise _Unsupported(kind.__name__)


def _decode(value: tuple[Any, ...], name: str) -> Any:
    tag = value[0]
    if tag >= 0:
        return _decoders()[tag](value, name)
    if tag == SPAN:
        return _tuple_new(Span, (name, value[1], value[2], value[3], value[4]))
    if tag == TUPLE:
        return tuple([v if type(v) is not tuple else _decode(v, name) for v in value[1:]])
    if tag == FOREIGN_SPAN and len(value) == 6:
        return _tuple_new(Span, value[1:])
    raise ValueError(f"an unknown record {tag!r}")


# -- the cache ----------------------------------------------------------------------------------
def load(text: str, name: str) -> ParseResult | None:
    """The cached parse of this text, or None (not cached, unreadable, cache off)."""
    if not enabled() or len(text) < SMALLEST:
        return None
    path = _path(text, name)
    try:
        data = path.read_bytes()
    except OSError:
        return None
    try:
        if not data.startswith(FORMAT):
            raise ValueError("not an entry of this format")
        with no_gc():
            record = marshal.loads(data[len(FORMAT) :])
            if type(record) is not tuple:
                raise ValueError("not a record")
            tree = _decode(record, name)
        if not isinstance(tree, ast.File):
            raise ValueError("not a file's tree")
    except (ValueError, EOFError, TypeError, IndexError, KeyError, RecursionError):
        with contextlib.suppress(OSError):
            path.unlink()  # a broken entry: parse again, and store a good one
        return None
    with contextlib.suppress(OSError):
        os.utime(path)  # recently used: pruning keeps it
    return ParseResult(tree, [])


def store(text: str, name: str, result: ParseResult) -> None:
    """Keep a clean parse; any failure to write only means the next run parses again."""
    if not enabled() or len(text) < SMALLEST:
        return
    if result.file is None or result.diagnostics or result.partial:
        return
    try:
        # the collector paused, as when reading: with it on, the 400,000 tuples of a
        # 10k-device board took twice as long to build (0.37 s against 0.17 s)
        with no_gc():
            tree = _encode(result.file, name)
        body = marshal.dumps(tree)
    except (_Unsupported, ValueError):
        return
    path = _path(text, name)
    try:
        from .pathio import write_bytes_atomic

        path.parent.mkdir(parents=True, exist_ok=True)
        write_bytes_atomic(path, FORMAT + body)
        prune(path.parent, LIMIT)
    except OSError:
        pass


def prune(where: Path, limit: int, pattern: str = "*.tree") -> None:
    """Remove the least recently used entries until the directory holds at most ``limit``
    bytes (three quarters of it, so pruning does not run on every write)."""
    try:
        entries = [(e.stat().st_mtime, e.stat().st_size, e) for e in where.glob(pattern)]
    except OSError:
        return
    total = sum(size for _, size, _ in entries)
    if total <= limit:
        return
    for _, size, entry in sorted(entries, key=lambda e: (e[0], e[2].name)):
        if total <= limit * 3 // 4:
            break
        with contextlib.suppress(OSError):
            entry.unlink()
            total -= size
