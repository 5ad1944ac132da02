"""Why a derived value is what it is: a small tree of reasons.

Every value the resolver derives travels with a :class:`Reason`: the rule or
fact that produced it (with its span), the kernel source the behaviour
mirrors, and the reasons it rests on.  ``explain`` prints these trees.
"""

from __future__ import annotations

from .diagnostics import Span
from .node import Node, node_field


class Reason(Node):
    text: str
    span: Span | None = node_field(default=None)
    source: str | None = node_field(default=None)  # kernel file: function
    because: tuple[Reason, ...] = node_field(default=())

    def lines(self, depth: int = 0) -> list[str]:
        where = f"  [{self.span}]" if self.span is not None and self.span.line else ""
        kernel = f"  ({self.source})" if self.source else ""
        out = [f"{'  ' * depth}{self.text}{where}{kernel}"]
        for sub in self.because:
            out += sub.lines(depth + 1)
        return out

    def to_json(self) -> dict[str, object]:
        data: dict[str, object] = {"text": self.text}
        if self.span is not None and self.span.line:
            data["at"] = str(self.span)
        if self.source:
            data["source"] = self.source
        if self.because:
            data["because"] = [r.to_json() for r in self.because]
        return data


class Derived(Node):
    """A value and why."""

    value: object
    reason: Reason


def fact(text: str, span: Span | None = None, source: str | None = None) -> Reason:
    return Reason(text, span, source)
