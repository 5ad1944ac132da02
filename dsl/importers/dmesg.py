"""Read the IOMMU lines of a kernel log: dmesg, ``dmesg -T``/``-x``, journalctl -k, kern.log.

A posted log is mostly about other things, so a line that is not about the
IOMMU, PCI enumeration or the boot (version, command line) is skipped without
a word; only a line that starts like one of ours and then cannot be read is
reported.  What each line means comes from the code that prints it:

- ``<dev>: Adding to iommu group N`` / ``Removing from iommu group N``:
  drivers/iommu/iommu.c: iommu_group_add_device / iommu_group_remove_device
  (dev_info, so the prefix is the driver or bus name and the device name); older
  kernels print ``iommu: Adding device <dev> to group N`` there (pr_info, pr_fmt
  "iommu: ").
- ``iommu: Default domain type: Translated|Passthrough [(set via kernel command
  line)]`` and ``iommu: DMA domain TLB invalidation policy: lazy|strict mode
  [(set via kernel command line)]``: drivers/iommu/iommu.c: iommu_subsys_init,
  printed once the Kconfig default (IOMMU_DEFAULT_PASSTHROUGH, iommu_dma_strict from
  IOMMU_DEFAULT_DMA_STRICT) and the command line (iommu.passthrough=, iommu.strict=,
  x86 iommu=pt) are applied; "Translated" stands for DMA and DMA-FQ alike
  (iommu_domain_type_str), lazy invalidation is what makes it DMA-FQ.
- ``pci dddd:bb:dd.f: [vvvv:dddd] type NN class 0xCCCCPP``: drivers/pci/probe.c:
  pci_setup_device; ``pci ...: PCI bridge to [bus ss-uu]``: drivers/pci/setup-bus.c:
  pci_setup_bridge / probe.c: pci_read_bridge_bases; ``PCI host bridge to bus
  dddd:bb``: drivers/pci/probe.c: pci_register_host_bridge.
- ``Linux version X.Y...``: init/version.c: linux_banner; ``Command line:``
  (arch/x86/kernel/setup.c: setup_arch) and ``Kernel command line:``
  (init/main.c: start_kernel).
- ``pci dddd:bb:dd.f: Configured PE#x`` / ``Added to existing PE#x``:
  arch/powerpc/platforms/powernv/pci-ioda.c: pnv_pci_ioda_dma_dev_setup (pci_info), the
  POWER partitionable endpoint whose TCE tables, and IOMMU group, the function shares.
- ``DMAR:``/``DMAR-IR:`` (drivers/iommu/intel/dmar.c, iommu.c: pr_fmt "DMAR: "),
  ``AMD-Vi:`` (drivers/iommu/amd/init.c: pr_fmt "AMD-Vi: "), and the
  ``arm-smmu``/``arm-smmu-v3`` drivers' dev_info lines name the IOMMU hardware.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["DmesgFacts", "DmesgReader", "looks_like_dmesg"]

Addr = tuple[int, int, int, int]
Report = Callable[[int, int, int, str], None]  # (line, col, end_col, message), 1-based

_ADDR = r"([0-9a-fA-F]{4}):([0-9a-fA-F]{2}):([0-9a-fA-F]{2})\.([0-7])"
# Prefixes in front of the message, outermost first; each may repeat in any order.
_PREFIXES = [
    re.compile(r"<\d>"),  # dmesg -r
    # dmesg -x: "kern  :info  : "
    re.compile(
        r"(?:kern|user|mail|daemon|auth|syslog|lpr|news|uucp|cron|authpriv|ftp|local\d)\s*:"
        r"\s*(?:emerg|alert|crit|err|warn|notice|info|debug)\s*:\s"
    ),
    re.compile(r"\[\s*[+]?\d+\.\d+\]\s?"),  # "[    0.123456] ", "[  +0.000001] "
    re.compile(r"\[\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}\]\s?"),  # dmesg -T
    re.compile(r"\[\d{4}-\d\d-\d\d[ T][\d:.,+-]+\]\s?"),  # consoles that stamp ISO dates
    # journalctl -k / syslog: "Jul 19 23:11:56 host kernel: ",
    # "2024-01-06T14:03:03+0100 host kernel: "
    re.compile(r"(?:\S+\s+){1,4}?kernel:\s?"),
]
_GROUP = re.compile(rf"(\S+) ({_ADDR}|\S+): (Adding to|Removing from) iommu group (\d+)\s*$")
_GROUP_OLD = re.compile(r"iommu: (Adding|Removing) device (\S+) (?:to|from) group (\d+)\s*$")
_GROUP_TRIGGER = re.compile(r"(?:Adding to|Removing from) iommu\b|iommu: (?:Adding|Removing) dev")
_PCI_ADDR = re.compile(rf"^{_ADDR}$")
_DEFAULT = re.compile(r"iommu: Default domain type: (\w+)\s*(\(set via kernel command line\))?\s*$")
_TLB = re.compile(
    r"iommu: DMA domain TLB invalidation policy: (lazy|strict) mode\s*"
    r"(\(set via kernel command line\))?\s*$"
)
_ENUM = re.compile(
    rf"pci {_ADDR}: \[([0-9a-fA-F]{{4}}):([0-9a-fA-F]{{4}})\] type ([0-9a-fA-F]{{2}}) "
    r"class 0x([0-9a-fA-F]{6})\b"
)
_ENUM_TRIGGER = re.compile(r"pci [0-9a-fA-F:.]+: \[[0-9a-fA-F]{1,4}(?::|\]?$)")
_BRIDGE = re.compile(
    rf"pci {_ADDR}: PCI bridge to \[bus ([0-9a-fA-F]{{2}})(?:-([0-9a-fA-F]{{2}}))?\]"
)
_PE = re.compile(rf"pci {_ADDR}: (?:Configured|Added to existing) PE#([0-9a-fA-F]+)\s*$")
_HOST = re.compile(r"PCI host bridge to bus ([0-9a-fA-F]{4}):([0-9a-fA-F]{2})\b")
_VERSION = re.compile(r"Linux version (\d+)\.(\d+)\S*(.*)$")
_CMDLINE = re.compile(r"(Kernel command line|Command line): ?(.*)$")
_DMAR = re.compile(r"(?:^|\s)DMAR(?:-IR)?:")
_AMDVI = re.compile(r"(?:^|\s)AMD-Vi:")
# amd_iommu_v2 loaded on an Intel machine prints this: it is not evidence of AMD-Vi.
_AMDVI_ABSENT = re.compile(r"not available|not a bug|not found|disabled", re.IGNORECASE)
_SMMU = re.compile(r"(arm-smmu(?:-v3)?) (\S+?):")
_SMMU_TRIGGER = re.compile(r"arm-smmu(?:-v3)?\b")
# arm_smmu_device_cfg_probe: "\tstream matching with %u register groups",
# "\t%u context banks (%u stage-2 only)"
_SMMU_SIZES = {
    "smrs": re.compile(r"stream matching with (\d+) register groups"),
    "contexts": re.compile(r"\s(\d+) context banks \("),
}
_ARCHES = [
    (re.compile(r"x86_64|amd64|x86-64"), "x86_64"),
    (re.compile(r"aarch64|arm64"), "arm64"),
    (re.compile(r"riscv64"), "riscv64"),
    (re.compile(r"armv7|armhf|arm-linux-gnueabi"), "arm"),
]


def looks_like_dmesg(line: str) -> bool:
    """A line with a kernel-log prefix, or one of the IOMMU lines read here."""
    start = _strip(line)
    if start:
        return True
    msg = line.strip()
    return any(
        p.search(msg) if p in (_DMAR, _AMDVI) else p.match(msg)
        for p in (_GROUP_TRIGGER, _DEFAULT, _TLB, _ENUM_TRIGGER, _VERSION, _DMAR, _AMDVI)
    ) or bool(re.match(r"(?:Kernel )?[Cc]ommand line:|iommu: |pci [0-9a-fA-F]{4}:", msg))


def _strip(line: str) -> int:
    """Where the message starts after any log prefixes (0: no prefix)."""
    pos = len(line) - len(line.lstrip())
    found = True
    while found:
        found = False
        for p in _PREFIXES:
            m = p.match(line, pos)
            if m and m.end() > pos:
                pos = m.end()
                found = True
    return pos if pos > len(line) - len(line.lstrip()) else 0


# `cat /proc/cmdline`: "BOOT_IMAGE=/boot/vmlinuz-6.8.0-49-generic root=UUID=... ro quiet"
_PROC_CMDLINE = re.compile(r"^BOOT_IMAGE=(\S+)(?:\s|$)")
_IMAGE_VERSION = re.compile(r"vmlinuz-(\d+)\.(\d+)")


@dataclass(frozen=True)
class Seen:
    """A fact and the line that showed it."""

    value: str
    line: int
    text: str


@dataclass
class PciSeen:
    vid: str
    did: str
    cls: str
    header: int  # 0 endpoint, 1 PCI-PCI bridge, 2 CardBus bridge
    line: int


@dataclass
class DmesgFacts:
    kernel: tuple[int, int] | None = None
    kernel_seen: Seen | None = None
    arch: str | None = None
    cmdline: Seen | None = None
    default_type: Seen | None = None  # value: Translated, Passthrough, ...
    default_via_cmdline: bool = False
    tlb: Seen | None = None  # value: lazy or strict
    tlb_via_cmdline: bool = False
    iommus: dict[tuple[str, str], Seen] = field(default_factory=dict)  # (kind, name) -> first
    # an arm-smmu's hardware as arm_smmu_device_cfg_probe prints it: (kind, name) ->
    # {"contexts": ..., "smrs": ...}, each with its line
    smmu_sizes: dict[tuple[str, str], dict[str, Seen]] = field(default_factory=dict)
    evidence: dict[str, int] = field(default_factory=dict)  # kind -> number of lines
    groups: dict[Addr, tuple[int, int]] = field(default_factory=dict)  # addr -> (group, line)
    other_groups: dict[str, tuple[int, int]] = field(default_factory=dict)  # non-PCI devices
    pci: dict[Addr, PciSeen] = field(default_factory=dict)
    bridges: dict[Addr, tuple[int, int, int]] = field(default_factory=dict)  # (sec, sub, line)
    roots: set[tuple[int, int]] = field(default_factory=set)
    pes: dict[Addr, tuple[int, int]] = field(default_factory=dict)  # addr -> (POWER PE, line)
    acs_override: int | None = None  # the line where the ACS override patch said it runs
    lines: int = 0  # lines read as kernel log
    boots: int = 1  # a kern.log or journal may hold several; the last one is kept

    @property
    def anything(self) -> bool:
        return bool(
            self.kernel
            or self.cmdline
            or self.default_type
            or self.iommus
            or self.groups
            or self.other_groups
            or self.pci
            or self.pes
        )


def _addr(m: re.Match[str], first: int) -> Addr:
    return (
        int(m.group(first), 16),
        int(m.group(first + 1), 16),
        int(m.group(first + 2), 16),
        int(m.group(first + 3)),
    )


class DmesgReader:
    """Feed it lines; it keeps what a kernel log says about IOMMUs, PCI and the boot."""

    def __init__(self, report: Report) -> None:
        self.report = report
        self.facts = DmesgFacts()

    def feed(self, number: int, raw: str) -> bool:
        """True when the line is a kernel-log line (read, skipped as unrelated, or reported)."""
        line = raw.rstrip()
        start = _strip(line)
        msg = line[start:] if start else line.strip()
        col = start + 1 if start else len(line) - len(line.lstrip()) + 1
        known = self._read(number, msg, col, len(line) + 1)
        if known or start:
            self.facts.lines += 1
            return True
        return False

    def _bad(self, number: int, col: int, end: int, message: str) -> bool:
        self.report(number, col, max(end, col + 1), f"kernel log line: {message}")
        return True

    def _read(self, number: int, msg: str, col: int, end: int) -> bool:
        f = self.facts
        boot = _PROC_CMDLINE.match(msg)
        if boot and f.cmdline is None:
            # a posted `cat /proc/cmdline`: the command line, and the kernel the image names
            f.cmdline = Seen(msg.strip(), number, msg.strip())
            image = _IMAGE_VERSION.search(boot.group(1))
            if image and f.kernel is None and 2 <= int(image.group(1)) <= 9:
                f.kernel = (int(image.group(1)), int(image.group(2)))
                f.kernel_seen = Seen(f"{f.kernel[0]}.{f.kernel[1]}", number, msg.strip())
            return True
        if msg.startswith("Warning: PCIe ACS overrides enabled"):
            # pcie_acs_override_setup: only a kernel with the out-of-tree patch prints it
            f.acs_override = number
            return True
        if _GROUP_TRIGGER.search(msg):
            return self._group(number, msg, col, end)
        m = _ENUM.match(msg)
        if m:
            addr = _addr(m, 1)
            if addr[2] > 0x1F:
                return self._bad(number, col, end, f"'{m.group(0)[4:16]}' is past device 1f")
            f.pci[addr] = PciSeen(
                m.group(5).lower(),
                m.group(6).lower(),
                m.group(8)[:4].lower(),
                int(m.group(7), 16),
                number,
            )
            return True
        if _ENUM_TRIGGER.match(msg):
            return self._bad(
                number,
                col,
                end,
                "PCI device line without '[vvvv:dddd] type NN class 0xCCCCCC' (cut off?)",
            )
        m = _PE.match(msg)
        if m:
            f.pes[_addr(m, 1)] = (int(m.group(5), 16), number)
            return True
        m = _BRIDGE.match(msg)
        if m:
            low = int(m.group(5), 16)
            high = int(m.group(6), 16) if m.group(6) else low
            f.bridges[_addr(m, 1)] = (low, high, number)
            return True
        m = _HOST.match(msg)
        if m:
            f.roots.add((int(m.group(1), 16), int(m.group(2), 16)))
            return True
        if msg.startswith("iommu: Default domain type"):
            m = _DEFAULT.match(msg)
            if not m:
                return self._bad(number, col, end, "'Default domain type' without a type")
            f.default_type = Seen(m.group(1), number, msg.strip())
            f.default_via_cmdline = bool(m.group(2))
            return True
        if msg.startswith("iommu: DMA domain TLB invalidation policy"):
            m = _TLB.match(msg)
            if not m:
                return self._bad(number, col, end, "TLB invalidation policy is not lazy or strict")
            f.tlb = Seen(m.group(1), number, msg.strip())
            f.tlb_via_cmdline = bool(m.group(2))
            return True
        if msg.startswith("Linux version"):
            return self._version(number, msg, col, end)
        m = _CMDLINE.match(msg)
        if m:
            # init/main.c prints the line the kernel parsed (bootconfig included): it wins.
            if f.cmdline is None or m.group(1).startswith("Kernel"):
                f.cmdline = Seen(m.group(2).strip(), number, msg.strip())
            return True
        return self._iommu(number, msg, col, end)

    def _group(self, number: int, msg: str, col: int, end: int) -> bool:
        f = self.facts
        m = _GROUP.match(msg)
        old = None if m else _GROUP_OLD.search(msg)
        if m:
            dev, adding, gid = m.group(2), m.group(7) == "Adding to", int(m.group(8))
        elif old:
            dev, adding, gid = old.group(2), old.group(1) == "Adding", int(old.group(3))
        else:
            return self._bad(number, col, end, "an IOMMU group line without a device and a number")
        pm = _PCI_ADDR.match(dev)
        if pm:
            addr = _addr(pm, 1)
            if addr[2] > 0x1F:
                return self._bad(number, col, end, f"'{dev}' is not a PCI address (device past 1f)")
            if adding:
                f.groups[addr] = (gid, number)
            elif f.groups.get(addr, (None, 0))[0] == gid:
                del f.groups[addr]
        elif adding:
            f.other_groups[dev] = (gid, number)
        else:
            f.other_groups.pop(dev, None)
        return True

    def _version(self, number: int, msg: str, col: int, end: int) -> bool:
        f = self.facts
        m = _VERSION.match(msg)
        if not m:
            return self._bad(number, col, end, "'Linux version' without a version number")
        major, minor = int(m.group(1)), int(m.group(2))
        if not 2 <= major <= 9:
            return self._bad(
                number,
                col,
                end,
                f"Linux {major}.{minor} is not a version the language accepts (2.6 .. 9.x)",
            )
        if f.anything:
            # A new boot (init/main.c prints the banner first): what the earlier boots said
            # is not this boot's; keep the last boot only.
            self.facts = f = DmesgFacts(lines=f.lines, boots=f.boots + 1)
        f.kernel = (major, minor)
        f.kernel_seen = Seen(f"{major}.{minor}", number, msg.strip())
        for pattern, arch in _ARCHES:
            if pattern.search(msg):
                f.arch = arch
                break
        return True

    def _iommu(self, number: int, msg: str, col: int, end: int) -> bool:
        f = self.facts

        def saw(kind: str, name: str) -> bool:
            f.evidence[kind] = f.evidence.get(kind, 0) + 1
            f.iommus.setdefault((kind, name), Seen(kind, number, msg.strip()))
            return True

        if _DMAR.search(msg):
            return saw("intel-vtd", "vtd")
        if _AMDVI.search(msg):
            return True if _AMDVI_ABSENT.search(msg) else saw("amd-vi", "amdvi")
        if _SMMU_TRIGGER.match(msg):
            m = _SMMU.match(msg)
            if not m:
                return self._bad(number, col, end, f"'{msg.split()[0]}' line without a device")
            key = (m.group(1), smmu_name(m.group(2)))
            for what, pattern in _SMMU_SIZES.items():
                size = pattern.search(msg)
                if size and key[0] == "arm-smmu":
                    seen = Seen(size.group(1), number, msg.strip())
                    f.smmu_sizes.setdefault(key, {})[what] = seen
            return saw(*key)
        return False


def smmu_name(device: str) -> str:
    """A rule-file name for an Arm SMMU from its device name: 12c00000.iommu is smmu_12c00000
    (the node's unit address), arm-smmu-v3.0.auto (ACPI IORT) is smmu_v3_0."""
    unit = re.match(r"([0-9a-fA-F]+)\.", device)
    if unit:
        return f"smmu_{unit.group(1).lower()}"
    tail = re.sub(r"^arm-smmu-?", "", device).removesuffix(".auto")
    word = re.sub(r"[^A-Za-z0-9]+", "_", tail).strip("_")
    return f"smmu_{word}" if word else "smmu"
