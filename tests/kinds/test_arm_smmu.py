"""arm-smmu, qcom-smmu and adreno-smmu: stream match registers, their masks and their
conflicts, as arm_smmu_of_xlate and arm_smmu_find_sme see them (dsl/kinds/arm_smmu.py)."""

from __future__ import annotations

import pytest
from kinds.boards import resolved

from iommu_rules import Board


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


QCOM_BYPASS = """\
include "std/linux"
platform { arch arm64; kernel 6.8; ram 0x80000000 size 4G }
iommu apps_smmu: arm-smmu { contexts 3; quirk bypass-last-context }
device a: "qcom,a" { iommu apps_smmu sid 1 }
"""


def test_the_bypass_bank_is_never_free_and_the_exhaustion_says_so() -> None:
    """qcom_smmu_cfg_probe sets the last bank's bit in context_map when the firmware turns
    S2CR bypass into faults: contexts_free does not count it, and the -ENOSPC of the next
    domain says which bank is held back."""
    board = Board.from_text(QCOM_BYPASS, "sdm845.iommu")
    assert not board.resolution.errors
    assert board.value("apps_smmu.contexts_free") == 1  # 3 banks, 1 used, bank 2 withheld
    assert "qcom_smmu_cfg_probe" in str(board.why("apps_smmu.contexts_free"))
    text = QCOM_BYPASS + 'device b: "qcom,b" { iommu apps_smmu sid 2 }\n'
    text += 'device c: "qcom,c" { iommu apps_smmu sid 3 }\n'
    board = Board.from_text(text, "sdm845.iommu")
    (e301,) = [d for d in board.diagnostics if d.code == "E301"]
    assert "(2 of 3 in use, context 2 reserved to emulate bypass): -ENOSPC" in e301.message
    assert board.value("apps_smmu.contexts_free") == 0
    assert "2=(bypass)" in board.report()


def test_a_device_whose_default_domain_fails_is_unwound_and_has_no_group() -> None:
    """__iommu_probe_device: when iommu_setup_default_domain fails, err_remove_gdev takes
    the device out of the group and iommu_deinit_device clears dev->iommu_group, so sysfs
    shows no group for it."""
    text = QCOM_BYPASS + 'device b: "qcom,b" { iommu apps_smmu sid 2 }\n'
    text += 'device c: "qcom,c" { iommu apps_smmu sid 3 }\n'  # bank 2 is the bypass bank
    board = Board.from_text(text, "sdm845.iommu")
    values = board.resolution.devices["c"].values
    assert (values["group"], values["group_members"], values["iommu"]) == ("none", [], "none")
    assert "err_remove_gdev" in str(board.why("c.group"))
    assert values["dma_ops"].startswith("dma-direct")
    assert "group 2: c  [refused: unwound, no group]" in board.report()
    assert board.resolution.devices["b"].values["group"] == 1


SMRS = """\
include "std/linux"
platform {{ arch arm64; kernel 6.8; ram 0x80000000 size 4G }}
iommu smmu: arm-smmu {{ contexts 8; smrs 2{extra} }}
{devices}"""


def test_a_master_that_finds_every_smr_taken_fails_its_probe() -> None:
    """arm_smmu_find_sme returns -ENOSPC when no stream match register is free: the probe
    fails (E202) and the master has no group; a stream within an SMR in use needs none."""
    devices = (
        'device a: "v,a" { iommu smmu sid 0x10 }\n'
        'device b: "v,b" { iommu smmu sid 0x20 }\n'
        'device c: "v,c" { iommu smmu sid 0x30 }\n'
        'device a2: "v,a" { iommu smmu sid 0x10 }\n'  # a's SMR: shared, and a's group
    )
    board = Board.from_text(SMRS.format(extra="", devices=devices), "b.iommu")
    (e202,) = [d for d in board.diagnostics if d.code == "E202"]
    assert "stream 0x30 of 'c': all 2 are taken" in e202.message
    values = board.resolution.devices["c"].values
    assert (values["group"], values["iommu"]) == ("none", "none")
    assert board.value("a2.group_members") == ["a", "a2"]
    assert "arm_smmu_master_alloc_smes" in str(board.why("c.iommu"))


def test_a_failed_master_gives_back_the_smrs_it_took() -> None:
    """arm_smmu_master_alloc_smes frees the entries of a master whose later stream fails."""
    devices = (
        'device a: "v,a" { iommu smmu sid 0x10 }\n'
        'device two: "v,b" { iommu smmu sid 0x20, sid 0x30 }\n'  # the second finds none
        'device c: "v,c" { iommu smmu sid 0x40 }\n'  # takes the register 'two' gave back
    )
    board = Board.from_text(SMRS.format(extra="", devices=devices), "b.iommu")
    assert [d.message.split("'")[3] for d in board.diagnostics if d.code == "E202"] == ["two"]
    assert board.value("c.iommu") == "smmu"


def test_the_stream_match_mask_applies_to_one_cell_streams() -> None:
    """arm_smmu_of_xlate: without a mask cell the node's stream-match-mask is the SMR mask,
    so 0x10 and 0x11 under mask 0x1 are one stream map entry, one register, one group."""
    devices = 'device a: "v,a" { iommu smmu sid 0x10 }\ndevice b: "v,b" { iommu smmu sid 0x11 }\n'
    board = Board.from_text(SMRS.format(extra="; stream-match-mask 0x1", devices=devices), "b")
    assert not board.diagnostics
    assert board.value("a.group_members") == ["a", "b"]
    board = Board.from_text(SMRS.format(extra="", devices=devices), "b")
    assert board.value("a.group_members") == ["a"]


@pytest.mark.parametrize("prop", ["smrs 4", "stream-match-mask 0x1"])
def test_smr_properties_belong_to_the_arm_smmu_kinds(prop: str) -> None:
    board = Board.from_text(
        'include "std/linux"\nplatform { arch arm; kernel 6.8 }\n'
        f"iommu mc: tegra-smmu {{ {prop} }}\n",
        "b.iommu",
    )
    (diag,) = [d for d in board.diagnostics if d.code == "E114"]
    assert "is a property of an Arm SMMU" in diag.message


def test_smr_property_values_are_checked() -> None:
    for prop, words in (
        ("smrs 0", "stream match register count 0"),
        ("stream-match-mask 0x8000", ""),
    ):
        board = Board.from_text(
            f"platform {{ arch arm64; kernel 6.8 }}\niommu s: arm-smmu {{ {prop} }}\n", "b"
        )
        (diag,) = [d for d in board.diagnostics if d.code == "E114"]
        assert words in diag.message


def test_a_master_refused_for_an_overlap_gives_back_its_smrs_too() -> None:
    """E201 fails the whole master (arm_smmu_master_alloc_smes's error path frees what it
    took): 'b''s first register is free again, so 'c' fits in the two."""
    devices = (
        'device a: "v,a" { iommu smmu sid 0x10 mask 0x0 }\n'
        'device b: "v,b" { iommu smmu sid 0x20 mask 0x0, sid 0x11 mask 0x1 }\n'
        'device c: "v,c" { iommu smmu sid 0x30 mask 0x0 }\n'
    )
    text = SMRS.format(extra="; cells 2", devices=devices)
    board = Board.from_text(text, "b.iommu")
    assert [d.code for d in board.diagnostics] == ["E201"]
    assert board.value("b.group") == "none" and board.value("c.iommu") == "smmu"


def test_a_refused_master_takes_no_other_master_down_with_it() -> None:
    """'b''s first stream lies within 'a''s SMR, its second finds none free: only 'b' fails;
    a master whose probe fails never reaches arm_smmu_device_group, so 'a' keeps its group."""
    devices = (
        'device a: "v,a" { iommu smmu sid 0x10 }\n'
        'device c: "v,c" { iommu smmu sid 0x30 }\n'
        'device b: "v,b" { iommu smmu sid 0x10, sid 0x20 }\n'
    )
    board = Board.from_text(SMRS.format(extra="", devices=devices), "b.iommu")
    assert [d.code for d in board.diagnostics] == ["E202"]
    assert board.value("a.group_members") == ["a"] and board.value("b.group") == "none"


def test_a_master_reuses_its_own_smr_and_may_not_half_overlap_it() -> None:
    """arm_smmu_find_sme walks the master's own entries too: a stream within one of them
    takes no register, one that partly overlaps it is -EINVAL."""
    inside = 'device b: "v,b" { iommu smmu sid 0x10 mask 0xf, sid 0x11 mask 0x0 }\n'
    board = Board.from_text(SMRS.format(extra="; cells 2; smrs 1", devices=inside), "b")
    assert not board.diagnostics
    half = 'device b: "v,b" { iommu smmu sid 0x10 mask 0x1, sid 0x11 mask 0x2 }\n'
    board = Board.from_text(SMRS.format(extra="; cells 2", devices=half), "b")
    (e201,) = [d for d in board.diagnostics if d.code == "E201"]
    assert "partly overlaps another SMR of its own" in e201.message
