"""The stdlib packs and the commands that show them."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

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


SOC_GROUP_BOARD = """\
include "std/linux"
include "std/soc/tegra30"
platform {{ arch arm; kernel {kernel}; ram 0x80000000 size 1G; config ARM_DMA_USE_IOMMU }}
device gr2d: "nvidia,tegra30-gr2d" {{ iommu mc swgroup g2 }}
device gr3d: "nvidia,tegra30-gr3d" {{ iommu mc swgroup nv }}
device dc0: "nvidia,tegra30-dc" {{ iommu mc swgroup dc }}
device dc1: "nvidia,tegra30-dc" {{ iommu mc swgroup dcb }}
"""


@pytest.mark.parametrize(
    ("kernel", "members", "name"),
    [
        # tegra30_groups before and after 63a613fdb16c (5.5)
        ("4.18", ["gr3d"], None),
        ("5.4", ["gr3d"], None),
        ("5.5", ["gr2d", "gr3d", "dc0", "dc1"], "drm"),
        ("6.8", ["gr2d", "gr3d", "dc0", "dc1"], "drm"),
    ],
)
def test_soc_groups_follow_the_kernel(kernel: str, members: list[str], name: str | None) -> None:
    res = Board.from_text(SOC_GROUP_BOARD.format(kernel=kernel), "b.iommu").resolution
    assert res.devices["gr3d"].values["group_members"] == members
    display = res.group_of("dc0")
    assert display is not None and display.name == (name or "display")
    if name is None:
        assert display.members == ["dc0", "dc1"]
        why = "\n".join(display.reason.lines())
        assert 'SoC group "display" lists swgroup dcb' in why and f"kernel {kernel}" in why


def test_tegra124_gpu_was_in_the_drm_group_from_5_5_to_5_9() -> None:
    board = """\
include "std/soc/tegra124"
platform {{ arch arm; kernel {kernel}; ram 0x80000000 size 2G }}
device gpu: "nvidia,gk20a" {{ iommu mc swgroup gpu }}
device dc0: "nvidia,tegra124-dc" {{ iommu mc swgroup dc }}
device vic: "nvidia,tegra124-vic" {{ iommu mc swgroup vic }}
"""
    got = {}
    for kernel in ("5.4", "5.8", "5.10"):
        res = Board.from_text(board.format(kernel=kernel), "b.iommu").resolution
        got[kernel] = res.devices["dc0"].values["group_members"]
    assert got == {"5.4": ["dc0"], "5.8": ["gpu", "dc0", "vic"], "5.10": ["dc0", "vic"]}


AMD_BOARD = """\
include "std/linux"
include "std/iommu/amd-vi"
platform {{ arch x86_64; kernel {kernel}; ram 0x0 size 16G{extra} }}
iommu amdvi: amd-vi
device gpu: "pci1002,699f" {{ caps ats, pri, pasid; pci 0000:04:00.0 }}
device nic: "pci10ec,8125" {{ pci 0000:05:00.0 }}
device egpu: "pci1002,73a5" {{ caps ats, pri, pasid; pci 0000:06:00.0; untrusted }}
device acc: "pci1022,14c9" {{ caps pasid; pci 0000:07:00.0 }}
"""
SME_DEFAULT = "; config AMD_MEM_ENCRYPT_ACTIVE_BY_DEFAULT"


@pytest.mark.parametrize(
    ("kernel", "extra", "gpu", "acc"),
    [
        # "-": the global default (lazy DMA on x86 from 5.15, DMA before); identity: the wish
        ("5.4", "", "-", "-"),  # no def_domain_type callback yet
        ("5.8", "", "identity", "-"),  # dev_data->iommu_v2: ATS + PRI + PASID
        ("5.8", '; cmdline "mem_encrypt=on"', "identity", "-"),  # no SME test in 5.8.0
        ("5.10", '; cmdline "mem_encrypt=on"', "-", "-"),  # 7cad554887f1
        ("5.10", SME_DEFAULT, "-", "-"),  # sme_enable: active by default
        ("5.10", SME_DEFAULT + '; cmdline "mem_encrypt=off"', "identity", "-"),
        ("6.5", SME_DEFAULT, "identity", "-"),  # cbebd68f59f0's early return
        ("6.6", '; cmdline "pci=noats"', "-", "-"),  # pci_ats_supported fails
        ("6.6", '; cmdline "amd_iommu=force_isolation"', "-", "-"),
        ("6.7", "", "identity", "identity"),  # 92e2bd56a5f9: pdev_pasid_supported
        ("6.8", '; cmdline "amd_iommu=force_isolation"', "-", "-"),
        ("6.8", '; cmdline "mem_encrypt=on"', "-", "-"),  # CC_ATTR_MEM_ENCRYPT
    ],
)
def test_amd_vi_pack_follows_amd_iommu_def_domain_type(
    kernel: str, extra: str, gpu: str, acc: str
) -> None:
    res = Board.from_text(AMD_BOARD.format(kernel=kernel, extra=extra), "a.iommu").resolution
    assert not res.errors
    values = {d: res.devices[d].values["default_domain"] for d in ("gpu", "acc", "nic", "egpu")}
    base = res.global_default
    assert base in ("dma", "dma-fq")
    # no capability: the global default; untrusted: strict DMA (iommu_get_default_domain_type)
    expected = {"gpu": gpu, "acc": acc, "nic": "-", "egpu": "dma"}
    assert values == {k: base if v == "-" else v for k, v in expected.items()}
    if gpu == "identity":
        why = "\n".join(res.devices["gpu"].reasons["default_domain"].lines())
        assert "std/iommu/amd-vi.iommu" in why and "amd_iommu_def_domain_type" in why


@pytest.mark.parametrize("kernel", ["6.8", "6.10"])
def test_intel_igfx_off_leaves_the_igpu_untranslated(kernel: str) -> None:
    """intel_iommu=igfx_off: init_no_remapping_devices ignores the graphics-dedicated DMAR;
    before 6.10 IDENTMAP_GFX also gives every other display function identity."""
    proc = run_cli(
        "whatif",
        str(EXAMPLES / "x86-desktop.iommu"),
        "--set",
        f'cmdline "intel_iommu=igfx_off"; kernel {kernel}',
        "--color",
        "never",
    )
    changed = [line for line in proc.stdout.splitlines() if line.startswith("~ device")]
    assert "~ device igpu\n    iommu: vtd_gfx → none" in proc.stdout, proc.stdout
    if kernel == "6.8":
        # the GTX 1070 is display class: its whole group (with its audio function) follows
        assert "~ device dgpu\n    default_domain: dma-fq → identity" in proc.stdout
        assert changed[:3] == ["~ device dgpu", "~ device dgpu_audio", "~ device igpu"]
    else:  # ba00196ca41c decoupled igfx_off from the identity mapping
        assert changed[0] == "~ device igpu", proc.stdout
    # devices other than the GPUs only move to other (unscarce) domain IDs
    for line in changed:
        if line not in ("~ device dgpu", "~ device dgpu_audio", "~ device igpu"):
            block = proc.stdout.split(line + "\n", 1)[1].split("~ ", 1)[0]
            assert block.strip().startswith("context:"), block


DART_BOARD = """\
include "std/linux"
include "std/iommu/apple-dart"
platform {{ arch arm64; kernel 6.8; ram 0x800000000 size 8G{config} }}
iommu dart_disp0: apple-dart {{ cells 1 }}
iommu dart_sio: apple-dart {{ cells 1; quirk no-identity }}
device dcp: "apple,t8103-dcp" {{ iommu dart_disp0 sid 0 }}
device sio: "apple,t8103-sio" {{ iommu dart_sio sid 2 }}
"""


@pytest.mark.parametrize(
    ("config", "dcp", "sio"),
    [
        # 4K kernel pages, 16K DART pages: apple_dart_def_domain_type asks for identity
        # before it looks at bypass support, so a DART without bypass gets a wish it cannot
        # honour (the identity attach returns -EINVAL): no default domain, W210.
        ("", "identity", "none"),
        # the Asahi configuration: translated; the no-bypass DART simply gets DMA
        ("; config ARM64_16K_PAGES", "dma", "dma"),
    ],
)
def test_apple_dart_pack_follows_the_kernel_page_size(config: str, dcp: str, sio: str) -> None:
    res = Board.from_text(DART_BOARD.format(config=config), "m1.iommu").resolution
    assert res.devices["dcp"].values["default_domain"] == dcp
    assert res.devices["sio"].values["default_domain"] == sio
    assert ("W210" in {d.code for d in res.diagnostics}) == (sio == "none")


MSM8916_BOARD = """\
include "std/soc/msm8916"
platform {{ arch arm64; kernel 6.8; ram 0x80000000 size 1G{cmdline} }}
device venus: "qcom,msm8916-venus" {{ iommu apps_iommu context {ctx} }}
device gpu: "qcom,adreno-306.0", "qcom,adreno" {{ iommu gpu_iommu context 1, context 2 }}
"""


@pytest.mark.parametrize("ctx", [4, 5])
def test_msm8916_secure_context_still_serves_its_client(ctx: int) -> None:
    """qcom_iommu_init_domain programs a -sec context like a -ns one; nothing is refused."""
    res = Board.from_text(MSM8916_BOARD.format(cmdline="", ctx=ctx), "b.iommu").resolution
    venus = res.devices["venus"].values
    got = (venus["context"], venus["dma_ops"], venus["default_domain"])
    assert got == (ctx, "iommu-dma", "dma")
    assert not res.errors
    assert ("secure" in res.devices["venus"].reasons["context"].lines()[0]) == (ctx == 5)
    # the GPU's default domain holds both banks its cells name; no bank is left on gpu_iommu
    assert sorted(res.context_slots("gpu_iommu")) == [1, 2]
    assert "W202" not in {d.code for d in res.diagnostics}  # fixed banks cannot run out


def test_msm8916_passthrough_falls_back_to_dma() -> None:
    """qcom_iommu_domain_alloc has no identity domain: iommu_group_alloc_default_domain falls
    back to IOMMU_DOMAIN_DMA and says so."""
    text = MSM8916_BOARD.format(cmdline='; cmdline "iommu.passthrough=1"', ctx=5)
    res = Board.from_text(text, "b.iommu").resolution
    assert res.global_default == "identity"
    assert res.devices["venus"].values["default_domain"] == "dma"
    # as pr_warn prints it: IOMMU_DOMAIN_IDENTITY is 4, and the group has no name
    assert (
        "iommu: Failed to allocate default IOMMU domain of type 4 for group (null) - Falling "
        "back to IOMMU_DOMAIN_DMA" in res.log
    )


def test_qcom_iommu_context_sets_count_from_one(tmp_path) -> None:  # type: ignore[no-untyped-def]
    board = tmp_path / "b.iommu"
    board.write_text("iommu a: qcom-iommu { contexts 5; secure 0, 5 }\n")
    proc = run_cli("check", str(board))
    assert proc.returncode == 3  # errors in the input
    assert "b.iommu:1:42: error[E112]: secure context 0 is not a context of 'a'" in proc.stderr
    assert "'a' has contexts 1..5" in proc.stderr
    assert proc.stderr.count("error[E112]") == 1  # 5 is the last context, not past it


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


EXYNOS_BOARD = """\
include "std/linux"
include "std/soc/exynos"
platform {{ arch {arch}; kernel 6.8; ram 0x20000000 size 2G }}
iommu sysmmu_fimd0: exynos-sysmmu
iommu sysmmu_fimd1: exynos-sysmmu
iommu sysmmu_tv: exynos-sysmmu
iommu sysmmu_jpeg: exynos-sysmmu
device fimd: "samsung,exynos5420-fimd" {{ iommu sysmmu_fimd0; iommu sysmmu_fimd1 }}
device mixer: "samsung,exynos5420-mixer" {{ iommu sysmmu_tv }}
device jpeg: "samsung,exynos5420-jpeg" {{ iommu sysmmu_jpeg }}
domain drm: arm-mapping on sysmmu_fimd0, sysmmu_tv{on} {{ attach fimd, mixer{extra} }}
"""


def test_exynos_drm_components_share_one_arm32_mapping() -> None:
    """drm_iommu_attach_device: off the implicit mapping, onto the DRM's shared one."""
    board = Board.from_text(EXYNOS_BOARD.format(arch="arm", on="", extra=""), "b")
    assert not board.model.diagnostics
    res = board.resolution
    assert not res.errors
    for name in ("fimd", "mixer"):
        values = res.devices[name].values
        assert (values["domain"], values["dma_ops"]) == ("drm", "arm_iommu"), name
    assert res.devices["jpeg"].values["domain"] == "arm_iommu:jpeg"  # no DRM: its own
    # FIMD's second System MMU points at the shared mapping too (owner->controllers)
    assert [d.name for d in res.context_slots("sysmmu_fimd1").values()] == ["drm"]
    assert res.domains["arm_iommu:fimd"].released


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


RCAR_BOARD = """\
include "std/linux"
include "std/soc/rcar-gen3"
platform {{ arch arm64; kernel {kernel}; ram 0x48000000 size 4G }}
iommu ipmmu_ds1: ipmmu-vmsa {{ map rid 0x0 sid 0x0 length 0x10000 }}
iommu ipmmu_ds0: ipmmu-vmsa
device sdhi0: "renesas,sdhi-r8a7795", "renesas,rcar-gen3-sdhi" {{ iommu ipmmu_ds1 sid 32 }}
device dmac1: "renesas,dmac-r8a7795", "renesas,rcar-dmac" {{ iommu ipmmu_ds0 sid 0 }}
device nvme: "pci144d,a808" {{ pci 0000:01:00.0 }}
"""


@pytest.mark.parametrize(
    ("kernel", "translated"),
    [
        ("5.10", []),  # rcar_gen3_slave_whitelist is empty
        ("5.12", ["sdhi0"]),  # cec0813da56a: the SDHI controllers
        ("6.6", ["sdhi0", "nvme"]),  # 52a8fd24d129: dev_is_pci
    ],
)
def test_rcar_gen3_ipmmu_serves_only_opted_in_masters(kernel: str, translated: list[str]) -> None:
    """ipmmu_of_xlate: -ENODEV for a master ipmmu_device_is_allowed refuses."""
    res = Board.from_text(RCAR_BOARD.format(kernel=kernel), "salvator.iommu").resolution
    assert not res.errors
    got = [name for name, d in res.devices.items() if d.iommu is not None]
    assert got == translated
    for name in set(res.devices) - set(translated):
        assert res.devices[name].values["dma_ops"].startswith("dma-direct")


RK3288_BOARD = """\
include "std/linux"
include "std/soc/rockchip"
platform {{ arch arm; kernel {kernel}; ram 0x0 size 2G }}
iommu vopb_mmu: rockchip
iommu vopl_mmu: rockchip
device vopb: "rockchip,rk3288-vop" {{ iommu vopb_mmu }}
device vopl: "rockchip,rk3288-vop" {{ iommu vopl_mmu }}
domain rockchip_drm: unmanaged on vopb_mmu, vopl_mmu {{ attach vopb, vopl }}
"""


def test_rockchip_drm_on_arm32_drops_the_implicit_mapping_from_5_19() -> None:
    """8490cad4dc4e: rockchip_drm_dma_attach_device detaches the arm_iommu mapping first."""
    res = Board.from_text(RK3288_BOARD.format(kernel="6.1"), "veyron.iommu").resolution
    assert not res.errors
    for vop in ("vopb", "vopl"):
        values = res.devices[vop].values
        # arm_iommu_detach_device resets the DMA ops: the domain is the driver's, the DMA
        # API is dma-direct
        assert (values["domain"], values["dma_ops"]) == ("rockchip_drm", "dma-direct")
    assert res.domains["arm_iommu:vopb"].released
    # Before, the driver attached over the implicit mapping: the core allowed it, as the
    # group had no default domain (no DMA domain on arm32, and __iommu_attach_group's
    # -EBUSY needed one until 1ea2a07a532b). The mapping stays, with its ID and the DMA ops.
    res = Board.from_text(RK3288_BOARD.format(kernel="5.18"), "veyron.iommu").resolution
    assert not res.errors
    for vop in ("vopb", "vopl"):
        values = res.devices[vop].values
        assert (values["default_domain"], values["domain"]) == ("none", "rockchip_drm")
        assert values["dma_ops"] == "arm_iommu"
        assert not res.domains[f"arm_iommu:{vop}"].released
    assert sorted(d.message.split("'")[3] for d in res.diagnostics if d.code == "W212") == [
        "vopb",
        "vopl",
    ]


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
    gpu_dom = res.domains[res.devices["gpu"].domain or ""]
    assert gpu_dom.context == gpu_context
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


MT8192 = """\
include "std/linux"
include "std/soc/mt8192"
platform {{ arch arm64; kernel {kernel}; ram 0x40000000 size 2G }}
# mt8192.dtsi masters, MTK_M4U_ID(larb, port) from mt8192-larb-port.h
device ovl0: "mediatek,mt8192-disp-ovl" {{ iommu iommu0 sid 0x2, sid 0x1 }}
device ovl_2l0: "mediatek,mt8192-disp-ovl-2l" {{ iommu iommu0 sid 0x22, sid 0x20 }}
device rdma4: "mediatek,mt8192-disp-rdma" {{ iommu iommu0 sid 0x25 }}
device vdec_lat: "mediatek,mtk-vcodec-lat" {{ iommu iommu0 sid 0xa0, sid 0xa1, sid 0xa7 }}
device vdec_core: "mediatek,mtk-vcodec-core" {{ iommu iommu0 sid 0x80, sid 0x81, sid 0x8a }}
device venc: "mediatek,mt8192-vcodec-enc" {{ iommu iommu0 sid 0xe0, sid 0xe1, sid 0xee }}
device mdp_rdma0: "mediatek,mt8192-mdp3-rdma" {{ iommu iommu0 sid 0x40 }}
device camsv: "vendor,camsv" {{ iommu iommu0 sid 0x1a1 }}
device ccu0: "vendor,ccu" {{ iommu iommu0 sid 0x1a9, sid 0x1aa }}
device ccu1: "vendor,ccu" {{ iommu iommu0 sid 0x1c4, sid 0x1c5 }}
device odd: "vendor,ccu-and-camsv" {{ iommu iommu0 sid 0x1a9, sid 0x1a1 }}
"""


@pytest.mark.parametrize(
    ("kernel", "groups"),
    [
        # before 6.4: the region came from dma-ranges, which mt8192.dtsi lacked: region 0
        (
            "6.1",
            [
                [
                    "ovl0", "ovl_2l0", "rdma4", "vdec_lat", "vdec_core", "venc",
                    "mdp_rdma0", "camsv", "ccu0", "ccu1", "odd",
                ]
            ],
        ),
        # 6.4+: mt8192_larb_region_msk; 'odd' spans regions 2 and 4: no group (W211)
        (
            "6.8",
            [
                ["ovl0", "ovl_2l0", "rdma4"],
                ["vdec_lat", "vdec_core", "venc"],
                ["mdp_rdma0", "camsv"],
                ["ccu0"],
                ["ccu1"],
            ],
        ),
    ],
)  # fmt: skip
def test_mt8192_pack_groups_masters_by_iova_region(kernel: str, groups: list[list[str]]) -> None:
    res = Board.from_text(MT8192.format(kernel=kernel), "asurada.iommu").resolution
    assert not res.errors
    assert [g.members for g in res.groups] == groups
    assert len(res.context_slots("iommu0")) == 1  # one shared page table
    assert (res.devices["odd"].iommu is None) == (kernel == "6.8")
    assert ("W211" in {d.code for d in res.diagnostics}) == (kernel == "6.8")


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


MT8195 = """\
include "std/linux"
include "std/soc/mt8195"
platform {{ arch arm64; kernel {kernel}; ram 0x40000000 size 2G }}
# mt8195.dtsi (6.11) masters, MTK_M4U_ID(larb, port) from mt8195-memory-port.h
device ovl0: "mediatek,mt8195-disp-ovl" {{ iommu iommu_vdo sid 2 }}
device vdo1_rdma0: "mediatek,mt8195-vdo1-rdma" {{ iommu iommu_vdo sid 64 }}
device vdo1_rdma1: "mediatek,mt8195-vdo1-rdma" {{ iommu iommu_vpp sid 96 }}
device ethdr0: "mediatek,mt8195-disp-ethdr" {{ iommu iommu_vpp sid 100, sid 101 }}
device vdec: "mediatek,mt8195-vcodec-dec" {{ iommu iommu_vdo sid 672 }}
device vdec_lat_soc: "mediatek,mtk-vcodec-lat-soc" {{ iommu iommu_vpp sid 736, sid 737 }}
device jpgenc: "mediatek,mt8195-jpgenc" {{ iommu iommu_vpp sid 647, sid 648, sid 649, sid 652 }}
device mdp_rdma: "mediatek,mt8195-mdp3-rdma" {{ iommu iommu_vpp sid 128 }}
device svpp1_rdma: "mediatek,mt8195-mdp3-rdma" {{ iommu iommu_vdo sid 160 }}
# PCIe: pcie0 -> IOMMU_PORT_INFRA_PCIE0 (18), pcie1 -> PCIE1 (16), iommu-map-mask 0
device nvme: "pci144d,a80a" {{ pci 0000:01:00.0; iommu iommu_infra sid 0x12 }}
device wifi: "pci14c3,7961" {{ pci 0001:01:00.0; iommu iommu_infra sid 0x10 }}
"""


@pytest.mark.parametrize(
    ("kernel", "groups"),
    [
        (
            "6.1",
            [
                [
                    "ovl0", "vdo1_rdma0", "vdo1_rdma1", "ethdr0", "vdec", "vdec_lat_soc",
                    "jpgenc", "mdp_rdma", "svpp1_rdma",
                ],
                ["nvme", "wifi"],
            ],
        ),
        (
            "6.8",
            [
                ["ovl0", "vdo1_rdma0", "vdo1_rdma1", "ethdr0"],
                ["vdec", "vdec_lat_soc", "jpgenc"],
                ["mdp_rdma", "svpp1_rdma"],
                ["nvme", "wifi"],
            ],
        ),
    ],
)  # fmt: skip
def test_mt8195_vdo_and_vpp_share_groups_per_region(kernel: str, groups: list[list[str]]) -> None:
    """SHARE_PGTABLE: both M4Us are on m4ulist and use the first one's m4u_group[region];
    the infra IOMMU puts every PCIe function in bank 0's group, ACS unasked."""
    board = Board.from_text(MT8195.format(kernel=kernel), "cherry.iommu")
    res = board.resolution
    assert not res.errors
    assert sorted(g.members for g in res.groups) == sorted(groups)
    # one page table for every domain of both M4Us; each programs it
    for m4u in ("iommu_vdo", "iommu_vpp", "iommu_infra"):
        assert len(res.context_slots(m4u)) == 1, m4u
    mm = [d for d in res.domains if res.domains[d].iommu != "iommu_infra"]
    assert len(mm) == len(groups) - 1
    for m4u in ("iommu_vdo", "iommu_vpp"):
        assert sorted(board.value(f"{m4u}.domains")) == sorted(mm)  # every sharer, each M4U
    assert f"0: {', '.join(mm)}" in board.dot("contexts")
    text = str(board.why("vdo1_rdma1.group_members"))
    assert ("first on their hw_list" if kernel == "6.8" else "dma-ranges") in text


def test_import_dts_for_mt8195_leaves_pcie_to_the_board(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """std/soc/mt8195 declares the infra IOMMU without maps (its hosts have no
    linux,pci-domain): the host's iommu-map is not claimed to be the pack's, W814 says what
    to write instead."""
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
    assert "warning[W814]" in proc.stderr and "iommu iommu_infra sid 0x12" in proc.stderr
    text = out.read_text()
    assert "fact pack's" not in text and "`iommu iommu_infra sid 0x12`" in text
    assert run_cli("check", str(out)).returncode == 0


def test_a_driver_domain_may_span_m4us_that_share_a_page_table() -> None:
    """On one hw_list (`quirk share-pgtable`) a domain is finalised on the first M4U and
    programmed into each M4U it is attached through (mtk_iommu_attach_device)."""
    text = (
        'include "std/linux"\ninclude "std/soc/mt8195"\n'
        "platform { arch arm64; kernel 6.8; ram 0x40000000 size 2G }\n"
        'device disp_vdo: "x" { iommu iommu_vdo sid 2; driver own-domain }\n'
        'device disp_vpp: "x" { iommu iommu_vpp sid 96; driver own-domain }\n'
        "domain d: unmanaged on iommu_vdo, iommu_vpp { attach disp_vdo, disp_vpp }\n"
    )
    board = Board.from_text(text, "b.iommu")
    assert not board.model.diagnostics
    res = board.resolution
    assert not res.diagnostics  # no W203: the DMA API maps into the same page table
    assert res.devices["disp_vpp"].domain == "d" and res.domains["d"].contexts_on == {
        "iommu_vpp": 0
    }
    # M4Us that do not share a list: not modelled
    bad = text.replace("quirk share-pgtable", "").replace('include "std/soc/mt8195"\n', "")
    bad = "iommu iommu_vdo: mtk-iommu\niommu iommu_vpp: mtk-iommu\n" + bad
    assert [d.code for d in Board.from_text(bad, "b.iommu").model.diagnostics] == ["E120"]


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


MT7623 = """\
include "std/linux"
include "std/iommu/mtk-iommu-v1"
platform {{ arch {arch}; kernel {kernel}; ram 0x80000000 size 2G }}
iommu m4u: mtk-iommu-v1
device ovl: "mediatek,mt7623-disp-ovl" {{ iommu m4u sid 0 }}
device rdma0: "mediatek,mt7623-disp-rdma" {{ iommu m4u sid 2 }}
device jpegdec: "mediatek,mt7623-jpgdec" {{ iommu m4u sid 43, sid 28 }}
"""


@pytest.mark.parametrize(
    ("kernel", "default"),
    [
        ("4.18", "none"),  # only UNMANAGED domains: the DMA default domain fails
        ("6.1", "unmanaged"),  # mtk_iommu_v1_def_domain_type (5.8 .. 6.6)
        ("6.8", "identity"),  # the static identity domain; ARM_DMA_USE_IOMMU asks for it
    ],
)
def test_mtk_iommu_v1_shares_one_arm32_mapping(kernel: str, default: str) -> None:
    """mtk_iommu_v1_probe_finalize: arm_iommu_attach_device(dev, data->mapping) for every
    master: one group each, one mapping and page table for all, arm_iommu DMA ops."""
    board = Board.from_text(MT7623.format(arch="arm", kernel=kernel), "bpi.iommu")
    assert not board.model.diagnostics
    res = board.resolution
    assert not res.errors and not res.diagnostics
    mapping = res.domains["arm_iommu:m4u"]
    assert (mapping.origin, mapping.type, mapping.context) == ("arm32", "unmanaged", 0)
    assert mapping.devices == ["ovl", "rdma0", "jpegdec"]
    for name in ("ovl", "rdma0", "jpegdec"):
        v = res.devices[name].values
        assert (v["domain"], v["dma_ops"], v["default_domain"]) == (
            "arm_iommu:m4u",
            "arm_iommu",
            default,
        ), name
        assert v["group_members"] == [name]  # generic_device_group
    assert res.context_slots("m4u") == {0: mapping}  # the default domains take none
    assert "shared by all its masters" in res.devices["ovl"].reasons["dma_ops"].text


def test_mtk_iommu_v1_refusals() -> None:
    model = Board.from_text(MT7623.format(arch="arm64", kernel="6.8"), "b.iommu").model
    assert [(d.code, d.message) for d in model.diagnostics] == [
        ("E130", "'m4u' (mtk-iommu-v1) is built only on arch arm (here: arch arm64)")
    ]
    text = MT7623.format(arch="arm", kernel="6.8") + "domain d: unmanaged on m4u { attach ovl }\n"
    model = Board.from_text(text, "b.iommu").model
    assert [d.code for d in model.diagnostics] == ["E120"]
    assert "only its own mapping" in model.diagnostics[0].message


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


def test_excludes_implicit_on_an_m4u_v1_master_warns() -> None:
    """W213: the M4U v1 driver attaches every master to its mapping itself."""
    text = MT7623.format(arch="arm", kernel="6.8") + 'rule "no mapping": ovl excludes implicit\n'
    res = Board.from_text(text, "b.iommu").resolution
    assert [(d.code, "'no mapping' cannot keep 'ovl'" in d.message) for d in res.diagnostics] == [
        ("W213", True)
    ]
    assert res.devices["ovl"].values["dma_ops"] == "arm_iommu"


H6 = """\
include "std/linux"
include "std/iommu/sun50i-iommu"
platform {{ arch arm64; kernel {kernel}; cmdline "{cmdline}" }}
iommu iommu: sun50i-iommu
# sun50i-h6.dtsi (002c6ca75289): the DE3 mixer and the video engine
device mixer0: "allwinner,sun50i-h6-de3-mixer-0" {{ iommu iommu sid 0 }}
device ve: "allwinner,sun50i-h6-video-engine" {{ iommu iommu sid 3 }}
"""


@pytest.mark.parametrize(
    ("kernel", "cmdline", "default"),
    [
        ("6.1", "", "dma"),
        ("6.1", "iommu.passthrough=1", "dma"),  # no identity domain: DMA fallback
        ("6.8", "iommu.passthrough=1", "identity"),  # sun50i_iommu_identity_domain
    ],
)
def test_sun50i_iommu_one_group_one_table(kernel: str, cmdline: str, default: str) -> None:
    """One TTB register: every master in one group; a driver domain replaces the default
    domain in the hardware, so only one holds the table."""
    text = H6.format(kernel=kernel, cmdline=cmdline)
    res = Board.from_text(text, "pineh64.iommu").resolution
    assert not res.errors
    assert res.devices["ve"].values["group_members"] == ["mixer0", "ve"]
    assert res.devices["mixer0"].values["default_domain"] == default
    text += "domain cedrus: unmanaged on iommu { attach ve }\n"
    res = Board.from_text(text, "pineh64.iommu").resolution
    # mixer0 moves too (W206); with DMA defaults both still map through their DMA API (W203)
    codes = {d.code for d in res.diagnostics}
    assert "W206" in codes and codes <= {"W203", "W206"}
    assert res.devices["mixer0"].values["domain"] == "cedrus"
    assert [d.name for d in res.context_slots("iommu").values()] == ["cedrus"]


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


OMAP = """\
include "std/linux"
include "std/iommu/omap-iommu"
platform {{ arch {arch}; kernel {kernel} }}
iommu mmu_ipu1: omap-iommu
iommu mmu0_dsp1: omap-iommu
iommu mmu1_dsp1: omap-iommu
# dra7.dtsi: the IPU's MMU, the DSP's two
device ipu1: "ti,dra7-ipu" {{ iommu mmu_ipu1 }}
device dsp1: "ti,dra7-dsp" {{ iommu mmu0_dsp1; iommu mmu1_dsp1 }}
{extra}
"""


def _omap(kernel: str = "6.12", extra: str = "", arch: str = "arm") -> Resolution:
    text = OMAP.format(kernel=kernel, extra=extra, arch=arch)
    return Board.from_text(text, "x15.iommu").resolution


@pytest.mark.parametrize(("kernel", "default"), [("6.6", "none"), ("6.7", "identity")])
def test_omap_iommu_default_domain_by_era(kernel: str, default: str) -> None:
    """No default domain until omap_iommu_identity_domain (bbe39b76330e, 6.7); the MMU is
    off either way, so the DMA API stays direct."""
    res = _omap(kernel)
    assert not res.errors
    for dev in ("ipu1", "dsp1"):
        assert res.devices[dev].values["default_domain"] == default
        assert res.devices[dev].values["dma_ops"] == "dma-direct"
    assert res.devices["dsp1"].values["group_members"] == ["dsp1"]


def test_omap_iommu_domain_programs_every_mmu_of_its_client() -> None:
    res = _omap(extra="domain rproc_dsp1: unmanaged on mmu0_dsp1 { attach dsp1 }")
    assert not res.errors
    assert res.devices["dsp1"].values["domain"] == "rproc_dsp1"
    assert [d.name for d in res.context_slots("mmu1_dsp1").values()] == ["rproc_dsp1"]


@pytest.mark.parametrize(("kernel", "errno"), [("6.1", "-EBUSY"), ("6.12", "-EINVAL")])
def test_omap_iommu_domain_takes_one_client(kernel: str, errno: str) -> None:
    """omap_iommu_attach_dev: "only a single client device can be attached to a domain"."""
    extra = (
        'device ipu1b: "ti,dra7-ipu" { iommu mmu_ipu1 }\n'
        "domain rproc: unmanaged on mmu_ipu1 { attach ipu1 }"
    )
    res = _omap(kernel, extra)
    refusals = [d for d in res.diagnostics if d.code == "E302"]
    assert refusals and errno in refusals[0].message
    assert res.devices["ipu1"].values["domain"] != "rproc"
    # across MMUs: refused when the model is built
    extra = "domain both: unmanaged on mmu_ipu1, mmu0_dsp1 { attach ipu1, dsp1 }"
    text = OMAP.format(kernel="6.12", extra=extra, arch="arm")
    assert "E120" in {d.code for d in Board.from_text(text, "x15.iommu").model.diagnostics}


Z = """\
include "std/linux"
include "std/iommu/s390-iommu"
platform {{ arch {arch}; kernel {kernel}; ram 64G{cmdline} }}
iommu zpci: s390-iommu{quirk}
# two functions of one card and a drive, each zPCI function in a PCI domain of its own
device roce0: "pci15b3,1016" {{ pci 0001:00:00.0; dma-mask 64 }}
device roce1: "pci15b3,1016" {{ pci 0001:00:00.1; dma-mask 64 }}
device nvme: "pci144d,a824" {{ pci 0002:00:00.0; dma-mask 64 }}
"""


def _z(kernel: str, cmdline: str = "", quirk: str = "", arch: str = "s390") -> Resolution:
    text = Z.format(
        kernel=kernel, arch=arch, cmdline=f'; cmdline "{cmdline}"' if cmdline else "", quirk=quirk
    )
    return Board.from_text(text, "z16.iommu").resolution


def test_s390_before_6_7_the_arch_translates_with_its_own_dma_ops() -> None:
    """arch/s390/pci/pci_dma.c: no default domain, s390_pci_dma_ops for every function."""
    res = _z("6.6")
    assert not res.errors
    for dev in ("roce0", "roce1", "nvme"):
        assert res.devices[dev].values["default_domain"] == "none"
        assert res.devices[dev].values["dma_ops"] == "s390_pci_dma"
    # generic_device_group: functions of one card are groups of their own
    assert res.devices["roce0"].values["group_members"] == ["roce0"]


@pytest.mark.parametrize(
    ("kernel", "cmdline", "quirk", "default"),
    [
        ("6.7", "", "", "dma-fq"),  # c76c067e488c: iommu-dma, IOMMU_DEFAULT_DMA_LAZY
        ("6.12", "iommu.passthrough=1", "", "dma"),  # no identity domain: DMA fallback
        ("6.15", "iommu.passthrough=1", "", "identity"),  # s390_identity_domain (RTR)
        ("6.15", "iommu.passthrough=1", " { quirk no-identity }", "dma"),  # no RTR
    ],
)
def test_s390_from_6_7_uses_iommu_dma(kernel: str, cmdline: str, quirk: str, default: str) -> None:
    res = _z(kernel, cmdline, quirk)
    assert not res.errors
    nvme = res.devices["nvme"].values
    assert nvme["default_domain"] == default
    assert nvme["dma_ops"] == ("iommu-dma" if default != "identity" else "dma-direct")


MSM = """\
include "std/linux"
include "std/iommu/msm-iommu"
platform {{ arch {arch}; kernel {kernel} }}
# qcom-apq8064.dtsi: the GPU is the one master of gfx3d and of gfx3d1 (qcom,ncb = <3>)
iommu gfx3d: msm-iommu {{ contexts 3 }}
iommu gfx3d1: msm-iommu {{ contexts 3{gfx3d1} }}
device gpu: "qcom,adreno-320.2" {{ iommu gfx3d sid 0, sid 1; iommu gfx3d1 sid 0, sid 1 }}
{extra}
"""


def _msm(kernel: str = "6.12", extra: str = "", gfx3d1: str = "", arch: str = "arm") -> Resolution:
    text = MSM.format(kernel=kernel, extra=extra, gfx3d1=gfx3d1, arch=arch)
    return Board.from_text(text, "apq8064.iommu").resolution


@pytest.mark.parametrize(("kernel", "default"), [("6.6", "none"), ("6.7", "identity")])
def test_msm_iommu_default_domain_by_era(kernel: str, default: str) -> None:
    """UNMANAGED domains only until msm_iommu_identity_domain (78fc30b4bb35, 6.7)."""
    res = _msm(kernel)
    assert not res.errors
    assert res.devices["gpu"].values["default_domain"] == default
    # generic_device_group: one group per device, on its first IOMMU
    assert res.devices["gpu"].values["group_members"] == ["gpu"]
    assert res.devices["gpu"].values["iommu"] == "gfx3d"


def test_msm_iommu_domain_takes_a_bank_on_every_iommu_of_its_device() -> None:
    extra = "domain msm_gpu: unmanaged on gfx3d { attach gpu }"
    res = _msm(extra=extra, gfx3d1="; reserved 0")
    assert not res.errors
    # the lowest free bank on each: 0 on gfx3d, 1 on gfx3d1 (0 is reserved there)
    assert res.devices["gpu"].values["context"] == 0
    assert res.domains["msm_gpu"].contexts_on == {"gfx3d1": 1}
    # no bank free on gfx3d1: msm_iommu_alloc_ctx fails and the attach is -ENODEV
    res = _msm(extra=extra, gfx3d1="; reserved 0, 1, 2")
    full = [d for d in res.diagnostics if d.code == "E301"]
    assert full and "on 'gfx3d1'" in full[0].message and "-ENODEV" in full[0].message
    assert res.devices["gpu"].values["domain"] != "msm_gpu"


def test_msm_iommu_serves_one_master_and_needs_its_bank_count() -> None:
    """insert_iommu_master keeps one master per IOMMU; msm_iommu_probe needs qcom,ncb."""
    extra = 'device vpe: "qcom,apq8064-vpe" { iommu gfx3d1 sid 4 }'
    text = MSM.format(kernel="6.12", extra=extra, gfx3d1="", arch="arm")
    diags = Board.from_text(text, "a.iommu").model.diagnostics
    second = [d for d in diags if d.code == "E131"]
    assert second and "'vpe' cannot be a second" in second[0].message
    text = MSM.format(kernel="6.12", extra="", gfx3d1="", arch="arm")
    text = text.replace("iommu gfx3d: msm-iommu { contexts 3 }", "iommu gfx3d: msm-iommu")
    assert "E132" in {d.code for d in Board.from_text(text, "a.iommu").model.diagnostics}
    # a count that is written but out of range is E114 alone
    zero = text.replace("iommu gfx3d: msm-iommu", "iommu gfx3d: msm-iommu { contexts 0 }")
    codes = {d.code for d in Board.from_text(zero, "a.iommu").model.diagnostics}
    assert "E114" in codes and "E132" not in codes


SPRD = """\
include "std/linux"
include "std/iommu/sprd-iommu"
platform {{ arch arm64; kernel 6.12; cmdline "{cmdline}" }}
iommu iommu_dispc: sprd-iommu
# the binding's example: the display controller behind its own IOMMU
device dispc: "sprd,sharkl3-dpu" {{ iommu iommu_dispc }}
device dispc_wb: "sprd,sharkl3-dpu-wb" {{ iommu iommu_dispc }}
{extra}
"""


def test_sprd_iommu_one_group_per_iommu_and_no_identity() -> None:
    """sprd_iommu_device_group: one group per IOMMU; no identity domain ever, so
    iommu.passthrough=1 falls back to DMA (iommu_group_alloc_default_domain)."""
    text = SPRD.format(cmdline="iommu.passthrough=1", extra="")
    res = Board.from_text(text, "sc9863a.iommu").resolution
    assert not res.errors
    assert res.devices["dispc"].values["group_members"] == ["dispc", "dispc_wb"]
    assert res.devices["dispc"].values["default_domain"] == "dma"
    assert any("Falling back to IOMMU_DOMAIN_DMA" in line for line in res.log)


def test_sprd_iommu_attach_repoints_the_one_table_register() -> None:
    extra = "domain drm: unmanaged on iommu_dispc { attach dispc }"
    res = Board.from_text(SPRD.format(cmdline="", extra=extra), "s.iommu").resolution
    # the whole group moves (W206) and only the driver's domain holds the table
    assert "W206" in {d.code for d in res.diagnostics}
    assert [d.name for d in res.context_slots("iommu_dispc").values()] == ["drm"]


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


def test_s390_iommu_takes_pci_functions_only_and_vfio_takes_the_arch_table() -> None:
    """s390_iommu_probe_device: !dev_is_pci -> -ENODEV (E131). Before 6.7 a VFIO domain
    replaces the arch's translation (zpci_dma_exit_device): no DMA API behind the device."""
    text = Z.format(kernel="6.6", arch="s390", cmdline="", quirk="")
    bad = text + 'device ism: "ibm,ism" { iommu zpci }\n'
    assert "E131" in {d.code for d in Board.from_text(bad, "z.iommu").model.diagnostics}
    vfio = text + "domain vfio: unmanaged on zpci { attach nvme }\n"
    res = Board.from_text(vfio, "z.iommu").resolution
    assert not res.errors
    nvme = res.devices["nvme"]
    assert nvme.values["dma_ops"] == "none"
    assert "zpci_dma_exit_device" in str(nvme.reasons["dma_ops"].source)
    assert res.devices["roce0"].values["dma_ops"] == "s390_pci_dma"


def test_omap_iommu_refuses_a_group_of_two_once() -> None:
    extra = (
        'device ipu1b: "ti,dra7-ipu" { iommu mmu_ipu1 }\n'
        "domain rproc: unmanaged on mmu_ipu1 { attach ipu1, ipu1b }"
    )
    res = _omap("6.12", extra)
    refusals = [d for d in res.diagnostics if d.code == "E302"]
    assert len(refusals) == 1
    assert "to 'ipu1b'" in refusals[0].message and "'ipu1' is it" in refusals[0].message


def test_apple_dart_domain_covers_both_darts_of_a_two_dart_master() -> None:
    """t8103.dtsi: dwc3_0 sits on two DARTs (`<&dwc3_0_dart_0 0>, <&dwc3_0_dart_1 1>`), and
    apple_dart_attach_dev sets up every stream map of the device; a domain over DARTs that
    are not one device's is refused (apple_dart_mod_streams: -EINVAL)."""
    text = (
        'include "std/linux"\n'
        "platform { arch arm64; kernel 6.8; config ARM64_16K_PAGES }\n"
        "iommu dwc3_0_dart_0: apple-dart\n"
        "iommu dwc3_0_dart_1: apple-dart\n"
        "iommu sio_dart: apple-dart\n"
        'device dwc3_0: "apple,t8103-dwc3" {\n'
        "    iommu dwc3_0_dart_0 sid 0; iommu dwc3_0_dart_1 sid 1\n}\n"
        'device admac: "apple,t8103-admac" { iommu sio_dart sid 2 }\n'
        "domain usb: unmanaged on dwc3_0_dart_0 { attach dwc3_0 }\n"
    )
    res = Board.from_text(text, "j274.iommu").resolution
    assert not res.errors
    assert res.devices["dwc3_0"].values["group_members"] == ["dwc3_0"]
    # the default domain and the driver's both reach the second DART
    on_second = sorted(d.name for d in res.context_slots("dwc3_0_dart_1").values())
    assert on_second == ["default:0", "usb"]
    assert "dwc3_0_dart_1" in res.domains["usb"].contexts_on
    both = text + "domain mixed: unmanaged on dwc3_0_dart_0, sio_dart { attach dwc3_0, admac }\n"
    assert "E120" in {d.code for d in Board.from_text(both, "j274.iommu").model.diagnostics}


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


PAMU = """\
include "std/linux"
include "std/iommu/fsl-pamu"
platform {{ arch powerpc; kernel {kernel}; ram 8G }}
# one PAMU for the SoC's five PAMU blocks; LIODNs as U-Boot's p4080_ids.c writes them
iommu pamu: fsl-pamu{quirk}
device dma0: "fsl,eloplus-dma" {{ iommu pamu sid 196 }}
device portal0: "fsl,qman-portal" {{ iommu pamu sid 1, sid 2; driver own-domain }}
# two functions behind PCIe controller 2 (PCI domain 1), one behind controller 1
device nic0: "pci8086,10d3" {{ pci 0000:01:00.0; dma-mask 64 }}
device nic1: "pci8086,10d3" {{ pci 0001:01:00.0 }}
device sata: "pci1095,3132" {{ pci 0001:02:00.0 }}
{extra}
"""


def _why(res: Resolution, dev: str, attr: str) -> str:
    return "\n".join(res.devices[dev].reasons[attr].lines())


def _pamu(kernel: str = "6.8", extra: str = "", quirk: str = "") -> Resolution:
    text = PAMU.format(kernel=kernel, extra=extra, quirk=quirk)
    return Board.from_text(text, "p4080ds.iommu").resolution


@pytest.mark.parametrize(("kernel", "default"), [("6.6", "none"), ("6.8", "platform")])
def test_fsl_pamu_default_domain_by_era(kernel: str, default: str) -> None:
    """No default domain before fsl_pamu_platform_domain (8565915e7558, 6.7; honoured from
    6.8); the PAMU never carries the DMA API, which stays direct (no IOMMU_DMA on powerpc)."""
    res = _pamu(kernel)
    assert not res.errors
    for dev in ("dma0", "nic0", "sata"):
        assert res.devices[dev].values["default_domain"] == default
    assert res.devices["nic0"].values["dma_ops"] == "dma-direct"  # 64-bit mask
    # a 32-bit mask, RAM to 8 GiB: the e500 boards keep a swiotlb pool
    assert res.devices["dma0"].values["dma_ops"] == "dma-direct+swiotlb"
    assert "swiotlb_detect_4g" in _why(res, "dma0", "dma_ops")


def test_fsl_pamu_pci_functions_share_their_controllers_group() -> None:
    """get_pci_device_group: a controller before rev 2.4 has one LIODN for every function."""
    res = _pamu()
    assert res.devices["nic1"].values["group_members"] == ["nic1", "sata"]
    assert res.devices["nic0"].values["group_members"] == ["nic0"]
    assert "check_pci_ctl_endpt_part" in _why(res, "sata", "group")
    # platform devices: generic_device_group, one each
    assert res.devices["dma0"].values["group_members"] == ["dma0"]
    # rev 2.4+ controllers partition their endpoints: pci_device_group
    split = _pamu(quirk=" { quirk endpoint-partitioning }")
    assert split.devices["sata"].values["group_members"] == ["sata"]


def test_fsl_pamu_domains_are_unmanaged_only() -> None:
    """The QMan portals' stashing domain attaches; a blocked domain cannot be built."""
    res = _pamu(extra="domain stash: unmanaged on pamu { attach portal0 }")
    assert not res.errors
    assert res.devices["portal0"].values["domain"] == "stash"
    assert res.devices["portal0"].values["dma_ops"] == "dma-direct+swiotlb"
    res = _pamu("5.15", extra="domain vfio: blocked on pamu { attach nic1 }")
    e120 = [d for d in res.diagnostics if d.code == "E120"]
    assert e120 and "cannot build a blocked domain" in e120[0].message
    assert res.devices["nic1"].values["domain"] != "vfio"
    # from 5.19 the core stands in an empty UNMANAGED domain (__iommu_group_alloc_blocking_
    # domain), which the PAMU's fixed window does not block
    res = _pamu(extra="domain vfio: blocked on pamu { attach nic1 }")
    assert not res.errors and "W216" in {d.code for d in res.diagnostics}
    nic1 = res.devices["nic1"].values
    assert (nic1["domain"], nic1["domain_type"]) == ("vfio", "unmanaged")
    assert nic1["dma_ops"] == "dma-direct+swiotlb"


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


def test_fsl_pamu_untrusted_function_is_refused_from_6_7() -> None:
    """The platform default is a driver's choice, and not DMA: iommu_get_default_domain_type
    refuses the untrusted device's group."""
    text = PAMU.format(kernel="6.8", quirk="", extra="").replace(
        "{ pci 0000:01:00.0; dma-mask 64 }", "{ pci 0000:01:00.0; dma-mask 64; untrusted }"
    )
    res = Board.from_text(text, "p4080ds.iommu").resolution
    assert "E210" in {d.code for d in res.diagnostics}
    assert any("overriding group" in line and "to Platform" in line for line in res.log)


@pytest.mark.parametrize(
    ("extra", "code", "text"),
    [
        ('device bad: "x" { iommu pamu sid 0x500 }', "E109", "past the PAACT"),
        ("iommu pamu2: fsl-pamu", "E133", "a second fsl-pamu"),
        ('device nolodn: "x" { iommu pamu }', "E108", ""),
        ("iommu pamu3: fsl-pamu { contexts 4 }", "E114", "nothing per domain"),
    ],
)
def test_fsl_pamu_board_mistakes(extra: str, code: str, text: str) -> None:
    board = PAMU.format(kernel="6.8", quirk="", extra=extra)
    diags = [d for d in Board.from_text(board, "p.iommu").model.diagnostics if d.code == code]
    assert diags and text in diags[0].message


P9 = """\
include "std/linux"
include "std/iommu/spapr-tce"
platform {{ arch powerpc; kernel {kernel}; ram 256G }}
iommu phb0: spapr-tce
iommu phb4: spapr-tce{quirk}
device nvme: "pci144d,a808" {{ pci 0000:01:00.0; iommu phb0 sid 0x1fd; dma-mask 64 }}
# a BCM5719's two functions share PE#0
device eth0: "pci14e4,1657" {{ pci 0004:01:00.0; iommu phb4 sid 0x0; dma-mask 64 }}
device eth1: "pci14e4,1657" {{ pci 0004:01:00.1; iommu phb4 sid 0x0; dma-mask 64 }}
# a GPU that reaches 47 bits, below the bypass window at 1 << 59
device gpu: "pci10de,1f08" {{ pci 0004:02:00.0; iommu phb4 sid 0x1; dma-mask 47 }}
{extra}
"""


def _p9(kernel: str = "6.8", extra: str = "", quirk: str = "") -> Resolution:
    text = P9.format(kernel=kernel, extra=extra, quirk=quirk)
    return Board.from_text(text, "talos.iommu").resolution


def test_spapr_tce_groups_are_the_pes() -> None:
    res = _p9()
    assert not res.errors
    assert res.devices["eth1"].values["group_members"] == ["eth0", "eth1"]
    assert res.devices["gpu"].values["group_members"] == ["gpu"]
    assert "PE#0" in _why(res, "eth1", "group")


@pytest.mark.parametrize(
    ("kernel", "default"), [("6.3", "none"), ("6.6", "none"), ("6.8", "platform")]
)
def test_spapr_tce_default_domain_by_era(kernel: str, default: str) -> None:
    res = _p9(kernel)
    assert not res.errors
    assert res.devices["nvme"].values["default_domain"] == default
    # the DMA API never goes through a domain: the arch's ops, bypass for a 64-bit mask
    assert res.devices["nvme"].values["dma_ops"] == "dma-direct"
    assert res.devices["gpu"].values["dma_ops"] == "dma_iommu"


def test_spapr_tce_bypass_needs_the_phb_to_offer_it() -> None:
    res = _p9(quirk=" { quirk no-bypass }")
    assert res.devices["eth0"].values["dma_ops"] == "dma_iommu"
    assert res.devices["nvme"].values["dma_ops"] == "dma-direct"  # phb0 has its window
    # a 62-bit mask: pseries' direct DDW serves 64-bit masks only
    res = _p9(extra='device nic: "pci1,2" { pci 0000:02:00.0; iommu phb0 sid 0x2; dma-mask 62 }')
    assert res.devices["nic"].values["dma_ops"] == "dma_iommu"


def test_spapr_tce_dma_ops_outlive_the_iommu_layer() -> None:
    """The platform code sets dma_iommu_ops whatever the IOMMU API does: a refused group (an
    untrusted function), a PHB the kernel does not register, a function without a PE."""
    res = _p9(extra='device tb: "pci1,2" { pci 0000:03:00.0; iommu phb0 sid 0x3; untrusted }')
    assert "E210" in {d.code for d in res.diagnostics}
    assert res.devices["tb"].values["dma_ops"] == "dma_iommu"
    text = P9.format(kernel="6.8", quirk=" { disabled }", extra="")
    res = Board.from_text(text, "t.iommu").resolution
    assert res.devices["gpu"].values["group"] == "none"
    assert res.devices["gpu"].values["dma_ops"] == "dma_iommu"
    res = _p9(extra='device usb: "pci1912,0014" { pci 0000:02:00.0 }')
    assert res.devices["usb"].values["dma_ops"] == "dma_iommu"  # W215, a 32-bit mask


@pytest.mark.parametrize(("kernel", "ok"), [("6.3", False), ("6.4", True), ("6.8", True)])
def test_spapr_tce_blocked_domain_takes_the_pe_from_the_kernel(kernel: str, ok: bool) -> None:
    """VFIO's blocked domain (a940904443e4, 6.4) runs take_ownership: the kernel's DMA
    API has no table left. Before 6.4 there are no iommu_ops to build it with."""
    res = _p9(kernel, "domain vfio: blocked on phb4 { attach gpu }")
    assert ("E120" in {d.code for d in res.diagnostics}) is not ok
    gpu = res.devices["gpu"].values
    assert (gpu["domain"] == "vfio") is ok
    assert gpu["dma_ops"] == ("none" if ok else "dma_iommu")


def test_spapr_tce_has_no_paging_domain() -> None:
    res = _p9(extra="domain map: unmanaged on phb4 { attach gpu }")
    e120 = [d for d in res.diagnostics if d.code == "E120"]
    assert e120 and "SPAPR TCE IOMMU type" in (e120[0].help or "")


def test_spapr_tce_clients_are_pci_functions_in_a_pe() -> None:
    extra = (
        'device i2c: "ibm,power9-i2c" { iommu phb0 sid 0x2 }\n'
        'device usb: "pci1912,0014" { pci 0000:02:00.0 }'
    )
    diags = Board.from_text(P9.format(kernel="6.8", quirk="", extra=extra), "t").model.diagnostics
    assert sorted(d.code for d in diags if d.code in ("E131", "W215")) == ["E131", "W215"]


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
    ("extra", "code"),
    [
        ('device x: "pci1,2" { pci 0000:05:00.0; iommu phb0 sid 1, sid 2 }', "E108"),
        ('device x: "pci1,2" { pci 0000:05:00.0; iommu phb0 sid 1; iommu phb4 sid 1 }', "E131"),
        ("iommu odd: spapr-tce { quirk endpoint-partitioning }", "W217"),
    ],
)
def test_spapr_tce_board_mistakes(extra: str, code: str) -> None:
    text = P9.format(kernel="6.8", quirk="", extra=extra)
    assert code in {d.code for d in Board.from_text(text, "t.iommu").model.diagnostics}


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


def test_spapr_tce_groups_functions_no_driver_binds() -> None:
    """POWER adds every function to its PE's group when the PCI code sets up its DMA
    (pnv_pci_ioda_dma_dev_setup), not at driver bind: a Talos II's VGA that ast.modeset=0
    leaves without a driver is still "Adding to iommu group 2"."""
    extra = 'device vga: "pci1a03,2000" { pci 0005:02:00.0; iommu phb4 sid 0xfc; driver none }'
    res = _p9("6.6", extra)
    assert res.devices["vga"].values["group"] != "none"
    assert res.devices["vga"].values["dma_ops"] == "none"


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
