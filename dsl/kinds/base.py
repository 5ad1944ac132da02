"""What a kind of IOMMU is: one record per kernel driver, as the resolver asks about it.

A :class:`Kind` mirrors the kernel's ``struct iommu_ops`` and its driver:
how a client's cells are read (``of_xlate``), which devices it takes
(``probe_device``), how it groups them (``device_group``), which domains it
can allocate in which era, how it hands out contexts, and what an unattached
stream does.  Every facet is a required field, so a new kind that forgets one
fails at import, not silently at resolve time.  Where the kernel's logic is
procedural, a family overrides a hook method (``device_group``,
``take_context``, ``cannot_build``, ...); the defaults are the kernel core's.

The stages never name a driver: they ask ``iommu.driver.<facet>`` (the record
of an ``Iommu``'s kind) and call its hooks.  Records are data, so the hooks
receive the stage's working objects (the grouper, the context allocator, the
resolution) and use their public methods; this module imports none of them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from ..eras import Era
from ..provenance import Reason

if TYPE_CHECKING:
    from .. import ast
    from ..allocator import Allocator
    from ..conditions import Platform
    from ..diagnostics import Span
    from ..groups import Grouper
    from ..model import Device, Iommu
    from ..resolution import DeviceResult, Domain, Group, Resolution
    from ..rules import ActiveRule
    from ..validate import Builder

IOMMU_C = "drivers/iommu/iommu.c"
GENERIC_GROUP = f"{IOMMU_C}: generic_device_group"
PCI_GROUP = f"{IOMMU_C}: pci_device_group"


@dataclass(frozen=True)
class Contexts:
    """How the driver hands out contexts (context banks, ASIDs, domain IDs)."""

    max: int | None  # the largest `contexts` the hardware has; None: no practical limit
    first: int  # the number of the first context (qcom-iommu counts from 1)
    errno: str  # what an attach returns when none is free
    uncounted: str | None  # why `contexts` means nothing on this kind (it is E114 there)
    pool: int | None  # IDs come from one system-wide pool: the first ID it hands out
    source: str | None  # the function that allocates one
    fixed: bool  # contexts are fixed by the device tree, never allocated
    release_on_leave: str | None  # the driver frees a domain's context when its last group leaves
    id_text: str  # how a domain ID from an unlimited allocator is described ("{n}")


@dataclass(frozen=True)
class Kind:
    """One kind of IOMMU: a kernel driver and what the resolver needs to know of it."""

    # -- what it is ---------------------------------------------------------------------------
    name: str  # the `iommu NAME: KIND` word
    driver: str  # the driver's source
    notes: str  # what else the kinds table in docs/language.md says of it
    pack: str | None  # the stdlib pack with the driver's per-device policy
    compatibles: tuple[str, ...]  # device-tree compatibles (prefixes) its driver matches
    arch: tuple[str, str] | None  # the one architecture that builds it, and the Kconfig line
    selects_arm_dma_use_iommu: str | None  # its Kconfig symbol, where it selects that
    # -- which devices it takes, and how it reads their cells ---------------------------------
    streams: frozenset[str]  # stream forms a client writes: "sid", "swgroup", "context", "none"
    stream_doc: str  # the client stream as docs/language.md shows it
    cells: int  # the usual #iommu-cells
    xlate: str  # how the driver reads a client's cells (of_xlate)
    dt_stream: str | None  # what `import dts` writes from a specifier (None: nothing)
    smr: bool  # arm-smmu stream match registers: a stream may carry an SMR mask
    pci: bool  # translates PCI functions
    pci_note: str  # what the PCI column of the kinds table adds ("" or " (6.6+)")
    pci_claim: str | None  # claims every PCI function without an `iommus` link: how
    pci_only: str | None  # probe_device takes PCI functions only: what it does with others
    probes_unbound: bool  # probes devices no driver binds (before OF_PROBE_PATH)
    quirks: frozenset[str]  # the `quirk`s its driver has
    # -- groups -------------------------------------------------------------------------------
    pci_groups: bool  # device_group hands PCI functions to pci_device_group
    group_source: str  # the function that gives a platform master its group
    # -- domains -------------------------------------------------------------------------------
    fq_alloc: bool  # domain_alloc took IOMMU_DOMAIN_DMA_FQ before DEFERRED_FLUSH_CAP
    deferred_flush: Era | None  # reports IOMMU_CAP_DEFERRED_FLUSH from this era
    static_default: str | None  # the static ops->default_domain (IOMMU_DOMAIN_PLATFORM)
    span: str | None  # lets one domain span its instances: where
    no_span: str | None  # refuses a domain set up on another instance: where
    all_links: bool  # attaches a device's domain to every instance its `iommus` names
    single_client: str | None  # a domain takes one client device: where
    shared_page_table: bool  # every domain of an instance shares its one page table
    shared_arm_mapping: str | None  # attaches every master to the driver's one arm32 mapping
    iova_regions: str | None  # the driver picks a master's IOVA region by port (`region`)
    contexts: Contexts
    # -- DMA -----------------------------------------------------------------------------------
    passes_unattached: str | None  # a stream no domain is attached to reaches memory: where
    faults_unattached: str | None  # such a stream faults: where
    arch_dma: str | None  # the DMA API is the arch's own ops whatever the IOMMU API holds
    # the IOVA window its domains translate when the board states none (base, size, where the
    # driver sets domain->geometry); None: the whole of what its page tables address
    aperture: tuple[int, int, str] | None

    # matches streams with SMRs (arm_smmu_find_sme): `smrs` and `stream-match-mask` apply
    stream_matching: ClassVar[bool] = False

    # -- hooks: the kernel's procedural logic, per driver ---------------------------------------
    def device_group(self, grouper: Grouper, iommu: Iommu, devs: Sequence[Device]) -> None:
        """Link the devices the driver's device_group puts in one group (grouper.link).
        The core's default: platform masters alone (generic_device_group), PCI functions
        through pci_device_group where the driver hands them to it."""
        if self.pci_groups:
            grouper.pci([d for d in devs if d.pci is not None])

    def alone(self, res: Resolution, dev: Device, iommu: Iommu) -> tuple[str, str]:
        """Where a device alone in its group is, and the function that put it there."""
        if dev.pci is not None and self.pci_groups:
            return "its group", PCI_GROUP
        return "its group", self.group_source

    def refuse_probe(self, res: Resolution, dev: Device, iommu: Iommu) -> Reason | None:
        """Why probe_device leaves a client untranslated (logging and warning as the
        kernel does), or None when it takes the client."""
        return None

    def take_unpaged(self, alloc: Allocator, iommu: Iommu, dom: Domain) -> bool:
        """An identity or blocked domain: most drivers need no context for it."""
        return True

    def take_context(self, alloc: Allocator, iommu: Iommu, dom: Domain) -> bool | None:
        """Give a paging domain its context where the driver does not allocate one from a
        count (a single aperture, one page table, contexts fixed by the device tree);
        None: the core's way, the lowest free context (or the next domain ID)."""
        return None

    def restrict_contexts(
        self, alloc: Allocator, iommu: Iommu, dom: Domain, allowed: set[int], why: list[Reason]
    ) -> None:
        """Narrow the contexts a domain may take, as the driver's allocator does."""

    def took(self, alloc: Allocator, dom: Domain) -> None:
        """After a domain got its context: what else the driver programs for it."""

    def pool_start(self, platform: Platform) -> int:
        """The first ID a system-wide pool hands out (contexts.pool)."""
        assert self.contexts.pool is not None
        return self.contexts.pool

    def cannot_build(self, dtype: str, platform: Platform) -> str | None:
        """Why the driver cannot allocate a driver-built domain of this type, or None."""
        return None

    def stand_in(self, res: Resolution, dom: Domain, span: Span) -> None:
        """What the core puts in place of a blocked domain the driver does not have
        (a driver-built domain written at ``span``)."""

    def implicit_mapping(
        self, alloc: Allocator, dres: DeviceResult, group: Group, excluded: ActiveRule | None
    ) -> bool:
        """arm32 with ARM_DMA_USE_IOMMU: True where the driver, not the arch code, gives the
        device its mapping (set up here; ``excluded`` is an `excludes implicit` rule for
        it); False: arch_setup_dma_ops gives it one of its own."""
        return False

    def check_domain(self, builder: Builder, node: ast.Domain, iommu: Iommu) -> None:
        """Validate a driver-built `domain` on an instance of this kind."""

    def spans(self, iommus: Sequence[Iommu]) -> bool | None:
        """Whether one domain may span these instances: True, False (the driver refuses:
        no_span), None (not known)."""
        if self.span is not None:
            return True
        return False if self.no_span is not None else None

    def check_iommu(self, builder: Builder, node: ast.Iommu, disabled: bool) -> None:
        """Validate one IOMMU statement as the driver's probe would take it."""

    def check_board(
        self, builder: Builder, iommus: Sequence[Iommu], devices: dict[str, Device]
    ) -> None:
        """Validate what the driver refuses on a whole board (one per machine, one master
        per IOMMU, ...); the instances of this kind are ``iommus``."""

    def variant(self, cls: type[Kind] | None = None, **changes: object) -> Kind:
        """Another kind made like this one (a vendor implementation of the same driver)."""
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        return (cls or type(self))(**{**fields, **changes})


def one_group_per_instance(
    grouper: Grouper, kind: Kind, iommu: Iommu, devs: Sequence[Device]
) -> None:
    """Drivers whose device_group returns the instance's one group: all masters share it."""
    for d in devs[1:]:
        grouper.link(
            devs[0].name,
            d.name,
            Reason(
                f"{kind.name} '{iommu.name}' has one group for all its masters",
                iommu.span,
                kind.group_source,
            ),
        )


def shared_streams(iommu: Iommu, devs: Sequence[Device]) -> Iterator[tuple[Device, int, str]]:
    """Each (master, stream ID, the master that had the ID first) where two platform
    masters emit one ID on this IOMMU, in probe order."""
    seen: dict[int, str] = {}
    for dev in sorted(devs, key=lambda d: d.probe_order):
        for sid, _ in dev.stream_ids(iommu):
            if sid in seen and seen[sid] != dev.name:
                yield dev, sid, seen[sid]
            else:
                seen.setdefault(sid, dev.name)
