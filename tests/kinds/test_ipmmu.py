"""ipmmu-vmsa: masters that must opt in, and its contexts (dsl/kinds/ipmmu.py)."""

from __future__ import annotations

import pytest

from iommu_rules import Board

RCAR_BOARD = """\
include "std/linux"
include "std/soc/rcar-gen3"
platform {{ arch arm64; kernel {kernel}; ram 0x48000000 size 4G }}
iommu ipmmu_ds1: ipmmu-vmsa {{ map rid 0x0 sid 0x0 length 0x10000 }}
iommu ipmmu_ds0: ipmmu-vmsa
device sdhi0: "renesas,sdhi-r8a7795", "renesas,rcar-gen3-sdhi" {{ iommu ipmmu_ds1 sid 32 }}
device dmac1: "renesas,dmac-r8a7795", "renesas,rcar-dmac" {{ iommu ipmmu_ds0 sid 0 }}
device nvme: "pci144d,a808" {{ pci 0000:01:00.0 }}
"""


@pytest.mark.parametrize(
    ("kernel", "translated"),
    [
        ("5.10", []),  # rcar_gen3_slave_whitelist is empty
        ("5.12", ["sdhi0"]),  # cec0813da56a: the SDHI controllers
        ("6.6", ["sdhi0", "nvme"]),  # 52a8fd24d129: dev_is_pci
    ],
)
def test_rcar_gen3_ipmmu_serves_only_opted_in_masters(kernel: str, translated: list[str]) -> None:
    """ipmmu_of_xlate: -ENODEV for a master ipmmu_device_is_allowed refuses."""
    res = Board.from_text(RCAR_BOARD.format(kernel=kernel), "salvator.iommu").resolution
    assert not res.errors
    got = [name for name, d in res.devices.items() if d.iommu is not None]
    assert got == translated
    for name in set(res.devices) - set(translated):
        assert res.devices[name].values["dma_ops"].startswith("dma-direct")


@pytest.mark.parametrize(("contexts", "refused"), [(8, False), (16, False), (17, True)])
def test_ipmmu_vmsa_has_at_most_16_contexts(contexts: int, refused: bool) -> None:
    """ipmmu_probe: num_ctx = min(IPMMU_CTX_MAX, features->number_of_contexts), and
    IPMMU_CTX_MAX is 16 since R-Car Gen4 (ipmmu_features_rcar_gen4; Gen3 has 8): a count
    above it is E114."""
    text = (
        "platform { arch arm64; kernel 6.8 }\n"
        f"iommu ipmmu_vi0: ipmmu-vmsa {{ contexts {contexts} }}\n"
    )
    diags = Board.from_text(text, "falcon.iommu").model.diagnostics
    assert [(d.code, d.message) for d in diags] == (
        [("E114", f"ipmmu-vmsa context count {contexts} is out of range")] if refused else []
    )


IPMMU_VI = """\
include "std/linux"
platform {{ arch {arch}; kernel 6.8; ram 0x48000000 size 2G }}
iommu ipmmu_vi0: ipmmu-vmsa {{ contexts {contexts} }}
device vin0: "renesas,vin-r8a7791" {{ iommu ipmmu_vi0 sid 0 }}
device vin1: "renesas,vin-r8a7791" {{ iommu ipmmu_vi0 sid 1 }}
device fcp: "renesas,fcpv" {{ iommu ipmmu_vi0 sid 8 }}
{extra}"""


def test_ipmmu_masters_share_their_ipmmus_group_where_iommu_dma_is_built() -> None:
    """ipmmu_find_group: one group per IPMMU (mmu->group); the engine gave each master its
    own. On arm32 without IOMMU_DMA the driver uses generic_device_group."""
    board = Board.from_text(IPMMU_VI.format(arch="arm64", contexts=8, extra=""), "ebisu.iommu")
    res = board.resolution
    assert [g.members for g in res.groups] == [["vin0", "vin1", "fcp"]]
    assert "ipmmu-vmsa.c: ipmmu_find_group" in board.why("vin0.group_members").text()
    arm32 = Board.from_text(IPMMU_VI.format(arch="arm", contexts=8, extra=""), "koelsch.iommu")
    assert [g.members for g in arm32.resolution.groups] == [["vin0"], ["vin1"], ["fcp"]]
    assert "generic_device_group" in arm32.why("fcp.group").text()


def test_an_ipmmu_out_of_contexts_fails_the_attach_with_ebusy() -> None:
    """ipmmu_domain_allocate_context returns -EBUSY when every context is taken (the
    engine said -ENOSPC), and ipmmu_attach_device passes it on."""
    text = IPMMU_VI.format(
        arch="arm64", contexts=1, extra="domain cam: unmanaged on ipmmu_vi0 { attach vin1 }\n"
    )
    res = Board.from_text(text, "ebisu.iommu").resolution
    e301 = [d for d in res.diagnostics if d.code == "E301"]
    assert len(e301) == 1 and e301[0].message.endswith(": -EBUSY"), e301
