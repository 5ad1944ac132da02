"""VFIO: bindings (`bound`, vfio-pci.ids=, pcieport) and group viability per era
(dsl/vfio.py)."""

from __future__ import annotations

import pytest

from iommu_rules import Board

from conftest import run_cli

GPU = """\
include "std/linux"
platform {{ arch x86_64; kernel {kernel}; ram 16G; cmdline "{cmdline}" }}
iommu vtd: intel-vtd
bridge rp: root-port {{ pci 0000:00:01.0{rp} }}
device gpu: "pci10de,1b81" {{ pci 0000:01:00.0; upstream rp }}
device hdmi: "pci10de,10f0" {{ pci 0000:01:00.1; upstream rp{hdmi} }}
"""


def board(kernel: str = "6.8", cmdline: str = "", rp: str = "", hdmi: str = "") -> Board:
    return Board.from_text(GPU.format(kernel=kernel, cmdline=cmdline, rp=rp, hdmi=hdmi), "vm.iommu")


def test_a_half_bound_gpu_group_is_not_viable_and_says_which_function() -> None:
    """The GPU to vfio-pci (vfio-pci.ids=), its HDMI audio left to its own driver: from 5.19
    that driver has no driver_managed_dma, so the group has a kernel DMA owner."""
    b = board(cmdline="vfio-pci.ids=10de:1b81")
    assert b.value("gpu.vfio") == "not-viable"
    (w,) = [d for d in b.diagnostics if d.code == "W220"]
    assert w.message == (
        "group 0 is not viable for VFIO: 'hdmi' (0000:01:00.1) has no stated driver, so its "
        "own binds"
    )
    assert "vfio-pci.ids=10de:10f0" in w.help
    assert b.value("gpu.dma_ops") == "none"  # vfio-pci sets driver_managed_dma


def test_both_functions_to_vfio_pci_and_the_port_to_pcieport_is_viable() -> None:
    b = board(cmdline="vfio-pci.ids=10de:1b81,10de:10f0")
    assert [b.value(f"{n}.vfio") for n in ("rp", "gpu", "hdmi")] == ["viable"] * 3
    assert not [d for d in b.diagnostics if d.code == "W220"]
    assert "pcieport" in b.why("gpu.vfio").text() or "vfio-pci" in b.why("gpu.vfio").text()


@pytest.mark.parametrize(
    ("hdmi", "viable"),
    [
        ("; bound snd_hda_intel", False),
        ("; bound pci-stub", True),
        ("; bound none", True),
        ("; bound vfio-pci", True),
    ],
)
def test_what_the_other_function_is_bound_to(hdmi: str, viable: bool) -> None:
    b = board(cmdline="vfio-pci.ids=10de:1b81", hdmi=hdmi)
    assert b.value("gpu.vfio") == ("viable" if viable else "not-viable")
    if not viable:
        (w,) = [d for d in b.diagnostics if d.code == "W220"]
        assert "'hdmi' (0000:01:00.1) is bound to snd_hda_intel" in w.message


@pytest.mark.parametrize(("kernel", "viable"), [("5.18", True), ("5.19", False)])
def test_a_bridge_with_another_driver_spoils_the_group_from_5_19(kernel: str, viable: bool) -> None:
    """Before 5.19 vfio_dev_driver_allowed let any non-type-0 header (a bridge) through;
    from 5.19 only drivers with driver_managed_dma (pcieport, not shpchp) keep it viable."""
    b = board(kernel, "vfio-pci.ids=10de:1b81,10de:10f0", rp="; bound shpchp")
    assert b.value("gpu.vfio") == ("viable" if viable else "not-viable")


def test_whatif_shows_a_binding_and_the_warning_it_brings() -> None:
    """`whatif` with vfio-pci.ids= prints the devices whose group became unusable."""
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "vm.iommu"
        path.write_text(GPU.format(kernel="6.8", cmdline="", rp="", hdmi=""))
        proc = run_cli(
            "whatif", str(path), "--set", 'cmdline "vfio-pci.ids=10de:1b81"', "--color", "never"
        )
    assert proc.returncode == 0, proc.stderr  # a warning, not an error
    assert "~ device gpu\n    dma_ops: iommu-dma → none\n    vfio: none → not-viable" in proc.stdout
    assert "+ warning[W220]: group 0 is not viable for VFIO: 'hdmi'" in proc.stdout
    assert proc.stdout.rstrip().endswith("1 device change DMA ops, 1 new warning")
