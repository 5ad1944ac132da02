"""The resolver through the CLI: scenarios whose expected values cite the kernel source."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from iommu_rules import Board
from iommu_rules.resolution import Resolution

from conftest import EXAMPLES, processes_soon, run_cli

SCENARIOS = Path(__file__).parent / "scenarios"
CASES = sorted(SCENARIOS.glob("*.iommu"))


@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_scenario_expectations_hold(case: Path) -> None:
    proc = run_cli("test", "--color", "never", str(case))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.rstrip().endswith(" failed")
    passed, failed = proc.stdout.rstrip().splitlines()[-1].split(", ")
    assert failed == "0 failed" and int(passed.split()[0]) >= 2


def test_examples_expectations_hold() -> None:
    proc = run_cli("test", str(EXAMPLES))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.rstrip().endswith("passed, 0 failed")


@pytest.mark.parametrize(
    ("case", "line"),
    [
        (
            "conflict-6.1",
            "rot: Device needs domain type Translated, but device display in the "
            "same iommu group requires type Passthrough - using default",
        ),
        (
            "conflict-6.8",
            "rot: IOMMU driver error, requesting conflicting def_domain_type, "
            "Passthrough and Translated, for devices in group 0.",
        ),
        ("tegra30-4.18-implicit-exhaustion", "mpe: Failed to attached device mpe to IOMMU_mapping"),
        (
            "untrusted-identity-6.8",
            "tb_gpu: Device is not trusted, but driver is overriding "
            "group 1 to Passthrough, refusing to probe.",  # group 0: its root port
        ),
        (
            "untrusted-no-iommu-dma-6.8",
            "tb_nvme: Device is not trusted, but driver is overriding "
            "group 1 to Passthrough, refusing to probe.",
        ),
        ("x86-iommu-pt", "iommu: Default domain type: Passthrough (set via kernel command line)"),
        ("x86-default", "iommu: DMA domain TLB invalidation policy: lazy mode"),
    ],
)
def test_kernel_log_lines(case: str, line: str) -> None:
    report = Board.load(SCENARIOS / f"{case}.iommu").report()  # what `resolve` prints
    assert line in report.splitlines()[-12:] or f"  {line}" in report.splitlines()


def test_seed_scenario_names_the_failures() -> None:
    proc = run_cli(
        "resolve", "--color", "never", str(SCENARIOS / "tegra30-4.18-implicit-exhaustion.iommu")
    )
    assert proc.returncode == 1
    err = proc.stderr
    assert "error[E301]: the implicit arm32 mapping gets no context on 'mc'" in err
    assert "-ENOSPC" in err and "'mpe': the device keeps dma-direct" in err
    assert "error[E301]: domain 'drm' gets no context on 'mc'" in err
    assert "E302" not in err  # no -EBUSY before 5.19 for a group without a default domain
    assert (
        "contexts: 0=arm_iommu:host1x, 1=arm_iommu:gr2d, 2=arm_iommu:gr3d, "
        "3=arm_iommu:vde" in proc.stdout
    )


def test_failed_expectation_shows_actual_and_derivation(tmp_path: Path) -> None:
    board = tmp_path / "b.iommu"
    board.write_text(
        'include "std/linux"\nplatform { arch arm64; kernel 6.8 }\n'
        "iommu smmu: arm-smmu { contexts 2 }\n"
        'device ufs: "qcom,ufshc" { iommu smmu sid 0x100 }\n'
        "expect ufs.dma_ops == dma-direct\n"
    )
    proc = run_cli("test", "--color", "never", str(board))
    assert proc.returncode == 1
    assert "FAIL" in proc.stdout and "actual: iommu-dma" in proc.stdout
    assert "drivers/iommu/dma-iommu.c: iommu_setup_dma_ops" in proc.stdout
    assert "std/linux.iommu:" in proc.stdout  # the rule that set the global default
    assert proc.stdout.rstrip().endswith("0 passed, 1 failed")
    check = run_cli("check", "--color", "never", str(board))
    assert check.returncode == 1 and "error[E401]: expectation failed" in check.stderr


def test_why_is_a_derivation_with_sources() -> None:
    proc = run_cli("why", str(EXAMPLES / "tegra30.iommu"), "gr3d.dma_ops")
    assert proc.returncode == 0
    lines = proc.stdout.splitlines()
    assert lines[0] == "gr3d.dma_ops = dma-direct"
    assert any("excludes implicit" in ln and "examples/tegra30.iommu:" in ln for ln in lines)
    assert any("kernel/dma/mapping.c: dma_go_direct" in ln for ln in lines)
    proc = run_cli("why", str(EXAMPLES / "tegra30.iommu"), "group-of", "dc0")
    assert proc.stdout.startswith("dc0.group_members = [dc0, dc1]")
    assert 'SoC group "display" lists swgroup dcb' in proc.stdout
    proc = run_cli("why", str(EXAMPLES / "tegra30.iommu"), "not", "gr3d.dma_ops", "arm_iommu")
    assert "gr3d.dma_ops = dma-direct, not arm_iommu, because:" in proc.stdout


def test_why_bad_query_suggests(tmp_path: Path) -> None:
    # an unknown name is an input error (3), as the README's exit codes say
    proc = run_cli("why", str(EXAMPLES / "tegra30.iommu"), "gr3.dma_ops")
    assert proc.returncode == 3 and "did you mean 'gr3d'?" in proc.stderr
    proc = run_cli("why", str(EXAMPLES / "tegra30.iommu"), "gr3d.dmaops")
    assert proc.returncode == 3 and "did you mean 'dma_ops'?" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_resolve_json_schema() -> None:
    board = Board.load(EXAMPLES / "sdm845.iommu")
    assert not board.errors  # `resolve` would exit 0
    data = json.loads(board.to_json())
    assert data["schema"] == "iommu-rules/resolution" and data["version"] == 1
    adreno = next(d for d in data["devices"] if d["name"] == "adreno")
    assert adreno["default_domain"] == "identity" and adreno["context"] == 0
    assert {"id", "iommu", "members", "default_domain"} <= set(data["groups"][0])
    assert data["platform"]["default_domain"] == "dma"


def test_junit_and_json_test_reports() -> None:
    proc = run_cli("test", "--format", "junit", str(EXAMPLES / "tegra30.iommu"))
    suites = ET.fromstring(proc.stdout)
    suite = suites.find("testsuite")
    assert suite is not None and suite.get("failures") == "0"
    assert len(suite.findall("testcase")) == 2
    proc = run_cli("test", "--format", "json", str(EXAMPLES / "tegra30.iommu"))
    data = json.loads(proc.stdout)
    assert all(e["passed"] for e in data["boards"][0]["expectations"])


def board(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "b.iommu"
    path.write_text('include "std/linux"\nplatform { arch arm64; kernel 6.8 }\n' + text)
    return path


def test_user_rule_against_kernel_choice_names_both(tmp_path: Path) -> None:
    path = board(
        tmp_path,
        'include "std/soc/qcom"\niommu smmu: qcom-smmu { contexts 8 }\n'
        'device mdss: "qcom,sdm845-mdss" { tags display; iommu smmu sid 0x880 }\n'
        "rule display requires dma\n",
    )
    proc = run_cli("check", "--color", "never", str(path))
    assert proc.returncode == 1
    assert "error[E213]: 'mdss' needs dma, but the kernel gives group 0 identity" in proc.stderr
    assert "std/soc/qcom.iommu:" in proc.stderr  # the client-list rule, with its span


def test_two_user_rules_disagree(tmp_path: Path) -> None:
    path = board(
        tmp_path,
        "iommu smmu: arm-smmu { contexts 8 }\n"
        'device a: "x" { iommu smmu sid 0x1 }\ndevice b: "y" { iommu smmu sid 0x1 }\n'
        "rule a requires identity\nrule b requires dma\n",
    )
    proc = run_cli("check", "--color", "never", str(path))
    assert "error[E211]: rules disagree on group 0's default domain" in proc.stderr


def test_lints(tmp_path: Path) -> None:
    path = board(
        tmp_path,
        "iommu smmu: arm-smmu { contexts 2 }\n"
        'device a: "x" { tags gpu; iommu smmu sid 0x1 }\n'
        'device b: "y" { iommu smmu sid 0x2 }\n'
        "domain own: unmanaged on smmu { attach a }\n"
        'rule "ghost": compatible "nope,*" prefers identity\n',
    )
    proc = run_cli("check", "--color", "never", str(path))
    err = proc.stderr
    assert "warning[W201]" in err  # a rule that matches nothing
    assert "error[E301]" in err  # 'own' finds no third context bank
    assert "warning[W202]: 'smmu' uses 2 of its 2 contexts" in err


# One process per hash seed, started once collection is over.
RESOLVE_RUNS = processes_soon(
    "resolve",
    "--json",
    str(EXAMPLES / "x86-desktop.iommu"),
    envs=[{"PYTHONHASHSEED": seed} for seed in ("0", "7", "123", "random", "99")],
)
WHY_RUNS = processes_soon(
    "why",
    str(EXAMPLES / "sdm845.iommu"),
    "qce.group_members",
    envs=[{"PYTHONHASHSEED": seed} for seed in ("0", "7", "random")],
)


@pytest.mark.soon
def test_output_is_deterministic_across_hash_seeds() -> None:
    outs = {proc.stdout for proc in RESOLVE_RUNS.results()}
    assert len(outs) == 1
    whys = {proc.stdout for proc in WHY_RUNS.results()}
    assert len(whys) == 1


def test_every_std_rule_cites_a_kernel_source() -> None:
    from iommu_rules.loader import std_root

    for pack in sorted(std_root().rglob("*.iommu")):
        for rule in Board.load(pack).model.rules:
            assert rule.source, f"{rule.span}: rule '{rule.name}' has no 'source'"
            assert rule.explicit_name, f"{rule.span}: std rules are named"


def test_a_domain_spanning_instances_shows_on_each_in_json_and_dot() -> None:
    board = Board.load(SCENARIOS / "domain-spanning-instances.iommu")
    data = json.loads(board.to_json())
    used = {i["name"]: i["contexts_used"] for i in data["iommus"]}
    # an instance holds one domain (rk_iommu_attach_device): drm replaced the default ones
    assert used == {"vopb_mmu": 1, "vopl_mmu": 1, "vpu_mmu": 1}
    dev = {d["name"]: d for d in data["devices"]}
    assert dev["vopb"]["domain"] == dev["vopl"]["domain"] == "drm"
    dot = board.dot("contexts")
    # the domain's node appears in both IOMMUs' clusters, not in the VPU's
    assert dot.count("1: drm") == 2, dot


FACT = re.compile(r"(iommu|device|bridge|domain) ")
CITATION = re.compile(
    r"(drivers|arch|include)/\S+"  # a kernel path
    r"|\b[\w-]+\.(c|h|dtsi|dts)\b"  # a kernel file
    r"|\b[0-9a-f]{12}\b"  # a commit
    r"|\btegra\w*_(groups|soc)\b"  # the Tegra MC tables
)


def test_every_std_fact_cites_where_it_comes_from() -> None:
    """A fact in a pack (an `iommu`, `device`, `bridge` or `domain` statement) names its
    source in the comment just above it or inside its block, not only in the file header."""
    from iommu_rules.loader import std_root

    missing = []
    for pack in sorted(std_root().rglob("*.iommu")):
        lines = pack.read_text(encoding="utf-8").splitlines()
        for i, line in enumerate(lines):
            if not FACT.match(line):
                continue
            above = []
            j = i - 1
            while j >= 0 and lines[j].startswith("#"):
                above.append(lines[j])
                j -= 1
            body = [line]
            k = i + 1
            while line.rstrip().endswith("{") and k < len(lines) and lines[k] != "}":
                body.append(lines[k])
                k += 1
            if not CITATION.search("\n".join(above + body)):
                missing.append(f"{pack.name}:{i + 1}: {line}")
    assert not missing, "facts without a source:\n" + "\n".join(missing)


UNBOUND = """\
include "std/linux"
platform {{ arch {arch}; kernel {kernel}; ram 0x80000000 size 4G }}
iommu {iommu}
device used: "vendor,used" {{ {link}; pci 0000:00:01.0 }}
device idle: "vendor,idle" {{ {link}; pci 0000:00:02.0 }}
rule "no driver for the idle engine": compatible "vendor,idle" driver none
    source "drivers/base/dd.c: really_probe"
"""


@pytest.mark.parametrize(
    ("arch", "iommu", "link", "kernel", "grouped"),
    [
        # DT: of_iommu_configure runs from really_probe only ...
        ("arm64", "smmu: arm-smmu { cells 1 }", "iommu smmu sid 1", "6.8", False),
        # ... until bcb81ac6ae3c moved the DT parsing into bus_iommu_probe
        ("arm64", "smmu: arm-smmu { cells 1 }", "iommu smmu sid 1", "6.15", True),
        # VT-d probes every PCI function from the DMAR tables at init
        ("x86_64", "vtd: intel-vtd", "iommu vtd", "6.8", True),
    ],
)
def test_a_device_no_driver_binds(
    tmp_path: Path, arch: str, iommu: str, link: str, kernel: str, grouped: bool
) -> None:
    path = tmp_path / "b.iommu"
    path.write_text(UNBOUND.format(arch=arch, iommu=iommu, link=link, kernel=kernel))
    board = Board.load(path)
    data = json.loads(board.to_json())
    dev = {d["name"]: d for d in data["devices"]}
    assert dev["used"]["group"] != "none"
    assert (dev["idle"]["group"] != "none") == grouped
    assert dev["idle"]["dma_ops"] == "none"  # no driver, no DMA API
    why = board.why("idle.iommu").text()
    assert ("no driver binds 'idle'" in why) == (not grouped)


def resolved(text: str):  # type: ignore[no-untyped-def]
    """The board's model, and its resolution (None when it has input errors)."""
    board = Board.from_text(text, "b.iommu")
    return board.model, board.resolution if board.ok else None


def test_a_spanning_domain_respects_the_other_instances_limit() -> None:
    """The domain needs an ID on every instance; none free there is -ENOSPC and that
    instance's groups stay in their default domains."""
    model, res = resolved(
        'include "std/linux"\nplatform { arch x86_64; kernel 6.8; ram 0x0 size 4G }\n'
        "iommu a: intel-vtd { contexts 2 }\niommu b: intel-vtd { contexts 1 }\n"
        'device x: "x" { iommu a; driver own-domain, no-dma-api }\n'
        'device y: "y" { iommu b; driver own-domain, no-dma-api }\n'
        "domain drm: unmanaged on a, b { attach x, y }\n"
    )
    assert not model.diagnostics
    assert [d.code for d in res.errors] == ["E301"]
    assert res.devices["x"].domain == "drm" and res.devices["y"].domain != "drm"
    assert res.context_slots("b") == {0: res.domains[res.devices["y"].domain or ""]}


def test_an_arm_mapping_attaches_single_device_groups_only() -> None:
    """arm_iommu_attach_device -> iommu_attach_device: -EINVAL for a group of two."""
    _, res = resolved(
        'include "std/linux"\nplatform { arch arm; kernel 6.8; ram 0x0 size 1G }\n'
        "iommu a: arm-smmu { cells 1 }\n"
        'device x: "x" { iommu a sid 1; driver detaches-implicit }\n'
        'device y: "y" { iommu a sid 1 }\n'
        'rule "y has no implicit mapping": y excludes implicit source "b"\n'
        "domain m: arm-mapping on a { attach x }\n"
    )
    assert any(d.code == "E302" and "group of one device" in d.message for d in res.errors)
    assert res.devices["y"].values["dma_ops"] != "arm_iommu"


def test_an_own_domain_nobody_declares_is_w208() -> None:
    """A driver no pack knows (`driver own-domain`, no `builds domain` rule) and no `domain`
    statement: the board is told, instead of silently seeing the default domain. Where a
    pack builds the domain (std/soc/exynos), the board needs no statement and gets none."""
    _, res = resolved(
        'include "std/linux"\nplatform { arch arm64; kernel 6.8 }\n'
        "iommu smmu: arm-smmu { contexts 8 }\n"
        'device gpu: "vendor,gpu" { iommu smmu sid 0x1; driver own-domain }\n'
    )
    assert [d.message.split("'")[1] for d in res.diagnostics if d.code == "W208"] == ["gpu"]
    text = (EXAMPLES / "exynos5420.iommu").read_text()
    assert "domain exynos_drm" not in text
    _, res = resolved(text)
    assert not [d for d in res.diagnostics if d.code == "W208"]
    assert res.devices["fimd"].domain == "exynos_drm"


def test_one_line_views_show_every_context_a_domain_holds() -> None:
    """A spanning domain's ID on each instance, a qcom-iommu device's two banks."""
    _, res = resolved((SCENARIOS / "domain-spanning-instances.iommu").read_text())
    assert res.domains["drm"].placement() == "context 1 (vopl_mmu: 1)"
    _, res = resolved((EXAMPLES / "db410c.iommu").read_text())
    assert res.domains["msm_gpu"].placement() == "contexts 1, 2"


COND_DOMAIN = """\
include "std/linux"
platform {{ arch arm64; kernel 6.8; ram 0x80000000 size 2G; cmdline "{cmdline}" }}
iommu smmu: arm-smmu {{ contexts 8 }}
device dc0: "vendor,dc" {{ iommu smmu sid 1; driver own-domain }}
device dc1: "vendor,dc" {{ iommu smmu sid 2; driver own-domain }}
when cmdline has "iommu.passthrough=1" {{
    domain drm: unmanaged on smmu {{ attach dc0, dc1 }}
}}
"""


@pytest.mark.parametrize(("cmdline", "built"), [("quiet", False), ("iommu.passthrough=1", True)])
def test_a_domain_under_when_is_built_only_where_it_holds(cmdline: str, built: bool) -> None:
    board = Board.from_text(COND_DOMAIN.format(cmdline=cmdline), "b.iommu")
    res = board.resolution
    assert not res.errors
    assert ("drm" in res.domains) == built
    assert (res.devices["dc0"].domain == "drm") == built
    members = board.value("drm.members")
    assert members == (["dc0", "dc1"] if built else [])
    text = str(board.why("drm.members"))
    assert "iommu.passthrough" in text  # the condition, either way
    assert ("not built on this platform" in text) != built
    # a conditional domain still counts as declared: no W208 on the other platform
    assert "W208" not in {d.code for d in res.diagnostics}
    assert len(res.context_slots("smmu")) == (1 if built else 2)


def test_a_domain_under_when_is_still_checked_everywhere(tmp_path: Path) -> None:
    path = tmp_path / "b.iommu"
    path.write_text(
        COND_DOMAIN.format(cmdline="quiet").replace("attach dc0, dc1", "attach dc0, dcx")
        + "when kernel >= 6.1 {\n    iommu late: arm-smmu\n}\n"
    )
    proc = run_cli("check", str(path))
    assert proc.returncode == 3 and "Traceback" not in proc.stderr
    assert "error[E103]" in proc.stderr and "dcx" in proc.stderr
    assert "error[E115]: an iommu cannot be inside a 'when' block" in proc.stderr


@pytest.mark.parametrize(
    ("kind", "dma_ops"),
    [
        ("rockchip", "dma-direct"),  # disabled until rk_iommu_enable: bypass
        ("mtk-iommu", "dma-direct"),  # a larb port's MMU bit is set only on attach
        ("arm-smmu { contexts 8; cells 2 }", "none"),  # unattached streams fault (disable_bypass)
    ],
)
def test_arm32_group_without_default_domain_or_mapping(kind: str, dma_ops: str) -> None:
    """arm32 before 6.7: no DMA default domain (no IOMMU_DMA); a group of two gets no
    implicit mapping either (-EINVAL): one group per IOMMU (rockchip, M4U), or two SIDs in
    one stream map entry (arm-smmu, mask 1). Whether its masters still reach memory depends on
    what the IOMMU does with streams no domain is attached to."""
    link, link2 = {
        "rockchip": ("iommu m", "iommu m"),
        "mtk-iommu": ("iommu m sid 1", "iommu m sid 2"),
    }.get(kind, ("iommu m sid 2 mask 1", "iommu m sid 3 mask 1"))
    _, res = resolved(
        'include "std/linux"\nplatform { arch arm; kernel 5.10; ram 0x0 size 1G }\n'
        f"iommu m: {kind}\n"
        f'device a: "vendor,a" {{ {link} }}\ndevice b: "vendor,b" {{ {link2} }}\n'
    )
    assert res.devices["a"].values["default_domain"] == "none"
    assert res.devices["a"].group == res.devices["b"].group
    assert res.devices["a"].values["dma_ops"] == dma_ops


EXYNOS64 = """\
include "std/linux"
include "std/soc/exynos"
platform {{ arch {arch}; kernel {kernel} }}
iommu s_decon0: exynos-sysmmu
iommu s_decon1: exynos-sysmmu
iommu s_tv: exynos-sysmmu
iommu s_scaler: exynos-sysmmu
device decon: "samsung,exynos5433-decon" {{ iommu s_decon0; iommu s_decon1 }}
device decon_tv: "samsung,exynos5433-decon-tv" {{ iommu s_tv }}
device scaler: "samsung,exynos5433-scaler" {{ iommu s_scaler }}
{domain}
"""


def test_default_of_shares_one_devices_default_domain() -> None:
    """Exynos DRM on arm64 (exynos_drm_dma.c): iommu_get_domain_for_dev(dma_dev), then
    iommu_attach_device on every other component."""
    text = EXYNOS64.format(
        arch="arm64", kernel="6.8", domain="domain drm: default of decon { attach decon_tv }"
    )
    model, res = resolved(text)
    assert not model.diagnostics
    # the pack says `driver own-domain` for scaler, which no statement attaches
    assert [(d.code, "'scaler'" in d.message) for d in res.diagnostics] == [("W208", True)]
    drm = res.domains["drm"]
    assert "default:0" not in res.domains  # the default domain goes by its name
    assert (drm.origin, drm.type, drm.devices) == ("default", "dma", ["decon", "decon_tv"])
    # an ID where decon is, on its second System MMU, and on the one of decon_tv
    assert (drm.iommu, drm.context, drm.contexts_on) == ("s_decon0", 0, {"s_decon1": 0, "s_tv": 1})
    tv = res.devices["decon_tv"].values
    assert (tv["domain"], tv["context"], tv["default_domain"]) == ("drm", 1, "dma")
    assert tv["dma_ops"] == "iommu-dma"  # its own default domain's, unused by the driver
    why = res.devices["decon_tv"].reasons["domain"]
    assert why.source == "drivers/iommu/iommu.c: iommu_attach_device"
    assert "default domain of 'decon'" in why.text
    assert res.devices["scaler"].values["domain"] == "default:2"


def test_default_of_warns_for_unattached_components() -> None:
    """W208 for the component the board does not attach; none for the one it names."""
    text = EXYNOS64.format(arch="arm64", kernel="6.8", domain="domain drm: default of decon")
    _, res = resolved(text)
    assert sorted(
        (d.code, d.message.split("'")[1]) for d in res.diagnostics if d.code == "W208"
    ) == [("W208", "decon_tv"), ("W208", "scaler")]


@pytest.mark.parametrize(
    ("arch", "kernel", "domain", "code", "words"),
    [
        # arm32: decon's domain is its implicit mapping, not its default domain
        ("arm", "6.8", "domain drm: default of decon { attach decon_tv }", "E303", "arm_iommu"),
        # arm32 before 6.7: no DMA default domain without IOMMU_DMA, no identity one
        ("arm", "6.1", "domain drm: default of decon { attach decon_tv }", "E303", "has none"),
    ],
)
def test_default_of_without_a_default_domain(
    arch: str, kernel: str, domain: str, code: str, words: str
) -> None:
    model, res = resolved(EXYNOS64.format(arch=arch, kernel=kernel, domain=domain))
    assert not model.diagnostics
    got = [d for d in res.errors if d.code == code]
    assert len(got) == 1 and words in got[0].message
    assert res.devices["decon_tv"].values["domain"] != "drm"
    assert res.domains.get("drm") is None or res.domains["drm"].devices == ["decon"]


def test_default_of_refusals() -> None:
    board = (
        "platform { arch arm64; kernel 6.8 }\niommu a: arm-smmu { contexts 4 }\n"
        'device x: "x" { iommu a sid 1 }\ndevice y: "y" { iommu a sid 2 }\n'
        'device z1: "z" { iommu a sid 3 }\ndevice z2: "z" { iommu a sid 3 }\n'
    )
    # iommu_attach_device: -EINVAL for a group of two
    model, res = resolved(board + "domain d: default of x { attach y, z1 }\n")
    assert not model.diagnostics
    assert [(d.code, "group of one device" in d.message) for d in res.errors] == [("E302", True)]
    assert res.domains["d"].devices == ["x", "y"]  # y joined; z1 and z2 stay apart
    assert res.devices["z1"].values["domain"] == res.devices["z2"].values["domain"] != "d"
    # two names for one group's default domain
    _, res = resolved(board + "domain d1: default of z1\ndomain d2: default of z2\n")
    assert [(d.code, "name the same default domain" in d.message) for d in res.errors] == [
        ("E120", True)
    ]
    assert res.devices["z2"].values["domain"] == "d1"


def test_default_of_model_errors() -> None:
    model, _ = resolved(
        "platform { arch arm64; kernel 6.8 }\n"
        "iommu a: arm-smmu { contexts 4 }\niommu b: arm-smmu { contexts 4 }\n"
        'device x: "x" { iommu a sid 1 }\ndevice y: "y" { iommu b sid 1 }\n'
        'device p: "p"\n'
        "domain d: default of x { attach y, x, p, q }\n"
        "domain e: default of p\n"
    )
    got = [(d.code, d.message) for d in model.diagnostics]
    assert got == [
        ("E120", "'x' is the device whose default domain this is"),
        ("E120", "'p' is behind no IOMMU"),
        ("E103", "unknown device 'q'"),
        (
            "E120",
            "one domain cannot span arm-smmu instances: the driver refuses to attach it "
            "to 'b' once it is set up on 'a' (-EINVAL)",
        ),
        ("E120", "'p' is behind no IOMMU"),
    ]


@pytest.mark.parametrize(
    ("kernel", "lines"),
    [
        ("4.18", []),  # neither line exists yet
        ("5.3", []),
        ("5.4", ["iommu: Default domain type: Translated"]),  # from 5.4
        ("5.14", ["iommu: Default domain type: Translated"]),
        (
            "5.15",
            [
                "iommu: Default domain type: Translated",
                "iommu: DMA domain TLB invalidation policy: strict mode",
            ],
        ),
    ],
)
def test_boot_log_lines_follow_the_kernel_era(kernel: str, lines: list[str]) -> None:
    _, res = resolved(
        f'include "std/linux"\nplatform {{ arch arm64; kernel {kernel} }}\n'
        'iommu s: arm-smmu { contexts 4 }\ndevice d: "x" { iommu s sid 1 }\n'
    )
    assert [line for line in res.log if line.startswith("iommu: ")] == lines


def test_requires_unmanaged_is_still_refused_where_no_driver_asks_for_it() -> None:
    """Only a driver's def_domain_type makes UNMANAGED a default-domain type (mtk_iommu_v1)."""
    _, res = resolved(
        'include "std/linux"\nplatform { arch arm64; kernel 6.8 }\n'
        "iommu smmu: arm-smmu { contexts 4 }\n"
        'device a: "x,a" { iommu smmu sid 1 }\n'
        'rule "r": compatible "x,a" requires unmanaged\n'
    )
    assert [d.code for d in res.errors] == ["E212"]


def test_default_of_one_device_twice_is_an_error() -> None:
    _, res = resolved(
        EXYNOS64.format(
            arch="arm64",
            kernel="6.8",
            domain="domain drm: default of decon { attach decon_tv }\n"
            "domain drm2: default of decon { attach scaler }",
        )
    )
    assert [
        (d.code, "both name the default domain of 'decon'" in d.message) for d in res.errors
    ] == [("E120", True)]
    assert res.devices["decon_tv"].values["domain"] == "drm"  # the first statement holds


def test_a_failed_default_of_leaves_the_default_domain_anonymous() -> None:
    """E303: the statement names nothing, so no domain goes by its name."""
    _, res = resolved(
        EXYNOS64.format(
            arch="arm", kernel="6.8", domain="domain drm: default of decon { attach decon_tv }"
        )
    )
    assert [d.code for d in res.errors] == ["E303"]
    assert "drm" not in res.domains
    group = res.group_of("decon")
    assert group is not None and f"default:{group.id}" in res.domains


def test_dot_groups_draws_a_named_default_domain() -> None:
    board = Board.from_text(
        EXYNOS64.format(
            arch="arm64", kernel="6.8", domain="domain drm: default of decon { attach decon_tv }"
        ),
        "b.iommu",
    )
    text = board.dot("groups")
    assert '"dev:decon_tv" -> "domain:drm"' in text and '"dev:decon" -> "domain:drm"' in text
    assert '"domain:default:' not in text  # anonymous default domains stay in their group box


@pytest.mark.parametrize("kind", ["sun50i-iommu", "mtk-iommu-v1"])
def test_one_table_kinds_take_no_contexts(kind: str) -> None:
    model, _ = resolved(f"platform {{ arch arm }}\niommu i: {kind} {{ contexts 1 }}\n")
    assert [(d.code, "has no contexts to count" in d.message) for d in model.diagnostics] == [
        ("E114", True)
    ]


@pytest.mark.parametrize(
    ("body", "printed"),
    [
        ("", False),  # no IOMMU driver selects IOMMU_API: iommu.c is not built
        ("platform { config IOMMU_API }\n", True),  # a distro kernel: built all the same
        ("iommu smmu: arm-smmu { contexts 8 }\n", True),
        ("iommu smmu: arm-smmu { contexts 8 }\nplatform { config IOMMU_API = n }\n", False),
    ],
)
def test_the_default_domain_line_needs_iommu_api(body: str, printed: bool) -> None:
    """iommu_subsys_init prints 'Default domain type' only where drivers/iommu/iommu.c is
    built (CONFIG_IOMMU_API, selected by every IOMMU driver)."""
    text = 'include "std/linux"\nplatform { arch arm64; kernel 6.8; ram 0x0 size 4G }\n' + body
    board = Board.from_text(text, "b.iommu")
    assert not board.diagnostics
    log = board.resolution.log
    assert any("Default domain type" in line for line in log) == printed, log


ARM_SMMU_TWO = (
    'include "std/linux"\nplatform { arch arm64; kernel KERNEL; ram 0x0 size 4G }\n'
    "iommu a: arm-smmu { contexts 8; cells 1 }\n"
    'device x: "x" { iommu a sid 1 }\ndevice y: "y" { iommu a sid 2 }\n'
)


def test_prefers_moves_only_the_group_of_the_device_it_names() -> None:
    """A soft rule for one device: its group takes the type, the group beside it on the
    same IOMMU keeps the kernel's choice."""
    _, res = resolved(ARM_SMMU_TWO.replace("KERNEL", "6.8") + "rule y prefers identity\n")
    assert res.devices["y"].values["default_domain"] == "identity"
    assert res.devices["x"].values["default_domain"] not in ("identity", "none")
    assert "preferred for 'y'" in res.devices["y"].reasons["default_domain"].text


def test_a_def_domain_type_wish_widens_only_its_own_group() -> None:
    """A driver's def_domain_type asking for UNMANAGED makes that type allocatable for its
    group (5.8 to 6.6), not for the other groups of the same IOMMU."""
    _, res = resolved(ARM_SMMU_TWO.replace("KERNEL", "6.1") + "rule y def-domain-type unmanaged\n")
    assert res.devices["y"].values["default_domain"] == "unmanaged"
    assert res.devices["x"].values["default_domain"] not in ("unmanaged", "none")


@pytest.mark.parametrize(
    ("platform", "iommu", "default", "refused"),
    [
        # the global default (dma-fq, strict on an arm-smmu): nothing else speaks
        ("arch arm64; kernel 6.8", "a: arm-smmu { cells 1 }", "dma", False),
        # no IOMMU_DMA: identity, for every group (iommu_get_default_domain_type)
        (
            "arch arm64; kernel 6.8; config IOMMU_DMA = n",
            "a: arm-smmu { cells 1 }",
            "identity",
            False,
        ),
        # ARM_DMA_USE_IOMMU forces identity, even with IOMMU_DMA stated
        ("arch arm; kernel 6.8; config IOMMU_DMA", "a: arm-smmu { cells 1 }", "identity", False),
        # a driver's static default domain: taken from 6.8, refused in 6.7
        ("arch powerpc; kernel 6.8; config IOMMU_DMA", "a: fsl-pamu", "platform", False),
        ("arch powerpc; kernel 6.7; config IOMMU_DMA", "a: fsl-pamu", "None", True),
    ],
)
def test_the_kernel_choice_for_a_group_no_member_fact_speaks_of(
    platform: str, iommu: str, default: str, refused: bool
) -> None:
    """From 6.7 the kernel's choice reads the driver and the config before any member (the
    resolver gives a group of plain members the global default only where none of these
    speaks)."""
    _, res = resolved(
        f'include "std/linux"\ninclude "std/iommu/fsl-pamu"\n'
        f"platform {{ {platform}; ram 0x0 size 1G }}\niommu {iommu}\n"
        'device x: "x" { iommu a sid 1 }\n'
    )
    assert str(res.groups[0].default) == default
    assert any(d.code == "E210" for d in res.errors) == refused


@pytest.mark.parametrize("verb", ["requires", "def-domain-type", "prefers"])
def test_a_blocked_default_domain_leaves_no_dma_ops(verb: str) -> None:
    """A group whose default domain is blocked: no DMA works, whatever its IOMMU passes."""
    _, res = resolved(
        'include "std/linux"\nplatform { arch arm64; kernel 6.8 }\niommu a: arm-smmu-v3\n'
        'device x: "x" { iommu a sid 1 }\ndevice y: "y" { iommu a sid 2 }\n'
        f"rule x {verb} blocked\n"
    )
    assert str(res.group_of("x").default) == "blocked"
    assert str(res.devices["x"].values["dma_ops"]) == "none"
    assert "blocks all DMA" in res.devices["x"].reasons["dma_ops"].text
    assert str(res.devices["y"].values["dma_ops"]) == "iommu-dma"


def test_withheld_contexts_are_skipped_and_named_in_every_allocation() -> None:
    """Firmware-reserved and secure banks are never handed out: each allocation's why names
    them, and the exhausted IOMMU's error counts them as withheld."""
    board = Board.from_text(
        'include "std/linux"\nplatform { arch arm64; kernel 6.8 }\n'
        "iommu a: arm-smmu { contexts 4; reserved 0; secure 1 }\n"
        + "".join(f'device {n}: "{n}" {{ iommu a sid {i} }}\n' for i, n in enumerate("xyz", 1))
    )
    res = board.resolution
    assert [res.devices[n].values["context"] for n in "xyz"] == [2, 3, "none"]
    for name in "xy":
        why = board.why(f"{name}.context").text()
        assert "context 0 is reserved by firmware" in why
        assert "context 1 is secure and never handed out" in why
    (full,) = [d.message for d in res.diagnostics if "no free context" in d.message]
    assert "(2 of 4 in use, context 0 reserved by firmware, context 1 secure)" in full


def test_a_settled_resolution_works_out_its_live_domains_once() -> None:
    """The checks and both sides of every diff ask which domains are live: once settled,
    the answer is kept (and cannot be changed by a caller); while the stages run, it
    follows the devices."""
    res = Board.load(str(EXAMPLES / "tegra30.iommu")).resolution
    live = res.live_domains()
    assert live == {d.domain for d in res.devices.values() if d.domain}
    assert res.live_domains() is live and isinstance(live, frozenset)
    # a resolution still being made (settled is False) asks the devices every time
    making = Resolution(res.model, res.platform, devices=res.devices)
    assert making.live_domains() == live
    next(d for d in res.devices.values() if d.domain).domain = None
    assert making.live_domains() == {d.domain for d in res.devices.values() if d.domain} != live
    assert res.live_domains() is live


def test_every_group_decides_and_prints_its_own_fallback() -> None:
    """iommu_group_alloc_default_domain runs once per group: on an IOMMU with no identity
    domain, passthrough falls back to DMA in each group, and each prints the line. Groups no
    rule speaks of get one answer per IOMMU; a group a rule speaks of is decided by the
    rule, not by what the others got."""
    devices = "".join(f'device d{i}: "v,d" {{ iommu smmu sid {i} }}\n' for i in range(4))
    res = Board.from_text(
        'include "std/linux"\n'
        'platform { arch arm64; kernel 6.8; cmdline "iommu.passthrough=1" }\n'
        "iommu smmu: arm-smmu { contexts 8; domains dma, unmanaged }\n"
        + devices
        + "rule d2 prefers dma\n",
        "fallback.iommu",
    ).resolution
    assert len({res.devices[f"d{i}"].group for i in range(4)}) == 4
    assert sum("Falling back to IOMMU_DOMAIN_DMA" in line for line in res.log) == 4
    types = {f"d{i}": res.devices[f"d{i}"].values["default_domain"] for i in range(4)}
    assert types == {"d0": "dma", "d1": "dma", "d2": "dma", "d3": "dma"}
    assert res.devices["d2"].reasons["default_domain"].text == "dma: preferred for 'd2'"
    fell = res.devices["d0"].reasons["default_domain"].text
    assert fell == res.devices["d3"].reasons["default_domain"].text
    assert "falling back to dma" in fell


def test_default_domains_take_contexts_in_probe_order() -> None:
    """Default domains take their contexts as their groups' first devices probe: by the
    stated probe-order, else the device's place in the file (c is the third: 2), ties in
    the file's order (arm_smmu_init_domain_context at attach)."""
    res = Board.from_text(
        'include "std/linux"\nplatform { arch arm64; kernel 6.8 }\n'
        "iommu smmu: arm-smmu { contexts 8 }\n"
        'device a: "v,a" { iommu smmu sid 1; probe-order 3 }\n'
        'device b: "v,b" { iommu smmu sid 2; probe-order 1 }\n'
        'device c: "v,c" { iommu smmu sid 3 }\n'
        'device d: "v,d" { iommu smmu sid 4; probe-order 1 }\n',
        "order.iommu",
    ).resolution
    contexts = {n: res.devices[n].values["context"] for n in "abcd"}
    assert contexts == {"b": 0, "d": 1, "c": 2, "a": 3}
