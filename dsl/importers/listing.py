"""Import the IOMMU-group listings people post into a rule file.

VFIO and passthrough threads are full of the output of the Arch-wiki loop over
/sys/kernel/iommu_groups (``IOMMU Group 1 00:01.0 PCI bridge [0604]: ...``, flat
or as a header with indented devices) and of plain ``lspci -nn``.  Turning one
into a rule file gives a board to reason about in minutes, with the observed
groups as expectations.  A listing has no topology: which bridge a device sits
below and whether a bridge has ACS are not in it, so the importer leaves
``upstream`` out and says where ACS is unknown instead of guessing.  It never
raises: whatever it cannot read becomes a W801 warning pointing at the line.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass, field

from ..diagnostics import Diagnostic, DiagnosticError, Span, error, warning
from ..fmt import format_text
from ..grammar import keywords

__all__ = ["ImportResult", "import_listing"]

# A line longer than this is not lspci output; skipping it keeps the regexes cheap.
MAX_LINE = 4096
# Past this many W801 warnings, one summary stands for the rest (binary garbage).
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
# Lines lspci -k and Markdown add around devices: known, nothing to import.
_IGNORED = re.compile(
    r"(?:subsystem|kernel driver in use|kernel modules)\s*:|```|~~~", re.IGNORECASE
)
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
ACS_UNKNOWN = "# ACS unknown: add 'acs yes' or 'acs no'"
GPU_CLASSES = {"0300", "0302", "0380"}


@dataclass(frozen=True)
class ImportResult:
    """A formatted rule file ('' when nothing was found) and what the import skipped."""

    text: str
    diagnostics: list[Diagnostic] = field(default_factory=list)


@dataclass
class _Fn:
    """One PCI function as the listing shows it."""

    domain: int
    bus: int
    dev: int
    fn: int
    cls: str
    cname: str
    vid: str
    did: str
    desc: str
    line: int
    group: int | None = None
    name: str = ""
    acs_note: str = ""

    @property
    def addr(self) -> str:
        return f"{self.domain:04x}:{self.bus:02x}:{self.dev:02x}.{self.fn}"

    @property
    def slot(self) -> tuple[int, int, int]:
        return (self.domain, self.bus, self.dev)

    @property
    def is_bridge(self) -> bool:
        return self.cls in BRIDGE_CLASSES


def _clean(text: str) -> str:
    """Printable one-line text for a comment: a listing may hold anything."""
    text = " ".join(text.split())
    return "".join(ch if ch.isprintable() else "?" for ch in text)


def _short(addr: str) -> str:
    """bb:dd.f as lspci prints it, with the domain only when it is not 0000."""
    return addr[5:] if addr.startswith("0000:") else addr


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
    """Line by line: group headers, flat group lines, lspci lines, and the rest."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.diags: list[Diagnostic] = []
        self.skipped = 0
        self.first_unshown: Span | None = None
        self.fns: dict[str, _Fn] = {}

    def skip(self, line: int, text: str, message: str) -> None:
        self.skipped += 1
        start = len(text) - len(text.lstrip())
        end = len(text.rstrip())
        span = Span(self.source, line, start + 1, line, max(end, start + 1) + 1)
        if self.skipped > MAX_WARNINGS:
            self.first_unshown = self.first_unshown or span
            return
        self.diags.append(warning("W801", f"{message}; line skipped", span))

    def read(self, text: str) -> None:
        current: int | None = None
        for number, raw in enumerate(text.splitlines(), start=1):
            stripped = raw.strip()
            if not stripped:
                current = None  # a blank line ends a header's device list
                continue
            if len(raw) > MAX_LINE:
                self.skip(number, raw, "line too long for lspci output")
                continue
            if _IGNORED.match(stripped):
                continue
            gm = _GROUP.match(stripped)
            rest = stripped[gm.end() :] if gm else stripped
            group = int(gm.group(1)) if gm else current
            if gm and not rest:
                current = int(gm.group(1))
                continue
            parsed = _parse_device(rest, number)
            if isinstance(parsed, str):
                if gm and parsed == "unrecognised line":
                    parsed = f"'{gm.group(0).strip()}' is not followed by a PCI device"
                self.skip(number, raw, parsed)
                continue
            parsed.group = group
            self.add(parsed, raw)
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

    def add(self, fn: _Fn, raw: str) -> None:
        old = self.fns.get(fn.addr)
        if old is None:
            if len(self.fns) >= MAX_DEVICES:
                self.skip(fn.line, raw, f"more than {MAX_DEVICES} PCI functions")
                return
            self.fns[fn.addr] = fn
            return
        if old.group is None:
            old.group = fn.group
        elif fn.group is not None and fn.group != old.group:
            self.skip(
                fn.line,
                raw,
                f"{fn.addr} is listed again in IOMMU group {fn.group} "
                f"(line {old.line} puts it in group {old.group})",
            )


def _name_devices(fns: list[_Fn]) -> None:
    """Readable unique names in address order: gpu0, gpu0_audio (a function of the GPU's
    slot), igpu0, nvme0, usb0, rp0 ...; never a keyword."""
    reserved = keywords()
    used: set[str] = set()
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


def _bridge_kind(fn: _Fn) -> tuple[str, str]:
    """(bridge kind, name stem): PCI-to-PCI bridges alias what is behind them."""
    if fn.cls == "0609" or _PCI_TO_PCI.search(fn.desc):
        return "pci-bridge", "pcibr"
    if fn.bus == 0:
        return "root-port", "rp"
    return "switch-port", "sw"


def _infer_function_acs(fns: list[_Fn]) -> None:
    """A function alone in its group while its slot siblings share another group must
    be isolated from them: the kernel found ACS (or a quirk) on it.  The language says
    that with `acs yes` on the function (iommu.c: get_pci_function_alias_group)."""
    slots: dict[tuple[int, int, int], list[_Fn]] = {}
    for fn in fns:
        if not fn.is_bridge and fn.group is not None:
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


def _iommu(fns: list[_Fn]) -> tuple[str, list[str]]:
    """The IOMMU statement and why: the host bridge's vendor when the listing shows one
    (an AMD board often carries an Intel NIC), else any Intel or AMD function."""
    hosts = {f.vid for f in fns if f.cls == "0600" and f.bus == 0}
    vendors = hosts if hosts & {"8086", "1022"} else {f.vid for f in fns}
    where = "The host bridge is" if vendors is hosts else "The listing has"
    if "8086" in vendors:
        return "iommu vtd: intel-vtd", [f"{where} Intel (vendor 8086): VT-d."]
    if "1022" in vendors:
        return "iommu amdvi: amd-vi", [f"{where} AMD (vendor 1022): AMD-Vi."]
    return "iommu vtd: intel-vtd", [
        "Neither Intel (8086) nor AMD (1022) in the listing: the IOMMU vendor is a guess."
    ]


def _render(fns: list[_Fn], source: str) -> str:
    src = _clean(source) or "<listing>"
    grouped = any(f.group is not None for f in fns)
    out = _comment(
        f"Imported from {src} by iommu-rules import listing"
        + (" (an 'IOMMU Group' listing)." if grouped else " (lspci -nn lines).")
    )
    out += _comment(
        "A listing shows no PCI topology: set 'upstream' on devices and 'acs' on bridges "
        "where you know them; groups that span several slots need both to reproduce."
    )
    out += ['include "std/linux"', "", "platform {", "    arch x86_64"]
    note = "kernel and RAM are not in a listing: set 'kernel X.Y' and 'ram SIZE' here."
    out += ["    " + c for c in _comment(note, 96)]
    out += ["}", ""]
    statement, why = _iommu(fns)
    for line in why:
        out += _comment(line)
    out += [statement]

    bridges = [f for f in fns if f.is_bridge]
    devices = [f for f in fns if not f.is_bridge]
    if bridges:
        out += ["", "# ---------------------------------------------------------------- bridges"]
    for f in bridges:
        kind = _bridge_kind(f)[0]
        out += _comment(_describe(f))
        out.append(f"bridge {f.name}: {kind} {{ pci {f.addr} }}  {ACS_UNKNOWN}")
    if devices:
        out += ["", "# ---------------------------------------------------------------- devices"]
    for f in devices:
        tags = class_info(f.cls)[1]
        props = ([f"tags {', '.join(tags)}"] if tags else []) + [f"pci {f.addr}"]
        out += _comment(_describe(f))
        if f.acs_note:
            out += _comment(f.acs_note)
            props.append("acs yes")
        out.append(f'device {f.name}: "pci{f.vid},{f.did}" {{ ' + "; ".join(props) + " }")

    by_group: dict[int, list[_Fn]] = {}
    for f in devices:
        if f.group is not None:
            by_group.setdefault(f.group, []).append(f)
    if by_group:
        out += [
            "",
            "# ---------------------------------------------------------------- observed groups",
            "# Devices only: the kernel's groups also hold the bridges, which the language",
            "# keeps apart.",
        ]
    for gid in sorted(by_group):
        members = by_group[gid]
        out += _comment(f"observed: IOMMU Group {gid} ({src})")
        if len({m.slot for m in members}) > 1:
            out += _comment(
                "spans several slots: holds once 'upstream' and bridge ACS are filled in"
            )
        out.append(
            f"expect {members[0].name}.group_members == [{', '.join(m.name for m in members)}]"
        )
    bridge_only = sorted({f.group for f in bridges if f.group is not None} - set(by_group))
    if bridge_only:
        out += _comment(
            "Groups with bridges only (no expectation): " + ", ".join(str(g) for g in bridge_only)
        )
    return "\n".join(out) + "\n"


def _describe(f: _Fn) -> str:
    """The listing's line without the ID (the compatible carries it)."""
    group = f"IOMMU Group {f.group} " if f.group is not None else ""
    return f"{group}{_short(f.addr)} {f.cname} [{f.cls}]: {f.desc}"


def import_listing(text: str, source: str = "<listing>") -> ImportResult:
    """Turn a posted IOMMU-group listing or lspci -nn output into a formatted rule file.

    Never raises: skipped lines are W801 warnings, an input without any PCI
    function is E801 with an empty text.
    """
    try:
        return _import(text, source)
    except Exception as exc:  # a bug must not cost the user the diagnostics
        message = f"import failed ({type(exc).__name__}: {exc}; a bug: please report it)"
        return ImportResult("", [error("E801", message, _top(source))])


def _top(source: str) -> Span:
    return Span(source, 1, 1, 1, 1)


def _import(text: str | bytes, source: str) -> ImportResult:
    if isinstance(text, bytes | bytearray):
        text = bytes(text).decode("utf-8", "replace")
    elif not isinstance(text, str):
        text = str(text)
    reader = _Reader(source)
    reader.read(text.lstrip("\ufeff"))
    fns = sorted(reader.fns.values(), key=lambda f: (f.domain, f.bus, f.dev, f.fn))
    if not fns:
        return ImportResult(
            "",
            [
                *reader.diags,
                error(
                    "E801",
                    "no IOMMU group or PCI device found",
                    _top(source),
                    help="give the output of the 'IOMMU Group N' script or of 'lspci -nn'",
                ),
            ],
        )
    _name_devices(fns)
    _infer_function_acs(fns)
    raw = _render(fns, source)
    try:
        formatted = format_text(raw, "<import>")
    except DiagnosticError as exc:  # a bug: report it, keep the unformatted text
        return ImportResult(
            raw,
            [
                *reader.diags,
                error("E801", f"the generated rule file does not parse: {exc}", _top(source)),
            ],
        )
    return ImportResult(formatted, reader.diags)
