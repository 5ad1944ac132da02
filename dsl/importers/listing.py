"""Import the IOMMU-group listings, kernel logs and lspci trees people post into a rule file.

VFIO and passthrough threads are full of the output of the Arch-wiki loop over
/sys/kernel/iommu_groups (``IOMMU Group 1 00:01.0 PCI bridge [0604]: ...``, flat
or as a header with indented devices), of plain ``lspci -nn``, of ``dmesg``
excerpts (``Adding to iommu group N``, ``DMAR: ...``, ``Default domain type``)
and of ``lspci -tv`` trees.  Each shows part of the machine: a listing has
names, classes and groups but no topology; a tree has the topology but no
classes; a kernel log has groups, the kernel, the command line and the IOMMU.
They are read line by line, whatever mix a file holds (dmesg.py and
lspci_tree.py read their own lines), merged by PCI address, and rendered once,
with the observed groups and default domain type as expectations.  Where ACS
is not shown, the importer says so instead of guessing.  It never raises:
whatever it cannot read becomes a W801 warning pointing at the line.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..diagnostics import Diagnostic, DiagnosticError, Span, error, warning
from ..fmt import format_text
from ..grammar import keywords
from . import driver_packs, phb_name, unchecked
from .dmesg import DmesgFacts, DmesgReader, Seen, looks_like_dmesg
from .lspci_details import ADDRESSES, SYSFS_HEADER, SYSFS_LINK, Detail, detail
from .lspci_tree import TreeReader

__all__ = ["ImportResult", "import_listing", "import_listings"]

# A line longer than this is not lspci output; skipping it keeps the regexes cheap.
MAX_LINE = 4096
# Past this many W801 warnings in one file, one summary stands for the rest (binary garbage).
MAX_WARNINGS = 50
# More PCI functions than any real machine shows in a posted listing.
MAX_DEVICES = 8192

_HEX4 = "[0-9a-fA-F]{4}"
_GROUP = re.compile(r"(?:iommu\s+)?group\s+(\d{1,9})\b\s*:?\s*", re.IGNORECASE)
_ADDR = re.compile(
    r"(?:(?P<dom>[0-9a-fA-F]{4}):)?(?P<bus>[0-9a-fA-F]{2}):(?P<dev>[0-9a-fA-F]{2})"
    r"\.(?P<fn>[0-7])(?=\s)"
)
# "VGA compatible controller [0300]: NVIDIA ..." (lspci -nn; ls-iommu omits the colon)
_CLASS = re.compile(rf"(?P<cname>[^\[\]:]*)\[(?P<cls>{_HEX4})\]\s*:?\s*")
# "[10de:1b81] VGA compatible controller: NVIDIA ..." (scripts that print the ID first)
_ID_FIRST = re.compile(rf"\[(?P<vid>{_HEX4}):(?P<did>{_HEX4})\]\s+(?P<cname>[^\[\]:]+):\s*")
_ID = re.compile(rf"\[({_HEX4}):({_HEX4})\]")
# Lines lspci -k and Markdown add around devices, and the "..." of a shortened post:
# known, nothing to import.
_IGNORED = re.compile(
    r"(?:subsystem|kernel driver in use|kernel modules)\s*:|```|~~~|(?:\.{3,}|…)\s*$",
    re.IGNORECASE,
)
# an lspci -v detail line: "Control: I/O- Mem+", "Kernel modules: nvme", "Region 0: ..."
_DETAIL = re.compile(r"^[A-Za-z][A-Za-z0-9 ./()#+_-]{0,40}:(?:\s|$)")
_PCI_TO_PCI = re.compile(r"pci-to-pci|pci(?:e| express)[- ]to[- ]pci(?!e| express)", re.I)
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(-[A-Za-z0-9_]+)*")

# Class names for listings that print no class code.
CLASS_NAMES = {
    "vga compatible controller": "0300",
    "3d controller": "0302",
    "display controller": "0380",
    "audio device": "0403",
    "multimedia audio controller": "0401",
    "non-volatile memory controller": "0108",
    "sata controller": "0106",
    "raid bus controller": "0104",
    "usb controller": "0c03",
    "ethernet controller": "0200",
    "network controller": "0280",
    "pci bridge": "0604",
    "host bridge": "0600",
    "isa bridge": "0601",
    "smbus": "0c05",
}

# class code -> (name stem, tags).  Stems are words that are not keywords and not the
# selector words the language reads as keywords (all, untrusted, on, kind, pci, ...).
CLASSES: dict[str, tuple[str, tuple[str, ...]]] = {
    "0100": ("scsi", ("storage",)),
    "0101": ("ide", ("storage",)),
    "0104": ("raid", ("storage",)),
    "0106": ("sata", ("sata", "storage")),
    "0107": ("sas", ("storage",)),
    "0108": ("nvme", ("nvme", "storage")),
    "0180": ("storage", ("storage",)),
    "0200": ("net", ("network",)),
    "0280": ("wlan", ("network",)),
    "0300": ("gpu", ("gpu",)),
    "0302": ("gpu", ("gpu",)),
    "0380": ("gpu", ("gpu",)),
    "0400": ("video", ("video",)),
    "0401": ("audio", ("audio",)),
    "0403": ("audio", ("audio",)),
    "0480": ("media", ("media",)),
    "0500": ("ram", ("chipset",)),
    "0580": ("memctl", ("chipset",)),
    "0600": ("host", ("chipset",)),
    "0601": ("lpc", ("lpc",)),
    "0680": ("bridge", ("chipset",)),
    "0700": ("serial", ("serial",)),
    "0780": ("comm", ("chipset",)),
    "0805": ("sdhci", ("storage",)),
    "0806": ("iommu_fn", ("chipset",)),
    "0880": ("sysdev", ("chipset",)),
    "0c03": ("usb", ("usb",)),
    "0c05": ("smbus", ("smbus",)),
    "0c80": ("serialbus", ("serialbus",)),
    "1080": ("crypto", ("crypto",)),
    "1180": ("signal", ("chipset",)),
    "1200": ("accel", ("accel",)),
}
# By base class, for subclasses not listed above.
BASE_CLASSES: dict[str, tuple[str, tuple[str, ...]]] = {
    "01": ("storage", ("storage",)),
    "02": ("net", ("network",)),
    "03": ("gpu", ("gpu",)),
    "04": ("media", ("media",)),
    "05": ("mem", ("chipset",)),
    "06": ("bridge", ("chipset",)),
    "07": ("comm", ()),
    "08": ("sysdev", ("chipset",)),
    "0c": ("serialbus", ()),
}
BRIDGE_CLASSES = {"0604", "0609"}
ACS_UNKNOWN = "# ACS unknown: a quirk for its IDs, or say 'acs yes' or 'acs no'"
GPU_CLASSES = {"0300", "0302", "0380"}
# The compatible of a function whose vendor and device IDs no input shows.
UNKNOWN_ID = "pci-unknown"
# What each kind of input is called in the header.
KINDS = {
    "groups": "an 'IOMMU Group' listing",
    "lspci": "lspci -nn lines",
    "dmesg": "a kernel log",
    "tree": "an lspci -t tree",
    "details": "lspci -vvv or -k details",
}


@dataclass(frozen=True)
class ImportResult:
    """A formatted rule file ('' when nothing was found) and what the import skipped."""

    text: str
    diagnostics: list[Diagnostic] = field(default_factory=list)


@dataclass(frozen=True)
class _At:
    """Where a fact was read: file and line."""

    source: str
    line: int

    def __str__(self) -> str:
        return f"{self.source}:{self.line}"


@dataclass
class _Fn:
    """One PCI function, merged from every input that shows it."""

    domain: int
    bus: int
    dev: int
    fn: int
    cls: str = ""  # '' when no input shows the class
    cname: str = ""
    vid: str = ""  # '' when no input shows the IDs
    did: str = ""
    desc: str = ""
    line: int = 0
    source: str = ""
    group: int | None = None
    group_at: _At | None = None
    name: str = ""
    acs_note: str = ""
    secondary: tuple[int, int] | None = None  # a bridge's bus range (tree, kernel log)
    parent: str | None = None  # the address of the bridge above it
    parent_known: bool = False  # whether `parent` (None: a root bus) is known
    parent_at: _At | None = None
    acs_deduced: str = ""  # why the observed groups say this bridge's path has ACS
    acs_none: str = ""  # why the observed groups say this bridge has no ACS
    parent_note: str = ""  # why `upstream` was inferred
    # from lspci -vvv / -k: the Express port type ('' without the capability), the ACS
    # registers, the driver bound, and whether the capabilities were readable at all
    express: str | None = None
    acs_cap: tuple[str, ...] | None = None
    acs_ctl: tuple[str, ...] | None = None
    driver: str = ""
    caps_seen: bool = False
    caps_denied: bool = False
    ids_at: _At | None = None
    pe: int | None = None  # the POWER PE the kernel log puts it in

    @property
    def addr(self) -> str:
        return f"{self.domain:04x}:{self.bus:02x}:{self.dev:02x}.{self.fn}"

    @property
    def slot(self) -> tuple[int, int, int]:
        return (self.domain, self.bus, self.dev)

    @property
    def is_bridge(self) -> bool:
        return self.cls in BRIDGE_CLASSES or self.secondary is not None


def _clean(text: str) -> str:
    """Printable one-line text for a comment: a listing may hold anything."""
    text = " ".join(text.split())
    return "".join(ch if ch.isprintable() else "?" for ch in text)


def _short(addr: str) -> str:
    """bb:dd.f as lspci prints it, with the domain only when it is not 0000."""
    return addr[5:] if addr.startswith("0000:") else addr


def _fmt_addr(domain: int, bus: int, dev: int, fn: int) -> str:
    return f"{domain:04x}:{bus:02x}:{dev:02x}.{fn}"


def _comment(text: str, width: int = 100) -> list[str]:
    """Comment lines within the format's width; continuation lines are indented."""
    lines = textwrap.wrap(
        text, width, initial_indent="# ", subsequent_indent="#   ", break_long_words=True
    )
    return lines or ["#"]


def _parse_device(rest: str, line: int) -> _Fn | str:
    """A function from the text after any group prefix, or why it is not one."""
    m = _ADDR.match(rest)
    if not m:
        return "unrecognised line"
    if int(m.group("dev"), 16) > 0x1F:
        return f"'{m.group(0)}' is not a PCI address (device past 1f)"
    after = rest[m.end() :].lstrip()
    vid = did = ""
    cm = _CLASS.match(after)
    if cm:
        cls = cm.group("cls").lower()
        cname = cm.group("cname").strip()
        desc = after[cm.end() :]
    else:
        im = _ID_FIRST.match(after)
        if not im:
            return f"PCI address {m.group(0)} without a class code [cccc]: use 'lspci -nn'"
        cname = im.group("cname").strip()
        cls = CLASS_NAMES.get(cname.lower(), "0000")
        vid, did = im.group("vid").lower(), im.group("did").lower()
        desc = after[im.end() :]
    if not vid:
        ids = list(_ID.finditer(desc))
        if not ids:
            return f"PCI address {m.group(0)} without a [vendor:device] ID: use 'lspci -nn'"
        last = ids[-1]
        vid, did = last.group(1).lower(), last.group(2).lower()
        desc = desc[: last.start()] + desc[last.end() :]
    return _Fn(
        domain=int(m.group("dom") or "0", 16),
        bus=int(m.group("bus"), 16),
        dev=int(m.group("dev"), 16),
        fn=int(m.group("fn")),
        cls=cls,
        cname=_clean(cname),
        vid=vid,
        did=did,
        desc=_clean(desc),
        line=line,
    )


class _Reader:
    """All inputs, line by line: trees, kernel-log lines, group headers, flat group lines,
    lspci lines, and the rest; what they say is merged into one function per address."""

    def __init__(self) -> None:
        self.diags: list[Diagnostic] = []
        self.fns: dict[str, _Fn] = {}
        self.logs: list[tuple[str, DmesgFacts]] = []
        self.kinds: dict[str, set[str]] = {}  # source -> kinds of input seen in it
        self.texts: dict[str, list[str]] = {}
        self.buses: dict[tuple[int, int], str] = {}  # (domain, secondary bus) -> bridge
        self.source = ""
        self.skipped = 0
        self.first_unshown: Span | None = None

    # -- diagnostics --------------------------------------------------------------------
    def warn(self, line: int, col: int, end_col: int, message: str) -> None:
        self.skipped += 1
        span = Span(self.source, line, col, line, max(end_col, col + 1))
        if self.skipped > MAX_WARNINGS:
            self.first_unshown = self.first_unshown or span
            return
        self.diags.append(warning("W801", f"{message}; line skipped", span))

    def skip(self, line: int, text: str, message: str) -> None:
        """A W801 spanning the line without its surrounding blanks."""
        start = len(text) - len(text.lstrip())
        end = len(text.rstrip())
        self.warn(line, start + 1, max(end, start + 1) + 1, message)

    def conflict(self, at: _At, message: str) -> None:
        """A W801 for a fact that contradicts an earlier one (which is kept)."""
        lines = self.texts.get(at.source, [])
        text = lines[at.line - 1] if 0 < at.line <= len(lines) else ""
        source, self.source = self.source, at.source
        self.skip(at.line, text, message)
        self.source = source

    # -- reading ------------------------------------------------------------------------
    def read(self, source: str, text: str) -> None:
        self.source, self.skipped, self.first_unshown = source, 0, None
        lines = text.splitlines()
        self.texts[source] = lines
        kinds = self.kinds.setdefault(source, set())
        # A kernel log is mostly about other things: in one, lines no reader knows are
        # skipped without a word.  Only what starts like a listing line is reported.
        is_log = any(len(raw) <= MAX_LINE and looks_like_dmesg(raw) for raw in lines)
        tree = TreeReader(self.warn)
        log = DmesgReader(self.warn)
        current: int | None = None
        last: _Fn | None = None  # the function whose lspci -vvv / -k lines follow
        sysfs: int | None = None  # the group an `ls .../iommu_groups/N/devices:` header opened
        for number, raw in enumerate(lines, start=1):
            stripped = raw.strip()
            if not stripped:
                current = sysfs = last = None  # a blank line ends a block
                continue
            if len(raw) > MAX_LINE:
                self.skip(number, raw, "line too long for lspci output")
                continue
            if self.sysfs_line(stripped, number, sysfs):
                kinds.add("groups")
                continue
            if (header := SYSFS_HEADER.match(stripped)) is not None:
                sysfs = int(header.group(1))
                continue
            if last is not None and raw[:1] in " \t" and not _ADDR.match(stripped):
                fact = detail(stripped)
                if (
                    fact.kind != "other"
                    or _DETAIL.match(stripped)
                    or raw.startswith(("\t\t", " " * 8))
                ):
                    self.detail(last, fact, number)
                    kinds.add("details")
                    continue
            if _IGNORED.match(stripped) or tree.feed(number, raw) or log.feed(number, raw):
                continue
            gm = _GROUP.match(stripped)
            rest = stripped[gm.end() :] if gm else stripped
            group = int(gm.group(1)) if gm else current
            if gm and not rest:
                current = int(gm.group(1))
                continue
            parsed = _parse_device(rest, number)
            if isinstance(parsed, str):
                if parsed == "unrecognised line" and is_log and not gm:
                    continue
                if gm and parsed == "unrecognised line":
                    parsed = f"'{gm.group(0).strip()}' is not followed by a PCI device"
                self.skip(number, raw, parsed)
                continue
            parsed.group = group
            parsed.source = source
            kinds.add("groups" if group is not None else "lspci")
            self.add(parsed, raw)
            last = self.fns.get(parsed.addr)
        self.merge_buses()
        if tree.lines:
            kinds.add("tree")
            self.merge_tree(tree)
        if log.facts.lines:
            kinds.add("dmesg")
            self.merge_log(log.facts)
        if self.first_unshown is not None:
            more = self.skipped - MAX_WARNINGS
            self.diags.append(
                warning(
                    "W801",
                    f"{more} more line{'s' if more > 1 else ''} skipped from here on, "
                    "not shown one by one",
                    self.first_unshown,
                )
            )

    def sysfs_line(self, text: str, number: int, group: int | None) -> bool:
        """`find /sys/kernel/iommu_groups/ -type l` lines, and the addresses below an `ls`
        header: each function by address, in its group."""
        link = SYSFS_LINK.match(text)
        if link is not None:
            found = [(int(link.group(1)), link.group(2))]
        elif group is not None and ADDRESSES.match(text):
            found = [(group, a) for a in text.split()]
        else:
            return False
        at = _At(self.source, number)
        for gid, addr in found:
            fn = self.function(addr if addr.count(":") == 2 else "0000:" + addr, at)
            if fn is not None:
                self.group(fn, gid, at)
        return True

    def detail(self, fn: _Fn, d: Detail, number: int) -> None:
        """One lspci -vvv / -k line about the function above it."""
        at = _At(self.source, number)
        if d.kind == "express" and isinstance(d.value, str):
            fn.express, fn.caps_seen = d.value, True
        elif d.kind == "capability":
            fn.caps_seen = True
        elif d.kind == "denied":
            fn.caps_denied = True
        elif d.kind == "acs_cap" and isinstance(d.value, tuple):
            fn.acs_cap = d.value
        elif d.kind == "acs_ctl" and isinstance(d.value, tuple):
            fn.acs_ctl = d.value
        elif d.kind == "bus" and isinstance(d.value, tuple):
            _primary, secondary, subordinate = d.value
            fn.secondary = fn.secondary or (secondary, subordinate)
            self.buses[(fn.domain, secondary)] = fn.addr
        elif d.kind == "driver" and isinstance(d.value, str):
            fn.driver = d.value
        elif d.kind == "group" and isinstance(d.value, int):
            self.group(fn, d.value, at)

    def merge_buses(self) -> None:
        """Bus numbers from lspci -vvv's 'Bus: primary= secondary=' lines: a function on a
        bridge's secondary bus is below it (drivers/pci/probe.c: pci_scan_bridge); once the
        input shows bridges' buses, one on a bus no bridge has is on a root bus."""
        if not self.buses:
            return
        for fn in self.fns.values():
            if fn.parent_known:
                continue
            above = self.buses.get((fn.domain, fn.bus))
            at = _At(fn.source, fn.line)
            if above is not None and above != fn.addr:
                self.parent(fn, above, at)
            elif fn.bus == 0:
                self.parent(fn, None, at)

    def function(self, addr: str, at: _At) -> _Fn | None:
        """The merged record for an address, created on first sight."""
        fn = self.fns.get(addr)
        if fn is None:
            if len(self.fns) >= MAX_DEVICES:
                self.conflict(at, f"more than {MAX_DEVICES} PCI functions")
                return None
            d, b, rest = addr.split(":")
            dev, func = rest.split(".")
            fn = _Fn(int(d, 16), int(b, 16), int(dev, 16), int(func), line=at.line)
            fn.source = at.source
            self.fns[addr] = fn
        return fn

    def add(self, fn: _Fn, raw: str) -> None:
        """A function from a listing line: names, class and IDs, and its group."""
        at = _At(self.source, fn.line)
        old = self.fns.get(fn.addr)
        if old is None:
            if len(self.fns) >= MAX_DEVICES:
                self.skip(fn.line, raw, f"more than {MAX_DEVICES} PCI functions")
                return
            fn.group_at = at if fn.group is not None else None
            self.fns[fn.addr] = fn
            return
        self.ids(old, fn.vid, fn.did, at)
        if not old.cls or old.cls == "0000":
            old.cls = fn.cls
        old.cname = old.cname or fn.cname
        old.desc = old.desc or fn.desc
        if fn.group is not None:
            self.group(old, fn.group, at)

    def ids(self, fn: _Fn, vid: str, did: str, at: _At) -> None:
        if not vid:
            return
        if not fn.vid:
            fn.vid, fn.did, fn.ids_at = vid, did, at
        elif (fn.vid, fn.did) != (vid, did):
            self.conflict(
                at,
                f"{fn.addr} is [{vid}:{did}] here but [{fn.vid}:{fn.did}] in "
                f"{fn.ids_at or _At(fn.source, fn.line)} (another machine?)",
            )

    def group(self, fn: _Fn, gid: int, at: _At) -> None:
        if fn.group is None:
            fn.group, fn.group_at = gid, at
        elif gid != fn.group:
            where = fn.group_at or _At(fn.source, fn.line)
            said = f"line {where.line}" if where.source == at.source else str(where)
            self.conflict(
                at,
                f"{fn.addr} is listed again in IOMMU group {gid} "
                f"({said} puts it in group {fn.group})",
            )

    def parent(self, fn: _Fn, parent: str | None, at: _At) -> None:
        if not fn.parent_known:
            fn.parent, fn.parent_known, fn.parent_at = parent, True, at
        elif fn.parent != parent:
            where = fn.parent_at or at
            self.conflict(
                at,
                f"{fn.addr} is below {parent or 'the root bus'} here but below "
                f"{fn.parent or 'the root bus'} in {where}",
            )

    def merge_tree(self, tree: TreeReader) -> None:
        for t in tree.fns.values():
            at = _At(self.source, t.line)
            fn = self.function(_fmt_addr(*t.addr), at)
            if fn is None:
                continue
            self.ids(fn, t.vid, t.did, at)
            fn.desc = fn.desc or _clean(t.desc)
            if t.secondary is not None:
                fn.secondary = fn.secondary or t.secondary
            if t.parent_known:
                self.parent(fn, _fmt_addr(*t.parent) if t.parent else None, at)

    def merge_log(self, facts: DmesgFacts) -> None:
        self.logs.append((self.source, facts))
        for addr4, seen in sorted(facts.pci.items()):
            at = _At(self.source, seen.line)
            fn = self.function(_fmt_addr(*addr4), at)
            if fn is None:
                continue
            self.ids(fn, seen.vid, seen.did, at)
            if not fn.cls or fn.cls == "0000":
                fn.cls = seen.cls
        for addr4, (pe, line) in sorted(facts.pes.items()):
            fn = self.function(_fmt_addr(*addr4), _At(self.source, line))
            if fn is not None:
                fn.pe = pe
        for addr4, (low, high, line) in facts.bridges.items():
            fn = self.function(_fmt_addr(*addr4), _At(self.source, line))
            if fn is not None and fn.secondary is None:
                fn.secondary = (low, high)
        for addr4, (gid, line) in sorted(facts.groups.items(), key=lambda kv: kv[1][1]):
            at = _At(self.source, line)
            fn = self.function(_fmt_addr(*addr4), at)
            if fn is not None:
                self.group(fn, gid, at)
        # The bus a function is on says which bridge it sits below: the one whose
        # secondary bus it is (drivers/pci/probe.c: pci_scan_bridge), or none on a root bus.
        below = {(a[0], low): _fmt_addr(*a) for a, (low, _high, _line) in facts.bridges.items()}
        for addr4 in set(facts.pci) | set(facts.groups) | set(facts.bridges):
            fn = self.fns.get(_fmt_addr(*addr4))
            if fn is None or fn.parent_known:
                continue
            bus = (addr4[0], addr4[1])
            line = facts.pci[addr4].line if addr4 in facts.pci else 0
            if bus in facts.roots:
                self.parent(fn, None, _At(self.source, line))
            elif bus in below:
                self.parent(fn, below[bus], _At(self.source, line))


def _name_devices(fns: list[_Fn], reserved_names: set[str]) -> None:
    """Readable unique names in address order: gpu0, gpu0_audio (a function of the GPU's
    slot), igpu0, nvme0, usb0, rp0 ...; never a keyword."""
    reserved = keywords()
    used: set[str] = set(reserved_names)
    counters: dict[str, int] = {}

    def free(name: str) -> bool:
        return name not in used and name not in reserved and bool(_NAME.fullmatch(name))

    def unique(stem: str, numbered: bool = True) -> str:
        """stem0, stem1, ... or, unnumbered, stem itself and then stem1, stem2, ..."""
        name = stem
        if numbered or not free(name):
            n = counters.get(stem, 0 if numbered else 1)
            while not free(f"{stem}{n}"):
                n += 1
            counters[stem] = n + 1
            name = f"{stem}{n}"
        used.add(name)
        return name

    gpu_of_slot: dict[tuple[int, int, int], str] = {}
    for fn in fns:
        if fn.is_bridge:
            fn.name = unique(_bridge_kind(fn)[1])
        elif fn.cls in GPU_CLASSES and fn.slot not in gpu_of_slot:
            # On bus 00 it is the CPU's integrated GPU; cards sit behind a port.
            fn.name = unique("igpu" if fn.bus == 0 else "gpu")
            gpu_of_slot[fn.slot] = fn.name
    for fn in fns:
        if fn.name:
            continue
        stem = class_info(fn.cls)[0]
        if fn.slot in gpu_of_slot:
            fn.name = unique(f"{gpu_of_slot[fn.slot]}_{stem}", numbered=False)
        else:
            fn.name = unique(stem)


def class_info(cls: str) -> tuple[str, tuple[str, ...]]:
    return CLASSES.get(cls) or BASE_CLASSES.get(cls[:2]) or ("dev", ())


EXPRESS_BRIDGES = {
    "root-port": ("root-port", "rp"),
    "upstream-port": ("upstream-port", "usp"),
    "downstream-port": ("downstream-port", "dsp"),
    "pci-bridge": ("pci-bridge", "pcibr"),
    "pcie-bridge": ("pcie-bridge", "pciebr"),
    "": ("conventional-bridge", "pcibr"),  # capabilities shown, no Express among them
}


def _bridge_kind(fn: _Fn) -> tuple[str, str]:
    """(bridge kind, name stem): lspci -vvv's Express type where it shows one; else from
    the name and the bus. PCI-to-PCI bridges alias what is behind them."""
    if fn.express in EXPRESS_BRIDGES and (fn.express or fn.caps_seen):
        return EXPRESS_BRIDGES[fn.express]
    if fn.cls == "0609" or _PCI_TO_PCI.search(fn.desc):
        return "pci-bridge", "pcibr"
    if fn.parent_known:
        return ("root-port", "rp") if fn.parent is None else ("switch-port", "sw")
    if fn.bus == 0:
        return "root-port", "rp"
    return "switch-port", "sw"


def _infer_function_acs(fns: list[_Fn]) -> None:
    """A function alone in its group while its slot siblings share another group must
    be isolated from them: the kernel found ACS (or a quirk) on it.  The language says
    that with `acs yes` on the function (iommu.c: get_pci_function_alias_group)."""
    slots: dict[tuple[int, int, int], list[_Fn]] = {}
    for fn in fns:
        if fn.group is not None:
            slots.setdefault(fn.slot, []).append(fn)
    for siblings in slots.values():
        if len({f.group for f in siblings}) < 2:
            continue
        for fn in siblings:
            if not any(o.group == fn.group for o in siblings if o is not fn):
                others = sorted({o.group for o in siblings if o is not fn and o.group is not None})
                fn.acs_note = (
                    f"alone in group {fn.group}, other functions of slot {_short(fn.addr)[:-2]} "
                    f"in {', '.join(map(str, others))}: ACS or a quirk isolates it"
                )


def _infer_buses(fns: list[_Fn]) -> None:
    """A bridge whose bus numbers no input shows (its -vvv block missing) still numbered
    the buses below it as firmware and pci_scan_bridge do, depth first: its secondary bus
    is the next one after its own that has functions and no bridge claims. Taken only where
    the observed groups agree (the functions there share the bridge's group, or no group
    is shown)."""
    claimed = {(f.domain, f.secondary[0]) for f in fns if f.secondary is not None}
    buses: dict[tuple[int, int], list[_Fn]] = {}
    for f in fns:
        buses.setdefault((f.domain, f.bus), []).append(f)
    for bridge in sorted(fns, key=lambda f: (f.domain, f.bus, f.dev, f.fn)):
        if not bridge.is_bridge or bridge.secondary is not None:
            continue
        nxt = sorted(
            b for b in buses if b[0] == bridge.domain and b[1] > bridge.bus and b not in claimed
        )
        if not nxt:
            continue
        below = buses[nxt[0]]
        if bridge.group is not None and any(
            f.group is not None and f.group != bridge.group for f in below
        ):
            continue
        bridge.secondary = (nxt[0][1], nxt[0][1])
        claimed.add(nxt[0])
        for f in below:
            if not f.parent_known:
                f.parent, f.parent_known = bridge.addr, True
                f.parent_note = (
                    f"upstream inferred: bus {f.bus:02x} is the next unclaimed bus after "
                    f"{_short(bridge.addr)}, numbered depth first as pci_scan_bridge does"
                )


def _infer_upstream(fns: list[_Fn]) -> None:
    """Without topology, a group with exactly one bridge and functions on another bus
    shows where they are: the kernel puts a function in a bridge's group only below it
    (or in its slot, on its own bus), so they sit directly below that bridge."""
    groups: dict[int, list[_Fn]] = {}
    for fn in fns:
        if fn.group is not None:
            groups.setdefault(fn.group, []).append(fn)
    for members in groups.values():
        bridges = [f for f in members if f.is_bridge]
        if not bridges or len({b.slot for b in bridges}) != 1:
            continue
        top = bridges[0]  # several: functions of one slot, whichever is above, one group
        for fn in members:
            if fn is top or fn.parent_known or (fn.domain, fn.bus) == (top.domain, top.bus):
                continue
            fn.parent, fn.parent_known = top.addr, True
            only = "the only bridge there" if len(bridges) == 1 else "a bridge of its one slot"
            fn.parent_note = (
                f"upstream inferred: in the group of {_short(top.addr)}, {only}, on another "
                "bus (iommu.c: pci_device_group)"
            )


def _deduce_bridge_no_acs(by_addr: dict[str, _Fn]) -> None:
    """A function below a bridge in the bridge's group, while the bridge's own parent (if
    any) is in another group, shows the bridge itself lacks ACS: `acs no`, which wins over
    a quirk row the kernel that made the listing may not have had."""
    for fn in by_addr.values():
        top = by_addr.get(fn.parent or "")
        if top is None or fn.group is None or fn.group != top.group or top.acs_deduced:
            continue
        if _bridge_kind(top)[0] == "pci-bridge":
            continue  # below a PCIe-to-PCI bridge everything aliases to it anyway
        above = by_addr.get(top.parent or "") if top.parent_known else None
        if above is not None and (above.group is None or above.group == top.group):
            continue  # which of the two lacks ACS is not shown
        if not top.parent_known and top.bus != 0:
            continue
        top.acs_none = (
            f"acs no: deduced, {_short(fn.addr)} below it shares its IOMMU group {top.group}, "
            "so it does not isolate (iommu.c: pci_device_group, pci_acs_path_enabled)"
        )


def _deduce_bridge_acs(by_addr: dict[str, _Fn]) -> None:
    """A function in another group than the bridge right above it shows that the bridge's
    path to the root has ACS: pci_device_group walks up from a device and stops at the
    first bridge for which pci_acs_path_enabled(bridge, NULL, REQ_ACS_FLAGS) holds;
    below a bridge without it the device joins the bridge's group (iommu.c).  So that
    bridge and every bridge above it get `acs yes`.  Nothing is deduced where they share
    a group (which bridge lacks ACS is not shown) or below a PCIe-to-PCI bridge, whose
    children alias to it (drivers/pci/search.c: pci_for_each_dma_alias)."""
    for fn in by_addr.values():
        top = by_addr.get(fn.parent or "")
        if top is None or fn.group is None or top.group is None or fn.group == top.group:
            continue
        if _bridge_kind(top)[0] == "pci-bridge":
            continue
        why = (
            f"acs yes: deduced, {_short(fn.addr)} below it is in IOMMU group {fn.group} and "
            f"{_short(top.addr)} in group {top.group}, so the path to the root has ACS "
            "(iommu.c: pci_device_group, pci_acs_path_enabled)"
        )
        seen: set[str] = set()
        while top is not None and top.addr not in seen:
            seen.add(top.addr)
            top.acs_deduced = top.acs_deduced or why
            top = by_addr.get(top.parent or "")


@dataclass
class _Iommu:
    name: str
    kind: str
    why: list[str]
    props: list[str] = field(default_factory=list)  # `contexts 13`, `smrs 12`

    @property
    def statement(self) -> str:
        block = f" {{ {'; '.join(self.props)} }}" if self.props else ""
        return f"iommu {self.name}: {self.kind}{block}"


def _iommus(fns: list[_Fn], logs: list[tuple[str, DmesgFacts]]) -> list[_Iommu]:
    """The IOMMU statements and why: what a kernel log names (the driver that ran), else
    the host bridge's vendor when the listing shows one (an AMD board often carries an
    Intel NIC), else any Intel or AMD function."""
    # POWER: the log puts functions in PEs; each host bridge's TCE tables are an IOMMU
    with_pe = sorted({f.domain for f in fns if f.pe is not None and not f.is_bridge})
    if with_pe:
        pe_why = (
            "The kernel log puts PCI functions in PEs ('Configured PE#', "
            "pnv_pci_ioda_dma_dev_setup): POWER's TCE tables, one spapr-tce per host bridge."
        )
        return [
            _Iommu(phb_name(d), "spapr-tce", [pe_why] if d == with_pe[0] else []) for d in with_pe
        ]
    x86: dict[str, tuple[int, str]] = {}  # kind -> (lines, first seen)
    arm: dict[tuple[str, str], str] = {}
    sizes: dict[tuple[str, str], dict[str, tuple[str, Seen]]] = {}
    for source, facts in logs:
        for (kind, name), seen in facts.iommus.items():
            where = f"{source}:{seen.line}: '{_clean(seen.text)}'"
            if kind in ("intel-vtd", "amd-vi"):
                count, first = x86.get(kind, (0, where))
                x86[kind] = (count + facts.evidence.get(kind, 0), first)
            else:
                arm.setdefault((kind, name), where)
        for key, found in facts.smmu_sizes.items():
            for what, seen in found.items():
                sizes.setdefault(key, {})[what] = (source, seen)
    out: list[_Iommu] = []
    if x86:
        kind = max(x86, key=lambda k: (x86[k][0], k == "intel-vtd"))
        name = "vtd" if kind == "intel-vtd" else "amdvi"
        why = [f"The kernel log names the IOMMU driver: {x86[kind][1]}."]
        for other in x86.keys() - {kind}:
            why.append(f"It also has {x86[other][0]} {other} line(s), fewer: {x86[other][1]}.")
        out.append(_Iommu(name, kind, why))
    for (kind, name), where in sorted(arm.items(), key=lambda kv: kv[0][1]):
        why = [f"The kernel log shows it: {where}."]
        props = []
        for what, (source, seen) in sorted(sizes.get((kind, name), {}).items()):
            props.append(f"{what} {seen.value}")
            why.append(f"{what} {seen.value}: {source}:{seen.line}: '{_clean(seen.text)}'.")
        out.append(_Iommu(name, kind, why, props))
    if out:
        return out
    hosts = {f.vid for f in fns if f.cls == "0600" and f.bus == 0}
    vendors = hosts if hosts & {"8086", "1022"} else {f.vid for f in fns}
    where = "The host bridge is" if vendors is hosts else "The input has"
    if "8086" in vendors:
        return [_Iommu("vtd", "intel-vtd", [f"{where} Intel (vendor 8086): VT-d."])]
    if "1022" in vendors:
        return [_Iommu("amdvi", "amd-vi", [f"{where} AMD (vendor 1022): AMD-Vi."])]
    return [
        _Iommu(
            "vtd",
            "intel-vtd",
            ["Neither Intel (8086) nor AMD (1022) in the input: the IOMMU vendor is a guess."],
        )
    ]


def _cmdline_string(text: str) -> str:
    """The command line as a rule-file string: printable, quotes and backslashes escaped."""
    text = _clean(text)
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass
class _Platform:
    """The platform block, the default-domain expectation and what they rest on."""

    lines: list[str]
    expect: list[str]


def _platform(logs: list[tuple[str, DmesgFacts]], iommus: list[_Iommu]) -> _Platform:
    def last(attr: str) -> tuple[str, DmesgFacts] | None:
        found = [(s, f) for s, f in logs if getattr(f, attr) is not None]
        return found[-1] if found else None

    kinds = {i.kind for i in iommus}
    arch, arch_note = "x86_64", ""
    with_arch = [f.arch for _s, f in logs if f.arch]
    if with_arch:
        arch = with_arch[-1]
    elif "spapr-tce" in kinds:
        arch, arch_note = "powerpc", "PEs in the kernel log: a POWER machine"
    elif kinds & {"arm-smmu", "arm-smmu-v3"} and not kinds & {"intel-vtd", "amd-vi"}:
        arch, arch_note = "arm64", "an Arm SMMU: arm64 is a guess (32-bit arm has them too)"
    lines = [f"arch {arch}" + (f"  # {arch_note}" if arch_note else "")]
    kernel: tuple[int, int] | None = None
    version = last("kernel_seen")
    if version:
        source, facts = version
        assert facts.kernel_seen is not None and facts.kernel is not None
        kernel = facts.kernel
        lines.append(f"kernel {facts.kernel_seen.value}  # {source}:{facts.kernel_seen.line}")
    cmd = last("cmdline")
    if cmd:
        source, facts = cmd
        assert facts.cmdline is not None
        lines += _comment(f"command line from {source}:{facts.cmdline.line}", 96)
        lines.append(f"cmdline {_cmdline_string(facts.cmdline.value)}")
    expect: list[str] = []
    domain = last("default_type")
    if domain:
        source, facts = domain
        conf, expect = _default_domain(source, facts, kernel, has_cmdline=cmd is not None)
        lines += conf
    if version:
        lines += _comment("RAM is not in the input: set 'ram SIZE' here.", 96)
    else:
        lines += _comment(
            "kernel and RAM are not in a listing: set 'kernel X.Y' and 'ram SIZE' here.", 96
        )
    return _Platform(lines, expect)


def _default_domain(
    source: str, facts: DmesgFacts, kernel: tuple[int, int] | None, has_cmdline: bool
) -> tuple[list[str], list[str]]:
    """Kconfig facts and the expectation from iommu_subsys_init's two lines
    (drivers/iommu/iommu.c).  Without "(set via kernel command line)" the type comes
    from Kconfig (IOMMU_DEFAULT_PASSTHROUGH) and the TLB policy from the Kconfig choice
    IOMMU_DEFAULT_DMA_STRICT/LAZY (drivers/iommu/Kconfig, 5.15+); DMA-FQ, the lazy
    translated type, exists since 5.15 (before it, lazy was a flag of a DMA domain)."""
    seen = facts.default_type
    assert seen is not None
    tlb = facts.tlb
    conf: list[str] = []
    observed = f"'{_clean(seen.text)}'"
    where = f"{source}:{seen.line}"
    if tlb is not None:
        observed += f", '{_clean(tlb.text)}'"
        where += f", {tlb.line}"
    has_choice = kernel is None or kernel >= (5, 15)
    word = seen.value
    value: str | None
    op = "=="
    if word == "Passthrough":
        value = "identity"
        if not facts.default_via_cmdline:
            conf += _comment(
                f"{source}:{seen.line}: passthrough by default, not from the command line",
                96,
            )
            conf.append("config IOMMU_DEFAULT_PASSTHROUGH")
    elif word == "Translated":
        if kernel is not None and kernel < (5, 15):
            value = "dma"
        elif tlb is not None:
            value = "dma-fq" if tlb.value == "lazy" else "dma"
        else:
            value, op = "identity", "!="  # DMA or DMA-FQ: the TLB policy line tells them apart
        if tlb is not None and not facts.tlb_via_cmdline and has_choice:
            symbol = "IOMMU_DEFAULT_DMA_LAZY" if tlb.value == "lazy" else "IOMMU_DEFAULT_DMA_STRICT"
            conf += _comment(
                f"{source}:{tlb.line}: {tlb.value} TLB invalidation, not from the command "
                "line: the Kconfig choice (a driver may still force strict later: "
                "iommu_set_dma_strict)",
                96,
            )
            conf.append(f"config {symbol}")
    elif word in ("Blocked", "Unmanaged"):
        value = word.lower()
    else:
        value = None
    expect: list[str] = []
    if value is None:
        expect += _comment(f"observed: {observed} ({where}): no domain type to expect")
        return conf, expect
    expect += _comment(f"observed: {observed} ({where})")
    if (facts.default_via_cmdline or facts.tlb_via_cmdline) and not has_cmdline:
        expect += _comment(
            "set via the kernel command line, which is not in the input: add 'cmdline' to "
            "platform for this to hold"
        )
    if op == "!=":
        expect += _comment("translated: dma or dma-fq, the TLB policy line is not in the input")
    expect.append(f"expect system.default_domain {op} {value}")
    return conf, expect


def _render(fns: list[_Fn], reader: _Reader, iommus: list[_Iommu]) -> str:
    described: list[tuple[str, str]] = []
    for source, seen in reader.kinds.items():
        if seen:
            names = [KINDS[k] for k in KINDS if k in seen]
            described.append((_clean(source) or "<listing>", " and ".join(names)))
    if len(described) == 1:
        src, kinds = described[0]
        out = _comment(f"Imported from {src} by iommu-rules import listing ({kinds}).")
    else:
        out = _comment(
            "Imported by iommu-rules import listing from "
            + "; ".join(f"{s} ({k})" for s, k in described)
            + "."
        )
    topology = any(f.parent_known for f in fns)
    if not fns:
        out += _comment("No PCI function in the input: add the 'IOMMU Group' listing or lspci.")
    elif topology:
        out += _comment(
            "'upstream' is set where the tree or the kernel log shows the bridge above a "
            "function; bridge ACS is unknown unless the observed groups show it."
        )
    else:
        out += _comment(
            "The input shows no PCI topology (lspci -tv does): set 'upstream' on devices and "
            "'acs' on bridges where you know them; groups that span several slots need both "
            "to reproduce."
        )
    no_class = sum(1 for f in fns if not f.cls)
    no_ids = sum(1 for f in fns if not f.vid)
    if no_class or no_ids:
        missing = [f"the class of {no_class}"] if no_class else []
        missing += [f"the IDs of {no_ids}"] if no_ids else []
        out += _comment(
            f"Not in the input: {' and '.join(missing)} of {len(fns)} PCI functions (dmesg "
            "without its PCI lines, lspci -t without -nn): 'lspci -nn' has their names and "
            f'tags; a function without IDs has the compatible "{UNKNOWN_ID}".'
        )
    for source, facts in reader.logs:
        if facts.boots > 1:
            out += _comment(
                f"{_clean(source)} holds {facts.boots} boots: only the last one is imported."
            )
    platform = _platform(reader.logs, iommus)
    out += ['include "std/linux"', *driver_packs(i.kind for i in iommus)]
    for source, facts in reader.logs:
        asks = facts.cmdline is not None and "pcie_acs_override=" in facts.cmdline.value
        if facts.acs_override is not None or asks:
            seen_at = facts.acs_override or (facts.cmdline.line if facts.cmdline else 0)
            said = (
                "'PCIe ACS overrides enabled'"
                if facts.acs_override is not None
                else "its command line asks for pcie_acs_override="
            )
            out += _comment(
                f"{_clean(source)}:{seen_at} {said}: this kernel carries the out-of-tree ACS "
                "override patch."
            )
            out.append('include "std/pci/acs-override"')
            break
    out += ["", "platform {"]
    for line in platform.lines:
        out.append("    " + line)
    out += ["}", ""]
    for iommu in iommus:
        for line in iommu.why:
            out += _comment(line)
        out.append(iommu.statement)
    if fns and any(i.kind in ("arm-smmu", "arm-smmu-v3") for i in iommus):
        out += _comment(
            "PCI functions reach an Arm SMMU through the firmware's RID-to-StreamID map "
            "(iommu-map, ACPI IORT), which no log shows: add 'map rid R sid S length N' to "
            "it, or they stay untranslated and the groups below do not hold."
        )

    by_addr = {f.addr: f for f in fns}
    bridges = [f for f in fns if f.is_bridge]
    devices = [f for f in fns if not f.is_bridge]

    def upstream(f: _Fn) -> list[str]:
        top = by_addr.get(f.parent or "")
        return [f"upstream {top.name}"] if top is not None and top.is_bridge else []

    if bridges:
        out += ["", "# ---------------------------------------------------------------- bridges"]
    for f in bridges:
        kind = _bridge_kind(f)[0]
        out += _comment(_describe(f))
        if f.parent_note:
            out += _comment(f.parent_note)
        props = [f"pci {f.addr}", *upstream(f), *_registers(f)]
        ids = f' "pci{f.vid},{f.did}"' if f.vid else ""
        head = f"bridge {f.name}: {kind}{ids}"
        note = f.acs_deduced or f.acs_none or f.acs_note
        if f.acs_cap is not None:
            out.append(f"{head} {{ " + "; ".join(props) + " }")
        elif note:
            out += _comment(note)
            acs = "acs no" if f.acs_none and not f.acs_deduced else "acs yes"
            out.append(f"{head} {{ " + "; ".join([*props, acs]) + " }")
        else:
            out.append(f"{head} {{ " + "; ".join(props) + f" }}  {ACS_UNKNOWN}")
    if devices:
        out += ["", "# ---------------------------------------------------------------- devices"]
    for f in devices:
        tags = class_info(f.cls)[1]
        props = ([f"tags {', '.join(tags)}"] if tags else []) + [f"pci {f.addr}", *upstream(f)]
        out += _comment(_describe(f))
        if f.parent_note:
            out += _comment(f.parent_note)
        props += _registers(f)
        if f.acs_note and f.acs_cap is None:
            out += _comment(f.acs_note)
            props.append("acs yes")
        if f.pe is not None:
            props.append(f"iommu {phb_name(f.domain)} sid {f.pe:#x}")
        compatible = f'"pci{f.vid},{f.did}"' if f.vid else f'"{UNKNOWN_ID}"'
        if f.cls and f.cls != "0000":
            # the Open Firmware PCI binding's class compatible ("pciclass,ccss"): packs select
            # device classes with it (std/iommu/intel-vtd: display functions)
            compatible += f', "pciclass,{f.cls}"'
        out.append(f"device {f.name}: {compatible} {{ " + "; ".join(props) + " }")

    by_group: dict[int, list[_Fn]] = {}
    for f in [*bridges, *devices]:  # the order of the file: the resolver's probe order
        if f.group is not None:
            by_group.setdefault(f.group, []).append(f)
    others = [(s, f.other_groups) for s, f in reader.logs if f.other_groups]
    if by_group or platform.expect or others:
        out += [
            "",
            "# ---------------------------------------------------------------- observed",
        ]
    out += platform.expect
    for gid in sorted(by_group):
        members = by_group[gid]
        at = members[0].group_at
        out += _comment(f"observed: IOMMU Group {gid} ({_clean(at.source) if at else '?'})")
        anchor = members[0].slot
        if any(not m.parent_known and m.slot != anchor for m in members):
            out += _comment(
                "spans several slots: holds once 'upstream' and bridge ACS are filled in"
            )
        out.append(
            f"expect {members[0].name}.group_members == [{', '.join(m.name for m in members)}]"
        )
    for source, groups in others:
        listed = "; ".join(f"{dev} in group {gid}" for dev, (gid, _line) in sorted(groups.items()))
        out += _comment(
            f"Not PCI, not imported ({_clean(source)}; 'iommu-rules import dts' reads them): "
            + _clean(listed)
        )
    return "\n".join(out) + "\n"


def _registers(f: _Fn) -> list[str]:
    """What lspci -vvv and -k showed of the function: its PCI Express type (a device's;
    a bridge's is its kind), its ACS registers, its driver."""
    out = []
    if not f.is_bridge and f.express is not None and not f.caps_denied:
        out.append(f"pcie {f.express or 'none'}")
    if f.acs_cap is not None:
        ctl = " ctl " + (" ".join(f.acs_ctl) or "none") if f.acs_ctl is not None else ""
        out.append(f"acs cap {' '.join(f.acs_cap) or 'none'}{ctl}")
    if f.driver:
        driver = (
            f.driver
            if _NAME.fullmatch(f.driver) and f.driver not in keywords()
            else (f'"{f.driver}"')
        )
        out.append(f"bound {driver}")
    return out


def _describe(f: _Fn) -> str:
    """The listing's line without the ID (the compatible carries it)."""
    parts = [f"IOMMU Group {f.group}"] if f.group is not None else []
    parts.append(_short(f.addr))
    if f.cname:
        parts.append(f.cname)
    if f.cls and f.cls != "0000":
        parts.append(f"[{f.cls}]")
    elif not f.cls:
        parts.append("(class not in the input)" if not f.is_bridge else "(a bridge)")
    text = " ".join(parts)
    return f"{text}: {f.desc}" if f.desc else text


def import_listing(text: str, source: str = "<listing>") -> ImportResult:
    """Turn a posted IOMMU-group listing, lspci output, kernel log or lspci -t tree (or a
    mix of them in one text) into a formatted rule file.

    Never raises: skipped lines are W801 warnings, an input without anything to import
    is E801 with an empty text.
    """
    return import_listings([(source, text)])


def import_listings(inputs: Sequence[tuple[str, str]]) -> ImportResult:
    """Like import_listing for several inputs of one machine, given as (source, text):
    what they show is merged by PCI address; each diagnostic names its own source."""
    first = inputs[0][0] if inputs else "<listing>"
    try:
        return _import(inputs)
    except Exception as exc:  # a bug must not cost the user the diagnostics
        message = f"import failed ({type(exc).__name__}: {exc}; a bug: please report it)"
        return ImportResult("", [error("E801", message, _top(first))])


def _top(source: str) -> Span:
    return Span(source, 1, 1, 1, 1)


def _decode(text: str | bytes) -> str:
    if isinstance(text, bytes | bytearray):
        return bytes(text).decode("utf-8", "replace")
    return text if isinstance(text, str) else str(text)


def _import(inputs: Sequence[tuple[str, str]]) -> ImportResult:
    reader = _Reader()
    for source, text in inputs:
        reader.read(source, _decode(text).lstrip("\ufeff"))
    first = inputs[0][0] if inputs else "<listing>"
    fns = sorted(reader.fns.values(), key=lambda f: (f.domain, f.bus, f.dev, f.fn))
    if not fns and not any(facts.anything for _s, facts in reader.logs):
        return ImportResult(
            "",
            [
                *reader.diags,
                error(
                    "E801",
                    "no IOMMU group or PCI device found",
                    _top(first),
                    help="give the output of the 'IOMMU Group N' script, 'lspci -nn', "
                    "'lspci -tv' or dmesg",
                ),
            ],
        )
    iommus = _iommus(fns, reader.logs)
    _name_devices(fns, {i.name for i in iommus})
    _infer_upstream(fns)
    _infer_buses(fns)
    _infer_function_acs(fns)
    _deduce_bridge_acs({f.addr: f for f in fns})
    _deduce_bridge_no_acs({f.addr: f for f in fns})
    raw = _render(fns, reader, iommus)
    try:
        formatted = format_text(raw, "<import>")
    except DiagnosticError as exc:  # a bug: report it, keep the unformatted text
        return ImportResult(
            raw,
            [
                *reader.diags,
                error("E801", f"the generated rule file does not parse: {exc}", _top(first)),
            ],
        )
    refused = unchecked(formatted, Path.cwd() / "import.iommu")
    if refused is not None:  # never hand the user a file that `check` rejects: a bug
        return ImportResult(
            formatted,
            [
                *reader.diags,
                error("E801", f"the generated rule file does not check: {refused}", _top(first)),
            ],
        )
    return ImportResult(formatted, reader.diags)
