"""`iommu-rules snapshot --root`: a copied /sys tree becomes a rule file that reproduces it."""

from __future__ import annotations

import os
from pathlib import Path

from conftest import run_cli

DEVICES = {
    # bdf: (class, vendor, device, parent bdf or None)
    "0000:00:00.0": ("0x060000", "0x8086", "0x3e0f", None),
    "0000:00:01.0": ("0x060400", "0x8086", "0x1901", None),
    "0000:01:00.0": ("0x030000", "0x10de", "0x1b81", "0000:00:01.0"),
    "0000:01:00.1": ("0x040300", "0x10de", "0x10f0", "0000:00:01.0"),
    "0000:00:14.0": ("0x0c0330", "0x8086", "0xa36d", None),
    "0000:00:14.2": ("0x118000", "0x8086", "0xa379", None),
}
GROUPS = {
    0: ["0000:00:00.0"],
    1: ["0000:00:01.0", "0000:01:00.0", "0000:01:00.1"],
    2: ["0000:00:14.0", "0000:00:14.2"],
}


def fake_sysfs(root: Path) -> Path:
    for bdf, (klass, vid, did, parent) in DEVICES.items():
        parts = ["pci0000:00"] + ([parent] if parent else []) + [bdf]
        real = root / "sys/devices" / Path(*parts)
        real.mkdir(parents=True, exist_ok=True)
        (real / "class").write_text(klass + "\n")
        (real / "vendor").write_text(vid + "\n")
        (real / "device").write_text(did + "\n")
        link = root / "sys/bus/pci/devices" / bdf
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(os.path.relpath(real, link.parent))
    for gid, members in GROUPS.items():
        gdir = root / "sys/kernel/iommu_groups" / str(gid)
        (gdir / "devices").mkdir(parents=True)
        (gdir / "type").write_text("DMA-FQ\n")
        for bdf in members:
            (gdir / "devices" / bdf).symlink_to(root / "sys/bus/pci/devices" / bdf)
    (root / "sys/class/iommu/dmar0").mkdir(parents=True)
    (root / "proc/sys/kernel").mkdir(parents=True)
    (root / "proc/sys/kernel/osrelease").write_text("6.8.0-45-generic\n")
    (root / "proc/sys/kernel/arch").write_text("x86_64\n")
    (root / "proc/cmdline").write_text("BOOT_IMAGE=/vmlinuz root=/dev/nvme0n1p2 quiet\n")
    (root / "proc/meminfo").write_text("MemTotal:       16303844 kB\n")
    return root


def test_snapshot_round_trip(tmp_path: Path) -> None:
    root = fake_sysfs(tmp_path / "machine")
    out = tmp_path / "machine.iommu"
    proc = run_cli("snapshot", "--root", str(root), "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    text = out.read_text()
    assert "kernel 6.8" in text and "iommu dmar0: intel-vtd" in text
    assert 'bridge rp_00_01_0: root-port "pci8086,1901" { pci 0000:00:01.0 }' in text
    assert "upstream rp_00_01_0" in text
    # The model reproduces the machine's groups and default domains.
    test = run_cli("test", str(out))
    assert test.returncode == 0, test.stdout + test.stderr
    assert "0 failed" in test.stdout and "group_members" in test.stdout


def test_snapshot_refuses_to_overwrite_and_reports_missing_sysfs(tmp_path: Path) -> None:
    root = fake_sysfs(tmp_path / "machine")
    out = tmp_path / "existing.iommu"
    out.write_text("# mine\n")
    proc = run_cli("snapshot", "--root", str(root), "-o", str(out))
    assert proc.returncode == 2 and "--force" in proc.stderr and out.read_text() == "# mine\n"
    assert run_cli("snapshot", "--root", str(root), "-o", str(out), "--force").returncode == 0
    proc = run_cli("snapshot", "--root", str(tmp_path / "nothing"))
    assert proc.returncode == 3 and "error[E802]" in proc.stderr


def test_snapshot_names_the_riscv_iommu_by_its_sysfs_entry(tmp_path: Path) -> None:
    """riscv_iommu_init registers "riscv-iommu@<device>" in /sys/class/iommu."""
    root = fake_sysfs(tmp_path / "machine")
    (root / "sys/class/iommu/dmar0").rmdir()
    (root / "sys/class/iommu/riscv-iommu@0000:00:01.0").mkdir()
    (root / "proc/sys/kernel/arch").write_text("riscv64\n")
    (root / "proc/sys/kernel/osrelease").write_text("6.18.0\n")
    for gtype in (root / "sys/kernel/iommu_groups").glob("*/type"):
        gtype.write_text("identity\n")  # RISC-V has no IOMMU_DMA
    out = tmp_path / "machine.iommu"
    proc = run_cli("snapshot", "--root", str(root), "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    text = out.read_text()
    assert "iommu riscv_iommu_0000_00_01_0: riscv-iommu" in text
    assert 'include "std/iommu/riscv-iommu"' in text and "arch riscv64" in text
    # sysfs shows no iommu-map: RID = device ID is assumed, and said (W804)
    assert "map rid 0x0 sid 0x0 length 0x10000" in text and "W804" in proc.stderr
    # the model reproduces the machine's groups and identity default domains
    test = run_cli("test", str(out))
    assert test.returncode == 0, test.stdout + test.stderr
    assert "0 failed" in test.stdout and "group_members" in test.stdout


def test_snapshot_of_an_s390_machine_has_one_zpci_iommu(tmp_path: Path) -> None:
    """Every zPCI function registers "s390-iommu.<fid>"; one s390-iommu claims them all."""
    root = fake_sysfs(tmp_path / "machine")
    (root / "sys/class/iommu/dmar0").rmdir()
    for fid in ("00000011", "00000012"):
        (root / f"sys/class/iommu/s390-iommu.{fid}").mkdir()
    (root / "proc/sys/kernel/arch").write_text("s390x\n")
    out = tmp_path / "machine.iommu"
    proc = run_cli("snapshot", "--root", str(root), "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    text = out.read_text()
    assert text.count(": s390-iommu") == 1 and "iommu zpci: s390-iommu" in text
    assert "arch s390" in text
    assert 'include "std/iommu/s390-iommu"' in text


def test_snapshot_of_a_power_machine_names_each_function_s_pe(tmp_path: Path) -> None:
    """A Talos II on 6.6: groups are PEs, named "domain%d-pe%lx" (iommu_register_group);
    their type reads "unknown" (no default domain before 6.7). The snapshot declares one
    spapr-tce per PHB and puts every function in its PE, which reproduces the groups."""
    root = tmp_path / "talos"
    devices = {
        "0003:00:00.0": ("0x060400", "0x1014", "0x04c1", None),
        "0003:01:00.0": ("0x0c0330", "0x104c", "0x8241", "0003:00:00.0"),
        "0030:00:00.0": ("0x060400", "0x1014", "0x04c1", None),
        "0030:01:00.0": ("0x020000", "0x14e4", "0x1657", "0030:00:00.0"),
        "0030:01:00.1": ("0x020000", "0x14e4", "0x1657", "0030:00:00.0"),
    }
    for bdf, (klass, vid, did, parent) in devices.items():
        parts = [f"pci{bdf[:4]}:00"] + ([parent] if parent else []) + [bdf]
        real = root / "sys/devices" / Path(*parts)
        real.mkdir(parents=True, exist_ok=True)
        for attr, value in (("class", klass), ("vendor", vid), ("device", did)):
            (real / attr).write_text(value + "\n")
        link = root / "sys/bus/pci/devices" / bdf
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(os.path.relpath(real, link.parent))
    groups = {
        0: ("domain3-pe1fd", ["0003:01:00.0"]),
        1: ("domain48-pe0", ["0030:01:00.0", "0030:01:00.1"]),
    }
    for gid, (name, members) in groups.items():
        gdir = root / "sys/kernel/iommu_groups" / str(gid)
        (gdir / "devices").mkdir(parents=True)
        (gdir / "type").write_text("unknown\n")
        (gdir / "name").write_text(name + "\n")
        for bdf in members:
            (gdir / "devices" / bdf).symlink_to(root / "sys/bus/pci/devices" / bdf)
    for phb in ("iommu-phb0003", "iommu-phb0030"):
        (root / "sys/class/iommu" / phb).mkdir(parents=True)
    (root / "proc/sys/kernel").mkdir(parents=True)
    (root / "proc/sys/kernel/osrelease").write_text("6.6.0-rc7-P9\n")
    (root / "proc/sys/kernel/arch").write_text("ppc64le\n")
    out = tmp_path / "talos.iommu"
    proc = run_cli("snapshot", "--root", str(root), "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "W804" not in proc.stderr and "W802" not in proc.stderr
    text = out.read_text()
    assert "arch powerpc" in text and 'include "std/iommu/spapr-tce"' in text
    assert "iommu phb0003: spapr-tce" in text and "iommu phb0030: spapr-tce" in text
    assert "iommu phb0030 sid 0x0" in text and "iommu phb0003 sid 0x1fd" in text
    # two host bridges reuse bus 00: names carry the PCI domain
    assert "bridge rp_0003_00_00_0:" in text and "bridge rp_0030_00_00_0:" in text
    test = run_cli("test", str(out))
    assert test.returncode == 0, test.stdout + test.stderr
    assert "2 passed, 0 failed" in test.stdout


def test_snapshot_of_a_qoriq_machine_finds_its_pamu(tmp_path: Path) -> None:
    """An e500mc (uname -m "ppc") with the PAMU's "iommu0" (pamu_domain_init): a fsl-pamu,
    which claims the PCI functions itself, so no assumed iommu-map (W804)."""
    root = fake_sysfs(tmp_path / "p4080")
    (root / "sys/class/iommu/dmar0").rmdir()
    (root / "sys/class/iommu/iommu0").mkdir()
    (root / "proc/sys/kernel/arch").write_text("ppc\n")
    out = tmp_path / "p4080.iommu"
    proc = run_cli("snapshot", "--root", str(root), "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "W804" not in proc.stderr
    text = out.read_text()
    assert "arch powerpc" in text and "iommu pamu: fsl-pamu" in text
    assert 'include "std/iommu/fsl-pamu"' in text


def config_space(
    *, bridge: bool = False, express: int | None = None, acs: int | None = None, mf: bool = False
) -> bytes:
    """4 KiB of PCI config space: header type (multifunction bit), a PCI Express capability
    of this port type at 0x40, and an ACS extended capability at 0x100 (cap = ctl = acs)."""
    data = bytearray(4096)
    data[0x0E] = (0x80 if mf else 0) | (1 if bridge else 0)
    if express is not None:
        data[0x06] = 0x10  # a capability list
        data[0x34] = 0x40
        data[0x40:0x44] = bytes([0x10, 0x00, 0x02 | (express << 4) & 0xF0, 0x00])
    if acs is not None:
        data[0x100:0x104] = (0x000D | (1 << 16)).to_bytes(4, "little")
        data[0x104:0x108] = acs.to_bytes(2, "little") + acs.to_bytes(2, "little")
    return bytes(data)


PC_DEVICES = {
    # bdf: (class, vendor, device, parent, config, driver)
    "0000:00:00.0": ("0x060000", "0x8086", "0x3ec2", None, config_space(), None),
    "0000:00:1c.0": (
        "0x060400",
        "0x8086",
        "0xa290",
        None,
        config_space(bridge=True, express=4, acs=0x1D, mf=True),
        "pcieport",
    ),
    "0000:00:1c.4": (
        "0x060400",
        "0x8086",
        "0xa33c",
        None,
        config_space(bridge=True, express=4, mf=True),
        "pcieport",
    ),
    "0000:02:00.0": (
        "0x020000",
        "0x8086",
        "0x1539",
        "0000:00:1c.0",
        config_space(express=0),
        "igb",
    ),
    "0000:03:00.0": ("0x028000", "0x8086", "0x24fb", "0000:00:1c.4", config_space(express=0), None),
    "0000:00:1f.0": ("0x060100", "0x8086", "0xa2c9", None, config_space(mf=True), None),
    "0000:00:1f.6": ("0x020000", "0x8086", "0x15b8", None, config_space(mf=True), "e1000e"),
}
PC_GROUPS = {  # as the kernel makes them: 00:1c.4 (Cannon Lake, no quirk row) has no ACS
    # capability, 00:1c.0 (Union Point) has one
    0: ["0000:00:00.0"],
    1: ["0000:00:1c.0"],
    2: ["0000:00:1c.4", "0000:03:00.0"],
    3: ["0000:02:00.0"],
    4: ["0000:00:1f.0"],
    5: ["0000:00:1f.6"],  # the I219: pci_quirk_mf_endpoint_acs
}


def pc_sysfs(root: Path, iommu_on: bool = True) -> Path:
    for bdf, (klass, vid, did, parent, config, driver) in PC_DEVICES.items():
        parts = ["pci0000:00"] + ([parent] if parent else []) + [bdf]
        real = root / "sys/devices" / Path(*parts)
        real.mkdir(parents=True, exist_ok=True)
        (real / "class").write_text(klass + "\n")
        (real / "vendor").write_text(vid + "\n")
        (real / "device").write_text(did + "\n")
        (real / "config").write_bytes(config)
        if driver:
            drv = root / "sys/bus/pci/drivers" / driver
            drv.mkdir(parents=True, exist_ok=True)
            (real / "driver").symlink_to(os.path.relpath(drv, real))
        link = root / "sys/bus/pci/devices" / bdf
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(os.path.relpath(real, link.parent))
    if iommu_on:
        for gid, members in PC_GROUPS.items():
            gdir = root / "sys/kernel/iommu_groups" / str(gid)
            (gdir / "devices").mkdir(parents=True)
            (gdir / "type").write_text("DMA-FQ\n")
            for bdf in members:
                (gdir / "devices" / bdf).symlink_to(root / "sys/bus/pci/devices" / bdf)
        (root / "sys/class/iommu/dmar0").mkdir(parents=True)
    (root / "proc/sys/kernel").mkdir(parents=True)
    (root / "proc/sys/kernel/osrelease").write_text("6.8.0-49-generic\n")
    (root / "proc/sys/kernel/arch").write_text("x86_64\n")
    (root / "proc/cmdline").write_text("BOOT_IMAGE=/vmlinuz intel_iommu=on\n")
    return root


def test_snapshot_reads_config_space_and_reproduces_its_groups(tmp_path: Path) -> None:
    """Each function's config space gives the kernel's inputs: the header's multifunction
    bit, the Express type (pci_pcie_type) and the ACS registers; the driver link gives
    `bound`. With them the machine's own groups hold, the quirk rows doing their part."""
    out = tmp_path / "pc.iommu"
    proc = run_cli("snapshot", "--root", str(pc_sysfs(tmp_path / "pc")), "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    text = out.read_text()
    assert 'bridge rp_00_1c_0: root-port "pci8086,a290" {' in text
    assert "acs cap sv rr cr uf ctl sv rr cr uf" in text and "bound pcieport" in text
    assert "pcie endpoint" in text and "bound igb" in text
    assert "pcie none" in text  # 00:1f.x: a capability list without Express: conventional
    test = run_cli("test", str(out))
    assert test.returncode == 0, test.stdout + test.stderr
    assert "0 failed" in test.stdout


def test_snapshot_trusts_only_function_0_s_multifunction_bit(tmp_path: Path) -> None:
    """pci_scan_slot (drivers/pci/probe.c) sets dev->multifunction for every function > 0:
    00:1f.6, whose own header lacks the bit, is still multifunction to the kernel."""
    root = pc_sysfs(tmp_path / "pc")
    (root / "sys/bus/pci/devices/0000:00:1f.6/config").write_bytes(config_space(mf=False))
    out = tmp_path / "pc.iommu"
    assert run_cli("snapshot", "--root", str(root), "-o", str(out)).returncode == 0
    text = out.read_text()
    assert "multifunction no" not in text
    test = run_cli("test", str(out))
    assert test.returncode == 0 and "0 failed" in test.stdout, test.stdout + test.stderr


def test_snapshot_of_an_acs_override_kernel_includes_the_pack(tmp_path: Path) -> None:
    """pcie_acs_override= on /proc/cmdline means the out-of-tree patch is in this kernel:
    the snapshot includes std/pci/acs-override, so 00:1c.4 (no ACS capability) counts as
    isolating under `downstream` and the card behind it gets the group the machine shows."""
    root = pc_sysfs(tmp_path / "pc")
    (root / "proc/cmdline").write_text(
        "BOOT_IMAGE=/vmlinuz intel_iommu=on pcie_acs_override=downstream\n"
    )
    (root / "sys/kernel/iommu_groups/2/devices/0000:03:00.0").rename(
        (root / "sys/kernel/iommu_groups/6/devices").mkdir(parents=True)
        or root / "sys/kernel/iommu_groups/6/devices/0000:03:00.0"
    )
    (root / "sys/kernel/iommu_groups/6/type").write_text("DMA-FQ\n")
    out = tmp_path / "pc.iommu"
    proc = run_cli("snapshot", "--root", str(root), "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    text = out.read_text()
    assert 'include "std/pci/acs-override"' in text
    test = run_cli("test", str(out))
    assert test.returncode == 0 and "0 failed" in test.stdout, test.stdout + test.stderr
    # Without the pack the option is ignored (W221) and the split does not happen.
    out.write_text(text.replace('include "std/pci/acs-override"', ""))
    test = run_cli("test", str(out))
    assert test.returncode == 1 and "2 failed" in test.stdout
    assert "warning[W221]" in run_cli("check", str(out)).stderr


def test_snapshot_with_the_iommu_off_still_writes_the_board(tmp_path: Path) -> None:
    """No /sys/class/iommu and no groups: the host bridge's vendor gives the IOMMU (W806),
    and the board predicts the groups the machine makes with it on."""
    out = tmp_path / "off.iommu"
    proc = run_cli(
        "snapshot", "--root", str(pc_sysfs(tmp_path / "pc", iommu_on=False)), "-o", str(out)
    )
    assert proc.returncode == 0 and "warning[W806]" in proc.stderr
    text = out.read_text()
    assert "iommu dmar0: intel-vtd" in text and "group_members" not in text
    from iommu_rules import Board

    board = Board.load(out)
    got = sorted(
        sorted(str(board.model.devices[m].pci) for m in g.members) for g in board.resolution.groups
    )
    assert got == sorted(sorted(m) for m in PC_GROUPS.values())
