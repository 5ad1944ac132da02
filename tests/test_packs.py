"""The stdlib packs and the commands that show them."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from kinds.boards import EXYNOS_BOARD, MSM, OMAP, P9, PAMU, Z, _p9, _pamu, _why

from iommu_rules import Board

from conftest import EXAMPLES, import_dts, run_cli

if TYPE_CHECKING:
    from iommu_rules.resolution import Resolution


def imported(tmp_path, compatible: str, body: str):  # type: ignore[no-untyped-def]
    """`import dts` of a flat DT with this root compatible list; (process, output file)."""
    return import_dts(tmp_path, f"/dts-v1/;\n/ {{\n\tcompatible = {compatible};\n{body}}};\n")


def test_packs_lists_each_with_summary_and_eras() -> None:
    proc = run_cli("packs")
    assert proc.returncode == 0
    lines = proc.stdout.splitlines()
    assert any(line.startswith("std/linux ") for line in lines)
    tegra = next(line for line in lines if line.startswith("std/soc/tegra "))
    assert "Tegra" in tegra and "6.7" in tegra


def test_show_pack_prints_it_and_suggests() -> None:
    proc = run_cli("show-pack", "std/soc/tegra")
    assert proc.returncode == 0 and "tegra_smmu_def_domain_type" in proc.stdout
    proc = run_cli("show-pack", "std/soc/tegr")
    assert proc.returncode == 2 and "did you mean 'std/soc/tegra'" in proc.stderr


def test_compare_two_kernels() -> None:
    proc = run_cli(
        "compare", str(EXAMPLES / "tegra30.iommu"), "--kernel", "4.18", "--kernel", "6.8"
    )
    assert proc.returncode == 0
    assert proc.stdout.startswith("kernel 4.18 → 6.8")
    assert "default_domain: none → identity" in proc.stdout
    assert "E401" not in proc.stdout
    assert run_cli("compare", str(EXAMPLES / "tegra30.iommu"), "--kernel", "4.18").returncode == 2


def test_every_pack_checks_clean_on_its_own() -> None:
    from iommu_rules.loader import std_root

    packs = sorted(str(p) for p in std_root().rglob("*.iommu"))
    proc = run_cli("check", *packs)
    assert proc.returncode == 0, proc.stderr


def test_compare_with_a_bad_version_is_a_diagnostic() -> None:
    proc = run_cli("compare", str(EXAMPLES / "tegra30.iommu"), "--kernel", "abc", "--kernel", "6.8")
    assert proc.returncode == 3 and "error[E001]" in proc.stderr
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr


def test_arm_mapping_needs_arm32_and_a_detached_implicit_mapping() -> None:
    res = Board.from_text(EXYNOS_BOARD.format(arch="arm64", on="", extra=""), "b").resolution
    assert [(d.code, "arm32 dma_iommu_mapping" in d.message) for d in res.errors] == [
        ("E120", True)
    ]
    # jpeg's driver keeps its implicit mapping: the shared mapping cannot take it (-EBUSY)
    text = EXYNOS_BOARD.format(arch="arm", on=", sysmmu_jpeg", extra=", jpeg")
    board = Board.from_text(text, "b")
    assert not board.model.diagnostics
    assert [d.code for d in board.resolution.errors] == ["E302"]


def test_tegra234_pcie_controllers_map_onto_their_smmu() -> None:
    """tegra234.dtsi: iommu-map = <0x0 &smmu_nisoN TEGRA234_SID_PCIEn 0x1000> with mask 0:
    one group per controller, on the SMMU that controller is wired to."""
    text = """\
include "std/linux"
include "std/soc/tegra234"
platform { arch arm64; kernel 6.8; ram 0x80000000 size 32G }
device nvme: "pci144d,a808" { pci 0004:01:00.0 }
device eth: "pci10ec,8168" { pci 0008:01:00.0 }
device eth2: "pci10ec,8168" { pci 0008:02:00.0 }
"""
    res = Board.from_text(text, "orin.iommu").resolution
    assert not res.errors
    assert res.devices["nvme"].iommu == "smmu_niso0"  # PCIE4, SID 0x13
    assert res.devices["eth"].iommu == res.devices["eth2"].iommu == "smmu_niso1"  # PCIE8
    assert res.devices["eth"].values["group_members"] == ["eth", "eth2"]  # mask 0: one SID


SC7180 = """\
include "std/linux"
include "std/soc/sc7180"
platform {{ arch arm64; kernel {kernel}; ram 0x80000000 size 2G }}
# sc7180.dtsi and sc7180-trogdor.dtsi `iommus`
device gpu: "qcom,adreno-618.0", "qcom,adreno" {{ iommu adreno_smmu sid 0 }}
device gmu: "qcom,adreno-gmu-618.0", "qcom,adreno-gmu" {{ iommu adreno_smmu sid 5 }}
device mdss: "qcom,sc7180-mdss" {{ iommu apps_smmu sid 0x800 mask 0x2 }}
device venus: "qcom,sc7180-venus" {{ iommu apps_smmu sid 0xc00 mask 0x60 }}
device mss: "qcom,sc7180-mss-pil" {{
    iommu apps_smmu sid 0x461 mask 0x0
    iommu apps_smmu sid 0x444 mask 0x3
}}
device sdhc_1: "qcom,sc7180-sdhci", "qcom,sdhci-msm-v5" {{ iommu apps_smmu sid 0x60 mask 0x0 }}
"""


@pytest.mark.parametrize(
    ("kernel", "identity", "gpu_context"),
    [
        # no def_domain_type before 5.8: every client translated, the GPU in any free bank
        ("5.4", set(), 0),
        # qcom_smmu_client_of_match: Adreno, "qcom,sc7180-mdss", "qcom,sc7180-mss-pil"
        ("6.1", {"gpu", "mdss", "mss"}, None),
        # afc95681c306 adds the GMU (6.8)
        ("6.8", {"gpu", "gmu", "mdss", "mss"}, None),
    ],
)
def test_sc7180_pack_follows_the_qcom_client_list(
    kernel: str, identity: set[str], gpu_context: int | None
) -> None:
    res = Board.from_text(SC7180.format(kernel=kernel), "trogdor.iommu").resolution
    assert not res.errors
    got = {n for n, d in res.devices.items() if d.values["default_domain"] == "identity"}
    assert got == identity
    assert res.devices["venus"].values["dma_ops"] == "iommu-dma"
    group = res.group_of("gpu")
    assert group is not None
    # the GPU's default domain (its own, msm_gpu, comes from std/driver/msm)
    assert res.domains[f"default:{group.id}"].context == gpu_context
    assert res.devices["gpu"].domain == "msm_gpu"
    assert len(res.groups) == 6  # one stream map entry each, no shared SMR


SM8250 = """\
include "std/linux"
include "std/soc/sm8250"
platform {{ arch arm64; kernel {kernel}; ram 0x80000000 size 2G }}
device gpu: "qcom,adreno-650.2", "qcom,adreno" {{ iommu adreno_smmu sid 0 mask 0x401 }}
device mdss: "qcom,sm8250-mdss" {{ iommu apps_smmu sid 0x820 mask 0x402 }}
device ufs: "qcom,sm8250-ufshc", "qcom,ufshc" {{
    iommu apps_smmu sid 0x0e0 mask 0
    iommu apps_smmu sid 0x4e0 mask 0
}}
device wifi: "pci17cb,1101" {{ pci 0000:01:00.0 }}
device nvme: "pci144d,a808" {{ pci 0001:01:00.0 }}
device behind_switch: "pci10ec,8168" {{ pci 0002:02:00.0 }}
"""


@pytest.mark.parametrize(
    ("soc", "kernel", "mdss"),
    [
        ("sm8250", "5.19", "dma"),
        ("sm8250", "6.0", "identity"),  # Emma Anholt's patch, posted June 2022
        ("sm8150", "6.2", "dma"),
        ("sm8150", "6.3", "identity"),  # "Add SM8150 DPU compatible", December 2022
    ],
)
def test_sm8x50_packs_map_bus_1_of_each_pcie_host(soc: str, kernel: str, mdss: str) -> None:
    """sm8250.dtsi's and sm8150.dtsi's iommu-maps cover RID 0x100 only: bus 1 device 0 is
    translated on its host's stream ID, a function further down has no translation
    (of_map_id). Their MDSS joined qcom_smmu_client_of_match in 6.0 and 6.3."""
    text = SM8250.format(kernel=kernel).replace("sm8250", soc)
    if soc == "sm8150":  # two PCIe hosts on SM8150
        text = text.replace("0002:02:00.0", "0001:02:00.0")
    res = Board.from_text(text, "board.iommu").resolution
    assert not res.errors
    assert res.devices["wifi"].iommu == res.devices["nvme"].iommu == "apps_smmu"
    assert res.devices["wifi"].group != res.devices["nvme"].group  # SIDs 0x1c01, 0x1c81
    assert res.devices["behind_switch"].iommu is None
    assert res.devices["mdss"].values["default_domain"] == mdss
    # "qcom,adreno" has been on the client list since 5.9: identity, no context bank
    assert res.devices["gpu"].values["default_domain"] == "identity"


@pytest.mark.parametrize(
    ("root", "pack"),
    [
        ("qcom,sc7180", "sc7180"),
        ("qcom,sc7280", "sc7280"),
        ("qcom,sm8150", "sm8150"),
        ("qcom,sm8250", "sm8250"),
    ],
)
def test_import_dts_uses_the_qcom_soc_packs(root: str, pack: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    _, out = imported(
        tmp_path,
        f'"vendor,board", "{root}"',
        '\tapps_smmu: iommu@15000000 { compatible = "qcom,smmu-500", "arm,mmu-500";'
        " #iommu-cells = <2>; };\n"
        '\tadreno_smmu: iommu@5040000 { compatible = "qcom,adreno-smmu", "qcom,smmu-v2";'
        " #iommu-cells = <1>; };\n"
        '\tmmc@7c4000 { compatible = "qcom,sdhci-msm-v5"; iommus = <&apps_smmu 0x60 0x0>; };\n'
        '\tgpu@5000000 { compatible = "qcom,adreno"; iommus = <&adreno_smmu 0>; };\n',
    )
    text = out.read_text()
    assert f'include "std/soc/{pack}"' in text
    assert f"declared by std/soc/{pack} as 'apps_smmu'" in text
    assert f"declared by std/soc/{pack} as 'adreno_smmu'" in text
    assert "\niommu " not in text
    assert run_cli("check", str(out)).returncode == 0


def test_import_dts_uses_the_mt8192_pack(tmp_path) -> None:  # type: ignore[no-untyped-def]
    _, out = imported(
        tmp_path,
        '"google,spherion", "mediatek,mt8192"',
        '\tiommu0: m4u@1401d000 { compatible = "mediatek,mt8192-m4u"; #iommu-cells = <1>; };\n'
        '\tovl@14005000 { compatible = "mediatek,mt8192-disp-ovl";'
        " iommus = <&iommu0 2>, <&iommu0 1>; };\n"
        '\tvcodec@17020000 { compatible = "mediatek,mt8192-vcodec-enc";'
        " iommus = <&iommu0 0xe0>; };\n",
    )
    text = out.read_text()
    assert 'include "std/soc/mt8192"' in text and "declared by std/soc/mt8192 as 'iommu0'" in text
    res = Board.from_text(text, "a.iommu").resolution  # kernel 6.8, the import's default
    assert not res.errors
    assert len(res.groups) == 2  # display in region 0, the encoder in region 1


def test_import_dts_for_mt8195_writes_the_hosts_map_onto_the_pack_iommu(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """std/soc/mt8195 declares the infra IOMMU without maps (a host's PCI domain depends on
    the hosts a board enables): the board says the host's iommu-map as a top-level `map`."""
    proc, out = imported(
        tmp_path,
        '"google,cherry", "mediatek,mt8195"',
        "\t#address-cells = <2>;\n\t#size-cells = <2>;\n"
        '\tiommu_infra: infra-iommu@10315000 { compatible = "mediatek,mt8195-iommu-infra";'
        " #iommu-cells = <1>; };\n"
        '\tpcie@112f0000 { compatible = "mediatek,mt8195-pcie"; device_type = "pci";'
        " #address-cells = <3>; #size-cells = <2>;"
        " iommu-map = <0 &iommu_infra 18 0x2>; iommu-map-mask = <0x0>; };\n",
    )
    assert "W814" not in proc.stderr
    text = out.read_text()
    assert "\nmap iommu_infra rid 0x0 sid 0x12 length 0x2 mask 0x0\n" in text
    assert run_cli("check", str(out)).returncode == 0


def test_jetson_tx2_passthrough_puts_the_drm_clients_in_one_domain() -> None:
    """fae6e669cdc5 (6.8): with identity defaults host1x_client_iommu_attach attaches the
    heads, VIC and NVDEC to tegra-drm's domain; the board's `when` expectations say so."""
    text = (EXAMPLES / "jetson-tx2.iommu").read_text(encoding="utf-8")
    text = text.replace('fw_devlink=on"', 'fw_devlink=on iommu.passthrough=1"')
    res = Board.from_text(text, "jetson-tx2.iommu").resolution
    drm = [
        (e.query.attribute.text, ok)
        for e, ok, _, _ in res.expectations
        if e.query.subject.text in ("tegra_drm", "head2")
    ]
    # the `when` block's hold; the unconditional "not built" one fails, as it should
    assert drm == [
        ("dma_ops", False),  # head2: dma-direct now, not iommu-dma
        ("domain", True),
        ("members", True),
        ("context", True),
        ("members", False),
    ]
    assert res.devices["nvdec"].values["domain"] == "tegra_drm"
    assert res.devices["host1x"].values["domain_type"] == "identity"
    # on 6.7 the early return still holds: nothing is attached
    old = Board.from_text(text.replace("kernel 6.8", "kernel 6.7"), "b.iommu").resolution
    assert old.devices["head0"].values["domain_type"] == "identity"


SC7280 = """\
include "std/linux"
include "std/soc/sc7280"
platform {{ arch arm64; kernel {kernel}; ram 0x80000000 size 8G }}
# sc7280.dtsi `iommus` (008f05a72d32)
device gpu: "qcom,adreno-635.0", "qcom,adreno" {{ iommu adreno_smmu sid 0 mask 0x401 }}
device gmu: "qcom,adreno-gmu-635.0", "qcom,adreno-gmu" {{ iommu adreno_smmu sid 5 mask 0x400 }}
device mdss: "qcom,sc7280-mdss" {{ iommu apps_smmu sid 0x900 mask 0x402 }}
device venus: "qcom,sc7280-venus" {{
    iommu apps_smmu sid 0x2180 mask 0x20
    iommu apps_smmu sid 0x2184 mask 0x20
}}
device wifi: "qcom,wcn6750-wifi" {{ iommu apps_smmu sid 0x1c00 mask 0x1 }}
device nvme: "pci144d,a80a" {{ pci 0001:01:00.0 }}
device behind_switch: "pci10ec,8168" {{ pci 0001:02:00.0 }}
"""


@pytest.mark.parametrize(
    ("kernel", "identity"),
    [
        ("5.10", {"gpu"}),  # "qcom,adreno" (5.9); sc7280-mdss not yet
        ("6.1", {"gpu", "mdss"}),  # "qcom,sc7280-mdss" (5.13)
        ("6.8", {"gpu", "gmu", "mdss"}),  # afc95681c306 adds the GMU
    ],
)
def test_sc7280_pack(kernel: str, identity: set[str]) -> None:
    """sc7280.dtsi: 80 apps banks, 10 Adreno banks (MMU-500, two cells), pcie1's map of
    RID 0x0 and 0x100 only; the identity clients follow qcom_smmu_client_of_match."""
    res = Board.from_text(SC7280.format(kernel=kernel), "herobrine.iommu").resolution
    assert not res.errors
    got = {n for n, d in res.devices.items() if d.values["default_domain"] == "identity"}
    assert got == identity
    assert res.model.iommus["apps_smmu"].contexts == 80
    assert res.model.iommus["adreno_smmu"].contexts == 10
    assert res.devices["nvme"].iommu == "apps_smmu"  # RID 0x100 -> SID 0x1c81
    assert res.devices["behind_switch"].iommu is None  # no iommu-map entry for bus 2
    assert res.devices["venus"].values["dma_ops"] == "iommu-dma"


@pytest.mark.parametrize(
    ("kind", "text"),
    [
        ("s390-iommu", "claims every PCI function itself"),
        ("intel-vtd", "claims every PCI function itself"),
        ("rockchip", "is not known to translate PCI functions"),
    ],
)
def test_map_lines_where_no_iommu_map_is_read_warn(kind: str, text: str) -> None:
    board = (
        f"iommu i: {kind} {{ map rid 0x0 sid 0x0 length 0x100 }}\n"
        'device nic: "pci8086,1533" { pci 0000:00:02.0 }\n'
    )
    warned = [d for d in Board.from_text(board, "m.iommu").model.diagnostics if d.code == "W214"]
    assert len(warned) == 1 and text in warned[0].message
    # a kind that reads iommu-map says nothing
    ok = board.replace(kind, "arm-smmu-v3")
    assert "W214" not in {d.code for d in Board.from_text(ok, "m.iommu").model.diagnostics}


@pytest.mark.parametrize("board", ["pamu", "p9"])
def test_a_static_platform_default_fails_every_probe_in_6_7(board: str) -> None:
    """6.7 ignored ops->default_domain when choosing a type and asked for identity (no
    IOMMU_DMA): iommu_group_alloc_default_domain refused it, no device got a group. Fixed
    in 6.8 by 83b3836bf83f ("iommu: Allow ops->default_domain to work when
    !CONFIG_IOMMU_DMA")."""
    res = _pamu("6.7") if board == "pamu" else _p9("6.7")
    refused = [d for d in res.diagnostics if d.code == "E210"]
    assert refused and "static platform domain" in refused[0].message
    assert "fixed in 6.8 by 83b3836bf83f" in refused[0].message
    dev, ops = ("dma0", "dma-direct+swiotlb") if board == "pamu" else ("nvme", "dma-direct")
    assert res.devices[dev].values["default_domain"] == "none"
    assert res.devices[dev].values["dma_ops"] == ops  # the DMA API never depended on it


def test_platform_default_is_a_hard_choice_for_user_rules() -> None:
    """The driver's static default domain wins: a rule asking for another type is E213,
    one asking for platform holds, and `excludes implicit` cannot remove it."""
    assert not _p9(extra="rule nvme requires platform").errors
    for rule in ("rule nvme requires identity", "rule nvme excludes implicit"):
        res = _p9(extra=rule)
        assert "E213" in {d.code for d in res.diagnostics}, rule
        assert res.devices["nvme"].values["default_domain"] == "platform"


def test_platform_is_the_static_default_of_two_drivers_only() -> None:
    """Another driver asked for a platform domain cannot allocate one (W210); before 6.7
    there is none to require (E212, saying so)."""
    board = (
        'include "std/linux"\nplatform { arch arm64; kernel 6.8 }\n'
        "iommu smmu: arm-smmu-v3\n"
        'device a: "x" { iommu smmu sid 1 }\n'
        'rule compatible "x" def-domain-type platform\n'
    )
    res = Board.from_text(board, "b.iommu").resolution
    assert "W210" in {d.code for d in res.diagnostics}
    assert res.devices["a"].values["default_domain"] == "none"
    res = _p9("6.5", extra="rule nvme requires platform")
    [e212] = [d for d in res.diagnostics if d.code == "E212"]
    assert any("no platform domain before 6.7" in label.message for label in e212.secondary)


@pytest.mark.parametrize(
    ("board", "arch"),
    [
        (OMAP.format(kernel="6.12", extra="", arch="arm64"), "arm"),
        (Z.format(kernel="6.12", arch="arm64", cmdline="", quirk=""), "s390"),
        (MSM.format(kernel="6.12", extra="", gfx3d1="", arch="arm64"), "arm"),
        (PAMU.format(kernel="6.8", quirk="", extra="").replace("powerpc", "arm64"), "powerpc"),
        (P9.format(kernel="6.8", quirk="", extra="").replace("powerpc", "arm64"), "powerpc"),
    ],
    ids=["omap-iommu", "s390-iommu", "msm-iommu", "fsl-pamu", "spapr-tce"],
)
def test_an_iommu_is_refused_off_the_arch_that_builds_it(board: str, arch: str) -> None:
    e130 = [d for d in Board.from_text(board, "b.iommu").model.diagnostics if d.code == "E130"]
    assert e130 and f"built only on arch {arch}" in e130[0].message


LAZY = """\
include "std/linux"
platform {{ arch {arch}; kernel {kernel}; cmdline "iommu.strict=0" }}
iommu mmu: {kind}
device dev: "x" {{ iommu mmu{stream} }}
{extra}
"""


def _lazy(kind: str, kernel: str, extra: str = "", arch: str = "arm64") -> Resolution:
    stream = "" if kind == "rockchip" else " sid 1"
    text = LAZY.format(kind=kind, kernel=kernel, extra=extra, arch=arch, stream=stream)
    return Board.from_text(text, "lazy.iommu").resolution


@pytest.mark.parametrize(
    ("kind", "kernel", "default", "warned"),
    [
        # 5.15..6.4: only the AMD, VT-d and arm-smmu drivers' domain_alloc took DMA_FQ;
        # another driver's group falls back to strict DMA and the core says so
        ("rockchip", "6.1", "dma", True),
        ("arm-smmu-v3", "6.1", "dma-fq", False),
        ("virtio", "6.1", "dma", True),
        # 6.5+: allocated for all, kept only with IOMMU_CAP_DEFERRED_FLUSH, silently
        ("rockchip", "6.8", "dma", False),
        ("arm-smmu-v3", "6.8", "dma-fq", False),
        ("virtio", "6.6", "dma", False),
        ("virtio", "6.8", "dma-fq", False),  # viommu_capable from 6.8
    ],
)
def test_lazy_dma_needs_the_driver(kind: str, kernel: str, default: str, warned: bool) -> None:
    res = _lazy(kind, kernel)
    assert res.global_default == "dma-fq"
    assert res.devices["dev"].values["default_domain"] == default
    fallback = "iommu: Failed to allocate default IOMMU domain of type 11 for group (null)"
    assert any(line.startswith(fallback) for line in res.log) is warned
    if default == "dma" and not warned:
        assert "IOMMU_CAP_DEFERRED_FLUSH" in _why(res, "dev", "default_domain")


def test_requiring_dma_fq_where_the_flush_queue_is_dropped_is_an_error() -> None:
    res = _lazy("rockchip", "6.8", "rule dev requires dma-fq")
    [e212] = [d for d in res.diagnostics if d.code == "E212"]
    assert "IOMMU_CAP_DEFERRED_FLUSH" in e212.message
    assert res.devices["dev"].values["default_domain"] == "dma"
