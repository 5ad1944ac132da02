"""Importers: real boards and machines into rule files."""

from __future__ import annotations

from collections.abc import Iterable

# IOMMU kind -> the stdlib pack with that driver's per-device policy.
DRIVER_PACKS = {
    "intel-vtd": "std/iommu/intel-vtd",
    "amd-vi": "std/iommu/amd-vi",
    "apple-dart": "std/iommu/apple-dart",
    "arm-smmu-v3": "std/iommu/arm-smmu-v3",
    "virtio": "std/iommu/virtio",
    "mtk-iommu-v1": "std/iommu/mtk-iommu-v1",
    "sun50i-iommu": "std/iommu/sun50i-iommu",
    "riscv-iommu": "std/iommu/riscv-iommu",
    "omap-iommu": "std/iommu/omap-iommu",
    "s390-iommu": "std/iommu/s390-iommu",
    "msm-iommu": "std/iommu/msm-iommu",
    "sprd-iommu": "std/iommu/sprd-iommu",
    "fsl-pamu": "std/iommu/fsl-pamu",
    "spapr-tce": "std/iommu/spapr-tce",
}


def driver_packs(kinds: Iterable[str]) -> list[str]:
    """The include lines for the driver packs of these IOMMU kinds, in a stable order."""
    return [f'include "{p}"' for p in sorted({DRIVER_PACKS[k] for k in kinds if k in DRIVER_PACKS})]


def phb_name(domain: int) -> str:
    """A POWER host bridge's spapr-tce, named after its PCI domain ("iommu-phb%04x")."""
    return f"phb{domain:04x}"


def unique_name(base: str, used: set[str]) -> str:
    """``base``, or ``base_2``, ``base_3``, ... whichever is not taken yet; records it."""
    name, n = base, 1
    while name in used:
        n += 1
        name = f"{base}_{n}"
    used.add(name)
    return name
