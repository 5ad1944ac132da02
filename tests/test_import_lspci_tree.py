# ruff: noqa: E501  (the fixtures are posted lspci trees, kept line for line)
"""`import listing` on `lspci -t` trees: the topology a listing lacks.

The fixtures are trees people posted (lspci -t, -tv, -tvnn, a `-s` subtree, several root
buses).  What matters: which bridge each function sits below becomes its `upstream`,
every function with a bus range becomes a bridge whose ACS stays unknown unless observed
groups show it, and a tree merges with the other inputs of the same machine by address.
"""

from __future__ import annotations

import itertools
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from iommu_rules import Board
from iommu_rules.diagnostics import Diagnostic
from iommu_rules.fmt import format_text
from iommu_rules.importers.listing import import_listing, import_listings
from iommu_rules.importers.lspci_tree import TreeReader

# An AMD desktop (Ryzen, X570-class chipset behind 00:01.1) as `lspci -t` prints it, with
# the heading the report script puts above it. Posted by Ezgera in "[bench]
# Minachist/Qwen3.8-27B-INT6-Mixed-AutoRound on Dual 3090: 278k FP16 kv-pool",
# https://github.com/noonghunna/club-3090/issues/1120 (a comment; its date is not in the
# stored copy); the tree complete.
RYZEN = """\
# lspci -t  (PCIe topology tree)
-[0000:00]-+-00.0
           +-00.2
           +-01.0
           +-01.1-[01-08]----00.0-[02-08]--+-00.0-[03]----00.0
           |                               +-01.0-[04]----00.0
           |                               +-04.0-[05]----00.0
           |                               +-08.0-[06]--+-00.0
           |                               |            +-00.1
           |                               |            \\-00.3
           |                               +-09.0-[07]----00.0
           |                               \\-0a.0-[08]----00.0
           +-01.2-[09]----00.0
           +-02.0
           +-03.0
           +-03.1-[0a]--+-00.0
           |            \\-00.1
           +-03.2-[0b]--+-00.0
           |            \\-00.1
           +-04.0
           +-05.0
           +-07.0
           +-07.1-[0c]----00.0
           +-08.0
           +-08.1-[0d]--+-00.0
           |            +-00.1
           |            +-00.3
           |            \\-00.4
           +-14.0
           +-14.3
           +-18.0
           +-18.1
           +-18.2
           +-18.3
           +-18.4
           +-18.5
           +-18.6
           \\-18.7
"""

# `lspci -tv` of an EPYC-class board with several root buses ("-+-[0000:60]-" ... "+-[0000:40]-").
# Posted by visionscaper in "MI100 initiallization issue on AM4 hardware",
# https://github.com/ROCm/legacy-rocm-build/issues/2927 (a comment; its date is not in the
# stored copy); the first root bus and the first lines of the second, cut before a line
# the stored copy breaks off.
EPYC = """\
$ lspci -tv
-+-[0000:60]-+-00.0  Advanced Micro Devices, Inc. [AMD] Starship/Matisse Root Complex
 |           +-00.2  Advanced Micro Devices, Inc. [AMD] Milan IOMMU
 |           +-01.0  Advanced Micro Devices, Inc. [AMD] Starship/Matisse PCIe Dummy Host Bridge
 |           +-02.0  Advanced Micro Devices, Inc. [AMD] Starship/Matisse PCIe Dummy Host Bridge
 |           +-03.0  Advanced Micro Devices, Inc. [AMD] Starship/Matisse PCIe Dummy Host Bridge
 |           +-04.0  Advanced Micro Devices, Inc. [AMD] Starship/Matisse PCIe Dummy Host Bridge
 |           +-05.0  Advanced Micro Devices, Inc. [AMD] Starship/Matisse PCIe Dummy Host Bridge
 |           +-07.0  Advanced Micro Devices, Inc. [AMD] Starship/Matisse PCIe Dummy Host Bridge
 |           +-07.1-[61]----00.0  Advanced Micro Devices, Inc. [AMD] Starship/Matisse PCIe Dummy Function
 |           +-08.0  Advanced Micro Devices, Inc. [AMD] Starship/Matisse PCIe Dummy Host Bridge
 |           \\-08.1-[62]----00.0  Advanced Micro Devices, Inc. [AMD] Starship/Matisse Reserved SPP
 +-[0000:40]-+-00.0  Advanced Micro Devices, Inc. [AMD] Starship/Matisse Root Complex
 |           +-00.2  Advanced Micro Devices, Inc. [AMD] Milan IOMMU
 |           +-01.0  Advanced Micro Devices, Inc. [AMD] Starship/Matisse PCIe Dummy Host Bridge
"""

# `lspci -tv` of an Ivy Bridge machine with a PCIe switch card (four Optane drives, empty
# downstream ports), after a Markdown fence on the first line. Posted by gera-k in "Ability
# to show subtree by adding -s to -t option is broken",
# https://github.com/pciutils/pciutils/issues/138 (2023-04-11); cut before a line the
# stored copy breaks off.
OPTANE = """\
``` # lspci -tv
-[0000:00]-+-00.0  Intel Corporation Xeon E3-1200 v2/3rd Gen Core processor DRAM Controller
           +-01.0-[01-0c]----00.0-[02-0c]--+-04.0-[03-09]----00.0-[04-09]--+-00.0-[05]----00.0  Intel Corporation NVMe Datacenter SSD [Optane]
           |                               |                               +-01.0-[06]----00.0  Intel Corporation NVMe Datacenter SSD [Optane]
           |                               |                               +-02.0-[07]----00.0  Intel Corporation NVMe Datacenter SSD [Optane]
           |                               |                               +-03.0-[08]----00.0  Intel Corporation NVMe Datacenter SSD [Optane]
           |                               |                               \\-1f.0-[09]----00.0  Broadcom / LSI PCIe Switch management endpoint
           |                               +-05.0-[0a]--
           |                               +-06.0-[0b]--
           |                               \\-07.0-[0c]--
           +-02.0  Intel Corporation IvyBridge GT2 [HD Graphics 4000]
           +-14.0  Intel Corporation 7 Series/C210 Series Chipset Family USB xHCI Host Controller
           +-16.0  Intel Corporation 7 Series/C216 Chipset Family MEI Controller #1
"""

# One machine, two outputs of `lspci -tv -s 8:7` from the same report: the subtree form
# (the bridge's full address first) from a working lspci, and the path from the root to
# that bridge from a broken one. Posted by gera-k in the same issue (2023-04-05).
SUBTREE = """\
# lspci -tv -s 8:7
0000:08:07.0-[10-15]----00.0-[11-15]--+-01.0-[12]----00.0  Intel Corporation NVMe Datacenter SSD [Optane]
                                      +-02.0-[13]----00.0  Intel Corporation NVMe Datacenter SSD [Optane]
                                      +-09.0-[14]----00.0  Intel Corporation NVMe Datacenter SSD [Optane]
                                      \\-0a.0-[15]----00.0  Intel Corporation NVMe Datacenter SSD [Optane]
"""
PATH_TO_SUBTREE = """\
# lspci -tv -s 8:7
-[0000:00]-+-01.0-[05-fd]----00.0-[06-fd]--+-04.0-[07-1c]----00.0-[08-1c]--+-07.0-[10-15]--
"""

# `lspci -tvnn` (IDs after the names) of a Haswell laptop with a Radeon behind the x16
# port, then the same GPU from an older lspci with `-d`, which shows its bus as a root
# bus of its own. Posted by pali in "lspci: Option -d for tree view is broken",
# https://github.com/pciutils/pciutils/issues/87 (2022-01-12), with the post's "...".
HASWELL = """\
$ lspci -tvnn
-[0000:00]-+-00.0  Intel Corporation Xeon E3-1200 v3/4th Gen Core Processor DRAM Controller [8086:0c04]
           +-01.0-[01]----00.0  Advanced Micro Devices, Inc. [AMD/ATI] Sun XT [Radeon HD 8670A/8670M/8690M / R5 M330 / M430] [1002:6660]
...
"""
HASWELL_OLD_LSPCI = """\
$ lspci --version
lspci version 3.5.2
$ lspci -tvnn -d 1002:6660
-+-[0000:01]---00.0  Advanced Micro Devices, Inc. [AMD/ATI] Sun XT [Radeon HD 8670A/8670M/8690M / R5 M330 / M430 / Radeon 520 Mobile] [1002:6660]
 \\-[0000:00]-
"""

TREES = {"ryzen": RYZEN, "epyc": EPYC, "optane": OPTANE, "haswell": HASWELL}
DEVICE = re.compile(r'^device (\S+): "([^"]+)"(?:, "pciclass,[0-9a-f]{4}")? \{ ([^}]*) \}', re.M)
BRIDGE = re.compile(r"^bridge (\S+): (\S+) \{ ([^}]*) \}", re.MULTILINE)


def loads(text: str) -> list[tuple[str, bool]]:
    board = Board.from_text(text, "imported.iommu")
    assert not board.base.diagnostics, board.base.diagnostics  # the loader's
    model = board.model
    assert not [d for d in model.diagnostics if d.is_error], model.diagnostics
    assert format_text(text, "imported.iommu") == text
    return [(str(e.query.subject.text), ok) for e, ok, _, _ in board.resolution.expectations]


def topology(text: str) -> dict[str, tuple[str, str | None]]:
    """bb:dd.f -> (kind: 'device' or the bridge kind, bb:dd.f of its upstream or None)"""
    names: dict[str, str] = {}
    rows: list[tuple[str, str, str]] = []
    for m in DEVICE.finditer(text):
        rows.append((m[1], "device", m[3]))
    for m in BRIDGE.finditer(text):
        rows.append((m[1], m[2], m[3]))
    for name, _kind, props in rows:
        names[name] = re.search(r"pci 0000:([0-9a-f:.]+)", props)[1]  # type: ignore[index]
    out: dict[str, tuple[str, str | None]] = {}
    for name, kind, props in rows:
        up = re.search(r"upstream (\w+)", props)
        out[names[name]] = (kind, names[up[1]] if up else None)
    return out


@pytest.mark.parametrize("key", TREES)
def test_trees_import_and_load(key: str) -> None:
    result = import_listing(TREES[key], f"{key}.txt")
    assert not [d for d in result.diagnostics if d.is_error]
    assert loads(result.text) == []  # a tree shows no groups: nothing to expect


def test_upstream_and_bridges_from_a_tree() -> None:
    result = import_listing(RYZEN, "ryzen.txt")
    # The heading is not a tree line: the one warning, at its line.
    assert [(d.code, d.span.line, d.span.col) for d in result.diagnostics] == [("W801", 1, 1)]
    t = topology(result.text)
    assert t["01:00.0"] == ("switch-port", "00:01.1")
    assert t["00:01.1"] == ("root-port", None)
    for port in ("02:00.0", "02:01.0", "02:04.0", "02:08.0", "02:09.0", "02:0a.0"):
        assert t[port] == ("switch-port", "01:00.0"), port
    assert t["03:00.0"] == ("device", "02:00.0")
    assert t["06:00.0"] == t["06:00.1"] == t["06:00.3"] == ("device", "02:08.0")
    assert t["08:00.0"] == ("device", "02:0a.0")
    assert t["0a:00.1"] == ("device", "00:03.1")
    assert t["0d:00.4"] == ("device", "00:08.1")
    assert t["00:18.7"] == ("device", None)
    assert len(t) == 50  # every function in the tree, once
    # The tree says nothing about ACS: each bridge says so.
    assert (
        result.text.count("# ACS unknown: a quirk for its IDs, or say 'acs yes' or 'acs no'") == 13
    )


def test_several_root_buses_and_names() -> None:
    result = import_listing(EPYC, "epyc.txt")
    assert [(d.span.line, d.span.col) for d in result.diagnostics] == [(1, 1)]  # "$ lspci -tv"
    t = topology(result.text)
    assert t["60:07.1"] == ("root-port", None) and t["60:08.1"] == ("root-port", None)
    assert t["61:00.0"] == ("device", "60:07.1")
    assert t["62:00.0"] == ("device", "60:08.1")
    assert t["40:01.0"] == ("device", None)
    assert len(t) == 16
    # -tv names are kept in the comments; without -nn there are no IDs.
    assert (
        "# 62:00.0 (class not in the input): Advanced Micro Devices, Inc. [AMD] Starship/Matisse Reserved SPP"
        in result.text
    )
    assert result.text.count(': "pci-unknown" {') == 14


def test_switch_with_empty_downstream_ports() -> None:
    result = import_listing(OPTANE, "optane.txt")
    assert result.diagnostics == []  # the fence line is known Markdown
    t = topology(result.text)
    chain = ["05:00.0", "04:00.0", "03:00.0", "02:04.0", "01:00.0", "00:01.0"]
    for below, above in itertools.pairwise(chain):
        assert t[below][1] == above, below
    assert t["09:00.0"] == ("device", "04:1f.0")
    for empty in ("02:05.0", "02:06.0", "02:07.0"):
        assert t[empty] == ("switch-port", "01:00.0")
    assert t["00:01.0"] == ("root-port", None)


def test_a_subtree_and_the_path_to_it_merge() -> None:
    result = import_listings([("subtree.txt", SUBTREE), ("path.txt", PATH_TO_SUBTREE)])
    # Only the two headings are not tree lines.
    assert [(d.span.file, d.span.line) for d in result.diagnostics] == [
        ("subtree.txt", 1),
        ("path.txt", 1),
    ]
    t = topology(result.text)
    chain = ["12:00.0", "11:01.0", "10:00.0", "08:07.0", "07:00.0", "06:04.0", "05:00.0", "00:01.0"]
    for below, above in itertools.pairwise(chain):
        assert t[below][1] == above, below
    assert t["00:01.0"] == ("root-port", None)
    assert t["15:00.0"] == ("device", "11:0a.0")
    loads(result.text)


def test_tvnn_ids_and_a_contradicting_tree() -> None:
    result = import_listings([("new.txt", HASWELL), ("old.txt", HASWELL_OLD_LSPCI)])
    text = result.text
    assert re.search(r'device \w+: "pci8086,0c04" \{ pci 0000:00:00\.0 \}', text)
    assert re.search(r'device \w+: "pci1002,6660" \{ pci 0000:01:00\.0; upstream rp0 \}', text)
    assert "bridge rp0: root-port { pci 0000:00:01.0 }" in text
    # The old lspci shows bus 01 as a root bus of its own: that contradicts the first tree,
    # which is kept; the warning points at the line in old.txt.
    conflict = [d for d in result.diagnostics if "below" in d.message]
    assert [(d.span.file, d.span.line, d.span.col) for d in conflict] == [("old.txt", 4, 1)]
    assert conflict[0].message == (
        "0000:01:00.0 is below the root bus here but below 0000:00:01.0 in new.txt:3; line skipped"
    )
    # The rest of the warnings are the shell lines, and "..." is not one.
    assert [(d.span.file, d.span.line) for d in result.diagnostics if d not in conflict] == [
        ("new.txt", 1),
        ("old.txt", 1),
        ("old.txt", 2),
        ("old.txt", 3),
    ]


# A hand-written machine to show the merge and the ACS rule on both sides of it (no post
# has a listing and a tree of one machine): a root port with a switch whose downstream
# ports isolate two NICs, and a PCH root port that shares a group with its NIC. The
# group listing gives classes and groups, the `lspci -tvnn` tree gives the topology.
LISTING = """\
IOMMU Group 1 00:01.0 PCI bridge [0604]: Intel Corporation 6th-10th Gen Core Processor PCIe Controller (x16) [8086:1901] (rev 07)
IOMMU Group 2 01:00.0 PCI bridge [0604]: PLX Technology, Inc. PEX 8724 24-Lane, 6-Port PCI Express Gen 3 (8 GT/s) Switch, 19 x 19mm FCBGA [10b5:8724] (rev ca)
IOMMU Group 3 02:01.0 PCI bridge [0604]: PLX Technology, Inc. PEX 8724 24-Lane, 6-Port PCI Express Gen 3 (8 GT/s) Switch, 19 x 19mm FCBGA [10b5:8724] (rev ca)
IOMMU Group 4 02:02.0 PCI bridge [0604]: PLX Technology, Inc. PEX 8724 24-Lane, 6-Port PCI Express Gen 3 (8 GT/s) Switch, 19 x 19mm FCBGA [10b5:8724] (rev ca)
IOMMU Group 5 03:00.0 Ethernet controller [0200]: Intel Corporation I210 Gigabit Network Connection [8086:1533] (rev 03)
IOMMU Group 6 04:00.0 Ethernet controller [0200]: Intel Corporation I210 Gigabit Network Connection [8086:1533] (rev 03)
IOMMU Group 7 00:1c.0 PCI bridge [0604]: Intel Corporation 200 Series PCH PCI Express Root Port #1 [8086:a290] (rev f0)
IOMMU Group 7 05:00.0 Ethernet controller [0200]: Realtek Semiconductor Co., Ltd. RTL8111/8168/8411 PCI Express Gigabit Ethernet Controller [10ec:8168] (rev 15)
"""
TREE = """\
-[0000:00]-+-01.0-[01-04]----00.0-[02-04]--+-01.0-[03]----00.0  Intel Corporation I210 Gigabit Network Connection [8086:1533]
           |                               \\-02.0-[04]----00.0  Intel Corporation I210 Gigabit Network Connection [8086:1533]
           \\-1c.0-[05]----00.0  Realtek Semiconductor Co., Ltd. RTL8111/8168/8411 PCI Express Gigabit Ethernet Controller [10ec:8168]
"""


def test_listing_and_tree_merge_and_groups_show_bridge_acs() -> None:
    result = import_listings([("groups.txt", LISTING), ("tree.txt", TREE)])
    assert result.diagnostics == []
    text = result.text
    assert "groups.txt (an 'IOMMU Group' listing); tree.txt (an lspci -t tree)" in text.replace(
        "\n#   ", " "
    )
    # Classes from the listing, topology from the tree, on the same functions.
    assert (
        'device net0: "pci8086,1533", "pciclass,0200" { tags network; pci 0000:03:00.0; upstream sw1 }'
        in text
    )
    assert (
        'device net2: "pci10ec,8168", "pciclass,0200" { tags network; pci 0000:05:00.0; upstream rp1 }'
        in text
    )
    # 03:00.0 and 04:00.0 are not in their ports' groups: every bridge from there up has
    # ACS. 05:00.0 shares the group of the root port 00:1c.0 above it: that port does not
    # isolate, whatever its quirk row says (the observed kernel wins).
    for bridge in ("rp0", "sw0", "sw1", "sw2"):
        assert re.search(rf"^bridge {bridge}: .*; acs yes \}}$", text, re.MULTILINE), bridge
    assert 'bridge rp1: root-port "pci8086,a290" { pci 0000:00:1c.0; acs no }' in text
    assert "# acs yes: deduced, 03:00.0 below it is in IOMMU group 5 and 02:01.0 in group 3" in (
        text.replace("\n#   ", " ")
    )
    # With the tree and the deduced ACS the model reproduces every observed group.
    outcomes = loads(text)
    assert outcomes == [
        ("rp0", True),
        ("sw0", True),
        ("sw1", True),
        ("sw2", True),
        ("net0", True),
        ("net1", True),
        ("rp1", True),
    ]
    # Without the tree, the two NICs' groups hold only once 'upstream' is filled in.
    alone = import_listing(LISTING, "groups.txt").text
    assert "; acs yes }" not in alone


def test_tree_reader_reports_broken_lines_at_their_column() -> None:
    reports: list[tuple[int, int, int, str]] = []
    reader = TreeReader(lambda *r: reports.append(r))
    lines = [
        "-[0000:00]-+-00.0",
        "           +-01.0-[01]--+-00.0",
        "           |            \\-0g.1",  # 3: not a function
        "                   +-02.0",  # 4: no branch above at this column
        "           \\-1c.4-[03-05]--x",  # 5: neither '--' nor '+-'
        "           +-3f.0",  # 6: device past 1f
    ]
    for n, line in enumerate(lines, 1):
        assert reader.feed(n, line)
    assert [(line, col) for line, col, _end, _msg in reports] == [
        (3, 27),
        (4, 20),
        (5, 28),
        (6, 14),
    ]
    assert "expected a function 'dd.f'" in reports[0][3]
    assert "no line above" in reports[1][3]
    assert "'3f.0' is not a PCI function" in reports[3][3]
    # 1c.4 and its bus range were read before the break.
    assert reader.fns[(0, 0, 0x1C, 4)].secondary == (3, 5)


def test_trees_cut_anywhere_give_diagnostics_not_tracebacks() -> None:
    for text in TREES.values():
        for end in range(0, len(text), max(1, len(text) // 89)):
            check(text[:end])


def check(text: str) -> None:
    result = import_listing(text, "fuzz.txt")
    for d in result.diagnostics:
        assert isinstance(d, Diagnostic) and d.code in ("W801", "E801"), d
        assert "bug" not in d.message, d.message
        assert d.span.file == "fuzz.txt" and d.span.line >= 1 and d.span.col >= 1
    if result.text:
        loads(result.text)


TREE_PARTS = st.sampled_from(
    [
        "-[0000:00]-",
        "-+-[0000:40]-",
        " \\-[0000:00]-",
        "+-",
        "\\-",
        "--",
        "----",
        "|",
        " ",
        "           ",
        "00.0",
        "1f.7",
        "20.0",
        "-[01]-",
        "-[02-05]-",
        "  Intel Corporation [8086:1901]",
        "0000:08:07.0",
        "Memory at f0000000",
    ]
)
TREE_TEXT = st.lists(st.lists(TREE_PARTS, max_size=10).map("".join), max_size=12).map("\n".join)


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(TREE_TEXT)
def test_tree_like_text_never_raises(text: str) -> None:
    check(text)
