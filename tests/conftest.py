"""Shared helpers: run the installed CLI the way a user does."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
GOLDEN = Path(__file__).resolve().parent / "golden"


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


def run_cli(
    *args: str,
    cwd: Path | None = None,
    stdin: str | bytes | None = None,
    env: dict[str, str] | None = None,
    prefix: tuple[str, ...] = (),
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m iommu_rules ARGS`` (the installed package) and capture output;
    ``prefix`` goes before the interpreter (see as_unprivileged)."""
    full_env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "IOMMU_RULES_DEBUG")}
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
