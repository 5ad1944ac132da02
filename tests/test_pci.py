"""The PCI layer against the kernel: pci_device_group, pci_acs_enabled per PCIe type and
ACS flags, the quirk tables and the command line (dsl/pci/). Each case cites the lines it
mirrors; boards go through the public Board."""

from __future__ import annotations

import pytest

from iommu_rules import Board

HEAD = """\
include "std/linux"
platform {{ arch x86_64; kernel {kernel}; ram 16G{cmdline} }}
iommu vtd: intel-vtd
"""


def groups(body: str, kernel: str = "6.8", cmdline: str = "") -> list[list[str]]:
    cmd = f'; cmdline "{cmdline}"' if cmdline else ""
    board = Board.from_text(HEAD.format(kernel=kernel, cmdline=cmd) + body, "pc.iommu")
    assert board.ok, board.errors
    return sorted(sorted(g.members) for g in board.resolution.groups)


def why(body: str, query: str, kernel: str = "6.8", cmdline: str = "") -> str:
    cmd = f'; cmdline "{cmdline}"' if cmdline else ""
    board = Board.from_text(HEAD.format(kernel=kernel, cmdline=cmd) + body, "pc.iommu")
    return board.why(query).text()


# ------------------------------------------------------------ the minimal boards
def test_two_acs_less_root_ports_of_one_slot_are_one_group() -> None:
    """get_pci_function_alias_group: each device climbs to its root port (no ACS), and the
    two ports, functions of one multifunction slot without ACS, share a group."""
    body = """\
bridge rp0: root-port { pci 0000:00:1c.0 }
bridge rp4: root-port { pci 0000:00:1c.4 }
device nic: "pci10ec,8168" { pci 0000:02:00.0; upstream rp0 }
device wlan: "pci8086,2723" { pci 0000:03:00.0; upstream rp4 }
"""
    assert groups(body) == [["nic", "rp0", "rp4", "wlan"]]
    text = why(body, "wlan.group_members")
    assert "functions of multifunction slot 00:1c that ACS does not isolate" in text


def test_a_single_function_upstream_port_is_never_asked_for_acs() -> None:
    """pci_acs_enabled: an upstream port that is not multifunction is isolated whatever it
    has (PCIe 3.0 6.12.1.2); only the downstream ports' ACS decides."""
    body = """\
bridge rp: root-port { pci 0000:00:01.0; acs yes }
bridge usp: upstream-port { pci 0000:01:00.0; upstream rp; acs no }
bridge dsp0: downstream-port { pci 0000:02:00.0; upstream usp; acs yes }
bridge dsp1: downstream-port { pci 0000:02:01.0; upstream usp; acs yes }
device a: "pci144d,a808" { pci 0000:03:00.0; upstream dsp0 }
device b: "pci144d,a808" { pci 0000:04:00.0; upstream dsp1 }
"""
    assert groups(body) == [["a"], ["b"], ["dsp0"], ["dsp1"], ["rp"], ["usp"]]
    assert "single-function upstream-port" in why(body, "a.group")


def test_a_switch_port_below_a_root_port_is_the_upstream_port() -> None:
    body = """\
bridge rp: root-port { pci 0000:00:01.0; acs yes }
bridge sw_up: switch-port { pci 0000:01:00.0; upstream rp }
bridge sw_dn: switch-port { pci 0000:02:00.0; upstream sw_up }
device d: "pci144d,a808" { pci 0000:03:00.0; upstream sw_dn }
"""
    # the downstream port has no ACS: its device joins it; the upstream port is alone
    assert groups(body) == [["d", "sw_dn"], ["rp"], ["sw_up"]]


# ------------------------------------------------------------ pci_acs_enabled per type
PORT = """\
bridge rp: root-port {{ pci 0000:00:1c.0; {acs} }}
bridge rp2: root-port {{ pci 0000:00:1c.1; acs yes }}
device d: "pci144d,a808" {{ pci 0000:01:00.0; upstream rp }}
"""


@pytest.mark.parametrize(
    ("acs", "isolated"),
    [
        ("acs yes", True),  # SV RR CR UF in the capability; the kernel enables them
        ("acs no", False),  # no capability: pci_acs_flags_enabled is false
        ("acs cap sv rr cr uf ctl sv rr cr uf", True),
        ("acs cap rr cr", True),  # SV and UF not implemented: "hard-wired enabled"
        ("acs cap none", True),  # an empty capability asks for nothing
        ("acs cap sv rr cr uf ec", True),  # EC is never asked for
    ],
)
def test_a_root_port_reads_its_acs_registers(acs: str, isolated: bool) -> None:
    """pci.c: pci_acs_flags_enabled: acs_flags &= (cap | PCI_ACS_EC); (ctrl & flags) ==
    flags, after pci_std_enable_acs set SV RR CR UF where the capability has them."""
    got = groups(PORT.format(acs=acs))
    assert (["d"] in got) is isolated, got


def test_disable_acs_redir_turns_isolation_off_from_4_19() -> None:
    """pci=disable_acs_redir= clears RR CR EC (aaca43fda742, 4.19)."""
    body = PORT.format(acs="acs yes")
    cmd = "intel_iommu=on pci=noaer,disable_acs_redir=0000:00:1c.0"
    assert ["d", "rp"] in groups(body, "6.8", cmd)
    assert ["d"] in groups(body, "4.18", cmd)
    assert "pci=disable_acs_redir= turned off rr cr ec" in why(body, "d.group_members", "6.8", cmd)
    by_id = "pci=disable_acs_redir=pci:8086:a110"
    ported = body.replace("root-port {", 'root-port "pci8086,1234" {', 1)
    assert ["d"] in groups(ported, "6.8", by_id)


def test_config_acs_sets_the_control_bits_from_6_11() -> None:
    """pci=config_acs=FLAGS@DEVICE (47c8846a49ba, 6.11): rightmost character is SV; '0'
    forces a bit off: RR (bit 2) off breaks the isolation."""
    body = PORT.format(acs="acs yes")
    cmd = "pci=config_acs=xxxx0xx@0000:00:1c.0"
    assert ["d", "rp"] in groups(body, "6.11", cmd)
    assert ["d"] in groups(body, "6.10", cmd)


def test_a_garbled_acs_option_is_a_warning_and_changes_nothing() -> None:
    body = PORT.format(acs="acs yes")
    board = Board.from_text(
        HEAD.format(kernel="6.8", cmdline='; cmdline "pci=disable_acs_redir=nonsense"') + body,
        "pc.iommu",
    )
    w219 = [d for d in board.diagnostics if d.code == "W219"]
    assert len(w219) == 1 and "'nonsense'" in w219[0].message
    assert ["d"] in sorted(sorted(g.members) for g in board.resolution.groups)


@pytest.mark.parametrize(
    ("pcie", "mf", "isolated"),
    [
        ("endpoint", "no", True),  # single function: isolated whatever it has
        ("endpoint", "yes", False),  # multifunction without ACS: merged
        ("legacy-endpoint", "yes", False),
        ("rc-endpoint", "yes", False),  # no Intel IDs: the RCiEP quirk does not apply
        ("none", "yes", False),  # conventional PCI: never isolated
    ],
)
def test_endpoints_by_type_and_multifunction_bit(pcie: str, mf: str, isolated: bool) -> None:
    body = f"""\
device f0: "pci1234,0001" {{ pci 0000:00:14.0; pcie {pcie}; multifunction {mf} }}
device f1: "pci1234,0002" {{ pci 0000:00:14.2; pcie none }}
"""
    got = groups(body)
    assert (got == [["f0"], ["f1"]]) is isolated, got


def test_behind_a_pcie_to_pci_bridge_everything_is_one_group_with_it() -> None:
    """search.c: pci_for_each_dma_alias: a PCIe-to-PCI bridge puts its own requester ID on
    what comes from behind it; the functions join its group before ACS is looked at."""
    body = """\
bridge rp: root-port { pci 0000:00:1c.0; acs yes }
bridge br: pci-bridge { pci 0000:01:00.0; upstream rp; acs yes }
device tv: "pci109e,036e" { pci 0000:02:00.0; upstream br }
device snd: "pci109e,0878" { pci 0000:02:00.1; upstream br }
"""
    assert groups(body) == [["br", "snd", "tv"], ["rp"]]
    assert "puts its own requester ID" in why(body, "tv.group_members")


# ------------------------------------------------------------ the quirk tables
def test_intel_pch_root_ports_isolate_by_their_quirk() -> None:
    """pci_quirk_intel_spt_pch_acs (Sunrise Point a110..): no `acs` needed; an explicit
    `acs no` wins over the row (a board can say what its kernel did)."""
    body = """\
bridge rp1: root-port "pci8086,a110" { pci 0000:00:1c.0 }
bridge rp5: root-port "pci8086,a114" { pci 0000:00:1c.4 }
device nic: "pci10ec,8168" { pci 0000:02:00.0; upstream rp1 }
device wlan: "pci8086,24fd" { pci 0000:03:00.0; upstream rp5 }
"""
    assert groups(body) == [["nic"], ["rp1"], ["rp5"], ["wlan"]]
    assert "pci_quirk_intel_spt_pch_acs answers isolated" in why(body, "nic.group")
    stated = body.replace("{ pci 0000:00:1c.0 }", "{ pci 0000:00:1c.0; acs no }")
    assert groups(stated) == [["nic", "rp1"], ["rp5"], ["wlan"]]


@pytest.mark.parametrize(("kernel", "isolated"), [("6.10", True), ("6.11", False), ("6.12", True)])
def test_the_6_11_config_acs_change_broke_the_intel_pch_quirk(kernel: str, isolated: bool) -> None:
    """47c8846a49ba (6.11) returned from pci_enable_acs before the enable quirk on a port
    without an ACS capability; f3c3ccc4fe49 (6.12) fixed it (Lynx Point 8c10)."""
    body = """\
bridge rp1: root-port "pci8086,8c10" { pci 0000:00:1c.0 }
bridge rp2: root-port "pci8086,8c12" { pci 0000:00:1c.1 }
device nic: "pci10ec,8168" { pci 0000:02:00.0; upstream rp1 }
"""
    assert (["nic"] in groups(body, kernel)) is isolated


def test_the_i219_is_isolated_in_the_lpc_slot_by_its_quirk() -> None:
    """pci_quirk_mf_endpoint_acs lists the I219 8086:15b7 and 15b8 (not 15bc): it leaves
    the chipset's 00:1f group, which the other (conventional PCI) functions share."""
    body = """\
device lpc: "pci8086,a2c9" { pci 0000:00:1f.0 }
device smbus: "pci8086,a2a3" { pci 0000:00:1f.4 }
device eth: "pci8086,15b8" { pci 0000:00:1f.6 }
"""
    assert groups(body) == [["eth"], ["lpc", "smbus"]]
    assert "pci_quirk_mf_endpoint_acs" in why(body, "eth.group")
    other = body.replace("pci8086,15b8", "pci8086,15bc")
    assert groups(other) == [["eth", "lpc", "smbus"]]


def test_amd_southbridge_functions_isolate_only_with_an_amd_iommu() -> None:
    """pci_quirk_amd_sb_acs: multifunction, on a root bus, and an ACPI IVRS table."""
    body = """\
device smbus: "pci1002,4385" { pci 0000:00:14.0 }
device ide: "pci1002,439c" { pci 0000:00:14.1 }
"""
    amd = HEAD.replace("iommu vtd: intel-vtd", "iommu ivrs: amd-vi")
    board = Board.from_text(amd.format(kernel="6.8", cmdline="") + body, "pc.iommu")
    assert sorted(sorted(g.members) for g in board.resolution.groups) == [["ide"], ["smbus"]]
    assert groups(body) == [["ide", "smbus"]]  # an Intel IOMMU: no IVRS table


def test_a_func1_dma_alias_quirk_joins_the_ghost_functions_group() -> None:
    """quirk_dma_func1_alias (Marvell 88SE9230 1b4b:9230): function 0 DMAs as function 1,
    so where function 1 exists they are DMA aliases: one group (get_pci_alias_group)."""
    body = """\
bridge rp: root-port { pci 0000:00:1c.0; acs yes }
device sata: "pci1b4b,9230" { pci 0000:01:00.0; upstream rp; multifunction no }
device ide: "pci1b4b,91a0" { pci 0000:01:00.1; upstream rp; acs yes }
"""
    assert ["ide", "sata"] in groups(body)
    assert "quirk_dma_func1_alias" in why(body, "ide.group_members")


# ------------------------------------------------------------ a PCI function by its address
def test_queries_take_a_pci_address_where_a_name_goes() -> None:
    """why 'group-of 01:00.0' ended in an internal error (exit 4)."""
    from iommu_rules.repl.session import Session, execute

    from conftest import EXAMPLES, run_cli

    board = str(EXAMPLES / "x86-desktop.iommu")
    proc = run_cli("why", board, "group-of 01:00.0")
    assert proc.returncode == 0 and proc.stdout.startswith("dgpu.group_members = [cpu_rp,")
    proc = run_cli("why", board, "0000:01:00.1.dma_ops")
    assert proc.returncode == 0 and proc.stdout.startswith("dgpu_audio.dma_ops = none")
    proc = run_cli("why", board, "00:1c.0.group")  # a bridge, by its address
    assert proc.returncode == 0 and proc.stdout.startswith("pch_rp1.group = ")
    proc = run_cli("why", board, "09:09.0.group")
    assert proc.returncode == 3 and "no PCI function at 09:09.0" in proc.stderr
    session = Session()
    session.load([board])
    assert execute(session, "show 01:00.0").text.startswith("device dgpu at 0000:01:00.0:")
    assert execute(session, "show 00:01.0").text.startswith("bridge (root-port) cpu_rp at")
    assert execute(session, "ops 01:00.1").text.split() == ["dgpu_audio", "none"]
    resolved = run_cli("resolve", board).stdout
    assert "group 0: cpu_rp (00:01.0), dgpu (01:00.0), dgpu_audio (01:00.1)" in resolved
    json = run_cli("resolve", "--json", board).stdout
    assert '"bridge": "root-port"' in json and '"pci": "0000:00:01.0"' in json


# ------------------------------------------------------------ the out-of-tree ACS override
OVERRIDE = """\
bridge rp0: root-port {{ pci 0000:00:1c.0 }}
bridge rp4: root-port {{ pci 0000:00:1c.4 }}
bridge peg: root-port {{ pci 0000:00:01.0; acs yes }}
bridge peg2: root-port {{ pci 0000:00:01.1; acs yes }}
device nic: "pci10ec,8168" {{ pci 0000:02:00.0; upstream rp0 }}
device wlan: "pci8086,2723" {{ pci 0000:03:00.0; upstream rp4 }}
device gpu: "pci10de,1b81" {{ pci 0000:01:00.0; upstream peg }}
device hdmi: "pci10de,10f0" {{ pci 0000:01:00.1; upstream peg }}
device card: "pci1234,0001" {{ pci 0000:04:00.0; upstream peg2 }}
device card_fn1: "pci1234,0002" {{ pci 0000:04:00.1; upstream peg2 }}
device lpc: "pci8086,a2c9" {{ pci 0000:00:1f.0 }}
device smbus: "pci8086,a2a3" {{ pci 0000:00:1f.4 }}
{pack}
"""


def test_pcie_acs_override_is_ignored_without_the_patch() -> None:
    """A mainline kernel has no pcie_acs_override=: nothing changes, W221 says so."""
    cmd = "pcie_acs_override=downstream,multifunction"
    body = OVERRIDE.format(pack="")
    board = Board.from_text(
        HEAD.format(kernel="6.8", cmdline=f'; cmdline "{cmd}"') + body, "pc.iommu"
    )
    assert [d.code for d in board.diagnostics if d.code.startswith("W22")] == ["W221"]
    assert groups(body, cmdline=cmd) == groups(body)


def test_pcie_acs_override_with_the_patch_splits_as_the_patch_does() -> None:
    """pcie_acs_overrides: downstream vouches for root and downstream ports without an ACS
    capability, multifunction for PCIe multifunction endpoints without one; never for
    conventional PCI (lpc, smbus) or a function with a capability (peg, whose redirect
    bits pci=disable_acs_redir= turned off)."""
    body = OVERRIDE.format(pack='include "std/pci/acs-override"')
    before = [
        ["card", "card_fn1"],
        ["gpu", "hdmi"],
        ["lpc", "smbus"],
        ["nic", "rp0", "rp4", "wlan"],
        ["peg"],
        ["peg2"],
    ]
    assert groups(body) == before
    cmd = "pcie_acs_override=downstream,multifunction pci=disable_acs_redir=0000:00:01.0"
    assert groups(body, cmdline=cmd) == [
        ["card"],  # multifunction endpoints without ACS: vouched for
        ["card_fn1"],
        ["gpu", "hdmi", "peg"],  # below peg, which has a capability: never overridden
        ["lpc", "smbus"],  # conventional PCI: never overridden
        ["nic"],
        ["peg2"],
        ["rp0"],
        ["rp4"],
        ["wlan"],
    ]
    assert "pcie_acs_override=downstream vouches for it" in why(body, "nic.group", cmdline=cmd)
    by_id = "pcie_acs_override=id:1234:0001,id:1234:0002"
    assert ["card"] in groups(body, cmdline=by_id) and ["nic", "rp0", "rp4", "wlan"] in groups(
        body, cmdline=by_id
    )


@pytest.mark.parametrize(("kernel", "isolated"), [("5.7", False), ("5.8", True)])
def test_intel_rcieps_isolate_from_5_8(kernel: str, isolated: bool) -> None:
    """pci_quirk_rciep_acs (3247bd10a450, 5.8): every Intel RCiEP answers isolated."""
    body = """\
device f0: "pci8086,9a13" { pci 0000:00:0d.0; pcie rc-endpoint }
device f1: "pci8086,9a1b" { pci 0000:00:0d.2; pcie rc-endpoint }
"""
    assert (groups(body, kernel) == [["f0"], ["f1"]]) is isolated


@pytest.mark.parametrize(("kernel", "isolated"), [("5.8", True), ("5.9", False), ("5.10", True)])
def test_the_5_9_acs_capability_cache_broke_the_intel_pch_quirk(
    kernel: str, isolated: bool
) -> None:
    """52fbf5bdeeef (5.9) ran pci_enable_acs only where an ACS capability is; 462b58fb0339
    (5.10) enabled it always again."""
    body = """\
bridge rp1: root-port "pci8086,1e10" { pci 0000:00:1c.0 }
bridge rp2: root-port "pci8086,1e12" { pci 0000:00:1c.1 }
device nic: "pci10ec,8168" { pci 0000:02:00.0; upstream rp1 }
"""
    assert (["nic"] in groups(body, kernel)) is isolated


# ------------------------------------------------------------ moving a card to another slot
def test_moving_a_card_to_another_slot_regroups_it() -> None:
    """`move DEVICE to BRIDGE`: the card's functions below another port, at device 00 of
    its secondary bus; from the CPU's port without ACS to a PCH port with it, the GPU
    leaves the port's group."""
    from conftest import EXAMPLES, run_cli

    board = Board.load(EXAMPLES / "x86-desktop.iommu")
    moved = board.whatif("drop device nvme", "move dgpu to pch_rp9")
    assert moved.value("dgpu.group_members") == ["dgpu", "dgpu_audio"]
    # nothing is left below pch_rp9 to show its bus: the card gets the next free one
    assert str(moved.model.devices["dgpu_audio"].pci) == "0000:0b:00.1"
    assert moved.model.devices["dgpu"].upstream == "pch_rp9"
    text = board.diff(moved).text()
    assert "~ group {cpu_rp, dgpu, dgpu_audio} split into {cpu_rp} + {dgpu, dgpu_audio}" in text
    proc = run_cli("whatif", str(EXAMPLES / "x86-desktop.iommu"), "--move", "dgpu to pch_rp9")
    assert proc.returncode == 3 and "error[E503]: 'pch_rp9' already has 'nvme'" in proc.stderr
    proc = run_cli("whatif", str(EXAMPLES / "x86-desktop.iommu"), "--move", "dgpu to pch_rp99")
    assert proc.returncode == 3 and "did you mean 'pch_rp9', 'pch_rp7'" in proc.stderr


def test_pci_noacs_is_not_a_kernel_option() -> None:
    """pci_setup knows disable_acs_redir= and config_acs=, no noacs."""
    body = PORT.format(acs="acs yes")
    board = Board.from_text(
        HEAD.format(kernel="6.8", cmdline='; cmdline "pci=noacs"') + body, "pc.iommu"
    )
    (w,) = [d for d in board.diagnostics if d.code == "W219"]
    assert "no pci=noacs" in w.message and "disable_acs_redir" in w.help
    assert ["d"] in sorted(sorted(g.members) for g in board.resolution.groups)


def test_a_groups_reasons_leave_out_the_edges_of_a_port_outside_it() -> None:
    # the root port's RID is outside the map, so it is not behind the IOMMU and not a
    # member; the group's reasons name the edge that joins the NIC to its bridge, read
    # from the group's own nodes, and not the bridge's edge to that port
    board = Board.from_text(
        """\
platform { arch arm64; kernel 6.8 }
iommu smmu: arm-smmu-v3 { map rid 0x100 sid 0x100 length 0x200 }
bridge rp: root-port { pci 0000:00:01.0; acs no }
bridge pb: pci-bridge { upstream rp }
device nic: "pci8086,1521" { pci 0000:02:00.0; upstream pb }
""",
        "b.iommu",
    )
    (group,) = board.resolution.groups
    assert (group.members, group.bridges) == (["nic"], ["pb"])
    joins = "'nic' (0000:02:00.0) joins the group of 'pb'"
    assert [r.text for r in group.reason.because] == [joins]
