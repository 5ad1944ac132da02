"""Which rules are in force on this platform, and which devices each selects."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from . import ast
from .enums import DomainType, Verb
from .model import Device, Model, Rule
from .node import kept
from .provenance import Reason
from .resolution import Resolution
from .selectors import matches, specificity_for


@dataclass(frozen=True)
class ActiveRule:
    index: int
    rule: Rule
    why: tuple[Reason, ...]  # the conditions that made it hold
    position: int  # latest command-line token it depends on, -1 when none
    devices: frozenset[str]

    # Kept once asked: the stages ask a rule's verb and domain type per device and group.
    @kept
    def verb(self) -> Verb:
        return Verb(self.rule.verb.kind) if isinstance(self.rule.verb, ast.Verb) else Verb.RESERVE

    @kept
    def domain_type(self) -> DomainType:
        """The default-domain type the rule names; `excludes implicit` asks for identity."""
        t = getattr(self.rule.verb, "domain_type", None)
        return DomainType(t.text) if t is not None else DomainType.IDENTITY

    def reason(self, text: str | None = None) -> Reason:
        r = self.rule
        if not text:
            text = f'rule "{r.name}"' if r.explicit_name else f"rule at {r.span}"
        return Reason(text, r.span, r.source, self.why)

    def specificity(self, dev: Device) -> int:
        assert self.rule.selector is not None
        return specificity_for(self.rule.selector, dev)


def _select(sel: ast.Selector, model: Model) -> frozenset[str]:
    if isinstance(sel, ast.SelName):
        # A name selects the device of that name and every device with that tag.
        name = sel.name.text
        tagged = {d.name for d in model.devices.values() if name in d.tags}
        return frozenset(tagged | ({name} if name in model.devices else set()))
    if isinstance(sel, ast.SelAll):
        return frozenset(model.devices)
    return frozenset(d.name for d in model.devices.values() if matches(sel, d, model))


def active_rules(res: Resolution) -> list[ActiveRule]:
    out = []
    for index, rule in enumerate(res.model.rules):
        why: list[Reason] = []
        position = -1
        holds = True
        for cond in rule.conditions:
            ok, reasons, pos = res.platform.holds(cond)
            if not ok:
                holds = False
                break
            why += reasons
            position = max(position, pos)
        if not holds:
            continue
        devices = _select(rule.selector, res.model) if rule.selector is not None else frozenset()
        res.rule_hits[index] = len(devices)
        # `kernel >= A and kernel < B` both cite the platform's one kernel line: say it once
        out.append(ActiveRule(index, rule, tuple(dict.fromkeys(why)), position, devices))
    return out


def conditions_hold(res: Resolution, conds: Iterable[ast.Condition]) -> tuple[bool, list[Reason]]:
    """Whether `when` conditions hold on the platform, and the facts that decide it: every
    condition's when they hold, the first failing one's when not."""
    why: list[Reason] = []
    for cond in conds:
        ok, reasons, _ = res.platform.holds(cond)
        if not ok:
            return False, reasons
        why += reasons
    return True, list(dict.fromkeys(why))


def driver_flags(res: Resolution, rules: list[ActiveRule]) -> None:
    """What each device's driver does: its own `driver` facts, then `driver` rules (the
    packs' knowledge of drivers, matched by compatible), first reason kept."""
    for dev in res.model.devices.values():
        if not dev.driver:  # most devices state no `driver` facts
            continue
        for flag in sorted(dev.driver):
            res.driver.setdefault(dev.name, {})[flag] = Reason(
                f"'{dev.name}' says 'driver {flag}'", dev.span
            )
    for rule in by_verb(rules, Verb.DRIVER):
        verb = rule.rule.verb
        assert isinstance(verb, ast.Verb)
        for name in sorted(rule.devices):
            for word in verb.flags:
                res.driver.setdefault(name, {}).setdefault(
                    word.text, rule.reason(f"the driver of '{name}' does {word.text}")
                )


def by_verb(rules: list[ActiveRule], *verbs: Verb) -> list[ActiveRule]:
    return [r for r in rules if r.verb in verbs]
