"""tegra-smmu and tegra-gart: what their drivers do, era by era (dsl/kinds/tegra.py)."""

from __future__ import annotations

import pytest

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
