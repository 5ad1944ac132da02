"""Real PCs: posted IOMMU group listings, lspci -vvnn dumps and kernel logs of twelve
machines (tests/fixtures/pc/*/source.md cites each), imported and resolved.

Three measures, each against the groups the machine's own kernel made:
- imported with what the listing shows, every observed group holds (`test` passes);
- from `lspci -vvnn` alone (its IOMMU group lines removed: IDs, topology, ACS registers,
  drivers), the engine predicts every group;
- without the `acs` statements the importer deduces from the groups (IDs and topology only),
  the machines whose isolation comes from the kernel's quirks (Intel Skylake, Kaby Lake and
  Coffee Lake PCHs with an I219, a Cannon Lake board with -vvnn) still come out right; AMD
  boards whose GPP bridges have real ACS capabilities cannot without the registers, and
  those figures are pinned here.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from iommu_rules import Board
from iommu_rules.importers.listing import import_listings

PC = Path(__file__).parent / "fixtures" / "pc"
EXPECT = re.compile(r"^expect (\S+)\.group_members == \[([^\]]*)\]", re.MULTILINE)
GROUP_LINE = re.compile(r"iommu group", re.IGNORECASE)

# machine: (files, groups observed, predicted without the importer's `acs` deductions)
MACHINES = {
    "asrock-fatal1ty-z170-gaming-itx-ac": (["groups.txt"], 14, 14),  # Sunrise Point, I219
    "asrock-z370m-itx-duo": (["groups.txt", "lspci-nnk.txt"], 15, 15),  # Union Point, I219
    "fujitsu-d3373-tx1320m3-fuji": (["groups.txt", "lspci-nnk.txt"], 15, 15),  # C236
    "lenovo-thinkpad-t480-tb3-egpu": (
        ["groups.txt", "lspci-vvv-thunderbolt.txt"],
        16,
        16,
    ),  # Sunrise Point-LP, I219, Thunderbolt 3 with an eGPU enclosure's switch
    "asus-rog-strix-z390e-linuxhw-062BA6C2B9": (
        ["lspci-vvnn.txt", "dmesg-excerpt.txt"],
        19,
        19,
    ),  # Cannon Lake, booted with pcie_acs_override=downstream (the log says so)
    "asus-tuf-gaming-b550m-plus-linuxhw-E75373A634": (
        ["lspci-vvnn.txt", "dmesg-excerpt.txt"],
        20,
        20,
    ),  # Zen 2 on B550: the chipset switch, ACS registers from -vvnn
    "supermicro-x11scl-if-suprox": (["groups.txt", "lspci-nnk.txt"], 19, 15),  # C242
    "msi-mag-b550m-mortar": (["groups.txt"], 20, 8),
    "msi-b450m-mortar-max": (["groups.txt"], 13, 9),
    "msi-b450m-mortar-raven-ridge-reddit": (["groups.txt"], 13, 5),
    "asrock-b550-phantom-itx-5700g-acs-override": (["groups.txt"], 20, 7),
    "amd-renoir-apu-benbaker76-acs-before-after": (
        ["groups-after-acs-override.txt", "cmdline-after.txt"],
        22,
        22,
    ),  # its command line asks for the override: the importer includes the pack
}


def imported(machine: str, files: list[str], blind: bool = False) -> str:
    """The import of a machine's files; `blind`: without the lines that show its groups."""
    inputs = []
    for name in files:
        text = (PC / machine / name).read_text(encoding="utf-8", errors="replace")
        if blind:
            text = "\n".join(line for line in text.splitlines() if not GROUP_LINE.search(line))
        inputs.append((name, text))
    result = import_listings(inputs)
    assert not [d for d in result.diagnostics if d.is_error], result.diagnostics
    return result.text


def observed(text: str) -> list[list[str]]:
    return sorted(sorted(n.strip() for n in m[2].split(",")) for m in EXPECT.finditer(text))


def predicted(text: str) -> list[list[str]]:
    board = Board.from_text(text, "machine.iommu")
    assert board.ok, board.errors
    return sorted(sorted(g.members) for g in board.resolution.groups)


@pytest.mark.parametrize("machine", MACHINES)
def test_every_observed_group_holds_once_imported(machine: str) -> None:
    files, groups, _ = MACHINES[machine]
    text = imported(machine, files)
    assert len(observed(text)) == groups
    res = Board.from_text(text, "machine.iommu").resolution
    failed = [
        (str(e.query.subject.text), actual) for e, ok, actual, _ in res.expectations if not ok
    ]
    assert not failed


@pytest.mark.parametrize("machine", MACHINES)
def test_groups_predicted_without_the_acs_the_groups_showed(machine: str) -> None:
    """The importer's `acs yes|no` come from the observed groups: without them the board
    has only what the machine's IDs, topology and registers say."""
    files, _groups, expected = MACHINES[machine]
    text = imported(machine, files)
    bare = re.sub(r";\s*acs (yes|no)\b", "", text)
    bare = re.sub(r"\{\s*acs (yes|no)\s*\}", "", bare)
    got = predicted(bare)
    assert sum(g in got for g in observed(text)) == expected


@pytest.mark.parametrize(
    ("machine", "firmware"),
    [
        # the AMD IVRS table of this board leaves out the root complex 00:00.0, which the
        # kernel then never probes: a firmware fact no lspci shows
        ("asus-tuf-gaming-b550m-plus-linuxhw-E75373A634", [["host0"]]),
        ("asus-rog-strix-z390e-linuxhw-062BA6C2B9", []),
    ],
)
def test_lspci_vvnn_alone_predicts_the_machines_groups(
    machine: str, firmware: list[list[str]]
) -> None:
    """lspci -vvnn without its 'IOMMU group:' lines, and the kernel log without its
    'Adding to iommu group' lines: the groups come from the engine only."""
    files = MACHINES[machine][0]
    seen = observed(imported(machine, files))
    blind = imported(machine, files, blind=True)
    assert "group_members" not in blind
    assert predicted(blind) == sorted(seen + firmware)


def test_the_b550_dump_gives_types_acs_registers_and_drivers() -> None:
    """What lspci -vvnn says becomes the language's words: the Express type as the bridge
    kind or `pcie`, ACSCap/ACSCtl as `acs cap ... ctl ...`, "Kernel driver in use" as
    `bound`."""
    text = imported("asus-tuf-gaming-b550m-plus-linuxhw-E75373A634", ["lspci-vvnn.txt"])
    assert (
        'bridge rp0: root-port "pci1022,1483" {\n    pci 0000:00:01.2\n'
        "    acs cap sv tb rr cr uf dt ctl sv rr cr uf\n    bound pcieport\n}"
    ) in text
    assert 'bridge usp0: upstream-port "pci1022,43e9"' in text
    assert "    pcie legacy-endpoint\n    bound xhci_hcd\n" in text
