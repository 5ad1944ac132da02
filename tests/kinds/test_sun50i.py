"""sun50i-iommu: one table register, one group (dsl/kinds/sun50i.py)."""

from __future__ import annotations

import pytest
from kinds.boards import resolved

from iommu_rules import Board

H6 = """\
include "std/linux"
include "std/iommu/sun50i-iommu"
platform {{ arch arm64; kernel {kernel}; cmdline "{cmdline}" }}
iommu iommu: sun50i-iommu
# sun50i-h6.dtsi (002c6ca75289): the DE3 mixer and the video engine
device mixer0: "allwinner,sun50i-h6-de3-mixer-0" {{ iommu iommu sid 0 }}
device ve: "allwinner,sun50i-h6-video-engine" {{ iommu iommu sid 3 }}
"""


@pytest.mark.parametrize(
    ("kernel", "cmdline", "default"),
    [
        ("6.1", "", "dma"),
        ("6.1", "iommu.passthrough=1", "dma"),  # no identity domain: DMA fallback
        ("6.8", "iommu.passthrough=1", "identity"),  # sun50i_iommu_identity_domain
    ],
)
def test_sun50i_iommu_one_group_one_table(kernel: str, cmdline: str, default: str) -> None:
    """One TTB register: every master in one group; a driver domain replaces the default
    domain in the hardware, so only one holds the table."""
    text = H6.format(kernel=kernel, cmdline=cmdline)
    res = Board.from_text(text, "pineh64.iommu").resolution
    assert not res.errors
    assert res.devices["ve"].values["group_members"] == ["mixer0", "ve"]
    assert res.devices["mixer0"].values["default_domain"] == default
    text += "domain cedrus: unmanaged on iommu { attach ve }\n"
    res = Board.from_text(text, "pineh64.iommu").resolution
    # mixer0 moves too (W206); with DMA defaults both still map through their DMA API (W203)
    codes = {d.code for d in res.diagnostics}
    assert "W206" in codes and codes <= {"W203", "W206"}
    assert res.devices["mixer0"].values["domain"] == "cedrus"
    assert [d.name for d in res.context_slots("iommu").values()] == ["cedrus"]


def test_sun50i_iommu_has_one_table_for_successive_driver_domains() -> None:
    _, res = resolved(
        'include "std/linux"\nplatform { arch arm64; kernel 6.8 }\niommu iommu: sun50i-iommu\n'
        'device ve: "allwinner,sun50i-h6-video-engine" { iommu iommu sid 3; driver no-dma-api }\n'
        "domain cedrus: unmanaged on iommu { attach ve }\n"
        "domain drm: unmanaged on iommu { attach ve }\n"
    )
    assert [d.name for d in res.context_slots("iommu").values()] == ["drm"]


def test_sun50i_iommu_passes_unattached_streams() -> None:
    """arm32 before 6.7: no default domain; translation is off until an attach enables it."""
    _, res = resolved(
        'include "std/linux"\ninclude "std/iommu/sun50i-iommu"\n'
        "platform { arch arm; kernel 6.1 }\niommu iommu: sun50i-iommu\n"
        'device mixer0: "allwinner,sun50i-h6-de3-mixer-0" { iommu iommu sid 0 }\n'
    )
    assert res.devices["mixer0"].values["dma_ops"] != "none"
