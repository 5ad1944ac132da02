"""Stage 5: the DMA ops each device's driver gets, and whether buffers bounce.

kernel/dma/mapping.c: dma_go_direct picks iommu-dma when the default domain
is a DMA domain (drivers/iommu/dma-iommu.c: iommu_setup_dma_ops), the arm32
mapping when arch_setup_dma_ops installed one, and dma-direct otherwise;
dma-direct bounces through swiotlb when the device cannot reach all RAM and a
pool exists (kernel/dma/direct.h: dma_capable).
"""

from __future__ import annotations

from .diagnostics import warning
from .eras import S390_DMA_IOMMU
from .model import Device, Iommu, Model
from .provenance import Reason
from .resolution import Domain, Resolution

GB4 = 1 << 32


def _swiotlb_pool(res: Resolution) -> tuple[bool, Reason]:
    plat = res.platform
    top = plat.ram_top
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


def _mask_reason(dev: Device) -> Reason:
    bits = dev.dma_mask or 32
    return Reason(
        f"DMA mask {bits} bits" + ("" if dev.dma_mask else " (the default for DT/PCI devices)"),
        dev.span,
        "drivers/of/device.c: of_dma_configure_id" if not dev.dma_mask else None,
    )


def _direct(res: Resolution, dev: Device, why: Reason) -> tuple[str, Reason]:
    bits = dev.dma_mask or 32
    limit = 1 << bits
    mask_why = _mask_reason(dev)
    top = res.platform.ram_top
    if top <= limit or top == 0:
        return "dma-direct", Reason(
            "dma-direct: the device reaches all RAM",
            None,
            "kernel/dma/mapping.c: dma_go_direct",
            (why, mask_why),
        )
    pool, pool_why = _swiotlb_pool(res)
    if pool:
        return "dma-direct+swiotlb", Reason(
            f"dma-direct+swiotlb: a {bits}-bit mask cannot reach RAM up to {top:#x}",
            None,
            "kernel/dma/direct.h: dma_capable, swiotlb_map",
            (why, mask_why, pool_why),
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
    return "dma-direct", Reason(
        "dma-direct: no swiotlb pool, so buffers above the mask fail to map",
        None,
        "kernel/dma/direct.h: dma_capable",
        (why, mask_why, pool_why),
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


def _tce(dev: Device, iommu: Iommu, dom: Domain | None) -> tuple[str, Reason]:
    """POWER's PCI DMA ops are the arch's dma_iommu_ops in every era: TCE translation
    through the PE's table, or the PHB's bypass window for a wide enough mask; the IOMMU
    API's domains never carry the DMA API there."""
    if dom is not None and dom.origin == "driver" and dom.type == "blocked" and not dom.failed:
        return "none", Reason(
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
    mask = _mask_reason(dev)
    if "no-bypass" in iommu.quirks:
        return "dma_iommu", Reason(
            f"dma_iommu: '{iommu.name}' offers no bypass window (quirk no-bypass): every "
            "mapping is a TCE",
            iommu.span,
            "arch/powerpc/kernel/dma-iommu.c: dma_iommu_bypass_supported",
            (ops, mask),
        )
    if bits >= TCE_BYPASS_BITS:
        return "dma-direct", Reason(
            f"dma-direct: a {bits}-bit mask reaches the PHB's bypass window, so "
            "dma_iommu_dma_supported sets dev->dma_ops_bypass and the DMA API goes direct",
            None,
            "arch/powerpc/kernel/dma-iommu.c: dma_iommu_dma_supported; "
            "powernv: pnv_pci_ioda_iommu_bypass_supported, pseries: enable_ddw",
            (ops, mask),
        )
    return "dma_iommu", Reason(
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


def _no_dma_api_use(res: Resolution, name: str) -> Reason | None:
    for flag, (text, source) in NO_DMA_API.items():
        said = res.driver_does(name, flag)
        if said is not None:
            return Reason(text.format(name), said.span, source, (said,))
    return None


def dma_ops(res: Resolution) -> None:
    model = res.model
    # arm32 mappings by device, in one pass: those their drivers detached, and those still
    # installed as the DMA ops (under a domain a driver attached over them before 5.19:
    # contexts.py, W212)
    detached: dict[str, Domain] = {}
    kept: dict[str, Domain] = {}
    for d in res.domains.values():
        if d.origin == "arm32" and (d.errno == "released" or not d.failed):
            for name in d.devices:
                (detached if d.errno == "released" else kept)[name] = d
    first_phb = next((i for i in model.iommus.values() if i.driver.arch_dma), None)
    for dres in res.devices.values():
        dev = model.devices[dres.name]
        group = res.group_of(dres.name)
        dom = res.domains.get(dres.domain or "")
        if dev.disabled:
            dres.set(
                "dma_ops",
                "none",
                Reason(
                    f"'{dev.name}' is disabled: no device is created, no driver binds",
                    dev.span,
                    "drivers/of/platform.c: of_platform_bus_create (of_device_is_available)",
                ),
            )
            continue
        no_dma = _no_dma_api_use(res, dev.name)
        if no_dma is not None:
            dres.set("dma_ops", "none", no_dma)
            continue
        s390_arch_dma = (
            res.platform.arch == "s390"
            and not res.platform.since(S390_DMA_IOMMU)
            and dev.pci is not None
        )
        if s390_arch_dma and dom is not None and dom.origin == "driver":
            dres.set(
                "dma_ops",
                "none",
                Reason(
                    f"none: '{dom.name}' replaced the arch's own translation of the function, "
                    "so its DMA API has no table behind it",
                    None,
                    "drivers/iommu/s390-iommu.c: s390_iommu_attach_device (zpci_dma_exit_device)",
                    (dom.reason,),
                ),
            )
            continue
        if s390_arch_dma:
            dres.set(
                "dma_ops",
                "s390_pci_dma",
                Reason(
                    "s390_pci_dma: before 6.7 the arch translates every zPCI function's DMA "
                    "itself, with its own table, whatever the IOMMU API holds",
                    None,
                    "arch/s390/pci/pci_dma.c: zpci_dma_init_device, s390_pci_dma_ops",
                    (res.platform.kernel_reason,),
                ),
            )
            continue
        tce = _tce_phb(model, dev, first_phb)
        if tce is not None:
            # the platform code sets dma_iommu_ops whatever the IOMMU API did with the
            # function (a refused group, a kernel without SPAPR_TCE_IOMMU)
            dres.set("dma_ops", *_tce(dev, tce, dom))
            continue
        if dres.iommu is None or group is None or group.failed:
            why = dres.reasons.get("iommu") or Reason("not behind an IOMMU")
            if group is not None and group.failed:
                why = Reason(
                    f"'{dev.name}' was unwound from its IOMMU", None, None, (group.default_reason,)
                )
            dres.set("dma_ops", *_direct(res, dev, why))
            continue
        if dom is not None and dom.origin == "arm32" and not dom.failed:
            dres.set(
                "dma_ops",
                "arm_iommu",
                Reason(
                    f"arm_iommu: '{dev.name}' translates through its own mapping (context "
                    f"{dom.context})"
                    if dom.name == f"arm_iommu:{dev.name}"
                    else f"arm_iommu: '{dev.name}' translates through the one mapping of "
                    f"'{dom.iommu}', shared by all its masters",
                    None,
                    "arch/arm/mm/dma-mapping.c: arm_iommu_dma_ops",
                    (dom.reason,),
                ),
            )
            continue
        if dom is not None and dom.arm_mapping and not dom.failed:
            left = detached.get(dev.name)
            before = (left.context_reason,) if left and left.context_reason else ()
            dres.set(
                "dma_ops",
                "arm_iommu",
                Reason(
                    f"arm_iommu: the driver attached '{dev.name}' to its shared mapping "
                    f"'{dom.name}'",
                    None,
                    "arch/arm/mm/dma-mapping.c: arm_iommu_attach_device",
                    (*before, dom.reason),
                ),
            )
            continue
        stale = kept.get(dev.name)
        if dom is not None and dom.origin == "driver" and stale is not None and not dom.failed:
            dres.set(
                "dma_ops",
                "arm_iommu",
                Reason(
                    f"arm_iommu: '{dev.name}' keeps the DMA ops of its implicit mapping "
                    f"'{stale.name}', though the driver attached '{dom.name}' over it "
                    "(nothing resets them before 5.19)",
                    None,
                    "arch/arm/mm/dma-mapping.c: arm_iommu_dma_ops; drivers/iommu/iommu.c: "
                    "__iommu_attach_group",
                    (stale.reason, dom.reason),
                ),
            )
            continue
        released = detached.get(dev.name)
        if released is not None and released.context_reason is not None:
            why = Reason(
                f"the driver of '{dev.name}' detached its arm32 mapping, which resets its DMA ops",
                None,
                "arch/arm/mm/dma-mapping.c: arm_iommu_detach_device (set_dma_ops(dev, NULL))",
                (released.context_reason,),
            )
            dres.set("dma_ops", *_direct(res, dev, why))
            continue
        default = group.default
        if default in ("dma", "dma-fq") and res.platform.enabled("IOMMU_DMA"):
            dres.set(
                "dma_ops",
                "iommu-dma",
                Reason(
                    f"iommu-dma: the default domain is {default}",
                    None,
                    "drivers/iommu/dma-iommu.c: iommu_setup_dma_ops",
                    (group.default_reason,),
                ),
            )
            continue
        if default == "blocked":
            dres.set(
                "dma_ops",
                "none",
                Reason("the default domain blocks all DMA", None, None, (group.default_reason,)),
            )
            continue
        driver = model.iommus[group.iommu].driver
        kind = driver.name
        if default is None and driver.passes_unattached is None:
            src = driver.faults_unattached
            dres.set(
                "dma_ops",
                "none",
                Reason(
                    f"none: no default domain and '{group.iommu}' faults unattached streams; DMA "
                    "works only once the driver attaches its own domain"
                    if src
                    else f"none: no default domain, and '{group.iommu}' ({kind}) is not known "
                    "to pass unattached streams through; DMA works only through a domain the "
                    "driver attaches",
                    None,
                    src,
                    (group.default_reason,),
                ),
            )
            continue
        why = group.default_reason
        if default is None:
            why = Reason(
                f"no default domain; '{group.iommu}' passes unattached streams through",
                None,
                driver.passes_unattached,
                (group.default_reason,),
            )
        dres.set("dma_ops", *_direct(res, dev, why))
