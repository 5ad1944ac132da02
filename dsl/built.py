"""Stage 3b: the domains drivers build, derived from the packs' `builds domain` rules.

A pack knows what a driver does once the device tree names the device: tegra-drm puts its
engines in one unmanaged domain (host1x_drm_probe), a remoteproc builds one per processor
(rproc_enable_iommu). Here each active rule becomes a domain statement for the devices it
matches that the kernel translates (the drivers check iommu_get_domain_for_dev or
device_iommu_mapped first, so an untranslated device is left on the DMA API). A board's own
`domain` statement wins: a domain of the same name is not derived, a device it attaches
gets no domain of its own, and a driver's one shared domain is the board's as soon as the
board's statement holds any of its devices.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import ast
from .diagnostics import Label, warning
from .enums import Verb
from .model import Domain as ModelDomain
from .provenance import Reason
from .resolution import Resolution
from .rules import ActiveRule, by_verb, conditions_hold

SHARED_DEFAULT = "default-of-first"


@dataclass(frozen=True)
class Built:
    """A domain a pack's rule derives: the statement a board would write, and why."""

    spec: ModelDomain
    why: tuple[Reason, ...]


def derive(res: Resolution, rules: list[ActiveRule]) -> None:
    """Fill res.built from the active `builds domain` rules, in rule order."""
    builders = by_verb(rules, Verb.BUILDS_DOMAIN)
    if not builders:  # what follows indexes every device: nothing to build, nothing to do
        return
    model = res.model
    board: set[str] = set()  # devices a board domain built here holds
    held: set[str] = set()  # the names of the board's domains built here
    for spec in model.domains.values():
        if conditions_hold(res, spec.conditions)[0]:
            held.add(spec.name)
            board.update(spec.attach)
            if spec.of is not None:
                board.add(spec.of)
    # names the board gives other things: a pack's domain of that name is not built
    taken = {*model.devices, *model.iommus, *model.bridges}
    claimed = set(board)  # and those an earlier rule's domain holds
    order = {name: dev.probe_order for name, dev in model.devices.items()}
    for rule in builders:
        verb = rule.rule.verb
        assert isinstance(verb, ast.Verb) and verb.domain is not None  # the grammar's shape
        translated = [
            d for d in sorted(rule.devices, key=lambda d: (order[d], d)) if _translated(res, d)
        ]
        if not verb.per_device and board.intersection(translated):
            continue  # the board wrote the driver's one domain itself
        devices = [d for d in translated if d not in claimed]
        names = (
            {f"{verb.domain.text}-{d}": [d] for d in devices}
            if verb.per_device
            else {verb.domain.text: devices}
        )
        for name, members in names.items():
            if name in held or name in res.built or name in taken or not members:
                # the board's statement wins (or the board named something else so); rules
                # of one name are alternatives, the first with devices builds it (msm: the
                # MDP's, else the MDSS's); or nothing here for the driver
                continue
            built = _spec(res, name, rule, members)
            if built is not None:
                res.built[name] = built
                claimed.update(built.spec.attach)
                if built.spec.of is not None:
                    claimed.add(built.spec.of)


def _translated(res: Resolution, device: str) -> bool:
    """Whether the device has an IOMMU and a group the kernel kept."""
    dres = res.devices[device]
    group = res.group_of(device)
    return dres.iommu is not None and group is not None and not group.failed


def _spec(res: Resolution, name: str, rule: ActiveRule, members: list[str]) -> Built | None:
    """The domain statement for one derived domain; its devices behind instances the
    driver's domain cannot span are left out (W222)."""
    verb = rule.rule.verb
    assert isinstance(verb, ast.Verb) and verb.built is not None
    kind = verb.built.text
    iommus = list(dict.fromkeys(res.devices[m].iommu or "" for m in members))
    instances = [res.model.iommus[i] for i in iommus]
    if len(instances) > 1 and not instances[0].driver.spans(instances):
        first = iommus[0]
        left = [m for m in members if res.devices[m].iommu != first]
        res.diagnostics.append(
            warning(
                "W222",
                f"rule '{rule.rule.name}' builds domain '{name}' for devices behind "
                f"{len(iommus)} IOMMUs, and {instances[0].kind} cannot span instances: "
                f"{', '.join(left)} stay{'s' if len(left) == 1 else ''} out of it",
                rule.rule.span,
                secondary=tuple(
                    Label(res.model.devices[m].span, f"'{m}' is behind '{res.devices[m].iommu}'")
                    for m in left[:1]
                ),
                help="the driver's attach fails with -EINVAL on another instance; a board "
                "that knows better writes its own `domain` statement",
            )
        )
        members = [m for m in members if m not in left]
        iommus = [first]
    if kind == SHARED_DEFAULT and len(members) < 2:
        return None  # no other device (on that instance) to share the default domain with
    why = rule.reason(
        f'rule "{rule.rule.name}": the driver builds '
        + (
            f"the default domain of '{members[0]}' into '{name}' for its other devices"
            if kind == SHARED_DEFAULT
            else f"domain '{name}' ({kind})"
        )
    )
    shared = kind == SHARED_DEFAULT
    spec = ModelDomain(
        name,
        "default" if shared else kind,
        tuple(iommus),
        tuple(members[1:] if shared else members),
        rule.rule.span,
        rule.rule.file,
        (),
        members[0] if shared else None,
        verb.unless.text if verb.unless is not None else None,
        verb.log.value if verb.log is not None else None,
        _window(verb.window),
    )
    return Built(spec, (why,))


def _window(window: ast.Window | None) -> tuple[int, int] | None:
    """The rule's window as validated (validate.py refuses a bad one before resolving)."""
    return None if window is None else (window.base.value, window.size.value)
