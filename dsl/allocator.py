"""Who holds which context on each IOMMU, and the rules that hand them out.

The allocator is the kernel's per-driver bookkeeping (context-bank bitmaps,
ASID maps, domain-ID pools) in one place: a domain asks ``take`` for a context
on its IOMMU (``take_more`` on another instance it spans) and ``release`` gives
it back.  Which contexts a domain may take follows firmware reservations,
secure contexts, `reserved for` and `allows contexts` rules, and the driver's
own allocator (a kind's ``take_context`` and ``restrict_contexts``); the
stage that decides which domains exist and when they attach is contexts.py.
"""

from __future__ import annotations

from .enums import Verb
from .kinds.arm_smmu import BYPASS_SOURCE
from .model import Iommu
from .provenance import Reason
from .resolution import Domain, Resolution
from .rules import ActiveRule, by_verb


class Allocator:
    """Contexts in use per IOMMU and the domains holding them; the drivers' allocation
    rules come from their kinds (take_context, restrict_contexts, the pools)."""

    def __init__(self, res: Resolution, rules: list[ActiveRule]):
        self.res = res
        self.used: dict[str, dict[int, str]] = {}  # iommu -> context -> domain
        self.reserve_rules = by_verb(rules, Verb.RESERVE)
        self.allow_rules = by_verb(rules, Verb.ALLOWS_CONTEXTS)
        self.counter: dict[str, int] = {}
        self.pgtables: dict[str, str] = {}  # M4U hw_list -> the domain whose page table it uses
        self._base: dict[str, tuple[frozenset[int], tuple[Reason, ...]]] = {}  # see _withheld

    def candidates(self, iommu: Iommu, dom: Domain) -> tuple[list[int] | None, list[Reason]]:
        """Contexts this domain may take, lowest first; None = unlimited."""
        allowed, why = self.allowed(iommu, dom)
        return (None if allowed is None else sorted(allowed)), why

    def allowed(self, iommu: Iommu, dom: Domain) -> tuple[set[int] | None, list[Reason]]:
        """The contexts this domain may take (None = unlimited), and why not the others."""
        if iommu.contexts is None:
            return None, []
        base = self._base.get(iommu.name)
        if base is None:
            base = self._base[iommu.name] = self._withheld(iommu)
        allowed, why = set(base[0]), list(base[1])
        iommu.driver.restrict_contexts(self, iommu, dom, allowed, why)
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
        return allowed, why

    @staticmethod
    def _withheld(iommu: Iommu) -> tuple[frozenset[int], tuple[Reason, ...]]:
        """The contexts of an IOMMU no domain is handed, whatever the domain, and why: the
        same for every domain, worked out once per IOMMU (3,600 paging domains at 10k)."""
        assert iommu.contexts is not None
        why: list[Reason] = []
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
        bypass = iommu.bypass_context
        if bypass is not None:
            allowed.discard(bypass)
            why.append(
                Reason(
                    f"context {bypass} is reserved to emulate bypass (Qualcomm firmware quirk)",
                    iommu.span,
                    BYPASS_SOURCE,
                )
            )
        return frozenset(allowed), tuple(why)

    def take(self, dom: Domain) -> bool:
        """Give ``dom`` a context on its IOMMU; False when the kernel would fail."""
        if not self._take(dom):
            return False
        iommus = self.res.model.iommus
        if dom.context is not None:
            iommus[dom.iommu].driver.took(self, dom)
        if dom.context is not None and iommus[dom.iommu].driver.all_links:
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
        """The attach fails on another instance of the device's (all_links) without a free
        context there; the contexts taken before it stay taken, as msm_iommu_attach_dev's
        error path frees none."""
        self._no_free_context(dom, other)
        dom.exhausted_on = other.name

    def _no_free_context(self, dom: Domain, iommu: Iommu, why: tuple[Reason, ...] = ()) -> None:
        """The attach fails for want of a context on `iommu`, with the driver's errno."""
        used = self.used.get(iommu.name, {})
        dom.fail(iommu.driver.contexts.errno)
        held = iommu.withheld_text(used)
        dom.context_reason = Reason(
            f"no free context on '{iommu.name}' ({len(used)} of {iommu.contexts} in use"
            f"{held}): {dom.errno}",
            iommu.span,
            iommu.driver.contexts.source,
            why,
        )

    def _take(self, dom: Domain) -> bool:
        iommu = self.res.model.iommus[dom.iommu]
        driver = iommu.driver
        if not dom.type.paging:
            return driver.take_unpaged(self, iommu, dom)
        taken = driver.take_context(self, iommu, dom)
        if taken is not None:
            return taken
        used = self.used.setdefault(iommu.name, {})
        src = driver.contexts.source
        allowed, why = self.allowed(iommu, dom)
        if allowed is None or driver.contexts.pool is not None:  # a pool, `contexts` or not
            n = self.next_id(iommu.name)
            dom.context = n
            text = driver.contexts.id_text.format(n=n)
            dom.context_reason = Reason(text, None, src)
            used[n] = dom.name
            return True
        free_set = allowed.difference(used)
        if not free_set:
            self._no_free_context(dom, iommu, tuple(why))
            return False
        free = min(free_set)  # the lowest free one
        dom.context = free
        used[free] = dom.name
        dom.context_reason = Reason(f"lowest free context on '{iommu.name}'", None, src, tuple(why))
        return True

    def take_more(self, dom: Domain, iommu: str) -> bool:
        """A context (domain ID) on another instance the domain is attached to, by the same
        rules as on its own (candidates), recorded in dom.contexts_on; False when that
        instance has none free (-ENOSPC)."""
        if not dom.type.paging:
            return True  # identity and blocked domains take no context anywhere
        used = self.used.setdefault(iommu, {})
        other = self.res.model.iommus[iommu]
        pool = other.driver.contexts.pool is not None
        cands = None if pool else self.candidates(other, dom)[0]
        if pool and dom.context is not None:
            n = dom.context  # one domain, one global ID on every IOMMU
        elif cands is None:  # a global pool, or no context limit
            n = self.next_id(iommu)
        else:
            for n in cands:  # the lowest free one
                if n not in used:
                    break
            else:
                return False
        used[n] = dom.name
        dom.contexts_on[iommu] = n
        return True

    def next_id(self, iommu: str) -> int:
        """The next domain ID on an IOMMU without a context limit: per instance, but from
        one system-wide pool where the kind has one (contexts.pool, the kind's
        pool_start)."""
        driver = self.res.model.iommus[iommu].driver
        key, first = (iommu, 0)
        if driver.contexts.pool is not None:
            key, first = driver.name, driver.pool_start(self.res.platform)
        n = self.counter.get(key, first)
        self.counter[key] = n + 1
        return n

    def release(self, dom: Domain, source: str | None = None) -> None:
        """DOM's contexts go back to the pool; SOURCE is the kernel function that let it
        go, where not the one that took it."""
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
                source or (dom.context_reason.source if dom.context_reason else None),
                (dom.context_reason,) if dom.context_reason else (),
            )
            dom.released_context, dom.context = dom.context, None


def _ranges(items: list[int]) -> str:
    return ", ".join(str(i) for i in items) or "none"
