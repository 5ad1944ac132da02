"""Which devices a rule's selector picks, and how specific it is.

Specificity orders soft rules (``prefers``): a device name beats a compatible
string, which beats a tag, which beats ``on``/``kind``/``untrusted``, which
beat ``all``.
"""

from __future__ import annotations

import fnmatch

from . import ast
from .kinds import claiming_pci
from .model import Device, Model, reachable_iommus


def _pci_pattern(pattern: str) -> str:
    # Without a PCI domain the pattern matches every domain.
    return pattern if pattern.count(":") == 2 else "????:" + pattern


def matches(sel: ast.Selector, dev: Device, model: Model) -> bool:
    if isinstance(sel, ast.SelName):
        return sel.name.text == dev.name or sel.name.text in dev.tags
    if isinstance(sel, ast.SelCompatible):
        return any(fnmatch.fnmatchcase(c, sel.pattern.value) for c in dev.compatibles)
    if isinstance(sel, ast.SelOn):
        return sel.iommu.text in reachable_iommus(dev, model.iommus)
    if isinstance(sel, ast.SelKind):
        return any(
            name in model.iommus and model.iommus[name].kind == sel.kind.text
            for name in reachable_iommus(dev, model.iommus)
        ) or (dev.pci is not None and _claims_pci(model, sel.kind.text) and not dev.iommus)
    if isinstance(sel, ast.SelPci):
        return dev.pci is not None and fnmatch.fnmatchcase(
            str(dev.pci), _pci_pattern(sel.pattern.text).lower()
        )
    if isinstance(sel, ast.SelUntrusted):
        return dev.untrusted
    if isinstance(sel, ast.SelCap):
        return sel.cap.text in dev.caps
    if isinstance(sel, ast.SelAll):
        return True
    if isinstance(sel, ast.SelNot):
        return not matches(sel.operand, dev, model)
    if isinstance(sel, ast.SelAnd):
        return all(matches(s, dev, model) for s in sel.operands)
    return any(matches(s, dev, model) for s in sel.operands)


def _claims_pci(model: Model, kind: str) -> bool:
    """x86 IOMMUs claim PCI devices from ACPI tables (s390 each zPCI function), without an
    explicit link."""
    return kind in claiming_pci() and any(i.kind == kind for i in model.iommus.values())


def specificity(sel: ast.Selector) -> int:
    if isinstance(sel, ast.SelName):
        return 20  # a tag; a device name is ranked by the caller
    if isinstance(sel, ast.SelCompatible | ast.SelPci):
        text = sel.pattern.value if isinstance(sel, ast.SelCompatible) else sel.pattern.text
        return 40 if any(ch in text for ch in "*?[") else 50
    if isinstance(sel, ast.SelOn | ast.SelKind | ast.SelUntrusted | ast.SelCap):
        return 10
    if isinstance(sel, ast.SelAll):
        return 0
    if isinstance(sel, ast.SelNot):
        return specificity(sel.operand) // 2
    if isinstance(sel, ast.SelAnd):
        return sum(specificity(s) for s in sel.operands)
    return min(specificity(s) for s in sel.operands)


def specificity_for(sel: ast.Selector, dev: Device) -> int:
    """Specificity, with a selector naming this very device ranked highest."""
    if isinstance(sel, ast.SelName) and sel.name.text == dev.name:
        return 100
    return specificity(sel)
