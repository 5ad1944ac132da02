"""The resolver: model in, what the kernel would do at boot out, every value explained.

Stages run in the kernel's order, each a function of the model and the
earlier stages: which IOMMU each device is behind, groups, default domains,
contexts, DMA ops; then expectations and lints.
"""

from __future__ import annotations

from .built import derive
from .checks import check
from .conditions import Platform
from .contexts import allocate
from .diagnostics import article
from .dmaops import dma_ops
from .domains import default_domains, global_default
from .groups import attach_iommus, build_groups
from .kinds.base import IOMMU_C
from .lalr import no_gc
from .model import Model
from .provenance import Reason
from .resolution import Resolution
from .rules import active_rules, driver_flags
from .vfio import bindings, viability


def resolve(model: Model) -> Resolution:
    """Resolve a validated model.  Never raises for a bad board: problems are diagnostics."""
    with no_gc():
        res = Resolution(model, Platform(model))
        rules = active_rules(res)
        driver_flags(res, rules)
        bindings(res)
        global_default(res, rules)
        attach_iommus(res, rules)
        build_groups(res)
        default_domains(res, rules)
        derive(res, rules)
        allocate(res, rules)
        dma_ops(res)
        _fill(res)
        viability(res)
        res.settled = True
        check(res, rules)
        return res


def _fill(res: Resolution) -> None:
    """The per-device attributes `expect` and `why` ask about."""
    # the devices each `default of` statement attaches, as sets: a lookup per device
    specs = res.domain_specs()
    shared = {spec.name: frozenset(spec.attach) for spec in specs.values() if spec.of is not None}
    for dres in res.devices.values():
        group = res.group_of(dres.name)
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
        dres.set("group", group.id, group.reason)
        dres.set("group_members", list(group.members), group.reason)
        dres.set("default_domain", group.default or "none", group.default_reason)
        dom = res.domains.get(dres.domain or "")
        if dom is None or dom.failed:
            dres.set("domain_type", group.default or "none", group.default_reason)
            dres.set("domain", "none", group.default_reason)
            dres.set("context", "none", group.default_reason)
            continue
        why = dom.reason
        if dres.name in shared.get(dom.name, ()):
            spec = specs[dom.name]
            why = Reason(
                f"the driver attaches the default domain of '{spec.of}' to '{dres.name}'",
                spec.span,
                "drivers/iommu/iommu.c: iommu_attach_device",
                (dom.reason,),
            )
        dres.set("domain_type", dom.type, why)
        dres.set("domain", dom.name, why)
        ctx_why = dom.context_reason or Reason(f"{article(dom.type)} domain needs no context")
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
            dres.set("context", dom.contexts_on[dres.iommu], ctx_why)
        else:
            dres.set("context", dom.context if dom.context is not None else "none", ctx_why)
