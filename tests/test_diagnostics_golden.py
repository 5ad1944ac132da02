"""Golden diagnostics: each file is a realistic mistake; the expected output was read by eye.

Set UPDATE_GOLDEN=1 to rewrite the .expected files, then review the diff.
"""

from __future__ import annotations

import os

import pytest

from conftest import GOLDEN, run_cli

CASES = sorted((GOLDEN / "diagnostics").glob("*.iommu"))


def test_enough_cases() -> None:
    assert len(CASES) >= 20


@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_golden_diagnostic(case) -> None:  # type: ignore[no-untyped-def]
    proc = run_cli("check", "--color", "never", case.name, cwd=case.parent)
    actual = f"exit {proc.returncode}\n{proc.stdout}{proc.stderr}"
    assert "Traceback" not in actual
    expected_file = case.with_suffix(".expected")
    if os.environ.get("UPDATE_GOLDEN"):
        expected_file.write_text(actual, encoding="utf-8")
    assert expected_file.exists(), f"no golden file for {case.name}; run with UPDATE_GOLDEN=1"
    assert actual == expected_file.read_text(encoding="utf-8")
    # every error names a file:line:col and quotes the line with a caret
    if proc.returncode == 3:
        assert f"{case.name}:" in proc.stderr or "inc/" in proc.stderr
        assert "^" in proc.stderr
