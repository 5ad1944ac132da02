"""Stage 3: the default domain of each group, era by era, then the user's rules.

Order: the global default (std/linux's `default-domain` rules: Kconfig, then
the command line, the last token winning); the IOMMU drivers' def_domain_type
wishes (`def-domain-type` rules in the SoC packs) and untrusted devices,
combined as the kernel of the platform's era does; what the IOMMU can
allocate; then the user's hard rules (which must agree with the kernel's hard
choices) and soft `prefers` rules.
"""

from __future__ import annotations

from typing import NamedTuple

from .diagnostics import Label, article, error, warning
from .enums import DomainType, Verb
from .eras import (
    DEF_DOMAIN_TYPE,
    DEFAULT_DOMAIN_LOG,
    DEFERRED_FLUSH_CAP,
    DMA_FQ,
    IDENTITY_WINS,
    NO_IOMMU_DMA_IDENTITY,
    STATIC_DEFAULT_DOMAIN,
    STATIC_DEFAULT_HONOURED,
)
from .model import Device, Iommu
from .provenance import Reason
from .resolution import Group, Resolution
from .rules import ActiveRule, by_verb

# iommu_domain_type_str(), as the kernel prints domain types in its messages
LOG_NAME = {
    DomainType.IDENTITY: "Passthrough",
    DomainType.DMA: "Translated",
    DomainType.DMA_FQ: "Translated",
    DomainType.BLOCKED: "Blocked",
    DomainType.UNMANAGED: "Unmanaged",
    DomainType.PLATFORM: "Platform",
}
# include/linux/iommu.h: the IOMMU_DOMAIN_* values, as "%u" prints them
TYPE_NUMBER = {
    DomainType.BLOCKED: 0,
    DomainType.UNMANAGED: 1,
    DomainType.DMA: 3,
    DomainType.IDENTITY: 4,
    DomainType.DMA_FQ: 11,
    DomainType.PLATFORM: 32,
}
IOMMU_C = "drivers/iommu/iommu.c"


def global_default(res: Resolution, rules: list[ActiveRule]) -> None:
    """drivers/iommu/iommu.c: iommu_subsys_init; the std/linux rules say which setting wins."""
    cands = by_verb(rules, Verb.DEFAULT_DOMAIN)
    if not cands:
        res.global_default = DomainType.DMA
        res.global_reason = Reason(
            "no default-domain rule holds (is std/linux included?): assuming dma",
            None,
            f"{IOMMU_C}: iommu_def_domain_type",
        )
    else:
        best = max(cands, key=lambda r: (r.position, r.index))
        verb = best.rule.verb
        assert not isinstance(verb, str) and hasattr(verb, "domain_type")
        dtype = DomainType(verb.domain_type.text)  # type: ignore[union-attr]
        if dtype is DomainType.DMA_FQ and not res.platform.since(DMA_FQ):
            dtype = DomainType.DMA
            note = "before 5.15 lazy invalidation is a flag of the DMA domain (no DMA-FQ type)"
            best_reason = Reason(f"global default: dma ({note})", None, None, (best.reason(),))
        else:
            best_reason = best.reason(f"global default: {dtype}")
        res.global_default = dtype
        res.global_reason = best_reason
    cmdline = bool(cands) and max(cands, key=lambda r: (r.position, r.index)).position >= 0
    suffix = " (set via kernel command line)" if cmdline else ""
    name = LOG_NAME.get(res.global_default, "Unknown")
    if not _iommu_api(res):
        return
    # iommu_subsys_init prints the type from Joerg Roedel's "iommu: Print default domain type
    # on boot" (posted August 2019, v5.4); earlier kernels print neither line.
    if res.platform.since(DEFAULT_DOMAIN_LOG):
        res.log.append(f"iommu: Default domain type: {name}{suffix}")
    # The strictness line came with the lazy/strict rework (John Garry's "iommu: Print strict
    # or lazy mode at init time", the 5.14/5.15 window; modelled from 5.15, the DMA_FQ era).
    if res.global_default.translated and res.platform.since(DMA_FQ):
        mode = "strict" if res.global_default is DomainType.DMA else "lazy"
        res.log.append(f"iommu: DMA domain TLB invalidation policy: {mode} mode{suffix}")


def _iommu_api(res: Resolution) -> bool:
    """Whether drivers/iommu/iommu.c (and its iommu_subsys_init, which prints the log
    lines) is built: `config IOMMU_API` where the board states it, else whether the board has
    an IOMMU, as every IOMMU driver selects IOMMU_API (drivers/iommu/Kconfig)."""
    stated = res.platform.config.get("IOMMU_API")
    if stated is not None:
        return stated[0] in ("y", "m")
    return bool(res.model.iommus)


class _Deciding:
    def __init__(self, res: Resolution, rules: list[ActiveRule]):
        self.res = res
        self.rules = rules
        self.wishes = self.per_device(by_verb(rules, Verb.DEF_DOMAIN_TYPE))
        self.requires = self.per_device_all(by_verb(rules, Verb.REQUIRES))
        self.excludes = self.per_device_all(by_verb(rules, Verb.EXCLUDES))
        self.prefers = self.per_device_all(by_verb(rules, Verb.PREFERS))
        self.no_implicit = self.per_device(by_verb(rules, Verb.EXCLUDES_IMPLICIT))
        # the devices a board's rule (or any `prefers`) speaks of: `user` leaves the others'
        # groups with the kernel's choice without looking at every rule table per member
        self.ruled = {
            d
            for table in (self.requires, self.excludes)
            for d, said in table.items()
            if any(not r.rule.std for r in said)
        }
        self.ruled |= {d for d, r in self.no_implicit.items() if not r.rule.std}
        self.ruled |= set(self.prefers)
        # what an IOMMU can allocate for a group no member's rule narrows (see `capable`)
        self._capable: dict[str, tuple[set[DomainType], list[Reason]]] = {}
        # the members whose own facts the kernel's choice reads: untrusted, or a driver's
        # def_domain_type wish; a group of none of them gets the global default wherever
        # `plain` says so (see kernel_type)
        self.particular = set(self.wishes)
        self.particular |= {d.name for d in res.model.devices.values() if d.untrusted}
        self._plain: dict[str, bool] = {}
        self._strict: dict[str, str | None] = {}
        # the members any of kernel_type, capable and user reads: a group of none of them,
        # on an IOMMU `plain` says yes to, is decided by its IOMMU alone (see decide)
        self.read = self.particular | self.ruled | set(self.excludes)
        self._decided: dict[str, tuple[DomainType | None, Reason, tuple[str, ...]]] = {}
        # ARM_DMA_USE_IOMMU's arch code forces identity from 6.7 (kernel_type, plain)
        plat = res.platform
        self.arm32 = plat.arch == "arm" and plat.enabled("ARM_DMA_USE_IOMMU")

    def per_device(self, rules: list[ActiveRule]) -> dict[str, ActiveRule]:
        """Later rules win for the same device (later definition on ties)."""
        out: dict[str, ActiveRule] = {}
        for r in rules:
            for d in r.devices:
                out[d] = r
        return out

    def per_device_all(self, rules: list[ActiveRule]) -> dict[str, list[ActiveRule]]:
        out: dict[str, list[ActiveRule]] = {}
        for r in rules:
            for d in r.devices:
                out.setdefault(d, []).append(r)
        return out

    # -- what the IOMMU can allocate ------------------------------------------------------
    def capable(self, group: Group) -> tuple[set[DomainType], list[Reason]]:
        """The default-domain types the group's IOMMU can allocate for it, and why not the
        others. Only a member's def-domain-type wish or a pack's `excludes` makes it differ
        from the IOMMU's answer, which is kept for the other groups."""
        if any(m in self.wishes or m in self.excludes for m in group.members):
            return self._capable_for(group)
        kept = self._capable.get(group.iommu)
        if kept is None:
            kept = self._capable[group.iommu] = self._capable_for(group)
        return set(kept[0]), list(kept[1])

    def _capable_for(self, group: Group) -> tuple[set[DomainType], list[Reason]]:
        iommu = self.res.model.iommus[group.iommu]
        types = {DomainType.IDENTITY, DomainType.DMA, DomainType.DMA_FQ, DomainType.BLOCKED}
        # Every driver allocates UNMANAGED domains, but the core makes one a default domain
        # only when the driver's def_domain_type asks for it (mtk_iommu_v1, 5.8..6.6).
        if any(
            self.wishes[m].domain_type is DomainType.UNMANAGED
            for m in group.members
            if m in self.wishes
        ):
            types.add(DomainType.UNMANAGED)
        why: list[Reason] = []
        # A PLATFORM domain is the static ops->default_domain of a legacy driver (6.7+),
        # which iommu_group_alloc_default_domain returns for that type and no other.
        static = iommu.driver.static_default
        if static and self.res.platform.since(STATIC_DEFAULT_DOMAIN):
            types.add(DomainType.PLATFORM)
        elif static:
            why.append(
                Reason(
                    f"'{iommu.name}' has no platform domain before 6.7",
                    iommu.span,
                    static,
                    (self.res.platform.kernel_reason,),
                )
            )
        if iommu.domains is not None:
            types &= {DomainType(t) for t in iommu.domains}
            why.append(
                Reason(f"'{iommu.name}' supports {', '.join(sorted(iommu.domains))}", iommu.span)
            )
        if "no-identity" in iommu.quirks:
            types.discard(DomainType.IDENTITY)
            why.append(Reason(f"'{iommu.name}' cannot bypass (quirk no-identity)", iommu.span))
        for m in group.members:
            for r in self.excludes.get(m, []):
                if r.rule.std:  # kernel capability, from a pack
                    t = r.domain_type
                    if t in types:
                        types.discard(t)
                        why.append(r.reason(f"no {t} default domain: {r.rule.name}"))
        plat = self.res.platform
        if (
            DomainType.DMA in types
            and not plat.enabled("IOMMU_DMA")
            and not plat.since(NO_IOMMU_DMA_IDENTITY)
        ):
            # A DMA domain needs its IOVA cookie, and without IOMMU_DMA (arm32) the stub
            # iommu_get_dma_cookie fails: the drivers' domain_alloc (before 5.15) or
            # __iommu_domain_alloc (from 46983fcd67ac) frees the domain. From 6.7 the core
            # asks for identity there instead (kernel_type).
            types -= {DomainType.DMA, DomainType.DMA_FQ}
            why.append(
                Reason(
                    "no DMA domain without IOMMU_DMA (iommu_get_dma_cookie fails)",
                    None,
                    f"{IOMMU_C}: __iommu_domain_alloc",
                    (plat.config_reason("IOMMU_DMA"),),
                )
            )
        if (
            DomainType.DMA_FQ in types
            and plat.since(DMA_FQ)
            and not plat.since(DEFERRED_FLUSH_CAP)
            and not iommu.driver.fq_alloc
        ):
            types.discard(DomainType.DMA_FQ)
            why.append(
                Reason(
                    f"{iommu.kind} '{iommu.name}' cannot allocate a DMA-FQ domain before 6.5: "
                    "only the AMD, VT-d and arm-smmu drivers' domain_alloc took the type",
                    iommu.span,
                    f"{IOMMU_C}: iommu_group_alloc_default_domain (bf3aed4660c6)",
                    (plat.kernel_reason,),
                )
            )
        if DomainType.DMA not in types:
            types.discard(DomainType.DMA_FQ)
        return types, why

    # -- the kernel's choice ------------------------------------------------------------------
    def plain(self, iommu: str) -> bool:
        """Whether a group on this IOMMU whose members are not `particular` gets the global
        default in this kernel: before 6.7 always; from 6.7 unless the driver has a static
        default domain, ARM_DMA_USE_IOMMU forces identity or IOMMU_DMA is missing (the
        branches of kernel_type that read no member)."""
        if iommu not in self._plain:
            plat = self.res.platform
            self._plain[iommu] = not plat.since(IDENTITY_WINS) or not (
                self.res.model.iommus[iommu].driver.static_default
                or self.arm32
                or not plat.enabled("IOMMU_DMA")
            )
        return self._plain[iommu]

    def kernel_type(self, group: Group) -> tuple[DomainType | None, Reason, bool]:
        """(type, why, hard): hard when a driver or the core insists on it."""
        res = self.res
        if self.particular.isdisjoint(group.members) and self.plain(group.iommu):
            return res.global_default, res.global_reason, False
        plat = res.platform
        devs = [res.model.devices[m] for m in group.members]
        arm32 = self.arm32
        untrusted = [d for d in devs if d.untrusted]
        wishes = [(d, self.wishes[d.name]) for d in devs if d.name in self.wishes]
        gid = group.id
        if plat.since(IDENTITY_WINS):
            # iommu_get_default_domain_type (6.7+): IDENTITY wins a conflict.
            src = f"{IOMMU_C}: iommu_get_default_domain_type"
            driver: DomainType | None = None
            why: list[Reason] = []
            forced: Reason | None = None  # identity for want of IOMMU_DMA
            static = res.model.iommus[group.iommu].driver.static_default
            if static and plat.since(STATIC_DEFAULT_HONOURED):
                # iommu_get_def_domain_type: "Drivers that declare a global static
                # default_domain will always choose that."
                driver = DomainType.PLATFORM
                why.append(Reason("the driver's static platform domain", None, static))
            if arm32:
                driver = DomainType.IDENTITY
                why.append(
                    Reason(
                        "ARM_DMA_USE_IOMMU forces an identity default domain",
                        None,
                        src,
                        (plat.config_reason("ARM_DMA_USE_IOMMU"),),
                    )
                )
            for dev, rule in wishes:
                t = rule.domain_type
                if driver is not None and t != driver:
                    a, b = LOG_NAME.get(driver, driver), LOG_NAME.get(t, t)
                    msg = (
                        f"{dev.name}: IOMMU driver error, requesting conflicting def_domain_type, "
                        f"{a} and {b}, for devices in group {gid}."
                    )
                    res.log.append(msg)
                    why.append(rule.reason(f"'{dev.name}' wants {t}: conflict, identity wins"))
                    driver = DomainType.IDENTITY
                elif driver is None:
                    driver = t
                    why.append(rule.reason(f"the IOMMU driver wants {t} for '{dev.name}'"))
            if untrusted and arm32:
                self.refuse(
                    group, untrusted[0], "untrusted device in an ARM_DMA_USE_IOMMU kernel", src
                )
                return None, Reason("probe refused", None, src), True
            if not plat.enabled("IOMMU_DMA"):
                # Before the untrusted check: without the DMA glue an untrusted device
                # meets an identity type below and its probe is refused.
                if driver is DomainType.DMA:
                    self.refuse(group, devs[0], "a DMA domain without IOMMU_DMA", src, why)
                    return None, Reason("probe refused", None, src), True
                if driver is None:
                    driver = DomainType.IDENTITY
                    forced = Reason(
                        "no IOMMU_DMA on this architecture: identity",
                        None,
                        src,
                        (plat.config_reason("IOMMU_DMA"), *why),
                    )
            if untrusted:
                u = untrusted[0]
                if driver is not None and driver is not DomainType.DMA:
                    res.log.append(
                        f"{u.name}: Device is not trusted, but driver is overriding group {gid} "
                        f"to {LOG_NAME.get(driver, driver)}, refusing to probe."
                    )
                    what = "no IOMMU_DMA: identity" if forced else f"the driver wants {driver}"
                    self.refuse(
                        group,
                        u,
                        f"{what} for an untrusted device",
                        src,
                        [forced] if forced else why,
                    )
                    return None, Reason("probe refused", None, src), True
                return (
                    DomainType.DMA,
                    Reason(f"'{u.name}' is untrusted: strict DMA", u.span, src, tuple(why)),
                    True,
                )
            if static and driver is not DomainType.PLATFORM:
                # 6.7 only: the core's choice ignored ops->default_domain (fixed for 6.8)
                asked_type = driver or res.global_default
                asked = forced or (
                    Reason(f"default domain {driver}", None, src, tuple(why))
                    if driver
                    else res.global_reason
                )
                self.refuse(
                    group,
                    devs[0],
                    f"the core asks for {asked_type} and the driver has only its static platform "
                    "domain (iommu_group_alloc_default_domain: -EINVAL; fixed in 6.8 by "
                    f"{STATIC_DEFAULT_HONOURED.commit}, 'iommu: Allow ops->default_domain to "
                    "work when !CONFIG_IOMMU_DMA')",
                    f"{IOMMU_C}: iommu_group_alloc_default_domain",
                    [asked, Reason("ops->default_domain", None, static)],
                )
                return None, Reason("probe refused", None, src), True
            if forced:
                return driver, forced, True
            if driver is not None:
                return driver, Reason(f"default domain {driver}", None, src, tuple(why)), True
            return res.global_default, res.global_reason, False
        if plat.since(DEF_DOMAIN_TYPE):
            # iommu_get_def_domain_type / probe_get_default_domain_type (5.8-6.6):
            # untrusted asks for DMA, else the driver; the first wish wins; a different
            # second wish falls back to the global default.
            src = f"{IOMMU_C}: probe_get_default_domain_type"
            first: tuple[Device, DomainType, Reason] | None = None
            for dev in devs:
                if dev.untrusted:
                    t, why1 = (
                        DomainType.DMA,
                        Reason(f"'{dev.name}' is untrusted: DMA", dev.span, src),
                    )
                elif dev.name in self.wishes:
                    rule = self.wishes[dev.name]
                    t, why1 = (
                        rule.domain_type,
                        rule.reason(f"the IOMMU driver wants {rule.domain_type} for '{dev.name}'"),
                    )
                else:
                    continue
                if first is None:
                    first = (dev, t, why1)
                elif t != first[1]:
                    res.log.append(
                        f"{dev.name}: Device needs domain type {LOG_NAME.get(t, t)}, but device "
                        f"{first[0].name} in the same iommu group requires type "
                        f"{LOG_NAME.get(first[1], first[1])} - using default"
                    )
                    return (
                        res.global_default,
                        Reason(
                            "conflicting wishes in one group: the global default",
                            None,
                            src,
                            (first[2], why1, res.global_reason),
                        ),
                        False,
                    )
            if first is not None:
                return first[1], first[2], True
            return res.global_default, res.global_reason, False
        # Before 5.8 every group starts from the global default (iommu_group_get_for_dev).
        return res.global_default, res.global_reason, False

    def refuse(
        self, group: Group, dev: Device, what: str, src: str, why: list[Reason] | None = None
    ) -> None:
        group.failed = True
        group.default = None
        group.default_reason = Reason(
            f"the kernel refuses to probe group {group.id}: {what}", dev.span, src, tuple(why or ())
        )
        self.res.diagnostics.append(
            error(
                "E210",
                f"group {group.id} fails to probe: {what}",
                dev.span,
                label=f"'{dev.name}' is left without its IOMMU (-EINVAL)",
                help="the kernel unwinds the device from the IOMMU: no group, but its DMA ops "
                "stay the arch's TCE ops"
                if self.res.model.iommus[group.iommu].driver.arch_dma
                else "the kernel unwinds the device from the IOMMU; it gets no IOMMU DMA ops",
            )
        )

    # -- decide ------------------------------------------------------------------------------
    def decide(self, group: Group) -> None:
        """Decide the group's default domain. A group whose members no rule, wish or
        untrusted flag speaks of gets what the first such group on its IOMMU got, and the
        same log lines: the path below reads nothing else of it (a 10k-device board has
        thousands of such groups, and a what-if of the command line decides them again)."""
        if group.failed or not self.read.isdisjoint(group.members) or not self.plain(group.iommu):
            self._decide(group)
            return
        seen = self._decided.get(group.iommu)
        if seen is not None:
            group.default, group.default_reason = seen[0], seen[1]
            self.res.log.extend(seen[2])
            return
        res = self.res
        marks = len(res.log), len(res.diagnostics)
        self._decide(group)
        if len(res.diagnostics) == marks[1]:  # a diagnostic names its group: never shared
            logged = tuple(res.log[marks[0] :])
            self._decided[group.iommu] = (group.default, group.default_reason, logged)

    def _decide(self, group: Group) -> None:
        if group.failed and group.default_reason.text == "not decided":
            group.default = None
            group.default_reason = Reason("the group failed to probe into its IOMMU")
            return
        ktype, kwhy, hard = self.kernel_type(group)
        if group.failed:
            return
        caps, capwhy = self.capable(group)
        src = f"{IOMMU_C}: iommu_group_alloc_default_domain"
        if ktype is not None and ktype not in caps:
            if hard:
                self.res.diagnostics.append(
                    warning(
                        "W210",
                        f"group {group.id}: the kernel asks for {article(ktype)} default domain "
                        f"that '{group.iommu}' cannot allocate",
                        kwhy.span or self.res.model.iommus[group.iommu].span,
                        help="the group gets no default domain",
                    )
                )
                kwhy = Reason(
                    f"{ktype} cannot be allocated: no default domain", None, src, (kwhy, *capwhy)
                )
                ktype = None
            elif ktype is not DomainType.DMA and DomainType.DMA in caps:
                # pr_warn prints the type's number and group->name, which only POWER sets
                self.res.log.append(
                    f"iommu: Failed to allocate default IOMMU domain of type "
                    f"{TYPE_NUMBER.get(ktype, ktype)} for group (null) - Falling back to "
                    "IOMMU_DOMAIN_DMA"
                )
                kwhy = Reason(
                    f"{ktype} cannot be allocated: falling back to dma", None, src, (kwhy, *capwhy)
                )
                ktype = DomainType.DMA
            else:
                kwhy = Reason(
                    f"'{group.iommu}' cannot allocate {ktype}: no default domain",
                    None,
                    src,
                    (kwhy, *capwhy),
                )
                ktype = None
        final, fwhy = self.user(group, ktype, kwhy, hard, caps, capwhy)
        strict = self.no_flush_queue(self.res.model.iommus[group.iommu])
        if final is DomainType.DMA_FQ and strict is not None:
            # iommu_dma_init_domain, as the DMA API sets the domain up: silent
            final = DomainType.DMA
            fwhy = Reason(
                f"{strict}: DMA-FQ becomes strict DMA",
                None,
                "drivers/iommu/dma-iommu.c: iommu_dma_init_domain",
                (fwhy,),
            )
        group.default = final
        group.default_reason = fwhy

    def no_flush_queue(self, iommu: Iommu) -> str | None:
        """Why a DMA-FQ domain on this IOMMU loses its flush queue, if it does (asked twice
        for every group; worked out once per IOMMU)."""
        if iommu.name not in self._strict:
            self._strict[iommu.name] = self._no_flush_queue(iommu)
        return self._strict[iommu.name]

    def _no_flush_queue(self, iommu: Iommu) -> str | None:
        if "no-deferred-flush" in iommu.quirks:
            return f"'{iommu.name}' has no deferred flush (quirk no-deferred-flush)"
        plat = self.res.platform
        since = iommu.driver.deferred_flush
        if plat.since(DEFERRED_FLUSH_CAP) and (since is None or not plat.since(since)):
            later = f" before {since.text}" if since else ""
            return f"{iommu.kind} does not report IOMMU_CAP_DEFERRED_FLUSH{later}"
        return None

    def user(
        self,
        group: Group,
        ktype: DomainType | None,
        kwhy: Reason,
        hard: bool,
        caps: set[DomainType],
        capwhy: list[Reason],
    ) -> tuple[DomainType | None, Reason]:
        """Apply the user's rules (not the packs'): hard ones must agree with the kernel."""
        if self.ruled.isdisjoint(group.members):
            return ktype, kwhy
        needs: list[Want] = []  # a type, or None: no default domain at all
        excludes: list[Want] = []
        for m in group.members:
            for r in self.requires.get(m, []):
                if not r.rule.std:
                    needs.append(Want(r.domain_type, r, m))
            no_implicit = self.no_implicit.get(m)
            if no_implicit is not None and not no_implicit.rule.std:
                ident = DomainType.IDENTITY
                needs.append(Want(ident if ident in caps else None, no_implicit, m))
            for r in self.excludes.get(m, []):
                if not r.rule.std:
                    excludes.append(Want(r.domain_type, r, m))
        for i, w in enumerate(needs):
            for w2 in needs[i + 1 :]:
                if w2.type != w.type:
                    self.clash(group, w2.rule, w2.needs, w.rule, w.needs)
        for x in excludes:
            p = next((w for w in needs if w.type == x.type), None)
            if p is not None:
                self.clash(group, x.rule, f"'{x.device}' excludes {x.type}", p.rule, p.needs)
        if needs:
            target = needs[-1]
            t, r, m = target
            if hard and ktype is not None and t != ktype:
                # a hard choice stands even against `excludes implicit` (t is None): the
                # kernel sets that domain up whatever the board wants
                self.kernel_clash(group, r, target.needs, kwhy, ktype)
                return ktype, kwhy
            if t is None:
                return None, r.reason(
                    f"no default domain: '{m}' excludes implicit DMA backing and "
                    f"'{group.iommu}' has no identity domain"
                )
            strict = self.no_flush_queue(self.res.model.iommus[group.iommu])
            if t not in caps or (t is DomainType.DMA_FQ and strict is not None):
                dropped = t in caps  # allocated, then its flush queue dropped
                self.res.diagnostics.append(
                    error(
                        "E212",
                        f"'{m}' needs {t}, which '{group.iommu}' "
                        + (f"cannot keep: {strict}" if dropped else "cannot allocate"),
                        r.rule.span,
                        label="this rule cannot hold",
                        secondary=()
                        if dropped
                        else tuple(Label(c.span, c.text) for c in capwhy if c.span),
                        help="iommu_dma_init_domain turns the domain into strict DMA"
                        if dropped
                        else "drop the rule or check the IOMMU's 'domains'",
                    )
                )
                return ktype, kwhy
            if t is DomainType.IDENTITY and r.verb is Verb.EXCLUDES_IMPLICIT:
                return t, r.reason(f"identity: '{m}' excludes implicit DMA backing")
            return t, r.reason(f"{t}: required for '{m}'")
        excluded = {x.type: x for x in excludes}
        if ktype is not None and ktype in excluded:
            _, r, m = excluded[ktype]
            if hard:
                self.kernel_clash(group, r, f"'{m}' excludes {ktype}", kwhy, ktype)
                return ktype, kwhy
        # Soft rules: the most specific selector first, later definition on ties.
        prefs = [
            (r.specificity(self.res.model.devices[m]), r.index, r.domain_type, r, m)
            for m in group.members
            for r in self.prefers.get(m, [])
        ]
        for _spec, _idx, t, r, m in sorted(prefs, reverse=True):
            if hard:
                break
            if t in caps and t not in excluded:
                return t, r.reason(f"{t}: preferred for '{m}'")
        if ktype in excluded:
            _, r, m = excluded[ktype]
            for alt in (DomainType.DMA, DomainType.DMA_FQ, DomainType.IDENTITY):
                if alt in caps and alt not in excluded:
                    return alt, r.reason(f"{alt}: '{m}' excludes {ktype}")
            return None, r.reason(f"no default domain: '{m}' excludes {ktype}")
        return ktype, kwhy

    def clash(self, group: Group, r1: ActiveRule, t1: str, r2: ActiveRule, t2: str) -> None:
        self.res.diagnostics.append(
            error(
                "E211",
                f"rules disagree on group {group.id}'s default domain: {t1}, {t2}",
                r1.rule.span,
                label=t1,
                secondary=(Label(r2.rule.span, t2),),
                help="devices of one IOMMU group share one default domain",
            )
        )

    def kernel_clash(
        self, group: Group, r: ActiveRule, want: str, kwhy: Reason, ktype: DomainType
    ) -> None:
        sec = _first_span(kwhy)
        self.res.diagnostics.append(
            error(
                "E213",
                f"{want}, but the kernel gives group {group.id} {ktype}",
                r.rule.span,
                label="this rule cannot hold",
                secondary=(Label(sec, kwhy.text),) if sec else (),
                help=f"the kernel's choice: {kwhy.text}"
                + (f" ({kwhy.source})" if kwhy.source else ""),
            )
        )


def _first_span(reason: Reason):  # type: ignore[no-untyped-def]
    if reason.span is not None and reason.span.line:
        return reason.span
    for sub in reason.because:
        found = _first_span(sub)
        if found is not None:
            return found
    return None


class Want(NamedTuple):
    """A user's rule for a group's default domain: a type, or None where `excludes
    implicit` asks for identity and the IOMMU has none (no default domain at all)."""

    type: DomainType | None
    rule: ActiveRule
    device: str

    @property
    def needs(self) -> str:
        if self.type is None:
            return f"'{self.device}' excludes implicit DMA backing"
        return f"'{self.device}' needs {self.type}"


def default_domains(res: Resolution, rules: list[ActiveRule]) -> None:
    deciding = _Deciding(res, rules)
    for group in res.groups:
        deciding.decide(group)
