"""Stage 4: domains that exist at run time and the contexts they take.

Events happen in the kernel's order: each device, in probe order, brings its
group's default domain (first attach takes a context) and, on arm32 with
ARM_DMA_USE_IOMMU, its own implicit mapping (arch_setup_dma_ops); then the
drivers attach the domains they build.  Identity and blocked domains cost no
context (an AMD-Vi identity domain still has a protection domain ID).
Exhaustion is the kernel's -ENOSPC (-EBUSY for the GART's single aperture),
and the device falls back as the kernel makes it.
"""

from __future__ import annotations

from .diagnostics import Label, error, warning
from .model import Device, Iommu, no_context_errno
from .model import Domain as ModelDomain
from .provenance import Reason
from .resolution import DeviceResult, Domain, Group, Resolution
from .rules import ActiveRule, by_verb, conditions_hold

PAGING = ("dma", "dma-fq", "unmanaged")
ARM_MAPPING = "arch/arm/mm/dma-mapping.c: arm_setup_iommu_dma_ops"
SOURCES = {
    "arm-smmu": "drivers/iommu/arm/arm-smmu/arm-smmu.c: arm_smmu_alloc_context_bank",
    "qcom-smmu": "drivers/iommu/arm/arm-smmu/arm-smmu.c: arm_smmu_alloc_context_bank",
    "adreno-smmu": "drivers/iommu/arm/arm-smmu/arm-smmu-qcom.c: "
    "qcom_adreno_smmu_alloc_context_bank",
    "tegra-smmu": "drivers/iommu/tegra-smmu.c: tegra_smmu_alloc_asid",
    "tegra-gart": "drivers/iommu/tegra-gart.c: gart_iommu_attach_dev",
    "qcom-iommu": "drivers/iommu/arm/arm-smmu/qcom_iommu.c: qcom_iommu_of_xlate",
    "amd-vi": "drivers/iommu/amd/iommu.c: domain_id_alloc (amd_iommu_pdom_id_alloc from 6.13)",
    "msm-iommu": "drivers/iommu/msm_iommu.c: msm_iommu_attach_dev (msm_iommu_alloc_ctx)",
    "riscv-iommu": "drivers/iommu/riscv/iommu.c: riscv_iommu_alloc_paging_domain "
    "(ida_alloc_range(&riscv_iommu_pscids, 1, RISCV_IOMMU_MAX_PSCID))",
}

# Kinds whose domain IDs come from one system-wide pool, whatever the instance, with the
# first ID handed out: AMD-Vi never hands out protection domain 0 (see _next_id); the
# RISC-V IOMMU's PSCIDs come from one IDA from 1 (riscv_iommu_alloc_paging_domain), and a
# domain keeps its PSCID on every IOMMU it is bonded to (riscv_iommu_iotlb_inval).
GLOBAL_POOL = {"amd-vi": 1, "riscv-iommu": 1}


# Vasant Hegde's "iommu/amd: Implement global identity domain" and "Use ida interface to
# manage protection domain ID" (IOMMU updates for v6.13).
AMD_GLOBAL_IDENTITY = (6, 13)

# Drivers whose old domain stops holding its context when its last group leaves for a
# driver domain: tegra-smmu frees the ASID (tegra_smmu_detach_as, tegra_smmu_free_asid);
# sun50i-iommu has one TTB register and points it at the new domain
# (sun50i_iommu_attach_device: "if (iommu->domain) sun50i_iommu_detach_device"); so does
# sprd-iommu with its first-PPN register (sprd_iommu_attach_device: sprd_iommu_first_ppn).
RELEASE_ON_LEAVE = {
    "tegra-smmu": "drivers/iommu/tegra-smmu.c: tegra_smmu_detach_as",
    "sun50i-iommu": "drivers/iommu/sun50i-iommu.c: sun50i_iommu_attach_device",
    "sprd-iommu": "drivers/iommu/sprd-iommu.c: sprd_iommu_attach_device (sprd_iommu_first_ppn)",
}

# Drivers that attach a device's domain to every instance its `iommus` names (one group,
# hung off the first): exynos_iommu_of_xlate lists each System MMU in owner->controllers and
# exynos_iommu_attach_device points every one of them at the domain's page table.
# omap_iommu_attach_dev programs every MMU the device's `iommus` lists, each with its own
# copy of the page table (omap_iommu_attach_init; the DRA7 DSPs' two MMUs); msm_iommu_attach_dev
# takes a context bank on every IOMMU whose master the device is (the APQ8064 GPU's gfx3d and
# gfx3d1); apple_dart_attach_dev sets up every stream map of the device (up to two DARTs:
# the M1's dwc3 controllers).
ALL_LINKS = {"exynos-sysmmu", "omap-iommu", "msm-iommu", "apple-dart"}

# Drivers that take one client device per domain: a second attach fails, -EBUSY until the
# 6.2 attach-errno rework, -EINVAL after.
SINGLE_CLIENT = {
    "omap-iommu": 'drivers/iommu/omap-iommu.c: omap_iommu_attach_dev ("only a single client '
    'device can be attached to a domain")',
}


class _Allocator:
    def __init__(self, res: Resolution, rules: list[ActiveRule]):
        self.res = res
        self.used: dict[str, dict[int, str]] = {}  # iommu -> context -> domain
        self.reserve_rules = [r for r in rules if r.verb == "reserve"]
        self.allow_rules = by_verb(rules, "allows contexts")
        self.counter: dict[str, int] = {}
        self.pgtables: dict[str, str] = {}  # M4U hw_list -> the domain whose page table it uses

    def candidates(self, iommu: Iommu, dom: Domain) -> tuple[list[int] | None, list[Reason]]:
        """Contexts this domain may take, lowest first; None = unlimited."""
        why: list[Reason] = []
        if iommu.contexts is None:
            return None, why
        allowed = set(range(iommu.contexts))
        for idx in sorted(iommu.reserved & allowed):
            why.append(Reason(f"context {idx} is reserved by firmware", iommu.span))
        allowed -= iommu.reserved
        for idx in sorted(iommu.secure & allowed):
            why.append(
                # a board fact (banks the secure world owns): qcom_iommu's -sec banks, the only
                # kernel notion of one, are fixed contexts and never reach this allocator
                Reason(f"context {idx} is secure and never handed out", iommu.span)
            )
        allowed -= iommu.secure
        if "bypass-last-context" in iommu.quirks and iommu.contexts:
            allowed.discard(iommu.contexts - 1)
            why.append(
                Reason(
                    f"context {iommu.contexts - 1} emulates bypass (Qualcomm firmware quirk)",
                    iommu.span,
                    "drivers/iommu/arm/arm-smmu/arm-smmu-qcom.c: qcom_smmu_cfg_probe",
                )
            )
        if iommu.kind == "adreno-smmu" and self.res.platform.kernel >= (5, 11):
            gpu = any(
                (0, 0) in [(s, 0) for s, _ in _sids(self.res.model.devices[d], iommu)]
                for d in dom.devices
            )
            if gpu:
                allowed &= {0}
                why.append(
                    Reason(
                        "the Adreno GPU (SID 0) may only use context bank 0",
                        None,
                        SOURCES["adreno-smmu"],
                    )
                )
            else:
                allowed.discard(0)
                why.append(
                    Reason(
                        "other Adreno SMMU clients start at context bank 1",
                        None,
                        SOURCES["adreno-smmu"],
                    )
                )
        for rule in self.reserve_rules:
            verb = rule.rule.verb
            if getattr(verb, "iommu", None) is None or verb.iommu.text != iommu.name:  # type: ignore[union-attr]
                continue
            idx = verb.index.value  # type: ignore[union-attr]
            if not (set(dom.devices) & rule.devices) and idx in allowed:
                allowed.discard(idx)
                why.append(rule.reason(f"context {idx} is reserved for others"))
        for rule in self.allow_rules:
            if set(dom.devices) & rule.devices:
                ranges = rule.rule.verb.contexts  # type: ignore[union-attr]
                mask = {
                    i for r in ranges for i in range(r.first.value, (r.last or r.first).value + 1)
                }
                allowed &= mask
                why.append(rule.reason(f"allowed contexts: {_ranges(sorted(mask))}"))
        return sorted(allowed), why

    def take(self, dom: Domain) -> bool:
        """Give ``dom`` a context on its IOMMU; False when the kernel would fail."""
        if not self._take(dom):
            return False
        iommus = self.res.model.iommus
        if dom.context is not None and iommus[dom.iommu].kind == "mtk-iommu":
            # A group of a shared hw_list spans M4Us: each one it attaches points its page
            # table base at the shared table (mtk_iommu_attach_device: bank->m4u_dom).
            for d in dom.devices:
                m4u = self.res.devices[d].iommu
                if m4u and m4u != dom.iommu and m4u not in dom.contexts_on:
                    self.used.setdefault(m4u, {}).setdefault(0, dom.name)
                    dom.contexts_on[m4u] = 0
        if dom.context is not None and iommus[dom.iommu].kind in ALL_LINKS:
            # The driver attaches the domain to every instance the device's `iommus` names
            # (a disabled node probes no System MMU, so it is not among them).
            for d in dom.devices:
                for link in self.res.model.devices[d].iommus:
                    other = iommus.get(link.iommu)
                    if other is None or other.disabled or other.name == dom.iommu:
                        continue
                    if other.name not in dom.contexts_on and not self.take_more(dom, other.name):
                        self._full(dom, other)
                        return False
        return True

    def _full(self, dom: Domain, other: Iommu) -> None:
        """The attach fails on another instance of the device's (ALL_LINKS) without a free
        context there; the contexts taken before it stay taken, as msm_iommu_attach_dev's
        error path frees none."""
        self._no_free_context(dom, other)
        dom.exhausted_on = other.name

    def _no_free_context(self, dom: Domain, iommu: Iommu, why: tuple[Reason, ...] = ()) -> None:
        """The attach fails for want of a context on `iommu`, with the driver's errno."""
        used = self.used.get(iommu.name, {})
        dom.failed = True
        dom.errno = no_context_errno(iommu.kind)
        dom.context_reason = Reason(
            f"no free context on '{iommu.name}' ({len(used)} of {iommu.contexts} in use): "
            f"{dom.errno}",
            iommu.span,
            SOURCES.get(iommu.kind),
            why,
        )

    def _take(self, dom: Domain) -> bool:
        iommu = self.res.model.iommus[dom.iommu]
        if dom.type == "identity" and iommu.kind == "amd-vi":
            self._amd_identity(dom)
            return True
        if dom.type not in PAGING:
            return True
        used = self.used.setdefault(iommu.name, {})
        src = SOURCES.get(iommu.kind)
        if iommu.kind == "mtk-iommu-v1":
            # One page table (data->m4u_dom), the driver's arm32 mapping's: its attach
            # ignores any other domain ("Only allow the domain created internally").
            if dom.origin == "default":
                return True
            used[0] = dom.name
            dom.context = 0
            dom.context_reason = Reason(
                f"'{iommu.name}' has one page table, for every master (data->m4u_dom)",
                None,
                "drivers/iommu/mtk_iommu_v1.c: mtk_iommu_v1_domain_finalise",
            )
            return True
        if iommu.kind == "tegra-gart":
            # One aperture, one active domain system-wide.
            if used:
                holder = next(iter(used.values()))
                errno = "-EBUSY" if self.res.platform.kernel < (6, 2) else "-EINVAL"
                dom.failed = True
                dom.errno = errno
                dom.context_reason = Reason(
                    f"the GART's single aperture is taken by '{holder}': {errno}", iommu.span, src
                )
                return False
            used[0] = dom.name
            dom.context = 0
            dom.context_reason = Reason("the GART's single aperture", iommu.span, src)
            return True
        if iommu.kind == "mtk-iommu":
            # One page-table base register: every domain (one per IOVA region) re-uses the
            # first one's io-pgtable and only sets its own aperture; M4Us on one hw_list
            # (`quirk share-pgtable`) share it too.
            from .groups import mtk_list

            holder = self.pgtables.setdefault(mtk_list(self.res.model, iommu)[0].name, dom.name)
            used.setdefault(0, dom.name)
            dom.context = 0
            dom.context_reason = Reason(
                "the M4U's one page table"
                + ("" if holder == dom.name else f", shared with '{holder}'"),
                None,
                "drivers/iommu/mtk_iommu.c: mtk_iommu_domain_finalise (share_dom)",
            )
            return True
        if iommu.kind == "qcom-iommu":
            # Contexts are not allocated: a domain programs the contexts its FIRST device's
            # cells name (qcom_iommu_init_domain walks that device's fwspec->ids, and returns
            # early for every later device once qcom_domain->iommu is set).
            first = self.res.model.devices[dom.devices[0]] if dom.devices else None
            ctxs = sorted(
                {
                    int(s.value)
                    for lk in (first.iommus if first else ())
                    if lk.iommu == iommu.name
                    for s in lk.streams
                    if s.form == "context"
                }
            )
            if not ctxs:
                return True
            dom.context, dom.more_contexts = ctxs[0], tuple(ctxs[1:])
            named = ", ".join(str(c) for c in ctxs)
            plural = "s" if len(ctxs) > 1 else ""
            secure = [c for c in ctxs if c in iommu.secure]
            if secure:
                # A `qcom,msm-iommu-v1-sec` context still serves the client that names it; the
                # compatible only makes the IOMMU's probe hand TZ a secure page-table pool.
                which = ", ".join(str(c) for c in secure)
                dom.context_reason = Reason(
                    f"fixed context{plural} {named} from the device tree; secure "
                    f"(qcom,msm-iommu-v1-sec): {which}, which the driver still programs for this "
                    "domain, TZ's secure page-table pool having been set up at probe",
                    None,
                    "drivers/iommu/arm/arm-smmu/qcom_iommu.c: qcom_iommu_init_domain, "
                    "qcom_iommu_sec_ptbl_init",
                )
            else:
                dom.context_reason = Reason(
                    f"fixed context{plural} {named} from the device tree", None, src
                )
            return True
        cands, why = self.candidates(iommu, dom)
        if cands is None or iommu.kind in GLOBAL_POOL:  # the global pool, `contexts` or not
            n = self._next_id(iommu.name)
            dom.context = n
            if iommu.kind == "amd-vi":
                text = (
                    f"protection domain ID {n} from the one system-wide pool "
                    "(0 is never handed out)"
                )
            elif iommu.kind == "riscv-iommu":
                text = f"PSCID {n} from the one system-wide pool of process soft-context IDs"
            else:
                text = f"domain ID {n} (not a scarce resource)"
            dom.context_reason = Reason(text, None, src)
            used[n] = dom.name
            return True
        free = [c for c in cands if c not in used]
        if not free:
            self._no_free_context(dom, iommu, tuple(why))
            return False
        dom.context = free[0]
        used[free[0]] = dom.name
        dom.context_reason = Reason(f"lowest free context on '{iommu.name}'", None, src, tuple(why))
        return True

    def take_more(self, dom: Domain, iommu: str) -> bool:
        """A context (domain ID) on another instance the domain is attached to, by the same
        rules as on its own (candidates), recorded in dom.contexts_on; False when that
        instance has none free (-ENOSPC)."""
        if dom.type not in PAGING:
            return True  # identity and blocked domains take no context anywhere
        used = self.used.setdefault(iommu, {})
        other = self.res.model.iommus[iommu]
        cands = None if other.kind in GLOBAL_POOL else self.candidates(other, dom)[0]
        if other.kind in GLOBAL_POOL and dom.context is not None:
            n = dom.context  # one domain, one global ID on every IOMMU
        elif cands is None:  # a global pool, or no context limit
            n = self._next_id(iommu)
        else:
            free = [c for c in cands if c not in used]
            if not free:
                return False
            n = free[0]
        used[n] = dom.name
        dom.contexts_on[iommu] = n
        return True

    def _next_id(self, iommu: str) -> int:
        """The next domain ID on an IOMMU without a context limit: per instance, but a
        GLOBAL_POOL kind's from one system-wide pool. AMD-Vi's never hands out 0
        (amd/init.c: "never allocate domain 0"; amd_iommu_pd_alloc_bitmap, the pdom_ids IDA
        from 6.13), and from 6.13 ID 1 is the global identity domain's, taken at init."""
        kind = self.res.model.iommus[iommu].kind
        key, first = (kind, GLOBAL_POOL[kind]) if kind in GLOBAL_POOL else (iommu, 0)
        if key == "amd-vi" and self.res.platform.kernel >= AMD_GLOBAL_IDENTITY:
            first = 2
        n = self.counter.get(key, first)
        self.counter[key] = n + 1
        return n

    def _amd_identity(self, dom: Domain) -> None:
        """AMD-Vi identity domains are protection domains with IDs of their own: before 6.13
        one per group, from the same pool as the paging ones (protection_domain_alloc ->
        protection_domain_init_v1 -> domain_id_alloc, whose ID set_dte_entry writes into the
        DTE); from 6.13 every group shares the one global identity_domain, whose ID
        amd_iommu_init_identity_domain takes before any IOMMU is registered: 1."""
        if self.res.platform.kernel >= AMD_GLOBAL_IDENTITY:
            n = 1
            text = (
                "protection domain ID 1: the one global identity domain, set up at init "
                "before any device probes"
            )
            src = "drivers/iommu/amd/iommu.c: amd_iommu_init_identity_domain"
        else:
            n = self._next_id(dom.iommu)
            text = f"protection domain ID {n}: an identity domain is a protection domain too"
            src = "drivers/iommu/amd/iommu.c: protection_domain_alloc (domain_id_alloc)"
        dom.context = n
        dom.context_reason = Reason(text, None, src)
        self.used.setdefault(dom.iommu, {}).setdefault(n, dom.name)

    def release(self, dom: Domain) -> None:
        for other, n in dom.contexts_on.items():
            if self.used.get(other, {}).get(n) == dom.name:  # not a page table it only shares
                self.used[other].pop(n)
        dom.contexts_on.clear()
        for hw_list, holder in list(self.pgtables.items()):
            if holder == dom.name:  # the next domain on that M4U list allocates a new one
                del self.pgtables[hw_list]
        if dom.context is not None:
            used = self.used.get(dom.iommu, {})
            if used.get(dom.context) == dom.name:  # not a page table it only shares (M4U)
                used.pop(dom.context)
            dom.context_reason = Reason(
                f"context {dom.context} released",
                None,
                dom.context_reason.source if dom.context_reason else None,
                (dom.context_reason,) if dom.context_reason else (),
            )
            dom.context = None


def _sids(dev: Device, iommu: Iommu) -> list[tuple[int, int]]:
    from .groups import stream_ids

    return stream_ids(dev, iommu)


def _ranges(items: list[int]) -> str:
    return ", ".join(str(i) for i in items) or "none"


def allocate(res: Resolution, rules: list[ActiveRule]) -> None:
    alloc = _Allocator(res, rules)
    model = res.model
    plat = res.platform
    arm32 = plat.arch == "arm" and plat.enabled("ARM_DMA_USE_IOMMU")
    no_implicit: dict[str, ActiveRule] = {}
    for r in by_verb(rules, "excludes implicit"):
        for d in r.devices:
            no_implicit[d] = r
    created: dict[int, Domain] = {}
    # `domain NAME: default of DEV`: DEV's default domain goes by NAME (built where it holds)
    named: dict[str, tuple[ModelDomain, list[Reason]]] = {}
    for spec in model.domains.values():
        if spec.of is not None:
            built, when = conditions_hold(res, spec.conditions)
            if built and spec.of in named:
                first = named[spec.of][0]
                res.diagnostics.append(
                    error(
                        "E120",
                        f"'{spec.name}' and '{first.name}' both name the default domain of "
                        f"'{spec.of}'",
                        spec.span,
                        secondary=(Label(first.span, f"'{first.name}' named it first"),),
                        help="a device has one default domain; name it once and attach "
                        "every other device in that statement",
                    )
                )
            elif built:
                named[spec.of] = (spec, when)
    order = sorted(res.devices.values(), key=lambda d: model.devices[d.name].probe_order)
    for dres in order:
        if dres.group is None:
            continue
        group = res.groups[dres.group]
        if group.failed:
            continue
        dev = model.devices[dres.name]
        # (a) the group's default domain, created when its first device probes
        if group.id not in created and group.default is not None:
            dom = Domain(
                f"default:{group.id}",
                group.default,
                group.iommu,
                "default",
                list(group.members),
                group.default_reason,
            )
            _name_default(res, dom, group, named)
            created[group.id] = dom
            res.domains[dom.name] = dom
            if not alloc.take(dom):
                _default_failed(res, group, dom)
        if group.failed:
            continue
        dres.domain = created[group.id].name if group.id in created else None
        if arm32 and model.iommus[group.iommu].kind == "mtk-iommu-v1":
            _mtk_v1_mapping(res, alloc, dres, group)
            if dev.name in no_implicit:
                rule = no_implicit[dev.name]
                res.diagnostics.append(
                    warning(
                        "W213",
                        f"'{rule.rule.name}' cannot keep '{dev.name}' out of an IOMMU "
                        f"mapping: the M4U v1 driver of '{group.iommu}' attaches every master "
                        "to its own mapping, not the arch code",
                        rule.rule.span,
                        help="'excludes implicit' stops arch_setup_dma_ops; "
                        "mtk_iommu_v1_probe_finalize attaches every master regardless",
                    )
                )
            continue
        # (b) arm32: the per-device mapping of arch_setup_dma_ops
        if arm32:
            if dev.name in no_implicit:
                dres.reasons["implicit"] = no_implicit[dev.name].reason(
                    f"no implicit mapping for '{dev.name}'"
                )
                continue
            mapping = Domain(
                f"arm_iommu:{dev.name}",
                "unmanaged",
                group.iommu,
                "arm32",
                [dev.name],
                Reason(
                    f"arm32 gives '{dev.name}' its own IOMMU mapping",
                    None,
                    ARM_MAPPING,
                    (plat.config_reason("ARM_DMA_USE_IOMMU"),),
                ),
            )
            res.domains[mapping.name] = mapping
            if len(group.members) > 1:
                mapping.failed = True
                mapping.errno = "-EINVAL"
                mapping.context_reason = Reason(
                    f"group {group.id} has {len(group.members)} devices: "
                    "iommu_attach_device returns -EINVAL",
                    None,
                    "drivers/iommu/iommu.c: iommu_attach_device",
                )
                res.log.append(f"{dev.name}: Failed to attached device {dev.name} to IOMMU_mapping")
            elif not alloc.take(mapping):
                res.log.append(f"{dev.name}: Failed to attached device {dev.name} to IOMMU_mapping")
                _exhausted(
                    res,
                    mapping,
                    dev,
                    "the implicit arm32 mapping",
                    "the device keeps dma-direct (physical addresses)",
                )
            else:
                dres.domain = mapping.name
                detaches = res.driver_does(dev.name, "detaches-implicit")
                if detaches is not None:
                    alloc.release(mapping)
                    mapping.failed = True
                    mapping.errno = "released"
                    earlier = (mapping.context_reason,) if mapping.context_reason else ()
                    mapping.context_reason = Reason(
                        f"the driver of '{dev.name}' detaches the implicit mapping",
                        detaches.span,
                        "arch/arm/mm/dma-mapping.c: arm_iommu_detach_device",
                        (detaches, *earlier),
                    )
                    dres.domain = created[group.id].name if group.id in created else None
    # (c) domains the drivers build and attach
    for spec in model.domains.values():
        built, when = conditions_hold(res, spec.conditions)
        if not built:
            continue  # its `when` does not hold here: the driver does not build it
        if spec.of is not None:
            _share_default(res, alloc, spec, created)
        else:
            _driver_domain(res, alloc, spec, when, created)


def _driver_domain(
    res: Resolution,
    alloc: _Allocator,
    spec: ModelDomain,
    when: list[Reason],
    created: dict[int, Domain],
) -> None:
    """A domain a driver builds (`unmanaged`, `blocked`, `arm-mapping`) and attaches."""
    model = res.model
    shared = spec.type == "arm-mapping"
    dom = Domain(
        spec.name,
        "unmanaged" if shared else spec.type,  # arm_iommu_create_mapping: UNMANAGED
        spec.iommu,
        "driver",
        [],
        Reason(
            f"a driver's arm32 mapping '{spec.name}' (arm_iommu_create_mapping)"
            if shared
            else f"driver-built {spec.type} domain '{spec.name}'",
            spec.span,
            None,
            tuple(when),
        ),
        arm_mapping=shared,
    )
    res.domains[dom.name] = dom
    if shared and not res.platform.enabled("ARM_DMA_USE_IOMMU"):
        dom.failed = True
        res.diagnostics.append(
            error(
                "E120",
                f"'{spec.name}' is an arm32 dma_iommu_mapping, which needs arch arm with "
                f"ARM_DMA_USE_IOMMU (here: arch {res.platform.arch})",
                spec.span,
                help="on other architectures a driver builds an 'unmanaged' domain",
            )
        )
        return
    for iommu in dict.fromkeys(spec.iommus):
        known = model.iommus.get(iommu)
        why = _cannot_build(known.kind, spec.type, res.platform.kernel) if known else None
        if known is not None and why is not None:
            dom.failed = True
            article = "an" if spec.type[0] in "aeiou" else "a"
            res.diagnostics.append(
                error(
                    "E120",
                    f"'{spec.name}': {known.kind} '{iommu}' cannot build {article} "
                    f"{spec.type} domain",
                    spec.span,
                    label="the driver's domain allocation fails",
                    help=why,
                )
            )
            return
    if spec.type == "blocked" and any(
        model.iommus[i].kind == "fsl-pamu" for i in spec.iommus if i in model.iommus
    ):
        # __iommu_group_alloc_blocking_domain: a driver without a blocked domain gets an
        # empty UNMANAGED one, and fsl_pamu_attach_device programs its fixed window
        dom.type = "unmanaged"
        dom.reason = Reason(
            f"'{spec.name}': the core's stand-in for a blocked domain, an empty UNMANAGED one",
            spec.span,
            "drivers/iommu/iommu.c: __iommu_group_alloc_blocking_domain",
            tuple(when),
        )
        res.diagnostics.append(
            warning(
                "W216",
                f"'{spec.name}' does not block DMA on fsl-pamu: the PAMU has no blocked domain, "
                "the core attaches an empty UNMANAGED one instead, and the PAMU's attach maps "
                "its fixed window (0..64 GiB, 1:1)",
                spec.span,
                help="fsl_pamu_attach_device -> pamu_set_liodn: one hard-coded window since "
                "57fa44be7fdb (5.13); a VFIO user of a PAMU device is not isolated",
            )
        )
    groups: list[Group] = []
    refused: set[int] = set()  # groups a single-client driver turned away
    overlaid: list[str] = []  # attached over an implicit mapping they keep (before 5.19)
    for name in spec.attach:
        member = res.devices.get(name)
        if member is None or member.group is None:
            continue
        group = res.groups[member.group]
        if group.failed or group in groups:
            continue
        busy = _implicit_holders(res, group)
        if busy and group.default is None and res.platform.kernel < (5, 19):
            # __iommu_attach_group refused only "if (group->default_domain && group->domain
            # != group->default_domain)" until 1ea2a07a532b (5.19): a group with no default
            # domain takes the new domain over the mapping, which stays allocated and keeps
            # the device's DMA ops.
            overlaid += busy
            busy = []
        if busy:
            dom.failed = True
            dom.errno = "-EBUSY"
            _busy_refusal(res, spec, name, busy[0])
            continue
        if shared and len(group.members) > 1:
            _single_device_refusal(res, spec, name, group, "arm_iommu_attach_device")
            continue
        if model.iommus[group.iommu].kind in SINGLE_CLIENT and (groups or len(group.members) > 1):
            # the second device of the group, or the first of a second group, finds the
            # domain taken; each group is refused once
            if group.id not in refused:
                refused.add(group.id)
                holder = groups[0].members[0] if groups else group.members[0]
                second = group.members[1] if not groups else name
                _single_client_refusal(res, spec, second, holder, group.iommu)
            continue
        groups.append(group)
    if not groups:
        return
    dom.devices = [m for g in groups for m in g.members]
    # A domain on several instances (`on A, B`) lives where its first group is and takes
    # a domain ID on every other instance it is attached to (SPANNING_KINDS).
    dom.iommu = groups[0].iommu
    others = list(dict.fromkeys(g.iommu for g in groups if g.iommu != dom.iommu))
    if not alloc.take(dom):
        _exhausted(
            res,
            dom,
            model.devices[groups[0].members[0]],
            f"domain '{spec.name}'",
            "the driver's attach fails",
        )
        return
    full = {o for o in others if o not in dom.contexts_on and not alloc.take_more(dom, o)}
    for other in sorted(full):
        _no_context_on(
            res,
            spec,
            other,
            "the driver's attach fails there",
            "its groups on that IOMMU stay in their default domains",
        )
    groups = [g for g in groups if g.iommu not in full]
    dom.devices = [m for g in groups for m in g.members]
    listed = set(spec.attach)
    for group in groups:
        extra = [m for m in group.members if m not in listed]
        if extra:
            res.diagnostics.append(
                warning(
                    "W206",
                    f"attaching '{spec.name}' moves all of group {group.id}, "
                    f"including {', '.join(extra)}",
                    spec.span,
                    help="iommu_attach_group attaches whole groups",
                )
            )
        before = {res.devices[m].domain for m in group.members}
        for m in group.members:
            res.devices[m].domain = dom.name
            if m in overlaid:
                stays = (
                    "it keeps its context, though arm_iommu_attach_device moves the DMA "
                    "ops to the new mapping"
                    if shared
                    else f"the DMA API calls of '{m}' still map into its page table, which "
                    "the IOMMU no longer walks for it"
                )
                res.diagnostics.append(
                    warning(
                        "W212",
                        f"'{spec.name}' is attached to '{m}' over its implicit arm32 "
                        f"mapping, which is not released: {stays}",
                        spec.span,
                        help="before 5.19 the core let an attach replace a non-default "
                        "domain when the group had no default domain (__iommu_attach_group); "
                        "drivers that detach first say 'driver detaches-implicit'",
                    )
                )
        for left in sorted(n for n in before if n):
            _left(res, alloc, res.domains.get(left))


def _cannot_build(kind: str, dtype: str, kernel: tuple[int, ...]) -> str | None:
    """Why a driver cannot allocate a domain of this type, where it cannot."""
    if kind == "fsl-pamu" and dtype == "blocked" and kernel < (5, 19):
        return (
            "fsl_pamu_domain_alloc allocates UNMANAGED domains only and the driver has no "
            "blocked domain (drivers/iommu/fsl_pamu_domain.c); the core's empty stand-in "
            "came with DMA ownership in 5.19"
        )
    if kind == "spapr-tce" and kernel < (6, 4):
        return (
            "before 6.4 POWER has IOMMU groups but no iommu_ops, so no domain at all "
            "(a940904443e4 added spapr_tce_iommu_ops); VFIO drives the PE's TCE tables "
            "itself (drivers/vfio/vfio_iommu_spapr_tce.c)"
        )
    if kind == "spapr-tce" and dtype == "unmanaged":
        return (
            "spapr_tce_iommu_ops has no paging domain, only the blocked and platform ones "
            "(arch/powerpc/kernel/iommu.c); VFIO maps through the SPAPR TCE IOMMU type"
        )
    return None


def _mtk_v1_mapping(res: Resolution, alloc: _Allocator, dres: DeviceResult, group: Group) -> None:
    """MediaTek M4U v1 (mt2701, mt7623) builds ONE arm32 mapping for all its masters and
    attaches each to it (mtk_iommu_v1_probe_finalize: arm_iommu_attach_device(dev,
    data->mapping); before 5.8 mtk_iommu_create_mapping from add_device), so the arch code
    gives them no mapping of their own and `excludes implicit` does not stop it. Its domain
    is the one page table (data->m4u_dom) the M4U has; the group's default domain, where
    there is one, is never programmed (attach returns 0 for any domain but the mapping's)."""
    iommu = res.model.iommus[group.iommu]
    name = f"arm_iommu:{iommu.name}"
    mapping = res.domains.get(name)
    if mapping is None:
        mapping = Domain(
            name,
            "unmanaged",
            iommu.name,
            "arm32",
            [],
            Reason(
                f"'{iommu.name}' (M4U v1) attaches every master to its one arm32 mapping",
                iommu.span,
                "drivers/iommu/mtk_iommu_v1.c: mtk_iommu_v1_create_mapping, "
                "mtk_iommu_v1_probe_finalize",
                (res.platform.config_reason("ARM_DMA_USE_IOMMU"),),
            ),
        )
        res.domains[name] = mapping
        alloc.take(mapping)
    mapping.devices.append(dres.name)
    dres.domain = name


def _left(res: Resolution, alloc: _Allocator, old: Domain | None) -> None:
    """A group left a domain (its default one, or a driver's) for another: where the driver
    lets a domain go when its last device leaves (RELEASE_ON_LEAVE), its context goes too,
    unless other devices are still in it (a `default of` domain shared with other groups)."""
    if old is None or old.origin == "arm32" or old.context is None:
        return  # (an arm32 mapping under a domain attached over it stays: W212)
    if res.model.iommus[old.iommu].kind not in RELEASE_ON_LEAVE:
        return
    if not any(res.devices[m].domain == old.name for m in old.devices):
        alloc.release(old)


def _implicit_holders(res: Resolution, group: Group) -> list[str]:
    """Members of a group still in their arm32 implicit mapping."""
    return [m for m in group.members if (res.devices[m].domain or "").startswith("arm_iommu:")]


def _no_context_on(res: Resolution, spec: ModelDomain, other: str, label: str, why: str) -> None:
    """E301: a domain attached across instances finds no free context on one of them."""
    res.diagnostics.append(
        error(
            "E301",
            f"domain '{spec.name}' gets no context on '{other}': all "
            f"{res.model.iommus[other].contexts} are taken "
            f"({no_context_errno(res.model.iommus[other].kind)})",
            spec.span,
            label=label,
            help=why,
        )
    )


def _busy_refusal(res: Resolution, spec: ModelDomain, name: str, holder: str) -> None:
    res.diagnostics.append(
        error(
            "E302",
            f"cannot attach domain '{spec.name}' to '{name}': "
            f"'{holder}' still has its implicit arm32 mapping (-EBUSY)",
            spec.span,
            label="iommu_attach_group fails",
            help=f"'rule {holder} excludes implicit', or let its driver detach the "
            "mapping ('driver detaches-implicit')",
        )
    )


def _single_device_refusal(
    res: Resolution, spec: ModelDomain, name: str, group: Group, call: str
) -> None:
    res.diagnostics.append(
        error(
            "E302",
            f"cannot attach '{spec.name}' to '{name}': {call} needs a group of one device, "
            f"and group {group.id} has {', '.join(group.members)} (-EINVAL)",
            spec.span,
            label="iommu_attach_device fails",
            help="the driver attaches single devices; the group stays as it is",
        )
    )


def _single_client_refusal(
    res: Resolution, spec: ModelDomain, name: str, holder: str, iommu: str
) -> None:
    kind = res.model.iommus[iommu].kind
    errno = "-EBUSY" if res.platform.kernel < (6, 2) else "-EINVAL"
    res.diagnostics.append(
        error(
            "E302",
            f"cannot attach '{spec.name}' to '{name}': a domain of {kind} takes one client "
            f"device, and '{holder}' is it ({errno})",
            spec.span,
            label="the driver's attach fails",
            help=f"kernel: {SINGLE_CLIENT[kind]}; give each device its own domain",
        )
    )


def _share_default(
    res: Resolution, alloc: _Allocator, spec: ModelDomain, created: dict[int, Domain]
) -> None:
    """`domain NAME: default of DEV { attach ... }`: a driver attaches DEV's default domain
    to its other devices with iommu_attach_device, as Exynos DRM does on arm64
    (exynos_drm_dma.c: exynos_drm_register_dma takes iommu_get_domain_for_dev(dma_dev),
    drm_iommu_attach_device attaches it). The domain keeps its context on DEV's IOMMU and
    takes one on each other instance (SPANNING_KINDS); the devices' DMA ops stay those of
    their own default domains, which the driver does not use (it maps through DEV)."""
    assert spec.of is not None
    model = res.model
    if spec.of not in res.devices:
        return  # an unknown device: E103 said so
    owner = res.group_of(spec.of)
    dom = created.get(owner.id) if owner is not None else None
    if owner is not None and (owner.failed or (dom is not None and dom.failed)):
        return  # the owner's group was unwound or its domain got no context: E301 said so
    if dom is not None and dom.name != spec.name:
        return  # another statement named this default domain: E120 said so
    now = res.devices[spec.of].domain
    if dom is None or now != dom.name:
        if dom is not None and owner is not None:
            _unname(res, dom, owner)  # it stays the group's anonymous default domain
        if owner is None:
            why = f"'{spec.of}' is in no IOMMU group"
        elif dom is None:
            why = f"group {owner.id} of '{spec.of}' has none ({owner.default_reason.text})"
        else:
            why = f"'{spec.of}' is in '{now}' instead (iommu_get_domain_for_dev returns it)"
        res.diagnostics.append(
            error(
                "E303",
                f"'{spec.name}' is the default domain of '{spec.of}', which has none to "
                f"share: {why}",
                spec.span,
                label="the driver has no domain to attach",
                help="an M4U v1's masters already share its one mapping"
                if owner is not None and model.iommus[owner.iommu].kind == "mtk-iommu-v1"
                else "check the default-domain rules for it, or describe what the driver "
                "builds instead ('unmanaged on IOMMU', 'arm-mapping on IOMMU' on arm32)",
            )
        )
        return
    members = set(dom.devices)  # membership tests: the attach list may be long
    for name in spec.attach:
        group = res.group_of(name) if name in res.devices else None
        if group is None or group.failed or group is owner or name in members:
            continue
        busy = _implicit_holders(res, group)
        if busy:
            _busy_refusal(res, spec, name, busy[0])
            continue
        if len(group.members) > 1:
            _single_device_refusal(res, spec, name, group, "iommu_attach_device")
            continue
        if model.iommus[group.iommu].kind in SINGLE_CLIENT:
            _single_client_refusal(res, spec, name, spec.of, group.iommu)
            continue
        behind = [group.iommu]
        if model.iommus[group.iommu].kind in ALL_LINKS:  # every System MMU of the master
            behind = [lk.iommu for lk in model.devices[name].iommus]
        full = [
            i
            for i in dict.fromkeys(behind)
            if i != dom.iommu
            and i in model.iommus
            and not model.iommus[i].disabled
            and i not in dom.contexts_on
            and not alloc.take_more(dom, i)
        ]
        if full:
            _no_context_on(
                res,
                spec,
                full[0],
                f"the driver's attach of '{name}' fails",
                f"'{name}' stays in its own default domain",
            )
            continue
        was = res.devices[name].domain
        dom.devices.append(name)
        members.add(name)
        res.devices[name].domain = dom.name
        _left(res, alloc, res.domains.get(was or ""))


def _unname(res: Resolution, dom: Domain, group: Group) -> None:
    """Give a named default domain its anonymous name back (the statement naming it failed)."""
    old, dom.name = dom.name, f"default:{group.id}"
    res.domains[dom.name] = res.domains.pop(old)
    dom.reason = group.default_reason
    for name in dom.devices:
        if res.devices[name].domain == old:
            res.devices[name].domain = dom.name


def _name_default(
    res: Resolution,
    dom: Domain,
    group: Group,
    named: dict[str, tuple[ModelDomain, list[Reason]]],
) -> None:
    """Give a group's default domain the name a `default of DEV` statement gives it."""
    specs = [named[m] for m in group.members if m in named]
    if not specs:
        return
    (spec, when), *others = specs
    dom.name = spec.name
    dom.reason = Reason(
        f"the default domain of group {group.id}, which domain '{spec.name}' names "
        f"(the default domain of '{spec.of}')",
        spec.span,
        None,
        (group.default_reason, *when),
    )
    for other, _ in others:
        res.diagnostics.append(
            error(
                "E120",
                f"'{other.name}' and '{spec.name}' name the same default domain: "
                f"'{other.of}' and '{spec.of}' are both in group {group.id}",
                other.span,
                secondary=(Label(spec.span, f"'{spec.name}' named it first"),),
                help="a group has one default domain; name it once",
            )
        )


def _default_failed(res: Resolution, group: Group, dom: Domain) -> None:
    dev = res.model.devices[group.members[0]]
    group.failed = True
    dom.failed = True
    _exhausted(
        res,
        dom,
        dev,
        f"the default domain of group {group.id}",
        "the kernel WARNs and unwinds the device from the IOMMU (IOMMU_SET_DOMAIN_MUST_SUCCEED)",
    )


def _exhausted(res: Resolution, dom: Domain, dev: Device, what: str, fallback: str) -> None:
    reason = dom.context_reason
    text = reason.text if reason else "no context"
    iommu = res.model.iommus[dom.exhausted_on or dom.iommu]
    res.diagnostics.append(
        error(
            "E301",
            f"{what} gets no context on '{iommu.name}': {text}",
            dev.span,
            label=f"'{dev.name}': {fallback}",
            secondary=(Label(iommu.span, f"'{iommu.name}' has {iommu.contexts} contexts"),),
            help="free contexts with 'excludes implicit' or 'requires identity' rules, "
            "or check the reservations",
        )
    )
