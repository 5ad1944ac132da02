"""`iommu-rules import dts` on real kernel device trees.

The fixtures under fixtures/dts/real are trimmed excerpts of torvalds/linux device trees
(each names its files and commits in its header): the IOMMU nodes and every node with
`iommus`, verbatim, with the board's status overrides. Each board is imported, its
facts are checked against what the kernel reads from the same nodes, expectations are
appended and run with `iommu-rules test`, and the devices the hand-written example for
the SoC also describes are compared stream by stream.

The tests marked xfail state what the kernel does where the importer does not do it yet;
they are strict, so a fix makes them fail until the marker goes.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from iommu_rules import Board

from conftest import EXAMPLES, run_cli

FIX = Path(__file__).parent / "fixtures" / "dts" / "real"
INCLUDE = FIX / "include"

DEVICE = re.compile(r"^device (\w+): ((?:\"[^\"]*\"(?:, )?)+) \{(.*?)\}", re.M | re.S)


def imported(tmp_path: Path, fixture: str, name: str = "board.iommu") -> str:
    out = tmp_path / name
    proc = run_cli("import", "dts", str(FIX / fixture), "-I", str(INCLUDE), "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "warning[" not in proc.stderr and "error[" not in proc.stderr, proc.stderr
    return out.read_text()


def devices(text: str) -> dict[str, tuple[list[str], str]]:
    """Device name -> (compatibles, its `iommu ...` property or "")."""
    found: dict[str, tuple[list[str], str]] = {}
    for name, compat, body in DEVICE.findall(text):
        props = [re.sub(r"#.*", "", p).strip() for p in re.split(r"[;\n]", body)]
        iommu = " ".join(next((p for p in props if p.startswith("iommu ")), "").split())
        found[name] = (re.findall(r"\"([^\"]*)\"", compat), iommu)
    return found


def numbers(stream: str) -> str:
    """`sid 0x0040 mask 0` and `sid 0x40 mask 0x0` are the same entry."""
    return re.sub(r"\b(0x[0-9a-fA-F]+|\d+)\b", lambda m: str(int(m.group(0), 0)), stream)


def expect_all(tmp_path: Path, board: str, expectations: str, name: str = "expect.iommu") -> None:
    """Append the expectations to the board and run `iommu-rules test`; all must hold."""
    path = tmp_path / name
    path.write_text(board + "\n" + expectations)
    count = sum(1 for line in expectations.splitlines() if line.startswith("expect "))
    proc = run_cli("test", str(path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"{count} passed, 0 failed" in proc.stdout, proc.stdout


def compare_with_example(text: str, example: str, same: dict[str, str]) -> None:
    """The example's devices and the imported ones for the same DT nodes: the example's
    compatibles lead the node's and the `iommu` entries are the same."""
    ours = devices(text)
    theirs = devices((EXAMPLES / example).read_text())
    for example_name, name in same.items():
        their_compat, their_iommu = theirs[example_name]
        our_compat, our_iommu = ours[name]
        assert our_compat[: len(their_compat)] == their_compat, (example_name, our_compat)
        assert numbers(our_iommu) == numbers(their_iommu), (example_name, our_iommu, their_iommu)


# ---------------------------------------------------------------- Tegra30 (Nexus 7 2012)

TEGRA30 = "tegra30-grouper.dts"


def tegra30_swgroups() -> dict[str, str]:
    """TEGRA_SWGROUP_<NAME> from the (trimmed) dt-bindings header: `name` -> value."""
    header = (INCLUDE / "dt-bindings" / "memory" / "tegra30-mc.h").read_text()
    return {
        m.group(1).lower(): m.group(2)
        for m in re.finditer(r"#define TEGRA_SWGROUP_(\w+)\s+(\d+)", header)
    }


def test_tegra30_import(tmp_path: Path) -> None:
    text = imported(tmp_path, TEGRA30)
    # Root compatible "asus,grouper", "nvidia,tegra30": arm, the Tegra30 fact pack (which
    # includes std/soc/tegra).
    assert "arch arm\n" in text and 'include "std/soc/tegra30"' in text
    # tegra30.dtsi's memory node says 0 bytes; grouper-common.dtsi sets 1 GiB.
    assert "ram 0x80000000 size 0x40000000" in text
    # memory-controller@7000f000, "nvidia,tegra30-mc": the pack declares it as `mc` (four
    # ASIDs, drivers/memory/tegra/tegra30.c: .num_asids = 4; the SoC groups by era).
    assert "# /memory-controller@7000f000: declared by std/soc/tegra30 as 'mc'" in text
    assert "iommu mc:" not in text
    # The swgroups arrive through cpp as numbers (TEGRA_SWGROUP_HC is 12, NV 9, NV2 10)
    # and come back as the header's names, which the pack's groups list.
    names = {v: k for k, v in tegra30_swgroups().items()}
    assert (names["12"], names["9"], names["10"]) == ("hc", "nv", "nv2")
    assert devices(text) == {
        "host1x": (["nvidia,tegra30-host1x"], "iommu mc swgroup hc"),
        "gr2d": (["nvidia,tegra30-gr2d"], "iommu mc swgroup g2"),
        "gr3d": (["nvidia,tegra30-gr3d"], "iommu mc swgroup nv, swgroup nv2"),
        # dc@54200000 carries the label tegra30-asus-lvds-display.dtsi gives it
        "lcd": (["nvidia,tegra30-dc"], "iommu mc swgroup dc"),
        "dc": (["nvidia,tegra30-dc"], "iommu mc swgroup dcb"),
        "vde": (["nvidia,tegra30-vde", "nvidia,tegra20-vde"], "iommu mc swgroup vde"),
    }
    # mpe, vi, epp and isp are status = "disabled" and the board does not enable them.
    for gone in ("mpe", "vi@", "epp", "isp"):
        assert gone not in text


def test_tegra30_matches_the_example(tmp_path: Path) -> None:
    """examples/tegra30.iommu and the import name the swgroups alike (TEGRA_SWGROUP_DC is
    `dc`). gr3d: the DT lists NV and NV2, the example NV only, the one that picks its
    group (tegra_smmu_device_group reads fwspec->ids[0])."""
    text = imported(tmp_path, TEGRA30)
    same = {"host1x": "host1x", "gr2d": "gr2d", "dc0": "lcd", "dc1": "dc", "vde": "vde"}
    compare_with_example(text, "tegra30.iommu", same)
    example = devices((EXAMPLES / "tegra30.iommu").read_text())
    assert example["gr3d"][1] == "iommu mc swgroup nv"
    assert devices(text)["gr3d"][1] == "iommu mc swgroup nv, swgroup nv2"
    # sdhci0 has no iommus in the DT (mmc@78000000), so the import has no device for it.
    assert example["sdhci0"][1] == ""
    # The same 1 GiB at 0x80000000.
    assert "ram 0x80000000 size 1G" in (EXAMPLES / "tegra30.iommu").read_text()
    assert "ram 0x80000000 size 0x40000000" in text


def test_tegra30_expectations(tmp_path: Path) -> None:
    text = imported(tmp_path, TEGRA30)
    expect_all(
        tmp_path,
        text,
        """\
# of_iommu_configure: each node's `iommus` phandle is the memory controller
expect gr3d.iommu == mc
expect host1x.iommu == mc
# drivers/memory/tegra/tegra30.c: tegra30_groups lists DC, DCB, G2, NV, NV2 only, so
# host1x (HC) and vde (VDE) get a group of their own (tegra_smmu_device_group)
expect host1x.group_members == [host1x]
expect vde.group_members == [vde]
# 6.7+: tegra_smmu_def_domain_type returns IOMMU_DOMAIN_IDENTITY for every client
# ("FIXME ... IDENTITY mode"); an identity attach takes no ASID
expect gr2d.default_domain == identity
expect vde.default_domain == identity
# the drivers' own domains, from std/soc/tegra: tegra-drm attaches its engines over the
# identity domain from fae6e669cdc5 (6.8), tegra-vde replaces it (tegra_vde_iommu_init)
expect gr2d.domain == tegra_drm
expect tegra_drm.members == [lcd, dc, gr2d, gr3d]
expect vde.domain == tegra_vde
expect mc.contexts_used == 2
""",
    )


@pytest.mark.parametrize(
    ("kernel", "members", "groups"),
    [
        # tegra30_groups "drm": DC, DCB, G2, NV, NV2 (63a613fdb16c, v5.5)
        ("6.8", "[lcd, dc, gr2d, gr3d]", 3),
        # before 5.5, "display": DC, DCB (the era examples/tegra30.iommu models)
        ("4.18", "[lcd, dc]", 5),
    ],
)
def test_tegra30_soc_group(tmp_path: Path, kernel: str, members: str, groups: int) -> None:
    text = imported(tmp_path, TEGRA30)
    assumed = "kernel 6.8  # an assumption: set the kernel you run"
    assert text.count(assumed) == 1
    text = text.replace(assumed, f"kernel {kernel}")
    expect_all(
        tmp_path,
        text,
        f"""\
# drivers/memory/tegra/tegra30.c: tegra30_groups; tegra-smmu.c: tegra_smmu_find_group
expect lcd.group_members == {members}
expect mc.groups == {groups}
""",
    )


# ---------------------------------------------------------------- SDM845 (Dragonboard 845c)

SDM845 = "sdm845-db845c.dts"

# Every node with iommus that is enabled on the db845c, in DT order, as the kernel reads
# it: arm_smmu_of_xlate takes (SID, SMR mask) for apps_smmu (#iommu-cells = <2>) and a
# bare SID for adreno_smmu (#iommu-cells = <1>).
SDM845_DEVICES = {
    "q6asmdai": (["qcom,q6asm-dais"], "iommu apps_smmu sid 0x1821 mask 0x0"),
    "compute_cb": (["qcom,fastrpc-compute-cb"], "iommu apps_smmu sid 0x1823 mask 0x0"),
    "compute_cb_2": (["qcom,fastrpc-compute-cb"], "iommu apps_smmu sid 0x1824 mask 0x0"),
    **{
        f"compute_cb_{n + 2}": (
            ["qcom,fastrpc-compute-cb"],
            f"iommu apps_smmu sid 0x140{n} mask 0x30",
        )
        for n in range(1, 9)
    },
    "qupv3_id_0": (["qcom,geni-se-qup"], "iommu apps_smmu sid 0x3 mask 0x0"),
    "qupv3_id_1": (["qcom,geni-se-qup"], "iommu apps_smmu sid 0x6c3 mask 0x0"),
    "pcie0": (["qcom,pcie-sdm845", "snps,dw-pcie"], "iommu apps_smmu sid 0x1c10 mask 0xf"),
    "pcie1": (["qcom,pcie-sdm845", "snps,dw-pcie"], "iommu apps_smmu sid 0x1c00 mask 0xf"),
    "ufs_mem_hc": (
        ["qcom,sdm845-ufshc", "qcom,ufshc", "jedec,ufs-2.0"],
        "iommu apps_smmu sid 0x100 mask 0xf",
    ),
    "cryptobam": (
        ["qcom,bam-v1.7.0"],
        "iommu apps_smmu sid 0x704 mask 0x1, sid 0x706 mask 0x1, sid 0x714 mask 0x1, "
        "sid 0x716 mask 0x1",
    ),
    "crypto": (
        ["qcom,crypto-v5.4"],
        "iommu apps_smmu sid 0x704 mask 0x1, sid 0x706 mask 0x1, sid 0x714 mask 0x1, "
        "sid 0x716 mask 0x1",
    ),
    "sdhc_2": (["qcom,sdm845-sdhci", "qcom,sdhci-msm-v5"], "iommu apps_smmu sid 0xa0 mask 0xf"),
    "slim": (["qcom,slim-ngd-v2.1.0"], "iommu apps_smmu sid 0x1806 mask 0x0"),
    "usb_1_dwc3": (["snps,dwc3"], "iommu apps_smmu sid 0x740 mask 0x0"),
    "usb_2_dwc3": (["snps,dwc3"], "iommu apps_smmu sid 0x760 mask 0x0"),
    "venus": (["qcom,sdm845-venus-v2"], "iommu apps_smmu sid 0x10a0 mask 0x8, sid 0x10b0 mask 0x0"),
    "camss": (
        ["qcom,sdm845-camss"],
        "iommu apps_smmu sid 0x808 mask 0x0, sid 0x810 mask 0x8, sid 0xc08 mask 0x0, "
        "sid 0xc10 mask 0x8",
    ),
    "mdss": (["qcom,sdm845-mdss"], "iommu apps_smmu sid 0x880 mask 0x8, sid 0xc80 mask 0x8"),
    "gpu": (["qcom,adreno-630.2", "qcom,adreno"], "iommu adreno_smmu sid 0x0"),
    "gmu": (["qcom,adreno-gmu-630.2", "qcom,adreno-gmu"], "iommu adreno_smmu sid 0x5"),
    "slimbam": (["qcom,bam-v1.7.0"], "iommu apps_smmu sid 0x1806 mask 0x0"),
    "wifi": (["qcom,wcn3990-wifi"], "iommu apps_smmu sid 0x40 mask 0x1"),
}


def without_soc_pack(tmp_path: Path, fixture: str, root: str) -> str:
    """Import the fixture under another root compatible, so no SoC fact pack applies and
    the importer declares the IOMMUs from the nodes itself."""
    dts = tmp_path / f"nopack-{fixture}"
    dts.write_text((FIX / fixture).read_text().replace(root, '"vendor,board"'))
    out = tmp_path / "nopack.iommu"
    proc = run_cli("import", "dts", str(dts), "-I", str(INCLUDE), "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    return out.read_text()


SDM845_ROOT = '"thundercomm,db845c", "qcom,sdm845"'


def test_sdm845_import_uses_the_soc_pack(tmp_path: Path) -> None:
    """Root compatible "qcom,sdm845": std/soc/sdm845 declares both SMMUs (same labels) and
    carries both hosts' iommu-maps, so the nodes become notes."""
    text = imported(tmp_path, SDM845)
    assert "arch arm64\n" in text and 'include "std/soc/sdm845"' in text
    assert "# /soc@0/iommu@15000000: declared by std/soc/sdm845 as 'apps_smmu'" in text
    assert "# /soc@0/pci@1c00000: its iommu-map is the fact pack's, on that IOMMU" in text
    assert "\niommu " not in text
    assert devices(text) == SDM845_DEVICES


def test_sdm845_import(tmp_path: Path) -> None:
    text = without_soc_pack(tmp_path, SDM845, SDM845_ROOT)
    # memory@80000000 has size 0 in sdm845.dtsi ("We expect the bootloader to fill in
    # the size") and the db845c does not set it: no RAM range.
    assert "ram " not in text
    # apps_smmu: "qcom,sdm845-smmu-500", "arm,mmu-500", #iommu-cells = <2>.
    assert "iommu apps_smmu: qcom-smmu {\n    cells 2\n" in text
    assert re.search(r"iommu adreno_smmu: [\w-]+ \{\n    cells 1\n\}", text)
    assert devices(text) == SDM845_DEVICES
    # ipa@1e40000 is status = "disabled" and the db845c does not enable it.
    assert "0x720" not in text and "device ipa" not in text
    # Each host's iommu-map lands on apps_smmu with its linux,pci-domain, 16 entries each;
    # no iommu-map-mask, so no mask.
    maps = re.findall(r"^    map pci-domain (\d) rid (0x\w+) sid (0x\w+) length 0x1  #", text, re.M)
    assert len(maps) == 32
    assert maps[0] == ("0", "0x0", "0x1c10") and maps[15] == ("0", "0xf00", "0x1c1f")
    assert maps[16] == ("1", "0x0", "0x1c00") and maps[31] == ("1", "0xf00", "0x1c0f")
    # ... the same entries std/soc/sdm845 carries
    from iommu_rules.loader import std_root

    pack = (std_root() / "std" / "soc" / "sdm845.iommu").read_text()
    entries = re.findall(r"^    map pci-domain (\d) rid (0x\w+) sid (0x\w+) length 0x1", pack, re.M)
    assert entries == maps


def test_sdm845_matches_the_example(tmp_path: Path) -> None:
    """examples/sdm845.iommu reads the same sdm845.dtsi copy. Differences: it declares
    `ipa`, which the db845c leaves disabled (no &ipa override), and leaves out the
    fastrpc banks, q6asm and the PCIe hosts, which the import has."""
    text = imported(tmp_path, SDM845)
    same = {
        "adreno": "gpu",
        "gmu": "gmu",
        "mdss": "mdss",
        "ufs": "ufs_mem_hc",
        "sdhc2": "sdhc_2",
        "usb1": "usb_1_dwc3",
        "usb2": "usb_2_dwc3",
        "qup0": "qupv3_id_0",
        "qup1": "qupv3_id_1",
        "cryptobam": "cryptobam",
        "qce": "crypto",
        "venus": "venus",
        "camss": "camss",
        "wcn3990": "wifi",
        "slimbam": "slimbam",
        "slim": "slim",
    }
    compare_with_example(text, "sdm845.iommu", same)
    example = devices((EXAMPLES / "sdm845.iommu").read_text())
    assert example["ipa"][1] == "iommu apps_smmu sid 0x720 mask 0x0, sid 0x722 mask 0x0"
    assert "ipa" not in devices(text)


def test_sdm845_expectations(tmp_path: Path) -> None:
    text = imported(tmp_path, SDM845, "db845c.iommu")
    expect_all(
        tmp_path,
        text,
        """\
# arm64 keeps the Kconfig default IOMMU_DEFAULT_DMA_STRICT (drivers/iommu/Kconfig)
expect system.default_domain == dma
# arm-smmu-qcom.c: qcom_smmu_client_of_match lists "qcom,sdm845-mdss" and "qcom,adreno",
# and since afc95681c306 (v6.8) "qcom,adreno-gmu": qcom_smmu_def_domain_type asks identity
expect mdss.default_domain == identity
expect gpu.default_domain == identity
expect gmu.default_domain == identity
# dma-iommu.c: iommu_setup_dma_ops sets up iommu-dma for DMA domains only
expect mdss.dma_ops == dma-direct
# not on the list: the global default, a strict DMA domain
expect ufs_mem_hc.default_domain == dma
expect ufs_mem_hc.dma_ops == iommu-dma
expect usb_1_dwc3.dma_ops == iommu-dma
expect venus.default_domain == dma
# camss has status = "ok": of_device_is_available() takes "okay" and "ok"
expect camss.iommu == apps_smmu
# arm-smmu.c: arm_smmu_find_sme reuses an SMR that covers the (SID, mask) and
# arm_smmu_device_group returns that entry's group: crypto + BAM, SLIMbus + BAM
expect crypto.group_members == [cryptobam, crypto]
expect slimbam.group_members == [slim, slimbam]
# the cDSP banks 0x1401..0x1408 under mask 0x30 do not overlap: a group each
expect compute_cb_3.group_members == [compute_cb_3]
# 27 apps_smmu masters, two shared pairs: 25 groups; all but mdss translate, one bank each,
# and mdss's identity group takes the display's own domain (std/driver/msm: msm_kms)
expect apps_smmu.groups == 25
expect apps_smmu.contexts_used == 25
expect mdss.domain == msm_kms
# identity is S2CR bypass on arm-smmu: no context bank for the default domains; the GPU's
# and the GMU's own domains (std/driver/msm) take banks 0 (the Adreno hook) and 1
expect adreno_smmu.groups == 2
expect adreno_smmu.contexts_used == 2
expect gpu.domain == msm_gpu
expect gpu.context == 0
expect gmu.domain == msm_gmu
""",
    )


def test_sdm845_pci_functions(tmp_path: Path) -> None:
    """A function behind each host reaches apps_smmu through the host's iommu-map, and its
    SID lies within the host controller's own `iommus` SMR (0x1c10 mask 0xf)."""
    imported(tmp_path, SDM845, "db845c.iommu")
    expect_all(
        tmp_path,
        'include "db845c.iommu"\n'
        'device nvme: "pci144d,a808" { pci 0000:01:00.0 }\n'
        'device wlan: "pci17cb,1101" { pci 0001:01:00.0 }\n',
        """\
# drivers/of/base.c: of_map_id: RID 0x100 -> 0x1c11 on pcie0 (linux,pci-domain = <0>),
# 0x1c01 on pcie1 (linux,pci-domain = <1>)
expect nvme.iommu == apps_smmu
expect wlan.iommu == apps_smmu
# arm-smmu.c: arm_smmu_find_sme finds the host's SMR covering the function's SID and
# arm_smmu_device_group returns its group before asking pci_device_group
expect nvme.group_members == [pcie0, nvme]
expect wlan.group_members == [pcie1, wlan]
""",
        "pci.iommu",
    )


def test_sdm845_adreno_smmu_kind(tmp_path: Path) -> None:
    # arm-smmu-qcom.c: qcom_smmu_impl_init checks of_device_is_compatible(np,
    # "qcom,adreno-smmu") and picks the Adreno implementation (context bank 0 for the GPU).
    text = without_soc_pack(tmp_path, SDM845, SDM845_ROOT)
    assert "iommu adreno_smmu: adreno-smmu {" in text


def test_sdm845_children_of_disabled_nodes(tmp_path: Path) -> None:
    """sdm845.dtsi without the board: usb_1/usb_2 (the dwc3 glue) and the ADSP/CDSP
    remoteprocs are disabled, so their children never become devices."""
    source = (FIX / SDM845).read_text()
    soc_only = tmp_path / "sdm845-soc-only.dts"
    soc_only.write_text(source.split("/* sdm845-db845c.dts */")[0])
    out = tmp_path / "soc.iommu"
    proc = run_cli("import", "dts", str(soc_only), "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    # drivers/of/platform.c: of_platform_device_create_pdata creates no device for an
    # unavailable node, so no driver probes it and nothing creates its children: the
    # dwc3 core is populated by the qcom dwc3 glue, the q6asm and fastrpc nodes by the
    # remoteproc's glink edge.
    assert sorted(devices(out.read_text())) == ["crypto", "cryptobam", "slim", "slimbam"]


# ---------------------------------------------------------------- RK3399 (ROCK Pi 4A)

RK3399 = "rk3399-rock-pi-4a.dts"


def test_rk3399_import(tmp_path: Path) -> None:
    text = imported(tmp_path, RK3399)
    # Root compatible "radxa,rockpi4a", "radxa,rockpi4", "rockchip,rk3399": arm64, no SoC
    # fact pack, the Rockchip DRM's policy pack (its domain over the VOPs); no memory node.
    assert "arch arm64\n" in text and "ram " not in text
    assert re.findall(r'^include "(std/soc/\S+)"', text, re.M) == ["std/soc/rockchip"]
    # Seven "rockchip,iommu" nodes with #iommu-cells = <0>; iep_mmu stays disabled.
    iommus = re.findall(r"^iommu (\w+): rockchip( \{\n    disabled\n\})?$", text, re.M)
    assert iommus == [
        ("vpu_mmu", ""),
        ("vdec_mmu", ""),
        ("iep_mmu", " {\n    disabled\n}"),
        ("vopl_mmu", ""),
        ("vopb_mmu", ""),
        ("isp0_mmu", ""),
        ("isp1_mmu", ""),
    ]
    # One IOMMU per master; `iommus = <&vopb_mmu>` has no cells, so no stream.
    assert devices(text) == {
        "vpu": (["rockchip,rk3399-vpu"], "iommu vpu_mmu"),
        "vdec": (["rockchip,rk3399-vdec"], "iommu vdec_mmu"),
        "vopl": (["rockchip,rk3399-vop-lit"], "iommu vopl_mmu"),
        "vopb": (["rockchip,rk3399-vop-big"], "iommu vopb_mmu"),
    }


def test_rk3399_matches_the_example(tmp_path: Path) -> None:
    """examples/rk3399.iommu reads the same rk3399.dtsi copy. It also declares isp0 and
    isp1, which are status = "disabled" in that dtsi and which the ROCK Pi 4 does not
    enable (their IOMMUs are enabled: the import has them, with no master)."""
    text = imported(tmp_path, RK3399)
    same = {"vopb": "vopb", "vopl": "vopl", "vpu": "vpu", "vdec": "vdec"}
    compare_with_example(text, "rk3399.iommu", same)
    example = devices((EXAMPLES / "rk3399.iommu").read_text())
    assert example["isp0"][1] == "iommu isp0_mmu" and example["isp1"][1] == "iommu isp1_mmu"
    assert "isp0" not in devices(text) and "isp1" not in devices(text)


def test_rk3399_expectations(tmp_path: Path) -> None:
    text = imported(tmp_path, RK3399)
    expect_all(
        tmp_path,
        text,
        """\
# arm64 keeps IOMMU_DEFAULT_DMA_STRICT and rockchip-iommu.c has no def_domain_type
expect system.default_domain == dma
expect vopb.default_domain == dma
expect vdec.default_domain == dma
# dma-iommu.c: iommu_setup_dma_ops for a DMA default domain
expect vopb.dma_ops == iommu-dma
expect vopl.dma_ops == iommu-dma
expect vpu.dma_ops == iommu-dma
# rockchip-iommu.c: rk_iommu_device_group hands out the instance's own group
expect vopb.group_members == [vopb]
expect vopl.group_members == [vopl]
expect vdec.group_members == [vdec]
expect vopb_mmu.groups == 1
expect vdec_mmu.contexts_used == 1
# isp0_mmu and isp1_mmu probe, but no enabled master points at them on this board
expect isp0_mmu.groups == 0
expect isp1_mmu.groups == 0
# iep_mmu is status = "disabled": rk_iommu_probe never runs
expect iep_mmu.groups == 0
""",
    )


# ---------------------------------------------------------------- MSM8916 (DragonBoard 410c)
APQ8016 = "apq8016-sbc.dts"


def test_apq8016_import_takes_the_iommus_from_the_soc_pack(tmp_path: Path) -> None:
    """The root compatible "qcom,apq8016" selects std/soc/msm8916, whose apps_iommu and
    gpu_iommu replace the nodes (same labels); every master keeps its DT context cells."""
    text = imported(tmp_path, APQ8016)
    assert 'include "std/soc/msm8916"' in text
    assert "# /soc@0/iommu@1ef0000: declared by std/soc/msm8916 as 'apps_iommu'" in text
    assert "\niommu " not in text
    assert devices(text) == {
        "mdp": (["qcom,mdp5"], "iommu apps_iommu context 4"),  # mdss enabled by the board
        "camss": (["qcom,msm8916-camss"], "iommu apps_iommu context 3"),
        "gpu": (["qcom,adreno-306.0", "qcom,adreno"], "iommu gpu_iommu context 1, context 2"),
        "venus": (["qcom,msm8916-venus"], "iommu apps_iommu context 5"),
    }


def test_apq8016_matches_the_example(tmp_path: Path) -> None:
    text = imported(tmp_path, APQ8016)
    same = {"mdp": "mdp", "camss": "camss", "gpu": "gpu", "venus": "venus"}
    compare_with_example(text, "db410c.iommu", same)


def test_msm_iommu_banks_come_from_the_ctx_children(tmp_path: Path) -> None:
    """Without a SoC pack the importer declares an MSM IOMMU v1 itself: as many contexts as
    the highest iommu-ctx child (reg / 0x1000, qcom_iommu_device_probe), -sec ones secure."""
    dts = tmp_path / "other.dts"
    source = (FIX / APQ8016).read_text()
    dts.write_text(source.replace('"qcom,apq8016-sbc", "qcom,apq8016"', '"vendor,board"'))
    out = tmp_path / "other.iommu"
    proc = run_cli("import", "dts", str(dts), "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    text = out.read_text()
    assert (
        "iommu apps_iommu: qcom-iommu {\n    cells 1\n"
        "    contexts 5  # qcom_iommu_device_probe: the highest iommu-ctx child\n"
        "    reserved 1, 2  # no iommu-ctx child\n"
        "    secure 3, 5  # qcom,msm-iommu-v1-sec children\n}"
    ) in text
    assert "iommu gpu_iommu: qcom-iommu {\n    cells 1\n    contexts 2  #" in text
    expect_all(
        tmp_path,
        text,
        """\
# a secure bank still serves its client (qcom_iommu_init_domain)
expect venus.context == 5
expect venus.dma_ops == iommu-dma
expect gpu_iommu.contexts_used == 2
""",
    )


def test_the_seed_thread_from_the_device_tree_alone(tmp_path: Path) -> None:
    """The 2018 thread's failure with no hand-written domain: a Tegra30 DT on 4.18 with
    ARM_DMA_USE_IOMMU (a multi-platform kernel) gives every client an implicit mapping, they
    take the four ASIDs, and tegra-drm's own domain (std/soc/tegra: tegra_drm_load,
    iommu_attach_group) finds none left: -ENOSPC. Keeping the engines off implicit
    backing, as the thread asked, leaves it an ASID."""
    text = imported(tmp_path, TEGRA30)
    text = text.replace(
        "kernel 6.8  # an assumption: set the kernel you run",
        "kernel 4.18\n    config ARM_DMA_USE_IOMMU  # multi_v7_defconfig",
    )
    assert "domain " not in text  # nothing hand-written
    board = Board.from_text(text, "grouper.iommu")
    (e301,) = [d for d in board.diagnostics if d.code == "E301"]
    assert e301.message.startswith("domain 'tegra_drm' gets no context on 'mc'")
    assert e301.message.endswith("(4 of 4 in use): -ENOSPC")
    assert board.value("tegra_drm.context") == "none"  # the attach failed
    # and the engine's init says so (dev_err in tegra_dc_init, gr2d_init, ...)
    assert [line for line in board.resolution.log if "failed to attach" in line] == [
        "gr2d: failed to attach to domain: -28"
    ]
    assert board.value("gr2d.domain") == "arm_iommu:gr2d"  # still in its implicit mapping
    assert 'rule "tegra-drm < 5.5' in str(board.why("tegra_drm.members"))
    opt_out = (
        'rule "the engines manage their own": compatible "nvidia,tegra30-gr2d" '
        'or compatible "nvidia,tegra30-gr3d" excludes implicit\n'
    )
    board = Board.from_text(text + opt_out, "grouper.iommu")
    assert not board.resolution.errors
    assert board.value("tegra_drm.members") == ["gr2d", "gr3d", "lcd", "dc"]
    assert board.value("gr2d.dma_ops") == "dma-direct"


# ---------------------------------------------------------------- the examples from the DT alone
def platform_of(text: str) -> str:
    """The `platform { ... }` block of a rule file."""
    found = re.search(r"^platform \{.*?^\}\n", text, re.M | re.S)
    assert found, text
    return found.group(0)


# the board policy of examples/tegra30.iommu, which selects by tag, said by compatible
TEGRA30_POLICY = """\
rule "GPU drivers own their address space": compatible "nvidia,tegra30-gr2d"
    or compatible "nvidia,tegra30-gr3d" excludes implicit
rule "keep ASID 0 for the GPU": context mc.0 reserved for compatible "nvidia,tegra30-gr2d"
    or compatible "nvidia,tegra30-gr3d"
"""


@pytest.mark.parametrize(
    ("fixture", "example", "same", "policy", "exact"),
    [
        (
            TEGRA30,
            "tegra30.iommu",
            {"gr2d": "gr2d", "gr3d": "gr3d", "dc0": "lcd", "dc1": "dc", "vde": "vde"},
            TEGRA30_POLICY,
            True,
        ),
        (RK3399, "rk3399.iommu", {"vopb": "vopb", "vopl": "vopl", "vpu": "vpu"}, "", True),
        (APQ8016, "db410c.iommu", {"mdp": "mdp", "camss": "camss", "gpu": "gpu"}, "", True),
        # the DT enables more apps_smmu masters than the example: other bank numbers
        (SDM845, "sdm845.iommu", {"adreno": "gpu", "gmu": "gmu", "mdss": "mdss"}, "", False),
    ],
)
def test_the_dt_alone_builds_the_examples_driver_domains(
    tmp_path: Path, fixture: str, example: str, same: dict[str, str], policy: str, exact: bool
) -> None:
    """Imported with the example's platform (and board policy) and no hand-written `domain`,
    the DT puts the example's devices in the same drivers' domains (the packs' `builds
    domain` rules), of the same type, with the same contexts and DMA ops."""
    text = imported(tmp_path, fixture)
    assert "\ndomain " not in text
    example_text = (EXAMPLES / example).read_text()
    dt = Board.from_text(
        text.replace(platform_of(text), platform_of(example_text)) + policy, "dt.iommu"
    )
    board = Board.load(EXAMPLES / example)
    origins = set()
    # the example's boot, and the eras and command lines its what-ifs look at
    for changes in [(), ("set kernel 6.8",), ('set cmdline "iommu.passthrough=1"',)]:
        ours = dt.whatif(*changes).resolution if changes else dt.resolution
        theirs = board.whatif(*changes).resolution if changes else board.resolution
        assert not ours.errors, changes
        for example_name, name in same.items():
            mine, want = ours.devices[name], theirs.devices[example_name]
            domain = theirs.domains.get(want.domain or "")
            if domain is not None:
                origins.add(domain.origin)
            attrs = ["domain_type", "dma_ops"]
            if domain is None or domain.origin != "default":  # default:N follow the groups
                attrs.append("domain")
            if exact:
                attrs.append("context")
            for attr in attrs:
                assert mine.values[attr] == want.values[attr], (changes, example_name, attr)
            assert (mine.values["context"] == "none") == (want.values["context"] == "none")
    assert "driver" in origins  # the comparison covers a driver's own domain
