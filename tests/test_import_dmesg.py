# ruff: noqa: E501  (the fixtures are posted kernel logs, kept line for line)
"""`import listing` on kernel logs: dmesg, dmesg -T, journalctl -k, alone or mixed.

The fixtures are logs people posted in bug reports and passthrough threads.  A log is
mostly about other things: those lines must pass without a word, while the IOMMU
lines (groups, the default domain type, DMAR / AMD-Vi / arm-smmu, the kernel
version and command line) become facts and expectations that `iommu-rules test`
confirms.  Lines are kept as posted; where a post is trimmed the comment says so.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from iommu_rules import Board
from iommu_rules.diagnostics import Diagnostic, SourceMap, render_all
from iommu_rules.fmt import format_text
from iommu_rules.importers.dmesg import smmu_name
from iommu_rules.importers.listing import import_listing, import_listings

# An Intel desktop's boot log around the IOMMU probe (dmesg with timestamps): two DMAR
# lines, the groups, and unrelated lines before and after. Posted by atmgnd in "Bad
# address?", https://github.com/intel/gvt-linux/issues/60 (a later comment; its date is
# not in the stored copy). Cut before a line the stored copy breaks off.
GVT = """\
[    0.179993] PCI: CLS 0 bytes, default 64
[    0.180015] DMAR: No ATSR found
[    0.180029] DMAR: dmar1: Using Queued invalidation
[    0.180067] pci 0000:00:00.0: Adding to iommu group 0
[    0.180073] pci 0000:00:08.0: Adding to iommu group 1
[    0.180081] pci 0000:00:14.0: Adding to iommu group 2
[    0.180086] pci 0000:00:14.2: Adding to iommu group 2
[    0.180092] pci 0000:00:16.0: Adding to iommu group 3
[    0.180097] pci 0000:00:17.0: Adding to iommu group 4
[    0.180105] pci 0000:00:1c.0: Adding to iommu group 5
[    0.180115] pci 0000:00:1f.0: Adding to iommu group 6
[    0.180120] pci 0000:00:1f.2: Adding to iommu group 6
[    0.180125] pci 0000:00:1f.3: Adding to iommu group 6
[    0.180129] pci 0000:00:1f.4: Adding to iommu group 6
[    0.180138] pci 0000:01:00.0: Adding to iommu group 7
[    0.180140] DMAR: Intel(R) Virtualization Technology for Directed I/O
[    0.181156] RAPL PMU: API unit is 2^-32 Joules, 4 fixed counters, 655360 ms ovfl timer
[    0.181157] RAPL PMU: hw unit of domain pp0-core 2^-14 Joules
[    0.181157] RAPL PMU: hw unit of domain package 2^-14 Joules
[    0.181158] RAPL PMU: hw unit of domain dram 2^-14 Joules
[    0.181158] RAPL PMU: hw unit of domain pp1-gpu 2^-14 Joules
[    0.181420] workingset: timestamp_bits=62 max_order=21 bucket_order=0
[    0.182141] fuse: init (API version 7.31)
"""
GVT_GROUPS = {
    0: ["00:00.0"],
    1: ["00:08.0"],
    2: ["00:14.0", "00:14.2"],
    3: ["00:16.0"],
    4: ["00:17.0"],
    5: ["00:1c.0"],
    6: ["00:1f.0", "00:1f.2", "00:1f.3", "00:1f.4"],
    7: ["01:00.0"],
}

# A PC Engines apu2 (AMD GX) on a 4.x kernel: `dmesg | grep -i iommu` with its prompt,
# the AMD-Vi line and the old "iommu: Adding device ... to group N" form; the i210 ports'
# root ports all share group 1. Posted by jluebbe in "IOMMU group 1 contains all i210s and
# miniPCIe slots", https://github.com/pcengines/apu2-documentation/issues/236 (2018-09-15);
# cut before a line the stored copy breaks off.
APU2 = """\
root@apu:~# dmesg | grep -i iommu
[    2.187590] AMD-Vi: IOMMU performance counters supported
[    2.188848] iommu: Adding device 0000:00:00.0 to group 0
[    2.189232] iommu: Adding device 0000:00:02.0 to group 1
[    2.189323] iommu: Adding device 0000:00:02.2 to group 1
[    2.189380] iommu: Adding device 0000:00:02.3 to group 1
[    2.189423] iommu: Adding device 0000:00:02.4 to group 1
[    2.189466] iommu: Adding device 0000:00:02.5 to group 1
[    2.189705] iommu: Adding device 0000:00:08.0 to group 2
[    2.190015] iommu: Adding device 0000:00:10.0 to group 3
[    2.190226] iommu: Adding device 0000:00:11.0 to group 4
[    2.190454] iommu: Adding device 0000:00:13.0 to group 5
[    2.190818] iommu: Adding device 0000:00:14.0 to group 6
[    2.190890] iommu: Adding device 0000:00:14.3 to group 6
[    2.190933] iommu: Adding device 0000:00:14.7 to group 6
"""

# A Surface Book 3 on 6.12: the first lines of `dmesg` (prompt, version, command line,
# with the trailing blanks of the CPU list) and, from further down the same post, the
# groups. Posted by der-siebte-schatten in "[SB3] Wi-Fi not starting on kernel
# debian-6.12.3-2", https://github.com/linux-surface/linux-surface/issues/1636
# (2024-12-15). The lines between the two parts (firmware maps, ACPI) are left out.
SB3 = (
    "\n".join(
        [
            "~$ dmesg",
            "[    0.000000] Linux version 6.12.3-surface-2 (root@824be85df4e0) (gcc (Ubuntu 9.4.0-1ubuntu1~20.04.2) 9.4.0, GNU ld (GNU Binutils for Ubuntu) 2.34) #2 SMP PREEMPT_DYNAMIC Thu Dec 12 00:45:20 UTC 2024",
            "[    0.000000] Command line: BOOT_IMAGE=/vmlinuz-6.12.3-surface-2 root=/dev/mapper/lvmlocal-root ro cryptdevice=/dev/nvme0n1p6:lvmlocal root=/dev/mapper/lvmlocal-root resume=/dev/mapper/lvmlocal-swap quiet splash",
            "[    0.000000] KERNEL supported cpus:",
            "[    0.000000]   Intel GenuineIntel",
            "[    0.000000]   AMD AuthenticAMD",
            "[    0.000000]   Hygon HygonGenuine",
            "[    0.000000]   Centaur CentaurHauls",
            "[    0.000000]   zhaoxin   Shanghai  ",
            "[    0.522893] pci 0000:00:05.0: Adding to iommu group 0",
            "[    0.523049] pci 0000:00:02.0: Adding to iommu group 1",
            "[    0.523701] pci 0000:00:00.0: Adding to iommu group 2",
            "[    0.523725] pci 0000:00:0d.0: Adding to iommu group 3",
            "[    0.523746] pci 0000:00:12.0: Adding to iommu group 4",
            "[    0.523773] pci 0000:00:14.0: Adding to iommu group 5",
            "[    0.523787] pci 0000:00:14.2: Adding to iommu group 5",
            "[    0.523804] pci 0000:00:14.3: Adding to iommu group 6",
            "[    0.523842] pci 0000:00:15.0: Adding to iommu group 7",
            "[    0.523857] pci 0000:00:15.1: Adding to iommu group 7",
            "[    0.523872] pci 0000:00:15.2: Adding to iommu group 7",
            "[    0.523887] pci 0000:00:15.3: Adding to iommu group 7",
            "[    0.523914] pci 0000:00:16.0: Adding to iommu group 8",
            "[    0.523930] pci 0000:00:16.4: Adding to iommu group 8",
            "[    0.523951] pci 0000:00:19.0: Adding to iommu group 9",
            "[    0.523970] pci 0000:00:1d.0: Adding to iommu group 10",
            "[    0.523989] pci 0000:00:1d.4: Adding to iommu group 11",
            "[    0.524010] pci 0000:00:1e.0: Adding to iommu group 12",
            "[    0.524042] pci 0000:00:1f.0: Adding to iommu group 13",
            "[    0.524059] pci 0000:00:1f.3: Adding to iommu group 13",
            "[    0.524076] pci 0000:00:1f.5: Adding to iommu group 13",
            "[    0.524095] pci 0000:01:00.0: Adding to iommu group 14",
            "[    0.524113] pci 0000:02:00.0: Adding to iommu group 15",
        ]
    )
    + "\n"
)

# A Surface Pro 9 on 6.x: PCI enumeration lines (vendor/device, header type and class,
# bridge bus ranges) and, later in the same post, the DMAR lines and the first groups.
# Posted by dev-nis in "[SP9] Wi-Fi instantly switches off when trying to connect to
# anything", https://github.com/linux-surface/linux-surface/issues/1503 (a later comment;
# its date is not in the stored copy). The lines between the two parts are left out, and
# the groups are cut where the stored copy breaks off.
SP9 = """\
[    0.533030] pci 0000:00:06.0: PME# supported from D0 D3hot D3cold
[    0.533030] pci 0000:00:07.0: [8086:462f] type 01 class 0x060400 PCIe Root Port
[    0.533030] pci 0000:00:07.0: PCI bridge to [bus 03-7a]
[    0.533030] pci 0000:00:07.0:   bridge window [mem 0x58000000-0x641fffff]
[    0.533030] pci 0000:00:07.0:   bridge window [mem 0x60e0000000-0x60fbffffff 64bit pref]
[    0.533030] pci 0000:00:07.0: PME# supported from D0 D3hot D3cold
[    0.534272] pci 0000:00:07.3: [8086:461f] type 01 class 0x060400 PCIe Root Port
[    0.534297] pci 0000:00:07.3: PCI bridge to [bus 7b-f2]
[    0.534302] pci 0000:00:07.3:   bridge window [mem 0x4a000000-0x561fffff]
[    0.534311] pci 0000:00:07.3:   bridge window [mem 0x6100000000-0x611bffffff 64bit pref]
[    0.534421] pci 0000:00:07.3: PME# supported from D0 D3hot D3cold
[    0.535222] pci 0000:00:08.0: [8086:464f] type 00 class 0x088000 conventional PCI endpoint
[    0.535234] pci 0000:00:08.0: BAR 0 [mem 0x6125184000-0x6125184fff 64bit]
[    0.535380] pci 0000:00:0a.0: [8086:467d] type 00 class 0x118000 PCIe Root Complex Integrated Endpoint
[    0.535390] pci 0000:00:0a.0: BAR 0 [mem 0x6125168000-0x612516ffff 64bit]
[    0.535414] pci 0000:00:0a.0: enabling Extended Tags
[    0.535552] pci 0000:00:0d.0: [8086:461e] type 00 class 0x0c0330 conventional PCI endpoint
[    1.190483] PCI: CLS 0 bytes, default 64
[    1.190501] DMAR: Intel-IOMMU force enabled due to platform opt in
[    1.190511] DMAR: No ATSR found
[    1.190512] DMAR: No SATC found
[    1.190513] DMAR: IOMMU feature fl1gp_support inconsistent
[    1.190514] DMAR: IOMMU feature pgsel_inv inconsistent
[    1.190515] DMAR: IOMMU feature nwfs inconsistent
[    1.190516] DMAR: IOMMU feature dit inconsistent
[    1.190517] DMAR: IOMMU feature sc_support inconsistent
[    1.190518] DMAR: IOMMU feature dev_iotlb_support inconsistent
[    1.190519] DMAR: dmar1: Using Queued invalidation
[    1.190523] DMAR: dmar0: Using Queued invalidation
[    1.190525] DMAR: dmar2: Using Queued invalidation
[    1.190586] Trying to unpack rootfs image as initramfs...
[    1.190718] pci 0000:00:05.0: Adding to iommu group 0
[    1.190767] pci 0000:00:02.0: Adding to iommu group 1
[    1.190808] pci 0000:00:00.0: Adding to iommu group 2
[    1.190821] pci 0000:00:06.0: Adding to iommu group 3
[    1.190834] pci 0000:00:07.0: Adding to iommu group 4
[    1.190847] pci 0000:00:07.3: Adding to iommu group 5
[    1.190856] pci 0000:00:08.0: Adding to iommu group 6
[    1.190866] pci 0000:00:0a.0: Adding to iommu group 7
[    1.190883] pci 0000:00:0d.0: Adding to iommu group 8
[    1.190893] pci 0000:00:0d.3: Adding to iommu group 8
"""

# The two iommu_subsys_init lines on a laptop (their trailing blank is the kernel's:
# "%s %s\n" with an empty second string), then unrelated lines. Posted by cj0nes in
# "intel_pstate driver noise", https://github.com/linux-surface/linux-surface/issues/808
# (date not in the stored copy); the first lines of the excerpt.
LAZY = (
    "\n".join(
        [
            "[    0.259883] iommu: Default domain type: Translated ",
            "[    0.259883] iommu: DMA domain TLB invalidation policy: lazy mode ",
            "[    0.259883] pci 0000:00:02.0: vgaarb: setting as boot VGA device",
            "[    0.259883] pci 0000:00:02.0: vgaarb: VGA device added: decodes=io+mem,owns=io+mem,locks=none",
            "[    0.259883] pci 0000:00:02.0: vgaarb: bridge control possible",
            "[    0.259883] vgaarb: loaded",
            "[    0.259883] SCSI subsystem initialized",
        ]
    )
    + "\n"
)

# A Tegra board on arm64: `dmesg | grep iommu` with the strict policy and the Arm SMMU's
# probe; the same comment shows CONFIG_IOMMU_DEFAULT_DMA_STRICT=y in its config. Posted
# by sajcho in "Strange behavior of startx (xorg-server) on aarch64 devices",
# https://github.com/grate-driver/xf86-video-opentegra/issues/69 (2022-06-05); cut before
# a line the stored copy breaks off. The tabs are the driver's ("\tstage 1 ...").
TEGRA_SMMU = (
    "\n".join(
        [
            "$ dmesg | grep iommu",
            "",
            "[    0.874422] iommu: Default domain type: Translated ",
            "[    0.874427] iommu: DMA domain TLB invalidation policy: strict mode ",
            "[    0.963708] arm-smmu 12000000.iommu: probing hardware configuration...",
            "[    0.963726] arm-smmu 12000000.iommu: SMMUv2 with:",
            "[    0.963740] arm-smmu 12000000.iommu: \tstage 1 translation",
            "[    0.963751] arm-smmu 12000000.iommu: \tstage 2 translation",
            "[    0.963762] arm-smmu 12000000.iommu: \tnested translation",
            "[    0.963774] arm-smmu 12000000.iommu: \tstream matching with 128 register groups",
            "[    0.963791] arm-smmu 12000000.iommu: \t64 context banks (0 stage-2 only)",
        ]
    )
    + "\n"
)

# Only the default domain line, without a timestamp: what BellaCoola quoted in "What does
# the recommended DMA protection parameter `iommu=pt` do?",
# https://github.com/fwupd/fwupd/issues/5304 (2022-12-08).
PASSTHROUGH = "iommu: Default domain type: Passthrough\n"

# journalctl -k lines ("Mon DD hh:mm:ss host kernel: ..."), Intel only. Posted by marc-hb
# in "[BUG] DMA Read IOMMU error NO_PASID fault reason 0x06",
# https://github.com/thesofproject/sof-test/issues/744 (2021-07-20); cut before a line
# the stored copy breaks off.
JOURNAL = """\
Jul 19 23:11:56 sh-tglh-0a70-hda-01 kernel: pci 0000:00:02.0: Video device with shadowed ROM at [mem 0x000c0000-0x000dffff]
Jul 19 23:11:56 sh-tglh-0a70-hda-01 kernel: pci 0000:01:00.1: D0 power state depends on 0000:01:00.0
Jul 19 23:11:56 sh-tglh-0a70-hda-01 kernel: PCI: CLS 0 bytes, default 64
Jul 19 23:11:56 sh-tglh-0a70-hda-01 kernel: DMAR: Intel-IOMMU force enabled due to platform opt in
Jul 19 23:11:56 sh-tglh-0a70-hda-01 kernel: DMAR: No ATSR found
Jul 19 23:11:56 sh-tglh-0a70-hda-01 kernel: DMAR: No SATC found
Jul 19 23:11:56 sh-tglh-0a70-hda-01 kernel: DMAR: IOMMU feature fl1gp_support inconsistent
Jul 19 23:11:56 sh-tglh-0a70-hda-01 kernel: DMAR: IOMMU feature pgsel_inv inconsistent
Jul 19 23:11:56 sh-tglh-0a70-hda-01 kernel: DMAR: IOMMU feature nwfs inconsistent
Jul 19 23:11:56 sh-tglh-0a70-hda-01 kernel: DMAR: IOMMU feature pds inconsistent
"""

# dmesg -T ("[Sat Oct 16 18:15:30 2021] ..."): an x86 server's groups. Posted by GvY85 in
# "Random crashes, hardware error?", https://github.com/MichaIng/DietPi/issues/4817 (the
# log is of 2021-10-16; the comment's date is not in the stored copy); the excerpt's lines.
DMESG_T = """\
[Sat Oct 16 18:15:30 2021] pci 0000:00:14.0: Adding to iommu group 5
[Sat Oct 16 18:15:30 2021] pci 0000:00:14.1: Adding to iommu group 5
[Sat Oct 16 18:15:30 2021] pci 0000:00:15.0: Adding to iommu group 6
[Sat Oct 16 18:15:30 2021] pci 0000:00:15.1: Adding to iommu group 6
[Sat Oct 16 18:15:30 2021] pci 0000:00:16.0: Adding to iommu group 7
[Sat Oct 16 18:15:30 2021] pci 0000:00:16.1: Adding to iommu group 7
[Sat Oct 16 18:15:30 2021] pci 0000:00:16.2: Adding to iommu group 7
[Sat Oct 16 18:15:30 2021] pci 0000:00:16.3: Adding to iommu group 7
[Sat Oct 16 18:15:30 2021] pci 0000:00:17.0: Adding to iommu group 8
[Sat Oct 16 18:15:30 2021] pci 0000:00:17.1: Adding to iommu group 8
[Sat Oct 16 18:15:30 2021] pci 0000:00:17.2: Adding to iommu group 8
[Sat Oct 16 18:15:30 2021] pci 0000:00:17.3: Adding to iommu group 8
[Sat Oct 16 18:15:30 2021] pci 0000:00:18.0: Adding to iommu group 9
[Sat Oct 16 18:15:30 2021] pci 0000:00:18.1: Adding to iommu group 9
[Sat Oct 16 18:15:30 2021] pci 0000:00:19.0: Adding to iommu group 10
[Sat Oct 16 18:15:30 2021] pci 0000:00:19.1: Adding to iommu group 10
[Sat Oct 16 18:15:30 2021] pci 0000:00:19.2: Adding to iommu group 10
[Sat Oct 16 18:15:30 2021] pci 0000:00:1a.0: Adding to iommu group 11
[Sat Oct 16 18:15:30 2021] pci 0000:00:1c.0: Adding to iommu group 12
[Sat Oct 16 18:15:30 2021] pci 0000:00:1e.0: Adding to iommu group 13
"""

# Two kernel command lines of a 2018 Arch kernel: x86's setup_arch line and start_kernel's,
# then unrelated i915 lines. Posted by memegauste in "Bad address?",
# https://github.com/intel/gvt-linux/issues/60 (2018-12-04), as posted.
CMDLINE = """\
[    0.000000] Command line: BOOT_IMAGE=/boot/vmlinuz-linux root=UUID=187baaa2-39a7-4698-a501-d46c2663bf62 rw intel_iommu=on i915.enable_gvt=1 kvm.ignore_msrs=1 quiet
[    0.148421] Kernel command line: BOOT_IMAGE=/boot/vmlinuz-linux root=UUID=187baaa2-39a7-4698-a501-d46c2663bf62 rw intel_iommu=on i915.enable_gvt=1 kvm.ignore_msrs=1 quiet
[    2.846249] i915 0000:00:02.0: enabling device (0000 -> 0003)
[    2.847822] i915 0000:00:02.0: Direct firmware load for i915/gvt/vid_0x8086_did_0x1912_rid_0x06.golden_hw_state failed with error -2
[    2.872855] i915 0000:00:02.0: MDEV: Registered
"""

# A GVT-g mediated device joins group 0 (the 4.x "iommu: Adding device ... to group"
# form, with a UUID instead of a PCI address); the post lost the line's opening bracket.
# From fred1gao in "Libvirt Fails to Use GVT-G Device", https://github.com/intel/gvt-linux/issues/74
# (2019-02-28), as posted.
MDEV = """\
  578.101534] iommu: Adding device b323e53e-782f-41bb-a7b8-3538d76fc73a to group 0
[  578.101538] vfio_mdev b323e53e-782f-41bb-a7b8-3538d76fc73a: MDEV: group_id = 0
"""

# A Talos II (POWER9 PowerNV) booting 6.6-rc7, from its log posted to linuxppc-dev
# (29 October 2023): PCI enumeration, the PE lines of pnv_pci_ioda_dma_dev_setup, groups.
TALOS = """\
Linux version 6.6.0-rc7-P9 (root@T1000) (gcc (Gentoo 13.2.1_p20231014 p9) 13.2.1 20231014) #2 SMP
Kernel command line: root=/dev/nvme0n1p3 no_entry_flush no_uaccess_flush ast.modeset=0
iommu: Default domain type: Translated
iommu: DMA domain TLB invalidation policy: strict mode
PCI host bridge to bus 0003:00
pci 0003:00:00.0: [1014:04c1] type 01 class 0x060400
pci 0003:01:00.0: [104c:8241] type 00 class 0x0c0330
pci 0003:00:00.0: PCI bridge to [bus 01]
PCI host bridge to bus 0004:00
pci 0004:00:00.0: [1014:04c1] type 01 class 0x060400
pci 0004:01:00.0: [14e4:1657] type 00 class 0x020000
pci 0004:01:00.1: [14e4:1657] type 00 class 0x020000
pci 0004:00:00.0: PCI bridge to [bus 01]
PCI host bridge to bus 0005:00
pci 0005:00:00.0: [1014:04c1] type 01 class 0x060400
pci 0005:01:00.0: [1a03:1150] type 01 class 0x060400
pci 0005:00:00.0: PCI bridge to [bus 01-02]
pci 0005:02:00.0: [1a03:2000] type 00 class 0x030000
pci 0005:01:00.0: PCI bridge to [bus 02]
pci 0003:00:00.0: Configured PE#1fe
pci 0003:01:00.0: Configured PE#1fd
pci 0003:01     : [PE# 1fd] Enabling 64-bit DMA bypass
pci 0003:01:00.0: Adding to iommu group 0
pci 0004:00:00.0: Configured PE#fe
pci 0004:01:00.0: Configured PE#0
pci 0004:01:00.0: Adding to iommu group 1
pci 0004:01:00.1: Added to existing PE#0
pci 0004:01:00.1: Adding to iommu group 1
pci 0005:00:00.0: Configured PE#fe
pci 0005:01:00.0: Configured PE#fd
pci 0005:02:00.0: Configured PE#fc
pci 0005:02:00.0: Adding to iommu group 2
"""
LOGS = {
    "gvt": GVT,
    "apu2": APU2,
    "sb3": SB3,
    "sp9": SP9,
    "lazy": LAZY,
    "tegra": TEGRA_SMMU,
    "talos": TALOS,
}
DEVICE = re.compile(r'^device (\S+): "([^"]+)"(?:, "pciclass,[0-9a-f]{4}")? \{ ([^}]*) \}', re.M)
BRIDGE = re.compile(r'^bridge (\S+): (\S+)(?: "[^"]+")? \{ ([^}]*) \}', re.MULTILINE)
EXPECT = re.compile(r"^expect (\S+)\.group_members == \[([^\]]*)\]", re.MULTILINE)


def loads_and_resolves(text: str) -> list[tuple[str, bool]]:
    """The imported file loads cleanly, is in canonical form; its expectations' results."""
    board = Board.from_text(text, "imported.iommu")
    assert not board.base.diagnostics, board.base.diagnostics  # the loader's
    model = board.model
    assert not [d for d in model.diagnostics if d.is_error], model.diagnostics
    assert format_text(text, "imported.iommu") == text
    res = board.resolution
    return [(str(e.query.subject.text), ok) for e, ok, _actual, _ in res.expectations]


def addresses(text: str) -> dict[str, str]:
    """device or bridge name -> bb:dd.f (dddd:bb:dd.f outside domain 0000)"""
    out = {}
    for m in [*DEVICE.finditer(text), *BRIDGE.finditer(text)]:
        addr = re.search(r"pci ([0-9a-f]{4}:[0-9a-f:.]+)", m[3])[1]  # type: ignore[index]
        out[m[1]] = addr.removeprefix("0000:")
    return out


def observed_groups(text: str) -> list[list[str]]:
    """The group_members expectations, as lists of bb:dd.f."""
    names = addresses(text)
    return [[names[n.strip()] for n in m[2].split(",")] for m in EXPECT.finditer(text)]


def unwrapped(text: str) -> str:
    """The text with wrapped comment lines joined again."""
    return text.replace("\n#   ", " ")


def spans(result_diags: list[Diagnostic]) -> list[tuple[str, str, int, int]]:
    return [(d.code, d.span.file, d.span.line, d.span.col) for d in result_diags]


@pytest.mark.parametrize("key", LOGS)
def test_log_imports_load_resolve_and_their_expectations_hold(key: str) -> None:
    result = import_listing(LOGS[key], f"{key}.txt")
    assert result.diagnostics == []
    outcomes = loads_and_resolves(result.text)
    assert outcomes and all(ok for _, ok in outcomes), outcomes


def test_groups_from_dmesg_are_the_groups_the_lines_say() -> None:
    text = import_listing(GVT, "gvt.txt").text
    assert sorted(observed_groups(text)) == sorted(GVT_GROUPS.values())
    assert "# observed: IOMMU Group 6 (gvt.txt)" in text
    # DMAR lines name the driver; the line cited is the first of them.
    assert "iommu vtd: intel-vtd" in text
    assert "gvt.txt:2: 'DMAR: No ATSR found'" in text
    # No class and no IDs in this log: said once, and the compatible says so.
    assert "Not in the input: the class of 12 and the IDs of 12 of 12 PCI functions" in text
    assert text.count(': "pci-unknown" {') == 12


def test_old_iommu_adding_device_form_and_amd_vi() -> None:
    result = import_listing(APU2, "apu2.txt")
    # The shell prompt is not a kernel line: skipped without a warning in a log.
    assert result.diagnostics == []
    text = result.text
    assert "iommu amdvi: amd-vi" in text and "intel-vtd" not in text
    assert "apu2.txt:2: 'AMD-Vi: IOMMU performance counters supported'" in text
    assert sorted(observed_groups(text)) == sorted(
        [
            ["00:00.0"],
            ["00:02.0", "00:02.2", "00:02.3", "00:02.4", "00:02.5"],
            ["00:08.0"],
            ["00:10.0"],
            ["00:11.0"],
            ["00:13.0"],
            ["00:14.0", "00:14.3", "00:14.7"],
        ]
    )


def test_kernel_version_and_command_line_become_platform_facts() -> None:
    result = import_listing(SB3, "sb3.txt")
    assert result.diagnostics == []
    text = result.text
    assert "    kernel 6.12  # sb3.txt:2\n" in text
    assert (
        '    cmdline "BOOT_IMAGE=/vmlinuz-6.12.3-surface-2 root=/dev/mapper/lvmlocal-root ro '
        "cryptdevice=/dev/nvme0n1p6:lvmlocal root=/dev/mapper/lvmlocal-root "
        'resume=/dev/mapper/lvmlocal-swap quiet splash"\n' in text
    )
    assert "# RAM is not in the input" in text
    # 14.3 is alone while 14.0 and 14.2 share group 5; 1d.0 and 1d.4 are apart: ACS.
    names = {v: k for k, v in addresses(text).items()}
    assert re.search(rf"device {names['00:14.3']}: .*; acs yes \}}", text)
    assert re.search(rf"device {names['00:1d.4']}: .*; acs yes \}}", text)
    assert not re.search(rf"device {names['00:14.0']}: .*acs yes", text)
    assert ["00:14.0", "00:14.2"] in observed_groups(text)


def test_kernel_command_line_wins_over_the_x86_command_line() -> None:
    text = import_listing(CMDLINE, "cmdline.txt").text
    assert text.count("cmdline ") == 1
    assert "# command line from cmdline.txt:2" in text
    assert 'intel_iommu=on i915.enable_gvt=1 kvm.ignore_msrs=1 quiet"' in text
    # No PCI function and no IOMMU line: said, and the IOMMU is a guess.
    assert "No PCI function in the input" in text
    assert "is a guess" in text
    model = Board.from_text(text, "c.iommu").model
    assert model.platform.cmdline is not None
    assert "intel_iommu=on" in str(model.platform.cmdline.value)


def test_enumeration_lines_give_classes_ids_and_bridges() -> None:
    result = import_listing(SP9, "sp9.txt")
    assert result.diagnostics == []
    text = result.text
    # two root ports of one slot in two groups: each is isolated (get_pci_function_alias_group)
    assert 'bridge rp0: root-port "pci8086,462f" { pci 0000:00:07.0; acs yes }' in text
    assert 'bridge rp1: root-port "pci8086,461f" { pci 0000:00:07.3; acs yes }' in text
    names = {v: k for k, v in addresses(text).items()}
    usb = names["00:0d.0"]
    assert f'device {usb}: "pci8086,461e", "pciclass,0c03" {{ tags usb; pci 0000:00:0d.0 }}' in text
    assert f'device {names["00:08.0"]}: "pci8086,464f"' in text
    # 0d.3 has no enumeration line in the excerpt: joined by its group only.
    assert f'device {names["00:0d.3"]}: "pci-unknown"' in text
    assert ["00:0d.0", "00:0d.3"] in observed_groups(text)
    assert "expect rp0.group_members == [rp0]" in text  # bridge-only groups are expected too
    assert "iommu vtd: intel-vtd" in text


def test_translated_lazy_is_dma_fq_from_kconfig() -> None:
    text = unwrapped(import_listing(LAZY, "lazy.txt").text)
    assert "    config IOMMU_DEFAULT_DMA_LAZY\n" in text
    assert "expect system.default_domain == dma-fq\n" in text
    assert (
        "# observed: 'iommu: Default domain type: Translated', 'iommu: DMA domain TLB "
        "invalidation policy: lazy mode' (lazy.txt:1, 2)" in text
    )


def test_arm_smmu_strict_translated_is_dma_on_arm64() -> None:
    result = import_listing(TEGRA_SMMU, "tegra.txt")
    text = result.text
    assert "iommu smmu_12000000: arm-smmu" in text
    assert "arch arm64  # an Arm SMMU: arm64 is a guess" in text
    # The post's own config has CONFIG_IOMMU_DEFAULT_DMA_STRICT=y: the import says the same.
    assert "    config IOMMU_DEFAULT_DMA_STRICT\n" in text
    assert "expect system.default_domain == dma\n" in text
    assert smmu_name("arm-smmu-v3.0.auto") == "smmu_v3_0"
    assert smmu_name("2b400000.iommu") == "smmu_2b400000"


def test_only_the_default_domain_line_is_still_an_import() -> None:
    result = import_listing(PASSTHROUGH, "fwupd.txt")
    assert result.diagnostics == []
    text = result.text
    assert "    config IOMMU_DEFAULT_PASSTHROUGH\n" in text
    assert "expect system.default_domain == identity\n" in text
    assert "kernel and RAM are not in a listing" in text
    assert "No PCI function in the input" in text
    assert loads_and_resolves(text) == [("system", True)]


def test_journalctl_prefix() -> None:
    result = import_listing(JOURNAL, "journal.txt")
    assert result.diagnostics == []
    assert "iommu vtd: intel-vtd" in result.text
    assert "journal.txt:4: 'DMAR: Intel-IOMMU force enabled due to platform opt in'" in unwrapped(
        result.text
    )
    assert "device " not in result.text


def test_dmesg_T_timestamps() -> None:
    result = import_listing(DMESG_T, "dmesg-T.txt")
    assert result.diagnostics == []
    groups = observed_groups(result.text)
    assert ["00:16.0", "00:16.1", "00:16.2", "00:16.3"] in groups
    assert ["00:1e.0"] in groups and len(groups) == 9
    assert all(ok for _, ok in loads_and_resolves(result.text))


def test_non_pci_group_members_are_named_in_a_comment() -> None:
    result = import_listing(MDEV, "mdev.txt")
    assert result.diagnostics == []
    assert (
        "# Not PCI, not imported (mdev.txt; 'iommu-rules import dts' reads them): "
        "b323e53e-782f-41bb-a7b8-3538d76fc73a in group 0" in unwrapped(result.text)
    )


# Three more prefixes and driver names, a few lines each (trimmed to them):
# `dmesg -r` ("<6>[ ... ]") with AMD-Vi, from zhanghe9702 in "after install
# intel-i915-dkms, my machine always hang up",
# https://github.com/intel-gpu/intel-gpu-i915-backports/issues/192 (date not in the stored copy);
RAW = """\
<6>[    0.657924] pci 0000:07:00.0: Adding to iommu group 19
<6>[    0.657932] pci 0000:07:00.1: Adding to iommu group 19
<6>[    0.657939] pci 0000:07:00.3: Adding to iommu group 19
<6>[    0.657946] pci 0000:08:00.0: Adding to iommu group 20
<6>[    0.663005] AMD-Vi: Extended features (0x58f77ef22294a5a, 0x0): PPR NX GT IA PC GA_vAPIC
<6>[    0.663017] AMD-Vi: Interrupt remapping enabled
"""
# `dmesg -x -T` ("kern  :info  : [date]") with a second root bus, from faradawn in
# "basic_test produced 'nvcc: no such file or directory'", https://github.com/utcs-scea/LAKE/issues/10
# (the log is of 2023-04-07);
FACILITY = """\
kern  :info  : [Fri Apr  7 00:04:39 2023] PCI host bridge to bus 0000:80
kern  :info  : [Fri Apr  7 00:04:39 2023] pci_bus 0000:80: root bus resource [mem 0xc6000000-0xd37fffff window]
kern  :info  : [Fri Apr  7 00:04:39 2023] pci_bus 0000:80: root bus resource [mem 0x384000000000-0x384fffffffff window]
kern  :info  : [Fri Apr  7 00:04:39 2023] pci_bus 0000:80: root bus resource [bus 80-84]
kern  :info  : [Fri Apr  7 00:04:39 2023] pci 0000:80:05.0: [8086:2024] type 00 class 0x088000
kern  :info  : [Fri Apr  7 00:04:39 2023] pci 0000:80:05.2: [8086:2025] type 00 class 0x088000
"""
# and root ports of an arm64 server in PCI domain 3, named by their driver (pcieport), from
# adamliyi in "5.4: oom when kernel initialize",
# https://github.com/AmpereComputing/ampere-lts-kernel---DEPRECATED/issues/40 (date not in
# the stored copy).
PCIEPORT = """\
[   15.530198] pcieport 0003:00:03.0: AER: enabled with IRQ 180
[   15.535885] pcieport 0003:00:05.0: Adding to iommu group 9
[   15.541450] pcieport 0003:00:05.0: AER: enabled with IRQ 180
[   15.547158] pcieport 0003:00:07.0: Adding to iommu group 10
"""


def test_more_prefixes_and_driver_names() -> None:
    result = import_listings(
        [("raw.txt", RAW), ("facility.txt", FACILITY), ("ports.txt", PCIEPORT)]
    )
    assert result.diagnostics == []
    text = result.text
    groups = observed_groups(text)
    assert ["07:00.0", "07:00.1", "07:00.3"] in groups and ["08:00.0"] in groups
    assert "iommu amdvi: amd-vi" in text
    names = {v: k for k, v in addresses(text).items()}
    # "PCI host bridge to bus 0000:80": functions on it are on a root bus (no upstream).
    assert (
        f'device {names["80:05.2"]}: "pci8086,2025", "pciclass,0880" {{ tags chipset; pci 0000:80:05.2 }}'
        in text
    )
    assert re.search(r"expect \w+\.group_members == \[\w+\]\n", text)
    assert "pci 0003:00:05.0" in text and "pci 0003:00:07.0" in text


def test_a_log_of_several_boots_keeps_the_last() -> None:
    result = import_listing(GVT + SB3, "kern.log")
    text = result.text
    assert "# kern.log holds 2 boots: only the last one is imported." in text
    assert "00:08.0" not in text  # only the first boot has it
    assert sorted(observed_groups(text)) == sorted(observed_groups(import_listing(SB3).text))


def cut(text: str, line: int, keep: int) -> str:
    """The text with line `line` (1-based) cut after `keep` characters, as in a paste
    that lost the end of a line."""
    lines = text.splitlines()
    lines[line - 1] = lines[line - 1][:keep]
    return "\n".join(lines) + "\n"


def test_cut_iommu_lines_are_w801_at_their_line_and_column() -> None:
    gvt = cut(GVT, 6, len("[    0.180081] pci 0000:00:14.0: Adding to iommu gr"))
    sp9_head = "".join(SP9.splitlines(keepends=True)[:17])
    sp9 = cut(sp9_head, 17, len("[    0.535552] pci 0000:00:0d.0: [8086:46"))
    lazy = cut(LAZY, 1, len("[    0.259883] iommu: Default domain type"))
    inputs = [("gvt.txt", gvt), ("sp9.txt", sp9), ("lazy.txt", lazy)]
    result = import_listings(inputs)
    # Each names its own file; the message starts after the 15-character timestamp.
    assert spans(result.diagnostics) == [
        ("W801", "gvt.txt", 6, 16),
        ("W801", "sp9.txt", 17, 16),
        ("W801", "lazy.txt", 1, 16),
    ]
    assert [d.span.end_col for d in result.diagnostics] == [
        len(gvt.splitlines()[5]) + 1,
        len(sp9.splitlines()[16]) + 1,
        len(lazy.splitlines()[0]) + 1,
    ]
    messages = [d.message for d in result.diagnostics]
    assert "an IOMMU group line without a device and a number" in messages[0]
    assert "PCI device line without" in messages[1]
    assert "'Default domain type' without a type" in messages[2]
    # The rest is imported: 14.0 is gone from group 2, and without the type line there is
    # no default-domain expectation.
    text = result.text
    assert ["00:14.2"] in observed_groups(text)
    assert "default_domain" not in text
    sources = SourceMap()
    for name, body in inputs:
        sources.add(name, body)
    rendered = render_all(result.diagnostics, sources)
    assert "gvt.txt:6:16: warning[W801]" in rendered
    assert "6 | [    0.180081] pci 0000:00:14.0: Adding to iommu gr" in rendered
    assert "sp9.txt:17:16: warning[W801]" in rendered
    assert "lazy.txt:1:16: warning[W801]" in rendered


@pytest.mark.parametrize("key", LOGS)
def test_logs_cut_anywhere_give_diagnostics_not_tracebacks(key: str) -> None:
    text = LOGS[key]
    for end in range(0, len(text), max(1, len(text) // 97)):
        check(text[:end])


def check(text: str) -> None:
    result = import_listing(text, "fuzz.txt")
    assert isinstance(result.text, str)
    for d in result.diagnostics:
        assert isinstance(d, Diagnostic) and d.code in ("W801", "E801"), d
        assert "bug" not in d.message, d.message
        assert d.span.file == "fuzz.txt" and d.span.line >= 1
    if result.text:
        loads_and_resolves(result.text)
    else:
        assert any(d.code == "E801" for d in result.diagnostics)


PARTS = st.sampled_from(
    [
        "[    0.180067] ",
        "[Sat Oct 16 18:15:30 2021] ",
        "Jul 19 23:11:56 host kernel: ",
        "kern  :info  : ",
        "pci ",
        "0000:00:1f.3",
        "0000:01:00.0",
        "0000:00:3f.0",
        ": ",
        "Adding to iommu group ",
        "Removing from iommu group ",
        "iommu: Adding device ",
        " to group ",
        "7",
        "12",
        "iommu: Default domain type: ",
        "Translated",
        "Passthrough",
        "Weird",
        " (set via kernel command line)",
        "iommu: DMA domain TLB invalidation policy: ",
        "lazy mode",
        "[8086:461e] type 01 class 0x060400",
        "PCI bridge to [bus 03-7a]",
        "Linux version ",
        "6.8.0-45-generic",
        "10.1",
        "Command line: ",
        'quiet "x" \\',
        "DMAR: ",
        "AMD-Vi: ",
        "arm-smmu ",
        "12000000.iommu",
        "arm-smmu-v3.0.auto",
        "-[0000:00]-+-",
        "01.0-[01]--",
        "\x00",
        "é",
        " ",
    ]
)
LOG_LINES = st.lists(st.lists(PARTS, max_size=8).map("".join), max_size=12).map("\n".join)


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(LOG_LINES)
def test_log_like_text_never_raises_and_always_loads(text: str) -> None:
    check(text)


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.text(max_size=300))
def test_arbitrary_text_never_raises(text: str) -> None:
    check(text)


def test_two_machines_mixed_are_reported_not_merged_silently() -> None:
    # Both logs put 00:00.0, 00:14.0, ... in groups, with other numbers: another machine.
    # The first file's groups are kept; each contradiction is a W801 at its own line.
    result = import_listings([("gvt.txt", GVT), ("sb3.txt", SB3)])
    conflicts = [d for d in result.diagnostics if "listed again" in d.message]
    assert [(d.span.file, d.span.line) for d in conflicts] == [
        ("sb3.txt", n) for n in (12, 15, 16, 22, 28, 29, 31)
    ]
    assert conflicts[0].message == (
        "0000:00:00.0 is listed again in IOMMU group 2 (gvt.txt:4 puts it in group 0); line skipped"
    )


def test_cli_several_files_and_stdin_then_test(tmp_path: Path) -> None:
    from conftest import run_cli

    # One post in two files: the head of the log, and the groups through stdin with their
    # first line cut short.
    lines = SB3.splitlines(keepends=True)
    (tmp_path / "head.txt").write_text("".join(lines[:9]))
    groups = cut("".join(lines[9:]), 1, 53)
    out = tmp_path / "board.iommu"
    proc = run_cli("import", "listing", "head.txt", "-", "-o", str(out), stdin=groups, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    # The warning names stdin and quotes its line.
    assert "<stdin>:1:16: warning[W801]" in proc.stderr
    assert "1 | [    0.522893] pci 0000:00:05.0: Adding to iommu gro" in proc.stderr
    text = out.read_text()
    assert "head.txt (a kernel log); <stdin> (a kernel log)" in text
    assert "kernel 6.12  # head.txt:2" in text
    assert "00:05.0" not in text  # its line was cut
    test = run_cli("test", str(out))
    assert test.returncode == 0 and " 0 failed" in test.stdout, test.stdout


def test_a_power_log_puts_each_function_in_its_pe() -> None:
    """PE lines make a POWER board: one spapr-tce per host bridge with a PE'd function, each
    function in its PE; root ports and the ASPEED bridge have PEs but are bridges."""
    text = import_listing(TALOS, "talos.txt").text
    assert "arch powerpc" in text and 'include "std/iommu/spapr-tce"' in text
    assert [line for line in text.splitlines() if ": spapr-tce" in line] == [
        "iommu phb0003: spapr-tce",
        "iommu phb0004: spapr-tce",
        "iommu phb0005: spapr-tce",
    ]
    assert "iommu phb0003 sid 0x1fd" in text and "iommu phb0005 sid 0xfc" in text
    assert text.count("iommu phb0004 sid 0x0") == 2
    # the log's three groups, and the model reproduces them
    outcomes = loads_and_resolves(text)
    assert len([o for o in outcomes if o[0] != "system"]) == 3 and all(ok for _, ok in outcomes)


MSM8998_LPASS = """\
[    0.000000] Linux version 6.8.0 (builder@host) #1 SMP PREEMPT
[    2.570000] arm-smmu 5100000.iommu: probing hardware configuration...
[    2.570001] arm-smmu 5100000.iommu: SMMUv2 with:
[    2.574566] arm-smmu 5100000.iommu: \t(IDR0.CTTW overridden by FW configuration)
[    2.580220] arm-smmu 5100000.iommu: \tstream matching with 12 register groups
[    2.587263] arm-smmu 5100000.iommu: \t13 context banks (0 stage-2 only)
"""


def test_an_arm_smmu_sizes_come_from_its_probe_lines() -> None:
    """arm_smmu_device_cfg_probe prints the stream match registers and the context banks:
    they become `smrs` and `contexts`, each with the line that said it."""
    text = import_listing(MSM8998_LPASS, "lpass.txt").text
    assert "iommu smmu_5100000: arm-smmu {\n    contexts 13\n    smrs 12\n}" in text
    assert "# smrs 12: lpass.txt:5: 'arm-smmu 5100000.iommu: stream matching with 12" in text
    board = Board.from_text(text, "lpass.iommu")
    assert not board.diagnostics
    assert board.model.iommus["smmu_5100000"].smrs == 12
