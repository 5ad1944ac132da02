"""`resolve` output: a table for people, JSON (versioned, documented) for programs."""

from __future__ import annotations

import json

from .checks import render_value
from .diagnostics import plural, visible
from .model import Model
from .resolution import Resolution

SCHEMA = "iommu-rules/resolution"
SCHEMA_VERSION = 1
COLUMNS = (
    "device",
    "iommu",
    "group",
    "default_domain",
    "domain",
    "domain_type",
    "context",
    "dma_ops",
)


def _table(rows: list[list[str]], header: list[str]) -> list[str]:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    out = [fmt.format(*header).rstrip(), fmt.format(*("-" * w for w in widths)).rstrip()]
    out += [fmt.format(*r).rstrip() for r in rows]
    return out


def _member(model: Model, name: str) -> str:
    """A group member, with its PCI address where it has one: 'dgpu (01:00.0)'."""
    pci = model.devices[name].pci if name in model.devices else None
    if pci is None:
        return name
    short = str(pci).removeprefix("0000:")
    return f"{name} ({short})"


def text(res: Resolution) -> str:
    plat = res.platform
    model = res.model
    lines = [
        f"platform: {plat.arch}, kernel {'.'.join(map(str, plat.kernel))}"
        + (f', cmdline "{model.platform.cmdline.value}"' if model.platform.cmdline else ""),
        f"global default domain: {res.global_default}",
        "",
    ]
    rows = []
    for name in sorted(res.devices, key=lambda n: model.devices[n].probe_order):
        d = res.devices[name]
        rows.append([name] + [render_value(d.values.get(c, "")) for c in COLUMNS[1:]])
    lines += _table(rows, [c.upper().replace("_", " ") for c in COLUMNS])
    lines.append("")
    live = res.live_domains()
    for iommu in model.iommus.values():
        sharers = res.context_sharers(iommu.name, live)
        slots = {c: ds[0] for c, ds in sharers.items()}
        groups = [g for g in res.groups if g.iommu == iommu.name]
        limit = plural(iommu.contexts, "context") if iommu.contexts else "no context limit"
        lines.append(
            f"iommu {iommu.name} ({iommu.kind}, {limit}): {plural(len(groups), 'group')}, "
            f"{plural(len(slots), 'context')} in use"
        )
        for g in groups:
            label = f' "{g.name}"' if g.name else ""
            members = ", ".join(_member(model, m) for m in g.members)
            if g.failed:  # __iommu_probe_device unwound them: no such group in sysfs
                lines.append(f"  group {g.id}{label}: {members}  [refused: unwound, no group]")
            else:
                lines.append(f"  group {g.id}{label}: {members}  [default {g.default or 'none'}]")
        if iommu.contexts:
            cells = []
            for i in iommu.context_numbers:
                if i in slots:
                    cells.append(f"{i}={'+'.join(d.name for d in sharers[i])}")
                elif i in iommu.reserved:
                    cells.append(f"{i}=(reserved)")
                elif i == iommu.bypass_context:
                    cells.append(f"{i}=(bypass)")
                elif i in iommu.secure:
                    cells.append(f"{i}=(secure)")
                else:
                    cells.append(f"{i}=free")
            if len(cells) <= 16:
                lines.append("  contexts: " + ", ".join(cells))
        else:
            for c, doms in sharers.items():
                shared = ""
                if len(doms) > 1:  # the M4U's one page table; qcom-iommu's fixed banks
                    one = iommu.driver.shared_page_table
                    shared = " (one page table)" if one else " (shared)"
                lines.append(f"  context {c}: {', '.join(d.name for d in doms)}{shared}")
    if res.log:
        lines += ["", "kernel log:"] + [f"  {line}" for line in res.log]
    return visible("\n".join(lines)) + "\n"


def to_json(res: Resolution) -> str:
    live = res.live_domains()
    model = res.model
    data = {
        "schema": SCHEMA,
        "version": SCHEMA_VERSION,
        "platform": {
            "arch": res.platform.arch,
            "kernel": ".".join(map(str, res.platform.kernel)),
            "cmdline": model.platform.cmdline.value if model.platform.cmdline else "",
            "default_domain": res.global_default,
        },
        "devices": [
            {
                "name": name,
                "pci": str(model.devices[name].pci) if model.devices[name].pci else None,
                "bridge": model.devices[name].bridge,
                **{c: res.devices[name].values.get(c) for c in COLUMNS[1:]},
                "group_members": res.devices[name].values.get("group_members", []),
            }
            for name in sorted(res.devices, key=lambda n: model.devices[n].probe_order)
        ],
        "groups": [
            {
                "id": g.id,
                "iommu": g.iommu,
                "name": g.name,
                "members": g.members,
                "bridges": g.bridges,
                "default_domain": g.default,
                "refused": g.failed,
            }
            for g in res.groups
        ],
        "domains": [
            {
                "name": d.name,
                "type": d.type,
                "iommu": d.iommu,
                "origin": d.origin,
                "devices": d.devices,
                "context": d.context,
                "more_contexts": list(d.more_contexts),
                "contexts_on": dict(sorted(d.contexts_on.items())),
                "failed": d.failed,
            }
            for d in sorted(res.domains.values(), key=lambda d: d.name)
        ],
        "iommus": [
            {
                "name": i.name,
                "kind": i.kind,
                "contexts": i.contexts,
                "contexts_used": len(res.context_slots(i.name, live)),
            }
            for i in model.iommus.values()
        ],
        "log": res.log,
        "diagnostics": [d.to_json() for d in sorted(res.diagnostics, key=lambda d: d.sort_key())],
    }
    return json.dumps(data, indent=2, sort_keys=True, default=str)
