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
