"""pci_acs_enabled and pci_acs_path_enabled (drivers/pci/pci.c), with the kernel's own
enabling of ACS and the command line's changes to it, each answer with its reason.

The order is the kernel's: the quirk table first (pci_dev_specific_acs_enabled), then
conventional PCI (never isolated), then the PCI Express type: root and downstream ports
read their ACS registers; endpoints and upstream ports only when multifunction (a single
function is isolated whatever it has); PCIe-to-PCI bridges never. A function's own `acs
yes|no` statement wins over its quirk row, so a board can say what an older kernel did.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..diagnostics import Span
from ..provenance import Reason
from .acs import REDIRECT, STD_ENABLE, AcsFlag, flags_enabled, words
from .quirks import QUIRKS_C, Facts, acs_quirk
from .topology import Function, PcieType, Topology

PCI_C = "drivers/pci/pci.c"


@dataclass(frozen=True)
class Override:
    """The out-of-tree pcie_acs_override= (`std/pci/acs-override`): a last row of the quirk
    table that vouches for PCIe functions without an ACS capability."""

    downstream: bool = False
    multifunction: bool = False
    ids: frozenset[tuple[int, int]] = frozenset()
    span: Span | None = None


@dataclass(frozen=True)
class DeviceSpec:
    """One device of a pci= option's list: an address (with /dev.fn steps) or pci:VVVV:DDDD."""

    address: tuple[int, int, int, int] | None = None
    ids: tuple[int, int] | None = None

    def matches(self, fn: Function) -> bool:
        if self.ids is not None:
            return (fn.vendor, fn.device) == self.ids
        a = fn.address
        return a is not None and self.address == (a.domain, a.bus, a.device, a.function)


@dataclass(frozen=True)
class Params:
    """The ACS options of the command line (pci_setup: pci=disable_acs_redir=, and from
    6.11 pci=config_acs=), and pcie_acs_override= where the kernel carries that patch."""

    disable_redir: tuple[DeviceSpec, ...] = ()
    config: tuple[tuple[AcsFlag, AcsFlag, DeviceSpec], ...] = ()  # (mask, flags, device)
    override: Override | None = None
    span: Span | None = None


_DEV = re.compile(
    r"^(?:pci:([0-9a-fA-F]{4}):([0-9a-fA-F]{4})(?::[0-9a-fA-F]{4}:[0-9a-fA-F]{4})?"
    r"|(?:([0-9a-fA-F]{1,4}):)?([0-9a-fA-F]{1,2}):([0-9a-fA-F]{1,2})\.([0-7]))$"
)


def device_spec(text: str) -> DeviceSpec | None:
    """pci.c: pci_dev_str_match. The path form's last step is the device; None: unparsable."""
    text = text.strip()
    if "/" in text and not text.startswith("pci:"):
        return None  # the path form (a/b.c) names buses by their bridges: not modelled
    m = _DEV.match(text)
    if not m:
        return None
    if m.group(1):
        return DeviceSpec(ids=(int(m.group(1), 16), int(m.group(2), 16)))
    return DeviceSpec(
        address=(
            int(m.group(3) or "0", 16),
            int(m.group(4), 16),
            int(m.group(5), 16),
            int(m.group(6)),
        )
    )


def config_flags(text: str) -> tuple[AcsFlag, AcsFlag] | None:
    """pci=config_acs=: a bit string, rightmost character bit 0 (SV, TB, RR, CR, UF, EC, DT),
    each '0' (force off), '1' (force on) or 'x' (leave): (mask, flags)."""
    if not text or len(text) > 7 or any(c not in "01xX" for c in text):
        return None
    mask = flags = AcsFlag(0)
    for i, c in enumerate(reversed(text)):
        bit = AcsFlag(1 << i)
        if c in "01":
            mask |= bit
        if c == "1":
            flags |= bit
    return mask, flags


@dataclass
class Isolation:
    """pci_acs_enabled for the functions of one board, asked with REQ_ACS_FLAGS."""

    topo: Topology
    facts: Facts
    params: Params
    requested_why: Reason
    _cache: dict[tuple[str, int], tuple[bool, Reason]] = field(default_factory=dict)

    def control(self, fn: Function) -> tuple[AcsFlag, list[str]]:
        """The ACS control register after pci_enable_acs: the firmware's, what the kernel
        enables where an IOMMU asked for ACS (pci_std_enable_acs), then the command line."""
        assert fn.acs is not None and fn.acs.cap is not None
        cap, ctl = fn.acs.cap, fn.acs.ctl
        steps: list[str] = []
        if self.facts.acs_requested:
            ctl |= cap & STD_ENABLE
            steps.append(f"the kernel enabled {words(cap & STD_ENABLE)} (pci_std_enable_acs)")
        for spec in self.params.disable_redir:
            if spec.matches(fn) and self.facts.kernel >= (4, 19):
                ctl &= ~REDIRECT
                steps.append("pci=disable_acs_redir= turned off rr cr ec")
        for mask, flags, spec in self.params.config:
            if spec.matches(fn) and self.facts.kernel >= (6, 11):
                ctl = (ctl & ~mask) | (flags & mask)
                steps.append(f"pci=config_acs= set it to {words(ctl)}")
        return ctl, steps

    def enabled(self, fn: Function, wanted: AcsFlag) -> tuple[bool, Reason]:
        key = (fn.name, int(wanted))
        if key not in self._cache:
            self._cache[key] = self._enabled(fn, wanted)
        return self._cache[key]

    def _enabled(self, fn: Function, wanted: AcsFlag) -> tuple[bool, Reason]:
        src = f"{PCI_C}: pci_acs_enabled"
        stated = fn.acs is not None and fn.acs.stated in ("yes", "no")
        found = acs_quirk(fn, wanted, self.facts)
        if found is not None and not stated:
            row, answer = found
            since = f", since {row.since}" if row.since else ""
            return bool(answer.value), Reason(
                f"{fn.label()} {fn.ids}: pci_quirk_{row.function}_acs answers "
                f"{'isolated' if answer.value else 'not isolated'}: {answer.why}{since}",
                fn.span,
                f"{QUIRKS_C}: pci_dev_acs_enabled[] (pci_quirk_{row.function}_acs)",
            )
        override = self._override(fn)
        if override is not None:
            return True, override
        quirk_note = ""
        if found is not None:
            row, answer = found
            quirk_note = (
                f"; its stated 'acs {fn.acs.stated if fn.acs else ''}' wins over "
                f"pci_quirk_{row.function}_acs"
            )
        if not fn.type.pcie:
            return False, Reason(
                f"{fn.label()} is conventional PCI ({fn.type_why}): the shared bus lets any "
                f"function see another's DMA, never isolated{quirk_note}",
                fn.span,
                src,
            )
        t = fn.type
        if t in (PcieType.PCI_BRIDGE, PcieType.PCIE_BRIDGE, PcieType.RC_EVENT_COLLECTOR):
            return False, Reason(
                f"{fn.label()} is a {t.value}: ACS never applies to it (PCIe 3.0 6.12.1)",
                fn.span,
                src,
            )
        if t in (PcieType.ROOT_PORT, PcieType.DOWNSTREAM) or fn.multifunction:
            return self._registers(fn, wanted, quirk_note)
        return True, Reason(
            f"{fn.label()} is a single-function {t.value} ({fn.mf_why}): no ACS is "
            "needed, it is isolated whatever it has",
            fn.span,
            src,
        )

    def _registers(self, fn: Function, wanted: AcsFlag, note: str) -> tuple[bool, Reason]:
        src = f"{PCI_C}: pci_acs_flags_enabled"
        what = fn.type.value if not fn.multifunction else f"multifunction {fn.type.value}"
        if fn.acs is None or fn.acs.cap is None:
            stated = " ('acs no')" if fn.acs is not None else ""
            return False, Reason(
                f"{fn.label()} ({what}) has no ACS capability{stated}{note}", fn.span, src
            )
        ctl, steps = self.control(fn)
        ok = flags_enabled(fn.acs.cap, ctl, wanted)
        need = wanted & (fn.acs.cap | AcsFlag.EC)
        missing = need & ~ctl
        detail = f"cap {words(fn.acs.cap)}, control {words(ctl)}"
        if steps:
            detail += " (" + "; ".join(steps) + ")"
        verdict = "isolated" if ok else f"not isolated: {words(missing)} not enabled"
        return ok, Reason(f"{fn.label()} ({what}) ACS {detail}: {verdict}{note}", fn.acs.span, src)

    def _override(self, fn: Function) -> Reason | None:
        """pcie_acs_overrides(): never conventional PCI, never a function with an ACS
        capability; an id:VVVV:DDDD match, or by type."""
        o = self.params.override
        if o is None or not fn.type.pcie or (fn.acs is not None and fn.acs.cap is not None):
            return None
        why = None
        if (fn.vendor, fn.device) in o.ids:
            why = f"id:{fn.vendor or 0:04x}:{fn.device or 0:04x}"
        elif fn.type in (PcieType.ROOT_PORT, PcieType.DOWNSTREAM) and o.downstream:
            why = "downstream"
        elif (
            fn.type
            in (
                PcieType.ENDPOINT,
                PcieType.UPSTREAM,
                PcieType.LEGACY_ENDPOINT,
                PcieType.RC_ENDPOINT,
            )
            and fn.multifunction
            and o.multifunction
        ):
            why = "multifunction"
        if why is None:
            return None
        return Reason(
            f"{fn.label()} has no ACS capability, but pcie_acs_override={why} vouches for it "
            "(an out-of-tree patch: this may allow peer-to-peer DMA the IOMMU never sees)",
            o.span,
            "pcie_acs_override patch: pcie_acs_overrides (std/pci/acs-override)",
        )

    def path_enabled(self, start: Function, wanted: AcsFlag) -> tuple[Function | None, Reason]:
        """pci_acs_path_enabled(start, NULL): start and every bridge above it isolate.
        The first function on the way that does not, with why; None when all do."""
        cur: Function | None = start
        seen: set[str] = set()
        while cur is not None and cur.name not in seen:
            seen.add(cur.name)
            ok, why = self.enabled(cur, wanted)
            if not ok:
                return cur, why
            cur = self.topo.parent(cur)
        return None, Reason("every bridge up to the root isolates")

    def path_reasons(self, start: Function, wanted: AcsFlag) -> list[Reason]:
        """pci_acs_enabled of start and of every bridge above it, each with why."""
        out: list[Reason] = []
        cur: Function | None = start
        seen: set[str] = set()
        while cur is not None and cur.name not in seen:
            seen.add(cur.name)
            out.append(self.enabled(cur, wanted)[1])
            cur = self.topo.parent(cur)
        return out
