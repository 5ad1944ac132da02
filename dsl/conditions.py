"""The platform as the kernel sees it: command line, Kconfig, conditions.

``when`` conditions and ``cmdline has`` are evaluated here.  Command-line
parameters follow the kernel's early_param handling: each occurrence is
processed in order, so the last one of a parameter wins.  Kconfig symbols are
what the board states plus what the kernel's Kconfig selects
(``drivers/iommu/Kconfig``).
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from . import ast
from .diagnostics import Span
from .eras import S390_DMA_IOMMU, Era
from .model import DEFAULT_ARCH, Model
from .provenance import Reason

DEFAULT_KERNEL = (6, 8)

# IOMMU_DMA (the iommu-dma glue) exists on these architectures, from the kernel given
# (drivers/iommu/Kconfig: IOMMU_DMA "def_bool ARM64 || X86 || S390"): s390 joined when its
# PCI DMA API moved onto dma-iommu (c76c067e488c "s390/pci: Use dma-iommu layer", 6.7).
# Never on arm32, where ARM_DMA_USE_IOMMU excludes it, and not on RISC-V: "iommu/riscv:
# Enable IOMMU DMA mapping support" (adding RISCV to the def_bool) was still a posted patch
# in 2026, so a riscv-iommu default domain is identity unless the board says
# `config IOMMU_DMA`.
# Kconfig symbols the packs ask about whose default is y: unstated, a board has them
KCONFIG_DEFAULTS: dict[str, tuple[str, str]] = {
    # host1x_wants_iommu: a 32-bit host1x behind its firewall builds no domain of its own
    "TEGRA_HOST1X_FIREWALL": ("y", "drivers/gpu/host1x/Kconfig: TEGRA_HOST1X_FIREWALL default y"),
}
IOMMU_DMA_ARCHES: dict[str, Era | None] = {"arm64": None, "x86_64": None, "s390": S390_DMA_IOMMU}

_BOOL = {"1": "1", "y": "1", "yes": "1", "on": "1", "0": "0", "n": "0", "no": "0", "off": "0"}


@dataclass(frozen=True)
class Token:
    param: str
    value: str | None
    index: int
    span: Span


class Platform:
    """Effective platform facts with where each came from."""

    def __init__(self, model: Model):
        p = model.platform
        self.model = model
        self.arch = p.arch_name or DEFAULT_ARCH
        self.arch_reason = (
            Reason(f"arch {self.arch}", p.arch.span)
            if p.arch
            else Reason(f"no arch given: assuming {DEFAULT_ARCH}")
        )
        self.kernel = p.kernel_version or DEFAULT_KERNEL
        self.kernel_reason = (
            Reason(f"kernel {_vtext(self.kernel)}", p.kernel.span)
            if p.kernel
            else Reason(f"no kernel given: assuming {_vtext(DEFAULT_KERNEL)}")
        )
        self.ram_top, self.ram_base = p.ram_top, p.ram_base
        self.tokens = _tokens(str(p.cmdline.value), p.cmdline.span) if p.cmdline else []
        self.last: dict[str, Token] = {}
        for tok in self.tokens:
            self.last[tok.param] = tok
        self.config: dict[str, tuple[str, Reason]] = {}
        for sym, val, span in p.config:
            self.config[sym] = (val, Reason(f"config {sym}={val}", span))
        if self.arch == "arm" and "ARM_DMA_USE_IOMMU" not in self.config:
            # drivers/iommu/Kconfig: the drivers that `select ARM_DMA_USE_IOMMU`
            for iommu in model.iommus.values():
                driver = iommu.driver.selects_arm_dma_use_iommu
                if driver:
                    self.config["ARM_DMA_USE_IOMMU"] = (
                        "y",
                        Reason(
                            f"config ARM_DMA_USE_IOMMU=y: selected by {driver} "
                            f"({iommu.kind} '{iommu.name}')",
                            iommu.span,
                            "drivers/iommu/Kconfig: select ARM_DMA_USE_IOMMU",
                        ),
                    )
                    break
        for sym, (val, src) in KCONFIG_DEFAULTS.items():
            if sym not in self.config:
                self.config[sym] = (val, Reason(f"config {sym}={val} (its default)", None, src))
        if "IOMMU_DMA" not in self.config:
            built = self.arch in IOMMU_DMA_ARCHES
            since = IOMMU_DMA_ARCHES.get(self.arch)
            on = built and (since is None or self.since(since))
            self.config["IOMMU_DMA"] = (
                "y" if on else "n",
                Reason(
                    f"config IOMMU_DMA={'y' if on else 'n'} on {self.arch}"
                    + (f" before {since.text}" if since and not on else ""),
                    None,
                    "drivers/iommu/Kconfig: IOMMU_DMA",
                ),
            )

    def since(self, era: Era) -> bool:
        """Whether the platform's kernel has the behaviour of this era (eras.py)."""
        return self.kernel >= era.version

    def enabled(self, symbol: str) -> bool:
        val = self.config.get(symbol)
        return val is not None and val[0] in ("y", "m")

    def config_reason(self, symbol: str) -> Reason:
        val = self.config.get(symbol)
        if val is None:
            return Reason(f"config {symbol} is not set")
        return val[1]

    # -- conditions ------------------------------------------------------------
    def holds(self, cond: ast.Condition) -> tuple[bool, list[Reason], int]:
        """Whether a condition holds, the facts that decide it, and the position of
        the latest command-line token it depends on (-1 when none)."""
        if isinstance(cond, ast.CondKernel):
            ok = _compare(self.kernel, cond.op, cond.version.parts)
            return ok, [self.kernel_reason], -1
        if isinstance(cond, ast.CondArch):
            ok = (self.arch == cond.arch.text) == (cond.op == "==")
            return ok, [self.arch_reason], -1
        if isinstance(cond, ast.CondConfig):
            return self.enabled(cond.symbol.text), [self.config_reason(cond.symbol.text)], -1
        if isinstance(cond, ast.CondCmdline):
            return self.cmdline_has(cond.token.value)
        if isinstance(cond, ast.CondNot):
            ok, why, pos = self.holds(cond.operand)
            return not ok, why, pos
        results = [self.holds(c) for c in cond.operands]
        if isinstance(cond, ast.CondAnd):
            ok = all(r[0] for r in results)
            used = results if ok else [r for r in results if not r[0]][:1]
        else:
            ok = any(r[0] for r in results)
            used = [r for r in results if r[0]][:1] if ok else results
        why = [w for r in used for w in r[1]]
        return ok, why, max((r[2] for r in used), default=-1)

    def cmdline_has(self, text: str) -> tuple[bool, list[Reason], int]:
        param, _, want = text.partition("=")
        tok = self.last.get(param)
        if tok is None:
            return False, [Reason(f"'{param}' is not on the command line")], -1
        where = Reason(f"cmdline token '{_tok_text(tok)}'", tok.span)
        if not _:
            return True, [where], tok.index
        have = tok.value or ""
        if param in ("iommu", "amd_iommu", "intel_iommu"):
            # These take comma lists: arch/x86/kernel/pci-dma.c: iommu_setup,
            # drivers/iommu/amd/init.c: parse_amd_iommu_options, intel_iommu_setup.
            ok = want in have.split(",")
        elif want in _BOOL and have in _BOOL:
            ok = _BOOL[want] == _BOOL[have]
        else:
            ok = have == want
        return ok, [where], tok.index


def _vtext(v: tuple[int, ...]) -> str:
    return ".".join(str(p) for p in v)


def _compare(a: tuple[int, ...], op: str, b: tuple[int, ...]) -> bool:
    n = max(len(a), len(b))
    a = a + (0,) * (n - len(a))
    b = b + (0,) * (n - len(b))
    return {
        "==": a == b,
        "!=": a != b,
        ">=": a >= b,
        "<=": a <= b,
        ">": a > b,
        "<": a < b,
    }[op]


def _tok_text(tok: Token) -> str:
    return tok.param if tok.value is None else f"{tok.param}={tok.value}"


def _tokens(cmdline: str, span: Span) -> list[Token]:
    """Split like the kernel's next_arg (quotes group), keeping each token's column."""
    out: list[Token] = []
    try:
        lexer = shlex.shlex(cmdline, posix=True, punctuation_chars=False)
        lexer.whitespace_split = True
        words = list(lexer)
    except ValueError:
        words = cmdline.split()
    pos = 0
    for index, word in enumerate(words):
        found = cmdline.find(word.split("=")[0], pos)
        start = found if found >= 0 else pos
        pos = start + len(word)
        col = span.col + 1 + start  # after the opening quote
        tspan = Span(span.file, span.line, col, span.line, col + len(word))
        param, eq, value = word.partition("=")
        out.append(Token(param, value if eq else None, index, tspan))
    return out
