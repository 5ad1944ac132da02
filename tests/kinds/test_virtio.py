"""virtio-iommu: identity domains and the flush queue, era by era (dsl/kinds/virtio.py)."""

from __future__ import annotations

import pytest

from iommu_rules import Board

VIRTIO_BOARD = """\
include "std/linux"
include "std/iommu/virtio"
platform {{ arch x86_64; kernel {kernel}; ram 0x0 size 4G; cmdline "iommu.passthrough=1" }}
iommu viommu: virtio
device nic: "pci1af4,1041" {{ pci 0000:00:02.0; iommu viommu }}
"""


@pytest.mark.parametrize(("kernel", "domain"), [("5.15", "dma"), ("5.17", "identity")])
def test_virtio_identity_domains_arrive_in_5_17(kernel: str, domain: str) -> None:
    """viommu_domain_alloc took only UNMANAGED and DMA until 51a4c54f35ae: passthrough fell
    back to a DMA domain."""
    res = Board.from_text(VIRTIO_BOARD.format(kernel=kernel), "vm.iommu").resolution
    assert res.global_default == "identity"
    assert res.devices["nic"].values["default_domain"] == domain
    assert any("Falling back" in line for line in res.log) == (domain == "dma")
