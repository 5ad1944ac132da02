"""The PCI functions of a board as the kernel's PCI core sees them: each one's bus, PCI
Express type, multifunction bit, IDs and stated ACS registers.

A board states bridges and devices with addresses and ``upstream`` links; the kernel reads
the rest from config space. What a board leaves out is inferred as the hardware almost
always has it, and each inference says so in ``why``.
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Iterator
from enum import StrEnum
from typing import NamedTuple

from ..diagnostics import Span
from ..model import Acs, Model, PciAddress


class PcieType(StrEnum):
    """pci_pcie_type(): the Device/Port Type of the Express capability; CONVENTIONAL is a
    function without one (conventional PCI or PCI-X)."""

    ENDPOINT = "endpoint"
    LEGACY_ENDPOINT = "legacy-endpoint"
    RC_ENDPOINT = "rc-endpoint"  # root complex integrated endpoint
    RC_EVENT_COLLECTOR = "rc-event-collector"
    ROOT_PORT = "root-port"
    UPSTREAM = "upstream-port"  # switch upstream port
    DOWNSTREAM = "downstream-port"  # switch downstream port
    PCI_BRIDGE = "pci-bridge"  # PCIe to PCI/PCI-X bridge
    PCIE_BRIDGE = "pcie-bridge"  # PCI/PCI-X to PCIe bridge
    CONVENTIONAL = "none"

    @property
    def pcie(self) -> bool:
        """pci_is_pcie()."""
        return self is not PcieType.CONVENTIONAL


BRIDGE_TYPES = {
    "root-port": PcieType.ROOT_PORT,
    "upstream-port": PcieType.UPSTREAM,
    "downstream-port": PcieType.DOWNSTREAM,
    "pci-bridge": PcieType.PCI_BRIDGE,
    "pcie-bridge": PcieType.PCIE_BRIDGE,
    "conventional-bridge": PcieType.CONVENTIONAL,
}

_ID = re.compile(r"^pci([0-9a-fA-F]{4}),([0-9a-fA-F]{4})")
_CLASS = re.compile(r"^pciclass,([0-9a-fA-F]{4,6})$")


class Function(NamedTuple):
    """One PCI function: a device, or a bridge (``bridge`` is its kind). A named tuple:
    immutable like the frozen dataclass it was, without that one's sixteen
    object.__setattr__ calls (a 10k-device board makes 4,500 on every resolve and
    what-if: 28 -> 16 ms)."""

    name: str
    node: str  # its node in the group graph: the name, or "bridge:NAME" without an address
    address: PciAddress | None
    type: PcieType
    type_why: str
    bridge: str | None
    multifunction: bool
    mf_why: str
    vendor: int | None
    device: int | None
    class_code: int | None
    acs: Acs | None
    parent: str | None  # the bridge above it
    bus: Hashable  # same value: same bus (the root bus by number, else the bridge above)
    aliases: frozenset[int]  # devfns on its bus it DMA-aliases (`alias`, dma_alias_mask)
    span: Span

    @property
    def devfn(self) -> int | None:
        a = self.address
        return None if a is None else (a.device << 3) | a.function

    @property
    def slot(self) -> int | None:
        return None if self.address is None else self.address.device

    @property
    def root_bus(self) -> bool:
        """pci_is_root_bus(dev->bus): on a host bridge's bus, no bridge above."""
        return self.parent is None

    @property
    def ids(self) -> str:
        if self.vendor is None:
            return "no IDs"
        return f"[{self.vendor:04x}:{self.device or 0:04x}]"

    def label(self) -> str:
        where = f" ({self.address})" if self.address is not None else ""
        return f"'{self.name}'{where}"


def ids_of(compatibles: tuple[str, ...]) -> tuple[int | None, int | None, int | None]:
    """(vendor, device, class) from OF-style compatibles: "pci8086,a290", "pciclass,060400"."""
    vendor = device = klass = None
    for c in compatibles:
        m = _ID.match(c)
        if m and vendor is None:
            vendor, device = int(m.group(1), 16), int(m.group(2), 16)
        k = _CLASS.match(c)
        if k and klass is None:
            text = k.group(1)
            klass = int(text, 16) << (8 if len(text) == 4 else 0)
    return vendor, device, klass


def _devfn(f: Function) -> tuple[int, int, str]:
    """A function's place on its bus: devfn, then bus, then name (no address: last)."""
    a = f.address
    return ((a.device << 3) | a.function, a.bus, f.name) if a else (1 << 9, 0, f.name)


class Topology:
    """Every PCI function of a board, by name, with its bus and children."""

    def __init__(self, model: Model):
        self.model = model
        self.functions: dict[str, Function] = {}
        kinds = self._bridge_types()
        rows: list[tuple[str, str | None]] = []
        for b in model.bridges.values():
            rows.append((b.name, b.name))
        for d in model.devices.values():
            if d.pci is not None and d.bridge is None:
                rows.append((d.name, None))
        slots: dict[tuple[Hashable, int], int] = {}
        for name, _bridge in rows:
            pci, parent = self._where(name)
            if pci is not None:
                key = (self._bus(parent, pci), pci.device)
                slots[key] = slots.get(key, 0) + 1
        for name, bridge in rows:
            self.functions[name] = self._function(name, bridge, kinds, slots)
        self._order: list[Function] | None = None
        self._rank: dict[str, int] | None = None
        self._buses: dict[Hashable, list[Function]] | None = None
        self._slots: dict[tuple[Hashable, int], list[Function]] | None = None
        self.children: dict[str | None, list[Function]] = {}
        for fn in self.functions.values():
            self.children.setdefault(fn.parent, []).append(fn)

    def _where(self, name: str) -> tuple[PciAddress | None, str | None]:
        if name in self.model.bridges:
            b = self.model.bridges[name]
            return b.pci, b.upstream
        d = self.model.devices[name]
        return d.pci, d.upstream

    def _bus(self, parent: str | None, pci: PciAddress | None) -> Hashable:
        if parent is not None and parent in self.model.bridges:
            return ("below", parent)
        return ("root", pci.domain if pci else 0, pci.bus if pci else 0)

    def _bridge_types(self) -> dict[str, tuple[PcieType, str]]:
        """Each bridge's type; a `switch-port` is an upstream port where it hangs below a
        root or downstream port, a downstream port below an upstream port."""
        out: dict[str, tuple[PcieType, str]] = {}
        for name in self.model.bridges:
            self._bridge_type(name, out)
        return out

    # A method, not a closure calling itself: that closure and its cell are a cycle, which
    # would keep the topology and its model alive until the collector runs.
    def _bridge_type(
        self, name: str, out: dict[str, tuple[PcieType, str]], depth: int = 0
    ) -> tuple[PcieType, str]:
        if name in out:
            return out[name]
        bridges = self.model.bridges
        b = bridges[name]
        if b.kind in BRIDGE_TYPES:
            got = (BRIDGE_TYPES[b.kind], f"'{name}' is a {b.kind}")
        elif b.upstream is None or b.upstream not in bridges or depth > len(bridges):
            got = (PcieType.UPSTREAM, f"switch port '{name}' has no port above it")
        else:
            above, _ = self._bridge_type(b.upstream, out, depth + 1)
            if above is PcieType.UPSTREAM:
                got = (
                    PcieType.DOWNSTREAM,
                    f"switch port '{name}' is below upstream port "
                    f"'{b.upstream}': a downstream port",
                )
            else:
                got = (
                    PcieType.UPSTREAM,
                    f"switch port '{name}' is below {above.value} "
                    f"'{b.upstream}': the switch's upstream port",
                )
        out[name] = got
        return got

    def _function(
        self,
        name: str,
        bridge: str | None,
        kinds: dict[str, tuple[PcieType, str]],
        slots: dict[tuple[Hashable, int], int],
    ) -> Function:
        model = self.model
        if bridge is not None:
            b = model.bridges[bridge]
            pci, parent, span = b.pci, b.upstream, b.span
            compat, acs, mf, aliases = b.compatibles, b.acs, b.multifunction, b.aliases
            ftype, type_why = kinds[bridge]
        else:
            d = model.devices[name]
            pci, parent, span = d.pci, d.upstream, d.span
            compat, acs, mf, aliases = d.compatibles, d.acs, d.multifunction, d.aliases
            ftype, type_why = self._device_type(name)
        if parent is not None and parent not in model.bridges:
            parent = None  # E105 said so
        bus = self._bus(parent, pci)
        count = slots.get((bus, pci.device), 1) if pci is not None else 1
        if mf is not None:
            multifunction, mf_why = mf, f"'multifunction {'yes' if mf else 'no'}' is stated"
        elif pci is not None and pci.function != 0:
            multifunction, mf_why = (
                True,
                f"function {pci.function} exists only in a multifunction device",
            )
        elif count > 1:
            multifunction, mf_why = True, f"its slot has {count} functions"
        else:
            multifunction, mf_why = False, "it is the only function of its slot"
        vendor, device, klass = ids_of(compat)
        devfns = frozenset(
            (a.device << 3) | a.function
            for a in aliases
            if pci is None or (a.domain, a.bus) == (pci.domain, pci.bus)
        )
        return Function(
            name=name,
            node=name if pci is not None or bridge is None else "bridge:" + name,
            address=pci,
            type=ftype,
            type_why=type_why,
            bridge=model.bridges[bridge].kind if bridge is not None else None,
            multifunction=multifunction,
            mf_why=mf_why,
            vendor=vendor,
            device=device,
            class_code=klass,
            acs=acs,
            parent=parent,
            bus=bus,
            aliases=devfns,
            span=span,
        )

    def _device_type(self, name: str) -> tuple[PcieType, str]:
        """A device's type: as stated (`pcie TYPE`), else conventional PCI behind a PCI
        bridge, a root complex integrated endpoint on a root bus, an endpoint below a port."""
        d = self.model.devices[name]
        if d.pcie is not None:
            try:
                return PcieType(d.pcie), f"'pcie {d.pcie}' is stated"
            except ValueError:
                pass  # E005 said so
        parent = self.model.bridges.get(d.upstream or "")
        if d.acs is not None and d.acs.cap is not None:
            # ACS is a PCIe extended capability: a function with one is PCI Express
            if parent is None:
                return PcieType.RC_ENDPOINT, "it has an ACS capability, on a root bus: an RCiEP"
            return PcieType.ENDPOINT, "it has an ACS capability, below a port: an endpoint"
        if parent is not None and parent.kind in ("pci-bridge", "conventional-bridge"):
            return PcieType.CONVENTIONAL, (
                f"it is below {parent.kind} '{parent.name}': a conventional PCI function"
            )
        if parent is None and (d.pci is None or d.pci.bus == 0):
            # chipset functions on bus 0 mostly have no Express capability (LPC, SMBus,
            # xHCI, HD audio); an integrated GPU is an RCiEP: say `pcie rc-endpoint`
            return (
                PcieType.CONVENTIONAL,
                "on bus 00 with no bridge above: taken as conventional PCI",
            )
        if parent is None:
            return PcieType.ENDPOINT, "no bridge above it is stated: taken as an endpoint"
        return PcieType.ENDPOINT, f"below '{parent.name}', taken as an endpoint"

    # -- walking -----------------------------------------------------------------------------
    def parent(self, fn: Function) -> Function | None:
        """bus->self: the bridge whose secondary bus the function is on."""
        return self.functions.get(fn.parent) if fn.parent else None

    def ancestors(self, fn: Function) -> Iterator[Function]:
        cur = self.parent(fn)
        seen: set[str] = set()
        while cur is not None and cur.name not in seen:
            seen.add(cur.name)
            yield cur
            cur = self.parent(cur)

    def same_bus(self, fn: Function) -> list[Function]:
        """The other functions on the function's bus, in bus order."""
        return [f for f in self.buses().get(fn.bus, []) if f.name != fn.name]

    def same_slot(self, fn: Function) -> list[Function]:
        """The other functions of the function's slot (none without an address), in bus
        order: looked up, as a root bus can hold hundreds of slots."""
        if fn.slot is None:
            return []
        if self._slots is None:
            self._slots = {}
            for f in self.in_order():
                if f.slot is not None:
                    self._slots.setdefault((f.bus, f.slot), []).append(f)
        return [f for f in self._slots[fn.bus, fn.slot] if f.name != fn.name]

    def buses(self) -> dict[Hashable, list[Function]]:
        """Each bus's functions, in bus order."""
        if self._buses is None:
            self._buses = {}
            for f in self.in_order():
                self._buses.setdefault(f.bus, []).append(f)
        return self._buses

    def secondary_bus(self, bridge: Function) -> int | None:
        """The bridge's secondary bus number, from the functions below it."""
        for child in self.children.get(bridge.name, []):
            if child.address is not None:
                return child.address.bus
        return None

    def in_order(self) -> list[Function]:
        """Bus order, as the PCI core adds devices (pci_scan_child_bus): every function of
        a bus by devfn, then each bridge's bus below, depth first."""
        if self._order is not None:
            return self._order
        out: list[Function] = []
        seen: set[str] = set()
        self._walk(None, out, seen)
        out += [f for f in self.functions.values() if f.name not in seen]  # a cycle: E119
        self._order = out
        return out

    # a method, not a closure calling itself (see _bridge_type)
    def _walk(self, parent: str | None, out: list[Function], seen: set[str]) -> None:
        level = sorted(self.children.get(parent, []), key=_devfn)
        if parent is None:
            level.sort(
                key=lambda f: (
                    (f.address.domain, f.address.bus) if f.address else (1 << 16, 0),
                    *_devfn(f),
                )
            )
        for f in level:
            if f.name not in seen:
                seen.add(f.name)
                out.append(f)
        for f in level:
            if f.bridge is not None:
                self._walk(f.name, out, seen)

    def rank(self) -> dict[str, int]:
        """Each function's place in bus order (in_order): sorting the few functions one
        IOMMU probes by it costs what they are, not what the whole bus is."""
        if self._rank is None:
            self._rank = {f.name: i for i, f in enumerate(self.in_order())}
        return self._rank
