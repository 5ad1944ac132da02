"""pci_device_group (drivers/iommu/iommu.c), one function at a time in bus order.

The kernel never merges groups: a function probed later joins the first existing group
the search finds, or gets a new one. So this walks the probed functions in the order the
PCI core added them (bridges before what is below them) and, for each, runs the same
search over the functions already grouped: the DMA alias walk (pci_for_each_dma_alias),
the climb to where ACS isolates (pci_acs_path_enabled), then aliases and the non-isolated
functions of the same slot (get_pci_alias_group, get_pci_function_alias_group). A join is
a link, with its reason, to the member whose group was found.
"""

from __future__ import annotations

from collections.abc import Callable

from ..provenance import Reason
from .acs import REQ_ACS_FLAGS
from .isolation import Isolation
from .quirks import alias_quirk, xlate_root
from .topology import Function, PcieType, Topology

IOMMU_C = "drivers/iommu/iommu.c"
SEARCH_C = "drivers/pci/search.c: pci_for_each_dma_alias"

Found = tuple[Function, list[Reason]]


class PciGroups:
    """The group search for the functions one IOMMU probes."""

    def __init__(
        self,
        topo: Topology,
        iso: Isolation,
        link: Callable[[str, str, Reason], None],
        kernel: tuple[int, ...],
    ):
        self.topo = topo
        self.iso = iso
        self.link = link
        self.grouped: set[str] = set()  # functions that have a group (iommu_group_get)
        self.alone: dict[str, Reason] = {}  # why a function got a new group
        self.aliases = {name: self._aliases(fn, kernel) for name, fn in topo.functions.items()}
        # each bus's functions that DMA-alias another (bus order): a function aliasing
        # none can only be aliased by one of these, so its search looks at them alone
        self.aliasing: dict[object, list[Function]] = {}
        for bus, fns in topo.buses().items():
            self.aliasing[bus] = [f for f in fns if self.aliases[f.name][0]]

    def _aliases(self, fn: Function, kernel: tuple[int, ...]) -> tuple[frozenset[int], str]:
        quirk = alias_quirk(fn, kernel)
        devfns = fn.aliases | (quirk[0] if quirk else frozenset())
        why = quirk[1] if quirk else "its `alias` statement"
        return devfns, why

    def run(self, probed: list[Function]) -> None:
        """Group each function, in bus order."""
        for fn in probed:
            self.probe(fn)

    def probe(self, fn: Function) -> None:
        found = self.device_group(fn)
        if found is None:
            self.alone[fn.name] = self._new_group(fn)
        else:
            other, chain = found
            self.link(
                fn.node,
                other.node,
                Reason(
                    f"{fn.label()} joins the group of {other.label()}",
                    fn.span,
                    f"{IOMMU_C}: pci_device_group",
                    tuple(chain),
                ),
            )
        self.grouped.add(fn.name)

    # -- pci_device_group ---------------------------------------------------------------------
    def device_group(self, fn: Function) -> Found | None:
        chain: list[Reason] = []
        pdev = fn
        # 1. the upstream DMA alias: a device aliased by topology cannot have its own group
        for bridge in self.topo.ancestors(fn):
            if xlate_root(bridge):
                break
            if bridge.type in (PcieType.ROOT_PORT, PcieType.UPSTREAM, PcieType.DOWNSTREAM):
                continue
            chain.append(
                Reason(
                    f"{bridge.label()} ({bridge.type.value}) puts its own requester ID on "
                    "what comes from behind it: they are DMA aliases of it",
                    bridge.span,
                    SEARCH_C,
                )
            )
            pdev = bridge
            if bridge.name in self.grouped:
                return bridge, chain
        # 2. up to where ACS isolates the path to the root
        cur: Function = pdev
        while (up := self.topo.parent(cur)) is not None:
            failing, why = self.iso.path_enabled(up, REQ_ACS_FLAGS)
            if failing is None:
                break
            at = "" if failing is up else f": the path to the root fails at {failing.label()}"
            chain.append(
                Reason(
                    f"ACS does not isolate below {up.label()}{at}",
                    up.span,
                    f"{IOMMU_C}: pci_device_group (pci_acs_path_enabled)",
                    (why,),
                )
            )
            pdev = up
            if up.name in self.grouped:
                return up, chain
            cur = up
        # 3. a function it DMA-aliases, or that aliases it
        devfns: set[object] = set()
        found = self.alias_group(pdev, devfns)
        if found is None:
            # 4. the non-isolated functions of its slot
            found = self.function_alias_group(pdev, devfns)
        if found is None:
            return None
        other, more = found
        return other, chain + more

    def _new_group(self, fn: Function) -> Reason:
        """Why pci_device_group found no group to join: iommu_group_alloc."""
        because: list[Reason] = []
        parent = self.topo.parent(fn)
        if parent is not None:
            because.append(
                Reason(
                    f"ACS isolates the path from {parent.label()} to the root",
                    parent.span,
                    "drivers/pci/pci.c: pci_acs_path_enabled",
                    tuple(self.iso.path_reasons(parent, REQ_ACS_FLAGS)),
                )
            )
        siblings = self.topo.same_slot(fn)
        if not fn.multifunction or not siblings:
            because.append(Reason(f"no other function shares its slot ({fn.mf_why})", fn.span))
        else:
            ok, mine = self.iso.enabled(fn, REQ_ACS_FLAGS)
            if ok:
                because.append(mine)
            else:
                because += [self.iso.enabled(f, REQ_ACS_FLAGS)[1] for f in siblings]
        return Reason(
            f"{fn.label()} gets a group of its own",
            fn.span,
            f"{IOMMU_C}: pci_device_group (iommu_group_alloc)",
            tuple(because),
        )

    def alias_group(self, pdev: Function, devfns: set[object]) -> Found | None:
        """get_pci_alias_group."""
        key = pdev.devfn if pdev.devfn is not None else pdev.name
        if key in devfns:
            return None
        devfns.add(key)
        if pdev.name in self.grouped:
            return pdev, []
        if self.aliases[pdev.name][0]:
            others = self.topo.same_bus(pdev)
        else:
            others = [f for f in self.aliasing.get(pdev.bus, []) if f.name != pdev.name]
        for tmp in others:
            why = self._are_aliases(pdev, tmp)
            if why is None:
                continue
            found = self.alias_group(tmp, devfns) or self.function_alias_group(tmp, devfns)
            if found is not None:
                return found[0], [why, *found[1]]
        return None

    def function_alias_group(self, pdev: Function, devfns: set[object]) -> Found | None:
        """get_pci_function_alias_group: a multifunction device without ACS shares a group
        with the other functions of its slot that lack it too."""
        if not pdev.multifunction or pdev.slot is None:
            return None
        ok, mine = self.iso.enabled(pdev, REQ_ACS_FLAGS)
        if ok:
            return None
        for tmp in self.topo.same_slot(pdev):
            tmp_ok, theirs = self.iso.enabled(tmp, REQ_ACS_FLAGS)
            if tmp_ok:
                continue
            found = self.alias_group(tmp, devfns)
            if found is not None:
                a = pdev.address
                slot = f"{a.bus:02x}:{a.device:02x}" if a is not None else "?"
                why = Reason(
                    f"functions of multifunction slot {slot} that ACS does not isolate share "
                    "a group",
                    pdev.span,
                    f"{IOMMU_C}: get_pci_function_alias_group",
                    (mine, theirs),
                )
                return found[0], [why, *found[1]]
        return None

    def _are_aliases(self, a: Function, b: Function) -> Reason | None:
        """pci_devs_are_dma_aliases: one's dma_alias_mask holds the other's devfn."""
        for x, y in ((a, b), (b, a)):
            devfns, source = self.aliases[x.name]
            if y.devfn is not None and y.devfn in devfns:
                return Reason(
                    f"{x.label()} DMA-aliases {y.label()}",
                    x.span,
                    source
                    if source.startswith("drivers/")
                    else "drivers/pci/pci.c: pci_devs_are_dma_aliases",
                )
        return None
