"""Snapshot a live Linux machine (or a copied tree) into a rule file.

Reads what the kernel already decided, so the rule file can record it as
expectations: /sys/kernel/iommu_groups/*/{devices,type,name}, the PCI devices
with their class, IDs and the bridge each sits below (from the
/sys/devices path), /sys/class/iommu (which IOMMU driver), /proc/cmdline, the
kernel release and RAM size.  ``root`` lets tests and users read a copied tree.
"""

from __future__ import annotations

import contextlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..diagnostics import Diagnostic, Span, error, warning
from ..fmt import format_text
from ..kinds import claiming_pci
from . import driver_packs, phb_name, unchecked, unique_name
from .listing import class_info

TYPES = {
    "DMA": "dma",
    "DMA-FQ": "dma-fq",
    "identity": "identity",
    "blocked": "blocked",
    "unmanaged": "unmanaged",
}
BDF = re.compile(r"^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$")
ARCHES = {
    "x86_64": "x86_64",
    "aarch64": "arm64",
    "arm64": "arm64",
    "riscv64": "riscv64",
    "s390x": "s390",
    "ppc64le": "powerpc",
    "ppc64": "powerpc",
    "ppc": "powerpc",  # e500mc, the PAMU's cores
}
# arch/powerpc/kernel/iommu.c: iommu_register_group names each POWER group after its PE,
# "domain%d-pe%lx" (the PCI domain in decimal, the PE number in hex)
PE_NAME = re.compile(r"^domain(\d+)-pe([0-9a-f]+)$")


# PCI Express Capabilities register, Device/Port Type (bits 7:4): pci_pcie_type()
EXPRESS_TYPES = {
    0x0: "endpoint",
    0x1: "legacy-endpoint",
    0x4: "root-port",
    0x5: "upstream-port",
    0x6: "downstream-port",
    0x7: "pci-bridge",
    0x8: "pcie-bridge",
    0x9: "rc-endpoint",
    0xA: "rc-event-collector",
}
ACS_BITS = ("sv", "tb", "rr", "cr", "uf", "ec", "dt")  # PCI_ACS_SV .. PCI_ACS_DT


@dataclass(frozen=True)
class Config:
    """What a function's config space says (/sys/bus/pci/devices/*/config): the header's
    multifunction bit, the Express type ('' where the capability list has none; None
    where it could not be read, as a user reads only the first 64 bytes) and the ACS
    registers (None without the extended capability, or where it could not be read)."""

    multifunction: bool | None = None
    express: str | None = None
    acs: tuple[tuple[str, ...], tuple[str, ...]] | None = None
    extended: bool = False  # the extended space (0x100..) was readable


def read_config(data: bytes) -> Config:
    """Parse config space as pci_setup_device and pci_find_(ext_)capability read it."""
    if len(data) < 0x40:
        return Config()

    def u16(at: int) -> int:
        return int.from_bytes(data[at : at + 2], "little")

    def u32(at: int) -> int:
        return int.from_bytes(data[at : at + 4], "little")

    multifunction = bool(data[0x0E] & 0x80)
    if len(data) <= 0x40 or not u16(0x06) & 0x10:  # no capability list, or not readable
        return Config(multifunction, None if len(data) <= 0x40 else "")
    express = ""
    ptr, seen = data[0x34] & ~3, 0
    while 0x40 <= ptr < min(len(data), 0x100) - 2 and seen < 48:
        if data[ptr] == 0x10:  # PCI_CAP_ID_EXP
            express = EXPRESS_TYPES.get((u16(ptr + 2) >> 4) & 0xF, "")
            break
        ptr, seen = data[ptr + 1] & ~3, seen + 1
    if len(data) < 0x104:
        return Config(multifunction, express)
    acs = None
    at, seen = 0x100, 0
    while 0x100 <= at < len(data) - 8 and seen < 96:
        header = u32(at)
        if header in (0, 0xFFFFFFFF):
            break
        if header & 0xFFFF == 0x000D:  # PCI_EXT_CAP_ID_ACS
            cap, ctl = u16(at + 4), u16(at + 6)
            acs = (
                tuple(b for i, b in enumerate(ACS_BITS) if cap & (1 << i)),
                tuple(b for i, b in enumerate(ACS_BITS) if ctl & (1 << i)),
            )
            break
        at, seen = (header >> 20) & 0xFFC, seen + 1
    return Config(multifunction, express, acs, True)


@dataclass
class Snapshot:
    text: str
    diagnostics: list[Diagnostic] = field(default_factory=list)


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return None


def _where(pci: str) -> str:
    """The bus/device/function part of a name, with the PCI domain when it is not 0000
    (machines with several host bridges reuse bus numbers in each)."""
    where = pci[5:] if pci.startswith("0000:") else pci
    return where.replace(":", "_").replace(".", "_")


def _name(pci: str, klass: str, used: set[str]) -> str:
    stem, _tags = class_info(klass[:4])
    return unique_name(f"{stem}_{_where(pci)}", used)


BRIDGE_KINDS = {
    "root-port": "root-port",
    "upstream-port": "upstream-port",
    "downstream-port": "downstream-port",
    "pci-bridge": "pci-bridge",
    "pcie-bridge": "pcie-bridge",
    "": "conventional-bridge",
}


def _function_props(
    bdf: str,
    cfg: Config,
    drivers: dict[str, str],
    slots: dict[tuple[str, str | None], int],
    parent: str | None,
    bridge: bool = False,
) -> str:
    """The facts config space and the driver link give, as properties: a device's Express
    type, the multifunction bit where the functions present do not already say it, the ACS
    registers, the driver bound."""
    out = []
    if not bridge and cfg.express is not None:
        out.append(f"pcie {cfg.express or 'none'}")
    inferred = slots.get((bdf[:-2], parent), 1) > 1 or not bdf.endswith(".0")
    # pci_scan_slot sets dev->multifunction on every function but 0 whatever its header
    # says; only function 0's header bit is the kernel's input.
    if bdf.endswith(".0") and cfg.multifunction is not None and cfg.multifunction != inferred:
        out.append(f"multifunction {'yes' if cfg.multifunction else 'no'}")
    if cfg.acs is not None:
        cap, ctl = cfg.acs
        out.append(f"acs cap {' '.join(cap) or 'none'} ctl {' '.join(ctl) or 'none'}")
    driver = drivers.get(bdf)
    if driver:
        out.append(
            f"bound {driver}" if re.fullmatch(r"[A-Za-z_][\w-]*", driver) else f'bound "{driver}"'
        )
    return "".join(f"; {p}" for p in out)


def snapshot(root: str = "/") -> Snapshot:
    """A formatted rule file describing the machine under ``root``; never raises."""
    base = Path(root)
    diags: list[Diagnostic] = []
    where = Span(str(base), 0, 0, 0, 0)
    groups_dir = base / "sys/kernel/iommu_groups"
    pci_dir = base / "sys/bus/pci/devices"
    if not pci_dir.is_dir() and not groups_dir.is_dir():
        return Snapshot(
            "",
            [
                error(
                    "E802",
                    f"no /sys tree under '{root}'",
                    where,
                    help="run on a Linux machine, or give --root a copied tree",
                )
            ],
        )
    release = _read(base / "proc/sys/kernel/osrelease") or ""
    m = re.match(r"(\d+)\.(\d+)", release)
    kernel = f"{m.group(1)}.{m.group(2)}" if m else None
    arch = ARCHES.get(_read(base / "proc/sys/kernel/arch") or "")
    if arch is None and root == "/":
        arch = ARCHES.get(os.uname().machine)
    cmdline = _read(base / "proc/cmdline")
    meminfo = _read(base / "proc/meminfo") or ""
    mem = re.search(r"MemTotal:\s+(\d+) kB", meminfo)

    # IOMMU drivers from /sys/class/iommu: dmar* = VT-d, ivhd* = AMD-Vi, riscv-iommu@* (the
    # name riscv_iommu_init gives iommu_device_sysfs_add), anything else an SMMUv3
    iommus: list[tuple[str, str]] = []
    class_dir = base / "sys/class/iommu"
    # s390-iommu.<fid> is one per zPCI function (zpci_init_iommu): one `s390-iommu`
    # stands for them all, as it claims every PCI function.
    prefixes = {
        "dmar": "intel-vtd",
        "ivhd": "amd-vi",
        "riscv-iommu@": "riscv-iommu",
        "s390-iommu.": "s390-iommu",
        "iommu-phb": "spapr-tce",
    }
    for entry in sorted(class_dir.iterdir()) if class_dir.is_dir() else []:
        kind = next((k for p, k in prefixes.items() if entry.name.startswith(p)), "arm-smmu-v3")
        if kind == "spapr-tce":
            continue  # one per PHB, 6.4+: declared below from the groups' PE names
        if entry.name == "iommu0" and arch == "powerpc":
            # pamu_domain_init: iommu_device_sysfs_add(&pamu_iommu, NULL, NULL, "iommu0")
            iommus.append(("pamu", "fsl-pamu"))
            continue
        if kind == "s390-iommu":
            if not any(k == kind for _n, k in iommus):
                iommus.append(("zpci", kind))
            continue
        iommus.append((re.sub(r"[^A-Za-z0-9_]", "_", entry.name), kind))
    # groups: member -> (group id, type, name)
    member_group: dict[str, tuple[int, str | None, str | None]] = {}
    for gdir in (
        sorted(groups_dir.iterdir(), key=lambda p: int(p.name) if p.name.isdigit() else 1 << 30)
        if groups_dir.is_dir()
        else []
    ):
        if not gdir.name.isdigit():
            continue
        gtype = TYPES.get(_read(gdir / "type") or "")
        gname = _read(gdir / "name")
        for dev in sorted((gdir / "devices").iterdir()) if (gdir / "devices").is_dir() else []:
            member_group[dev.name] = (int(gdir.name), gtype, gname)
    # POWER: every group is a PE, named after it, in every era (before 6.4 there is no
    # /sys/class/iommu entry at all): one spapr-tce per PHB, and each function's PE
    pes: dict[str, tuple[int, int]] = {}  # member -> (PCI domain, PE number)
    for member, (_gid, _gtype, gname) in member_group.items():
        named = PE_NAME.match(gname or "")
        if named is not None:
            pes[member] = (int(named.group(1)), int(named.group(2), 16))
    for domain in sorted({d for d, _pe in pes.values()}):
        iommus.append((phb_name(domain), "spapr-tce"))
    if pes:
        arch = arch or "powerpc"
    if not iommus and groups_dir.is_dir() and any(groups_dir.iterdir()):
        diags.append(
            warning(
                "W802",
                "IOMMU groups exist but /sys/class/iommu is empty; assuming one intel-vtd",
                where,
            )
        )
        iommus.append(("iommu0", "intel-vtd"))
    if not iommus and pci_dir.is_dir() and arch in (None, "x86_64"):
        # No IOMMU on this boot (off in firmware or on the command line): the host bridge's
        # vendor says which one the machine has, so the board can still ask what the groups
        # would be (`whatif --set 'cmdline "intel_iommu=on"'`)
        host = _read(pci_dir / "0000:00:00.0" / "vendor")
        vendor = {"0x8086": ("dmar0", "intel-vtd"), "0x1022": ("ivhd0", "amd-vi")}.get(host or "")
        if vendor is not None:
            iommus.append(vendor)
            diags.append(
                warning(
                    "W806",
                    f"no IOMMU is on in this boot (no /sys/class/iommu, no groups); the host "
                    f"bridge's vendor says {vendor[1]}: the groups are the engine's, not "
                    "observed",
                    where,
                    help="boot with the IOMMU on to record the kernel's own groups",
                )
            )

    # PCI devices, their class and the bridge above them
    used: set[str] = set()
    names: dict[str, str] = {}
    rows: list[tuple[str, str, str, str, str | None]] = []  # (bdf, class, vid, did, parent)
    configs: dict[str, Config] = {}
    drivers: dict[str, str] = {}
    for entry in sorted(pci_dir.iterdir()) if pci_dir.is_dir() else []:
        if not BDF.match(entry.name):
            continue
        klass = (_read(entry / "class") or "0x000000")[2:6]
        vid = (_read(entry / "vendor") or "0x0000")[2:]
        did = (_read(entry / "device") or "0x0000")[2:]
        parent = None
        try:
            real = Path(os.path.realpath(entry))
            up = real.parent.name
            parent = up if BDF.match(up) else None
        except OSError:
            pass
        try:
            configs[entry.name] = read_config((entry / "config").read_bytes()[:4096])
        except OSError:
            configs[entry.name] = Config()
        with contextlib.suppress(OSError):
            drivers[entry.name] = Path(os.readlink(entry / "driver")).name
        rows.append((entry.name, klass, vid, did, parent))
    unread = sum(1 for c in configs.values() if c.express is None)
    if unread:
        diags.append(
            warning(
                "W805",
                f"the config space of {unread} of {len(configs)} PCI functions could not be "
                "read (as a user, only its first 64 bytes): their PCI Express type and ACS "
                "registers are left to the quirk tables; run as root for them",
                where,
            )
        )
    bridges = {bdf for bdf, klass, *_ in rows if klass == "0604"}
    for bdf, klass, *_ in rows:
        names[bdf] = (
            unique_name(f"rp_{_where(bdf)}", used) if bdf in bridges else _name(bdf, klass, used)
        )

    out = [
        f"# Snapshot of {'this machine' if root == '/' else root} by iommu-rules snapshot.",
        "# Expectations record what the running kernel decided (iommu_groups/*/type).",
        'include "std/linux"',
        *driver_packs(kind for _name, kind in iommus),
    ]
    if cmdline and "pcie_acs_override=" in cmdline:
        # The option exists only with the out-of-tree ACS override patch; without the pack
        # the resolver would ignore it (W221) and group as a stock kernel does.
        out += [
            "# /proc/cmdline asks for pcie_acs_override=: this kernel carries the",
            "# out-of-tree ACS override patch.",
            'include "std/pci/acs-override"',
        ]
    out += [
        "",
        "platform {",
        f"    arch {arch or 'x86_64'}" + ("" if arch else "  # unknown: a guess"),
        f"    kernel {kernel}" if kernel else "    # kernel: unknown (no osrelease)",
    ]
    if mem:
        out.append(f"    ram {int(mem.group(1)) // 1024}M  # MemTotal")
    if cmdline:
        out.append(f'    cmdline "{cmdline.replace(chr(34), chr(39))}"')
    out.append("}")
    first_mapped = next(
        (n for n, kind in iommus if kind not in claiming_pci() and kind != "spapr-tce"), None
    )
    for name, kind in iommus:
        if name == first_mapped:
            # PCI functions reach a DT-described IOMMU through the host bridge's iommu-map,
            # which sysfs does not show: stream ID = requester ID is assumed, on the first
            out.append(
                f"iommu {name}: {kind} {{\n"
                "    map rid 0x0 sid 0x0 length 0x10000  # assumed: sysfs shows no iommu-map\n}"
            )
            diags.append(
                warning(
                    "W804",
                    f"'{name}' ({kind}) reaches PCI functions through an iommu-map that sysfs "
                    "does not show; stream ID = requester ID is assumed",
                    where,
                )
            )
        else:
            out.append(f"iommu {name}: {kind}")
    slots: dict[tuple[str, str | None], int] = {}
    for bdf, _klass, _vid, _did, parent in rows:
        slots[(bdf[:-2], parent)] = slots.get((bdf[:-2], parent), 0) + 1
    for bdf, _klass, vid, did, parent in rows:
        if bdf not in bridges:
            continue
        cfg = configs.get(bdf, Config())
        guess = "root-port" if bdf[5:7] == "00" else "switch-port"
        kind = BRIDGE_KINDS.get(cfg.express, guess) if cfg.express is not None else guess
        up = f"; upstream {names[parent]}" if parent in bridges else ""
        props = _function_props(bdf, cfg, drivers, slots, parent, bridge=True)
        note = "" if cfg.acs is not None else "  # ACS: a quirk for its IDs, or no capability"
        out.append(f'bridge {names[bdf]}: {kind} "pci{vid},{did}" {{ pci {bdf}{up}{props} }}{note}')
    for bdf, klass, vid, did, parent in rows:
        if bdf in bridges:
            continue
        tags = ", ".join(class_info(klass)[1] or ("dev",))
        up = f"; upstream {names[parent]}" if parent in bridges else ""
        if bdf in pes:
            domain, pe = pes[bdf]
            up += f"; iommu {phb_name(domain)} sid {pe:#x}"
        props = _function_props(bdf, configs.get(bdf, Config()), drivers, slots, parent)
        # the Open Firmware PCI binding's class compatible, as `import listing` writes it:
        # packs select classes by it (amd-vi's own function, intel-vtd's display functions)
        klass_compat = f', "pciclass,{klass}"' if klass != "0000" else ""
        out.append(
            f'device {names[bdf]}: "pci{vid},{did}"{klass_compat} '
            f"{{ tags {tags}; pci {bdf}{up}{props} }}"
        )
    by_group: dict[int, list[str]] = {}
    gtypes: dict[int, str | None] = {}
    for member, (gid, gtype, _gname) in member_group.items():
        if member in names:  # a bridge is a group member like any function
            by_group.setdefault(gid, []).append(names[member])
            gtypes[gid] = gtype
        elif member not in names:
            diags.append(
                warning(
                    "W803",
                    f"group {gid} member '{member}' is not a PCI device "
                    "this snapshot describes; skipped",
                    where,
                )
            )
    for gid in sorted(by_group):
        members = sorted(by_group[gid])
        out.append(
            f"expect {members[0]}.group_members == [{', '.join(members)}]"
            f"  # observed: /sys/kernel/iommu_groups/{gid}"
        )
        if gtypes.get(gid):
            out.append(
                f"expect {members[0]}.default_domain == {gtypes[gid]}"
                f"  # observed: iommu_groups/{gid}/type"
            )
    if member_group:
        # A function the running kernel put in no group while others have one was never
        # probed by the IOMMU: firmware left it out of the DMAR/IVRS scope (an AMD root
        # complex 00:00.0 often is), which no sysfs file states. It runs untranslated.
        # amd-vi's own function (class 0806) is refused by the driver itself, as modelled.
        own = "amd-vi" in {kind for _n, kind in iommus}
        for bdf, klass, *_ in rows:
            if bdf in member_group or (own and klass == "0806"):
                continue
            out.append(
                f'rule "{bdf} is in no IOMMU group on this machine": {names[bdf]} '
                "excludes iommu  # observed: no iommu_group link; firmware scope"
            )
    text = "\n".join(out) + "\n"
    try:
        text = format_text(text, "<snapshot>")
    except Exception as exc:  # the generated text must parse; report rather than crash
        diags.append(error("E803", f"the generated rule file does not parse: {exc}", where))
        return Snapshot(text, diags)
    refused = unchecked(text, Path.cwd() / "snapshot.iommu")
    if refused is not None:  # never hand the user a file that `check` rejects: a bug
        diags.append(error("E803", f"the generated rule file does not check: {refused}", where))
    return Snapshot(text, diags)
