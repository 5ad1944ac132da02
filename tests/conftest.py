"""Shared helpers: run the CLI the way a user does.

``run_cli`` runs ``iommu_rules.cli.main`` in this interpreter, with its own argv,
stdin, stdout, stderr, working directory and environment, and returns what a
process would: a ``CompletedProcess`` with the exit code and the text written.
Starting an interpreter costs some forty times what the command itself does on a
small board, so only the tests whose subject is the process itself (the console
script, ``python -m``, the hash seed, the on-disk parse-table cache, a dropped
capability, a terminal) start one, through ``run_process``, or ``processes_soon``
for commands that can run on the spare CPU while the other tests run.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import io
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
GOLDEN = Path(__file__).resolve().parent / "golden"

# Not passed on from the developer's shell: they would change what the tests see.
STRIPPED_ENV = ("NO_COLOR", "IOMMU_RULES_DEBUG")
# Read once per process (the interpreter at start-up; grammar.tables() caches the parse
# tables in memory for the life of the process): in-process they would silently mean
# nothing, so a test that sets one needs run_process.
PROCESS_ONLY_ENV = ("PYTHONHASHSEED", "XDG_CACHE_HOME")


def as_unprivileged() -> tuple[str, ...]:
    """A command prefix under which permission bits bind, even for root.

    Root passes every permission check through CAP_DAC_OVERRIDE; dropping it
    (and CAP_DAC_READ_SEARCH) from the bounding set makes a 0500 directory or a
    0000 file as closed to the tool as it is to a user.
    """
    if os.geteuid() != 0:
        return ()
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.fail("running as root needs util-linux's setpriv to drop CAP_DAC_OVERRIDE")
    return (setpriv, "--bounding-set", "-dac_override,-dac_read_search")


def _process_env(env: dict[str, str] | None) -> dict[str, str]:
    """A child's environment: ours without STRIPPED_ENV, then ``env``."""
    full_env = {k: v for k, v in os.environ.items() if k not in STRIPPED_ENV}
    full_env.update(env or {})
    return full_env


def _spawn(
    argv: list[str], cwd: Path | None, data: bytes | None, full_env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(argv, cwd=cwd, input=data, capture_output=True, env=full_env, timeout=120)
    return subprocess.CompletedProcess(
        proc.args,
        proc.returncode,
        proc.stdout.decode("utf-8", "replace"),
        proc.stderr.decode("utf-8", "replace"),
    )


def run_process(
    *args: str,
    cwd: Path | None = None,
    stdin: str | bytes | None = None,
    env: dict[str, str] | None = None,
    prefix: tuple[str, ...] = (),
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m iommu_rules ARGS`` (the installed package) in a new process and
    capture its output; ``prefix`` goes before the interpreter (see as_unprivileged).
    For tests whose subject is the process: see run_cli."""
    data = stdin.encode() if isinstance(stdin, str) else stdin
    argv = [*prefix, sys.executable, "-m", "iommu_rules", *args]
    return _spawn(argv, cwd, data, _process_env(env))


def _spawn_all(
    argv: list[str], cwd: Path, full_envs: Sequence[dict[str, str]]
) -> list[subprocess.CompletedProcess[str]]:
    """One process per environment, as many at a time as there are CPUs."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        return list(pool.map(lambda full_env: _spawn(argv, cwd, None, full_env), full_envs))


class Soon:
    """One command (``python -m iommu_rules ARGS``) in one new process per environment,
    as run_process would run it, started before the test that reads the output: once
    collection is over, one process at a time on a spare CPU while the in-process tests
    run on the other. Made at import time by processes_soon (for commands that need
    nothing a test sets up); the test calls results(), which runs whatever has not
    started yet there and then, as many at a time as there are CPUs."""

    def __init__(self, module: Path, argv: list[str], envs: Sequence[dict[str, str]], cwd: Path):
        self.module = module
        self.argv = argv
        self.envs = list(envs)
        self.cwd = cwd
        self.full_envs: list[dict[str, str]] | None = None
        self.futures: list[concurrent.futures.Future[subprocess.CompletedProcess[str]]] = []

    def start(self, pool: concurrent.futures.Executor) -> None:
        # The environment is read here, in the main thread, between tests: run_cli
        # changes os.environ for the length of a call.
        self.full_envs = [_process_env(env) for env in self.envs]
        self.futures = [
            pool.submit(_spawn, self.argv, self.cwd, None, full_env) for full_env in self.full_envs
        ]

    def results(self) -> list[subprocess.CompletedProcess[str]]:
        if self.full_envs is None:  # not started: the test runs them itself
            return _spawn_all(self.argv, self.cwd, [_process_env(env) for env in self.envs])
        late = [i for i, future in enumerate(self.futures) if future.cancel()]
        now = _spawn_all(self.argv, self.cwd, [self.full_envs[i] for i in late])
        done = dict(zip(late, now, strict=True))
        return [done[i] if i in done else future.result() for i, future in enumerate(self.futures)]


_SOON: list[Soon] = []
_SPARE: list[concurrent.futures.ThreadPoolExecutor] = []


def processes_soon(*args: str, envs: Sequence[dict[str, str]], cwd: Path = ROOT) -> Soon:
    """A Soon for a test module to declare at import time: ``python -m iommu_rules ARGS``
    in ``cwd``, once per environment in ``envs``. The processes start when collection is
    over if a test of that module is selected; mark the tests that read them with
    @pytest.mark.soon."""
    module = Path(sys._getframe(1).f_globals["__file__"]).resolve()
    soon = Soon(module, [sys.executable, "-m", "iommu_rules", *args], envs, cwd)
    _SOON.append(soon)
    return soon


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "soon: the test reads processes_soon output; it runs after the other tests, "
        "by which time those processes have run on the spare CPU",
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: item.get_closest_marker("soon") is not None)  # stable


def pytest_collection_finish(session: pytest.Session) -> None:
    if session.config.option.collectonly:
        return
    selected = {Path(str(item.path)).resolve() for item in session.items}
    wanted = [soon for soon in _SOON if soon.module in selected]
    if wanted:
        spare = max(1, (os.cpu_count() or 1) - 1)
        _SPARE.append(concurrent.futures.ThreadPoolExecutor(spare, thread_name_prefix="soon"))
        for soon in wanted:
            soon.start(_SPARE[0])


def pytest_sessionfinish(session: pytest.Session) -> None:
    for pool in _SPARE:  # after -x or a deselected test: do not start what nobody reads
        pool.shutdown(wait=True, cancel_futures=True)


@contextlib.contextmanager
def _environment(env: dict[str, str] | None) -> Iterator[None]:
    """os.environ as run_process's child would see it, restored afterwards."""
    saved = dict(os.environ)
    try:
        for key in STRIPPED_ENV:
            os.environ.pop(key, None)
        os.environ.update(env or {})
        # A child's stdout is a pipe, so argparse wraps --help at 80 columns unless
        # COLUMNS says otherwise; here stdout may be pytest's terminal.
        os.environ.setdefault("COLUMNS", "80")
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@contextlib.contextmanager
def _working_directory(cwd: Path | None) -> Iterator[None]:
    before = os.getcwd()
    if cwd is not None:
        os.chdir(cwd)
    try:
        yield
    finally:
        os.chdir(before)


def _text_stream(data: bytes = b"", errors: str = "strict") -> io.TextIOWrapper:
    """A text stream over bytes, with ``.buffer`` (the CLI reads stdin's bytes) and the
    encoding and error handler a process's standard streams have under a UTF-8 locale."""
    return io.TextIOWrapper(io.BytesIO(data), encoding="utf-8", errors=errors)


def run_cli(
    *args: str,
    cwd: Path | None = None,
    stdin: str | bytes | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``iommu-rules ARGS`` in this interpreter and capture its output, as run_process
    would: exit code (argparse's SystemExit included), stdout and stderr as text.
    ``cwd``, ``stdin`` and ``env`` hold for the call only."""
    process_only = sorted(set(env or {}) & set(PROCESS_ONLY_ENV))
    if process_only:
        names = ", ".join(process_only)
        raise ValueError(f"{names} only take effect in a new process: use run_process")
    from iommu_rules.cli import main

    data = stdin.encode() if isinstance(stdin, str) else (stdin or b"")
    # A child's stdin under pytest is /dev/null: empty.
    fake_in = _text_stream(data, "surrogateescape")
    fake_out = _text_stream(errors="surrogateescape")
    fake_err = _text_stream(errors="backslashreplace")
    saved = sys.stdin, sys.stdout, sys.stderr
    try:
        with _environment(env), _working_directory(cwd):
            sys.stdin, sys.stdout, sys.stderr = fake_in, fake_out, fake_err
            try:
                code = main(list(args))
            except SystemExit as exc:  # argparse: usage errors, --help, --version
                if exc.code is None or isinstance(exc.code, int):
                    code = exc.code or 0
                else:
                    print(exc.code, file=sys.stderr)
                    code = 1
    finally:
        if sys.stdout not in (fake_out, saved[1]):  # main's BrokenPipeError path: os.devnull
            sys.stdout.close()
        sys.stdin, sys.stdout, sys.stderr = saved
    fake_out.flush()
    fake_err.flush()
    out = fake_out.buffer.getvalue().decode("utf-8", "replace")  # type: ignore[attr-defined]
    err = fake_err.buffer.getvalue().decode("utf-8", "replace")  # type: ignore[attr-defined]
    return subprocess.CompletedProcess(["iommu-rules", *args], code, out, err)


@pytest.fixture
def cli():  # type: ignore[no-untyped-def]
    return run_cli


def import_dts(tmp_path: Path, dts: str) -> tuple[subprocess.CompletedProcess[str], Path]:
    """Run `import dts` on this device-tree source; it must succeed. (process, output)."""
    src = tmp_path / "board.dts"
    src.write_text(dts)
    out = tmp_path / "board.iommu"
    proc = run_cli("import", "dts", str(src), "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    return proc, out


def all_spans(
    value: object, out: list[tuple[object, ...]] | None = None
) -> list[tuple[object, ...]]:
    """Every span in a syntax tree, in order: node equality leaves spans out, so tests that
    compare two trees' positions compare these."""
    from iommu_rules.diagnostics import Span
    from iommu_rules.node import Node

    out = [] if out is None else out
    if isinstance(value, Span):
        out.append((value.file, value.line, value.col, value.end_line, value.end_col))
    elif isinstance(value, Node):
        for name in value._fields:
            all_spans(getattr(value, name), out)
    elif isinstance(value, tuple):
        for v in value:
            all_spans(v, out)
    return out
