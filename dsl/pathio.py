"""Writing files so that a crash or a full disk never leaves half a file."""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


class WriteError(OSError):
    """A file that cannot be written, named as the user named it (never the temporary
    file beside it), and why: the front ends report it as an input/output error."""


@contextlib.contextmanager
def _writing(path: Path) -> Iterator[None]:
    if path.is_dir():
        raise WriteError(errno.EISDIR, "it is a directory", str(path))
    try:
        yield
    except WriteError:
        raise
    except OSError as exc:
        raise WriteError(exc.errno, exc.strerror or str(exc), str(path)) from exc


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """As write_atomic, for bytes (caches, rendered images)."""
    with _writing(path):
        directory = path.parent if str(path.parent) else Path(".")
        fd, tmp = _temporary(path, directory)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.chmod(tmp, 0o666 & ~_umask())
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise


def write_atomic(path: Path, text: str) -> None:
    """Write to a temporary file beside ``path``, fsync it, then rename over ``path``.

    The existing file (if any) keeps its permission bits and, where the user may
    set them, its owner and group.  On any error the temporary file is removed,
    the original is untouched, and a WriteError names ``path``.
    """
    with _writing(path):
        _write(path, text)


def _write(path: Path, text: str) -> None:
    directory = path.parent if str(path.parent) else Path(".")
    old: os.stat_result | None = None
    with contextlib.suppress(FileNotFoundError):
        old = path.stat()
    fd, tmp = _temporary(path, directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        if old is not None:
            os.chmod(tmp, old.st_mode & 0o7777)
            with contextlib.suppress(OSError):
                os.chown(tmp, old.st_uid, old.st_gid)
        else:
            os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):
        dfd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


def _temporary(path: Path, directory: Path) -> tuple[int, str]:
    """The temporary file beside ``path``; where none can be made (a read-only folder,
    /proc), say that, not the temporary file's name."""
    try:
        return tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        why = f"cannot create a file in '{directory}' ({exc.strerror or exc})"
        raise WriteError(exc.errno, why, str(path)) from exc


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def as_written(original: str, formatted: str) -> tuple[str, bool]:
    """The formatted text with the original's line endings (CRLF where every line had
    them) and byte-order mark; and whether the original mixed CRLF and LF (then: LF)."""
    crlf, lines = original.count("\r\n"), original.count("\n")
    if crlf and crlf == lines:
        formatted = formatted.replace("\n", "\r\n")
    if original.startswith("\ufeff"):
        formatted = "\ufeff" + formatted
    return formatted, 0 < crlf < lines
