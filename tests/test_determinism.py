"""Same input, same bytes out, whatever the hash seed."""

from __future__ import annotations

import pytest

from conftest import EXAMPLES, GOLDEN, run_cli

SEEDS = ["0", "1", "42", "1234", "random"]


@pytest.mark.parametrize(
    "args",
    [
        ["check", "--format", "json", "several_errors.iommu"],
        ["fmt", str(EXAMPLES / "tegra30.iommu")],
    ],
    ids=["check-json", "fmt"],
)
def test_output_is_byte_identical_across_hash_seeds(args: list[str]) -> None:
    outputs = {
        seed: run_cli(*args, cwd=GOLDEN / "diagnostics", env={"PYTHONHASHSEED": seed}).stdout
        for seed in SEEDS
    }
    assert len(set(outputs.values())) == 1, outputs
    assert next(iter(outputs.values()))
