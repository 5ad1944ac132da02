"""The resolver's closed vocabularies, as string enums.

Each member is the word the language, the reports and the JSON use, so a value
prints, compares and serialises as that word; the enum makes a typo a type
error instead of a silently different branch.

=============  =================================================================
DomainType     a domain's type: the kernel's IOMMU_DOMAIN_* (include/linux/iommu.h)
Verb           what a rule says (``requires``, ``excludes implicit``, ...)
DmaOps         the DMA ops a device's driver gets
Origin         where a domain comes from: a group's default, a driver, arm32
DomainState    what became of a domain's attach
=============  =================================================================
"""

from __future__ import annotations

from enum import StrEnum


class DomainType(StrEnum):
    IDENTITY = "identity"  # IOMMU_DOMAIN_IDENTITY: passthrough
    DMA = "dma"  # IOMMU_DOMAIN_DMA: translated, strict invalidation
    DMA_FQ = "dma-fq"  # IOMMU_DOMAIN_DMA_FQ: translated, lazy flush queue (5.15+)
    BLOCKED = "blocked"  # IOMMU_DOMAIN_BLOCKED
    UNMANAGED = "unmanaged"  # IOMMU_DOMAIN_UNMANAGED: a driver's own, or an arm32 mapping
    PLATFORM = "platform"  # IOMMU_DOMAIN_PLATFORM: a legacy driver's static default (6.7+)

    # Sets built once below: a tuple of members made on each call cost 0.7 us, and the
    # stages ask tens of thousands of times on a 10k-device board.
    @property
    def translated(self) -> bool:
        """A DMA domain: the DMA API maps through it (iommu-dma)."""
        return self in _TRANSLATED

    @property
    def paging(self) -> bool:
        """It has page tables, so it needs a context on its IOMMU."""
        return self in _PAGING


_TRANSLATED = frozenset({DomainType.DMA, DomainType.DMA_FQ})
_PAGING = _TRANSLATED | {DomainType.UNMANAGED}


class Verb(StrEnum):
    EXCLUDES_IMPLICIT = "excludes implicit"
    EXCLUDES_IOMMU = "excludes iommu"
    REQUIRES = "requires"
    PREFERS = "prefers"
    EXCLUDES = "excludes"
    ALLOWS_CONTEXTS = "allows contexts"
    DEF_DOMAIN_TYPE = "def-domain-type"  # a pack: what a driver's def_domain_type asks
    DEFAULT_DOMAIN = "default-domain"  # a pack: the global default (Kconfig, command line)
    DRIVER = "driver"  # a pack: what a device's driver does
    BUILDS_DOMAIN = "builds domain"  # a pack: a domain a driver builds and attaches
    RESERVE = "reserve"  # context IOMMU.N reserved for SELECTOR


class DmaOps(StrEnum):
    IOMMU_DMA = "iommu-dma"  # drivers/iommu/dma-iommu.c
    DIRECT = "dma-direct"  # kernel/dma/direct.c
    DIRECT_SWIOTLB = "dma-direct+swiotlb"  # dma-direct, bouncing through swiotlb
    ARM_IOMMU = "arm_iommu"  # arch/arm/mm/dma-mapping.c: an arm32 mapping
    S390_PCI_DMA = "s390_pci_dma"  # arch/s390/pci/pci_dma.c (before 6.7)
    DMA_IOMMU = "dma_iommu"  # arch/powerpc/kernel/dma-iommu.c: POWER's TCE ops
    NONE = "none"  # DMA faults or nothing uses the DMA API


class Origin(StrEnum):
    DEFAULT = "default"  # a group's default domain
    DRIVER = "driver"  # a `domain` statement: what a driver builds and attaches
    ARM32 = "arm32"  # an arm32 dma_iommu_mapping the arch code (or the M4U v1) set up


class DomainState(StrEnum):
    LIVE = "live"  # built and attached
    FAILED = "failed"  # the allocation or attach failed (the domain's errno says how)
    RELEASED = "released"  # the driver detached it again (arm_iommu_detach_device)
