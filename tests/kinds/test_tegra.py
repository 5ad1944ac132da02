"""tegra-smmu and tegra-gart: what their drivers do, era by era (dsl/kinds/tegra.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from kinds.boards import resolved

from iommu_rules import Board

# Two clients of one swgroup that no SoC group lists (Tegra30's HC swgroup serves host1x
# and its second client here), and one of another swgroup.
SAME_SWGROUP = """\
include "std/linux"
platform {{ arch arm; kernel {kernel}; ram 0x80000000 size 1G }}
iommu mc: tegra-smmu {{ contexts 4 }}
device host1x: "nvidia,tegra30-host1x" {{ iommu mc swgroup hc }}
device hc_client: "vendor,host1x-client" {{ iommu mc swgroup hc }}
device sata: "nvidia,tegra30-ahci" {{ iommu mc swgroup sata }}
"""


@pytest.mark.parametrize(
    ("kernel", "shared"),
    [
        ("4.18", False),  # tegra_smmu_group_get returned NULL outside SoC groups
        ("5.9", False),
        # "iommu/tegra-smmu: Allow to group clients in same swgroup" (the 5.10 IOMMU pull)
        ("5.10", True),
        ("6.8", True),
    ],
)
def test_clients_of_one_swgroup_share_a_group_from_5_10(kernel: str, shared: bool) -> None:
    board = Board.from_text(SAME_SWGROUP.format(kernel=kernel), "t30.iommu")
    members = board.value("group-of host1x")
    assert members == (["host1x", "hc_client"] if shared else ["host1x"])
    assert board.value("group-of sata") == ["sata"]
    if shared:
        assert "same swgroup hc" in board.why("group-of hc_client").text()


SOC_GROUP_BOARD = """\
include "std/linux"
include "std/soc/tegra30"
platform {{ arch arm; kernel {kernel}; ram 0x80000000 size 1G; config ARM_DMA_USE_IOMMU }}
device gr2d: "nvidia,tegra30-gr2d" {{ iommu mc swgroup g2 }}
device gr3d: "nvidia,tegra30-gr3d" {{ iommu mc swgroup nv }}
device dc0: "nvidia,tegra30-dc" {{ iommu mc swgroup dc }}
device dc1: "nvidia,tegra30-dc" {{ iommu mc swgroup dcb }}
"""


@pytest.mark.parametrize(
    ("kernel", "members", "name"),
    [
        # tegra30_groups before and after 63a613fdb16c (5.5)
        ("4.18", ["gr3d"], None),
        ("5.4", ["gr3d"], None),
        ("5.5", ["gr2d", "gr3d", "dc0", "dc1"], "drm"),
        ("6.8", ["gr2d", "gr3d", "dc0", "dc1"], "drm"),
    ],
)
def test_soc_groups_follow_the_kernel(kernel: str, members: list[str], name: str | None) -> None:
    res = Board.from_text(SOC_GROUP_BOARD.format(kernel=kernel), "b.iommu").resolution
    assert res.devices["gr3d"].values["group_members"] == members
    display = res.group_of("dc0")
    assert display is not None and display.name == (name or "display")
    if name is None:
        assert display.members == ["dc0", "dc1"]
        why = "\n".join(display.reason.lines())
        assert 'SoC group "display" lists swgroup dcb' in why and f"kernel {kernel}" in why


def test_tegra124_gpu_was_in_the_drm_group_from_5_5_to_5_9() -> None:
    board = """\
include "std/soc/tegra124"
platform {{ arch arm; kernel {kernel}; ram 0x80000000 size 2G }}
device gpu: "nvidia,gk20a" {{ iommu mc swgroup gpu }}
device dc0: "nvidia,tegra124-dc" {{ iommu mc swgroup dc }}
device vic: "nvidia,tegra124-vic" {{ iommu mc swgroup vic }}
"""
    got = {}
    for kernel in ("5.4", "5.8", "5.10"):
        res = Board.from_text(board.format(kernel=kernel), "b.iommu").resolution
        got[kernel] = res.devices["dc0"].values["group_members"]
    assert got == {"5.4": ["dc0"], "5.8": ["gpu", "dc0", "vic"], "5.10": ["dc0", "vic"]}


def test_default_of_on_tegra_smmu_frees_the_attached_groups_asid() -> None:
    """tegra_smmu_detach_as: the ASID goes when the last device leaves the domain, as for a
    driver-built domain."""
    _, res = resolved(
        'include "std/linux"\nplatform { arch arm64; kernel 6.8 }\n'
        "iommu mc: tegra-smmu { contexts 4 }\n"
        'device a: "x,a" { iommu mc swgroup 1 }\ndevice b: "x,b" { iommu mc swgroup 2 }\n'
        "domain drm: default of a { attach b }\n"
    )
    assert not res.errors
    assert {c: d.name for c, d in res.context_slots("mc").items()} == {0: "drm"}


def test_a_shared_default_domain_keeps_its_asid_while_a_group_still_uses_it() -> None:
    """tegra-smmu frees an ASID only when the last device leaves (tegra_smmu_detach_as):
    'a' leaving its default domain for 'vde' must not free it while 'b' is attached."""
    _, res = resolved(
        'include "std/linux"\nplatform { arch arm64; kernel 6.8 }\n'
        "iommu mc: tegra-smmu { contexts 4 }\n"
        'device a: "x,a" { iommu mc swgroup 1; driver no-dma-api }\n'
        'device b: "x,b" { iommu mc swgroup 2 }\n'
        "domain drm: default of a { attach b }\n"
        "domain vde: unmanaged on mc { attach a }\n"
    )
    assert not res.errors
    assert {c: d.name for c, d in res.context_slots("mc").items()} == {0: "drm", 1: "vde"}
    assert res.devices["b"].values["context"] == 0


def test_a_driver_domain_left_by_its_last_group_lets_go_of_its_context() -> None:
    """tegra-smmu: 'drm' loses 'b' to 'vde2' and 'a' to 'vde'; once empty its ASID is free
    again (tegra_smmu_detach_as), whatever order the statements come in."""
    head = (
        'include "std/linux"\nplatform { arch arm64; kernel 6.8 }\n'
        "iommu mc: tegra-smmu { contexts 4 }\n"
        'device a: "x,a" { iommu mc swgroup 1; driver no-dma-api }\n'
        'device b: "x,b" { iommu mc swgroup 2; driver no-dma-api }\n'
        'device c: "x,c" { iommu mc swgroup 3; driver no-dma-api }\n'
        "domain drm: default of a { attach b }\n"
        "domain gpu: unmanaged on mc { attach c }\n"
    )
    for order in ((0, 1), (1, 0)):
        lines = (
            "domain vde: unmanaged on mc { attach a }\n",
            "domain vde2: unmanaged on mc { attach b }\n",
        )
        _, res = resolved(
            head.replace("domain gpu", lines[order[0]] + lines[order[1]] + "domain gpu")
        )
        assert not res.errors, order
        assert "drm" not in {d.name for d in res.context_slots("mc").values()}
        assert res.devices["c"].values["domain"] == "gpu"


TEGRA20_GART = Path(__file__).resolve().parents[1] / "scenarios" / "tegra20-gart.iommu"


@pytest.mark.parametrize(("kernel", "errno"), [("6.1", "-EBUSY"), ("6.2", "-EINVAL")])
def test_gart_has_one_aperture_for_the_whole_system(kernel: str, errno: str) -> None:
    """gart_iommu_attach_dev: one active domain for the GART's one aperture; a second
    domain's attach fails, -EBUSY until f4a147735793 (6.2) made it -EINVAL. The board is
    the tegra20-gart scenario's."""
    text = TEGRA20_GART.read_text(encoding="utf-8").replace("kernel 6.1", f"kernel {kernel}")
    res = Board.from_text(text, "t20.iommu").resolution
    assert res.domains["drm"].context == 0
    assert res.devices["gr3d"].values["domain"] == "drm"
    [e301] = [d for d in res.diagnostics if d.code == "E301"]
    assert f"the GART's single aperture is taken by 'drm': {errno}" in e301.message
    assert res.devices["vde"].values["domain"] == "none"
    assert res.devices["vde"].values["dma_ops"] == "dma-direct"


def test_nouveau_on_tegra124_detaches_the_arm32_mapping_and_takes_its_domain() -> None:
    """nvkm_device_tegra_probe_iommu drops the implicit arm32 mapping before it attaches
    its own domain (std/soc/tegra), so on 6.8 the attach succeeds (no -EBUSY, E302)."""
    board = Board.from_text(
        'include "std/linux"\ninclude "std/soc/tegra124"\n'
        "platform { arch arm; kernel 6.8; ram 0x80000000 size 2G; config ARM_DMA_USE_IOMMU }\n"
        'device gpu: "nvidia,gk20a" { iommu mc swgroup gpu }\n',
        "tk1.iommu",
    )
    assert not board.resolution.errors
    assert board.value("gpu.domain") == "nouveau"
    assert "nvkm_device_tegra_probe_iommu" in str(board.why("gpu.domain"))
