"""arm-smmu-v3: what its driver does with StreamIDs and default domains
(dsl/kinds/arm_smmu_v3.py)."""

from __future__ import annotations

import pytest

from iommu_rules import Board

SMMU3_BOARD = """\
include "std/linux"
include "std/iommu/arm-smmu-v3"
platform {{ arch arm64; kernel {kernel}; ram 0x80000000 size 8G }}
iommu smmu: arm-smmu-v3 {{ map rid 0x0 sid 0x0 length 0x10000 }}
device ptt: "pci19e5,a12e" {{ pci 0000:00:10.0 }}
device nic: "pci19e5,a222" {{ pci 0000:7d:00.0 }}
"""


@pytest.mark.parametrize(("kernel", "ptt"), [("5.19", "dma"), ("6.1", "identity")])
def test_smmu_v3_gives_hisilicon_ptt_identity(kernel: str, ptt: str) -> None:
    """arm_smmu_def_domain_type: IS_HISI_PTT_DEVICE -> identity (24b6c7798a01, 6.1)."""
    res = Board.from_text(SMMU3_BOARD.format(kernel=kernel), "hip09.iommu").resolution
    assert not res.errors
    assert res.devices["ptt"].values["default_domain"] == ptt
    assert res.devices["nic"].values["default_domain"] == "dma"


def test_arm_smmu_v3_refuses_a_second_master_on_one_streamid() -> None:
    """arm_smmu_insert_master: a StreamID already in the master tree is -EEXIST, so the
    second platform master is left without its IOMMU (W205), unlike riscv-iommu."""
    text = (
        "platform { arch arm64; kernel 6.8 }\n"
        "iommu smmu: arm-smmu-v3\n"
        'device a: "vendor,dma-a" { iommu smmu sid 7 }\n'
        'device b: "vendor,dma-b" { iommu smmu sid 7 }\n'
    )
    res = Board.from_text(text, "v3.iommu").resolution
    warned = [d for d in res.diagnostics if d.code == "W205"]
    assert warned and "StreamID 0x7" in warned[0].message
    assert res.devices["a"].values["iommu"] == "smmu"
    assert res.devices["b"].values["iommu"] == "none"
    assert res.devices["b"].values["dma_ops"] == "dma-direct"
