"""arm-smmu, qcom-smmu and adreno-smmu: stream match registers, their masks and their
conflicts, as arm_smmu_of_xlate and arm_smmu_find_sme see them (dsl/kinds/arm_smmu.py)."""

from __future__ import annotations

import pytest
from kinds.boards import resolved


def test_an_iommu_map_smr_mask_groups_functions_like_a_device_mask() -> None:
    """<rid &smmu sid mask len> (ccb2fd725d41): arm_smmu_of_xlate takes args[1] as the SMR
    mask, so a function on SID 0x1c81 joins the stream map entry of 0x1c80 mask 0x1."""
    for smr, together in (("", False), (" smr-mask 0x1", True)):
        _, res = resolved(
            'include "std/linux"\nplatform { arch arm64; kernel 6.8 }\n'
            "iommu smmu: qcom-smmu { cells 2; contexts 8\n"
            f"    map rid 0x100 sid 0x1c80{smr} length 0x1\n"
            "    map rid 0x200 sid 0x1c81 length 0x1 }\n"
            'device a: "pci1,1" { pci 0000:01:00.0 }\n'
            'device b: "pci1,2" { pci 0000:02:00.0 }\n'
        )
        assert not res.errors
        assert (res.devices["a"].group == res.devices["b"].group) is together


@pytest.mark.parametrize(
    ("kind", "entry", "words"),
    [
        ("apple-dart", "sid 0x10 smr-mask 0x1 length 0x1", "an apple-dart IOMMU has none"),
        ("qcom-smmu", "sid 0x10 smr-mask 0x3 length 0x100", "maps one ID, but this entry maps"),
        ("qcom-smmu", "sid 0x10 smr-mask 0x10000 length 0x1", "out of range (0xffff)"),
    ],
)
def test_smr_mask_refusals(kind: str, entry: str, words: str) -> None:
    model, _ = resolved(f"iommu s: {kind} {{ cells 2; map rid 0x100 {entry} }}\n")
    assert [(d.code, words in d.message) for d in model.diagnostics] == [("E109", True)]


def test_e201_for_a_map_stream_points_at_the_map_entry() -> None:
    _, res = resolved(
        'include "std/linux"\nplatform { arch arm64; kernel 6.8 }\n'
        "iommu smmu: arm-smmu { cells 2; contexts 8\n"
        "    map rid 0x100 sid 0x10 smr-mask 0x3 length 0x1\n"
        "    map rid 0x200 sid 0x12 smr-mask 0x4 length 0x1 }\n"
        'device a: "pci1,1" { pci 0000:01:00.0 }\ndevice b: "pci1,1" { pci 0000:02:00.0 }\n'
    )
    (e201,) = [d for d in res.errors if d.code == "E201"]
    assert e201.span.line == 5  # the entry that gives 'b' its stream, not 'b' itself
