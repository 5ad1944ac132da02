"""`why`: a value, the rules and facts that produced it, and the kernel source they mirror.

In the spirit of Kconfiglib's info screen: each term with its value and its
file:line.  ``why not`` shows what stands between the actual value and the
one asked about.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .checks import query, render_value
from .diagnostics import did_you_mean, visible
from .model import ATTRIBUTES
from .provenance import Reason
from .resolution import Resolution

ALIASES = {"contexts": "contexts_used", "group-of": "group_members", "ops": "dma_ops"}
# a PCI function by its address where a name goes: '01:00.0.group', '0000:01:00.0.dma_ops'
_ADDRESS = re.compile(r"^((?:[0-9a-fA-F]{4}:)?[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7])(\..*)?$")


class QueryError(Exception):
    """A query that is malformed, or names nothing the board has (``unknown``); the message
    carries a did-you-mean hint."""

    def __init__(self, message: str, unknown: bool = False):
        super().__init__(message)
        self.unknown = unknown


@dataclass(frozen=True)
class Explanation:
    subject: str
    attribute: str
    value: object
    reason: Reason
    not_value: str | None = None
    blockers: tuple[Reason, ...] = ()

    def text(self) -> str:
        head = f"{self.subject}.{self.attribute} = {render_value(self.value)}"
        if self.not_value is not None:
            if render_value(self.value) == self.not_value:
                head += f"  (it is {self.not_value})"
            else:
                head += f", not {self.not_value}, because:"
        lines = [head, *self.reason.lines(1)]
        for b in self.blockers:
            lines += b.lines(1)
        return visible("\n".join(lines))

    def to_json(self) -> dict[str, object]:
        return {
            "query": f"{self.subject}.{self.attribute}",
            "value": self.value,
            "why": self.reason.to_json(),
            **({"not": self.not_value} if self.not_value is not None else {}),
        }


def parse_query(res: Resolution, text: str) -> tuple[str, str]:
    """'gr3d.dma_ops', 'group-of gpu', 'mc.contexts' -> (subject, attribute)."""
    text = text.strip()
    if text.startswith("group-of "):
        subject = text.split(None, 1)[1].strip()
        return res.model.at_address(subject) or subject, "group_members"
    at = _ADDRESS.match(text)
    if at is not None:
        name = res.model.at_address(at.group(1))
        if name is None:
            raise QueryError(f"no PCI function at {at.group(1)} on this board", unknown=True)
        text = f"{name}{at.group(2) or ''}"  # '01:00.0.dma_ops' is 'dgpu_audio.dma_ops'
    subject, dot, attr = text.partition(".")
    if not dot:
        raise QueryError(f"'{text}' is not a query: write NAME.ATTRIBUTE, e.g. gr3d.dma_ops")
    attr = ALIASES.get(attr, attr)
    model = res.model
    kinds = {
        **{d: "device" for d in model.devices},
        **{i: "iommu" for i in model.iommus},
        **{d: "domain" for d in (*res.domains, *model.domains)},
        "system": "system",
    }
    kind = kinds.get(subject)
    if kind is None and model.builders(subject):
        kind = "domain"  # a pack's rule builds it on other platforms
    if kind is None:
        hint = did_you_mean(subject, kinds)
        raise QueryError(f"unknown name '{subject}'" + (f"; {hint}" if hint else ""), unknown=True)
    if kind == "domain" and subject not in model.domains:
        attrs = ATTRIBUTES["domain"]
    else:
        attrs = ATTRIBUTES[kind]
    if attr not in attrs:
        hint = did_you_mean(attr, attrs)
        raise QueryError(
            f"{kind} '{subject}' has no attribute '{attr}'"
            + (f"; {hint}" if hint else f"; it has {', '.join(sorted(attrs))}"),
            unknown=True,
        )
    return subject, attr


def explain(res: Resolution, text: str, not_value: str | None = None) -> Explanation:
    subject, attr = parse_query(res, text)
    value, reason = query(res, subject, attr)
    blockers: list[Reason] = []
    if not_value is not None and attr == "dma_ops" and subject in res.devices:
        # The DMA ops follow from the domain: show that derivation too.
        dres = res.devices[subject]
        for dep in ("default_domain", "iommu"):
            if dep in dres.reasons:
                blockers.append(
                    Reason(
                        f"{subject}.{dep} = {render_value(dres.values[dep])}",
                        None,
                        None,
                        (dres.reasons[dep],),
                    )
                )
    return Explanation(subject, attr, value, reason, not_value, tuple(blockers))
