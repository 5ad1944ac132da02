"""qcom-iommu: context banks fixed by the device tree, counted from 1, secure ones, and
no identity domain (dsl/kinds/qcom_iommu.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from kinds.boards import resolved

from iommu_rules import Board

from conftest import EXAMPLES, run_cli

MSM8916_BOARD = """\
include "std/soc/msm8916"
platform {{ arch arm64; kernel 6.8; ram 0x80000000 size 1G{cmdline} }}
device venus: "qcom,msm8916-venus" {{ iommu apps_iommu context {ctx} }}
device gpu: "qcom,adreno-306.0", "qcom,adreno" {{ iommu gpu_iommu context 1, context 2 }}
"""


@pytest.mark.parametrize("ctx", [4, 5])
def test_msm8916_secure_context_still_serves_its_client(ctx: int) -> None:
    """qcom_iommu_init_domain programs a -sec context like a -ns one; nothing is refused."""
    res = Board.from_text(MSM8916_BOARD.format(cmdline="", ctx=ctx), "b.iommu").resolution
    venus = res.devices["venus"].values
    got = (venus["context"], venus["dma_ops"], venus["default_domain"])
    assert got == (ctx, "iommu-dma", "dma")
    assert not res.errors
    assert ("secure" in res.devices["venus"].reasons["context"].lines()[0]) == (ctx == 5)
    # the GPU's default domain holds both banks its cells name; no bank is left on gpu_iommu
    assert sorted(res.context_slots("gpu_iommu")) == [1, 2]
    assert "W202" not in {d.code for d in res.diagnostics}  # fixed banks cannot run out


def test_msm8916_passthrough_falls_back_to_dma() -> None:
    """qcom_iommu_domain_alloc has no identity domain: iommu_group_alloc_default_domain falls
    back to IOMMU_DOMAIN_DMA and says so."""
    text = MSM8916_BOARD.format(cmdline='; cmdline "iommu.passthrough=1"', ctx=5)
    res = Board.from_text(text, "b.iommu").resolution
    assert res.global_default == "identity"
    assert res.devices["venus"].values["default_domain"] == "dma"
    # as pr_warn prints it: IOMMU_DOMAIN_IDENTITY is 4, and the group has no name
    assert (
        "iommu: Failed to allocate default IOMMU domain of type 4 for group (null) - Falling "
        "back to IOMMU_DOMAIN_DMA" in res.log
    )


def test_qcom_iommu_context_sets_count_from_one(tmp_path) -> None:  # type: ignore[no-untyped-def]
    board = tmp_path / "b.iommu"
    board.write_text("iommu a: qcom-iommu { contexts 5; secure 0, 5 }\n")
    proc = run_cli("check", str(board))
    assert proc.returncode == 3  # errors in the input
    assert "b.iommu:1:42: error[E112]: secure context 0 is not a context of 'a'" in proc.stderr
    assert "'a' has contexts 1..5" in proc.stderr
    assert proc.stderr.count("error[E112]") == 1  # 5 is the last context, not past it


def test_a_qcom_iommu_domain_programs_its_first_devices_banks() -> None:
    """qcom_iommu_init_domain sets the domain up once, from the first device's cells."""
    _, res = resolved(
        'include "std/soc/msm8916"\nplatform { arch arm64; kernel 6.8; ram 0x80000000 size 1G }\n'
        'device camss: "c" { iommu apps_iommu context 3; driver own-domain, no-dma-api }\n'
        'device venus: "v" { iommu apps_iommu context 5; driver own-domain, no-dma-api }\n'
        "domain shared: unmanaged on apps_iommu { attach camss, venus }\n"
    )
    shared = res.domains["shared"]
    assert (shared.context, shared.more_contexts) == (3, ())
    # the bank a device is attached through now is shown as the attached domain's
    assert res.context_slots("apps_iommu")[3].name == "shared"


def test_qcom_iommu_banks_are_counted_from_one_everywhere(tmp_path: Path) -> None:
    board = tmp_path / "b.iommu"
    board.write_text(
        'include "std/soc/msm8916"\n'
        'device venus: "v" { iommu apps_iommu context 5 }\n'
        'device odd: "o" { iommu apps_iommu context 1 }\n'
        'rule "bank 5 for venus": context apps_iommu.5 reserved for venus source "s"\n'
        'rule "bank 0": context apps_iommu.0 reserved for venus source "s"\n'
    )
    err = run_cli("check", str(board)).stderr
    assert "context 1 of 'apps_iommu' is reserved: no context device serves it" in err
    assert "context 0 is not a context of 'apps_iommu'" in err
    assert "'apps_iommu' has contexts 1..5" in err
    assert err.count("error[") == 2


def test_context_counts_in_why_and_whatif_count_banks_not_domains() -> None:
    board = Board.load(EXAMPLES / "db410c.iommu")
    why = board.why("apps_iommu.contexts_used").text()
    assert why.splitlines()[0] == "apps_iommu.contexts_used = 3"
    assert "context 4: msm_kms" in why  # the domain mdp is attached to now (std/driver/msm)
    plan = board.diff(board.whatif("drop device camss")).text()
    assert "~ iommu apps_iommu: contexts used 3 → 2" in plan
