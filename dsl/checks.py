"""Stage 6: expectations and lints."""

from __future__ import annotations

from . import ast
from .diagnostics import Label, Span, error, plural, warning
from .enums import Origin, Verb
from .kinds.arm_smmu import BYPASS_SOURCE
from .provenance import Reason
from .resolution import Checked, Resolution
from .rules import ActiveRule, by_verb, conditions_hold


def query(res: Resolution, subject: str, attr: str) -> tuple[object, Reason]:
    """The value of SUBJECT.ATTRIBUTE and why; raises KeyError for an unknown one."""
    model = res.model
    if subject == "system":
        if attr == "default_domain":
            return res.global_default, res.global_reason
        if attr == "diagnostics":
            codes = sorted({d.code for d in res.diagnostics})
            return codes, Reason(f"{len(codes)} diagnostic codes raised")
    if subject in res.devices:
        dres = res.devices[subject]
        return dres.values[attr], dres.reasons[attr]
    if subject in model.iommus:
        iommu = model.iommus[subject]
        slots = res.context_slots(subject)  # contexts, not domains: they may share or span
        in_use = set(slots)
        if attr == "contexts_used":
            return len(in_use), Reason(
                f"{plural(len(in_use), 'context')} in use on '{subject}'",
                iommu.span,
                None,
                tuple(
                    Reason(
                        f"context {c}: {d.name}",
                        None,
                        None,
                        (d.context_reason,) if d.context_reason and d.iommu == subject else (),
                    )
                    for c, d in slots.items()
                )
                + tuple(
                    Reason(
                        f"context {d.released_context}: {d.name}, released",
                        None,
                        d.context_reason.source,
                        d.context_reason.because,
                    )
                    for d in res.domains.values()
                    if d.iommu == subject and d.released_context is not None and d.context_reason
                ),
            )
        if attr == "contexts_free":
            if iommu.contexts is None:
                return "unlimited", Reason(f"'{subject}' has no context limit", iommu.span)
            withheld = {i: why for i, why in iommu.withheld().items() if i not in in_use}
            free = iommu.contexts - len(in_use) - len(withheld)
            return free, Reason(
                f"{plural(iommu.contexts, 'context')}, {len(in_use)} in use"
                + iommu.withheld_text(in_use),
                iommu.span,
                BYPASS_SOURCE if iommu.bypass_context in withheld else None,
            )
        if attr == "groups":
            groups = [g for g in res.groups if g.iommu == subject]
            return len(groups), Reason(f"{len(groups)} groups on '{subject}'", iommu.span)
        if attr == "domains":
            sharers = res.context_sharers(subject)
            names = list(dict.fromkeys(d.name for ds in sharers.values() for d in ds))
            return names, Reason(f"domains with a context on '{subject}'")
    if subject in res.domains:
        dom = res.domains[subject]
        if attr == "context":
            return (dom.context if dom.context is not None else "none"), (
                dom.context_reason or Reason("no context")
            )
        if attr == "members":
            return list(dom.devices), dom.reason
        if attr == "type":
            return dom.type, dom.reason
    spec = res.model.domains.get(subject)
    if spec is not None and attr in ("context", "members", "type"):
        # declared under a `when` that does not hold here: the driver builds no such domain
        _, why = conditions_hold(res, spec.conditions)
        reason = Reason(
            f"domain '{subject}' is not built on this platform", spec.span, None, tuple(why)
        )
        return ([] if attr == "members" else "none"), reason
    rules = model.builders(subject)
    if rules and attr in ("context", "members", "type"):
        # a pack's `builds domain` rule that does not hold here, or matches no device the
        # kernel translates: the driver builds no such domain
        reason = Reason(
            f"domain '{subject}' is not built on this platform: the rule building it does "
            "not hold here, or its devices are untranslated or held by another domain",
            rules[0].span,
            rules[0].source,
        )
        return ([] if attr == "members" else "none"), reason
    raise KeyError(f"{subject}.{attr}")


def _literal(value: ast.Value) -> object:
    if isinstance(value, ast.Word):
        return value.text
    if isinstance(value, ast.Num):
        return value.value
    if isinstance(value, ast.Str):
        return value.value
    if isinstance(value, ast.Version):
        return value.text
    return [_literal(v) for v in value.items]


def render_value(value: object) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(render_value(v) for v in value) + "]"
    return str(value)


def compare(actual: object, op: str, expected: object) -> bool:
    if op == "has":
        return isinstance(actual, list) and (
            all(e in actual for e in expected) if isinstance(expected, list) else expected in actual
        )
    if isinstance(actual, list) and isinstance(expected, list):
        a, e = sorted(map(str, actual)), sorted(map(str, expected))
        return (a == e) == (op == "==")
    if op in ("==", "!="):
        same = str(actual) == str(expected)
        return same == (op == "==")
    if not isinstance(actual, int) or not isinstance(expected, int):
        return False
    return {
        "<": actual < expected,
        "<=": actual <= expected,
        ">": actual > expected,
        ">=": actual >= expected,
    }[op]


def _assumed(res: Resolution, rules: list[ActiveRule]) -> None:
    """W218: what the resolution had to assume because the board does not say it."""
    model = res.model
    said = model.platform
    assumed = []
    if said.kernel is None:
        assumed.append(f"kernel {'.'.join(map(str, res.platform.kernel))}")
    if said.arch is None:
        assumed.append(f"arch {res.platform.arch}")
    if not by_verb(rules, Verb.DEFAULT_DOMAIN):
        assumed.append(f"the global default domain {res.global_default} (no std/linux)")
    if not assumed or not model.devices:
        return
    root = model.files[0] if model.files else "<input>"
    res.diagnostics.append(
        warning(
            "W218",
            "the board does not say it, so the resolution assumes " + ", ".join(assumed),
            Span(root, 1, 1, 1, 2),
            help="write 'platform { arch ARCH; kernel X.Y }' and 'include \"std/linux\"' "
            "(the kernel's Kconfig and command-line policy); results change with both",
        )
    )


def check(res: Resolution, rules: list[ActiveRule]) -> None:
    _assumed(res, rules)
    model = res.model
    # expectations
    for exp in model.expectations:
        holds = all(res.platform.holds(c)[0] for c in exp.conditions)
        if not holds:
            continue
        q = exp.query
        try:
            actual, why = query(res, q.subject.text, q.attribute.text)
        except KeyError:
            continue
        expected = _literal(exp.value)
        ok = compare(actual, exp.op, expected)
        res.expectations.append(Checked(exp, ok, render_value(actual), why))
        if not ok:
            res.diagnostics.append(
                error(
                    "E401",
                    f"expectation failed: {q.subject.text}.{q.attribute.text} is "
                    f"{render_value(actual)}, expected {exp.op} {render_value(expected)}",
                    exp.span,
                    label=f"actual: {render_value(actual)}",
                    help=f"why: {why.text}"
                    + (f" ({why.source})" if why.source else "")
                    + f"; 'iommu-rules why FILE {q.subject.text}.{q.attribute.text}' explains",
                )
            )
    # lints
    for index, rule in enumerate(model.rules):
        if rule.std or index not in res.rule_hits or res.rule_hits[index]:
            continue
        if rule.selector is None:
            continue
        res.diagnostics.append(
            warning(
                "W201",
                f"rule '{rule.name}' matches no device"
                if rule.explicit_name
                else "this rule matches no device",
                rule.span,
                help="check the selector's names, tags and compatible patterns",
            )
        )
    live = res.live_domains()
    for iommu in model.iommus.values():
        # contexts fixed by the device tree (qcom-iommu) are never allocated: nothing to run out of
        if not iommu.contexts or iommu.driver.contexts.fixed:
            continue
        used = len(res.context_slots(iommu.name, live))
        if used / iommu.contexts >= 0.9 and used < iommu.contexts + 1:
            res.diagnostics.append(
                warning(
                    "W202",
                    f"'{iommu.name}' uses {used} of its {plural(iommu.contexts, 'context')}",
                    iommu.span,
                    help="one more translating domain and the kernel's attach fails with "
                    + iommu.driver.contexts.errno,
                )
            )
    specs = res.domain_specs()
    for dom in res.domains.values():
        if dom.origin is not Origin.DRIVER or dom.failed:
            continue
        if model.iommus[dom.iommu].driver.shared_page_table:
            continue  # one page table for every domain: DMA API mappings land in it too
        for name in dom.devices:
            dev = model.devices[name]
            ops = res.devices[name].values.get("dma_ops")
            if res.driver_does(name, "no-dma-api") or res.driver_does(name, "managed-dma"):
                continue
            if ops == "iommu-dma":
                res.diagnostics.append(
                    warning(
                        "W203",
                        f"'{name}' is in driver domain '{dom.name}' but its DMA API calls "
                        f"still go through {ops}",
                        dev.span,
                        secondary=(Label(specs[dom.name].span, "domain built here"),),
                        help="iommu_get_dma_domain() returns the default domain: buffers "
                        "mapped with the DMA API are not mapped in the driver's domain; add "
                        "'driver no-dma-api' if the driver manages its IOVAs itself",
                    )
                )
    # any `domain` that attaches it, on this platform or under another `when`: it is modelled
    attached = {name for dom in specs.values() for name in (*dom.attach, dom.of) if name}
    for dres in res.devices.values():
        own = res.driver_does(dres.name, "own-domain")
        if own is None or dres.iommu is None or dres.name in attached:
            continue
        res.diagnostics.append(
            warning(
                "W208",
                f"the driver of '{dres.name}' builds its own domain, but no `domain` statement "
                "attaches it: the result shows the device in its default domain",
                model.devices[dres.name].span,
                secondary=(Label(own.span, "'driver own-domain' said here"),)
                if own.span is not None
                else (),
                help=f"declare it: 'domain NAME: unmanaged on {dres.iommu} {{ attach "
                f"{dres.name} }}' (or arm-mapping for an arm32 mapping, or 'default of "
                "DEVICE' when the driver shares another device's default domain)",
            )
        )
    untrusted_names = {d.name for d in model.devices.values() if d.untrusted}
    for group in res.groups:
        if untrusted_names.isdisjoint(group.members):  # most groups: nothing to mix
            continue
        devs = [model.devices[m] for m in group.members]
        trusted = [d for d in devs if not d.untrusted]
        untrusted = [d for d in devs if d.untrusted]
        if trusted and untrusted:
            res.diagnostics.append(
                warning(
                    "W204",
                    f"group {group.id} mixes untrusted '{untrusted[0].name}' with trusted "
                    f"'{trusted[0].name}'",
                    untrusted[0].span,
                    secondary=(Label(trusted[0].span, "trusted device in the same group"),),
                    help="the whole group gets the untrusted device's treatment (a strict DMA "
                    "domain, or a refused probe where the driver insists on another type); an "
                    "external device shares isolation with an internal one",
                )
            )
