"""spapr-tce: PEs as groups, the arch's TCE DMA ops, bypass, and the domains of 6.4+
(dsl/kinds/spapr_tce.py)."""

from __future__ import annotations

import pytest
from kinds.boards import P9, _p9, _why

from iommu_rules import Board


def test_spapr_tce_groups_are_the_pes() -> None:
    res = _p9()
    assert not res.errors
    assert res.devices["eth1"].values["group_members"] == ["eth0", "eth1"]
    assert res.devices["gpu"].values["group_members"] == ["gpu"]
    assert "PE#0" in _why(res, "eth1", "group")


@pytest.mark.parametrize(
    ("kernel", "default"), [("6.3", "none"), ("6.6", "none"), ("6.8", "platform")]
)
def test_spapr_tce_default_domain_by_era(kernel: str, default: str) -> None:
    res = _p9(kernel)
    assert not res.errors
    assert res.devices["nvme"].values["default_domain"] == default
    # the DMA API never goes through a domain: the arch's ops, bypass for a 64-bit mask
    assert res.devices["nvme"].values["dma_ops"] == "dma-direct"
    assert res.devices["gpu"].values["dma_ops"] == "dma_iommu"


def test_spapr_tce_bypass_needs_the_phb_to_offer_it() -> None:
    res = _p9(quirk=" { quirk no-bypass }")
    assert res.devices["eth0"].values["dma_ops"] == "dma_iommu"
    assert res.devices["nvme"].values["dma_ops"] == "dma-direct"  # phb0 has its window
    # a 62-bit mask: pseries' direct DDW serves 64-bit masks only
    res = _p9(extra='device nic: "pci1,2" { pci 0000:02:00.0; iommu phb0 sid 0x2; dma-mask 62 }')
    assert res.devices["nic"].values["dma_ops"] == "dma_iommu"


def test_spapr_tce_dma_ops_outlive_the_iommu_layer() -> None:
    """The platform code sets dma_iommu_ops whatever the IOMMU API does: a refused group (an
    untrusted function), a PHB the kernel does not register, a function without a PE."""
    res = _p9(extra='device tb: "pci1,2" { pci 0000:03:00.0; iommu phb0 sid 0x3; untrusted }')
    assert "E210" in {d.code for d in res.diagnostics}
    assert res.devices["tb"].values["dma_ops"] == "dma_iommu"
    text = P9.format(kernel="6.8", quirk=" { disabled }", extra="")
    res = Board.from_text(text, "t.iommu").resolution
    assert res.devices["gpu"].values["group"] == "none"
    assert res.devices["gpu"].values["dma_ops"] == "dma_iommu"
    res = _p9(extra='device usb: "pci1912,0014" { pci 0000:02:00.0 }')
    assert res.devices["usb"].values["dma_ops"] == "dma_iommu"  # W215, a 32-bit mask


@pytest.mark.parametrize(("kernel", "ok"), [("6.3", False), ("6.4", True), ("6.8", True)])
def test_spapr_tce_blocked_domain_takes_the_pe_from_the_kernel(kernel: str, ok: bool) -> None:
    """VFIO's blocked domain (a940904443e4, 6.4) runs take_ownership: the kernel's DMA
    API has no table left. Before 6.4 there are no iommu_ops to build it with."""
    res = _p9(kernel, "domain vfio: blocked on phb4 { attach gpu }")
    assert ("E120" in {d.code for d in res.diagnostics}) is not ok
    gpu = res.devices["gpu"].values
    assert (gpu["domain"] == "vfio") is ok
    assert gpu["dma_ops"] == ("none" if ok else "dma_iommu")


def test_spapr_tce_has_no_paging_domain() -> None:
    res = _p9(extra="domain map: unmanaged on phb4 { attach gpu }")
    e120 = [d for d in res.diagnostics if d.code == "E120"]
    assert e120 and "SPAPR TCE IOMMU type" in (e120[0].help or "")


def test_spapr_tce_clients_are_pci_functions_in_a_pe() -> None:
    extra = (
        'device i2c: "ibm,power9-i2c" { iommu phb0 sid 0x2 }\n'
        'device usb: "pci1912,0014" { pci 0000:02:00.0 }'
    )
    diags = Board.from_text(P9.format(kernel="6.8", quirk="", extra=extra), "t").model.diagnostics
    assert sorted(d.code for d in diags if d.code in ("E131", "W215")) == ["E131", "W215"]


@pytest.mark.parametrize(
    ("extra", "code"),
    [
        ('device x: "pci1,2" { pci 0000:05:00.0; iommu phb0 sid 1, sid 2 }', "E108"),
        ('device x: "pci1,2" { pci 0000:05:00.0; iommu phb0 sid 1; iommu phb4 sid 1 }', "E131"),
        ("iommu odd: spapr-tce { quirk endpoint-partitioning }", "W217"),
    ],
)
def test_spapr_tce_board_mistakes(extra: str, code: str) -> None:
    text = P9.format(kernel="6.8", quirk="", extra=extra)
    assert code in {d.code for d in Board.from_text(text, "t.iommu").model.diagnostics}


def test_spapr_tce_groups_functions_no_driver_binds() -> None:
    """POWER adds every function to its PE's group when the PCI code sets up its DMA
    (pnv_pci_ioda_dma_dev_setup), not at driver bind: a Talos II's VGA that ast.modeset=0
    leaves without a driver is still "Adding to iommu group 2"."""
    extra = 'device vga: "pci1a03,2000" { pci 0005:02:00.0; iommu phb4 sid 0xfc; driver none }'
    res = _p9("6.6", extra)
    assert res.devices["vga"].values["group"] != "none"
    assert res.devices["vga"].values["dma_ops"] == "none"
