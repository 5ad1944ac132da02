"""Graphviz DOT views of a resolution: topology, groups and domains, context use.

Our own small writer: every id and label is quoted and escaped (PCI addresses
hold ':' and '.', compatibles hold ',' and quotes), and nodes and edges are
emitted in a fixed order, so the same board gives the same bytes.
"""

from __future__ import annotations

import html
from collections.abc import Iterable

from .diagnostics import visible
from .enums import DomainType, Origin
from .resolution import Domain, Group, Resolution, context_sharers

VIEWS = ("topology", "groups", "contexts")
UNUSED = {"secure": "#cccccc", "reserved": "#dddddd", "free": "white"}  # contexts no domain holds
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

    def html_node(self, nid: str, html: str, **kw: object) -> None:
        """A node whose label is Graphviz HTML (``html`` is built from escaped text)."""
        rest = "".join(f", {k}={q(v)}" for k, v in sorted(kw.items()))
        self.lines.append("  " * self.depth + q(nid) + f" [label=<{html}>{rest}];")

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


def _legend(w: _Writer, colours: list[tuple[str, str]], notes: list[str]) -> None:
    """A key to the view: each fill colour drawn, then what shapes and lines mean."""
    rows = ['<tr><td align="left"><b>legend</b></td></tr>']
    rows += [
        f'<tr><td align="left" bgcolor="{colour}">{html.escape(text, quote=False)}</td></tr>'
        for colour, text in colours
    ]
    rows += [f'<tr><td align="left">{html.escape(text, quote=False)}</td></tr>' for text in notes]
    table = '<table border="0" cellborder="1" cellspacing="0" cellpadding="4">'
    w.html_node("legend", table + "".join(rows) + "</table>", shape="plaintext")


def _type_colours(types: set[str], what: str) -> list[tuple[str, str]]:
    """The domain-type colours a view uses, in COLOURS' order."""
    return [
        (colour, f"no {what}" if t == "none" else f"{t} {what}")
        for t, colour in COLOURS.items()
        if t in types
    ]


def _runs(numbers: Iterable[int], kind: dict[int, str]) -> list[tuple[int, int]]:
    """Consecutive context numbers of one unused kind (free, reserved, secure) as (first,
    last) runs; a used context is a run of its own."""
    out: list[tuple[int, int]] = []
    for i in numbers:
        if out and kind[i] != "used" and kind[out[-1][1]] == kind[i] and out[-1][1] == i - 1:
            out[-1] = (out[-1][0], i)
        else:
            out.append((i, i))
    return out


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
        if dev.bridge is not None:
            continue  # drawn as its bridge above
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
    any_untrusted = any(d.untrusted for d in model.devices.values())
    _legend(
        w,
        [
            ("#fff4cc", "IOMMU"),
            *([("#f0f0f0", "PCI bridge")] if model.bridges else []),
            ("white", "device"),
            *([("#ffd6d6", "untrusted device")] if any_untrusted else []),
        ],
        [
            "solid arrow: the IOMMU the device is attached to, with its streams",
            "dotted arrow: an IOMMU listed but not attached, or a PCI claim",
            *(["dashed arrow: the bridge upstream"] if model.bridges else []),
        ],
    )
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
                kind = model.devices[m].bridge
                w.node(
                    "dev:" + m,
                    label=f"{m}\n{kind or d.values.get('dma_ops')}",
                    fillcolor=COLOURS.get(str(d.values.get("domain_type")), "white"),
                    shape="trapezium" if kind else None,
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
    types = {g.default or "none" for g in res.groups}
    types |= {str(d.values.get("domain_type")) for d in res.devices.values()}
    _legend(
        w,
        _type_colours(types, "domain"),
        [
            "group box: its default domain's type; device: its domain's type",
            "ellipse: a driver's or named domain (red: not set up)",
            "dashed arrow: an attach that failed",
        ],
    )
    return w.text()


def contexts(res: Resolution) -> str:
    model = res.model
    w = _Writer("contexts")
    types: set[str] = set()
    seen: set[str] = set()  # what the legend explains: unused kinds, refusals, exhaustion
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
        seen |= {"exhausted"} if exhausted else set()
        seen |= {"-EINVAL" if d.errno == "-EINVAL" else "refused" for d in failed}
        w.open(
            iommu.name,
            f"{iommu.name} ({iommu.kind}): {len(used)} of "
            f"{iommu.contexts if iommu.contexts else 'unlimited'} contexts used",
            style="rounded",
            color="#cc0000" if exhausted else "#999999",
        )
        kind = {
            i: "used"
            if i in used
            else "secure"
            if i in iommu.secure
            else "reserved"
            if i in iommu.reserved or i == iommu.bypass_context
            else "free"
            for i in numbers
        }
        for first, last in _runs(numbers, kind):
            dom = used.get(first)
            if dom is not None:
                types.add(dom.type)
                names = ", ".join(d.name for d in sharers[first])
                fill, label = COLOURS.get(dom.type, "white"), f"{first}: {names}\n{dom.type}"
                w.node(f"ctx:{iommu.name}:{first}", label=label, fillcolor=fill, shape="box")
                continue
            fill = UNUSED[kind[first]]
            seen.add(kind[first])
            if first == last:
                nid, label = f"ctx:{iommu.name}:{first}", f"{first}: {kind[first]}"
            else:  # a run of 120 free contexts is one box, not a column of them
                nid = f"ctx:{iommu.name}:{first}-{last}"
                label = f"{first}-{last}: {kind[first]} ({last - first + 1})"
            w.node(nid, label=label, fillcolor=fill, shape="box")
        for dom in sorted(failed, key=lambda d: d.name):
            w.node(
                f"fail:{dom.name}",
                label=f"{dom.name}\nno context: {dom.outcome}",
                fillcolor="#f2e0e0" if dom.errno == "-EINVAL" else "#ffb3b3",
                shape="octagon",
            )
        w.close()
    keys = [
        ("secure", UNUSED["secure"], "secure: kept by the firmware"),
        ("reserved", UNUSED["reserved"], "reserved by a rule or the driver"),
        ("free", UNUSED["free"], "free (a run of them is one box: first-last)"),
        ("refused", "#ffb3b3", "octagon: a domain that got no context"),
        ("-EINVAL", "#f2e0e0", "octagon: a domain this IOMMU cannot hold (-EINVAL)"),
    ]
    _legend(
        w,
        [
            *_type_colours(types, "domain in the context"),
            *((colour, text) for key, colour, text in keys if key in seen),
        ],
        ["red frame: the IOMMU ran out of contexts"] if "exhausted" in seen else [],
    )
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
