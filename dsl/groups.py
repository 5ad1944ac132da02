"""Stage 1 and 2: which IOMMU each device is behind, and the IOMMU groups.

Groups are the connected components of a graph whose nodes are the devices
(and PCI bridges) and whose edges are the reasons the kernel cannot isolate
two of them, each edge labelled with that reason and its kernel source.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import TYPE_CHECKING

import networkx as nx

from .diagnostics import NO_SPAN
from .enums import Verb
from .eras import OF_PROBE_PATH
from .model import Device, Iommu, Model, SocGroup
from .provenance import Reason
from .resolution import DeviceResult, Group, Resolution
from .rules import ActiveRule, by_verb

if TYPE_CHECKING:
    from .pci.grouping import PciGroups
    from .pci.isolation import Isolation
    from .pci.topology import Topology


def attach_iommus(res: Resolution, rules: list[ActiveRule]) -> None:
    """fwspec: a device is translated only through a valid `iommus` entry or a PCI claim
    (drivers/iommu/of_iommu.c: of_iommu_configure; PCI_CLAIMS: x86 DMAR/IVRS, s390 zPCI)."""
    model = res.model
    excluded: dict[str, ActiveRule] = {}
    for rule in by_verb(rules, Verb.EXCLUDES_IOMMU):
        for name in rule.devices:
            excluded.setdefault(name, rule)
    claimers = [i for i in model.iommus.values() if i.driver.pci_claim is not None]
    mapped = [i for i in model.iommus.values() if i.maps]
    for dev in sorted(model.devices.values(), key=lambda d: d.probe_order):
        out = DeviceResult(dev.name)
        res.devices[dev.name] = out
        iommu, why = _iommu_of(dev, model, claimers, mapped)
        if iommu is not None and dev.disabled:
            iommu, why = None, Reason(f"'{dev.name}' is disabled in the device tree", dev.span)
        if iommu is not None and iommu.disabled:
            why = Reason(
                f"IOMMU '{iommu.name}' is disabled: its clients are not translated",
                iommu.span,
                "drivers/iommu/of_iommu.c: of_iommu_xlate (unavailable IOMMU is no IOMMU)",
            )
            iommu = None
        if iommu is not None and dev.name in excluded:
            rule = excluded[dev.name]
            why = rule.reason(f"'{iommu.name}' does not translate '{dev.name}'")
            iommu = None
        # before the M4U's checks: a device no driver binds never reaches probe_device
        unbound = res.driver_does(dev.name, "none")
        if iommu is not None and unbound is not None and not _probed_unbound(res, iommu):
            why = Reason(
                f"no driver binds '{dev.name}': before 6.15 a firmware-described device is set "
                "up for its IOMMU only when a driver binds (really_probe -> dma_configure -> "
                "of_iommu_configure), so it gets no group",
                unbound.span,
                "drivers/base/dd.c: really_probe; drivers/iommu/of_iommu.c: of_iommu_configure",
                (unbound, res.platform.kernel_reason),
            )
            iommu = None
        if iommu is not None and (refused := iommu.driver.refuse_probe(res, dev, iommu)):
            why, iommu = refused, None
        out.iommu = iommu.name if iommu else None
        out.set("iommu", iommu.name if iommu else "none", why)


def _probed_unbound(res: Resolution, iommu: Iommu) -> bool:
    """Whether a device no driver binds still joins a group: x86 IOMMUs probe every PCI
    function from the ACPI tables at init (s390 every zPCI function, the PAMU every
    device, as the machine's only ops), POWER adds each function to its PE's group when
    the PCI code sets up its DMA (pnv_pci_ioda_dma_dev_setup: iommu_add_device), and from
    6.15 bus_iommu_probe parses DT/ACPI for every device (bcb81ac6ae3c, "iommu: Get DT/ACPI
    parsing into the proper probe path")."""
    return iommu.driver.probes_unbound or res.platform.since(OF_PROBE_PATH)


def _iommu_of(
    dev: Device, model: Model, claimers: list[Iommu], mapped: list[Iommu]
) -> tuple[Iommu | None, Reason]:
    links = [link for link in dev.iommus if link.iommu in model.iommus]
    if links:
        link = links[0]
        return model.iommus[link.iommu], Reason(
            f"'{dev.name}' has an iommus entry for '{link.iommu}'",
            link.span,
            "drivers/iommu/of_iommu.c: of_iommu_configure",
        )
    if dev.pci is not None and claimers:
        iommu = _claimer(dev, model, claimers)
        return iommu, Reason(
            f"{iommu.kind} '{iommu.name}' claims PCI device {dev.pci} ({iommu.driver.pci_claim})",
            iommu.span,
            "drivers/iommu/iommu.c: __iommu_probe_device",
        )
    if dev.pci is not None and mapped:
        for iommu in mapped:  # E127 makes the match unique
            found = iommu.map_entry(dev.pci)
            if found is not None:
                return iommu, Reason(
                    f"PCI device {dev.pci} reaches '{iommu.name}' through its iommu-map",
                    found[0].span,
                    "drivers/iommu/of_iommu.c: of_iommu_configure_dev_id (of_map_id)",
                )
        return None, Reason(
            f"no iommu-map entry covers PCI device {dev.pci} (RID {dev.pci.rid:#06x}): "
            "'no iommu-map translation for id', the device bypasses the IOMMU",
            mapped[0].maps[0].span,
            "drivers/of/base.c: of_map_id",
        )
    return None, Reason(f"'{dev.name}' has no iommus entry: not behind an IOMMU", dev.span)


def _claimer(dev: Device, model: Model, claimers: list[Iommu]) -> Iommu:
    """Which of several claiming IOMMUs takes a function the board links to none: for a
    bridge, the one the functions below it are linked to (an ACPI DMAR unit's device scope
    covers a bridge with its bus); else the one most PCI functions are linked to (the
    INCLUDE_PCI_ALL unit); else the first."""
    if len(claimers) == 1:
        return claimers[0]
    names = {i.name for i in claimers}
    below = [
        link.iommu
        for d in model.devices.values()
        if dev.bridge is not None and d.upstream == dev.name
        for link in d.iommus[:1]
        if link.iommu in names
    ]
    linked = below or [
        link.iommu
        for d in model.devices.values()
        if d.pci is not None
        for link in d.iommus[:1]
        if link.iommu in names
    ]
    if not linked:
        return claimers[0]
    best = max(sorted(set(linked)), key=linked.count)
    return model.iommus[best]


class Grouper:
    """Builds the group graph: each IOMMU's kind links the devices its driver's
    device_group puts together (kinds/), the core's pci_device_group links PCI functions,
    and the connected components are numbered as groups."""

    def __init__(self, res: Resolution):
        self.res = res
        self.model = res.model
        self.graph: nx.Graph = nx.Graph()
        self.failed: dict[str, Reason] = {}
        self._soc_groups: dict[str, list[tuple[SocGroup, tuple[Reason, ...]]]] = {}
        self._by_iommu: dict[str, list[Device]] = {}
        self._done: set[Hashable] = set()
        self._pci: tuple[Topology, Isolation] | None = None
        self.pci_alone: dict[str, Reason] = {}  # why a PCI function got a group of its own
        self._pci_search: PciGroups | None = None  # one search: the kernel's groups are global

    def link(self, a: str, b: str, reason: Reason) -> None:
        """Two devices (or a device and "bridge:NAME") the kernel cannot isolate."""
        if a != b and not self.graph.has_edge(a, b):
            self.graph.add_edge(a, b, reason=reason)

    def fail(self, dev: Device, reason: Reason) -> None:
        """The device's IOMMU probe fails: it is unwound from its IOMMU."""
        self.failed[dev.name] = reason

    def devices_on(self, iommu: str) -> list[Device]:
        """The translated devices behind this IOMMU."""
        return self._by_iommu.get(iommu, [])

    def first_time(self, key: Hashable) -> bool:
        """True once per key: for work a driver does once for several instances."""
        if key in self._done:
            return False
        self._done.add(key)
        return True

    def run(self) -> None:
        model = self.model
        translated = [
            model.devices[d.name] for d in self.res.devices.values() if d.iommu is not None
        ]
        # in one call: networkx clears its caches after each add_node (14,500 at 10k)
        self.graph.add_nodes_from(dev.name for dev in translated)
        for dev in translated:
            self._by_iommu.setdefault(self.res.devices[dev.name].iommu or "", []).append(dev)
        for name, devs in self._by_iommu.items():
            iommu = model.iommus[name]
            iommu.driver.device_group(self, iommu, devs)
        # the PCI search calls back into the grouper, which holds the resolution: let go,
        # so that reference counting frees a resolution no one holds (no cycle keeps it)
        self._pci_search = None
        self.number(translated)

    def soc_groups(self, iommu: Iommu) -> list[tuple[SocGroup, tuple[Reason, ...]]]:
        """The SoC groups this kernel's MC tables have, and why (a group's `when`);
        worked out once per IOMMU, as numbering asks for every group."""
        if iommu.name in self._soc_groups:
            return self._soc_groups[iommu.name]
        out: list[tuple[SocGroup, tuple[Reason, ...]]] = []
        for g in iommu.soc_groups:
            if g.condition is None:
                out.append((g, ()))
                continue
            ok, why, _pos = self.res.platform.holds(g.condition)
            if ok:
                out.append((g, tuple(why)))
        self._soc_groups[iommu.name] = out
        return out

    def by_key(
        self,
        devs: Sequence[Device],
        key: Callable[[Device], int | None],
        why: Callable[[Device, str, int], Reason],
    ) -> None:
        """Link each device to the first (in probe order) with the same key."""
        first: dict[int, str] = {}
        for dev in sorted(devs, key=lambda d: d.probe_order):
            k = key(dev)
            if k is not None:
                holder = first.setdefault(k, dev.name)
                self.link(holder, dev.name, why(dev, holder, k))

    # -- PCI: pci_device_group ------------------------------------------------------------
    def pci(self, devs: Sequence[Device]) -> None:
        """drivers/iommu/iommu.c: pci_device_group for the PCI functions an IOMMU probes,
        bridges included, in bus order (pci/grouping.py)."""
        from .pci.grouping import PciGroups

        topo, iso = self.pci_layer()
        names = {d.name for d in devs if d.pci is not None}
        # a bridge without an address still has a group the functions below it can join
        for name in list(names):
            names |= {b.name for b in topo.ancestors(topo.functions[name])}
        # in bus order; sorted by rank, as scanning the whole bus for each IOMMU grows with
        # IOMMUs times functions (121 x 45,000 on a 100k-device board)
        rank = topo.rank()
        probed = sorted((topo.functions[n] for n in names), key=lambda fn: rank[fn.name])
        self.graph.add_nodes_from(fn.node for fn in probed)
        if self._pci_search is None:
            self._pci_search = PciGroups(topo, iso, self.link, self.res.platform.kernel)
        self._pci_search.run(probed)
        self.pci_alone.update(self._pci_search.alone)

    def pci_layer(self) -> tuple[Topology, Isolation]:
        """The board's PCI functions and their isolation, worked out once."""
        if self._pci is None:
            from .pci.context import isolation
            from .pci.topology import Topology

            topo = Topology(self.model)
            iso, diags = isolation(self.res.platform, topo)
            self.res.diagnostics.extend(diags)
            self._pci = (topo, iso)
        return self._pci

    # -- numbering ---------------------------------------------------------------------
    def number(self, translated: list[Device]) -> None:
        order = {d.name: d.probe_order for d in translated}
        comps: list[tuple[list[str], list[str]]] = []
        # the connected components; most are one node without edges, taken as they are
        # (the sort below fixes the order whatever the order found)
        seen: set[str] = set()
        for node, nbrs in self.graph.adjacency():
            if not nbrs:
                if node in order:
                    comps.append(([node], []))
            elif node not in seen:
                comp = nx.node_connected_component(self.graph, node)
                seen |= comp
                members = sorted((n for n in comp if n in order), key=lambda n: (order[n], n))
                if members:
                    bridges = sorted(n[7:] for n in comp if n.startswith("bridge:"))
                    comps.append((members, bridges))
        comps.sort(key=lambda c: (order[c[0][0]], c[0][0]))
        # Each edge's reason goes to the component of its ends (one pass over the edges).
        comp_of = {}
        for cid, (members, bridges) in enumerate(comps):
            for n in members:
                comp_of[n] = cid
            for b in bridges:
                comp_of["bridge:" + b] = cid
        # Edges in graph.edges()'s order, read off the adjacency: the edge view networkx
        # caches on the graph refers back to it, a cycle only the collector frees
        reasons: dict[int, list[Reason]] = {}
        passed: set[str] = set()  # each edge once, from the first of its ends
        for u, nbrs in self.graph.adjacency():
            if nbrs:  # a node without edges is never another's neighbour
                if u in comp_of:
                    for v, data in nbrs.items():
                        if v not in passed:
                            reasons.setdefault(comp_of[u], []).append(data["reason"])
                # passed even where its component holds no device: its edges are not
                # read again from the other end
                passed.add(u)
        devices, results, iommus = self.model.devices, self.res.devices, self.model.iommus
        groups, alone, failed = self.res.groups, self.pci_alone, self.failed
        for gid, (members, bridges) in enumerate(comps):
            first = members[0]
            iommu = results[first].iommu or ""
            inst = iommus[iommu]
            if gid not in reasons and len(members) == 1:
                # a device alone (6,000 of the 6,500 groups of a 10k-device board)
                why = alone.get(first)
                if why is None:
                    where, source = inst.driver.alone(self.res, devices[first], inst)
                    why = Reason(f"'{first}' is alone in {where}", None, source)
                kinds = [first] if devices[first].bridge is not None else []
                group = Group(gid, iommu, members, why, None, sorted([*kinds, *bridges]))
            else:
                # One reason per distinct fact, even where it links several pairs.
                unique = {(r.text, r.span): r for r in reasons.get(gid, ())}
                edges = sorted(unique.values(), key=lambda r: (r.text, r.span or NO_SPAN))
                why = Reason(f"{len(members)} devices share group {gid}", None, None, tuple(edges))
                ports = {m for m in members if devices[m].bridge is not None}
                group = Group(gid, iommu, members, why, None, sorted(ports.union(bridges)))
            soc = self.soc_groups(inst)
            if soc:
                soc_names = {
                    g.name
                    for g, _ in soc
                    for m in members
                    for link in devices[m].iommus
                    for s in link.streams
                    if str(s.value) in {str(x) for x in g.members}
                }
                group.name = min(soc_names) if soc_names else None
            if failed:
                group.failed = any(m in failed for m in members)
            groups.append(group)
            for m in members:
                results[m].group = gid


def build_groups(res: Resolution) -> None:
    grouper = Grouper(res)
    grouper.run()
    for name, reason in grouper.failed.items():
        dev = res.devices[name]
        dev.set(
            "iommu",
            "none",
            Reason(f"'{name}' failed to probe into its IOMMU", None, None, (reason,)),
        )
