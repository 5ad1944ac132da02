"""A what-if that starts from the unchanged board's resolution (its IOMMUs and groups kept
where the change cannot touch them) gives exactly what resolving from scratch gives:
under other command lines, and under the other changes a user tries (fewer contexts, a
rule dropped or added, a device or domain dropped, another kernel)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from iommu_rules import Board, ChangeError
from iommu_rules.explain import explain
from iommu_rules.model import ATTRIBUTES
from iommu_rules.report import text, to_json
from iommu_rules.resolution import Resolution
from iommu_rules.resolve import GROUP_VERBS, resolve

from conftest import EXAMPLES

BOARDS = sorted(EXAMPLES.glob("*.iommu"))
# tokens that act on later stages only, on the groups, on rules' `when cmdline`, and noise
TOKENS = [
    "iommu.passthrough=1",
    "iommu.passthrough=0",
    "iommu.strict=0",
    "iommu.strict=1",
    "iommu=pt",
    "iommu=off",
    "intel_iommu=off",
    "intel_iommu=on",
    "amd_iommu=off",
    "amd_iommu=force_isolation",
    "pcie_acs_override=downstream,multifunction",
    "pci=disable_acs_redir=0000:00:01.0",
    "pci=noacs",
    "vfio-pci.ids=10de:1b80",
    "arm-smmu.disable_bypass=0",
    "console=ttyS0",
    "quiet",
]


def everything(res: Resolution) -> list[str]:
    """All a user can see of a resolution: the report, the JSON, the diagnostics, the
    kernel log, and `why` of every attribute of every device, IOMMU and domain."""
    out = [text(res), to_json(res), *map(repr, res.diagnostics), *res.log]
    for kind, names in (
        ("device", res.devices),
        ("iommu", res.model.iommus),
        ("domain", res.domains),
    ):
        for name in sorted(names):
            for attr in ATTRIBUTES[kind]:
                try:
                    out.append(explain(res, f"{name}.{attr}").text())
                except Exception as exc:  # the same failure on both sides is the same result
                    out.append(f"{name}.{attr}: {type(exc).__name__}: {exc}")
    return out


def check(board: Board, cmdline: str) -> bool:
    """Whether the what-if of this command line took the base's groups, after checking it
    equals a full run (check_change)."""
    return check_change(board, f'set cmdline "{cmdline}"') is True


@pytest.mark.parametrize("path", BOARDS, ids=lambda p: p.name)
def test_each_example_under_command_lines(path: Path) -> None:
    board = Board.load(path)
    if not board.ok:
        pytest.skip("the example does not resolve on its own")
    kept = [check(board, cmdline) for cmdline in ("iommu.passthrough=1", "iommu.strict=0", "")]
    assert any(kept) or not board.model.devices  # a pure domain-policy change keeps groups


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    path=st.sampled_from(BOARDS),
    tokens=st.lists(st.sampled_from(TOKENS), max_size=4),
)
def test_random_command_lines(path: Path, tokens: list[str]) -> None:
    board = _loaded(path)
    if board.ok:
        check(board, " ".join(tokens))


_BOARDS: dict[Path, Board] = {}


def _loaded(path: Path) -> Board:
    if path not in _BOARDS:
        _BOARDS[path] = Board.load(path)
    return _BOARDS[path]


def test_a_group_changing_command_line_resolves_the_groups_again(tmp_path: Path) -> None:
    """The ACS override regroups PCI functions: the groups are not taken from the base."""
    pc = EXAMPLES / "x86-desktop.iommu"
    board = Board.load(pc)
    base = board.resolution
    changed = board.whatif('set cmdline "intel_iommu=on pcie_acs_override=downstream"')
    changed_res = resolve(changed.model, base)
    assert changed_res.grouping is not base.grouping
    assert everything(changed_res) == everything(resolve(changed.model))


def test_what_the_group_stages_said_is_said_again() -> None:
    """Diagnostics of the IOMMU and group stages come with the kept groups (here W205: two
    masters with one StreamID on arm-smmu-v3); a group-stage token the change restates
    (the ACS override, W221) is the change's now: the groups are made again."""
    board = Board.from_text(
        'include "std/linux"\n'
        "platform { arch arm64; kernel 6.8 }\n"
        "iommu smmu: arm-smmu-v3\n"
        'device a: "v,a" { iommu smmu sid 5 }\n'
        'device b: "v,b" { iommu smmu sid 5 }\n',
        "dup.iommu",
    )
    base = board.resolution
    assert "W205" in {d.code for d in base.diagnostics}
    changed = board.whatif('set cmdline "iommu.passthrough=1"')
    reused = resolve(changed.model, base)
    assert reused.grouping is base.grouping
    assert everything(reused) == everything(resolve(changed.model))
    changed = board.whatif('set cmdline "pcie_acs_override=downstream"')
    again = resolve(changed.model, base)
    assert again.grouping is not base.grouping and "W221" in {d.code for d in again.diagnostics}
    assert everything(again) == everything(resolve(changed.model))


def changes(board: Board) -> list[str]:
    """What-ifs of every kind, on the board's own names: the IOMMU facts only later stages
    read, those the groups read (smrs) and those its devices are validated against
    (stream-bits, cells), rules dropped and added, devices and domains dropped, other
    kernels."""
    m = board.model
    out = ["set kernel 5.4", "set kernel 6.12"]
    for name in m.iommus:
        out += [
            f"set {name} contexts 2",
            f"set {name} contexts 64",
            f"set {name} reserved 0",
            f"set {name} secure 1",
            f"set {name} domains identity",
            f"set {name} aperture 0x0 size 4G",
            f"set {name} smrs 2",
            f"set {name} stream-bits 4",
            f"set {name} cells 1",
            f"drop iommu {name}",
        ]
    out += [f"drop rule {Path(r.span.file).name}:{r.span.line}" for r in m.rules]
    out += [f"drop domain {name}" for name in m.domains]
    out += [f"drop device {name}" for name in list(m.devices)[:4]]
    for tag in sorted(m.tags)[:3]:
        out += [
            f"add rule {tag} excludes implicit",
            f"add rule {tag} excludes iommu",
            f"add rule {tag} driver none",
            f"add rule {tag} driver managed-dma",
        ]
    return out


def check_change(board: Board, *change: str) -> bool | None:
    """Whether resolving the changed board from the base's resolution took its groups,
    after checking it equals a full run; None where the change does not apply."""
    base = board.resolution
    try:
        changed = board.whatif(*change)
    except ChangeError:
        return None
    if not changed.ok:
        return None
    reused = resolve(changed.model, base)
    fresh = resolve(changed.model)
    assert everything(reused) == everything(fresh), (board.name, change)
    return reused.grouping is base.grouping


def drawn(path: Path, data: st.DataObject) -> tuple[Board, list[str]] | None:
    """An example board (None where it does not resolve) and one or two of its changes."""
    board = _loaded(path)
    if not board.ok:
        return None
    return board, data.draw(st.lists(st.sampled_from(changes(board)), min_size=1, max_size=2))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(path=st.sampled_from(BOARDS), data=st.data())
def test_random_changes(path: Path, data: st.DataObject) -> None:
    if (got := drawn(path, data)) is not None:
        check_change(got[0], *got[1])


def test_what_only_later_stages_read_keeps_the_groups() -> None:
    """Fewer contexts, other reserved contexts, another aperture, a domain-policy rule
    dropped or added: the model is built again, the groups are taken from the base. A
    change of what the groups read (stream match registers, a device, `excludes iommu`)
    makes them again."""
    board = _loaded(EXAMPLES / "sdm845.iommu")
    smmu = next(n for n, i in board.model.iommus.items() if i.kind == "qcom-smmu")
    policy = next(
        r for r in board.model.rules if r.verb not in GROUP_VERBS and r.span.file == board.name
    )
    kept = [
        f"set {smmu} contexts 40",
        f"set {smmu} reserved 0",
        f"set {smmu} aperture 0x0 size 4G",
        f"drop rule {Path(policy.span.file).name}:{policy.span.line}",
        "add rule gpu excludes implicit",
    ]
    for change in kept:
        assert check_change(board, change) is True, change
    tag = sorted(board.model.tags)[0]
    device = next(iter(board.model.devices))
    for change in (f"set {smmu} smrs 3", f"drop device {device}", f"add rule {tag} excludes iommu"):
        assert check_change(board, change) is False, change


def test_a_what_if_validates_the_devices_its_change_reaches() -> None:
    """The model of a what-if takes each device its change leaves as it was (the same
    node, file, order and IOMMUs) from the base's validation; one whose IOMMU changed is
    validated again, with what its IOMMU now says of its streams."""
    board = Board.from_text(
        'include "std/linux"\n'
        "platform { arch arm64; kernel 6.8 }\n"
        "iommu smmu: arm-smmu { contexts 8 }\n"
        "iommu other: arm-smmu { contexts 8 }\n"
        'device a: "v,a" { iommu smmu sid 0x100 }\n'
        'device b: "v,b" { iommu other sid 0x100 }\n',
        "two.iommu",
    )
    assert board.ok
    narrow = board.whatif("set smmu stream-bits 4")
    assert narrow.model.devices["b"] is board.model.devices["b"]
    assert narrow.model.iommus["other"] is board.model.iommus["other"]
    assert narrow.model.devices["a"] is not board.model.devices["a"]
    (error,) = [d for d in narrow.input_diagnostics if d.is_error]
    assert error.code == "E109" and error.span.line == 5  # device a's stream
    # and back: the base's own validation, with none of the change's diagnostics
    assert narrow.unchanged().model.devices["a"] is board.model.devices["a"]
    assert narrow.unchanged().ok


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(path=st.sampled_from(BOARDS), data=st.data())
def test_a_what_ifs_model_is_the_model_validated_afresh(path: Path, data: st.DataObject) -> None:
    if (got := drawn(path, data)) is None:
        return
    board, picked = got
    try:
        changed = board.whatif(*picked)
    except ChangeError:
        return
    fresh = Board(board.base, changed.changes)  # validates every device
    assert changed.model == fresh.model
    assert list(map(repr, changed.input_diagnostics)) == list(map(repr, fresh.input_diagnostics))


GROUP_RULES = (
    'include "std/linux"\n'
    "platform { arch arm64; kernel 6.8 }\n"
    "iommu smmu: arm-smmu-v3\n"
    'device a: "v,a" { tags t; iommu smmu sid 5 }\n'
    'device b: "v,b" { iommu smmu sid 6; driver none }\n'
    'rule "r1": t excludes iommu\n'
)


@pytest.mark.parametrize(
    "change",
    [
        # the last group rule replaced by another at the same index, on the same devices
        ("drop rule r1", "add rule t driver managed-dma"),
        ("drop rule r1", "add rule a driver none"),
        ("drop rule r1", "add rule t excludes iommu"),
        # the same kernel, stated in the change: reasons cite where it is stated
        ("set kernel 6.8",),
    ],
    ids=["driver-flags", "driver-none", "restated-rule", "restated-kernel"],
)
def test_a_group_fact_restated_elsewhere_is_the_new_statement(change: tuple[str, ...]) -> None:
    """What the group stages read of a rule is the rule (its verb, its flags, where it
    is), not its index; of the kernel, where it is stated too."""
    board = Board.from_text(GROUP_RULES, "k.iommu")
    assert board.ok
    assert check_change(board, *change) is False
