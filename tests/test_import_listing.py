# ruff: noqa: E501  (the fixtures are posted lspci output, kept line for line)
"""`import_listing`: posted IOMMU-group listings and lspci -nn output become rule files.

The fixtures are real listings people posted when asking for passthrough help; what
matters is that the importer reads them as they come (tabs or spaces, flat or with
group headers, a stray shell error in between) and that the result loads.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from iommu_rules import Board
from iommu_rules.diagnostics import Diagnostic, SourceMap, render_all
from iommu_rules.fmt import format_text
from iommu_rules.grammar import keywords
from iommu_rules.importers.listing import (
    MAX_WARNINGS,
    ImportResult,
    import_listing,
    import_listings,
)

# A desktop (Comet Lake-S, B560-class PCH) with an RTX 3070 Ti behind the CPU's x16 port,
# from the Arch-wiki script (group headers, tab-indented devices). Posted by jon-bit in
# "Graphical console not configured for guest/GPU is not isolated for passthrough!",
# https://github.com/lexi-src/sGPUpt/issues/28 (2023-04-13). The stored copy of the post
# breaks off inside group 3; the complete lines are kept.
RTX3070TI = """\
IOMMU Group 0:
\t00:00.0 Host bridge [0600]: Intel Corporation Comet Lake-S 6c Host Bridge/DRAM Controller [8086:9b33] (rev 05)
IOMMU Group 1:
\t00:01.0 PCI bridge [0604]: Intel Corporation 6th-10th Gen Core Processor PCIe Controller (x16) [8086:1901] (rev 05)
\t01:00.0 VGA compatible controller [0300]: NVIDIA Corporation GA104 [GeForce RTX 3070 Ti] [10de:2482] (rev a1)
\t01:00.1 Audio device [0403]: NVIDIA Corporation GA104 High Definition Audio Controller [10de:228b] (rev a1)
IOMMU Group 2:
\t00:14.0 USB controller [0c03]: Intel Corporation Tiger Lake-H USB 3.2 Gen 2x1 xHCI Host Controller [8086:43ed] (rev 11)
\t00:14.2 RAM memory [0500]: Intel Corporation Tiger Lake-H Shared SRAM [8086:43ef] (rev 11)
"""

# A Skylake desktop (HD Graphics 530) with a GTX 1660 whose four functions (GPU, HDMI
# audio, USB, UCSI) share group 2 with the x16 root port; space-indented, after a line of
# prose. Posted by Hydroponic-Gardener in "[AUTOPILOT] VFIO Passthrough Not working, even
# if VFIO-PCI Devices are detected", https://github.com/Coopydood/ultimate-macOS-KVM/issues/213
# (2026-02-16). The stored copy breaks off inside group 3.
GTX1660 = """\
IOMMU Groups output:

IOMMU Group 0:
        00:02.0 Display controller [0380]: Intel Corporation HD Graphics 530 [8086:1912] (rev 06)
IOMMU Group 1:
        00:00.0 Host bridge [0600]: Intel Corporation Xeon E3-1200 v5/E3-1500 v5/6th Gen Core Processor Host Bridge/DRAM Registers [8086:191f] (rev 07)
IOMMU Group 2:
        00:01.0 PCI bridge [0604]: Intel Corporation 6th-10th Gen Core Processor PCIe Controller (x16) [8086:1901] (rev 07)
        01:00.0 VGA compatible controller [0300]: NVIDIA Corporation TU116 [GeForce GTX 1660] [10de:2184] (rev a1)
        01:00.1 Audio device [0403]: NVIDIA Corporation TU116 High Definition Audio Controller [10de:1aeb] (rev a1)
        01:00.2 USB controller [0c03]: NVIDIA Corporation TU116 USB 3.1 Host Controller [10de:1aec] (rev a1)
        01:00.3 Serial bus controller [0c80]: NVIDIA Corporation TU116 USB Type-C UCSI Controller [10de:1aed] (rev a1)
"""

# The flat form ("IOMMU Group N ADDR ..."), sorted as text (1, 10, 11, ...), after the
# error a POSIX sh prints for the script's `shopt`. A Haswell laptop (HM87) with a GTX 765M
# and its HDMI audio. Posted by phillw in "Will this work?",
# https://github.com/T-vK/MobilePassThrough/issues/7 (2019-11-23); cut before group 2.
GTX765M = """\
lsiommu: 3: lsiommu: shopt: not found
IOMMU Group 0 00:00.0 Host bridge [0600]: Intel Corporation Xeon E3-1200 v3/4th Gen Core Processor DRAM Controller [8086:0c04] (rev 06)
IOMMU Group 1 00:01.0 PCI bridge [0604]: Intel Corporation Xeon E3-1200 v3/4th Gen Core Processor PCI Express x16 Controller [8086:0c01] (rev 06)
IOMMU Group 1 01:00.0 3D controller [0302]: NVIDIA Corporation GK106M [GeForce GTX 765M] [10de:11e1] (rev a1)
IOMMU Group 1 01:00.1 Audio device [0403]: NVIDIA Corporation GK106 HDMI Audio Controller [10de:0e0b] (rev a1)
IOMMU Group 10 00:1d.0 USB controller [0c03]: Intel Corporation 8 Series/C220 Series Chipset Family USB EHCI #1 [8086:8c26] (rev 05)
IOMMU Group 11 00:1f.0 ISA bridge [0601]: Intel Corporation HM87 Express LPC Controller [8086:8c4b] (rev 05)
IOMMU Group 11 00:1f.2 RAID bus controller [0104]: Intel Corporation 82801 Mobile SATA Controller [RAID mode] [8086:282a] (rev 05)
IOMMU Group 11 00:1f.3 SMBus [0c05]: Intel Corporation 8 Series/C220 Series Chipset Family SMBus Controller [8086:8c22] (rev 05)
IOMMU Group 12 04:00.0 Ethernet controller [0200]: Qualcomm Atheros Killer E220x Gigabit Ethernet Controller [1969:e091] (rev 13)
IOMMU Group 13 05:00.0 Network controller [0280]: Qualcomm Atheros AR9462 Wireless Network Adapter [168c:0034] (rev 01)
"""

# Plain `lspci -nn` with its prompt line, from David Gstir's "DMAR faults from unrelated
# device when vfio is used", linux-kernel, 2013-02-04,
# https://lkml.indiana.edu/hypermail/linux/kernel/1302.0/01541.html (first lines).
LSPCI_NN = """\
# /sbin/lspci -nn
00:00.0 Host bridge [0600]: Intel Corporation 2nd Generation Core Processor Family DRAM Controller [8086:0100] (rev 09)
00:01.0 PCI bridge [0604]: Intel Corporation Xeon E3-1200/2nd Generation Core Processor Family PCI Express Root Port [8086:0101] (rev 09)
00:02.0 VGA compatible controller [0300]: Intel Corporation 2nd Generation Core Processor Family Integrated Graphics Controller [8086:0102] (rev 09)
00:16.0 Communication controller [0780]: Intel Corporation 6 Series/C200 Series Chipset Family MEI Controller #1 [8086:1c3a] (rev 04)
00:16.2 IDE interface [0101]: Intel Corporation 6 Series/C200 Series Chipset Family IDE-r Controller [8086:1c3c] (rev 04)
00:16.3 Serial controller [0700]: Intel Corporation 6 Series/C200 Series Chipset Family KT Controller [8086:1c3d] (rev 04)
00:19.0 Ethernet controller [0200]: Intel Corporation 82579LM Gigabit Network Connection [8086:1502] (rev 04)
"""

# Lower-case "IOMMU group N" headers in sysfs order (7, 5, 13, ...). From Donokami's
# "vfio error: 0000:01:00.0: group 1 is not viable",
# https://github.com/64kramsystem/vga-passthrough/issues/15 (2018-02-07), complete lines only.
GTX760 = """\
IOMMU group 7
\t00:1b.0 Audio device [0403]: Intel Corporation 9 Series Chipset Family HD Audio Controller [8086:8ca0]
IOMMU group 5
\t00:16.0 Communication controller [0780]: Intel Corporation 9 Series Chipset Family ME Interface #1 [8086:8cba]
IOMMU group 13
\t03:00.0 Ethernet controller [0200]: Realtek Semiconductor Co., Ltd. RTL8111/8168/8411 PCI Express Gigabit Ethernet Controller [10ec:8168] (rev 06)
IOMMU group 3
\t00:03.0 Audio device [0403]: Intel Corporation Xeon E3-1200 v3/4th Gen Core Processor HD Audio Controller [8086:0c0c] (rev 06)
IOMMU group 11
\t00:1d.0 USB controller [0c03]: Intel Corporation 9 Series Chipset Family USB EHCI Controller #1 [8086:8ca6]
IOMMU group 1
\t00:01.0 PCI bridge [0604]: Intel Corporation Xeon E3-1200 v3/4th Gen Core Processor PCI Express x16 Controller [8086:0c01] (rev 06)
\t01:00.0 VGA compatible controller [0300]: NVIDIA Corporation GK104 [GeForce GTX 760] [10de:1187] (rev a1)
"""

LISTINGS = {"rtx3070ti": RTX3070TI, "gtx1660": GTX1660, "gtx765m": GTX765M, "gtx760": GTX760}
# (GPU ID, its HDMI audio ID) in each listing
GPU_PAIRS = {
    "rtx3070ti": ("pci10de,2482", "pci10de,228b"),
    "gtx1660": ("pci10de,2184", "pci10de,1aeb"),
    "gtx765m": ("pci10de,11e1", "pci10de,0e0b"),
}
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(-[A-Za-z0-9_]+)*")
DEVICE = re.compile(r'^device (\S+): "([^"]+)"(?:, "pciclass,[0-9a-f]{4}")? \{ ([^}]*) \}', re.M)
EXPECT = re.compile(r"^expect (\S+)\.group_members == \[([^\]]*)\]", re.MULTILINE)


def loads_cleanly(text: str) -> None:
    """The imported file loads, validates and is already in canonical form."""
    board = Board.from_text(text, "imported.iommu")
    assert not board.base.diagnostics, board.base.diagnostics  # the loader's
    model = board.model
    assert not [d for d in model.diagnostics if d.is_error], model.diagnostics
    assert format_text(text, "imported.iommu") == text


def devices(text: str) -> dict[str, tuple[str, str]]:
    """device name -> (ID compatible, properties); the class compatible is left out"""
    return {m[1]: (m[2], m[3]) for m in DEVICE.finditer(text)}


def by_compatible(text: str, compatible: str) -> str:
    (name,) = [n for n, (c, _) in devices(text).items() if c == compatible]
    return name


def groups(text: str) -> dict[str, list[str]]:
    """first device -> members, from the expect lines"""
    return {m[1]: [s.strip() for s in m[2].split(",")] for m in EXPECT.finditer(text)}


@pytest.mark.parametrize("key", LISTINGS)
def test_listing_loads_builds_and_reproduces_its_groups(key: str) -> None:
    result = import_listing(LISTINGS[key], f"{key}.txt")
    assert isinstance(result, ImportResult)
    assert not [d for d in result.diagnostics if d.is_error]
    loads_cleanly(result.text)
    # Every group here is one slot (or one device), so the model reproduces them as posted.
    res = Board.from_text(result.text, "imported.iommu").resolution
    assert res.expectations and all(ok for _, ok, _, _ in res.expectations), [
        (str(e.query.subject.text), actual) for e, ok, actual, _ in res.expectations if not ok
    ]


@pytest.mark.parametrize("key", GPU_PAIRS)
def test_gpu_and_its_hdmi_audio_share_one_group_expectation(key: str) -> None:
    text = import_listing(LISTINGS[key], f"{key}.txt").text
    gpu, audio = (by_compatible(text, c) for c in GPU_PAIRS[key])
    assert devices(text)[gpu][1].startswith("tags gpu;")
    assert devices(text)[audio][1].startswith("tags audio;")
    assert audio == f"{gpu}_audio"
    shared = [m for first, m in groups(text).items() if gpu in m]
    assert len(shared) == 1 and audio in shared[0]
    assert f"# observed: IOMMU Group 1 ({key}.txt)" in text or key == "gtx1660"


def test_whole_gpu_card_is_one_group_and_named_after_the_gpu() -> None:
    text = import_listing(GTX1660, "gtx1660.txt").text
    assert "# observed: IOMMU Group 2 (gtx1660.txt)" in text
    # the root port is in the group too: the GPU's functions are below it (upstream inferred)
    assert "expect rp0.group_members == [rp0, gpu0, gpu0_audio, gpu0_usb, gpu0_serialbus]" in text
    # The GPU on bus 00 (class 0380) is the CPU's own.
    assert devices(text)["igpu0"] == ("pci8086,1912", "tags gpu; pci 0000:00:02.0")
    # the class rides along as the OF PCI binding's class compatible, for packs to select
    assert 'device igpu0: "pci8086,1912", "pciclass,0380" {' in text
    assert 'device gpu0: "pci10de,2184", "pciclass,0300" {' in text


def test_a_bridge_in_its_devices_group_is_their_upstream_without_acs() -> None:
    """Without a tree, the only bridge of a group with functions on another bus is above
    them (pci_device_group joins a function to a bridge's group only below it), and one
    whose children share its group does not isolate: `acs no` (it wins over a quirk)."""
    text = import_listing(RTX3070TI, "rtx.txt").text
    assert 'bridge rp0: root-port "pci8086,1901" { pci 0000:00:01.0; acs no }' in text
    assert "acs no: deduced, 01:00.1 below it shares its IOMMU group 1" in text
    assert "# upstream inferred: in the group of 00:01.0, the only bridge there" in text
    assert groups(text)["rp0"] == ["rp0", "gpu0", "gpu0_audio"]


def test_bridge_kinds_and_bridge_only_groups() -> None:
    listing = """\
IOMMU Group 4 00:1c.0 PCI bridge [0604]: Intel Corporation 200 Series PCH PCI Express Root Port #1 [8086:a290] (rev f0)
IOMMU Group 12 01:00.2 PCI bridge [0604]: Advanced Micro Devices, Inc. [AMD] 400 Series Chipset PCIe Bridge [1022:43c6] (rev 01)
IOMMU Group 12 02:00.0 PCI bridge [0604]: Advanced Micro Devices, Inc. [AMD] 400 Series Chipset PCIe Port [1022:43c7] (rev 01)
IOMMU Group 12 03:00.0 Ethernet controller [0200]: Realtek Semiconductor Co., Ltd. RTL8111/8168/8411 PCI Express Gigabit Ethernet Controller [10ec:8168] (rev 15)
IOMMU Group 12 04:00.0 Network controller [0280]: Intel Corporation Wi-Fi 6 AX200 [8086:2723] (rev 1a)
IOMMU Group 13 05:00.0 PCI bridge [0604]: ASMedia Technology Inc. ASM1083/1085 PCIe to PCI Bridge [1b21:1080] (rev 04)
IOMMU Group 13 06:00.0 Multimedia video controller [0400]: Brooktree Corporation Bt878 Video Capture [109e:036e] (rev 11)
"""
    text = import_listing(listing, "bridges.txt").text
    loads_cleanly(text)
    assert 'bridge rp0: root-port "pci8086,a290" { pci 0000:00:1c.0 }' in text
    assert 'bridge sw0: switch-port "pci1022,43c6" { pci 0000:01:00.2 }' in text
    # bus 02 is the next one after sw0's: numbered depth first, it is below sw0
    assert 'bridge sw1: switch-port "pci1022,43c7" { pci 0000:02:00.0; upstream sw0 }' in text
    assert 'bridge pcibr0: pci-bridge "pci1b21,1080" { pci 0000:05:00.0 }' in text
    assert text.count("# ACS unknown: a quirk for its IDs, or say 'acs yes' or 'acs no'") == 4
    assert groups(text) == {
        "rp0": ["rp0"],  # a bridge-only group is expected too
        "sw0": ["sw0", "sw1", "net0", "wlan0"],
        "pcibr0": ["pcibr0", "video0"],  # video0's upstream is inferred
    }
    # Without 'upstream' the model cannot merge functions on different buses: say so.
    assert text.count("# spans several slots") == 1


def test_lspci_nn_lines_become_devices_without_expectations() -> None:
    result = import_listing(LSPCI_NN, "lspci.txt")
    loads_cleanly(result.text)
    assert "expect" not in result.text
    assert "iommu vtd: intel-vtd" in result.text
    assert "(lspci -nn lines)" in result.text
    assert (
        'device igpu0: "pci8086,0102", "pciclass,0300" { tags gpu; pci 0000:00:02.0 }'
        in result.text
    )
    assert (
        'device ide0: "pci8086,1c3c", "pciclass,0101" { tags storage; pci 0000:00:16.2 }'
        in result.text
    )
    assert 'bridge rp0: root-port "pci8086,0101" { pci 0000:00:01.0 }' in result.text
    assert set(devices(result.text)) == {"host0", "igpu0", "comm0", "ide0", "serial0", "net0"}
    # The prompt line is the only thing skipped.
    assert [(d.code, d.span.line) for d in result.diagnostics] == [("W801", 1)]


def test_real_stray_lines_are_w801_at_their_line() -> None:
    result = import_listing(GTX765M, "gtx765m.txt")
    assert [(d.code, d.span.line, d.span.col) for d in result.diagnostics] == [("W801", 1, 1)]
    result = import_listing(GTX1660, "gtx1660.txt")
    assert [(d.code, d.span.line) for d in result.diagnostics] == [("W801", 1)]


def test_garbage_lines_give_w801_with_exact_spans() -> None:
    lines = [
        "IOMMU Group 1:",
        "\t00:01.0 PCI bridge [0604]: Intel Corporation PCIe Controller (x16) [8086:1901]",
        "  $ ./iommu.sh  ",  # 3: a prompt, indented, with trailing blanks
        "\t01:00.0 VGA compatible controller: NVIDIA Corporation GP104",  # 4: no codes
        "",
        "IOMMU Group 2: what is this?",  # 6
        "00:3f.0 USB controller [0c03]: device past 1f [8086:a2af]",  # 7
        "\t01:00.1 Audio device [0403]: NVIDIA Corporation GP104 Audio [10de:10f0]",
        "\x00\x01\x02",  # 9
        "IOMMU Group 3 00:01.0 PCI bridge [0604]: listed twice [8086:1901]",  # 10
    ]
    listing = "\n".join(lines) + "\n"
    result = import_listing(listing, "post.txt")
    spans = [(d.code, d.span.line, d.span.col, d.span.end_col) for d in result.diagnostics]
    # Columns are 1-based, the end exclusive; the span covers the line without its blanks.
    assert spans == [
        ("W801", 3, 3, 3 + len("$ ./iommu.sh")),
        ("W801", 4, 2, 1 + len(lines[3])),
        ("W801", 6, 1, 1 + len(lines[5])),
        ("W801", 7, 1, 1 + len(lines[6])),
        ("W801", 9, 1, 4),
        ("W801", 10, 1, 1 + len(lines[9])),
    ]
    messages = [d.message for d in result.diagnostics]
    assert "without a class code" in messages[1]
    assert "'IOMMU Group 2:' is not followed by a PCI device" in messages[2]
    assert "device past 1f" in messages[3]
    assert "listed again in IOMMU group 3" in messages[5]
    # Line 8 came after a blank line: not part of group 1, but still a device.
    assert "gpu0_audio" not in result.text and "audio0" in devices(result.text)
    sources = SourceMap()
    sources.add("post.txt", listing)
    rendered = render_all(result.diagnostics, sources)
    assert "post.txt:3:3: warning[W801]: unrecognised line; line skipped" in rendered
    loads_cleanly(result.text)


@pytest.mark.parametrize("listing", ["", "   \n\t\n", "\ufeff", "hello\nworld\n", "\x00" * 50])
def test_nothing_usable_gives_e801(listing: str) -> None:
    result = import_listing(listing, "empty.txt")
    assert result.text == ""
    errors = [d for d in result.diagnostics if d.is_error]
    assert [d.code for d in errors] == ["E801"]
    assert errors[0].message == "no IOMMU group or PCI device found"
    assert str(errors[0].span) == "empty.txt:1:1"
    assert all(d.code == "W801" for d in result.diagnostics if not d.is_error)


def test_colon_after_group_number_and_full_addresses() -> None:
    listing = (
        "IOMMU Group 1: 0000:00:01.0 PCI bridge [0604]: Intel Corporation Xeon E3-1200 v5/E3-1500 v5/6th Gen Core Processor PCIe Controller (x16) [8086:1901] (rev 07)\n"
        "IOMMU Group 1: 0000:01:00.0 VGA compatible controller [0300]: NVIDIA Corporation GP104 [GeForce GTX 1070] [10de:1b81] (rev a1)\n"
        "IOMMU Group 1: 0000:01:00.1 Audio device [0403]: NVIDIA Corporation GP104 High Definition Audio Controller [10de:10f0] (rev a1)\n"
        "IOMMU Group 14: 0001:03:00.0 Non-Volatile memory controller [0108]: Samsung Electronics Co Ltd NVMe SSD Controller SM981/PM981/PM983 [144d:a808]\n"
    )
    result = import_listing(listing, "full.txt")
    assert not result.diagnostics
    loads_cleanly(result.text)
    assert groups(result.text) == {"rp0": ["rp0", "gpu0", "gpu0_audio"], "nvme0": ["nvme0"]}
    assert (
        'device nvme0: "pci144d,a808", "pciclass,0108" { tags nvme, storage; pci 0001:03:00.0 }'
        in result.text
    )


def test_ls_iommu_layout_and_lspci_k_lines() -> None:
    # ls-iommu prints no colon after the class code and adds lspci -k lines.
    listing = """\
IOMMU Group  12: 0000:01:00.0 USB controller [0c03] Advanced Micro Devices, Inc. [AMD] unknown [1022:43d0] (rev 01)
        Subsystem: ASMedia Technology Inc. unknown [1b21:1142]
        Kernel driver in use: xhci_hcd
IOMMU Group  12: 0000:01:00.1 SATA controller [0106] Advanced Micro Devices, Inc. [AMD] 400 Series Chipset SATA Controller [1022:43c8] (rev 01)
        Subsystem: ASMedia Technology Inc. 400 Series Chipset SATA Controller [1b21:1062]
        Kernel driver in use: ahci
"""
    result = import_listing(listing, "ls-iommu.txt")
    assert not result.diagnostics
    loads_cleanly(result.text)
    assert "iommu amdvi: amd-vi" in result.text
    assert groups(result.text) == {"usb0": ["usb0", "sata0"]}
    # "Kernel driver in use:" becomes `bound` (VFIO viability reads it)
    assert devices(result.text)["sata0"] == (
        "pci1022,43c8",
        "tags sata, storage; pci 0000:01:00.1; bound ahci",
    )


def test_scripts_that_print_the_id_before_the_class() -> None:
    # `echo "Group $group: $addr [$id] $(lspci -s $addr | cut -d' ' -f2-)"` and the like
    listing = """\
Group 1: 0000:01:00.0 [10de:1b80] VGA compatible controller: NVIDIA Corporation GP104 [GeForce GTX 1080] (rev a1)
Group 1: 0000:01:00.1 [10de:10f0] Audio device: NVIDIA Corporation GP104 High Definition Audio Controller (rev a1)
"""
    result = import_listing(listing, "ids.txt")
    assert not result.diagnostics
    loads_cleanly(result.text)
    assert groups(result.text) == {"gpu0": ["gpu0", "gpu0_audio"]}
    assert "# IOMMU Group 1 01:00.1 Audio device [0403]: NVIDIA Corporation GP104" in result.text


def test_amd_host_bridge_decides_over_an_intel_nic() -> None:
    listing = """\
IOMMU Group 0 00:01.0 Host bridge [0600]: Advanced Micro Devices, Inc. [AMD] Starship/Matisse PCIe Dummy Host Bridge [1022:1482]
IOMMU Group 9 05:00.0 Ethernet controller [0200]: Intel Corporation I211 Gigabit Network Connection [8086:1539] (rev 03)
"""
    text = import_listing(listing, "amd.txt").text
    assert "iommu amdvi: amd-vi" in text and "intel-vtd" not in text
    # Without a host bridge, any Intel function means VT-d; neither vendor is a guess.
    nic = listing.splitlines()[1]
    assert "iommu vtd: intel-vtd" in import_listing(nic).text
    other = "01:00.0 VGA compatible controller [0300]: NVIDIA Corporation GP104 [10de:1b81]"
    assert "is a guess" in import_listing(other).text


def test_isolated_function_of_a_multifunction_slot_gets_acs() -> None:
    listing = """\
IOMMU Group 11 00:1f.0 ISA bridge [0601]: Intel Corporation Z370 Chipset LPC/eSPI Controller [8086:a2c9]
IOMMU Group 11 00:1f.3 Audio device [0403]: Intel Corporation 200 Series PCH HD Audio [8086:a2f0]
IOMMU Group 11 00:1f.4 SMBus [0c05]: Intel Corporation 200 Series/Z370 Chipset Family SMBus Controller [8086:a2a3]
IOMMU Group 12 00:1f.6 Ethernet controller [0200]: Intel Corporation Ethernet Connection (2) I219-V [8086:15b8]
"""
    text = import_listing(listing, "z370.txt").text
    loads_cleanly(text)
    assert devices(text)["net0"][1] == "tags network; pci 0000:00:1f.6; acs yes"
    assert "acs" not in devices(text)["lpc0"][1]
    res = Board.from_text(text, "z370.iommu").resolution
    assert all(ok for _, ok, _, _ in res.expectations)


@pytest.mark.parametrize("key", LISTINGS)
def test_names_are_unique_identifiers_and_not_keywords(key: str) -> None:
    text = import_listing(LISTINGS[key]).text
    names = re.findall(r"^(?:device|bridge|iommu) ([^:]+):", text, re.MULTILINE)
    assert len(names) == len(set(names))
    for name in names:
        assert NAME.fullmatch(name) and name not in keywords()


def test_source_name_is_sanitised_in_comments() -> None:
    result = import_listing(RTX3070TI, "evil\nname\x00.txt")
    loads_cleanly(result.text)
    assert "# observed: IOMMU Group 1 (evil name?.txt)" in result.text


def test_many_skipped_lines_are_summarised() -> None:
    listing = "junk\n" * 5000 + "01:00.0 VGA compatible controller [0300]: NVIDIA [10de:1b81]\n"
    result = import_listing(listing, "big.txt")
    assert len(result.diagnostics) == MAX_WARNINGS + 1
    last = result.diagnostics[-1]
    assert last.span.line == MAX_WARNINGS + 1
    assert last.message.startswith(f"{5000 - MAX_WARNINGS} more lines skipped")
    loads_cleanly(result.text)


def test_long_lines_do_not_slow_the_importer_down() -> None:
    # Regexes that backtrack would take minutes on these.
    listing = "00:01.0 " + " " * 200_000 + "\n" + "IOMMU Group 1 " + "[" * 100_000 + "\n"
    listing += "01:00.0 x [0300]" + " a" * 1000 + "\n"
    result = import_listing(listing * 20)
    assert [d.code for d in result.diagnostics].count("E801") == 1


LINE_PARTS = st.sampled_from(
    [
        "IOMMU Group ",
        "IOMMU group ",
        "Group ",
        "1",
        "12",
        ":",
        " ",
        "\t",
        "00:01.0",
        "0000:01:00.1",
        "ff:1f.7",
        "00:20.0",
        "PCI bridge",
        "VGA compatible controller",
        "[0604]",
        "[0300]",
        "[0403]",
        "[0000]",
        ": ",
        "NVIDIA Corporation [GeForce]",
        "PCIe to PCI",
        "[10de:1b81]",
        "[8086:1901]",
        "[1022:1482]",
        "(rev a1)",
        "#",
        '"',
        "{",
        "}",
        ";",
        "\\",
        "\x00",
        "\u2028",
        "é",
    ]
)
LINES = st.lists(st.lists(LINE_PARTS, max_size=12).map("".join), max_size=15).map("\n".join)


def check_import(text: str) -> None:
    result = import_listing(text, "fuzz.txt")
    assert isinstance(result.text, str)
    for d in result.diagnostics:
        assert isinstance(d, Diagnostic) and d.code in ("W801", "E801")
        assert d.span.file == "fuzz.txt" and d.span.line >= 1
    if result.text:
        loads_cleanly(result.text)
    else:
        assert any(d.code == "E801" for d in result.diagnostics)


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.text(max_size=300))
def test_random_text_never_raises(text: str) -> None:
    check_import(text)


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(LINES)
def test_listing_like_text_never_raises_and_always_loads(text: str) -> None:
    check_import(text)


def test_cli_import_listing(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from conftest import run_cli

    src = tmp_path / "groups.txt"
    src.write_text(
        "IOMMU Group 1 00:01.0 PCI bridge [0604]: Intel Corporation 6th Gen Core PCIe Controller "
        "(x16) [8086:1901] (rev 07)\n"
        "IOMMU Group 1 01:00.0 VGA compatible controller [0300]: NVIDIA Corporation GP104 "
        "[10de:1b81] (rev a1)\n"
        "IOMMU Group 1 01:00.1 Audio device [0403]: NVIDIA Corporation GP104 HDMI Audio "
        "[10de:10f0] (rev a1)\n"
        "not a listing line\n"
    )
    out = tmp_path / "pc.iommu"
    proc = run_cli("import", "listing", str(src), "-o", str(out))
    assert proc.returncode == 0 and "warning[W801]" in proc.stderr and ":4:1:" in proc.stderr
    test = run_cli("test", str(out))
    assert test.returncode == 0 and "1 passed, 0 failed" in test.stdout


@pytest.mark.parametrize(
    ("line", "pack"),
    [
        ("[    0.5] DMAR: IOMMU enabled", "std/iommu/intel-vtd"),
        ("[    0.5] AMD-Vi: Found IOMMU at 0000:00:00.2 cap 0x40", "std/iommu/amd-vi"),
    ],
)
def test_the_iommu_driver_brings_its_pack(line: str, pack: str) -> None:
    from iommu_rules.importers.listing import import_listings

    log = f"{line}\n[    1.1] pci 0000:00:02.0: Adding to iommu group 0\n"
    result = import_listings([("dmesg.txt", log)])
    assert f'include "{pack}"' in result.text
    assert result.text.count('include "std/iommu/') == 1
    model = Board.from_text(result.text, "imported.iommu").model
    assert model.ok, model.diagnostics


def test_find_and_ls_listings_of_sysfs_merge_with_lspci_by_address() -> None:
    """`find /sys/kernel/iommu_groups/ -type l` and `ls /sys/kernel/iommu_groups/*/devices`
    were refused; each gives functions by address in their groups."""
    found = """\
/sys/kernel/iommu_groups/1/devices/0000:00:01.0
/sys/kernel/iommu_groups/1/devices/0000:01:00.0
/sys/kernel/iommu_groups/1/devices/0000:01:00.1
/sys/kernel/iommu_groups/2/devices/0000:00:14.0
"""
    listed = """\
/sys/kernel/iommu_groups/1/devices:
0000:00:01.0  0000:01:00.0  0000:01:00.1

/sys/kernel/iommu_groups/2/devices:
0000:00:14.0
"""
    lspci = """\
00:01.0 PCI bridge [0604]: Intel Corporation PCIe Controller (x16) [8086:1901]
00:14.0 USB controller [0c03]: Intel Corporation xHCI [8086:a2af]
01:00.0 VGA compatible controller [0300]: NVIDIA Corporation GP104 [10de:1b81]
01:00.1 Audio device [0403]: NVIDIA Corporation GP104 Audio [10de:10f0]
"""
    for name, text in (("find.txt", found), ("ls.txt", listed)):
        result = import_listings([(name, text), ("lspci.txt", lspci)])
        assert not result.diagnostics, result.diagnostics
        assert groups(result.text) == {"rp0": ["rp0", "gpu0", "gpu0_audio"], "usb0": ["usb0"]}
        res = Board.from_text(result.text, "imported.iommu").resolution
        assert all(ok for _, ok, _, _ in res.expectations)


def test_a_truncated_lspci_vvv_imports_what_it_shows() -> None:
    """A dump cut in the middle of a block: the functions before are whole, the cut one
    keeps what its lines gave; no traceback, nothing lost before the cut."""
    dump = """\
00:1c.0 PCI bridge [0604]: Intel Corporation 200 Series PCH PCI Express Root Port #1 [8086:a290] (rev f0) (prog-if 00 [Normal decode])
\tControl: I/O+ Mem+ BusMaster+ SpecCycle- MemWINV- VGASnoop- ParErr- Stepping- SERR- FastB2B- DisINTx+
\tBus: primary=00, secondary=02, subordinate=02, sec-latency=0
\tCapabilities: [40] Express (v2) Root Port (Slot+), MSI 00
\tCapabilities: [140 v1] Access Control Services
\t\tACSCap:\tSrcValid+ TransBlk- ReqRedir+ CmpltRedir+ UpstreamFwd+ EgressCtrl- DirectTrans-
\t\tACSCtl:\tSrcValid+ TransBlk- ReqRedir+ CmpltRedir+ UpstreamFwd+ EgressCtrl- DirectTrans-
\tKernel driver in use: pcieport

02:00.0 Ethernet controller [0200]: Intel Corporation I211 Gigabit Network Connection [8086:1539] (rev 03)
\tControl: I/O+ Mem+ BusMaster+
\tCapabilities: [a0] Express (v2) Endp"""
    result = import_listing(dump, "cut.txt")
    assert not [d for d in result.diagnostics if d.is_error]
    loads_cleanly(result.text)
    text = result.text
    assert 'bridge rp0: root-port "pci8086,a290" {' in text
    assert "acs cap sv rr cr uf ctl sv rr cr uf" in text and "bound pcieport" in text
    assert "upstream rp0" in text  # from the bridge's Bus: line
