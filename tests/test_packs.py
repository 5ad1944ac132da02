"""The stdlib packs and the commands that show them."""

from __future__ import annotations

from conftest import EXAMPLES, run_cli


def test_packs_lists_each_with_summary_and_eras() -> None:
    proc = run_cli("packs")
    assert proc.returncode == 0
    lines = proc.stdout.splitlines()
    assert any(line.startswith("std/linux ") for line in lines)
    tegra = next(line for line in lines if line.startswith("std/soc/tegra "))
    assert "Tegra" in tegra and "6.7" in tegra


def test_show_pack_prints_it_and_suggests() -> None:
    proc = run_cli("show-pack", "std/soc/tegra")
    assert proc.returncode == 0 and "tegra_smmu_def_domain_type" in proc.stdout
    proc = run_cli("show-pack", "std/soc/tegr")
    assert proc.returncode == 2 and "did you mean 'std/soc/tegra'" in proc.stderr


def test_compare_two_kernels() -> None:
    proc = run_cli(
        "compare", str(EXAMPLES / "tegra30.iommu"), "--kernel", "4.18", "--kernel", "6.8"
    )
    assert proc.returncode == 0
    assert proc.stdout.startswith("kernel 4.18 → 6.8")
    assert "default_domain: none → identity" in proc.stdout
    assert "E401" not in proc.stdout
    assert run_cli("compare", str(EXAMPLES / "tegra30.iommu"), "--kernel", "4.18").returncode == 2


def test_every_pack_checks_clean_on_its_own() -> None:
    from iommu_rules.loader import std_root

    packs = sorted(str(p) for p in std_root().rglob("*.iommu"))
    proc = run_cli("check", *packs)
    assert proc.returncode == 0, proc.stderr


def test_compare_with_a_bad_version_is_a_diagnostic() -> None:
    proc = run_cli("compare", str(EXAMPLES / "tegra30.iommu"), "--kernel", "abc", "--kernel", "6.8")
    assert proc.returncode == 3 and "error[E001]" in proc.stderr
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr
