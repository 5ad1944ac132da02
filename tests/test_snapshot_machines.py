"""`snapshot` of real PCs: /sys trees built from two machines' complete `lspci -vvnn` dumps
(run as root by hw-probe, so every capability is shown; tests/fixtures/pc/*/source.md
cites each) and their kernel logs. The snapshot must reproduce the groups each machine's
own kernel made (`test` passes on the file it writes).

What the tree holds is what the kernel exposes: /sys/bus/pci/devices/*/{class,vendor,
device,config,driver}, the bridge hierarchy as nested /sys/devices directories,
/sys/kernel/iommu_groups/*/devices and /proc/{cmdline,sys/kernel/osrelease}. The config
space carries what lspci decoded from it: the header type (bridge layout; function 0's
multifunction bit, which lspci does not print, set where the slot has other functions,
since next_fn in drivers/pci/probe.c scans them only then), the capability list bit, a PCI
Express capability with the port type lspci printed and an ACS extended capability with
ACSCap/ACSCtl.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from iommu_rules import Board
from iommu_rules.importers.sysfs import snapshot

PC = Path(__file__).parent / "fixtures" / "pc"
HEADER = re.compile(r"^([0-9a-f]{2}):([0-9a-f]{2})\.([0-7]) .*?\[([0-9a-f]{4})\]: ")
IDS = re.compile(r"\[([0-9a-f]{4}):([0-9a-f]{4})\]")
# lspci's names of the Express capability's port types (ls-caps.c cap_express)
EXPRESS = {
    "Endpoint": 0,
    "Legacy Endpoint": 1,
    "Root Port": 4,
    "Upstream Port": 5,
    "Downstream Port": 6,
    "PCI-Express to PCI/PCI-X Bridge": 7,
    "PCI/PCI-X to PCI-Express Bridge": 8,
    "Root Complex Integrated Endpoint": 9,
    "Root Complex Event Collector": 10,
}
ACS_NAMES = ("SrcValid", "TransBlk", "ReqRedir", "CmpltRedir", "UpstreamFwd", "EgressCtrl")


@dataclass
class Function:
    bdf: str
    klass: str
    vendor: str
    device: str
    capabilities: bool = False
    express: int | None = None
    acs: tuple[int, int] | None = None
    secondary: int | None = None
    driver: str | None = None
    group: str | None = None
    slot_functions: int = 1
    children: list[str] = field(default_factory=list)


def _acs_bits(line: str) -> int:
    return sum(1 << i for i, name in enumerate(ACS_NAMES) if f"{name}+" in line) | (
        (1 << 6) if "DirectTrans+" in line else 0
    )


def parse_lspci(text: str) -> dict[str, Function]:
    functions: dict[str, Function] = {}
    cur: Function | None = None
    acs_cap = 0
    for line in text.splitlines():
        head = HEADER.match(line)
        if head:
            vendor, device = IDS.findall(line)[-1]
            prog = re.search(r"\(prog-if ([0-9a-f]{2})", line)
            bdf = f"0000:{head[1]}:{head[2]}.{head[3]}"
            cur = functions[bdf] = Function(
                bdf, f"0x{head[4]}{prog[1] if prog else '00'}", vendor, device
            )
            continue
        if cur is None:
            continue
        body = line.strip()
        if body.startswith("Status:") and "Cap+" in body:
            cur.capabilities = True
        elif express := re.match(r"Capabilities: \[\w+\] Express \(v\d\) ([^,(]+?)(?: \(|,)", body):
            cur.express = EXPRESS[express[1]]
        elif body.startswith("ACSCap:"):
            acs_cap = _acs_bits(body)
        elif body.startswith("ACSCtl:"):
            cur.acs = (acs_cap, _acs_bits(body))
        elif bus := re.match(r"Bus: primary=\w+, secondary=(\w+)", body):
            cur.secondary = int(bus[1], 16)
        elif body.startswith("Kernel driver in use:"):
            cur.driver = body.split(":", 1)[1].strip()
        elif body.startswith("IOMMU group:"):
            cur.group = body.split(":", 1)[1].strip()
    for fn in functions.values():
        fn.slot_functions = sum(1 for other in functions if other[:-2] == fn.bdf[:-2])
    return functions


def config_space(fn: Function) -> bytes:
    """4 KiB of config space holding what lspci decoded from it."""
    data = bytearray(4096)
    data[0:4] = bytes.fromhex(fn.vendor)[::-1] + bytes.fromhex(fn.device)[::-1]
    bridge = fn.klass.startswith("0x0604")
    data[0x0E] = (0x80 if fn.slot_functions > 1 and fn.bdf.endswith(".0") else 0) | bridge
    if fn.capabilities:
        data[0x06] = 0x10
        data[0x34] = 0x40
        if fn.express is not None:
            data[0x40:0x44] = bytes([0x10, 0x00, 0x02 | (fn.express << 4), 0x00])
    if fn.acs is not None:
        data[0x100:0x104] = (0x000D | (1 << 16)).to_bytes(4, "little")
        data[0x104:0x108] = fn.acs[0].to_bytes(2, "little") + fn.acs[1].to_bytes(2, "little")
    return bytes(data)


def build_sysfs(machine: str, root: Path, group_type: str) -> dict[str, Function]:
    folder = PC / machine
    functions = parse_lspci((folder / "lspci-vvnn.txt").read_text(encoding="utf-8"))
    behind = {fn.secondary: bdf for bdf, fn in functions.items() if fn.secondary is not None}

    def path(bdf: str) -> Path:
        parent = behind.get(int(bdf[5:7], 16))
        return (path(parent) if parent else root / "sys/devices/pci0000:00") / bdf

    for bdf, fn in functions.items():
        real = path(bdf)
        real.mkdir(parents=True, exist_ok=True)
        (real / "class").write_text(fn.klass + "\n")
        (real / "vendor").write_text(f"0x{fn.vendor}\n")
        (real / "device").write_text(f"0x{fn.device}\n")
        (real / "config").write_bytes(config_space(fn))
        if fn.driver:
            drv = root / "sys/bus/pci/drivers" / fn.driver
            drv.mkdir(parents=True, exist_ok=True)
            (real / "driver").symlink_to(os.path.relpath(drv, real))
        link = root / "sys/bus/pci/devices" / bdf
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(os.path.relpath(real, link.parent))
        if fn.group is not None:
            gdir = root / "sys/kernel/iommu_groups" / fn.group
            (gdir / "devices").mkdir(parents=True, exist_ok=True)
            (gdir / "type").write_text(group_type + "\n")
            (gdir / "devices" / bdf).symlink_to(link)
    log = (folder / "dmesg-excerpt.txt").read_text(encoding="utf-8")
    release = re.search(r"Linux version (\S+)", log)
    cmdline = re.search(r"Command line: (.*)", log)
    assert release and cmdline
    (root / "proc/sys/kernel").mkdir(parents=True)
    (root / "proc/sys/kernel/osrelease").write_text(release[1] + "\n")
    (root / "proc/sys/kernel/arch").write_text("x86_64\n")
    (root / "proc/cmdline").write_text(cmdline[1] + "\n")
    iommu = "ivhd0" if "AMD-Vi" in log else "dmar0"
    (root / "sys/class/iommu" / iommu).mkdir(parents=True)
    return functions


@pytest.mark.parametrize(
    ("machine", "group_type", "groups"),
    [
        # Zen 2 on B550, Fedora 5.14: "AMD-Vi: Lazy IO/TLB flushing enabled"; before 5.15
        # (IOMMU_DOMAIN_DMA_FQ) a lazy DMA domain still reads "DMA"
        ("asus-tuf-gaming-b550m-plus-linuxhw-E75373A634", "DMA", 20),
        # Cannon Lake on an Arch 6.1 kernel with the ACS override patch, booted with
        # intel_iommu=on iommu=pt pcie_acs_override=downstream
        ("asus-rog-strix-z390e-linuxhw-062BA6C2B9", "identity", 19),
    ],
)
def test_snapshot_of_a_real_machine_reproduces_its_groups(
    tmp_path: Path, machine: str, group_type: str, groups: int
) -> None:
    functions = build_sysfs(machine, tmp_path / "sys-root", group_type)
    assert len({fn.group for fn in functions.values() if fn.group}) == groups
    snap = snapshot(str(tmp_path / "sys-root"))
    assert not [d for d in snap.diagnostics if d.is_error], snap.diagnostics
    assert not [d for d in snap.diagnostics if d.code == "W805"]  # every config was read
    board = Board.from_text(snap.text, "machine.iommu")
    assert board.ok, board.errors
    assert snap.text.count(".group_members == [") == groups
    for fn in functions.values():  # the kernel left these out (firmware scope): said so
        if fn.group is None and not fn.klass.startswith("0x0806"):
            assert f'rule "{fn.bdf} is in no IOMMU group on this machine"' in snap.text
    failed = [str(e.query.subject.text) for e, ok, *_ in board.resolution.expectations if not ok]
    assert not failed, failed
    # The groups come from the engine, not from the expectations: the same board without
    # them resolves to the same partition.
    blind = re.sub(r"^expect .*\n(?:\s+.*\n)*", "", snap.text, flags=re.M)
    assert "expect" not in blind
    bare = Board.from_text(blind, "machine.iommu")
    observed: dict[str, list[str]] = {}
    for fn in functions.values():
        if fn.group is not None:
            observed.setdefault(fn.group, []).append(fn.bdf)
    address = {d.name: str(d.pci) for d in bare.model.devices.values() if d.pci}
    got = sorted(sorted(address[m] for m in g.members) for g in bare.resolution.groups)
    assert got == sorted(sorted(members) for members in observed.values())
