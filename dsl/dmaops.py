"""Stage 5: the DMA ops each device's driver gets, and whether buffers bounce.

kernel/dma/mapping.c: dma_go_direct picks iommu-dma when the default domain
is a DMA domain (drivers/iommu/dma-iommu.c: iommu_setup_dma_ops), the arm32
mapping when arch_setup_dma_ops installed one, and dma-direct otherwise;
dma-direct bounces through swiotlb when the device cannot reach all RAM and a
pool exists (kernel/dma/direct.h: dma_capable).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from .diagnostics import Label, warning
from .enums import DmaOps, DomainType, Origin
from .eras import ARM64_ZONE_DMA_FROM_DT, IOMMU_DMA_RANGE_MAP_CHECK, S390_DMA_IOMMU
from .model import Device, Iommu, Model
from .provenance import Reason
from .resolution import DeviceResult, Domain, Group, Resolution

GB4 = 1 << 32


def _swiotlb_pool(res: Resolution) -> tuple[bool, Reason]:
    """Whether the kernel keeps a swiotlb pool, and why; worked out once per resolution."""
    if res.swiotlb is None:
        res.swiotlb = _pool(res)
    return res.swiotlb


def _pool(res: Resolution) -> tuple[bool, Reason]:
    plat = res.platform
    top = plat.ram_top
    windows = [d.dma_range for d in res.model.devices.values() if d.dma_range is not None]
    if plat.arch == "arm64" and windows and plat.since(ARM64_ZONE_DMA_FROM_DT):
        # zone_dma_bits: the lowest end of the dma-ranges windows (of_dma_get_max_cpu_address)
        # rounded up to a power of two (fls64), at most 32 bits; max_zone_phys: no cap when
        # DRAM starts above 4 GiB, 4 GiB when it starts above the zone; the pool when RAM is
        # above the zone (of the devices the board states: the kernel reads every DT node)
        lowest = min(cpu + size - 1 for cpu, size, _ in windows)
        limit = min(GB4, 1 << lowest.bit_length())
        start = plat.ram_base
        if start >= GB4:
            limit = top
        elif start > limit:
            limit = GB4
        return top > limit, Reason(
            f"swiotlb pool {'allocated' if top > limit else 'not allocated'}: RAM tops out at "
            f"{top:#x}, the DMA zone (the lowest dma-ranges end, {lowest:#x}) at {limit:#x}",
            None,
            "arch/arm64/mm/init.c: zone_sizes_init (of_dma_get_max_cpu_address), mem_init "
            "(max_pfn > arm64_dma_phys_limit)",
        )
    if plat.arch in ("arm64", "riscv64", "x86_64", "s390"):
        src = {
            "arm64": "arch/arm64/mm/init.c: mem_init (max_pfn > arm64_dma_phys_limit)",
            "x86_64": "arch/x86/kernel/pci-swiotlb.c: pci_swiotlb_detect (RAM above 4 GiB)",
            "riscv64": "arch/riscv/mm/init.c: mem_init (max_pfn > dma32_phys_limit)",
            "s390": "arch/s390/mm/init.c: pv_init / swiotlb",
        }[plat.arch]
        return top > GB4, Reason(
            f"swiotlb pool {'allocated' if top > GB4 else 'not allocated'}: RAM tops out at "
            f"{top:#x}",
            None,
            src,
        )
    if plat.arch == "arm":
        lpae = plat.enabled("ARM_LPAE")
        return lpae and top > GB4, Reason(
            "arm32 has a swiotlb pool only with LPAE" + (" and RAM above 4 GiB" if lpae else ""),
            None,
            "arch/arm/mm/init.c: mem_init (CONFIG_ARM_LPAE)",
        )
    if plat.arch == "powerpc" and any(i.driver.arch_dma for i in res.model.iommus.values()):
        return False, Reason(
            "no swiotlb pool on POWER servers: ppc_swiotlb_enable stays 0 (secure guests aside)",
            None,
            "arch/powerpc/mm/mem.c: mem_init (swiotlb_init(ppc_swiotlb_enable, ...))",
        )
    if plat.arch == "powerpc":
        # The e500 boards' setup_arch (corenet_gen_setup_arch, mpc85xx_ds_setup_arch) keep
        # the pool when RAM ends above 4 GiB; fsl_pci's setup_pci_atmu also when RAM
        # outgrows a controller's inbound window, not modelled.
        return top > GB4, Reason(
            f"swiotlb pool {'kept' if top > GB4 else 'released'}: RAM tops out at {top:#x}",
            None,
            "arch/powerpc/platforms/85xx/corenet_generic.c: corenet_gen_setup_arch "
            "(swiotlb_detect_4g)",
        )
    return False, Reason(f"no swiotlb pool on {plat.arch}")


def _direct(res: Resolution, dev: Device, why: Reason) -> tuple[DmaOps, Reason]:
    bits = dev.dma_mask or 32
    lo, hi, limited, _, reach_why = dev.dma_reach
    top = res.platform.ram_top
    if top == 0 or (lo <= res.platform.ram_base and top <= hi):  # every RAM region
        return DmaOps.DIRECT, Reason(
            "dma-direct: the device reaches all RAM",
            None,
            "kernel/dma/mapping.c: dma_go_direct",
            (why, *reach_why),
        )
    pool, pool_why = _swiotlb_pool(res)
    if pool:
        return DmaOps.DIRECT_SWIOTLB, Reason(
            f"dma-direct+swiotlb: {limited} cannot reach all RAM (up to {top:#x})",
            None,
            "kernel/dma/direct.h: dma_capable, swiotlb_map",
            (why, *reach_why, pool_why),
        )
    res.diagnostics.append(
        warning(
            "W207",
            f"'{dev.name}' has a {bits}-bit DMA mask, RAM reaches {top:#x} and there is "
            "no swiotlb pool: mappings above the mask fail",
            dev.span,
            help='the kernel prints "DMA addr ... overflow (mask ..., bus limit ...)"',
        )
    )
    return DmaOps.DIRECT, Reason(
        "dma-direct: no swiotlb pool, so buffers above the mask fail to map",
        None,
        "kernel/dma/direct.h: dma_capable",
        (why, *reach_why, pool_why),
    )


# A POWER PHB's bypass serves 64-bit masks: pseries grants its direct DDW only to them
# (iommu_bypass_supported_pSeriesLP, before "Limited Addressing"); powernv's TVE#1 bypass at
# 1 << 59 also serves masks from 60 bits (pnv_pci_ioda_iommu_bypass_supported), not modelled.
TCE_BYPASS_BITS = 64


def _tce_phb(model: Model, dev: Device, first: Iommu | None) -> Iommu | None:
    """The POWER PHB whose TCE ops a PCI function gets: its PE's, or (no PE written, W215)
    the machine's first PHB, `first`."""
    if dev.pci is None or first is None:
        return None
    for link in dev.iommus:
        if link.iommu in model.iommus and model.iommus[link.iommu].driver.arch_dma:
            return model.iommus[link.iommu]
    return first if not dev.iommus else None


def _tce(dev: Device, iommu: Iommu, dom: Domain | None) -> tuple[DmaOps, Reason]:
    """POWER's PCI DMA ops are the arch's dma_iommu_ops in every era: TCE translation
    through the PE's table, or the PHB's bypass window for a wide enough mask; the IOMMU
    API's domains never carry the DMA API there."""
    if (
        dom is not None
        and dom.origin is Origin.DRIVER
        and dom.type is DomainType.BLOCKED
        and not dom.failed
    ):
        return DmaOps.NONE, Reason(
            f"none: '{dom.name}' owns the PE (VFIO): take_ownership removed its DMA windows, so "
            'the DMA API finds no table ("IOMMU dma not supported: ... table unavailable")',
            None,
            "arch/powerpc/platforms/powernv/pci-ioda.c: pnv_ioda2_take_ownership; "
            "arch/powerpc/kernel/dma-iommu.c: dma_iommu_dma_supported",
            (dom.reason,),
        )
    ops = Reason(
        str(iommu.driver.arch_dma),
        None,
        "arch/powerpc/kernel/pci-common.c: pcibios_bus_add_device (set_dma_ops(pci_dma_ops)); "
        "arch/powerpc/platforms/powernv/pci-ioda.c: set_pci_dma_ops(&dma_iommu_ops)",
    )
    bits = dev.dma_mask or 32
    mask = dev.dma_reach.mask
    if "no-bypass" in iommu.quirks:
        return DmaOps.DMA_IOMMU, Reason(
            f"dma_iommu: '{iommu.name}' offers no bypass window (quirk no-bypass): every "
            "mapping is a TCE",
            iommu.span,
            "arch/powerpc/kernel/dma-iommu.c: dma_iommu_bypass_supported",
            (ops, mask),
        )
    if bits >= TCE_BYPASS_BITS:
        return DmaOps.DIRECT, Reason(
            f"dma-direct: a {bits}-bit mask reaches the PHB's bypass window, so "
            "dma_iommu_dma_supported sets dev->dma_ops_bypass and the DMA API goes direct",
            None,
            "arch/powerpc/kernel/dma-iommu.c: dma_iommu_dma_supported; "
            "powernv: pnv_pci_ioda_iommu_bypass_supported, pseries: enable_ddw",
            (ops, mask),
        )
    return DmaOps.DMA_IOMMU, Reason(
        f"dma_iommu: a {bits}-bit mask is not served by the PHB's 64-bit bypass: every mapping "
        "is a TCE in the PE's 32-bit window",
        None,
        "arch/powerpc/kernel/dma-iommu.c: dma_iommu_map_page (iommu_map_page)",
        (ops, mask),
    )


# Driver flags under which nothing calls the DMA API: why, and the kernel code behind it.
NO_DMA_API = {
    "none": ("no driver binds '{}': nothing uses the DMA API", None),
    "managed-dma": (
        "the driver of '{}' sets driver_managed_dma: no DMA API use",
        "drivers/base/platform.c: platform_dma_configure",
    ),
}


class Case(NamedTuple):
    """What a decider looks at for one device: the device, its group and domain, and the
    arm32 mapping its driver detached or kept (if any). A tuple: one is made per device."""

    res: Resolution
    dev: Device
    dres: DeviceResult
    group: Group | None
    dom: Domain | None
    detached: Domain | None  # its arm32 mapping, which its driver released
    kept: Domain | None  # its arm32 mapping, still its DMA ops under a domain attached over it
    phb: Iommu | None  # the POWER PHB whose TCE ops it gets


Decision = tuple[DmaOps, Reason]
_new = tuple.__new__  # a Case in one C call: NamedTuple's own __new__ is Python


def _disabled(c: Case) -> Decision | None:
    if not c.dev.disabled:
        return None
    return DmaOps.NONE, Reason(
        f"'{c.dev.name}' is disabled: no device is created, no driver binds",
        c.dev.span,
        "drivers/of/platform.c: of_platform_bus_create (of_device_is_available)",
    )


def _no_dma_api(c: Case) -> Decision | None:
    """Driver flags under which nothing calls the DMA API."""
    for flag, (text, source) in NO_DMA_API.items():
        said = c.res.driver_does(c.dev.name, flag)
        if said is not None:
            return DmaOps.NONE, Reason(text.format(c.dev.name), said.span, source, (said,))
    return None


def _s390_arch(c: Case) -> Decision | None:
    """Before S390_DMA_IOMMU the arch translates a zPCI function's DMA with its own table."""
    plat = c.res.platform
    if plat.arch != "s390" or plat.since(S390_DMA_IOMMU) or c.dev.pci is None:
        return None
    if c.dom is not None and c.dom.origin is Origin.DRIVER:
        return DmaOps.NONE, Reason(
            f"none: '{c.dom.name}' replaced the arch's own translation of the function, "
            "so its DMA API has no table behind it",
            None,
            "drivers/iommu/s390-iommu.c: s390_iommu_attach_device (zpci_dma_exit_device)",
            (c.dom.reason,),
        )
    return DmaOps.S390_PCI_DMA, Reason(
        "s390_pci_dma: before 6.7 the arch translates every zPCI function's DMA "
        "itself, with its own table, whatever the IOMMU API holds",
        None,
        "arch/s390/pci/pci_dma.c: zpci_dma_init_device, s390_pci_dma_ops",
        (plat.kernel_reason,),
    )


def _tce_ops(c: Case) -> Decision | None:
    """The platform code sets dma_iommu_ops whatever the IOMMU API did with the function
    (a refused group, a kernel without SPAPR_TCE_IOMMU)."""
    if c.phb is None:
        return None
    return _tce(c.dev, c.phb, c.dom)


def _untranslated(c: Case) -> Decision | None:
    """Not behind an IOMMU, or unwound from it: dma-direct."""
    group = c.group
    if c.dres.iommu is not None and group is not None and not group.failed:
        return None
    why = c.dres.reasons.get("iommu") or Reason("not behind an IOMMU")
    if group is not None and group.failed:
        why = Reason(
            f"'{c.dev.name}' was unwound from its IOMMU", None, None, (group.default_reason,)
        )
    return _direct(c.res, c.dev, why)


def _arm32_mapping(c: Case) -> Decision | None:
    """An arm32 mapping the arch code (or the M4U v1) installed."""
    dom = c.dom
    if dom is None or dom.origin is not Origin.ARM32 or dom.failed:
        return None
    return DmaOps.ARM_IOMMU, Reason(
        f"arm_iommu: '{c.dev.name}' translates through its own mapping (context {dom.context})"
        if dom.name == f"arm_iommu:{c.dev.name}"
        else f"arm_iommu: '{c.dev.name}' translates through the one mapping of "
        f"'{dom.iommu}', shared by all its masters",
        None,
        "arch/arm/mm/dma-mapping.c: arm_iommu_dma_ops",
        (dom.reason, *_window_reason(dom, c.dev)),
    )


def _window_reason(dom: Domain, dev: Device) -> tuple[Reason, ...]:
    """Where an arm32 mapping's IOVAs come from (arm_iommu_create_mapping's base, size)."""
    if dom.window is None:
        return ()
    lo, size = dom.window
    return (
        Reason(
            f"its IOVAs: {lo:#x}..{lo + size - 1:#x}, "
            + (
                f"the window the driver gives '{dom.name}'"
                if dom.origin is not Origin.ARM32
                else "the device's dma-ranges"
                if dev.dma_range is not None
                else "of_dma_configure's default base and size (0, 4 GiB)"
            ),
            dev.dma_range_span if dom.origin is Origin.ARM32 else None,
            "arch/arm/mm/dma-mapping.c: arm_iommu_create_mapping, __alloc_iova",
        ),
    )


def _driver_mapping(c: Case) -> Decision | None:
    """A driver's own arm32 mapping (arm_iommu_attach_device)."""
    dom = c.dom
    if dom is None or not dom.arm_mapping or dom.failed:
        return None
    left = c.detached
    before = (left.context_reason,) if left and left.context_reason else ()
    return DmaOps.ARM_IOMMU, Reason(
        f"arm_iommu: the driver attached '{c.dev.name}' to its shared mapping '{dom.name}'",
        None,
        "arch/arm/mm/dma-mapping.c: arm_iommu_attach_device",
        (*before, dom.reason, *_window_reason(dom, c.dev)),
    )


def _stale_mapping(c: Case) -> Decision | None:
    """Before 5.19 a driver domain attached over an implicit mapping leaves its DMA ops."""
    dom, stale = c.dom, c.kept
    if dom is None or dom.origin is not Origin.DRIVER or stale is None or dom.failed:
        return None
    return DmaOps.ARM_IOMMU, Reason(
        f"arm_iommu: '{c.dev.name}' keeps the DMA ops of its implicit mapping "
        f"'{stale.name}', though the driver attached '{dom.name}' over it "
        "(nothing resets them before 5.19)",
        None,
        "arch/arm/mm/dma-mapping.c: arm_iommu_dma_ops; drivers/iommu/iommu.c: __iommu_attach_group",
        (stale.reason, dom.reason),
    )


def _detached_mapping(c: Case) -> Decision | None:
    """A driver that detached its implicit mapping resets the DMA ops: dma-direct."""
    released = c.detached
    if released is None or released.context_reason is None:
        return None
    why = Reason(
        f"the driver of '{c.dev.name}' detached its arm32 mapping, which resets its DMA ops",
        None,
        "arch/arm/mm/dma-mapping.c: arm_iommu_detach_device (set_dma_ops(dev, NULL))",
        (released.context_reason,),
    )
    return _direct(c.res, c.dev, why)


def _iommu_dma(c: Case) -> Decision | None:
    """A DMA default domain: iommu_setup_dma_ops, unless iommu_dma_init_domain finds the
    device's DMA range outside the IOMMU's aperture (-EFAULT: the platform's ops stay)."""
    assert c.group is not None
    default = c.group.default
    if default is None or not default.translated or not c.res.platform.enabled("IOMMU_DMA"):
        return None
    why = Reason(
        f"iommu-dma: the default domain is {default}",
        None,
        "drivers/iommu/dma-iommu.c: iommu_setup_dma_ops",
        (c.group.default_reason,),
    )
    aperture = c.res.model.iommus[c.group.iommu].iova_aperture()
    if aperture is None:
        return DmaOps.IOMMU_DMA, why
    base, size, ap_why = aperture
    end = base + size - 1
    dev = c.dev
    plat = c.res.platform
    lo, hi, checked = 0, (1 << 64) - 1, ""  # x86, s390, riscv: 0..U64_MAX, never refused
    if dev.dma_range is not None:
        _, span, lo = dev.dma_range
        hi, checked = lo + span - 1, f"its dma-ranges, bus {lo:#x}..{lo + span - 1:#x}"
    elif plat.arch == "arm64" and not plat.since(IOMMU_DMA_RANGE_MAP_CHECK):
        # arm64's arch_setup_dma_ops passed of_dma_configure's base and size on
        lo, hi = 0, GB4 - 1
        checked = "of_dma_configure's default range, 0x0..0xffffffff"
    src = "drivers/iommu/dma-iommu.c: iommu_dma_init_domain"
    if checked and (lo > end or hi < base):
        c.res.log.append("specified DMA range outside IOMMU capability")
        c.res.log.append(
            f"Failed to set up IOMMU for device {dev.name}; retaining platform DMA ops"
        )
        return _direct(
            c.res,
            dev,
            Reason(
                f"iommu_dma_init_domain fails (-EFAULT): {checked} misses the aperture of "
                f"'{c.group.iommu}', {base:#x}..{end:#x}; the platform's DMA ops stay",
                None,
                f"{src}; iommu_setup_dma_ops (out_err)",
                (why, ap_why),
            ),
        )
    # The allocator's range: from the aperture's start (before 6.10 also from the dma-ranges
    # start), up to the aperture's end, the DMA mask and the bus limit (dma-ranges).
    first = base if plat.since(IOMMU_DMA_RANGE_MAP_CHECK) else max(base, lo)
    limit = (1 << (dev.dma_mask or 32)) - 1
    if dev.dma_range is not None:
        limit = min(limit, hi)
    top = min(end, limit)
    return DmaOps.IOMMU_DMA, Reason(
        f"iommu-dma: the default domain is {default}, with IOVAs {first:#x}..{top:#x} "
        f"(the aperture of '{c.group.iommu}', the DMA mask"
        + (", the dma-ranges)" if dev.dma_range is not None else ")"),
        None,
        f"{src}; iommu_dma_alloc_iova (force_aperture)",
        (c.group.default_reason, ap_why),
    )


def _blocked(c: Case) -> Decision | None:
    assert c.group is not None
    if c.group.default is not DomainType.BLOCKED:
        return None
    return DmaOps.NONE, Reason(
        "the default domain blocks all DMA", None, None, (c.group.default_reason,)
    )


def _faults_unattached(c: Case) -> Decision | None:
    """No default domain on an IOMMU that does not pass unattached streams through."""
    group = c.group
    assert group is not None
    driver = c.res.model.iommus[group.iommu].driver
    if group.default is not None or driver.passes_unattached is not None:
        return None
    src = driver.faults_unattached
    return DmaOps.NONE, Reason(
        f"none: no default domain and '{group.iommu}' faults unattached streams; DMA "
        "works only once the driver attaches its own domain"
        if src
        else f"none: no default domain, and '{group.iommu}' ({driver.name}) is not known "
        "to pass unattached streams through; DMA works only through a domain the "
        "driver attaches",
        None,
        src,
        (group.default_reason,),
    )


def _direct_otherwise(c: Case) -> Decision | None:
    """Identity, or no default domain on an IOMMU that passes unattached streams."""
    group = c.group
    assert group is not None
    why = group.default_reason
    if group.default is None:
        why = Reason(
            f"no default domain; '{group.iommu}' passes unattached streams through",
            None,
            c.res.model.iommus[group.iommu].driver.passes_unattached,
            (group.default_reason,),
        )
    return _direct(c.res, c.dev, why)


# kernel/dma/mapping.c: dma_go_direct and the arch's setup, in the order they take over.
DECIDERS: tuple[Callable[[Case], Decision | None], ...] = (
    _disabled,
    _no_dma_api,
    _s390_arch,
    _tce_ops,
    _untranslated,
    _arm32_mapping,
    _driver_mapping,
    _stale_mapping,
    _detached_mapping,
    _iommu_dma,
    _blocked,
    _faults_unattached,
    _direct_otherwise,
)


def dma_ops(res: Resolution) -> None:
    """Each device's DMA ops: the first decider with an answer gives it, and why."""
    model = res.model
    # arm32 mappings by device, in one pass: those their drivers detached, and those still
    # installed as the DMA ops (under a domain a driver attached over them before 5.19:
    # contexts.py, W212)
    detached: dict[str, Domain] = {}
    kept: dict[str, Domain] = {}
    for d in res.domains.values():
        if d.origin is Origin.ARM32 and (d.released or not d.failed):
            for name in d.devices:
                (detached if d.released else kept)[name] = d
    first_phb = next((i for i in model.iommus.values() if i.driver.arch_dma), None)
    deciders = _asked(res, first_phb, detached, kept)
    devices, groups, domains = model.devices, res.groups, res.domains
    for dres in res.devices.values():
        dev = devices[dres.name]
        case = _new(
            Case,
            (
                res,
                dev,
                dres,
                groups[dres.group] if dres.group is not None else None,
                domains.get(dres.domain) if dres.domain is not None else None,
                detached.get(dev.name) if detached else None,
                kept.get(dev.name) if kept else None,
                _tce_phb(model, dev, first_phb) if first_phb is not None else None,
            ),
        )
        for decide in deciders:
            decision = decide(case)
            if decision is not None:  # DeviceResult.set, inline: 10,000 devices at 10k
                dres.values["dma_ops"], dres.reasons["dma_ops"] = decision
                break
    for dom in res.domains.values():
        if dom.window is not None and not dom.failed:
            _window_past_aperture(res, dom)


def _asked(
    res: Resolution, first_phb: Iommu | None, detached: dict[str, Domain], kept: dict[str, Domain]
) -> list[Callable[[Case], Decision | None]]:
    """The deciders that can answer on this board, in their order. Those whose test has one
    answer for the whole board (its arch, a PHB, an arm32 mapping, a driver flag, a group's
    default domain) are left out where it is no: a 10k-device board would ask each of them
    10,000 times for nothing."""
    plat = res.platform
    can: dict[Callable[[Case], Decision | None], bool] = {
        _disabled: any(d.disabled for d in res.model.devices.values()),
        _no_dma_api: any(f in flags for flags in res.driver.values() for f in NO_DMA_API),
        _s390_arch: plat.arch == "s390" and not plat.since(S390_DMA_IOMMU),
        _tce_ops: first_phb is not None,
        _arm32_mapping: any(
            d.origin is Origin.ARM32 and not d.failed for d in res.domains.values()
        ),
        _driver_mapping: any(d.arm_mapping and not d.failed for d in res.domains.values()),
        _stale_mapping: bool(kept),
        _detached_mapping: bool(detached),
        _blocked: any(g.default is DomainType.BLOCKED for g in res.groups),
        _faults_unattached: any(
            g.default is None and _passes_unattached(res, g.iommu) is None for g in res.groups
        ),
    }
    return [decide for decide in DECIDERS if can.get(decide, True)]


def _passes_unattached(res: Resolution, iommu: str) -> str | None:
    inst = res.model.iommus.get(iommu)
    return inst.driver.passes_unattached if inst is not None else None


def _window_past_aperture(res: Resolution, dom: Domain) -> None:
    """W223: an arm32 mapping whose IOVA window reaches outside its IOMMU's aperture. The
    mapping's allocator hands out the lowest free IOVAs first (__alloc_iova) and the
    driver's map refuses every IOVA outside the aperture (the GART's gart_iova_range_invalid,
    sprd_iommu_map: -EINVAL), so mappings there fail."""
    assert dom.window is not None
    iommu = res.model.iommus[dom.iommu]
    aperture = iommu.iova_aperture()
    if aperture is None:
        return
    base, size, _ = aperture
    lo, span = dom.window
    hi, end = lo + span - 1, base + size - 1
    if base <= lo and hi <= end:
        return
    if lo < base or lo > end:
        fate = "its first IOVAs lie outside the aperture, so every DMA mapping fails"
    else:
        fate = f"mappings fail once the IOVAs up to {end:#x} are in use"
    spec = res.model.domains.get(dom.name) or (
        res.built[dom.name].spec if dom.name in res.built else None
    )
    dev = res.model.devices[dom.devices[0]] if dom.devices else None
    span_at = spec.span if spec is not None else dev.span if dev is not None else iommu.span
    res.diagnostics.append(
        warning(
            "W223",
            f"the arm32 mapping '{dom.name}' hands out IOVAs {lo:#x}..{hi:#x}, but "
            f"'{iommu.name}' translates only {base:#x}..{end:#x}: {fate}",
            span_at,
            secondary=(
                Label(iommu.aperture_span or iommu.span, f"the aperture of '{iommu.name}'"),
            ),
            help="iommu_map refuses IOVAs outside the aperture; the mapping's window "
            "(arm_iommu_create_mapping's base and size, or the device's dma-ranges) must lie "
            "inside it",
        )
    )
