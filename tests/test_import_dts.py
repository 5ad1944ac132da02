"""`iommu-rules import dts`: a device tree (with cpp includes) or a blob becomes a rule file."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from conftest import import_dts, run_cli

FIX = Path(__file__).parent / "fixtures" / "dts"


def imported(tmp_path: Path, *extra: str) -> str:
    out = tmp_path / "board.iommu"
    proc = run_cli(
        "import", "dts", str(FIX / "board.dts"), "-I", str(FIX / "include"), "-o", str(out), *extra
    )
    assert proc.returncode == 0, proc.stderr
    return out.read_text()


def test_dts_with_cpp_includes(tmp_path: Path) -> None:
    text = imported(tmp_path)
    # the SoC's fact pack (ASIDs, SoC groups) declares the memory controller
    assert 'include "std/soc/tegra30"' in text and "arch arm" in text
    assert "# /memory-controller@7000f000: declared by std/soc/tegra30 as 'mc'" in text
    assert "ram 0x80000000 size 0x40000000" in text
    assert "iommu apps_smmu: qcom-smmu" in text and "cells 2" in text
    assert "iommu apps_smmu sid 0x100 mask 0xf; coherent" in text
    assert "iommu apps_smmu sid 0x704 mask 0x1, sid 0x706 mask 0x1" in text
    assert "iommu mc swgroup dc" in text  # the macro came through cpp as 1, named again
    assert "gr2d" not in text  # status = "disabled"
    proc = run_cli("resolve", str(tmp_path / "board.iommu"))
    assert proc.returncode == 0, proc.stderr
    assert "ufs" in proc.stdout


def test_dtb(tmp_path: Path) -> None:
    import fdt

    text = imported(tmp_path)
    # Compile the preprocessed source into a blob with the fdt package, then import that.
    from iommu_rules.importers.dts import preprocess

    source, diag = preprocess(FIX / "board.dts", [str(FIX / "include")])
    assert diag is None and source is not None
    blob = tmp_path / "board.dtb"
    blob.write_bytes(fdt.parse_dts(source).to_dtb(version=17))
    out = tmp_path / "from-dtb.iommu"
    proc = run_cli("import", "dts", str(blob), "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    from_blob = out.read_text()
    # Labels do not survive into a blob: names come from node names instead.
    assert "sid 0x704 mask 0x1, sid 0x706 mask 0x1" in from_blob
    assert "swgroup dc" in from_blob and "swgroup dc" in text


def test_errors_are_diagnostics(tmp_path: Path) -> None:
    bad = tmp_path / "bad.dts"
    bad.write_text("/dts-v1/;\n/ { node { prop = <1 2; }; };\n")
    proc = run_cli("import", "dts", str(bad))
    assert proc.returncode == 3 and "error[E815]" in proc.stderr and "Traceback" not in proc.stderr
    proc = run_cli("import", "dts", str(FIX / "board.dts"))  # the include dir is missing
    assert proc.returncode == 3 and "error[E813]" in proc.stderr and "-I" in proc.stderr
    proc = run_cli(
        "import",
        "dts",
        str(FIX / "board.dts"),
        "-I",
        str(FIX / "include"),
        env={"PATH": "/nonexistent"},
    )
    assert proc.returncode == 3 and "needs the C preprocessor" in proc.stderr
    existing = tmp_path / "x.iommu"
    existing.write_text("# mine\n")
    proc = run_cli(
        "import", "dts", str(FIX / "board.dts"), "-I", str(FIX / "include"), "-o", str(existing)
    )
    assert proc.returncode == 2 and existing.read_text() == "# mine\n"
    assert os.path.exists(existing)


def test_pci_host_iommu_maps(tmp_path: Path) -> None:
    """Each host's iommu-map lands on its IOMMU with the host's PCI domain, so functions
    with the same bus/device/function on two hosts reach different stream IDs."""
    out = tmp_path / "hosts.iommu"
    proc = run_cli("import", "dts", str(FIX / "pcie-hosts.dts"), "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    text = out.read_text()
    # The Tegra hosts mask every RID to 0: the mask goes with their entries
    assert "map pci-domain 1 rid 0x0 sid 0x57 length 0x1000 mask 0x0  # /pcie@14100000" in text
    assert "map pci-domain 5 rid 0x0 sid 0x5b length 0x1000 mask 0x0  # /pcie@141a0000" in text
    assert "sid 0x56" not in text  # the disabled host
    # No linux,pci-domain: the lowest number no "pci" node claims (2: the disabled host
    # still reserves 0), one map line per entry, no mask of its own.
    assert "map pci-domain 2 rid 0x0 sid 0x100 length 0x100  # /pcie@40000000" in text
    assert "map pci-domain 2 rid 0x100 sid 0x300 length 0x100  # /pcie@40000000" in text
    assert "warning" not in proc.stderr
    # Plug the same endpoint address into two hosts and resolve.
    board = tmp_path / "board.iommu"
    board.write_text(
        'include "hosts.iommu"\n'
        'device nvme: "pci144d,a808" { pci 0001:01:00.0 }\n'
        'device nvme2: "pci144d,a808" { pci 0001:02:00.0 }\n'
        'device nic: "pci8086,1521" { pci 0005:01:00.0 }\n'
        'device other: "pci8086,1521" { pci 0002:01:00.0 }\n'
        "expect nvme.iommu == smmu\n"
        "expect nic.iommu == smmu\n"
        "expect nvme.group_members == [nvme, nvme2]  # mask 0: one SID per Tegra host\n"
        "expect nic.group_members == [nic]\n"
        "expect other.group_members == [other]  # RID 0x100: sid 0x300\n"
    )
    proc = run_cli("test", str(board))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    proc = run_cli("why", str(board), "nic.iommu")
    assert "reaches 'smmu' through its iommu-map" in proc.stdout, proc.stdout


def test_iommu_map_on_a_non_pci_node_is_a_warning(tmp_path: Path) -> None:
    """The fsl-mc bus maps its objects' ICIDs with an iommu-map; they are not PCI functions
    and not in the DT (the MC firmware makes them): W814 says so."""
    proc, out = import_dts(
        tmp_path,
        "/dts-v1/;\n/ {\n"
        '\tcompatible = "fsl,lx2160a-rdb", "fsl,lx2160a";\n'
        '\tsmmu: iommu@5000000 { compatible = "arm,mmu-500"; #iommu-cells = <1>; };\n'
        '\tfsl-mc@80c000000 { compatible = "fsl,qoriq-mc"; iommu-map = <0x17 &smmu 0 1>; };\n'
        '\tusb@3100000 { compatible = "snps,dwc3"; iommus = <&smmu 0x4>; };\n};\n',
    )
    assert "warning[W814]" in proc.stderr and "not a PCI host" in proc.stderr
    assert "MC firmware" in proc.stderr
    text = out.read_text()
    assert "map rid" not in text and "iommu smmu sid 0x4" in text


def test_a_single_host1x_map_entry_is_one_context_device(tmp_path: Path) -> None:
    """host1x_memory_context_list_init counts entries (u32 cells / 4), not IDs: one entry
    of length 8 is one context device, ID 0."""
    proc, out = import_dts(
        tmp_path,
        "/dts-v1/;\n/ {\n"
        '\tcompatible = "nvidia,p2771-0000", "nvidia,tegra186";\n'
        '\tsmmu: iommu@12000000 { compatible = "nvidia,tegra186-smmu", "nvidia,smmu-500";'
        " #iommu-cells = <1>; };\n"
        '\thost1x@13e00000 { compatible = "nvidia,tegra186-host1x";'
        " iommus = <&smmu 0x6>; iommu-map = <0 &smmu 0x38 8>; };\n};\n",
    )
    text = out.read_text()
    assert "W814" not in proc.stderr
    assert re.findall(r"^device (host1x_ctx\d+)", text, re.M) == ["host1x_ctx0"]
    # std/soc/tegra186 declares the MMU-500 (not the tegra memory controller's pack)
    assert 'include "std/soc/tegra186"' in text and 'include "std/soc/tegra"\n' not in text
    assert "declared by std/soc/tegra186 as 'smmu'" in text


def test_host_maps_onto_a_fact_pack_iommu_are_left_to_the_pack(tmp_path: Path) -> None:
    """On a Tegra194 the pack declares the MMU-500 with the SoC's six PCIe maps; the hosts'
    own iommu-maps point at that IOMMU and must not be added to it (nor crash)."""
    dts = tmp_path / "t194.dts"
    dts.write_text(
        (FIX / "pcie-hosts.dts")
        .read_text()
        .replace('"vendor,pcie-board"', '"nvidia,p2972-0000", "nvidia,tegra194"')
    )
    out = tmp_path / "t194.iommu"
    proc = run_cli("import", "dts", str(dts), "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    text = out.read_text()
    assert 'include "std/soc/tegra194"' in text and "\n    map " not in text
    assert "# /pcie@14100000: its iommu-map is the fact pack's, on that IOMMU" in text
    assert run_cli("check", str(out)).returncode == 0


def test_iommu_map_entries_follow_the_iommus_cells(tmp_path: Path) -> None:
    """of_map_id reads each entry's specifier with the target's #iommu-cells (ccb2fd725d41,
    SM8150-style <rid &smmu sid mask len>), and still takes the old 4-cell form onto a
    2-cell SMMU (of_check_bad_map); a range onto a multi-cell specifier is refused."""
    proc, out = import_dts(
        tmp_path,
        "/dts-v1/;\n/ {\n"
        '\tcompatible = "vendor,board";\n\t#address-cells = <2>;\n\t#size-cells = <2>;\n'
        '\tsmmu: iommu@15000000 { compatible = "arm,mmu-500"; #iommu-cells = <2>; };\n'
        '\tpci@1 { device_type = "pci"; linux,pci-domain = <0>; #address-cells = <3>;'
        " #size-cells = <2>; iommu-map = <0x0 &smmu 0x1d80 0x0 0x1>,"
        " <0x100 &smmu 0x1d81 0x4 0x1>; };\n"
        '\tpci@2 { device_type = "pci"; linux,pci-domain = <1>; #address-cells = <3>;'
        " #size-cells = <2>; iommu-map = <0x0 &smmu 0x1e00 0x1>, <0x100 &smmu 0x1e01 0x1>; };\n"
        '\tpci@3 { device_type = "pci"; linux,pci-domain = <2>; #address-cells = <3>;'
        " #size-cells = <2>; iommu-map = <0x0 &smmu 0x1f00 0x0 0x100>; };\n"
        "};\n",
    )
    text = out.read_text()
    # the second cell is the SMR mask (arm_smmu_of_xlate: args[1])
    assert "map pci-domain 0 rid 0x100 sid 0x1d81 smr-mask 0x4 length 0x1" in text
    assert "map pci-domain 1 rid 0x100 sid 0x1e01 length 0x1" in text
    assert "sid 0x1f00" not in text
    assert "'/pci@3': iommu-map maps 256 IDs from 0x0 onto a 2-cell specifier" in proc.stderr
    assert proc.stderr.count("W814") == 1  # only the refused range on /pci@3 warns
    assert "since ccb2fd725d41" in text
    assert run_cli("check", str(out)).returncode == 0


def test_an_m4u_v1_is_its_own_kind_with_its_pack(tmp_path: Path) -> None:
    """mt7623n.dtsi's M4U ("mediatek,mt7623-m4u", "mediatek,mt2701-m4u") is mtk_iommu_v1,
    not mtk_iommu: its masters share the driver's one arm32 mapping."""
    proc, out = import_dts(
        tmp_path,
        "/dts-v1/;\n/ {\n"
        '\tcompatible = "bananapi,bpi-r2", "mediatek,mt7623";\n'
        '\tmemory@80000000 { device_type = "memory"; reg = <0x80000000 0x80000000>; };\n'
        '\tiommu: mmsys_iommu@10205000 { compatible = "mediatek,mt7623-m4u",'
        ' "mediatek,mt2701-m4u"; #iommu-cells = <1>; };\n'
        '\tovl@14007000 { compatible = "mediatek,mt7623-disp-ovl"; iommus = <&iommu 0>; };\n'
        '\tjpegdec@15004000 { compatible = "mediatek,mt7623-jpgdec";'
        " iommus = <&iommu 43>, <&iommu 28>; };\n};\n",
    )
    text = out.read_text()
    assert "mtk-iommu-v1" in text and 'include "std/iommu/mtk-iommu-v1"' in text
    assert "sid 0x2b, sid 0x1c" in text and "arch arm\n" in text  # MTK_IOMMU_V1: ARM only
    proc = run_cli("resolve", "--json", str(out))
    assert proc.returncode == 0, proc.stderr
    assert '"name": "arm_iommu:iommu_dev"' in proc.stdout


def test_the_arm32_msm_iommu_is_not_taken_for_an_arm_smmu(tmp_path: Path) -> None:
    """ "qcom,apq8064-iommu" is msm_iommu.c, not arm-smmu-qcom: the generic "qcom," prefix
    must not claim it (it did: the board got a qcom-smmu); its qcom,ncb is `contexts`."""
    _, out = import_dts(
        tmp_path,
        "/dts-v1/;\n/ {\n"
        '\tcompatible = "qcom,apq8064-ifc6410", "qcom,apq8064";\n'
        '\tmdp_port0: iommu@7500000 { compatible = "qcom,apq8064-iommu"; #iommu-cells = <1>;'
        " qcom,ncb = <2>; };\n"
        '\tmdp@5100000 { compatible = "qcom,mdp4"; iommus = <&mdp_port0 0 &mdp_port0 2>; };\n};\n',
    )
    text = out.read_text()
    assert "qcom-smmu" not in text and "iommu mdp_port0: msm-iommu" in text
    assert "contexts 2" in text and 'include "std/iommu/msm-iommu"' in text
    assert "sid 0x0, sid 0x2" in text and "arch arm\n" in text
    assert run_cli("check", str(out)).returncode == 0


def test_an_iommu_only_one_arch_builds_says_the_arch_before_the_vendor_prefix(
    tmp_path: Path,
) -> None:
    """MSM_IOMMU depends on ARM: a "qcom," root the vendor table would call arm64 is arm32
    when its IOMMU is msm_iommu (else the board fails E130 and the import E816)."""
    _, out = import_dts(
        tmp_path,
        "/dts-v1/;\n/ {\n"
        '\tcompatible = "qcom,some-new-board";\n'
        '\tmmu: iommu@7500000 { compatible = "qcom,apq8064-iommu"; #iommu-cells = <1>;'
        " qcom,ncb = <2>; };\n"
        '\tmdp@5100000 { compatible = "qcom,mdp4"; iommus = <&mmu 0>; };\n};\n',
    )
    text = out.read_text()
    assert "arch arm\n" in text
    assert run_cli("check", str(out)).returncode == 0


def test_an_iommus_provider_with_no_kind_is_skipped_and_its_clients_say_why(
    tmp_path: Path,
) -> None:
    """Xen's grant DMA node takes `iommus` but is no IOMMU driver (grant-dma-ops.c)."""
    proc, out = import_dts(
        tmp_path,
        "/dts-v1/;\n/ {\n"
        '\tcompatible = "xen,xenvm-4.17", "xen,xenvm";\n'
        '\txen_grant_dma: xen-grant-dma { compatible = "xen,grant-dma"; #iommu-cells = <1>; };\n'
        '\tvirtio@2000000 { compatible = "virtio,mmio"; iommus = <&xen_grant_dma 0>; };\n};\n',
    )
    assert "warning[W811]" in proc.stderr and "grant-dma-ops.c" in proc.stderr
    text = out.read_text()
    # its client is written, and says why it shows as untranslated
    assert "is not modelled; the device is written without it" in proc.stderr
    assert "whose IOMMU iommu-rules does not model (W811): shown untranslated" in text


@pytest.mark.parametrize(
    ("soc", "iommu"),
    [
        ("allwinner,sun50i-h6", '"allwinner,sun50i-h6-iommu"'),
        # H616 and A523 (which falls back to it): the same driver, sun50i_iommu_dt
        ("allwinner,sun50i-h616", '"allwinner,sun50i-h616-iommu"'),
        ("allwinner,sun55i-a523", '"allwinner,sun55i-a523-iommu", "allwinner,sun50i-h616-iommu"'),
    ],
)
def test_the_allwinner_h6_iommu_and_its_pack(tmp_path: Path, soc: str, iommu: str) -> None:
    _, out = import_dts(
        tmp_path,
        "/dts-v1/;\n/ {\n"
        f'\tcompatible = "vendor,board", "{soc}";\n'
        f"\tiommu: iommu@30f0000 {{ compatible = {iommu};"
        " #iommu-cells = <1>; };\n"
        '\tmixer@1100000 { compatible = "allwinner,sun50i-h6-de3-mixer-0";'
        " iommus = <&iommu 0>; };\n"
        "};\n",
    )
    text = out.read_text()
    assert ": sun50i-iommu" in text and 'include "std/iommu/sun50i-iommu"' in text
    assert run_cli("check", str(out)).returncode == 0


def test_the_riscv_iommu_as_a_pci_function_and_its_pack(tmp_path: Path) -> None:
    """QEMU's virt machine (hw/riscv/virt.c: create_fdt_iommu): the IOMMU is a PCI function
    the host's iommu-map skips; the harts' "riscv" compatible makes the board riscv64."""
    _, out = import_dts(
        tmp_path,
        "/dts-v1/;\n/ {\n"
        '\tcompatible = "riscv-virtio";\n'
        "\t#address-cells = <2>; #size-cells = <2>;\n"
        "\tcpus { #address-cells = <1>; #size-cells = <0>;\n"
        '\t\tcpu@0 { device_type = "cpu"; reg = <0>; compatible = "riscv"; }; };\n'
        '\tpci@30000000 { compatible = "pci-host-ecam-generic"; device_type = "pci";\n'
        "\t\t#address-cells = <3>; #size-cells = <2>;\n"
        "\t\tiommu-map = <0x0 &iommu 0x0 0x8>, <0x9 &iommu 0x9 0xfff7>;\n"
        '\t\tiommu: iommu@8 { compatible = "riscv,pci-iommu"; reg = <0x800 0 0 0 0>;'
        " #iommu-cells = <1>; };\n"
        "\t};\n"
        "};\n",
    )
    text = out.read_text()
    assert ": riscv-iommu" in text and 'include "std/iommu/riscv-iommu"' in text
    assert "arch riscv64" in text
    assert "map rid 0x0 sid 0x0 length 0x8" in text
    assert "map rid 0x9 sid 0x9 length 0xfff7" in text
    assert run_cli("check", str(out)).returncode == 0


def test_the_omap_iommu_of_a_dra7_dsp_and_its_pack(tmp_path: Path) -> None:
    """dra7.dtsi: a DSP behind its two MMUs, #iommu-cells = <0>; a TI root is arm32."""
    _, out = import_dts(
        tmp_path,
        "/dts-v1/;\n/ {\n"
        '\tcompatible = "ti,am5728", "ti,dra742", "ti,dra74", "ti,dra7";\n'
        '\tmmu0_dsp1: mmu@40d01000 { compatible = "ti,dra7-dsp-iommu"; #iommu-cells = <0>; };\n'
        '\tmmu1_dsp1: mmu@40d02000 { compatible = "ti,dra7-dsp-iommu"; #iommu-cells = <0>; };\n'
        '\tdsp@40800000 { compatible = "ti,dra7-dsp"; iommus = <&mmu0_dsp1>, <&mmu1_dsp1>; };\n'
        "};\n",
    )
    text = out.read_text()
    assert text.count(": omap-iommu") == 2 and 'include "std/iommu/omap-iommu"' in text
    assert "iommu mmu0_dsp1; iommu mmu1_dsp1" in text
    assert "arch arm\n" in text
    assert run_cli("check", str(out)).returncode == 0


def test_the_unisoc_iommu_and_its_pack(tmp_path: Path) -> None:
    _, out = import_dts(
        tmp_path,
        "/dts-v1/;\n/ {\n"
        '\tcompatible = "sprd,sc9863a";\n'
        '\tiommu_dispc: iommu@63000800 { compatible = "sprd,iommu-v1"; #iommu-cells = <0>; };\n'
        '\tdpu@63000000 { compatible = "sprd,sharkl3-dpu"; iommus = <&iommu_dispc>; };\n};\n',
    )
    text = out.read_text()
    assert "iommu iommu_dispc: sprd-iommu" in text and 'include "std/iommu/sprd-iommu"' in text
    assert "iommu iommu_dispc }" in text
    assert run_cli("check", str(out)).returncode == 0


def test_an_msm_iommu_without_qcom_ncb_is_written_disabled(tmp_path: Path) -> None:
    """msm_iommu_probe: "could not get ncb" - the IOMMU never registers."""
    proc, out = import_dts(
        tmp_path,
        "/dts-v1/;\n/ {\n"
        '\tcompatible = "qcom,apq8064-ifc6410", "qcom,apq8064";\n'
        '\tgfx3d: iommu@7c00000 { compatible = "qcom,apq8064-iommu"; #iommu-cells = <1>; };\n'
        '\tgpu@4300000 { compatible = "qcom,adreno-320.2"; iommus = <&gfx3d 0>; };\n};\n',
    )
    assert "warning[W815]" in proc.stderr
    text = out.read_text()
    assert "disabled  # no qcom,ncb" in text
    assert run_cli("check", str(out)).returncode == 0


# A P4080 device tree as U-Boot hands it over: the PAMU node, and the `fsl,liodn` values
# U-Boot wrote (p4080_ids.c) on the DMA engine, a QMan portal and a PCIe controller.
P4080_FDT = """/dts-v1/;
/ {
\tcompatible = "fsl,P4080DS";
\t#address-cells = <2>;
\t#size-cells = <2>;
\tmemory { device_type = "memory"; reg = <0x0 0x0 0x1 0x0>; };
\tsoc: soc@ffe000000 {
\t\tcompatible = "simple-bus";
\t\tiommu@20000 { compatible = "fsl,pamu-v1.0", "fsl,pamu"; reg = <0x20000 0x5000>; };
\t\tdma@100300 { compatible = "fsl,eloplus-dma"; fsl,liodn = <196>; };
\t\tsdhc@114000 { compatible = "fsl,esdhc"; fsl,liodn = <156>; status = "disabled"; };
\t};
\tqman-portal@0 { compatible = "fsl,qman-portal"; fsl,liodn = <1 2>; };
\tqman-portal@4000 { compatible = "fsl,qman-portal"; fsl,liodn; };
\tpcie@ffe200000 { compatible = "fsl,p4080-pcie"; device_type = "pci"; fsl,liodn = <193>; };
};
"""


def test_the_pamu_and_its_liodn_clients(tmp_path: Path) -> None:
    """No #iommu-cells: the PAMU's clients are the nodes with fsl,liodn, and the machine is
    powerpc (FSL_PAMU depends on PPC_E500MC)."""
    _, out = import_dts(tmp_path, P4080_FDT)
    text = out.read_text()
    assert "iommu pamu: fsl-pamu" in text and 'include "std/iommu/fsl-pamu"' in text
    assert "arch powerpc" in text
    assert '"fsl,eloplus-dma" { iommu pamu sid 196 }' in text
    assert '"fsl,qman-portal" { iommu pamu sid 1, sid 2 }' in text
    assert "esdhc" not in text  # disabled: no device
    assert "# /qman-portal@4000: an empty fsl,liodn" in text  # nothing to program
    # the controller's LIODN is its functions': a note, not a device
    assert "# /pcie@ffe200000: PCI controller, fsl,liodn 193" in text
    assert "fsl,p4080-pcie" not in text.split("# /pcie@ffe200000")[1].split("\n")[0]
    assert run_cli("check", str(out)).returncode == 0


def test_an_arm_smmu_stream_match_mask_comes_through(tmp_path: Path) -> None:
    """A one-cell arm-smmu node's `stream-match-mask` is every client's SMR mask
    (arm_smmu_of_xlate): 0x10 and 0x11 under 0x1 share a stream map entry and a group."""
    _, out = import_dts(
        tmp_path,
        "/dts-v1/;\n/ {\n"
        '\tcompatible = "vendor,board";\n'
        '\tsmmu: iommu@1000 { compatible = "arm,mmu-500", "arm,smmu-v2"; #iommu-cells = <1>;'
        " stream-match-mask = <0x1>; };\n"
        '\ta@2000 { compatible = "vendor,a"; iommus = <&smmu 0x10>; };\n'
        '\tb@3000 { compatible = "vendor,b"; iommus = <&smmu 0x11>; };\n};\n',
    )
    text = out.read_text()
    assert "stream-match-mask 0x1  # arm_smmu_of_xlate: one-cell streams" in text
    proc = run_cli("why", str(out), "a.group_members")
    assert proc.returncode == 0 and proc.stdout.startswith("a.group_members = [a, b]"), proc.stdout


def test_a_bus_dma_ranges_window_comes_through(tmp_path: Path) -> None:
    """i.MX8MQ: soc@0's dma-ranges limits its masters to the CPU window below 4 GiB
    (of_dma_configure_id: bus_dma_limit); with 4 GiB of RAM from 0x40000000 a master the
    IOMMU does not translate bounces through swiotlb above it."""
    _, out = import_dts(
        tmp_path,
        "/dts-v1/;\n/ {\n\t#address-cells = <2>; #size-cells = <2>;\n"
        '\tcompatible = "vendor,imx8mq-board", "fsl,imx8mq";\n'
        '\tmemory@40000000 { device_type = "memory"; reg = <0x0 0x40000000 0x1 0x0>; };\n'
        "\tsoc@0 {\n\t\t#address-cells = <1>; #size-cells = <1>;\n"
        "\t\tdma-ranges = <0x40000000 0x0 0x40000000 0xc0000000>;\n"
        '\t\tsmmu: iommu@1000 { compatible = "arm,mmu-500", "arm,smmu-v2";'
        " #iommu-cells = <1>; };\n"
        '\t\tusb@2000 { compatible = "vendor,usb"; iommus = <&smmu 0x10>; };\n\t};\n};\n',
    )
    text = out.read_text()
    assert "# /soc@0/usb@2000 (dma-range: /soc@0's dma-ranges)" in text
    assert "dma-range 0x40000000 size 0xc0000000 }" in text
    from iommu_rules import Board

    board = Board.load(out).whatif('set cmdline "iommu.passthrough=1"')
    assert board.value("usb.dma_ops") == "dma-direct+swiotlb"
    assert "dma-ranges: CPU 0x40000000..0xffffffff" in str(board.why("usb.dma_ops"))


def test_ram_is_the_memory_nodes_not_the_carve_outs(tmp_path: Path) -> None:
    """early_init_dt_scan_memory takes the root's available children with device_type =
    "memory": a /reserved-memory child named memory@... is a carve-out inside RAM, not
    more RAM (which made ranges overlap, E126)."""
    _, out = import_dts(
        tmp_path,
        "/dts-v1/;\n/ {\n\t#address-cells = <2>; #size-cells = <2>;\n"
        '\tcompatible = "vendor,board";\n'
        '\tmemory@80000000 { device_type = "memory"; reg = <0x0 0x80000000 0x0 0x80000000>; };\n'
        '\tmemory@100000000 { device_type = "memory"; reg = <0x1 0x0 0x0 0x1000>;'
        ' status = "disabled"; };\n'
        "\treserved-memory {\n\t\t#address-cells = <2>; #size-cells = <2>; ranges;\n"
        "\t\tmemory@86000000 { reg = <0x0 0x86000000 0x0 0x200000>; no-map; };\n\t};\n"
        '\tsmmu: iommu@1000 { compatible = "arm,mmu-500"; #iommu-cells = <1>; };\n'
        '\tusb@2000 { compatible = "vendor,usb"; iommus = <&smmu 0x10>; };\n};\n',
    )
    text = out.read_text()
    assert re.findall(r"^    ram .*$", text, re.M) == ["    ram 0x80000000 size 0x80000000"]
    assert run_cli("check", str(out)).returncode == 0


def test_dtc_tolerated_alias_names_and_dtc_includes(tmp_path: Path) -> None:
    """dtc only warns about an alias name with '_' (AM57xx's d_can0), and `/include/` is
    dtc's own include, which cpp leaves for it (OMAP3 boards): both import."""
    (tmp_path / "nothing.h").write_text("#define NOTHING 1\n")
    (tmp_path / "soc.dtsi").write_text(
        '/ { smmu: iommu@1000 { compatible = "arm,mmu-500"; #iommu-cells = <1>; }; };\n'
    )
    _, out = import_dts(
        tmp_path,
        '/dts-v1/;\n/include/ "soc.dtsi"\n#include "nothing.h"\n/ {\n'
        '\tcompatible = "vendor,board";\n\taliases { d_can0 = &usb; serial0 = &usb; };\n'
        '\tusb: usb@2000 { compatible = "vendor,usb"; iommus = <&smmu 0x10>; };\n};\n',
    )
    text = out.read_text()
    assert "device usb: " in text and "iommu smmu" in text


ARCH_DTS = (
    "/dts-v1/;\n/ {{\n\tcompatible = {root};\n"
    '\tcpus {{ cpu@0 {{ device_type = "cpu"; compatible = "{core}"; }}; }};\n'
    '\tsmmu: iommu@1000 {{ compatible = "arm,mmu-500"; #iommu-cells = <1>; }};\n'
    '\tusb@2000 {{ compatible = "vendor,usb"; iommus = <&smmu 0x10>; }};\n}};\n'
)


@pytest.mark.parametrize(
    ("root", "core", "where", "arch"),
    [
        # a core only arm32 runs: Exynos4412, RK3128, RZ/G1
        ('"samsung,exynos4412"', "arm,cortex-a9", "", "arm"),
        ('"rockchip,rk3128"', "arm,cortex-a7", "", "arm"),
        # a core that runs AArch32 at EL0 at most: arm64
        ('"vendor,soc"', "arm,cortex-a76", "", "arm64"),
        # either: the tree it comes from decides (arm32 MSM8916 boards sit in arch/arm)
        ('"qcom,msm8916"', "arm,cortex-a53", "src/arm/qcom", "arm"),
        ('"qcom,msm8916"', "arm,cortex-a53", "arch/arm64/boot/dts/qcom", "arm64"),
        # either, and no tree: the SoC (Exynos5433 is arm64, though "samsung,exynos5")
        ('"samsung,exynos5433"', "arm,cortex-a53", "", "arm64"),
        ('"samsung,exynos5420"', "arm,cortex-a53", "", "arm"),
        # hyphenated core names: the ARM9/ARM11 of at91 and bcm2835, Tegra132's Denver
        ('"vendor,soc"', "arm,arm926ej-s", "", "arm"),
        ('"vendor,soc"', "arm,arm1176jzf-s", "", "arm"),
        ('"nvidia,tegra132", "nvidia,tegra124"', "nvidia,tegra132-denver", "", "arm64"),
    ],
)
def test_the_arch_comes_from_the_tree_and_the_cpus(
    tmp_path: Path, root: str, core: str, where: str, arch: str
) -> None:
    folder = tmp_path / where if where else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    src = folder / "board.dts"
    src.write_text(ARCH_DTS.format(root=root, core=core))
    out = tmp_path / "board.iommu"
    proc = run_cli("import", "dts", str(src), "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    assert f"    arch {arch}\n" in out.read_text()


TEGRA194_LIKE = """\
/dts-v1/;
/ {{
\tcompatible = "nvidia,p2972-0000", "nvidia,tegra194";
\t#address-cells = <1>; #size-cells = <1>;
\t{iso}iommu@10000000 {{ compatible = "nvidia,tegra194-smmu", "nvidia,smmu-500";
\t\t#iommu-cells = <1>; status = "disabled"; phandle = <2>; }};
\t{main}iommu@12000000 {{ compatible = "nvidia,tegra194-smmu", "nvidia,smmu-500";
\t\t#iommu-cells = <1>; phandle = <1>; }};
\tethernet@2490000 {{ compatible = "nvidia,tegra194-eqos"; iommus = <1 0x14>; }};
}};
"""


def test_a_dtb_without_labels_finds_the_fact_packs_iommus_by_address(tmp_path: Path) -> None:
    """A .dtb keeps unit addresses, not labels: the fact pack's `reg` says which of its
    two arm-smmus each node is, so the import declares none twice (E127 before)."""
    texts = []
    for iso, main in (("smmu_iso: ", "smmu: "), ("", "")):  # a .dts, then as a .dtb has it
        sub = tmp_path / ("labels" if iso else "bare")
        sub.mkdir()
        _, out = import_dts(sub, TEGRA194_LIKE.format(iso=iso, main=main))
        texts.append(out.read_text())
        assert "# /iommu@12000000: declared by std/soc/tegra194 as 'smmu'" in texts[-1]
        assert "# /iommu@10000000: declared by std/soc/tegra194 as 'smmu_iso'" in texts[-1]
        assert "\niommu " not in texts[-1]
        assert run_cli("check", str(out)).returncode == 0
    assert texts[0].replace("labels", "bare") == texts[1]


def test_host1x_context_devices_come_from_its_iommu_map(tmp_path: Path) -> None:
    """host1x_memory_context_list_init: one context device per iommu-map entry, configured
    with ID i (of_dma_configure_id), which the map turns into the entry's stream ID."""
    proc, out = import_dts(
        tmp_path,
        '/dts-v1/;\n/ {\n\tcompatible = "vendor,board", "nvidia,tegra186";\n'
        '\tsmmu: iommu@12000000 { compatible = "nvidia,tegra186-smmu", "nvidia,smmu-500";'
        " #iommu-cells = <1>; };\n"
        '\thost1x@13e00000 { compatible = "nvidia,tegra186-host1x"; iommus = <&smmu 0x01>;\n'
        "\t\tiommu-map = <0 &smmu 0x38 1>, <1 &smmu 0x39 1>; };\n};\n",
    )
    text = out.read_text()
    assert 'device host1x_ctx0: "host1x-ctx" { iommu smmu sid 0x38; dma-mask 38 }' in text
    assert 'device host1x_ctx1: "host1x-ctx" { iommu smmu sid 0x39; dma-mask 38 }' in text
    assert "W814" not in proc.stderr  # the map is imported, not skipped
    from iommu_rules import Board

    assert Board.load(out).value("host1x_ctx1.group_members") == ["host1x_ctx1"]


@pytest.mark.parametrize(
    ("include", "where"),
    [
        ("<arm/cros-ec-keyboard.dtsi>", "scripts/dtc/include-prefixes"),
        ("<dt-bindings/memory/tegra30-mc.h>", "-I linux/include"),
    ],
)
def test_e813_names_the_missing_file_and_where_it_lives(
    tmp_path: Path, include: str, where: str
) -> None:
    """cpp's first line is often 'In file included from ...': the error names the file cpp
    could not find, the #include that wanted it, and the directories that have it."""
    (tmp_path / "soc.dtsi").write_text(f"#include {include}\n")
    src = tmp_path / "board.dts"
    src.write_text('/dts-v1/;\n#include "soc.dtsi"\n/ { };\n')
    proc = run_cli("import", "dts", str(src))
    assert proc.returncode == 3
    name = include.strip("<>")
    assert f"error[E813]: cpp cannot find '{name}', included from" in proc.stderr
    assert "soc.dtsi:1:10: error[E813]" in proc.stderr and where in proc.stderr
    assert "In file included from" not in proc.stderr


def test_a_host_map_onto_a_fact_pack_iommu_without_maps_is_the_boards(tmp_path: Path) -> None:
    """MT8195's infra IOMMU takes the PCIe hosts' iommu-maps, but which PCI domain a host gets
    depends on the hosts a board enables, so std/soc/mt8195 has no maps: the import writes
    the host's entries as top-level `map` lines, and its functions reach the IOMMU."""
    proc, out = import_dts(
        tmp_path,
        "/dts-v1/;\n/ {\n\t#address-cells = <2>; #size-cells = <2>;\n"
        '\tcompatible = "google,tomato", "mediatek,mt8195";\n'
        '\tiommu_infra: infra-iommu@10315000 { compatible = "mediatek,mt8195-iommu-infra";'
        " reg = <0 0x10315000 0 0x5000>; #iommu-cells = <1>; };\n"
        '\tpcie@112f8000 { device_type = "pci"; compatible = "mediatek,mt8195-pcie";'
        " iommu-map = <0 &iommu_infra 0x10 0x2>; iommu-map-mask = <0>; };\n};\n",
    )
    text = out.read_text()
    assert "W814" not in proc.stderr
    assert "\nmap iommu_infra rid 0x0 sid 0x10 length 0x2 mask 0x0\n" in text
    from iommu_rules import Board

    board = Board.from_text(text + 'device nvme: "pci144d,a808" { pci 0000:01:00.0 }\n', "b")
    assert not board.diagnostics
    assert board.value("nvme.iommu") == "iommu_infra"


@pytest.mark.parametrize(("middle", "window"), [("dma-ranges;", True), ("", False)])
def test_dma_ranges_are_found_as_of_dma_get_range_walks(
    tmp_path: Path, middle: str, window: bool
) -> None:
    """of_dma_get_range walks up from the parent: an empty dma-ranges is 1:1 and the walk
    goes on; a bus without one ends it with no limit ("we've gone too far")."""
    _, out = import_dts(
        tmp_path,
        "/dts-v1/;\n/ {\n\t#address-cells = <1>; #size-cells = <1>;\n"
        '\tcompatible = "vendor,board";\n'
        "\tsoc@0 {\n\t\t#address-cells = <1>; #size-cells = <1>;\n"
        "\t\tdma-ranges = <0x40000000 0x40000000 0x40000000>;\n"
        '\t\tsmmu: iommu@1000 { compatible = "arm,mmu-500"; #iommu-cells = <1>; };\n'
        f"\t\tbus@2000 {{ #address-cells = <1>; #size-cells = <1>; {middle}\n"
        '\t\t\tusb@2000 { compatible = "vendor,usb"; iommus = <&smmu 0x10>; };\n'
        "\t\t};\n\t};\n};\n",
    )
    assert ("dma-range 0x40000000 size 0x40000000" in out.read_text()) == window


def test_a_host1x_context_without_an_iommu_leaves_none(tmp_path: Path) -> None:
    """host1x_memory_context_list_init unregisters every context device when one has no
    IOMMU ("Context device %d has no IOMMU!"): a map onto a disabled SMMU gives none."""
    _, out = import_dts(
        tmp_path,
        '/dts-v1/;\n/ {\n\tcompatible = "vendor,board", "nvidia,tegra186";\n'
        '\tsmmu: iommu@12000000 { compatible = "nvidia,tegra186-smmu", "nvidia,smmu-500";'
        " #iommu-cells = <1>; };\n"
        '\tiso: iommu@10000000 { compatible = "nvidia,tegra186-smmu", "nvidia,smmu-500";'
        ' #iommu-cells = <1>; status = "disabled"; };\n'
        '\thost1x@13e00000 { compatible = "nvidia,tegra186-host1x"; iommus = <&smmu 0x01>;\n'
        "\t\tiommu-map = <0 &smmu 0x38 1>, <1 &iso 0x39 1>; };\n};\n",
    )
    assert "host1x_ctx" not in out.read_text()


def test_a_top_level_map_without_its_iommu_says_how_to_write_it(tmp_path: Path) -> None:
    board = tmp_path / "b.iommu"
    board.write_text('include "std/linux"\nmap rid 0x0 sid 0x1 length 1\n')
    proc = run_cli("check", str(board))
    assert proc.returncode == 3 and "b.iommu:2:9: error[E001]" in proc.stderr
    assert "names its IOMMU first: `map IOMMU rid R sid S length L`" in proc.stderr


@pytest.mark.parametrize("status", ["okay", "disabled"])
def test_masters_that_are_all_disabled_are_named_not_missing(tmp_path: Path, status: str) -> None:
    """W813: a tree whose every `iommus` node is disabled (an SoC's .dtsi, a board that
    enables none) says so, and which; one with no such node says that."""
    master = (
        '\tusb@3100000 { compatible = "snps,dwc3"; iommus = <&smmu 0x4>; '
        f'status = "{status}"; }};\n'
    )
    for where, body, said in (
        ("one", master, "every node with an 'iommus' property is disabled (1 node: /usb@3100000)"),
        ("none", "", "no node with an 'iommus' property was found"),
    ):
        (tmp_path / where).mkdir()
        proc, out = import_dts(
            tmp_path / where,
            "/dts-v1/;\n/ {\n"
            '\tsmmu: iommu@5000000 { compatible = "arm,mmu-500"; #iommu-cells = <1>; };\n'
            + body
            + "};\n",
        )
        if status == "okay" and body:
            assert "W813" not in proc.stderr and "iommu smmu sid 0x4" in out.read_text()
        else:
            assert f"warning[W813]: {said}" in proc.stderr, proc.stderr
