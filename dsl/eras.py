"""Kernel eras: every release boundary the resolver models, each defined once.

An :class:`Era` is the first mainline release with a behaviour, one line of what
changed, and the commit that changed it, so a kernel engineer can check the
claim with ``git show``.  Stages ask ``platform.since(ERA)``; no stage compares
against a bare version.  Behaviour that kernel policy decides (default domain
types, command-line handling, per-SoC tables) lives in the stdlib packs as
``when kernel ...`` rules instead.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Era:
    """A behaviour of the kernel from ``version`` on."""

    version: tuple[int, ...]
    what: str  # what changed, in the kernel's terms
    commit: str  # the commit that changed it (12 hex digits; "" where not pinned, said in `what`)

    @property
    def text(self) -> str:
        """The release as people write it: '6.7'."""
        return ".".join(map(str, self.version))

    def __str__(self) -> str:
        return f"{self.text} ({self.commit})"


def era(version: str, what: str, commit: str) -> Era:
    return Era(tuple(int(p) for p in version.split(".")), what, commit)


# -- the core: default domains ----------------------------------------------------------------
DEFAULT_DOMAIN_LOG = era(
    "5.4",
    'iommu_subsys_init prints "iommu: Default domain type: ..." (Joerg Roedel\'s "iommu: Print '
    'default domain type on boot"; its commit ID is not pinned here)',
    "",
)
DEF_DOMAIN_TYPE = era(
    "5.8",
    "drivers' def_domain_type wishes decide a group's default domain when it is allocated at "
    "probe (probe_get_default_domain_type): the first device's wish wins, a conflicting one "
    "falls back to the global default (with deac0b3bed26, 'Split off default domain "
    "allocation from group assignment')",
    "4cbf38511a00",
)
DMA_FQ = era(
    "5.15",
    "lazy invalidation becomes a domain type, IOMMU_DOMAIN_DMA_FQ, which a driver's domain_alloc "
    "must take (c208916fe6c7 makes the lazy default that type); iommu_subsys_init prints "
    '"DMA domain TLB invalidation policy" (d8577d2e331d)',
    "bf3aed4660c6",
)
DMA_OWNERSHIP = era(
    "5.19",
    "DMA ownership: __iommu_attach_group refuses a domain while the group is in a domain "
    "other than its default one (group->domain && group->domain != group->default_domain), "
    "also when it has no default domain",
    "1ea2a07a532b",
)
BLOCKING_DOMAIN = era(
    "5.19",
    "__iommu_group_alloc_blocking_domain: a group claimed for DMA ownership always gets a "
    "domain, an empty UNMANAGED one where the driver has no blocked domain",
    "0286300e6045",
)
DEFERRED_FLUSH_CAP = era(
    "6.5",
    "the core allocates DMA-FQ domains for every driver, and iommu_dma_init_domain keeps the "
    "flush queue only where the driver reports IOMMU_CAP_DEFERRED_FLUSH",
    "4a20ce0ff68e",
)
IDENTITY_WINS = era(
    "6.7",
    "iommu_get_default_domain_type: an identity wish wins a conflict, and an untrusted device "
    "whose driver insists on another type is refused",
    "59ddce4418da",
)
NO_IOMMU_DMA_IDENTITY = era(
    "6.7",
    "without IOMMU_DMA the core asks for an identity default domain instead of failing a DMA "
    "one (before, from 46983fcd67ac in 5.15, __iommu_domain_alloc's iommu_get_dma_cookie "
    "failed it; earlier the drivers' domain_alloc did)",
    "0f6a90436a57",
)
STATIC_DEFAULT_DOMAIN = era(
    "6.7",
    "legacy drivers (fsl-pamu, spapr-tce) carry one static ops->default_domain of type "
    "IOMMU_DOMAIN_PLATFORM",
    "8565915e7558",
)
STATIC_DEFAULT_HONOURED = era(
    "6.8",
    "iommu_get_def_domain_type returns a static default_domain's type (\"iommu: Allow "
    'ops->default_domain to work when !CONFIG_IOMMU_DMA"); in 6.7 the core asked for another '
    "type and every such probe failed",
    "83b3836bf83f",
)
OF_PROBE_PATH = era(
    "6.15",
    "bus_iommu_probe parses DT/ACPI for every device, so a device no driver binds joins its "
    "group too",
    "bcb81ac6ae3c",
)

# -- architectures ------------------------------------------------------------------------------
S390_DMA_IOMMU = era(
    "6.7",
    "s390's PCI DMA API moves onto dma-iommu: IOMMU_DMA on s390, arch/s390/pci/pci_dma.c gone, "
    "s390-iommu reports IOMMU_CAP_DEFERRED_FLUSH",
    "c76c067e488c",
)

# -- drivers ----------------------------------------------------------------------------------
ADRENO_CONTEXT_BANK_0 = era(
    "5.11",
    "qcom_adreno_smmu_alloc_context_bank: the Adreno GPU (SID 0) gets context bank 0 and every "
    "other client of its SMMU starts at 1",
    "5c7469c66f95",
)
MTK_ONE_LARB = era(
    "5.18",
    'mtk_iommu_probe_device refuses a master whose ports are on two larbs ("Can only use one '
    'larb"); merged through the media tree, so mainline 5.18 (5.16.y and 5.17.y have it as a '
    "stable backport)",
    "635319a4a744",
)
ATTACH_EINVAL = era(
    "6.2",
    "attach_dev returns -EINVAL, not -EBUSY, for a domain the device cannot take (the GART's "
    "taken aperture, an OMAP domain's one client)",
    "f4a147735793",
)
MTK_IOVA_REGIONS = era(
    "6.4",
    "mtk_iommu_get_iova_region_id picks a master's IOVA region by its larb's port masks, not by "
    "its bus's dma-ranges",
    "b2a6876d215b",
)
SPAPR_TCE_OPS = era(
    "6.4",
    "POWER's PHBs get iommu_ops (spapr_tce_iommu_ops) with a blocked domain for VFIO; before, "
    "IOMMU groups but no domains",
    "a940904443e4",
)
TEGRA_SWGROUP_GROUPS = era(
    "5.10",
    "tegra_smmu_device_group puts the clients of one swgroup in one group (Nicolin Chen's "
    '"iommu/tegra-smmu: Allow to group clients in same swgroup"; before, tegra_smmu_group_get '
    "returned NULL for a swgroup in no SoC group and the client got a group of its own); its "
    "commit ID is not pinned here",
    "",
)
VIRTIO_DEFERRED_FLUSH = era(
    "6.8",
    "virtio-iommu reports IOMMU_CAP_DEFERRED_FLUSH (viommu_capable)",
    "6f01a732608f",
)
AMD_GLOBAL_IDENTITY = era(
    "6.13",
    "AMD-Vi: one global identity domain (protection domain ID 1, set up at init) and "
    "protection domain IDs from an IDA (with 2fcab2deebc3)",
    "4402f2627d30",
)
ARM64_ZONE_DMA_FROM_DT = era(
    "5.11",
    "arm64 sizes ZONE_DMA from the device tree's lowest dma-ranges end "
    '(zone_sizes_init: of_dma_get_max_cpu_address, "arm64: mm: Set ZONE_DMA size based on '
    "devicetree's dma-ranges\"); its commit ID is not pinned here",
    "",
)
IOMMU_DMA_RANGE_MAP_CHECK = era(
    "6.10",
    "iommu_dma_init_domain checks the device's dma_range_map (its dma-ranges) against the "
    "domain's aperture, and no longer the base and size of_dma_configure passed (0 and "
    "4 GiB without dma-ranges)",
    "ad4750b07d34",
)

ALL: tuple[Era, ...] = tuple(v for v in list(globals().values()) if isinstance(v, Era))
