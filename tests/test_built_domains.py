"""Drivers' own domains from `builds domain` rules (dsl/built.py): what a pack says a
driver builds becomes the domain a board would write, and a board's own statement wins."""

from __future__ import annotations

import pytest

from iommu_rules import Board

BOARD = """\
include "std/linux"
platform {{ arch arm64; kernel 6.8; ram 0x0 size 4G }}
iommu smmu: arm-smmu {{ contexts 16 }}
iommu smmu1: arm-smmu {{ contexts 8 }}
device dc0: "vendor,dc" {{ tags dc; iommu smmu sid 1 }}
device dc1: "vendor,dc" {{ tags dc; iommu smmu sid 2 }}
device gpu: "vendor,gpu" {{ iommu smmu sid 3 }}
device dsp: "vendor,dsp" {{ iommu smmu sid 4 }}
device dsp1: "vendor,dsp" {{ iommu smmu sid 5 }}
device lcd: "vendor,dc" {{ tags dc }}
rule "drm": dc builds domain drm: unmanaged source "drm.c: drm_probe"
rule "rproc": compatible "vendor,dsp" builds domain rproc: unmanaged per device
rule "no DMA API in them": dc or compatible "vendor,dsp" driver no-dma-api
{extra}"""


def board(extra: str = "") -> Board:
    return Board.from_text(BOARD.format(extra=extra), "soc.iommu")


def test_a_shared_domain_holds_every_translated_device_the_rule_matches() -> None:
    b = board()
    assert not b.diagnostics
    res = b.resolution
    assert res.domains["drm"].devices == ["dc0", "dc1"]  # lcd: no IOMMU, left on the DMA API
    assert res.domains["drm"].context is not None
    assert b.value("lcd.domain") == "none"
    why = str(b.why("dc1.domain"))
    assert 'rule "drm"' in why and "drm.c: drm_probe" in why
    assert b.value("gpu.domain") == "default:2"


def test_per_device_domains_are_named_after_their_device() -> None:
    b = board("expect rproc-dsp.members == [dsp]\nexpect rproc-dsp1.members == [dsp1]\n")
    assert not b.diagnostics
    assert [e.passed for e in b.resolution.expectations] == [True, True]
    assert b.value("dsp1.domain") == "rproc-dsp1"


def test_a_board_domain_of_the_same_name_wins() -> None:
    b = board("domain drm: unmanaged on smmu { attach dc0 }\n")
    assert not b.diagnostics
    assert b.resolution.domains["drm"].devices == ["dc0"]
    assert "rule" not in str(b.why("drm.members"))
    assert b.value("dc1.domain") == "default:1"


def test_a_board_domain_holding_one_device_replaces_the_drivers_shared_domain() -> None:
    """The board wrote the driver's one domain itself: no second one from the pack."""
    b = board("domain mine: unmanaged on smmu { attach dc1 }\n")
    assert b.value("dc1.domain") == "mine"
    assert "drm" not in b.resolution.domains
    assert b.value("dc0.domain") == "default:0"


def test_a_device_a_board_domain_attaches_gets_no_domain_of_its_own() -> None:
    b = board("domain mine: unmanaged on smmu { attach dsp }\n")
    assert b.value("dsp.domain") == "mine"
    assert "rproc-dsp" not in b.resolution.domains
    assert b.value("dsp1.domain") == "rproc-dsp1"


def test_a_rule_that_does_not_hold_builds_nothing_and_why_says_so() -> None:
    text = BOARD.format(extra="").replace(
        'rule "drm": dc builds', 'when kernel < 5.0 {\nrule "drm": dc builds'
    )
    text = text.replace('source "drm.c: drm_probe"', 'source "drm.c: drm_probe"\n}')
    b = Board.from_text(text + "expect drm.members == []\n", "soc.iommu")
    assert not b.diagnostics
    assert "drm" not in b.resolution.domains
    assert b.resolution.expectations[0].passed
    assert "not built on this platform" in str(b.why("drm.members"))


def test_the_first_device_shares_its_default_domain() -> None:
    text = BOARD.format(extra="").replace(
        "builds domain drm: unmanaged", "builds domain drm: default-of-first"
    )
    b = Board.from_text(text, "soc.iommu")
    res = b.resolution
    assert res.devices["dc1"].domain == "drm"
    # dc0's default domain, renamed: no context of its own beyond that one
    assert res.domains["drm"].origin == "default"
    assert res.domains["drm"].devices[0] == "dc0"


def test_a_kind_that_cannot_span_keeps_the_others_out() -> None:
    b = board('device dc2: "vendor,dc" { tags dc; iommu smmu1 sid 1 }\n')
    (w,) = [d for d in b.diagnostics if d.code == "W222"]
    assert "dc2 stays out of it" in w.message
    assert b.resolution.domains["drm"].devices == ["dc0", "dc1"]
    assert b.value("dc2.domain") != "drm"


@pytest.mark.parametrize(
    ("verb", "code", "words"),
    [
        ("builds domain x: dma", "E120", "not 'dma'"),
        ("builds domain x: unmanagd", "E005", "did you mean 'unmanaged'"),
        ("builds domain x: default-of-first per device", "E120", "cannot be built per device"),
        ("builds domain gpu: unmanaged", "E101", "duplicate name 'gpu'"),
    ],
)
def test_bad_builds_rules(verb: str, code: str, words: str) -> None:
    b = board(f"rule dc {verb}\n")
    found = [d for d in b.diagnostics if d.code == code]
    assert found and words in found[0].message + (found[0].help or ""), b.diagnostics


def test_dropping_a_derived_domain_points_at_its_rule() -> None:
    from iommu_rules import ChangeError

    with pytest.raises(ChangeError) as info:
        board().whatif("drop domain drm")
    (diag,) = info.value.diagnostics
    assert diag.code == "E502" and 'drop rule "drm"' in (diag.help or "")
    assert "drm" not in board().whatif('drop rule "drm"').resolution.domains


def test_w208_is_quiet_for_a_device_a_pack_builds_a_domain_for() -> None:
    b = board('rule "own": dc or gpu driver own-domain\n')
    assert [d.message.split("'")[1] for d in b.diagnostics if d.code == "W208"] == ["gpu"]


@pytest.mark.parametrize(
    ("unless", "cmdline", "attached"),
    [
        ("translated", "", False),  # the DMA default domain translates: left on the DMA API
        ("translated", "iommu.passthrough=1", True),  # identity does not count (fae6e669cdc5)
        ("attached", "iommu.passthrough=1", False),  # any domain counts (5.5..6.7)
    ],
)
def test_unless_leaves_a_device_in_its_domain(unless: str, cmdline: str, attached: bool) -> None:
    """host1x_client_iommu_attach returns early for a client already in a domain."""
    text = BOARD.format(extra="").replace(
        "builds domain drm: unmanaged", f"builds domain drm: unmanaged unless {unless}"
    )
    text = text.replace("size 4G }", f'size 4G; cmdline "{cmdline}" }}')
    b = Board.from_text(text, "soc.iommu")
    assert not b.diagnostics
    assert (b.value("dc0.domain") == "drm") == attached
    if not attached:
        assert "the driver attaches only a device" in str(b.why("drm.members"))


def test_a_board_name_a_pack_domain_would_take_wins_without_an_error() -> None:
    """A board may name a device 'tegra_vde' (or 'nouveau'): the pack's domain of that name
    is then not built, and the board gets no E101 from a pack it cannot edit."""
    text = (
        'include "std/linux"\ninclude "std/soc/tegra30"\n'
        "platform { arch arm; kernel 6.8; ram 0x80000000 size 1G }\n"
        'device tegra_vde: "nvidia,tegra30-vde" { iommu mc swgroup vde }\n'
    )
    board = Board.from_text(text, "b.iommu")
    assert not [d for d in board.diagnostics if d.is_error]
    assert board.value("tegra_vde.domain") != "tegra_vde"


def test_a_board_domain_under_a_when_that_fails_leaves_the_name_to_the_pack() -> None:
    b = board("when kernel < 5.0 {\n    domain drm: unmanaged on smmu { attach dc0 }\n}\n")
    assert not b.diagnostics
    assert b.resolution.domains["drm"].devices == ["dc0", "dc1"]
    assert 'rule "drm"' in str(b.why("drm.members"))


def test_a_shared_default_left_with_one_device_is_not_built() -> None:
    """default-of-first over two instances of a kind that cannot span: W222 leaves one
    device on the first, with no other to share its default domain with."""
    text = BOARD.format(extra="").replace(
        "builds domain drm: unmanaged", "builds domain drm: default-of-first"
    )
    text = text.replace(
        'device dc1: "vendor,dc" { tags dc; iommu smmu sid 2 }',
        'device dc1: "vendor,dc" { tags dc; iommu smmu1 sid 2 }',
    )
    b = Board.from_text(text, "soc.iommu")
    assert [d.code for d in b.diagnostics] == ["W222"]
    assert "drm" not in b.resolution.domains


def test_a_default_domain_type_as_built_kind_is_one_e120_not_also_e005() -> None:
    b = board('rule "x": dc builds domain x: identity\n')
    assert [d.code for d in b.diagnostics if d.is_error] == ["E120"]
