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


def test_independent_packs_in_either_order_give_the_same_bytes(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """std/linux (global default) and a SoC pack (driver wishes) do not depend on each other."""
    text = (EXAMPLES / "sdm845.iommu").read_text()
    a, b = 'include "std/linux"\n', 'include "std/soc/qcom"\n'
    assert a in text and b in text
    swapped = text.replace(a, "@@A@@").replace(b, a).replace("@@A@@", b)
    first = tmp_path / "first.iommu"
    second = tmp_path / "second.iommu"
    first.write_text(text)
    second.write_text(swapped)
    out1 = run_cli("resolve", "--json", "first.iommu", cwd=tmp_path).stdout
    out2 = run_cli("resolve", "--json", "second.iommu", cwd=tmp_path).stdout
    assert out1 and out1 == out2.replace("second.iommu", "first.iommu")
