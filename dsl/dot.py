"""Graphviz DOT views of a resolution: topology, groups and domains, context use.

Our own small writer: every id and label is quoted and escaped (PCI addresses
hold ':' and '.', compatibles hold ',' and quotes), and nodes and edges are
emitted in a fixed order, so the same board gives the same bytes.
"""

from __future__ import annotations

from .diagnostics import visible
from .enums import DomainType, Origin
from .resolution import Domain, Group, Resolution, context_sharers

VIEWS = ("topology", "groups", "contexts")
COLOURS = {
    "identity": "#d9f2d9",
    "dma": "#d6e4ff",
    "dma-fq": "#e3d6ff",
    "unmanaged": "#ffe9c7",
    "blocked": "#f2d0d0",
    "none": "#eeeeee",
}


def q(text: object) -> str:
    """A DOT quoted string."""
    s = visible(str(text).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n"))
    return f'"{s}"'


def _attrs(**kw: object) -> str:
    items = [f"{k}={q(v)}" for k, v in sorted(kw.items()) if v is not None]
    return f" [{', '.join(items)}]" if items else ""


class _Writer:
    def __init__(self, name: str):
        self.lines = [
            f"digraph {q(name)} {{",
            '  graph [rankdir="LR", fontname="Helvetica"];',
            '  node [shape="box", style="rounded,filled", fillcolor="white", '
            'fontname="Helvetica"];',
            '  edge [fontname="Helvetica", fontsize="10"];',
        ]
        self.depth = 1

    def node(self, nid: str, **kw: object) -> None:
        self.lines.append("  " * self.depth + q(nid) + _attrs(**kw) + ";")

    def edge(self, a: str, b: str, **kw: object) -> None:
        self.lines.append("  " * self.depth + f"{q(a)} -> {q(b)}" + _attrs(**kw) + ";")

    def open(self, cluster: str, label: str, **kw: object) -> None:
        self.lines.append("  " * self.depth + f"subgraph {q('cluster_' + cluster)} {{")
        self.depth += 1
        self.lines.append("  " * self.depth + f"label={q(label)};")
        for k, v in sorted(kw.items()):
            self.lines.append("  " * self.depth + f"{k}={q(v)};")

    def close(self) -> None:
        self.depth -= 1
        self.lines.append("  " * self.depth + "}")

    def text(self) -> str:
        return "\n".join([*self.lines, "}"]) + "\n"


def _streams(res: Resolution, dev: str, iommu: str) -> str:
    out = []
    for link in res.model.devices[dev].iommus:
        if link.iommu != iommu:
            continue
        for s in link.streams:
            if s.form == "sid":
                mask = f"/{s.mask:#x}" if s.mask else ""
                out.append(f"sid {s.value:#x}{mask}" if isinstance(s.value, int) else str(s.value))
            else:
                out.append(f"{s.form} {s.value}")
    return ", ".join(out)


def topology(res: Resolution) -> str:
    model = res.model
    w = _Writer("topology")
    for iommu in model.iommus.values():
        w.node(
            "iommu:" + iommu.name,
            label=f"{iommu.name}\n{iommu.kind}",
            shape="box3d",
            fillcolor="#fff4cc",
        )
    for b in model.bridges.values():
        acs = "ACS" if b.acs else "no ACS"
        w.node(
            "bridge:" + b.name,
            label=f"{b.name}\n{b.kind} {b.pci or ''}\n{acs}",
            shape="trapezium",
            fillcolor="#f0f0f0",
        )
        if b.upstream:
            w.edge("bridge:" + b.name, "bridge:" + b.upstream)
    for dev in sorted(model.devices.values(), key=lambda d: d.probe_order):
        extra = f"\n{dev.pci}" if dev.pci else ""
        untrusted = "\nuntrusted" if dev.untrusted else ""
        w.node(
            "dev:" + dev.name,
            label=f"{dev.name}\n{dev.compatibles[0]}{extra}{untrusted}",
            fillcolor="#ffd6d6" if dev.untrusted else "white",
        )
        if dev.upstream:
            w.edge("dev:" + dev.name, "bridge:" + dev.upstream, style="dashed")
        attached = res.devices[dev.name].iommu
        for link in dev.iommus:
            if link.iommu in model.iommus:
                w.edge(
                    "dev:" + dev.name,
                    "iommu:" + link.iommu,
                    label=_streams(res, dev.name, link.iommu) or None,
                    style=None if attached == link.iommu else "dotted",
                )
        if attached and not dev.iommus:
            w.edge("dev:" + dev.name, "iommu:" + attached, style="dotted", label="PCI claim")
    return w.text()


def groups(res: Resolution) -> str:
    model = res.model
    w = _Writer("groups")
    by_iommu: dict[str, list[Group]] = {}  # one pass, not one per IOMMU
    for g in res.groups:
        by_iommu.setdefault(g.iommu, []).append(g)
    for iommu in model.iommus.values():
        w.open(iommu.name, f"{iommu.name} ({iommu.kind})", style="rounded", color="#999999")
        for g in by_iommu.get(iommu.name, []):
            default = "refused" if g.failed else (g.default or "none")
            name = f' "{g.name}"' if g.name else ""
            w.open(
                f"{iommu.name}_group{g.id}",
                f"group {g.id}{name}: default {default}",
                style="filled",
                fillcolor=COLOURS.get(g.default or "none", "#eeeeee"),
            )
            for m in g.members:
                d = res.devices[m]
                w.node(
                    "dev:" + m,
                    label=f"{m}\n{d.values.get('dma_ops')}",
                    fillcolor=COLOURS.get(str(d.values.get("domain_type")), "white"),
                )
            w.close()
        w.close()
    untranslated = [d for d in res.devices.values() if d.group is None]
    if untranslated:
        w.open("none", "no IOMMU", style="dashed")
        for d in untranslated:
            w.node("dev:" + d.name, label=f"{d.name}\n{d.values.get('dma_ops')}")
        w.close()
    for dom in sorted(res.domains.values(), key=lambda d: d.name):
        if dom.origin is Origin.DEFAULT and dom.name.startswith("default:"):
            continue  # the group box says it; a named one (`default of`) is drawn
        w.node(
            "domain:" + dom.name,
            label=f"{dom.name}\n{dom.type}, "
            + (dom.placement() if dom.context is not None else f"no context {dom.outcome}"),
            shape="ellipse",
            fillcolor="#ffb3b3"
            if dom.failed
            else COLOURS.get(
                DomainType.UNMANAGED if dom.origin is not Origin.DEFAULT else dom.type, "#eeeeee"
            ),
        )
        for m in dom.devices:
            w.edge("dev:" + m, "domain:" + dom.name, style="dashed" if dom.failed else None)
    return w.text()


def contexts(res: Resolution) -> str:
    model = res.model
    w = _Writer("contexts")
    by_iommu: dict[str, list[Domain]] = {}  # one pass, not one per IOMMU
    live = res.live_domains()
    for d in res.domains.values():
        by_iommu.setdefault(d.iommu, []).append(d)
        for other in d.contexts_on:  # a driver domain spanning instances
            by_iommu.setdefault(other, []).append(d)
    for iommu in model.iommus.values():
        mine = by_iommu.get(iommu.name, [])
        sharers = context_sharers(mine, iommu.name, live)
        used = {c: ds[0] for c, ds in sharers.items()}
        failed = [d for d in mine if d.failed and d.context is None and d.type.paging]
        numbers = iommu.context_numbers if iommu.contexts else list(used)
        exhausted = any(d.errno in ("-ENOSPC", "-ENODEV", "-EBUSY") for d in failed)
        w.open(
            iommu.name,
            f"{iommu.name} ({iommu.kind}): {len(used)} of "
            f"{iommu.contexts if iommu.contexts else 'unlimited'} contexts used",
            style="rounded",
            color="#cc0000" if exhausted else "#999999",
        )
        for i in numbers:
            dom = used.get(i)
            if dom is not None:
                names = ", ".join(d.name for d in sharers[i])
                fill, label = COLOURS.get(dom.type, "white"), f"{i}: {names}\n{dom.type}"
            elif i in iommu.secure:
                fill, label = "#cccccc", f"{i}: secure"
            elif i in iommu.reserved:
                fill, label = "#dddddd", f"{i}: reserved"
            else:
                fill, label = "white", f"{i}: free"
            w.node(f"ctx:{iommu.name}:{i}", label=label, fillcolor=fill, shape="box")
        for dom in sorted(failed, key=lambda d: d.name):
            w.node(
                f"fail:{dom.name}",
                label=f"{dom.name}\nno context: {dom.outcome}",
                fillcolor="#f2e0e0" if dom.errno == "-EINVAL" else "#ffb3b3",
                shape="octagon",
            )
        w.close()
    return w.text()


def render(res: Resolution, view: str, changed: frozenset[str] = frozenset()) -> str:
    """A view; nodes of devices in ``changed`` (a what-if's) are drawn bold and red."""
    text = {"topology": topology, "groups": groups, "contexts": contexts}[view](res)
    if not changed:
        return text
    out = []
    for line in text.split("\n"):
        stripped = line.strip()
        for name in changed:
            if stripped.startswith(q("dev:" + name) + " ["):
                line = line.replace(" [", ' [color="#d00000", penwidth="3", ', 1)
                break
        out.append(line)
    return "\n".join(out)
