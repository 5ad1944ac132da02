"""Stage 4: domains that exist at run time and the contexts they take.

Events happen in the kernel's order: each device, in probe order, brings its
group's default domain (first attach takes a context) and, on arm32 with
ARM_DMA_USE_IOMMU, its own implicit mapping (arch_setup_dma_ops); then the
drivers attach the domains they build.  Identity and blocked domains cost no
context (an AMD-Vi identity domain still has a protection domain ID).
Exhaustion is the kernel's -ENOSPC (-EBUSY for the GART's single aperture),
and the device falls back as the kernel makes it.
"""

from __future__ import annotations

from .allocator import Allocator
from .diagnostics import Label, error, plural, warning
from .enums import DomainType, Origin, Verb
from .eras import ATTACH_EINVAL, DMA_OWNERSHIP
from .model import Device, Iommu
from .model import Domain as ModelDomain
from .provenance import Reason
from .resolution import Domain, Group, Resolution
from .rules import ActiveRule, by_verb, conditions_hold

ARM_MAPPING = "arch/arm/mm/dma-mapping.c: arm_setup_iommu_dma_ops"


def allocate(res: Resolution, rules: list[ActiveRule]) -> None:
    alloc = Allocator(res, rules)
    model = res.model
    plat = res.platform
    arm32 = plat.arch == "arm" and plat.enabled("ARM_DMA_USE_IOMMU")
    no_implicit: dict[str, ActiveRule] = {}
    for r in by_verb(rules, Verb.EXCLUDES_IMPLICIT):
        for d in r.devices:
            no_implicit[d] = r
    created: dict[int, Domain] = {}
    # `domain NAME: default of DEV`: DEV's default domain goes by NAME (built where it holds)
    named: dict[str, tuple[ModelDomain, list[Reason]]] = {}
    specs = _built_here(res)
    for spec, when in specs:
        if spec.of is not None:
            if spec.of in named:
                first = named[spec.of][0]
                res.diagnostics.append(
                    error(
                        "E120",
                        f"'{spec.name}' and '{first.name}' both name the default domain of "
                        f"'{spec.of}'",
                        spec.span,
                        secondary=(Label(first.span, f"'{first.name}' named it first"),),
                        help="a device has one default domain; name it once and attach "
                        "every other device in that statement",
                    )
                )
            else:
                named[spec.of] = (spec, when)
    # res.devices is in probe order: the model sorts its devices so (validate), and
    # attach_iommus and Grouping.restore keep that order
    for dres in res.devices.values():
        if dres.group is None:
            continue
        group = res.groups[dres.group]
        if group.failed:
            continue
        dev = model.devices[dres.name]
        # (a) the group's default domain, created when its first device probes
        if group.id not in created and group.default is not None:
            dom = Domain(
                f"default:{group.id}",
                group.default,
                group.iommu,
                Origin.DEFAULT,
                list(group.members),
                group.default_reason,
            )
            if named:
                _name_default(res, dom, group, named)
            created[group.id] = dom
            res.domains[dom.name] = dom
            if not alloc.take(dom):
                _default_failed(res, group, dom)
        if group.failed:
            continue
        dres.domain = created[group.id].name if group.id in created else None
        driver = model.iommus[group.iommu].driver
        if arm32 and driver.implicit_mapping(alloc, dres, group, no_implicit.get(dev.name)):
            continue
        # (b) arm32: the per-device mapping of arch_setup_dma_ops
        if arm32:
            if dev.name in no_implicit:
                dres.reasons["implicit"] = no_implicit[dev.name].reason(
                    f"no implicit mapping for '{dev.name}'"
                )
                continue
            window = implicit_window(dev)
            if window[1] > 1 << 32:  # dma-ranges wider than a 32-bit dma_addr_t reaches
                res.log.append(
                    f"Failed to create {window[1]}-byte IOMMU mapping for device {dev.name}"
                )
                dres.reasons["implicit"] = Reason(
                    f"no implicit mapping for '{dev.name}': its dma-ranges span "
                    f"{window[1]:#x} bytes, more than arm_iommu_create_mapping takes "
                    "(-ERANGE); arm_setup_iommu_dma_ops gives up and the device keeps the "
                    "arch's direct DMA ops",
                    dev.dma_range_span,
                    "arch/arm/mm/dma-mapping.c: arm_iommu_create_mapping, arm_setup_iommu_dma_ops",
                )
                continue
            mapping = Domain(
                f"arm_iommu:{dev.name}",
                DomainType.UNMANAGED,
                group.iommu,
                Origin.ARM32,
                [dev.name],
                Reason(
                    f"arm32 gives '{dev.name}' its own IOMMU mapping",
                    None,
                    ARM_MAPPING,
                    (plat.config_reason("ARM_DMA_USE_IOMMU"),),
                ),
                window=window,
            )
            res.domains[mapping.name] = mapping
            if len(group.members) > 1:
                mapping.fail("-EINVAL")
                mapping.context_reason = Reason(
                    f"group {group.id} has {len(group.members)} devices: "
                    "iommu_attach_device returns -EINVAL",
                    None,
                    "drivers/iommu/iommu.c: iommu_attach_device",
                )
                res.log.append(f"{dev.name}: Failed to attached device {dev.name} to IOMMU_mapping")
            elif not alloc.take(mapping):
                res.log.append(f"{dev.name}: Failed to attached device {dev.name} to IOMMU_mapping")
                _exhausted(
                    res,
                    mapping,
                    dev,
                    "the implicit arm32 mapping",
                    "the device keeps dma-direct (physical addresses)",
                )
            else:
                dres.domain = mapping.name
                detaches = res.driver_does(dev.name, "detaches-implicit")
                if detaches is not None:
                    alloc.release(mapping)
                    mapping.release()
                    earlier = (mapping.context_reason,) if mapping.context_reason else ()
                    mapping.context_reason = Reason(
                        f"the driver of '{dev.name}' detaches the implicit mapping",
                        detaches.span,
                        "arch/arm/mm/dma-mapping.c: arm_iommu_detach_device",
                        (detaches, *earlier),
                    )
                    dres.domain = created[group.id].name if group.id in created else None
    # (c) domains the drivers build and attach
    for spec, when in specs:
        if spec.of is not None:
            _share_default(res, alloc, spec, created)
        else:
            _driver_domain(res, alloc, spec, when, created)


def _built_here(res: Resolution) -> list[tuple[ModelDomain, list[Reason]]]:
    """The driver-built domains of this platform and why they are built: the board's
    statements whose `when` holds, then those the packs' rules derive (built.py)."""
    out = []
    for spec in res.model.domains.values():
        built, when = conditions_hold(res, spec.conditions)
        if built:  # else its `when` does not hold here: the driver does not build it
            out.append((spec, when))
    return out + [(b.spec, list(b.why)) for b in res.built.values()]


def _driver_domain(
    res: Resolution,
    alloc: Allocator,
    spec: ModelDomain,
    when: list[Reason],
    created: dict[int, Domain],
) -> None:
    """A domain a driver builds (`unmanaged`, `blocked`, `arm-mapping`) and attaches."""
    model = res.model
    shared = spec.type == "arm-mapping"
    dom = Domain(
        spec.name,
        # arm_iommu_create_mapping: UNMANAGED
        DomainType.UNMANAGED if shared else DomainType(spec.type),
        spec.iommu,
        Origin.DRIVER,
        [],
        Reason(
            f"a driver's arm32 mapping '{spec.name}' (arm_iommu_create_mapping)"
            if shared
            else f"driver-built {spec.type} domain '{spec.name}'",
            spec.span,
            None,
            tuple(when),
        ),
        arm_mapping=shared,
        window=spec.window,
    )
    res.domains[dom.name] = dom
    if shared and not res.platform.enabled("ARM_DMA_USE_IOMMU"):
        dom.fail()
        res.diagnostics.append(
            error(
                "E120",
                f"'{spec.name}' is an arm32 dma_iommu_mapping, which needs arch arm with "
                f"ARM_DMA_USE_IOMMU (here: arch {res.platform.arch})",
                spec.span,
                help="on other architectures a driver builds an 'unmanaged' domain",
            )
        )
        return
    for iommu in dict.fromkeys(spec.iommus):
        known = model.iommus.get(iommu)
        why = known.driver.cannot_build(spec.type, res.platform) if known else None
        if known is not None and why is not None:
            dom.fail()
            article = "an" if spec.type[0] in "aeiou" else "a"
            res.diagnostics.append(
                error(
                    "E120",
                    f"'{spec.name}': {known.kind} '{iommu}' cannot build {article} "
                    f"{spec.type} domain",
                    spec.span,
                    label="the driver's domain allocation fails",
                    help=why,
                )
            )
            return
    if spec.type == DomainType.BLOCKED:
        drivers = [model.iommus[i].driver for i in spec.iommus if i in model.iommus]
        for driver in dict.fromkeys(drivers):
            driver.stand_in(res, dom, spec.span)
    groups: list[Group] = []
    refused: set[int] = set()  # groups a single-client driver turned away
    overlaid: list[str] = []  # attached over an implicit mapping they keep (before 5.19)
    kept: list[tuple[str, Reason]] = []  # devices the driver leaves where they are (`unless`)
    for name in spec.attach:
        member = res.devices.get(name)
        if member is None or member.group is None:
            continue
        group = res.groups[member.group]
        if group.failed or group in groups:
            continue
        if (why_kept := _kept(res, spec, name)) is not None:
            kept.append((name, why_kept))
            continue
        busy = _implicit_holders(res, group)
        if busy and group.default is None and not res.platform.since(DMA_OWNERSHIP):
            # __iommu_attach_group refused only "if (group->default_domain && group->domain
            # != group->default_domain)" until 1ea2a07a532b (5.19): a group with no default
            # domain takes the new domain over the mapping, which stays allocated and keeps
            # the device's DMA ops.
            overlaid += busy
            busy = []
        if busy:
            dom.fail("-EBUSY")
            _busy_refusal(res, spec, name, busy[0])
            _driver_log(res, spec, name, "-EBUSY")
            continue
        if shared and len(group.members) > 1:
            _single_device_refusal(res, spec, name, group, "arm_iommu_attach_device")
            _driver_log(res, spec, name, "-EINVAL")
            continue
        if model.iommus[group.iommu].driver.single_client and (groups or len(group.members) > 1):
            # the second device of the group, or the first of a second group, finds the
            # domain taken; each group is refused once
            if group.id not in refused:
                refused.add(group.id)
                holder = groups[0].members[0] if groups else group.members[0]
                second = group.members[1] if not groups else name
                errno = _single_client_refusal(res, spec, second, holder, group.iommu)
                _driver_log(res, spec, second, errno)
            continue
        groups.append(group)
    # iommu_attach_group moves whole groups: a kept device whose group-mate was attached
    # went along, and stayed nowhere
    moved = {m for g in groups for m in g.members}
    if still := [why for name, why in kept if name not in moved]:
        r = dom.reason
        dom.reason = Reason(r.text, r.span, r.source, (*r.because, *still))
    if not groups:
        return
    dom.devices = [m for g in groups for m in g.members]
    # A domain on several instances (`on A, B`) lives where its first group is and takes
    # a domain ID on every other instance it is attached to (SPANNING_KINDS).
    dom.iommu = groups[0].iommu
    others = list(dict.fromkeys(g.iommu for g in groups if g.iommu != dom.iommu))
    if not alloc.take(dom):
        _exhausted(
            res,
            dom,
            model.devices[groups[0].members[0]],
            f"domain '{spec.name}'",
            "the driver's attach fails",
        )
        _driver_log(res, spec, groups[0].members[0], dom.errno)
        return
    full = {o for o in others if o not in dom.contexts_on and not alloc.take_more(dom, o)}
    for other in sorted(full):
        _no_context_on(
            res,
            spec,
            other,
            "the driver's attach fails there",
            "its groups on that IOMMU stay in their default domains",
        )
    groups = [g for g in groups if g.iommu not in full]
    dom.devices = [m for g in groups for m in g.members]
    listed = set(spec.attach)
    for group in groups:
        extra = [m for m in group.members if m not in listed]
        if extra:
            res.diagnostics.append(
                warning(
                    "W206",
                    f"attaching '{spec.name}' moves all of group {group.id}, "
                    f"including {', '.join(extra)}",
                    spec.span,
                    help="iommu_attach_group attaches whole groups",
                )
            )
        before = {res.devices[m].domain for m in group.members}
        for m in group.members:
            res.devices[m].domain = dom.name
            if m in overlaid:
                stays = (
                    "it keeps its context, though arm_iommu_attach_device moves the DMA "
                    "ops to the new mapping"
                    if shared
                    else f"the DMA API calls of '{m}' still map into its page table, which "
                    "the IOMMU no longer walks for it"
                )
                res.diagnostics.append(
                    warning(
                        "W212",
                        f"'{spec.name}' is attached to '{m}' over its implicit arm32 "
                        f"mapping, which is not released: {stays}",
                        spec.span,
                        help="before 5.19 the core let an attach replace a non-default "
                        "domain when the group had no default domain (__iommu_attach_group); "
                        "drivers that detach first say 'driver detaches-implicit'",
                    )
                )
        for left in sorted(n for n in before if n):
            _left(res, alloc, res.domains.get(left))


def _left(res: Resolution, alloc: Allocator, old: Domain | None) -> None:
    """A group left a domain (its default one, or a driver's) for another: where the driver
    lets a domain go when its last device leaves (release_on_leave), its context goes too,
    unless other devices are still in it (a `default of` domain shared with other groups)."""
    if old is None or old.origin is Origin.ARM32 or old.context is None:
        return  # (an arm32 mapping under a domain attached over it stays: W212)
    release = res.model.iommus[old.iommu].driver.contexts.release_on_leave
    if release is None:
        return
    if not any(res.devices[m].domain == old.name for m in old.devices):
        alloc.release(old, release)


# include/uapi/asm-generic/errno-base.h: the numbers drivers print
ERRNO = {"-ENOMEM": -12, "-EBUSY": -16, "-ENODEV": -19, "-EINVAL": -22, "-ENOSPC": -28}


def _driver_log(res: Resolution, spec: ModelDomain, device: str, errno: str) -> None:
    """The line a pack says the driver prints when its attach fails (`log "..."`)."""
    if spec.log is not None and errno in ERRNO:
        res.log.append(f"{device}: " + spec.log.replace("{errno}", str(ERRNO[errno])))


def _kept(res: Resolution, spec: ModelDomain, name: str) -> Reason | None:
    """Why a pack's driver leaves the device where it is: `unless attached`, it is in a
    domain already (an arm32 mapping not detached, a default domain); `unless
    translated`, in one that translates (not identity). As host1x_client_iommu_attach
    returns early (drivers/gpu/drm/tegra/drm.c), the device stays on the DMA API."""
    current = res.domains.get(res.devices[name].domain or "")
    if spec.unless is None or current is None or current.failed:
        return None
    if spec.unless == "translated" and current.type is DomainType.IDENTITY:
        return None
    return Reason(
        f"'{name}' stays in {current.name} ({current.type}): the driver attaches only a "
        f"device {'in no domain' if spec.unless == 'attached' else 'not translated'} yet",
        spec.span,
    )


def _implicit_holders(res: Resolution, group: Group) -> list[str]:
    """Members of a group still in their arm32 implicit mapping."""
    return [m for m in group.members if (res.devices[m].domain or "").startswith("arm_iommu:")]


def _no_context_on(res: Resolution, spec: ModelDomain, other: str, label: str, why: str) -> None:
    """E301: a domain attached across instances finds no free context on one of them."""
    res.diagnostics.append(
        error(
            "E301",
            f"domain '{spec.name}' gets no context on '{other}': all "
            f"{res.model.iommus[other].contexts} are taken "
            f"({res.model.iommus[other].driver.contexts.errno})",
            spec.span,
            label=label,
            help=why,
        )
    )


def _busy_refusal(res: Resolution, spec: ModelDomain, name: str, holder: str) -> None:
    res.diagnostics.append(
        error(
            "E302",
            f"cannot attach domain '{spec.name}' to '{name}': "
            f"'{holder}' still has its implicit arm32 mapping (-EBUSY)",
            spec.span,
            label="iommu_attach_group fails",
            help=f"'rule {holder} excludes implicit', or let its driver detach the "
            "mapping ('driver detaches-implicit')",
        )
    )


def _single_device_refusal(
    res: Resolution, spec: ModelDomain, name: str, group: Group, call: str
) -> None:
    res.diagnostics.append(
        error(
            "E302",
            f"cannot attach '{spec.name}' to '{name}': {call} needs a group of one device, "
            f"and group {group.id} has {', '.join(group.members)} (-EINVAL)",
            spec.span,
            label="iommu_attach_device fails",
            help="the driver attaches single devices; the group stays as it is",
        )
    )


def _single_client_refusal(
    res: Resolution, spec: ModelDomain, name: str, holder: str, iommu: str
) -> str:
    """E302 for a second client of a single-client driver's domain; the errno it gets."""
    driver = res.model.iommus[iommu].driver
    errno = "-EINVAL" if res.platform.since(ATTACH_EINVAL) else "-EBUSY"
    res.diagnostics.append(
        error(
            "E302",
            f"cannot attach '{spec.name}' to '{name}': a domain of {driver.name} takes one client "
            f"device, and '{holder}' is it ({errno})",
            spec.span,
            label="the driver's attach fails",
            help=f"kernel: {driver.single_client}; give each device its own domain",
        )
    )
    return errno


def _share_default(
    res: Resolution, alloc: Allocator, spec: ModelDomain, created: dict[int, Domain]
) -> None:
    """`domain NAME: default of DEV { attach ... }`: a driver attaches DEV's default domain
    to its other devices with iommu_attach_device, as Exynos DRM does on arm64
    (exynos_drm_dma.c: exynos_drm_register_dma takes iommu_get_domain_for_dev(dma_dev),
    drm_iommu_attach_device attaches it). The domain keeps its context on DEV's IOMMU and
    takes one on each other instance (SPANNING_KINDS); the devices' DMA ops stay those of
    their own default domains, which the driver does not use (it maps through DEV)."""
    assert spec.of is not None
    model = res.model
    if spec.of not in res.devices:
        return  # an unknown device: E103 said so
    owner = res.group_of(spec.of)
    dom = created.get(owner.id) if owner is not None else None
    if owner is not None and (owner.failed or (dom is not None and dom.failed)):
        return  # the owner's group was unwound or its domain got no context: E301 said so
    if dom is not None and dom.name != spec.name:
        return  # another statement named this default domain: E120 said so
    now = res.devices[spec.of].domain
    if dom is None or now != dom.name:
        if dom is not None and owner is not None:
            _unname(res, dom, owner)  # it stays the group's anonymous default domain
        if owner is None:
            why = f"'{spec.of}' is in no IOMMU group"
        elif dom is None:
            why = f"group {owner.id} of '{spec.of}' has none ({owner.default_reason.text})"
        else:
            why = f"'{spec.of}' is in '{now}' instead (iommu_get_domain_for_dev returns it)"
        res.diagnostics.append(
            error(
                "E303",
                f"'{spec.name}' is the default domain of '{spec.of}', which has none to "
                f"share: {why}",
                spec.span,
                label="the driver has no domain to attach",
                help="an M4U v1's masters already share its one mapping"
                if owner is not None and model.iommus[owner.iommu].driver.shared_arm_mapping
                else "check the default-domain rules for it, or describe what the driver "
                "builds instead ('unmanaged on IOMMU', 'arm-mapping on IOMMU' on arm32)",
            )
        )
        return
    members = set(dom.devices)  # membership tests: the attach list may be long
    for name in spec.attach:
        group = res.group_of(name) if name in res.devices else None
        if group is None or group.failed or group is owner or name in members:
            continue
        busy = _implicit_holders(res, group)
        if busy:
            _busy_refusal(res, spec, name, busy[0])
            continue
        if len(group.members) > 1:
            _single_device_refusal(res, spec, name, group, "iommu_attach_device")
            continue
        if model.iommus[group.iommu].driver.single_client:
            _single_client_refusal(res, spec, name, spec.of, group.iommu)
            continue
        behind = [group.iommu]
        if model.iommus[group.iommu].driver.all_links:  # every System MMU of the master
            behind = [lk.iommu for lk in model.devices[name].iommus]
        full = [
            i
            for i in dict.fromkeys(behind)
            if i != dom.iommu
            and i in model.iommus
            and not model.iommus[i].disabled
            and i not in dom.contexts_on
            and not alloc.take_more(dom, i)
        ]
        if full:
            _no_context_on(
                res,
                spec,
                full[0],
                f"the driver's attach of '{name}' fails",
                f"'{name}' stays in its own default domain",
            )
            continue
        was = res.devices[name].domain
        dom.devices.append(name)
        members.add(name)
        res.devices[name].domain = dom.name
        _left(res, alloc, res.domains.get(was or ""))


def _unname(res: Resolution, dom: Domain, group: Group) -> None:
    """Give a named default domain its anonymous name back (the statement naming it failed)."""
    old, dom.name = dom.name, f"default:{group.id}"
    res.domains[dom.name] = res.domains.pop(old)
    dom.reason = group.default_reason
    for name in dom.devices:
        if res.devices[name].domain == old:
            res.devices[name].domain = dom.name


def implicit_window(dev: Device) -> tuple[int, int]:
    """The IOVA window of the arm32 mapping arch_setup_dma_ops makes for a device: its
    dma-ranges on the bus side, else 0 and 4 GiB (of_dma_configure_id's defaults, and
    arm_setup_iommu_dma_ops's own from 6.10)."""
    if dev.dma_range is not None:
        _, size, bus = dev.dma_range
        return bus, size
    return 0, 1 << 32


def _name_default(
    res: Resolution,
    dom: Domain,
    group: Group,
    named: dict[str, tuple[ModelDomain, list[Reason]]],
) -> None:
    """Give a group's default domain the name a `default of DEV` statement gives it."""
    specs = [named[m] for m in group.members if m in named]
    if not specs:
        return
    (spec, when), *others = specs
    dom.name = spec.name
    dom.reason = Reason(
        f"the default domain of group {group.id}, which domain '{spec.name}' names "
        f"(the default domain of '{spec.of}')",
        spec.span,
        None,
        (group.default_reason, *when),
    )
    for other, _ in others:
        res.diagnostics.append(
            error(
                "E120",
                f"'{other.name}' and '{spec.name}' name the same default domain: "
                f"'{other.of}' and '{spec.of}' are both in group {group.id}",
                other.span,
                secondary=(Label(spec.span, f"'{spec.name}' named it first"),),
                help="a group has one default domain; name it once",
            )
        )


def _default_failed(res: Resolution, group: Group, dom: Domain) -> None:
    dev = res.model.devices[group.members[0]]
    group.failed = True
    dom.fail()
    _exhausted(
        res,
        dom,
        dev,
        f"the default domain of group {group.id}",
        "the kernel WARNs and unwinds the device from the IOMMU (IOMMU_SET_DOMAIN_MUST_SUCCEED)",
    )


def _capacity(iommu: Iommu) -> str:
    """'mc' has 4 contexts; an IOMMU without a count (the GART's one aperture) says so."""
    if iommu.contexts is None:
        return f"'{iommu.name}' has no free context"
    return f"'{iommu.name}' has {plural(iommu.contexts, 'context')}{iommu.withheld_text()}"


def _exhausted(res: Resolution, dom: Domain, dev: Device, what: str, fallback: str) -> None:
    reason = dom.context_reason
    text = reason.text if reason else "no context"
    iommu = res.model.iommus[dom.exhausted_on or dom.iommu]
    res.diagnostics.append(
        error(
            "E301",
            f"{what} gets no context on '{iommu.name}': {text}",
            dev.span,
            label=f"'{dev.name}': {fallback}",
            secondary=(Label(iommu.span, _capacity(iommu)),),
            help="free contexts with 'excludes implicit' or 'requires identity' rules, "
            "or check the reservations",
        )
    )
