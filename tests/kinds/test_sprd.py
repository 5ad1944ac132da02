"""sprd-iommu: one group per IOMMU, one table register, no identity domain
(dsl/kinds/sprd.py)."""

from __future__ import annotations

from iommu_rules import Board

SPRD = """\
include "std/linux"
include "std/iommu/sprd-iommu"
platform {{ arch arm64; kernel 6.12; cmdline "{cmdline}" }}
iommu iommu_dispc: sprd-iommu
# the binding's example: the display controller behind its own IOMMU
device dispc: "sprd,sharkl3-dpu" {{ iommu iommu_dispc }}
device dispc_wb: "sprd,sharkl3-dpu-wb" {{ iommu iommu_dispc }}
{extra}
"""


def test_sprd_iommu_one_group_per_iommu_and_no_identity() -> None:
    """sprd_iommu_device_group: one group per IOMMU; no identity domain ever, so
    iommu.passthrough=1 falls back to DMA (iommu_group_alloc_default_domain)."""
    text = SPRD.format(cmdline="iommu.passthrough=1", extra="")
    res = Board.from_text(text, "sc9863a.iommu").resolution
    assert not res.errors
    assert res.devices["dispc"].values["group_members"] == ["dispc", "dispc_wb"]
    assert res.devices["dispc"].values["default_domain"] == "dma"
    assert any("Falling back to IOMMU_DOMAIN_DMA" in line for line in res.log)


def test_sprd_iommu_attach_repoints_the_one_table_register() -> None:
    extra = "domain drm: unmanaged on iommu_dispc { attach dispc }"
    res = Board.from_text(SPRD.format(cmdline="", extra=extra), "s.iommu").resolution
    # the whole group moves (W206) and only the driver's domain holds the table
    assert "W206" in {d.code for d in res.diagnostics}
    assert [d.name for d in res.context_slots("iommu_dispc").values()] == ["drm"]
