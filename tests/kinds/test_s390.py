"""s390-iommu: zPCI functions, the arch's own DMA ops before 6.7, iommu-dma after
(dsl/kinds/s390.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from kinds.boards import Z

from iommu_rules import Board

if TYPE_CHECKING:
    from iommu_rules.resolution import Resolution


def _z(kernel: str, cmdline: str = "", quirk: str = "", arch: str = "s390") -> Resolution:
    text = Z.format(
        kernel=kernel, arch=arch, cmdline=f'; cmdline "{cmdline}"' if cmdline else "", quirk=quirk
    )
    return Board.from_text(text, "z16.iommu").resolution


def test_s390_before_6_7_the_arch_translates_with_its_own_dma_ops() -> None:
    """arch/s390/pci/pci_dma.c: no default domain, s390_pci_dma_ops for every function."""
    res = _z("6.6")
    assert not res.errors
    for dev in ("roce0", "roce1", "nvme"):
        assert res.devices[dev].values["default_domain"] == "none"
        assert res.devices[dev].values["dma_ops"] == "s390_pci_dma"
    # generic_device_group: functions of one card are groups of their own
    assert res.devices["roce0"].values["group_members"] == ["roce0"]


@pytest.mark.parametrize(
    ("kernel", "cmdline", "quirk", "default"),
    [
        ("6.7", "", "", "dma-fq"),  # c76c067e488c: iommu-dma, IOMMU_DEFAULT_DMA_LAZY
        ("6.12", "iommu.passthrough=1", "", "dma"),  # no identity domain: DMA fallback
        ("6.15", "iommu.passthrough=1", "", "identity"),  # s390_identity_domain (RTR)
        ("6.15", "iommu.passthrough=1", " { quirk no-identity }", "dma"),  # no RTR
    ],
)
def test_s390_from_6_7_uses_iommu_dma(kernel: str, cmdline: str, quirk: str, default: str) -> None:
    res = _z(kernel, cmdline, quirk)
    assert not res.errors
    nvme = res.devices["nvme"].values
    assert nvme["default_domain"] == default
    assert nvme["dma_ops"] == ("iommu-dma" if default != "identity" else "dma-direct")


def test_s390_iommu_takes_pci_functions_only_and_vfio_takes_the_arch_table() -> None:
    """s390_iommu_probe_device: !dev_is_pci -> -ENODEV (E131). Before 6.7 a VFIO domain
    replaces the arch's translation (zpci_dma_exit_device): no DMA API behind the device."""
    text = Z.format(kernel="6.6", arch="s390", cmdline="", quirk="")
    bad = text + 'device ism: "ibm,ism" { iommu zpci }\n'
    assert "E131" in {d.code for d in Board.from_text(bad, "z.iommu").model.diagnostics}
    vfio = text + "domain vfio: unmanaged on zpci { attach nvme }\n"
    res = Board.from_text(vfio, "z.iommu").resolution
    assert not res.errors
    nvme = res.devices["nvme"]
    assert nvme.values["dma_ops"] == "none"
    assert "zpci_dma_exit_device" in str(nvme.reasons["dma_ops"].source)
    assert res.devices["roce0"].values["dma_ops"] == "s390_pci_dma"
