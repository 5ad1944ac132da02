"""The IOMMU kinds: one module per kernel driver family, and the registry.

Each family module defines its kinds (:class:`~.base.Kind` records, with hook
methods where the driver's logic is procedural) and lists them in ``KINDS``.
Adding a kind means: its module here (copy the nearest family's), its word in
``grammar/iommu.lark``'s ``iommu_kind``, its stdlib pack if the driver has
per-device policy, and a test file ``tests/kinds/test_<module>.py``; the
contract test checks the rest (every facet given, the driver cited, the docs'
kinds table current).
"""

from __future__ import annotations

from . import (
    apple_dart,
    arm_smmu,
    arm_smmu_v3,
    exynos,
    fsl_pamu,
    ipmmu,
    mediatek,
    msm_iommu,
    omap,
    qcom_iommu,
    riscv_iommu,
    rockchip,
    s390,
    spapr_tce,
    sprd,
    sun50i,
    tegra,
    virtio,
    x86,
)
from .base import Contexts, Kind

_FAMILIES = (
    arm_smmu,
    arm_smmu_v3,
    qcom_iommu,
    tegra,
    x86,
    rockchip,
    exynos,
    mediatek,
    apple_dart,
    sun50i,
    riscv_iommu,
    omap,
    s390,
    msm_iommu,
    sprd,
    fsl_pamu,
    spapr_tce,
    ipmmu,
    virtio,
)

KINDS: dict[str, Kind] = {k.name: k for family in _FAMILIES for k in family.KINDS}

# A kind the grammar does not know (E005 already said so): the model is still built, so
# tools can show what is there, with the core's defaults.
UNKNOWN = arm_smmu_v3.ARM_SMMU_V3.variant(
    Kind,
    name="?",
    driver="?",
    notes="",
    pack=None,
    compatibles=(),
    pci=False,
    pci_groups=False,
    fq_alloc=False,
    deferred_flush=None,
    no_span=None,
)


def kind(name: str) -> Kind:
    """The record of a kind, or UNKNOWN for a word the grammar does not have."""
    return KINDS.get(name, UNKNOWN)


def markdown_table() -> str:
    """The kinds table of docs/language.md, from the registry (a test keeps them equal)."""
    rows = [
        "| Kind | Kernel driver | Client stream | Default `cells` | PCI | Max `contexts` |",
        "|---|---|---|---|---|---|",
    ]
    for k in KINDS.values():
        driver = f"`{k.driver}`" + (f" ({k.notes})" if k.notes else "")
        pci = ("yes" if k.pci else "no") + k.pci_note
        most = k.contexts.max or ("none" if k.contexts.uncounted else 65536)
        rows.append(f"| `{k.name}` | {driver} | {k.stream_doc} | {k.cells} | {pci} | {most} |")
    return "\n".join(rows) + "\n"


def claiming_pci() -> tuple[str, ...]:
    """Kinds that claim every PCI function without a link (x86 from ACPI, s390, the PAMU)."""
    return tuple(k.name for k in KINDS.values() if k.pci_claim is not None)


__all__ = ["KINDS", "UNKNOWN", "Contexts", "Kind", "claiming_pci", "kind", "markdown_table"]
