"""msm-iommu: one master per IOMMU, a bank on each of them, qcom,ncb
(dsl/kinds/msm_iommu.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from kinds.boards import MSM

from iommu_rules import Board

if TYPE_CHECKING:
    from iommu_rules.resolution import Resolution


def _msm(kernel: str = "6.12", extra: str = "", gfx3d1: str = "", arch: str = "arm") -> Resolution:
    text = MSM.format(kernel=kernel, extra=extra, gfx3d1=gfx3d1, arch=arch)
    return Board.from_text(text, "apq8064.iommu").resolution


@pytest.mark.parametrize(("kernel", "default"), [("6.6", "none"), ("6.7", "identity")])
def test_msm_iommu_default_domain_by_era(kernel: str, default: str) -> None:
    """UNMANAGED domains only until msm_iommu_identity_domain (78fc30b4bb35, 6.7)."""
    res = _msm(kernel)
    assert not res.errors
    assert res.devices["gpu"].values["default_domain"] == default
    # generic_device_group: one group per device, on its first IOMMU
    assert res.devices["gpu"].values["group_members"] == ["gpu"]
    assert res.devices["gpu"].values["iommu"] == "gfx3d"


def test_msm_iommu_domain_takes_a_bank_on_every_iommu_of_its_device() -> None:
    extra = "domain msm_gpu: unmanaged on gfx3d { attach gpu }"
    res = _msm(extra=extra, gfx3d1="; reserved 0")
    assert not res.errors
    # the lowest free bank on each: 0 on gfx3d, 1 on gfx3d1 (0 is reserved there)
    assert res.devices["gpu"].values["context"] == 0
    assert res.domains["msm_gpu"].contexts_on == {"gfx3d1": 1}
    # no bank free on gfx3d1: msm_iommu_alloc_ctx fails and the attach is -ENODEV
    res = _msm(extra=extra, gfx3d1="; reserved 0, 1, 2")
    full = [d for d in res.diagnostics if d.code == "E301"]
    assert full and "on 'gfx3d1'" in full[0].message and "-ENODEV" in full[0].message
    assert res.devices["gpu"].values["domain"] != "msm_gpu"


def test_msm_iommu_serves_one_master_and_needs_its_bank_count() -> None:
    """insert_iommu_master keeps one master per IOMMU; msm_iommu_probe needs qcom,ncb."""
    extra = 'device vpe: "qcom,apq8064-vpe" { iommu gfx3d1 sid 4 }'
    text = MSM.format(kernel="6.12", extra=extra, gfx3d1="", arch="arm")
    diags = Board.from_text(text, "a.iommu").model.diagnostics
    second = [d for d in diags if d.code == "E131"]
    assert second and "'vpe' cannot be a second" in second[0].message
    text = MSM.format(kernel="6.12", extra="", gfx3d1="", arch="arm")
    text = text.replace("iommu gfx3d: msm-iommu { contexts 3 }", "iommu gfx3d: msm-iommu")
    assert "E132" in {d.code for d in Board.from_text(text, "a.iommu").model.diagnostics}
    # a count that is written but out of range is E114 alone
    zero = text.replace("iommu gfx3d: msm-iommu", "iommu gfx3d: msm-iommu { contexts 0 }")
    codes = {d.code for d in Board.from_text(zero, "a.iommu").model.diagnostics}
    assert "E114" in codes and "E132" not in codes
