"""omap-iommu: one group per MMU, one client per domain, every MMU of the client
(dsl/kinds/omap.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from kinds.boards import OMAP

from iommu_rules import Board

if TYPE_CHECKING:
    from iommu_rules.resolution import Resolution


def _omap(kernel: str = "6.12", extra: str = "", arch: str = "arm") -> Resolution:
    text = OMAP.format(kernel=kernel, extra=extra, arch=arch)
    return Board.from_text(text, "x15.iommu").resolution


@pytest.mark.parametrize(("kernel", "default"), [("6.6", "none"), ("6.7", "identity")])
def test_omap_iommu_default_domain_by_era(kernel: str, default: str) -> None:
    """No default domain until omap_iommu_identity_domain (bbe39b76330e, 6.7); the MMU is
    off either way, so the DMA API stays direct."""
    res = _omap(kernel)
    assert not res.errors
    for dev in ("ipu1", "dsp1"):
        assert res.devices[dev].values["default_domain"] == default
        assert res.devices[dev].values["dma_ops"] == "dma-direct"
    assert res.devices["dsp1"].values["group_members"] == ["dsp1"]


def test_omap_iommu_domain_programs_every_mmu_of_its_client() -> None:
    res = _omap(extra="domain rproc_dsp1: unmanaged on mmu0_dsp1 { attach dsp1 }")
    assert not res.errors
    assert res.devices["dsp1"].values["domain"] == "rproc_dsp1"
    assert [d.name for d in res.context_slots("mmu1_dsp1").values()] == ["rproc_dsp1"]


@pytest.mark.parametrize(("kernel", "errno"), [("6.1", "-EBUSY"), ("6.12", "-EINVAL")])
def test_omap_iommu_domain_takes_one_client(kernel: str, errno: str) -> None:
    """omap_iommu_attach_dev: "only a single client device can be attached to a domain"."""
    extra = (
        'device ipu1b: "ti,dra7-ipu" { iommu mmu_ipu1 }\n'
        "domain rproc: unmanaged on mmu_ipu1 { attach ipu1 }"
    )
    res = _omap(kernel, extra)
    refusals = [d for d in res.diagnostics if d.code == "E302"]
    assert refusals and errno in refusals[0].message
    assert res.devices["ipu1"].values["domain"] != "rproc"
    # across MMUs: refused when the model is built
    extra = "domain both: unmanaged on mmu_ipu1, mmu0_dsp1 { attach ipu1, dsp1 }"
    text = OMAP.format(kernel="6.12", extra=extra, arch="arm")
    assert "E120" in {d.code for d in Board.from_text(text, "x15.iommu").model.diagnostics}


def test_omap_iommu_refuses_a_group_of_two_once() -> None:
    extra = (
        'device ipu1b: "ti,dra7-ipu" { iommu mmu_ipu1 }\n'
        "domain rproc: unmanaged on mmu_ipu1 { attach ipu1, ipu1b }"
    )
    res = _omap("6.12", extra)
    refusals = [d for d in res.diagnostics if d.code == "E302"]
    assert len(refusals) == 1
    assert "to 'ipu1b'" in refusals[0].message and "'ipu1' is it" in refusals[0].message
