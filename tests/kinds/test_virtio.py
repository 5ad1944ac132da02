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


@pytest.mark.parametrize(("kernel", "domain"), [("6.5", "dma"), ("6.7", "dma"), ("6.8", "dma-fq")])
def test_virtio_keeps_the_flush_queue_from_6_8(kernel: str, domain: str) -> None:
    """x86 defaults to lazy invalidation (IOMMU_DEFAULT_DMA_LAZY). From 6.5 (4a20ce0ff68e)
    the core allocates the DMA-FQ domain for every driver and iommu_dma_init_domain turns it
    strict unless the driver reports IOMMU_CAP_DEFERRED_FLUSH, which viommu_capable does from
    6.8 (6f01a732608f): a guest's virtio-iommu keeps its flush queue from 6.8 on."""
    text = VIRTIO_BOARD.format(kernel=kernel).replace('; cmdline "iommu.passthrough=1"', "")
    board = Board.from_text(text, "vm.iommu")
    res = board.resolution
    assert not res.errors
    assert res.global_default == "dma-fq"
    assert res.devices["nic"].values["default_domain"] == domain
    why = str(board.why("nic.default_domain"))
    assert ("IOMMU_CAP_DEFERRED_FLUSH" in why) == (domain == "dma")
