"""exynos-sysmmu: a master's domain on every System MMU it names
(dsl/kinds/exynos.py)."""

from __future__ import annotations

from kinds.boards import EXYNOS_BOARD, resolved

from iommu_rules import Board


def test_exynos_drm_components_share_one_arm32_mapping() -> None:
    """drm_iommu_attach_device: off the implicit mapping, onto the DRM's shared one."""
    board = Board.from_text(EXYNOS_BOARD.format(arch="arm", on="", extra=""), "b")
    assert not board.model.diagnostics
    res = board.resolution
    assert not res.errors
    for name in ("fimd", "mixer"):
        values = res.devices[name].values
        assert (values["domain"], values["dma_ops"]) == ("drm", "arm_iommu"), name
    assert res.devices["jpeg"].values["domain"] == "arm_iommu:jpeg"  # no DRM: its own
    # FIMD's second System MMU points at the shared mapping too (owner->controllers)
    assert [d.name for d in res.context_slots("sysmmu_fimd1").values()] == ["drm"]
    assert res.domains["arm_iommu:fimd"].released


def test_exynos_masters_skip_a_disabled_second_system_mmu() -> None:
    _, res = resolved(
        'include "std/linux"\nplatform { arch arm; kernel 6.8; ram 0x20000000 size 2G }\n'
        "iommu s0: exynos-sysmmu\niommu s1: exynos-sysmmu { disabled }\n"
        'device m: "m" { iommu s0; iommu s1 }\n'
    )
    assert res.context_slots("s1") == {} and len(res.context_slots("s0")) == 1


# exynos5433.dtsi: DECON reads through two System MMUs,
# iommus = <&sysmmu_decon0x>, <&sysmmu_decon1x>
EXYNOS5433_DECON = """\
include "std/linux"
platform { arch arm64; kernel 6.8; ram 0x20000000 size 3G }
iommu sysmmu_decon0x: exynos-sysmmu
iommu sysmmu_decon1x: exynos-sysmmu
device decon: "samsung,exynos5433-decon" { iommu sysmmu_decon0x; iommu sysmmu_decon1x }
"""


def test_exynos_domain_is_set_up_on_every_system_mmu_of_its_master() -> None:
    """exynos_iommu_attach_device walks the master's owner->controllers (one entry per
    `iommus` phandle, exynos_iommu_of_xlate) and points each System MMU at the domain's page
    table: the DMA default domain and a driver's domain alike hold DECON's second System MMU
    too, while the group is DECON's alone (generic_device_group)."""
    res = Board.from_text(EXYNOS5433_DECON, "tm2.iommu").resolution
    assert not res.errors
    assert res.devices["decon"].values["group_members"] == ["decon"]
    default = res.domains[res.devices["decon"].domain or ""]
    assert (default.type, default.iommu) == ("dma", "sysmmu_decon0x")
    assert default.contexts_on == {"sysmmu_decon1x": default.context}
    text = EXYNOS5433_DECON + "domain drm: unmanaged on sysmmu_decon0x { attach decon }\n"
    res = Board.from_text(text, "tm2.iommu").resolution
    assert not res.errors
    assert res.devices["decon"].domain == "drm"
    assert res.domains["drm"].contexts_on == {"sysmmu_decon1x": res.domains["drm"].context}
    assert "drm" in [d.name for d in res.context_slots("sysmmu_decon1x").values()]


def test_exynos_system_mmu_holds_one_page_table_so_a_driver_domain_replaces_the_default() -> None:
    """exynos_iommu_attach_device detaches owner->domain first, then points each System MMU
    at the new page table (data->pgtable = pagetable): both System MMUs of DECON hold the
    driver's domain only."""
    text = EXYNOS5433_DECON + "domain drm: unmanaged on sysmmu_decon0x { attach decon }\n"
    board = Board.from_text(text, "tm2.iommu")
    res = board.resolution
    assert not res.errors
    for sysmmu in ("sysmmu_decon0x", "sysmmu_decon1x"):
        assert [d.name for d in res.context_slots(sysmmu).values()] == ["drm"], sysmmu
        assert board.value(f"{sysmmu}.contexts_used") == 1
