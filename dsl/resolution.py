"""What the resolver derives: groups, domains, contexts and DMA ops, each with a reason."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NamedTuple

from .conditions import Platform
from .diagnostics import Diagnostic
from .enums import DomainState, DomainType, Origin
from .model import Expectation, Model
from .provenance import Reason

if TYPE_CHECKING:
    from .built import Built
    from .model import Domain as ModelDomain

# What a group's default domain, or the system's, is until the stage deciding it has run;
# one reason for all (reasons are frozen), not one made per group
NOT_DECIDED = Reason("not decided")
# the driver flags of a device none names: one empty mapping, read-only, not a dict a miss
NO_FLAGS: Mapping[str, Reason] = MappingProxyType({})


@dataclass
class Group:
    id: int
    iommu: str
    members: list[str]
    reason: Reason
    name: str | None = None  # SoC group name (sysfs iommu_group/name)
    bridges: list[str] = field(default_factory=list)
    default: DomainType | None = None  # None: no default domain
    default_reason: Reason = NOT_DECIDED
    failed: bool = False  # the kernel refused: members are unwound from the IOMMU


@dataclass
class Domain:
    """A domain that exists at run time: a default domain, a driver's, or an arm32 mapping."""

    name: str
    type: DomainType
    iommu: str
    origin: Origin
    devices: list[str]
    reason: Reason
    context: int | None = None
    more_contexts: tuple[int, ...] = ()  # further fixed contexts (a qcom-iommu device's cells)
    # a driver domain attached across instances (`on A, B`): its domain ID on each other one
    contexts_on: dict[str, int] = field(default_factory=dict)
    arm_mapping: bool = False  # a driver's arm32 dma_iommu_mapping: its devices use arm_iommu
    context_reason: Reason | None = None
    released_context: int | None = None  # the context it held until its driver let it go
    state: DomainState = DomainState.LIVE
    errno: str = ""  # what a failed attach returned: -ENOSPC, -ENODEV, -EBUSY, -EINVAL
    exhausted_on: str | None = None  # the IOMMU that had no context, when not `iommu`
    window: tuple[int, int] | None = None  # an arm32 mapping's IOVA base and size

    @property
    def failed(self) -> bool:
        """Not in use: its allocation or attach failed, or its driver released it."""
        return self.state is not DomainState.LIVE

    @property
    def released(self) -> bool:
        return self.state is DomainState.RELEASED

    def fail(self, errno: str | None = None) -> None:
        """The allocation or attach fails (with this errno, where the kernel returns one)."""
        self.state = DomainState.FAILED
        if errno is not None:
            self.errno = errno

    def release(self) -> None:
        """The driver detaches it again (arm_iommu_detach_device)."""
        self.state = DomainState.RELEASED

    @property
    def outcome(self) -> str:
        """Why it is not in use, as the views print it: the errno, or 'released'."""
        return str(DomainState.RELEASED) if self.released else self.errno

    def placement(self) -> str:
        """Where the domain sits, for one-line views: "context 3", "contexts 1, 2",
        "context 1 (vopl_mmu: 1)"."""
        if self.context is None:
            return "no context"
        held = (self.context, *self.more_contexts)
        text = ("contexts " if len(held) > 1 else "context ") + ", ".join(map(str, held))
        if self.contexts_on:
            text += " (" + ", ".join(f"{i}: {n}" for i, n in sorted(self.contexts_on.items())) + ")"
        return text


class Checked(NamedTuple):
    """An `expect` statement checked against the resolution."""

    expectation: Expectation
    passed: bool
    actual: str  # the value, as text
    why: Reason  # why the value is what it is


@dataclass
class DeviceResult:
    name: str
    iommu: str | None = None
    group: int | None = None
    domain: str | None = None  # the domain the device ends up in
    values: dict[str, object] = field(default_factory=dict)
    reasons: dict[str, Reason] = field(default_factory=dict)

    def set(self, attr: str, value: object, reason: Reason) -> None:
        self.values[attr] = value
        self.reasons[attr] = reason


@dataclass
class Resolution:
    model: Model
    platform: Platform
    # in probe order (the model's order, kept by attach_iommus and Grouping.restore)
    devices: dict[str, DeviceResult] = field(default_factory=dict)
    groups: list[Group] = field(default_factory=list)
    domains: dict[str, Domain] = field(default_factory=dict)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    log: list[str] = field(default_factory=list)  # kernel log lines this boot prints
    global_default: DomainType = DomainType.DMA
    global_reason: Reason = NOT_DECIDED
    rule_hits: dict[int, int] = field(default_factory=dict)  # rule index -> devices matched
    expectations: list[Checked] = field(default_factory=list)
    # device -> driver flag -> who says the driver does that (the device, or a pack's rule)
    driver: dict[str, dict[str, Reason]] = field(default_factory=dict)
    # PCI function -> the driver bound to it (vfio.Binding), where the board or the
    # command line says, or the port driver takes it
    bound: dict[str, Any] = field(default_factory=dict)
    # domains the packs' `builds domain` rules derive for this board (built.py)
    built: dict[str, Built] = field(default_factory=dict)
    settled: bool = False  # resolve() has finished: domains and contexts no longer change
    _holders: dict[str, list[Domain]] | None = field(default=None, repr=False, compare=False)
    _live: frozenset[str] | None = field(default=None, repr=False, compare=False)
    # what the IOMMU and group stages left, kept for a what-if to start from (resolve.py)
    grouping: Any = field(default=None, repr=False, compare=False)
    # whether a swiotlb pool exists, and why: one answer for every device (dmaops.py)
    swiotlb: tuple[bool, Reason] | None = field(default=None, repr=False, compare=False)

    def driver_does(self, device: str, flag: str) -> Reason | None:
        """Why the device's driver has this behaviour (`driver FLAG`), or None."""
        return self.driver.get(device, NO_FLAGS).get(flag)

    def domain_specs(self) -> dict[str, ModelDomain]:
        """Every driver-built domain statement: the board's, then those the packs derive."""
        return {**self.model.domains, **{n: b.spec for n, b in self.built.items()}}

    def group_of(self, device: str) -> Group | None:
        gid = self.devices[device].group
        return self.groups[gid] if gid is not None else None

    def contexts_used(self, iommu: str) -> list[Domain]:
        """The domains holding a context on the IOMMU, spanning domains included. Once the
        resolution is settled, from an index built once: views ask this for every IOMMU,
        and scanning every domain each time grows with IOMMUs times domains."""
        if self.settled:
            if self._holders is None:
                self._holders = {}
                for d in self.domains.values():
                    on = ([d.iommu] if d.context is not None else []) + list(d.contexts_on)
                    for name in dict.fromkeys(on):
                        self._holders.setdefault(name, []).append(d)
            return self._holders.get(iommu, [])
        return [
            d
            for d in self.domains.values()
            if (d.iommu == iommu and d.context is not None) or iommu in d.contexts_on
        ]

    def context_slots(self, iommu: str, live: frozenset[str] | None = None) -> dict[int, Domain]:
        """Each context in use on the IOMMU and the domain holding it (see context_slots);
        callers looping over IOMMUs pass live_domains() once."""
        if live is None:
            live = self.live_domains()
        return context_slots(self.contexts_used(iommu), iommu, live)

    def context_sharers(
        self, iommu: str, live: frozenset[str] | None = None
    ) -> dict[int, list[Domain]]:
        """Each context in use on the IOMMU and every live domain holding it."""
        if live is None:
            live = self.live_domains()
        return context_sharers(self.contexts_used(iommu), iommu, live)

    def live_domains(self) -> frozenset[str]:
        """The domains some device is attached to now. Once the resolution is settled,
        worked out once: the checks and both sides of every diff ask (10,000 devices)."""
        if self._live is not None:
            return self._live
        live = frozenset({d.domain for d in self.devices.values() if d.domain})
        if self.settled:
            self._live = live
        return live

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.is_error]


def context_sharers(
    domains: Iterable[Domain], iommu: str, live: frozenset[str] | None = None
) -> dict[int, list[Domain]]:
    """Each context the domains hold on this IOMMU, lowest first, and who holds it. Where
    several domains program one context, those a device is attached to now (in ``live``)
    share it, as every region's domain shares an M4U's one page table; a domain left
    behind (a qcom-iommu device's default domain under its driver's own) counts only when
    no live one holds the context."""
    held_by: dict[int, list[Domain]] = {}
    for d in domains:
        held = (d.context, *d.more_contexts) if d.iommu == iommu and d.context is not None else ()
        if not held and iommu in d.contexts_on:
            held = (d.contexts_on[iommu],)
        for c in held:
            held_by.setdefault(c, []).append(d)
    out: dict[int, list[Domain]] = {}
    for c in sorted(held_by):
        holders = held_by[c]
        attached = [d for d in holders if live is not None and d.name in live]
        out[c] = attached or holders[:1]
    return out


def context_slots(
    domains: Iterable[Domain], iommu: str, live: frozenset[str] | None = None
) -> dict[int, Domain]:
    """Each context the domains hold on this IOMMU, lowest first, and the first of its
    holders (context_sharers)."""
    return {c: ds[0] for c, ds in context_sharers(domains, iommu, live).items()}
