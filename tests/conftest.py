"""Shared helpers: run the CLI the way a user does.

``run_cli`` runs ``iommu_rules.cli.main`` in this interpreter, with its own argv,
stdin, stdout, stderr, working directory and environment, and returns what a
process would: a ``CompletedProcess`` with the exit code and the text written.
Starting an interpreter costs forty times what the command itself does on a
small board, so only the tests whose subject is the process itself (the console
script, ``python -m``, the hash seed, the on-disk parse-table cache, a dropped
capability, a terminal) start one, through ``run_process``.
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
    full_env = {k: v for k, v in os.environ.items() if k not in STRIPPED_ENV}
    full_env.update(env or {})
    data = stdin.encode() if isinstance(stdin, str) else stdin
    proc = subprocess.run(
        [*prefix, sys.executable, "-m", "iommu_rules", *args],
        cwd=cwd,
        input=data,
        capture_output=True,
        env=full_env,
        timeout=120,
    )
    return subprocess.CompletedProcess(
        proc.args,
        proc.returncode,
        proc.stdout.decode("utf-8", "replace"),
        proc.stderr.decode("utf-8", "replace"),
    )


def run_processes(
    *args: str,
    envs: Sequence[dict[str, str]],
    cwd: Path | None = None,
) -> list[subprocess.CompletedProcess[str]]:
    """run_process of the same command once per environment in ``envs``, as many at a
    time as there are CPUs (the processes are independent; only the wall time changes)."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        return list(pool.map(lambda env: run_process(*args, cwd=cwd, env=env), envs))


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
    late = sorted(set(env or {}) & set(PROCESS_ONLY_ENV))
    if late:
        raise ValueError(f"{', '.join(late)} only take effect in a new process: use run_process")
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
