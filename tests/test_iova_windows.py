"""IOVA windows: an IOMMU's `aperture` (domain->geometry) and an arm32 mapping's `window`
(arm_iommu_create_mapping's base and size), and what happens past them."""

from __future__ import annotations

from pathlib import Path

import pytest

from iommu_rules import Board

from conftest import import_dts, run_cli

GART = """\
include "std/linux"
platform {{ arch arm; kernel 6.1; ram 1G; config ARM_DMA_USE_IOMMU }}
iommu gart: tegra-gart {{ {aperture} }}
device gr2d: "nvidia,tegra20-gr2d" {{ iommu gart{extra} }}
"""


def gart(aperture: str = "", extra: str = "") -> Board:
    return Board.from_text(GART.format(aperture=aperture, extra=extra), "t20.iommu")


def why(b: Board, query: str) -> str:
    return b.why(query).text()


def codes(b: Board) -> list[str]:
    return [d.code for d in b.diagnostics]


def test_an_implicit_mapping_below_the_gart_aperture_fails_every_mapping() -> None:
    """arm_setup_iommu_dma_ops makes the mapping 0..4 GiB (no dma-ranges); __alloc_iova hands
    out IOVA 0 first and gart_iova_range_invalid refuses it."""
    b = gart()  # the kind's aperture: Tegra20's 32 MiB at 0x58000000
    (w,) = [d for d in b.diagnostics if d.code == "W223"]
    assert "0x0..0xffffffff" in w.message and "0x58000000..0x59ffffff" in w.message
    assert "every DMA mapping fails" in w.message
    assert b.value("gr2d.dma_ops") == "arm_iommu"
    text = why(b, "gr2d.dma_ops")
    assert "its IOVAs: 0x0..0xffffffff" in text and "of_dma_configure" in text


def test_a_window_inside_the_aperture_is_fine_and_one_past_its_end_fails_there() -> None:
    inside = gart(extra="; dma-range 0x58000000 size 32M")
    assert "W223" not in codes(inside)
    assert "its IOVAs: 0x58000000..0x59ffffff, the device's dma-ranges" in why(
        inside, "gr2d.dma_ops"
    )
    past = gart(extra="; dma-range 0x58000000 size 64M")
    (w,) = [d for d in past.diagnostics if d.code == "W223"]
    assert "once the IOVAs up to 0x59ffffff are in use" in w.message


def test_a_stated_aperture_replaces_the_kinds() -> None:
    b = gart("aperture 0x0 size 4G")
    assert "W223" not in codes(b)


DMA = """\
include "std/linux"
platform {{ arch arm64; kernel {kernel}; ram 0x80000000 size 2G }}
iommu smmu: arm-smmu {{ contexts 8; aperture {aperture} }}
device dev: "vendor,dev" {{ iommu smmu sid 1{extra} }}
"""


def dma(kernel: str, aperture: str, extra: str = "") -> Board:
    text = DMA.format(kernel=kernel, aperture=aperture, extra=extra)
    return Board.from_text(text, "soc.iommu")


def test_a_dma_range_that_misses_the_aperture_keeps_the_platform_ops() -> None:
    """iommu_dma_init_domain: -EFAULT, "specified DMA range outside IOMMU capability";
    iommu_setup_dma_ops: "Failed to set up IOMMU for device ...; retaining platform DMA ops"."""
    b = dma("6.12", "0x100000000 size 4G", "; dma-range 0x80000000 size 2G bus 0x0")
    assert b.value("dev.dma_ops") == "dma-direct"
    assert "specified DMA range outside IOMMU capability" in b.resolution.log
    assert "Failed to set up IOMMU for device dev; retaining platform DMA ops" in b.resolution.log
    text = why(b, "dev.dma_ops")
    assert "-EFAULT" in text and "bus 0x0..0x7fffffff" in text and "iommu_dma_init_domain" in text


def test_before_6_10_the_default_range_is_checked_too() -> None:
    """Before ad4750b07d34 iommu_dma_init_domain got of_dma_configure's base and size (0 and
    4 GiB without dma-ranges); from 6.10 only a dma_range_map is checked."""
    old = dma("6.6", "0x100000000 size 4G")
    assert old.value("dev.dma_ops") == "dma-direct"
    assert "of_dma_configure's default range" in why(old, "dev.dma_ops")
    new = dma("6.10", "0x100000000 size 4G")
    assert new.value("dev.dma_ops") == "iommu-dma"
    assert "specified DMA range outside IOMMU capability" not in new.resolution.log


def test_iommu_dma_names_its_iova_window() -> None:
    b = dma("6.12", "0x10000000 size 256M")
    assert b.value("dev.dma_ops") == "iommu-dma"
    text = why(b, "dev.dma_ops")
    assert "with IOVAs 0x10000000..0x1fffffff (the aperture of 'smmu'" in text
    assert "'smmu' states its aperture" in text


def test_a_drivers_arm_mapping_window() -> None:
    def board(window: str) -> Board:
        text = GART.format(aperture="", extra="").replace("gr2d", "dc") + (
            'rule "drm": dc driver detaches-implicit\n'
            f'rule "drm maps": dc builds domain drm: arm-mapping window {window}\n'
        )
        return Board.from_text(text, "t20.iommu")

    inside = board("0x58000000 size 16M")
    assert inside.resolution.domains["drm"].window == (0x58000000, 16 << 20)
    assert inside.value("dc.dma_ops") == "arm_iommu"
    assert "its IOVAs: 0x58000000..0x58ffffff, the window the driver gives 'drm'" in why(
        inside, "dc.dma_ops"
    )
    assert "W223" not in codes(inside)  # the implicit mapping it left is not checked
    below = board("0x20000000 size 1G")
    assert [w.message.split("'")[1] for w in below.diagnostics if w.code == "W223"] == ["drm"]


@pytest.mark.parametrize(
    ("text", "code", "needle"),
    [
        ("iommu m: tegra-gart { aperture 0x58000000 size 0 }", "E114", "aperture size"),
        ("iommu m: tegra-gart { aperture 0xffffffffffff0000 size 1M }", "E114", "runs past"),
        (
            'iommu m: tegra-gart\ndevice d: "x" { iommu m }\n'
            "domain x: unmanaged on m window 0x0 size 1G { attach d }",
            "E120",
            "only an arm-mapping has an IOVA window",
        ),
        (
            'iommu m: tegra-gart\ndevice d: "x" { iommu m }\n'
            "domain x: arm-mapping on m window 0xc0000000 size 2G { attach d }",
            "E114",
            "runs past 0x100000000",
        ),
        (
            'rule "r": all builds domain x: blocked window 0x0 size 1G',
            "E120",
            "only an arm-mapping has an IOVA window",
        ),
    ],
)
def test_bad_windows_are_refused_where_they_are_written(text: str, code: str, needle: str) -> None:
    src = "platform { arch arm; kernel 6.1; config ARM_DMA_USE_IOMMU }\n" + text + "\n"
    b = Board.from_text(src, "bad.iommu")
    hits = [d for d in b.diagnostics if d.code == code and needle in d.message]
    assert hits, [str(d) for d in b.diagnostics]
    assert hits[0].span.line >= 2  # at the property, not the file


def test_fmt_keeps_apertures_and_windows(tmp_path: Path) -> None:
    src = tmp_path / "w.iommu"
    src.write_text(
        "platform { arch arm; kernel 6.1; config ARM_DMA_USE_IOMMU }\n"
        "iommu gart: tegra-gart { aperture 0x58000000 size 32M }\n"
        'device d: "x" { iommu gart }\n'
        "domain m: arm-mapping on gart window 0x58000000 size 16M { attach d }\n"
        'rule "r": compatible "y" builds domain n: arm-mapping window 0x20000000 size 1G'
        " per device\n"
    )
    proc = run_cli("fmt", str(src))
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "aperture 0x58000000 size 32M" in out
    assert "domain m: arm-mapping on gart window 0x58000000 size 16M { attach d }" in out
    assert "builds domain n: arm-mapping window 0x20000000 size 1G per device" in out


TEGRA20 = """\
/dts-v1/;
/ {
    compatible = "compulab,trimslice", "nvidia,tegra20";
    #address-cells = <1>;
    #size-cells = <1>;
    memory@0 { device_type = "memory"; reg = <0x00000000 0x40000000>; };
    mc: memory-controller@7000f000 {
        compatible = "nvidia,tegra20-mc-gart";
        reg = <0x7000f000 0x400>, <0x58000000 0x02000000>;
        #iommu-cells = <0>;
    };
    gr2d@54140000 {
        compatible = "nvidia,tegra20-gr2d";
        reg = <0x54140000 0x40000>;
        iommus = <&mc>;
    };
};
"""


def test_import_dts_reads_the_gart_aperture_from_the_mcs_second_reg(tmp_path: Path) -> None:
    _, out = import_dts(tmp_path, TEGRA20)
    text = out.read_text()
    assert "aperture 0x58000000 size 0x2000000" in text
    proc = run_cli("check", str(out))
    assert proc.returncode == 0, proc.stderr


def test_exynos_drm_maps_through_its_own_window() -> None:
    b = Board.load(Path(__file__).parent.parent / "examples" / "exynos5420.iommu")
    assert b.resolution.domains["exynos_drm"].window == (0x20000000, 1 << 30)
    assert "its IOVAs: 0x20000000..0x5fffffff" in why(b, "fimd.dma_ops")


def test_dma_ranges_wider_than_4g_get_no_implicit_mapping() -> None:
    """arm_iommu_create_mapping refuses a size above 4 GiB (-ERANGE) and
    arm_setup_iommu_dma_ops gives up: the device keeps the arch's direct ops."""
    b = gart(extra="; dma-range 0x0 size 8G")
    assert b.value("gr2d.domain") != "arm_iommu:gr2d"
    assert "W223" not in codes(b)
    assert "Failed to create 8589934592-byte IOMMU mapping for device gr2d" in b.resolution.log
    assert b.value("gr2d.dma_ops") in ("dma-direct", "none")


def test_only_arm64_checked_the_default_range_before_6_10() -> None:
    """x86 (and s390, riscv) passed 0..U64_MAX to iommu_setup_dma_ops: no refusal."""
    text = (
        'include "std/linux"\n'
        "platform { arch x86_64; kernel 6.6; ram 4G }\n"
        "iommu vtd: intel-vtd { aperture 0x100000000 size 4G }\n"
        'device nic: "pci8086,1533" { pci 0000:02:00.0; iommu vtd }\n'
    )
    b = Board.from_text(text, "pc.iommu")
    assert b.value("nic.dma_ops") == "iommu-dma", [str(d) for d in b.diagnostics]
    assert "specified DMA range outside IOMMU capability" not in b.resolution.log
