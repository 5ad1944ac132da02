"""rockchip: one group per IOMMU, and the Rockchip DRM's domain on arm32
(dsl/kinds/rockchip.py)."""

from __future__ import annotations

from iommu_rules import Board

RK3288_BOARD = """\
include "std/linux"
include "std/soc/rockchip"
platform {{ arch arm; kernel {kernel}; ram 0x0 size 2G }}
iommu vopb_mmu: rockchip
iommu vopl_mmu: rockchip
device vopb: "rockchip,rk3288-vop" {{ iommu vopb_mmu }}
device vopl: "rockchip,rk3288-vop" {{ iommu vopl_mmu }}
domain rockchip_drm: unmanaged on vopb_mmu, vopl_mmu {{ attach vopb, vopl }}
"""


def test_rockchip_drm_on_arm32_drops_the_implicit_mapping_from_5_19() -> None:
    """8490cad4dc4e: rockchip_drm_dma_attach_device detaches the arm_iommu mapping first."""
    res = Board.from_text(RK3288_BOARD.format(kernel="6.1"), "veyron.iommu").resolution
    assert not res.errors
    for vop in ("vopb", "vopl"):
        values = res.devices[vop].values
        # arm_iommu_detach_device resets the DMA ops: the domain is the driver's, the DMA
        # API is dma-direct
        assert (values["domain"], values["dma_ops"]) == ("rockchip_drm", "dma-direct")
    assert res.domains["arm_iommu:vopb"].released
    # Before, the driver attached over the implicit mapping: the core allowed it, as the
    # group had no default domain (no DMA domain on arm32, and __iommu_attach_group's
    # -EBUSY needed one until 1ea2a07a532b). The mapping stays, with its ID and the DMA ops.
    res = Board.from_text(RK3288_BOARD.format(kernel="5.18"), "veyron.iommu").resolution
    assert not res.errors
    for vop in ("vopb", "vopl"):
        values = res.devices[vop].values
        assert (values["default_domain"], values["domain"]) == ("none", "rockchip_drm")
        assert values["dma_ops"] == "arm_iommu"
        assert not res.domains[f"arm_iommu:{vop}"].released
    assert sorted(d.message.split("'")[3] for d in res.diagnostics if d.code == "W212") == [
        "vopb",
        "vopl",
    ]


def test_rockchip_masters_of_one_iommu_share_its_group() -> None:
    """rk_iommu_device_group returns the IOMMU's one group (iommu_group_ref_get(iommu->group)):
    every master behind one Rockchip IOMMU is in it, with one default domain; a master behind
    another IOMMU is in that one's."""
    board = Board.from_text(
        'include "std/linux"\nplatform { arch arm64; kernel 6.8; ram 0x0 size 4G }\n'
        "iommu vdec_mmu: rockchip\niommu vop_mmu: rockchip\n"
        'device dec: "vendor,dec" { iommu vdec_mmu }\n'
        'device pp: "vendor,post-proc" { iommu vdec_mmu }\n'
        'device vop: "vendor,vop" { iommu vop_mmu }\n',
        "rk.iommu",
    )
    res = board.resolution
    assert not res.errors
    assert res.devices["pp"].values["group_members"] == ["dec", "pp"]
    assert res.devices["vop"].values["group_members"] == ["vop"]
    assert res.devices["dec"].domain == res.devices["pp"].domain != res.devices["vop"].domain
    assert "rockchip-iommu.c: rk_iommu_device_group" in str(board.why("pp.group_members"))


def test_rockchip_instance_holds_one_domain_so_a_driver_domain_replaces_the_default() -> None:
    """rk_iommu_attach_device sets iommu->domain = domain after detaching the previous one
    (rk_iommu_detach_device; the identity attach in later kernels): the instance holds the
    driver's domain only, and the master's detached default domain holds nothing."""
    board = Board.from_text(
        'include "std/linux"\nplatform { arch arm64; kernel 6.8; ram 0x0 size 4G }\n'
        "iommu vop_mmu: rockchip\n"
        'device vop: "rockchip,rk3399-vop-big" { iommu vop_mmu; driver own-domain }\n'
        "domain drm: unmanaged on vop_mmu { attach vop }\n",
        "rk.iommu",
    )
    res = board.resolution
    assert not res.errors
    assert [d.name for d in res.context_slots("vop_mmu").values()] == ["drm"]
    assert board.value("vop_mmu.contexts_used") == 1
    assert "rk_iommu_attach_device" in str(board.why("vop_mmu.contexts_used"))
