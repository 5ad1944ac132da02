"""riscv-iommu: PSCIDs from one pool, identity defaults without IOMMU_DMA, shared device
IDs (dsl/kinds/riscv_iommu.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from iommu_rules import Board

if TYPE_CHECKING:
    from iommu_rules.resolution import Resolution

RISCV = """\
include "std/linux"
include "std/iommu/riscv-iommu"
platform {{ arch riscv64; kernel {kernel}; ram 0x80000000 size 8G{config} }}
iommu iommu: riscv-iommu {{ map rid 0x0 sid 0x0 length 0x10000 }}
iommu iommu2: riscv-iommu
device nic: "pci8086,1533" {{ pci 0000:00:02.0; dma-mask 64 }}
device nvme: "pci144d,a808" {{ pci 0000:00:03.0; dma-mask 64{untrusted} }}
device dmac: "spacemit,k1-pdma" {{ iommu iommu2 sid 5 }}
domain vfio: unmanaged on iommu, iommu2 {{ attach nic, dmac }}
"""


def _riscv(kernel: str = "6.18", config: str = "", untrusted: str = "") -> Resolution:
    text = RISCV.format(kernel=kernel, config=config, untrusted=untrusted)
    return Board.from_text(text, "riscv.iommu").resolution


def test_riscv_iommu_defaults_are_identity_without_iommu_dma() -> None:
    """IOMMU_DMA is "def_bool ARM64 || X86 || S390": iommu_get_default_domain_type forces
    identity on RISC-V; the static identity domain takes no PSCID, a paging domain takes
    PSCIDs from one pool from 1 and keeps its PSCID on every IOMMU it spans."""
    res = _riscv()
    assert not res.errors
    nvme = res.devices["nvme"].values
    assert nvme["default_domain"] == "identity" and nvme["context"] == "none"
    assert nvme["dma_ops"] == "dma-direct"
    assert "Default domain type: Translated" in " ".join(res.log)
    # one domain over two instances: one PSCID on both (riscv_iommu_iotlb_inval)
    assert res.devices["dmac"].values["context"] == 1
    assert res.devices["nic"].values["context"] == 1
    dom = res.domains["vfio"]
    assert dom.contexts_on == {"iommu2": 1}


def test_riscv_iommu_with_iommu_dma_translates_and_counts_pscids() -> None:
    res = _riscv(config="; config IOMMU_DMA")
    nvme = res.devices["nvme"].values
    assert nvme["default_domain"] == "dma" and nvme["dma_ops"] == "iommu-dma"
    # the default domains of nic, nvme and dmac take PSCIDs 1, 2, 3 in probe order; vfio 4
    assert res.devices["nvme"].values["context"] == 2
    assert res.devices["nic"].values["context"] == res.devices["dmac"].values["context"] == 4


def test_riscv_untrusted_device_is_refused_without_iommu_dma() -> None:
    """The core forces identity before it looks at untrusted devices, then refuses the
    identity default for one: "Device is not trusted, but driver is overriding group".
    With IOMMU_DMA the same device gets its strict DMA domain."""
    res = _riscv(untrusted="; untrusted")
    assert "E210" in {d.code for d in res.diagnostics}
    assert res.devices["nvme"].values["dma_ops"] == "dma-direct"
    assert any("Device is not trusted" in line and "Passthrough" in line for line in res.log)
    res = _riscv(config="; config IOMMU_DMA", untrusted="; untrusted")
    assert not res.errors
    assert res.devices["nvme"].values["default_domain"] == "dma"


def test_riscv_iommu_has_no_driver_before_6_13() -> None:
    res = _riscv(kernel="6.12")
    assert res.devices["nvme"].values["iommu"] == "none"
    assert res.devices["nvme"].values["dma_ops"] == "dma-direct"


def test_riscv_iommu_refuses_other_arches_and_context_counts() -> None:
    text = RISCV.format(kernel="6.18", config="", untrusted="").replace("riscv64", "arm64")
    text = text.replace("iommu iommu2: riscv-iommu", "iommu iommu2: riscv-iommu { contexts 8 }")
    codes = [d.code for d in Board.from_text(text, "riscv.iommu").model.diagnostics]
    assert "E130" in codes and "E114" in codes


def test_riscv_iommu_shared_device_id_warns_and_both_probe() -> None:
    text = RISCV.format(kernel="6.18", config="", untrusted="")
    text += 'device dmac2: "spacemit,k1-pdma" { iommu iommu2 sid 5 }\n'
    res = Board.from_text(text, "riscv.iommu").resolution
    assert "W205" in {d.code for d in res.diagnostics}
    assert res.devices["dmac2"].values["group"] not in ("none", res.devices["dmac"].values["group"])
