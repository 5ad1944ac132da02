"""The resolver: model in, what the kernel would do at boot out, every value explained.

Stages run in the kernel's order, each a function of the model and the
earlier stages: which IOMMU each device is behind, groups, default domains,
contexts, DMA ops; then expectations and lints.
"""

from __future__ import annotations

from dataclasses import dataclass

from .built import derive
from .checks import check
from .conditions import Platform
from .contexts import allocate
from .diagnostics import Diagnostic, article
from .dmaops import dma_ops
from .domains import default_domains, global_default
from .enums import Verb
from .groups import attach_iommus, build_groups
from .kinds.base import IOMMU_C
from .lalr import no_gc
from .model import Model
from .provenance import Reason
from .resolution import DeviceResult, Group, Resolution
from .rules import ActiveRule, active_rules, driver_flags
from .vfio import bindings, viability


def resolve(model: Model, previous: Resolution | None = None) -> Resolution:
    """Resolve a validated model.  Never raises for a bad board: problems are diagnostics.

    ``previous``, the resolution of the same board on another platform (a what-if of the
    command line, say), lends its IOMMUs and groups when nothing they depend on differs
    (see :class:`Grouping`): the result is the same as resolving from scratch."""
    with no_gc():
        res = Resolution(model, Platform(model))
        rules = active_rules(res)
        driver_flags(res, rules)
        bindings(res)
        global_default(res, rules)
        key = _grouping_key(res, rules)
        kept = previous.grouping if previous is not None else None
        if isinstance(kept, Grouping) and kept.key == key:
            kept.restore(res)
            res.grouping = kept
        else:
            marks = len(res.diagnostics), len(res.log)
            attach_iommus(res, rules)
            build_groups(res)
            res.grouping = Grouping.of(res, key, marks)
        default_domains(res, rules)
        derive(res, rules)
        allocate(res, rules)
        dma_ops(res)
        _fill(res)
        viability(res)
        res.settled = True
        check(res, rules)
        return res


# Command-line parameters the IOMMU and group stages read (pci/context.py); the rest of
# the command line (iommu.passthrough, iommu.strict, ...) acts on later stages only.
GROUP_PARAMS = frozenset({"pci", "pcie_acs_override"})
# Rule verbs the IOMMU and group stages read: which devices an IOMMU translates, and the
# driver flags (`driver none`: no probe, no group).
GROUP_VERBS = frozenset({Verb.EXCLUDES_IOMMU, Verb.DRIVER})


# An IOMMU's facts that only the stages after the groups read: its contexts (contexts.py)
# and its domains (domains.py). A what-if of them (`set smmu contexts 2`) keeps the groups.
LATER_IOMMU_FACTS = frozenset(
    {"contexts", "reserved", "secure", "domains", "aperture", "aperture_span"}
)


def _grouping_key(res: Resolution, rules: list[ActiveRule]) -> tuple[object, ...]:
    """Everything the IOMMU and group stages depend on: the board's devices and bridges,
    its IOMMUs but for the facts of later stages (LATER_IOMMU_FACTS), the platform but
    for the command line (each fact with where it is stated: reasons cite it), the
    command-line tokens they read, the rules they read (each as written, and where) with
    why they hold, and the SoC groups' conditions. Compared by value, so a
    what-if that rebuilds the model without touching them (a rule dropped, fewer
    contexts) keeps the groups; where the model is shared (a platform what-if) the
    comparison is one of identities."""
    model, plat = res.model, res.platform
    conditioned = [
        (i.name, g.name, plat.holds(g.condition))
        for i in model.iommus.values()
        for g in i.soc_groups
        if g.condition is not None
    ]
    return (
        tuple(model.devices.values()),
        tuple(model.bridges.values()),
        tuple(
            tuple(getattr(i, f) for f in i._fields if f not in LATER_IOMMU_FACTS)
            for i in model.iommus.values()
        ),
        plat.arch,
        plat.arch_reason,
        plat.kernel,
        plat.kernel_reason,
        tuple(sorted(plat.config.items())),
        tuple((t.param, t.value, t.span) for t in plat.tokens if t.param in GROUP_PARAMS),
        tuple((r.rule, r.devices, r.why, r.position) for r in rules if r.verb in GROUP_VERBS),
        tuple((i, n, ok, tuple(why), pos) for i, n, (ok, why, pos) in conditioned),
    )


@dataclass(frozen=True)
class Grouping:
    """The IOMMU and group stages' results, copied as they left them, and the key of
    everything they depend on. A later resolution whose key is the same takes copies
    instead of running them (later stages change the device records and groups)."""

    key: tuple[object, ...]
    devices: tuple[DeviceResult, ...]
    groups: tuple[Group, ...]
    diagnostics: tuple[Diagnostic, ...]
    log: tuple[str, ...]

    @classmethod
    def of(cls, res: Resolution, key: tuple[object, ...], marks: tuple[int, int]) -> Grouping:
        return cls(
            key,
            tuple(_copy_device(d) for d in res.devices.values()),
            tuple(_copy_group(g) for g in res.groups),
            tuple(res.diagnostics[marks[0] :]),
            tuple(res.log[marks[1] :]),
        )

    def restore(self, res: Resolution) -> None:
        for d in self.devices:
            res.devices[d.name] = _copy_device(d)
        res.groups.extend(_copy_group(g) for g in self.groups)
        res.diagnostics.extend(self.diagnostics)
        res.log.extend(self.log)


def _copy_device(d: DeviceResult) -> DeviceResult:
    return DeviceResult(d.name, d.iommu, d.group, d.domain, dict(d.values), dict(d.reasons))


# Through the instance dict: dataclasses.replace re-runs __init__ with keywords, three
# times the cost, and a 10k-device board copies 6,500 groups at each resolve.
def _copy_group(g: Group) -> Group:
    copy = object.__new__(Group)
    copy.__dict__.update(g.__dict__, members=list(g.members), bridges=list(g.bridges))
    return copy


def _fill(res: Resolution) -> None:
    """The per-device attributes `expect` and `why` ask about."""
    # the devices each `default of` statement attaches, as sets: a lookup per device
    specs = res.domain_specs()
    shared = {spec.name: frozenset(spec.attach) for spec in specs.values() if spec.of is not None}
    unpaged: dict[object, Reason] = {}  # why a domain of a type needs no context: one a type
    groups = res.groups
    for dres in res.devices.values():
        group = groups[dres.group] if dres.group is not None else None
        if group is None or dres.iommu is None:
            why = dres.reasons.get("iommu", Reason("not behind an IOMMU"))
            for attr in ("group", "default_domain", "domain_type", "domain", "context"):
                dres.set(attr, "none", why)
            dres.set("group_members", [], why)
            continue
        if group.failed:
            # __iommu_probe_device's error path (err_remove_gdev, iommu_deinit_device)
            # takes the device out of its group again and clears dev->iommu_group: no
            # group in sysfs, no IOMMU
            # its own probe failed (build_groups said so), or its group's default domain
            own = dres.values.get("iommu") == "none"
            unwound = Reason(
                f"'{dres.name}' was unwound from '{group.iommu}'",
                None,
                f"{IOMMU_C}: __iommu_probe_device (err_remove_gdev, iommu_deinit_device)",
                (dres.reasons["iommu"] if own else group.default_reason,),
            )
            for attr in ("group", "default_domain", "domain_type", "domain", "context"):
                dres.set(attr, "none", unwound)
            dres.set("group_members", [], unwound)
            dres.set("iommu", "none", unwound)
            continue
        # the attributes set in the dicts, not by calls of `set`: 10,000 devices at 10k
        default, default_why = group.default or "none", group.default_reason
        values, reasons = dres.values, dres.reasons
        values["group"], reasons["group"] = group.id, group.reason
        values["group_members"], reasons["group_members"] = list(group.members), group.reason
        dom = res.domains.get(dres.domain or "")
        if dom is None or dom.failed:
            values.update(
                default_domain=default, domain_type=default, domain="none", context="none"
            )
            reasons.update(
                default_domain=default_why,
                domain_type=default_why,
                domain=default_why,
                context=default_why,
            )
            continue
        values["default_domain"], reasons["default_domain"] = default, default_why
        why = dom.reason
        if dres.name in shared.get(dom.name, ()):
            spec = specs[dom.name]
            why = Reason(
                f"the driver attaches the default domain of '{spec.of}' to '{dres.name}'",
                spec.span,
                "drivers/iommu/iommu.c: iommu_attach_device",
                (dom.reason,),
            )
        values["domain_type"], reasons["domain_type"] = dom.type, why
        values["domain"], reasons["domain"] = dom.name, why
        ctx_why = dom.context_reason
        if ctx_why is None:
            ctx_why = unpaged.get(dom.type)
            if ctx_why is None:
                ctx_why = unpaged[dom.type] = Reason(f"{article(dom.type)} domain needs no context")
        if dres.iommu in dom.contexts_on:  # a spanning domain, seen from another instance
            inst = res.model.iommus[dres.iommu]
            how = "lowest free context" if inst.contexts else "not a scarce resource"
            ctx_why = Reason(
                f"domain '{dom.name}' spans IOMMU instances: domain ID "
                f"{dom.contexts_on[dres.iommu]} on '{dres.iommu}' ({how})",
                None,
                inst.driver.span,
            )
            if inst.driver.shared_page_table:
                ctx_why = Reason(
                    f"'{dres.iommu}' shares the page table of '{dom.iommu}' (one hw_list): "
                    f"domain '{dom.name}' is programmed into both",
                    None,
                    "drivers/iommu/mtk_iommu.c: mtk_iommu_attach_device (bank->m4u_dom)",
                )
            values["context"], reasons["context"] = dom.contexts_on[dres.iommu], ctx_why
        else:
            context = dom.context if dom.context is not None else "none"
            values["context"], reasons["context"] = context, ctx_why
