"""What a device's DMA reaches without an IOMMU: its mask, and the bus's dma-ranges window
(model.py: Device.dma_reach), and when dma-direct bounces through swiotlb."""

from __future__ import annotations

import pytest

from iommu_rules import Board

BOARD = """\
include "std/linux"
platform {{ arch arm64; kernel 6.8; ram {ram} }}
device dev: "vendor,dev" {{ dma-mask {bits}{extra} }}
"""


@pytest.mark.parametrize(
    ("ram", "bits", "extra", "ops"),
    [
        # a 64-bit mask and no window reaches everything
        ("0x40000000 size 4G", 64, "", "dma-direct"),
        # i.MX8MQ's soc@0: CPU 0x40000000..0xffffffff 1:1; RAM above 4 GiB bounces
        ("0x40000000 size 4G", 64, "; dma-range 0x40000000 size 0xc0000000", "dma-direct+swiotlb"),
        ("0x40000000 size 3G", 64, "; dma-range 0x40000000 size 0xc0000000", "dma-direct"),
        # BCM2711 (Raspberry Pi 4): bus 0xc0000000 is CPU 0, 1 GiB: a 32-bit mask still
        # reaches only that GiB
        ("0x0 size 4G", 32, "; dma-range 0x0 size 0x40000000 bus 0xc0000000", "dma-direct+swiotlb"),
        ("0x0 size 1G", 32, "; dma-range 0x0 size 0x40000000 bus 0xc0000000", "dma-direct"),
        # a window from 1 GiB: the RAM below it has no bus address (translate_phys_to_dma
        # fails), so buffers there bounce, though the window reaches past RAM's end
        ("0x0 size 8G", 64, "; dma-range 0x40000000 size 0x200000000", "dma-direct+swiotlb"),
    ],
)
def test_the_dma_ranges_window_limits_what_dma_direct_reaches(
    ram: str, bits: int, extra: str, ops: str
) -> None:
    """of_dma_configure_id sets bus_dma_limit from dma-ranges; dma_capable checks the bus
    address (CPU minus the window's offset) against min(mask, bus_dma_limit)."""
    board = Board.from_text(BOARD.format(ram=ram, bits=bits, extra=extra), "b.iommu")
    assert not board.diagnostics
    assert board.value("dev.dma_ops") == ops
    if extra:
        assert "of_dma_configure_id (bus_dma_limit" in str(board.why("dev.dma_ops"))


def test_the_lowest_window_sets_the_arm64_dma_zone_and_so_the_pool() -> None:
    """arm64 sizes ZONE_DMA from the lowest dma-ranges end (of_dma_get_max_cpu_address) and
    keeps a swiotlb pool when RAM lies above it, though RAM ends below 4 GiB."""
    text = BOARD.format(ram="0x0 size 2G", bits=32, extra="; dma-range 0x0 size 0x40000000")
    board = Board.from_text(text, "b.iommu")
    assert board.value("dev.dma_ops") == "dma-direct+swiotlb"
    assert "the DMA zone (the lowest dma-ranges end, 0x3fffffff)" in str(board.why("dev.dma_ops"))


@pytest.mark.parametrize(
    ("prop", "words"),
    [
        ("dma-range 0x0 size 0", "dma-range size 0"),
        ("dma-range 0xffffffffffff0000 size 1M", "2^64"),
    ],
)
def test_bad_dma_ranges(prop: str, words: str) -> None:
    board = Board.from_text(BOARD.format(ram="0x0 size 1G", bits=32, extra=f"; {prop}"), "b")
    (diag,) = [d for d in board.diagnostics if d.code == "E114"]
    assert words in diag.message
    from iommu_rules.fmt import format_text

    assert prop in format_text(BOARD.format(ram="0x0 size 1G", bits=32, extra=f"; {prop}"))


def test_the_dma_zone_follows_dma_ranges_only_from_5_11() -> None:
    """Before 5.11 arm64 did not size ZONE_DMA from dma-ranges: RAM below 4 GiB keeps no
    pool, and a buffer above the window fails to map (W207)."""
    text = BOARD.format(ram="0x0 size 2G", bits=32, extra="; dma-range 0x0 size 0x40000000")
    board = Board.from_text(text.replace("kernel 6.8", "kernel 5.10"), "b.iommu")
    assert board.value("dev.dma_ops") == "dma-direct"
    assert [d.code for d in board.diagnostics] == ["W207"]


def test_dram_above_4g_leaves_the_dma_zone_uncapped() -> None:
    """max_zone_phys: with DRAM starting above 4 GiB the zone covers all of it, so there is
    no swiotlb pool, and RAM beyond a 1 GiB window fails to map (W207)."""
    text = BOARD.format(
        ram="0x800000000 size 4G", bits=64, extra="; dma-range 0x800000000 size 0x40000000"
    )
    board = Board.from_text(text, "b.iommu")
    assert board.value("dev.dma_ops") == "dma-direct"
    assert [d.code for d in board.diagnostics] == ["W207"]
    assert "not allocated" in str(board.why("dev.dma_ops"))


def test_a_what_if_reuses_what_a_device_reaches() -> None:
    """What a device reaches is its own fact (mask, dma-ranges): worked out once per device,
    so a what-if of the command line explains its DMA ops with the same reasons."""
    text = BOARD.format(
        ram="0x0 size 8G", bits=32, extra="; dma-range 0x0 size 0x40000000 bus 0xc0000000"
    )
    board = Board.from_text(text, "b.iommu")
    after = board.whatif('set cmdline "swiotlb=force"')
    why, again = (b.resolution.devices["dev"].reasons["dma_ops"] for b in (board, after))
    assert [r.text for r in why.because[1:3]] == [
        "DMA mask 32 bits",
        "dma-ranges: CPU 0x0..0x3fffffff at bus 0xc0000000",
    ]
    assert why.because[1] is again.because[1] and why.because[2] is again.because[2]
