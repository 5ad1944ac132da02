"""apple-dart: page sizes, bypass, and masters on two DARTs (dsl/kinds/apple_dart.py)."""

from __future__ import annotations

import pytest

from iommu_rules import Board

DART_BOARD = """\
include "std/linux"
include "std/iommu/apple-dart"
platform {{ arch arm64; kernel 6.8; ram 0x800000000 size 8G{config} }}
iommu dart_disp0: apple-dart {{ cells 1 }}
iommu dart_sio: apple-dart {{ cells 1; quirk no-identity }}
device dcp: "apple,t8103-dcp" {{ iommu dart_disp0 sid 0 }}
device sio: "apple,t8103-sio" {{ iommu dart_sio sid 2 }}
"""


@pytest.mark.parametrize(
    ("config", "dcp", "sio"),
    [
        # 4K kernel pages, 16K DART pages: apple_dart_def_domain_type asks for identity
        # before it looks at bypass support, so a DART without bypass gets a wish it cannot
        # honour (the identity attach returns -EINVAL): no default domain, W210.
        ("", "identity", "none"),
        # the Asahi configuration: translated; the no-bypass DART simply gets DMA
        ("; config ARM64_16K_PAGES", "dma", "dma"),
    ],
)
def test_apple_dart_pack_follows_the_kernel_page_size(config: str, dcp: str, sio: str) -> None:
    res = Board.from_text(DART_BOARD.format(config=config), "m1.iommu").resolution
    assert res.devices["dcp"].values["default_domain"] == dcp
    assert res.devices["sio"].values["default_domain"] == sio
    assert ("W210" in {d.code for d in res.diagnostics}) == (sio == "none")


def test_apple_dart_domain_covers_both_darts_of_a_two_dart_master() -> None:
    """t8103.dtsi: dwc3_0 sits on two DARTs (`<&dwc3_0_dart_0 0>, <&dwc3_0_dart_1 1>`), and
    apple_dart_attach_dev sets up every stream map of the device; a domain over DARTs that
    are not one device's is refused (apple_dart_mod_streams: -EINVAL)."""
    text = (
        'include "std/linux"\n'
        "platform { arch arm64; kernel 6.8; config ARM64_16K_PAGES }\n"
        "iommu dwc3_0_dart_0: apple-dart\n"
        "iommu dwc3_0_dart_1: apple-dart\n"
        "iommu sio_dart: apple-dart\n"
        'device dwc3_0: "apple,t8103-dwc3" {\n'
        "    iommu dwc3_0_dart_0 sid 0; iommu dwc3_0_dart_1 sid 1\n}\n"
        'device admac: "apple,t8103-admac" { iommu sio_dart sid 2 }\n'
        "domain usb: unmanaged on dwc3_0_dart_0 { attach dwc3_0 }\n"
    )
    res = Board.from_text(text, "j274.iommu").resolution
    assert not res.errors
    assert res.devices["dwc3_0"].values["group_members"] == ["dwc3_0"]
    # the default domain and the driver's both reach the second DART
    on_second = sorted(d.name for d in res.context_slots("dwc3_0_dart_1").values())
    assert on_second == ["default:0", "usb"]
    assert "dwc3_0_dart_1" in res.domains["usb"].contexts_on
    both = text + "domain mixed: unmanaged on dwc3_0_dart_0, sio_dart { attach dwc3_0, admac }\n"
    assert "E120" in {d.code for d in Board.from_text(both, "j274.iommu").model.diagnostics}
