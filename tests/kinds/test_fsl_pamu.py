"""fsl-pamu: LIODNs, one PAMU per machine, groups per PCIe controller, and domains it
cannot build (dsl/kinds/fsl_pamu.py)."""

from __future__ import annotations

import pytest
from kinds.boards import PAMU, _pamu, _why

from iommu_rules import Board


@pytest.mark.parametrize(("kernel", "default"), [("6.6", "none"), ("6.8", "platform")])
def test_fsl_pamu_default_domain_by_era(kernel: str, default: str) -> None:
    """No default domain before fsl_pamu_platform_domain (8565915e7558, 6.7; honoured from
    6.8); the PAMU never carries the DMA API, which stays direct (no IOMMU_DMA on powerpc)."""
    res = _pamu(kernel)
    assert not res.errors
    for dev in ("dma0", "nic0", "sata"):
        assert res.devices[dev].values["default_domain"] == default
    assert res.devices["nic0"].values["dma_ops"] == "dma-direct"  # 64-bit mask
    # a 32-bit mask, RAM to 8 GiB: the e500 boards keep a swiotlb pool
    assert res.devices["dma0"].values["dma_ops"] == "dma-direct+swiotlb"
    assert "swiotlb_detect_4g" in _why(res, "dma0", "dma_ops")


def test_fsl_pamu_pci_functions_share_their_controllers_group() -> None:
    """get_pci_device_group: a controller before rev 2.4 has one LIODN for every function."""
    res = _pamu()
    assert res.devices["nic1"].values["group_members"] == ["nic1", "sata"]
    assert res.devices["nic0"].values["group_members"] == ["nic0"]
    assert "check_pci_ctl_endpt_part" in _why(res, "sata", "group")
    # platform devices: generic_device_group, one each
    assert res.devices["dma0"].values["group_members"] == ["dma0"]
    # rev 2.4+ controllers partition their endpoints: pci_device_group
    split = _pamu(quirk=" { quirk endpoint-partitioning }")
    assert split.devices["sata"].values["group_members"] == ["sata"]


def test_fsl_pamu_domains_are_unmanaged_only() -> None:
    """The QMan portals' stashing domain attaches; a blocked domain cannot be built."""
    res = _pamu(extra="domain stash: unmanaged on pamu { attach portal0 }")
    assert not res.errors
    assert res.devices["portal0"].values["domain"] == "stash"
    assert res.devices["portal0"].values["dma_ops"] == "dma-direct+swiotlb"
    res = _pamu("5.15", extra="domain vfio: blocked on pamu { attach nic1 }")
    e120 = [d for d in res.diagnostics if d.code == "E120"]
    assert e120 and "cannot build a blocked domain" in e120[0].message
    assert res.devices["nic1"].values["domain"] != "vfio"
    # from 5.19 the core stands in an empty UNMANAGED domain (__iommu_group_alloc_blocking_
    # domain), which the PAMU's fixed window does not block
    res = _pamu(extra="domain vfio: blocked on pamu { attach nic1 }")
    assert not res.errors and "W216" in {d.code for d in res.diagnostics}
    nic1 = res.devices["nic1"].values
    assert (nic1["domain"], nic1["domain_type"]) == ("vfio", "unmanaged")
    assert nic1["dma_ops"] == "dma-direct+swiotlb"


def test_fsl_pamu_untrusted_function_is_refused_from_6_7() -> None:
    """The platform default is a driver's choice, and not DMA: iommu_get_default_domain_type
    refuses the untrusted device's group."""
    text = PAMU.format(kernel="6.8", quirk="", extra="").replace(
        "{ pci 0000:01:00.0; dma-mask 64 }", "{ pci 0000:01:00.0; dma-mask 64; untrusted }"
    )
    res = Board.from_text(text, "p4080ds.iommu").resolution
    assert "E210" in {d.code for d in res.diagnostics}
    assert any("overriding group" in line and "to Platform" in line for line in res.log)


@pytest.mark.parametrize(
    ("extra", "code", "text"),
    [
        ('device bad: "x" { iommu pamu sid 0x500 }', "E109", "past the PAACT"),
        ("iommu pamu2: fsl-pamu", "E133", "a second fsl-pamu"),
        ('device nolodn: "x" { iommu pamu }', "E108", ""),
        ("iommu pamu3: fsl-pamu { contexts 4 }", "E114", "nothing per domain"),
    ],
)
def test_fsl_pamu_board_mistakes(extra: str, code: str, text: str) -> None:
    board = PAMU.format(kernel="6.8", quirk="", extra=extra)
    diags = [d for d in Board.from_text(board, "p.iommu").model.diagnostics if d.code == code]
    assert diags and text in diags[0].message
