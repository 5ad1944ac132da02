"""Reading rule files and resolving includes.

Includes are relative to the including file, or ``std/...`` from the stdlib
shipped in the wheel; ``.iommu`` may be left off.  A file reached twice (by
any path) is loaded once; a cycle is an error that shows the chain.  The walk
is iterative, so a deep include chain cannot exhaust Python's stack.
"""

from __future__ import annotations

import os
import stat
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from . import ast
from .diagnostics import Diagnostic, Label, SourceMap, Span, did_you_mean, error
from .parse import ParseResult, parse_text

MAX_FILE_BYTES = 16 * 1024 * 1024
STD_PREFIX = "std/"
PARSED_CHARS = 8 * 1024 * 1024  # the texts the parse memo keeps, at most
MEMO_TEXT = PARSED_CHARS // 8  # a longer text is not kept: it would push out all others


class _ParseMemo:
    """Each file text parsed once per process, by name and text: every board includes the
    packs, and the REPL, what-ifs and tests load the same files again. The syntax tree and
    diagnostics are frozen, so boards share them; least recently used texts go first."""

    def __init__(self, limit: int):
        self.limit, self.size = limit, 0
        self.entries: OrderedDict[tuple[str, str], ParseResult] = OrderedDict()
        self.lock = threading.Lock()

    def parse(self, text: str, name: str) -> ParseResult:
        key = (name, text)
        with self.lock:
            hit = self.entries.get(key)
            if hit is not None:
                self.entries.move_to_end(key)
                return hit
        from . import parsecache

        result = parsecache.load(text, name)
        if result is None:
            result = parse_text(text, name)
            parsecache.store(text, name, result)
        self.keep(text, name, result)
        return result

    def keep(self, text: str, name: str, result: ParseResult, only: bool = False) -> None:
        """Keep a parse, least recently used ones going first past the limit; ``only``:
        drop the other texts of that name (an editor's buffer has one text that counts)."""
        if len(text) > MEMO_TEXT:
            return
        with self.lock:
            if only:
                for old in [k for k in self.entries if k[0] == name and k[1] != text]:
                    del self.entries[old]
                    self.size -= len(old[1])
            if (name, text) not in self.entries:
                self.entries[(name, text)] = result
                self.size += len(text)
            while self.size > self.limit:
                (_, old_text), _ = self.entries.popitem(last=False)
                self.size -= len(old_text)


_PARSED = _ParseMemo(PARSED_CHARS)


def remember_parsed(text: str, name: str, result: ParseResult) -> None:
    """Hand the memo a parse made elsewhere (the language server parses an edited file
    statement by statement), so loading that text takes it as it is."""
    _PARSED.keep(text, name, result, only=True)


def forget_parsed() -> None:
    """Empty the parse memo and the parser's word memo: benchmarks time a cold parse, as
    the first `check` of a process makes it."""
    from .grammar import parser

    with _PARSED.lock:
        _PARSED.entries.clear()
        _PARSED.size = 0
    parser().forget()


@dataclass
class Loaded:
    """Every file reached from the roots, in first-reached order."""

    roots: list[str] = field(default_factory=list)
    files: dict[str, ast.File] = field(default_factory=dict)
    # display name -> the include targets, in order, as display names
    includes: dict[str, list[tuple[ast.Include, str]]] = field(default_factory=dict)
    sources: SourceMap = field(default_factory=SourceMap)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    # Some file did not parse completely: names it defines may be missing.
    partial: bool = False
    # The files that are stdlib packs (their real path is inside the shipped stdlib), by
    # display name: packs may use tags no board has, so some checks skip them.
    std: set[str] = field(default_factory=set)
    # display name -> the file it was read from (files given as text have none)
    paths: dict[str, Path] = field(default_factory=dict)
    # Every file this load read or tried to read (absolute, as reached, in order; packs
    # too): what `--watch` watches, a missing or unparsable file included.
    reached: list[Path] = field(default_factory=list)
    # platform_items, once asked: a what-if of the command line asks at every change
    _platform: list[tuple[str, ast.Platform]] | None = field(
        default=None, repr=False, compare=False
    )

    @property
    def ok(self) -> bool:
        return not any(d.is_error for d in self.diagnostics)

    def is_std(self, name: str) -> bool:
        """Whether the file is a shipped pack: by where it is, never by how it is spelt."""
        return name in self.std

    def platform_items(self) -> list[tuple[str, ast.Platform]]:
        """The `platform` statements of ordered_items, in its order (a what-if of the
        command line revalidates these alone). Kept once made, for a finished load: the
        walk visits every item (10,000 at 10k devices)."""
        if self._platform is None:
            items = self.ordered_items(ast.Platform)
            self._platform = [(f, it) for f, it in items if isinstance(it, ast.Platform)]
        return list(self._platform)

    def ordered_items(self, only: type | None = None) -> list[tuple[str, ast.Item]]:
        """All items with includes expanded in place, each file once; ``only``: those of
        this class alone."""
        out: list[tuple[str, ast.Item]] = []
        seen: set[str] = set()
        for root in self.roots:
            stack: list[tuple[str, int]] = [(root, 0)]
            if root in seen or root not in self.files:
                continue
            seen.add(root)
            while stack:
                name, index = stack.pop()
                items = self.files[name].items
                targets = dict((id(inc), t) for inc, t in self.includes.get(name, []))
                while index < len(items):
                    item = items[index]
                    index += 1
                    if isinstance(item, ast.Include):
                        target = targets.get(id(item))
                        if target and target not in seen and target in self.files:
                            seen.add(target)
                            stack.append((name, index))
                            stack.append((target, 0))
                            break
                        continue
                    if only is None or isinstance(item, only):
                        out.append((name, item))
        return out


def std_root() -> Path:
    return Path(str(resources.files("iommu_rules.stdlib")))


def std_packs() -> list[str]:
    """Every shipped pack as the name an include uses, e.g. 'std/linux'."""
    root = std_root()
    return sorted(
        str(p.relative_to(root).with_suffix("")).replace(os.sep, "/") for p in root.rglob("*.iommu")
    )


def _display(path: Path) -> str:
    """Below the working directory: relative; elsewhere: absolute (never '../..')."""
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return str(path)
    return rel if not rel.startswith("..") else os.path.abspath(path)


def _std_name(path: Path) -> str | None:
    """A stdlib pack named by its file path is still 'std/...' (packs may use open tags)."""
    try:
        rel = Path(os.path.realpath(path)).relative_to(os.path.realpath(std_root()))
    except (ValueError, OSError):
        return None
    return str(rel).replace(os.sep, "/")


def read_source(
    path: Path, display: str, span: Span | None
) -> tuple[str | None, Diagnostic | None]:
    """Read a file as UTF-8 text, or say precisely why not."""
    where = span or Span(display, 0, 0, 0, 0)
    try:
        st = path.stat()
    except FileNotFoundError:
        return None, error("E121", f"no such file '{display}'", where)
    except OSError as exc:
        return None, error("E123", f"cannot read '{display}': {exc.strerror}", where)
    if stat.S_ISDIR(st.st_mode):
        return None, error("E123", f"'{display}' is a directory, not a rule file", where)
    if not stat.S_ISREG(st.st_mode):
        return None, error("E123", f"'{display}' is not a regular file", where)
    if st.st_size > MAX_FILE_BYTES:
        return None, error(
            "E125",
            f"'{display}' is too large ({st.st_size / 1e6:.1f} MB; the limit is "
            f"{MAX_FILE_BYTES // (1024 * 1024)} MiB)",
            where,
            help="split it into several files joined with 'include'",
        )
    try:
        with path.open("rb") as fh:  # a size of 0 does not bound a /proc file: read at most
            data = fh.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        return None, error("E123", f"cannot read '{display}': {exc.strerror}", where)
    if len(data) > MAX_FILE_BYTES:
        return None, error(
            "E125",
            f"'{display}' is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB",
            where,
            help="split it into several files joined with 'include'",
        )
    return decode(data, display)


def decode(data: bytes, display: str) -> tuple[str | None, Diagnostic | None]:
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        before = data[: exc.start]
        line = before.count(b"\n") + 1
        col = len(before) - (before.rfind(b"\n") + 1) + 1
        return None, error(
            "E124",
            f"'{display}' is not valid UTF-8 (byte 0x{data[exc.start]:02x})",
            Span(display, line, col, line, col + 1),
            help="rule files are UTF-8 text",
        )


class Loader:
    def __init__(self, overlay: Mapping[str, str] | None = None) -> None:
        self.result = Loaded()
        self._real: dict[str, str] = {}  # real path -> display name
        # real path -> text to use instead of the file's (an editor's unsaved buffers)
        self.overlay = overlay or {}

    def _reached(self, path: Path) -> None:
        full = Path(os.path.abspath(path))
        if full not in self.result.reached:
            self.result.reached.append(full)

    def _resolve_include(self, inc: ast.Include, from_path: Path | None) -> tuple[Path, str]:
        target = inc.path.value
        if not target.endswith(".iommu"):
            target += ".iommu"
        if target.startswith(STD_PREFIX):
            full = std_root() / target
            return full, _std_name(full) or target
        base = from_path.parent if from_path is not None else Path.cwd()
        full = (base / target) if not os.path.isabs(target) else Path(target)
        return full, _display(full)

    def _missing_help(self, inc: ast.Include, full: Path) -> str:
        target = inc.path.value.removesuffix(".iommu")
        if target.startswith(STD_PREFIX):
            return did_you_mean(target, std_packs()) or "'iommu-rules packs' lists the stdlib"
        try:
            names = [p.stem for p in full.parent.glob("*.iommu")]
        except OSError:
            names = []
        hint = did_you_mean(Path(target).name, names)
        return hint

    def add_text(self, text: str, display: str, path: Path | None) -> None:
        self._load(text, display, path)

    def add_path(self, path: Path, display: str | None = None) -> None:
        display = display or _std_name(path) or str(path)  # as the user wrote it
        self._reached(path)
        text, diag = read_source(path, display, None)
        if diag is not None:
            self.result.diagnostics.append(diag)
            self.result.partial = True
            if diag.code == "E124" and link_target(path) is None:  # quote the line, if we may
                self.result.sources.add(display, path.read_bytes().decode("utf-8", "replace"))
                # the file behind the quoted text, as for an include: a stored verdict
                # reads it again to quote the same line (resultcache.py)
                self.result.paths[display] = Path(os.path.realpath(path))
            return
        assert text is not None
        self._load(text, display, path)

    def _load(self, text: str, display: str, path: Path | None) -> None:
        if path is not None:
            real = os.path.realpath(path)
            if real in self._real:
                return
            self._real[real] = display
            self.result.paths[display] = Path(real)
            if _std_name(path) is not None:
                self.result.std.add(display)
        self.result.roots.append(display)
        # Iterative depth-first walk: (display, path, chain of includes that led here)
        pending: list[tuple[str, str, Path | None, tuple[tuple[str, ast.Include], ...]]] = [
            (display, text, path, ())
        ]
        while pending:
            name, src, fpath, chain = pending.pop()
            parsed = _PARSED.parse(src, name)
            target = link_target(fpath) if fpath is not None else None
            if target is not None and not parsed.ok:
                self.result.diagnostics.append(_not_a_rule_file(name, target, parsed.diagnostics))
                self.result.partial = True
                continue
            self.result.sources.add(name, src)
            self.result.diagnostics.extend(parsed.diagnostics)
            self.result.partial |= parsed.partial or parsed.file is None
            if parsed.file is None:
                continue
            self.result.files[name] = parsed.file
            found: list[tuple[ast.Include, str]] = []
            children = []
            for inc in _includes(parsed.file):
                full, shown = self._resolve_include(inc, fpath)
                if inc.path.value.startswith(STD_PREFIX) and _std_name(full) is None:
                    self.result.diagnostics.append(
                        error(
                            "E134",
                            f"'{inc.path.value}' leaves the stdlib",
                            inc.path.span,
                            label="a 'std/' include names a shipped pack",
                            help="'iommu-rules packs' lists them; include your own files "
                            "by a path relative to this file",
                        )
                    )
                    self.result.partial = True
                    continue
                real = os.path.realpath(full)
                if real in self._real:
                    target = self._real[real]
                    cycle = [n for n, _ in chain] + [name]
                    if target in cycle:
                        self.result.diagnostics.append(_cycle(inc, target, name, chain))
                        continue
                    found.append((inc, target))
                    continue
                self._reached(full)
                self.result.paths[shown] = Path(real)
                text2: str | None
                if real in self.overlay:
                    text2, diag = self.overlay[real], None
                else:
                    text2, diag = read_source(full, shown, inc.path.span)
                if diag is not None:
                    if diag.code == "E121":
                        diag = error(
                            "E121",
                            f"included file '{inc.path.value}' not found",
                            inc.path.span,
                            label=f"looked for {shown}",
                            help=self._missing_help(inc, full),
                        )
                    self.result.diagnostics.append(diag)
                    self.result.partial = True
                    continue
                assert text2 is not None
                self._real[real] = shown
                if _std_name(full) is not None:
                    self.result.std.add(shown)
                found.append((inc, shown))
                children.append((shown, text2, full, (*chain, (name, inc))))
            self.result.includes[name] = found
            pending.extend(reversed(children))


def link_target(path: Path) -> str | None:
    """Where a path leads through a symbolic link, when that is no file named as a rule file
    (``*.iommu``): such a file's text is never quoted, so a link in a checked-out repository
    cannot make a check print a file of the machine that runs it (a CI log is often public)."""
    real = os.path.realpath(path)
    if real.endswith(".iommu") or real == os.path.abspath(path):
        return None
    return real


def _not_a_rule_file(name: str, target: str, diags: list[Diagnostic]) -> Diagnostic:
    """One error in place of a linked non-rule file's syntax errors, quoting none of it."""
    first = min((d for d in diags if d.is_error), key=Diagnostic.sort_key)
    at = first.span
    return error(
        "E135",
        f"'{name}' links to '{target}', which does not parse as a rule file",
        Span(name, at.line, at.col, at.line, at.col + 1),
        help="its first syntax error is here; a linked file not named *.iommu is never "
        "quoted. Name the file itself to see its lines",
    )


def _includes(file: ast.File) -> list[ast.Include]:
    """Include statements, top-level only: includes inside 'when' are rejected by the model."""
    return [i for i in file.items if isinstance(i, ast.Include)]


def _cycle(
    inc: ast.Include, target: str, name: str, chain: tuple[tuple[str, ast.Include], ...]
) -> Diagnostic:
    # The chain from the target back to this include, each step labelled.
    steps = [*list(chain), (name, inc)]
    start = (
        next(i for i, (n, _) in enumerate(steps) if n == target)
        if any(n == target for n, _ in steps)
        else 0
    )
    loop = steps[start:]
    secondary = tuple(
        Label(step.path.span, f"'{n}' includes '{step.path.value}'") for n, step in loop[:-1]
    )
    path_text = " -> ".join([n for n, _ in loop] + [target])
    return error(
        "E122",
        f"include cycle: {path_text}",
        inc.path.span,
        label=f"'{name}' includes '{target}' again",
        secondary=secondary,
        help="remove one of these includes; each file is loaded once anyway",
    )


def load_paths(paths: list[str], stdin_text: str | None = None) -> Loaded:
    """Load the given files ('-' is standard input) and everything they include."""
    loader = Loader()
    for p in paths:
        if p == "-":
            loader.add_text(stdin_text or "", "<stdin>", None)
        else:
            loader.add_path(Path(p))
    return loader.result


def load_text(text: str, display: str = "<input>", base: Path | None = None) -> Loaded:
    loader = Loader()
    loader.add_text(text, display, base)
    return loader.result
