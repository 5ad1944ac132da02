"""What-if: change sets on top of a board, and the plan-style diff."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from iommu_rules import Board, ChangeError
from iommu_rules.whatif import parse_change

from conftest import EXAMPLES, run_cli

TEGRA = str(EXAMPLES / "tegra30.iommu")


def plan(*changes: str):  # type: ignore[no-untyped-def]
    before = Board.load(TEGRA)
    after = before.whatif(*changes)
    assert after.ok, [d.message for d in after.input_diagnostics]
    return before.diff(after)


def test_dropping_the_seed_rule_brings_the_exhaustion_back() -> None:
    d = plan('drop rule "GPU drivers own their address space"')
    text = d.text()
    assert "~ device gr3d" in text and "dma_ops: dma-direct → arm_iommu" in text
    assert "+ error[E301]: domain 'tegra_drm' gets no context on 'mc'" in text
    assert d.counts["dma_ops"] == 2
    assert text.rstrip().endswith("2 new errors, 1 new warning")
    assert "+ warning[W202]:" in text  # a change's new warnings are news too


def test_fewer_contexts() -> None:
    d = plan("set mc contexts 2")
    assert "~ iommu mc: contexts used 3 → 2" in d.text()
    assert d.summary().startswith("1 device change DMA ops, 1 context freed")


def test_newer_kernel_changes_default_domains() -> None:
    d = plan("set kernel 6.8")
    assert "    default_domain: none → identity" in d.text()
    # host1x and tegra-vde detach their arm32 mappings from 5.17 / 5.3 (std/soc/tegra):
    # those two count under DMA ops, the other four under default domain
    assert d.counts["default_domain"] == 4 and d.counts["dma_ops"] == 2
    assert "    - context 2: arm_iommu:vde" in d.text()


def test_cmdline_and_added_device() -> None:
    d = plan('set cmdline "iommu.passthrough=1"', 'add device x: "y" { iommu mc swgroup epp }')
    text = d.text()
    assert text.startswith("~ system default_domain: dma → identity")
    assert "+ device x: dma_ops arm_iommu" in text
    assert "+ context 3: arm_iommu:x" in text


def test_no_change_is_empty() -> None:
    d = plan("set kernel 4.18")
    assert not d.changed and d.summary() == "no changes"


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("set kernl 6.8", "E501"),
        ("frob x", "E501"),
        ("add device x", "E004"),
        ("drop widget x", "E501"),
    ],
)
def test_bad_changes(text: str, code: str) -> None:
    with pytest.raises(ChangeError) as info:
        parse_change(text)
    assert info.value.diagnostics[0].code == code


def test_a_misspelt_drop_target_gets_a_suggestion() -> None:
    with pytest.raises(ChangeError) as info:
        parse_change("drop brige gpp_m2")
    (diag,) = info.value.diagnostics
    assert diag.code == "E501" and diag.span.col == 6
    assert diag.help == "did you mean 'bridge'?"


def test_cli_detailed_exitcode_and_json() -> None:
    proc = run_cli("whatif", TEGRA, "--set", "kernel 6.8", "--detailed-exitcode")
    # 4.18: tegra_drm and the implicit mappings of host1x and vde; 6.8: tegra_drm and
    # tegra-vde's own domain (host1x detaches its mapping from 5.17 and keeps identity)
    assert proc.returncode == 2 and "1 context freed" in proc.stdout
    proc = run_cli("whatif", TEGRA, "--set", "kernel 4.18", "--detailed-exitcode")
    assert proc.returncode == 0 and "no changes" in proc.stdout
    proc = run_cli("whatif", TEGRA, "--drop-rule", "GPU drivers own their address space", "--json")
    data = json.loads(proc.stdout)
    assert data["version"] == 1 and data["counts"]["dma_ops"] == 2


def test_cli_unknown_names_suggest() -> None:
    proc = run_cli("whatif", TEGRA, "--set", "mcc contexts 2")
    assert proc.returncode == 3 and "did you mean 'mc'?" in proc.stderr
    proc = run_cli("whatif", TEGRA, "--drop-device", "gr3")
    assert proc.returncode == 3 and "did you mean 'gr3d'?" in proc.stderr
    assert run_cli("whatif", TEGRA).returncode == 2


def test_group_split_and_merge_are_reported(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "b.iommu"
    path.write_text(
        'include "std/linux"\nplatform { arch arm64; kernel 6.8 }\n'
        "iommu smmu: arm-smmu { contexts 8 }\n"
        'device a: "x" { iommu smmu sid 0x1 }\ndevice b: "y" { iommu smmu sid 0x1 }\n'
    )
    before = Board.load(path)
    split = before.whatif("drop device b", 'add device b: "y" { iommu smmu sid 0x2 }')
    assert split.ok
    assert "~ group {a, b} split into {a} + {b}" in before.diff(split).text()
    assert "~ group {a, b} merged from {a} + {b}" in split.diff(before).text()


def test_dropping_a_device_takes_its_expectations_and_attachments_with_it() -> None:
    # tegra30.iommu expects things of gr2d, and std/soc/tegra attaches it to the DRM domain
    d = plan("drop device gr2d")
    assert "- device gr2d" in d.text()
    changed = Board.load(TEGRA).whatif("drop device gr2d")
    assert changed.ok, changed.input_diagnostics
    after = changed.resolution
    assert "gr2d" not in after.domains["tegra_drm"].devices
    assert all(e.query.subject.text != "gr2d" for e, *_ in after.expectations)


def before_after(board: str, *changes: str):  # type: ignore[no-untyped-def]
    """A board's resolution before and after the changes, and the diff's text."""
    before = Board.from_text(board, "b.iommu")
    after = before.whatif(*changes)
    assert after.ok, [d.message for d in after.input_diagnostics]
    return before.resolution, after.resolution, before.diff(after).text()


def test_a_shifted_context_order_is_one_line_not_one_per_domain() -> None:
    board = "platform { arch arm64; kernel 6.8 }\niommu smmu: arm-smmu { contexts 8; cells 2 }\n"
    board += "".join(f'device d{i}: "x" {{ iommu smmu sid {i} }}\n' for i in range(6))
    _, _, text = before_after(board, "drop device d0")
    # d1..d5 each move down one bank (arm_smmu_alloc_context_bank takes the lowest free)
    assert "    - context 0: default domain of d0" in text
    assert "    ~ 5 domains moved to other contexts (e.g. default domain of d1: 1 → 0)" in text
    assert "default domain of d2: context" not in text


def test_dropping_a_domain_declared_under_when() -> None:
    """A driver domain inside `when` is dropped like any other (it used to stay, silently)."""
    before, after, _ = before_after(
        'include "std/linux"\n'
        'platform { arch arm64; kernel 6.8; cmdline "iommu.passthrough=1" }\n'
        "iommu smmu: arm-smmu { contexts 8 }\n"
        'device dc0: "vendor,dc" { iommu smmu sid 1; driver own-domain }\n'
        'when cmdline has "iommu.passthrough=1" {\n'
        "    domain drm: unmanaged on smmu { attach dc0 }\n"
        "}\n",
        "drop domain drm",
    )
    assert before.devices["dc0"].domain == "drm"
    assert after.devices["dc0"].domain == "default:0" and "drm" not in after.domains


def test_dropping_a_shared_default_domain_splits_the_components() -> None:
    """`drop domain` on a `default of` domain: the components go back to their own default
    domains, and the shared one is the plain default domain of its device again."""
    board = (EXAMPLES / "exynos5433-tm2.iommu").read_text(encoding="utf-8")
    # the board's own statement, without the pack's rule that would build it again
    board += "domain exynos_drm: default of decon { attach decon_tv, scaler_0, scaler_1 }\n"
    pack = 'drop rule "Exynos DRM shares the first component\'s default domain"'
    before, after, text = before_after(board, pack, "drop domain exynos_drm")
    assert before.devices["decon_tv"].values["domain"] == "exynos_drm"
    assert after.devices["decon_tv"].values["domain"] == "default:1"
    assert after.devices["decon"].values["domain"] == "default:0"
    assert "~ device decon_tv" in text and "exynos_drm → default:1" in text
    # dropping the device whose default domain it is takes the domain (and what is
    # expected of it) along, instead of an unknown-name error
    before, after, _ = before_after(board, pack, "drop device decon")
    assert "exynos_drm" not in after.domains
    assert after.devices["decon_tv"].values["domain"] == "default:0"


def test_a_default_of_that_holds_on_one_side_only_moves_only_the_attached_device() -> None:
    """compare 5.10 -> 6.8 where `default of a` holds from 6.0: 'a' stays in its own default
    domain (now named), only 'b' moves."""
    board = (
        'include "std/linux"\nplatform { arch arm64; kernel 5.10 }\n'
        "iommu s0: exynos-sysmmu\niommu s1: exynos-sysmmu\n"
        'device a: "x,a" { iommu s0 }\ndevice b: "x,b" { iommu s1 }\n'
        "when kernel >= 6.0 { domain drm: default of a { attach b } }\n"
    )
    _, _, text = before_after(board, "set kernel 6.8")
    assert "~ device b" in text and "domain: default:1 → drm" in text
    assert "~ device a" not in text and "1 device change domain" in text


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.iommu")), ids=lambda p: p.stem)
def test_a_changed_loads_platform_statements_are_those_of_its_items(path: Path) -> None:
    # a what-if of platform facts revalidates the platform from the base's platform
    # statements with the changes applied, not from a walk over every item: the same list
    from iommu_rules import ast
    from iommu_rules.loader import load_paths
    from iommu_rules.whatif import ChangedLoad

    base = load_paths([str(path)])
    sets = ['set cmdline "iommu.passthrough=1"', "set kernel 5.4", "set config CONFIG_X=y"]
    others = ['add device extra: "v,x"', "drop include std/linux"]
    for changes in ([sets[0]], sets, [sets[1], others[0]], [*others, sets[2]]):
        load = ChangedLoad(base, [parse_change(c) for c in changes])
        whole = [(f, it) for f, it in load.ordered_items() if isinstance(it, ast.Platform)]
        assert load.platform_items() == whole
        assert sum(f == "<change>" for f, _ in whole) == sum(c in sets for c in changes)


def test_a_loads_platform_statements_are_found_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every what-if of the command line asks the loaded files for their platform
    statements: the walk over every item is made once, and each caller gets its own list."""
    from iommu_rules.loader import Loaded, load_paths

    base = load_paths([TEGRA])
    walks: list[object] = []
    walk = Loaded.ordered_items
    monkeypatch.setattr(
        Loaded, "ordered_items", lambda self, only=None: walks.append(only) or walk(self, only)
    )
    first = base.platform_items()
    first.clear()
    assert base.platform_items() and base.platform_items() == base.platform_items()
    assert len(walks) == 1


def test_values_that_render_alike_are_no_change_and_others_render_when_written() -> None:
    """The diff keeps the values it compares and renders them when it writes lines: a
    value of another type that reads the same (3 and "3", a list of either) is no change;
    an unequal value of one type is one, written as the report writes it."""
    before = Board.load(TEGRA)
    after = before.whatif("set kernel 4.18")  # moves nothing (test_no_change_is_empty)
    name = next(iter(after.resolution.devices))
    values = after.resolution.devices[name].values
    was = before.resolution.devices[name].values
    values["group"] = str(was["group"])  # an int on the other side
    was["vfio"], values["vfio"] = [3], ["3"]  # lists, unequal, of values that read alike
    assert not before.diff(after).changed
    values["context"] = 97 if was["context"] != 97 else 98  # another number, or a number
    d = before.diff(after)
    assert d.entries == [(name, "changed", [("context", was["context"], values["context"])])]
    assert d.text().splitlines()[:2] == [
        f"~ device {name}",
        f"    context: {was['context']} → {values['context']}",
    ]
    change = {"context": [was["context"], values["context"]]}
    assert d.data["changes"] == [{"device": name, "change": "changed", "attributes": change}]


@pytest.mark.parametrize(
    ("change", "quoted"),
    [
        ("add rule gpux excludes implicit", "gpux"),
        ('add device x: "y" { iommu mcc swgroup epp }', "mcc"),
        ("set mc contexts 0", "0"),
        ("set mc smrs 0", "smrs 0"),
    ],
)
def test_an_error_a_change_brings_points_into_the_change(change: str, quoted: str) -> None:
    """A change parses inside generated text ("platform { ... }", or the statement without
    its verb); what it says is quoted where the user wrote it, also for an error found
    after parsing (validation, resolution)."""
    after = Board.load(TEGRA).whatif(change)
    (err,) = after.errors
    span = err.span
    assert (span.file, span.line, span.end_line) == ("<change 1>", 1, 1)
    assert change[span.col - 1 : span.end_col - 1] == quoted


def test_a_renumbering_leaves_the_same_error_of_the_same_group() -> None:
    """Dropping an early device renumbers every group after it; an error about one of
    them (E301: no context for its default domain) is the same error, not one gone and
    one new; the error a freed context fixes is the only one gone."""
    board = "platform { arch arm64; kernel 6.8 }\niommu smmu: arm-smmu { contexts 2; cells 1 }\n"
    board += "".join(f'device d{i}: "x" {{ iommu smmu sid {i} }}\n' for i in range(5))
    before, _, text = before_after(board, "drop device d0")
    gone = [d.message for d in before.diagnostics if d.code == "E301"]
    assert gone == [
        f"the default domain of group {g} gets no context on 'smmu': no free context on "
        "'smmu' (2 of 2 in use): -ENOSPC"
        for g in (2, 3, 4)
    ]
    assert "error[E301]" in text and "+ error" not in text
    assert [line for line in text.splitlines() if line.startswith("- error")] == [
        "- error[E301]: " + gone[0]
    ]
    assert text.rstrip().endswith("1 error gone")


def test_a_rule_is_dropped_by_its_file_and_line_as_the_board_names_it_or_by_base_name(
    tmp_path: Path,
) -> None:
    path = tmp_path / "b.iommu"
    path.write_text(
        'include "std/linux"\nplatform { arch arm64; kernel 6.8 }\n'
        "iommu smmu: arm-smmu { contexts 8 }\n"
        'device a: "x" { tags gpu; iommu smmu sid 0x1 }\n'
        "rule gpu excludes implicit\n"
    )
    board = Board.load(path)
    count = len(board.model.rules)
    for name in (f"{path}:5", "b.iommu:5", "b.iommu:5 "):
        after = board.whatif(f"drop rule {name}")
        assert len(after.model.rules) == count - 1, name
    with pytest.raises(ChangeError, match=r"no rule 'b\.iommu:4' to drop"):
        board.whatif("drop rule b.iommu:4")


def test_dropping_a_bridge_as_a_device_says_to_drop_the_bridge() -> None:
    """A bridge is a PCI function (the model lists it with the devices) but its own
    statement: `drop device` would have left it in place and said nothing."""
    board = Board.load(EXAMPLES / "x86-desktop.iommu")
    port = next(iter(board.model.bridges))
    with pytest.raises(ChangeError) as caught:
        board.whatif(f"drop device {port}")
    (diag,) = caught.value.diagnostics
    assert diag.code == "E502" and diag.message == f"'{port}' is a bridge, not a device"
    assert diag.help == f"write 'drop bridge {port}'"


def test_an_error_whose_group_gets_another_first_member_is_no_news() -> None:
    """A device probed first joins group 0: the group's first member changes, its number
    and the error about it (E211) do not. Neither new nor gone."""
    board = (
        'include "std/linux"\nplatform { arch arm64; kernel 6.8 }\niommu rk: rockchip\n'
        'device a: "v,a" { iommu rk; probe-order 10 }\n'
        'device b: "v,b" { iommu rk; probe-order 11 }\n'
        "rule a requires identity\nrule b requires dma\n"
    )
    before, after, text = before_after(board, 'add device z: "v,z" { iommu rk; probe-order 1 }')
    assert after.groups[0].members[0] == "z" and before.groups[0].members[0] == "a"
    assert "E211" in {d.code for d in after.diagnostics}
    assert "error" not in text
