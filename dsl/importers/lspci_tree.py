"""Read ``lspci -t`` trees (``-tv``, ``-tvnn``, ``-tn``; ``-s`` subtrees) line by line.

The tree is the only posted output that shows PCI topology: which bridge each
function sits below, and each bridge's bus range.  Its layout is positional
(pciutils ``ls-tree.c``: ``show_tree_bridge``, ``show_tree_bus``,
``show_tree_dev``, ``print_it``): a bus with several functions prints ``+-`` for
each child and ``\\-`` for the last, at one column; continuation lines keep a
``|`` in that column; a bus with one function prints ``--``; a bridge prints
``-[ss]-`` or ``-[ss-uu]-`` and then its own bus.  So the column of a ``+-``
or ``\\-`` names the bus its function is on.  No class code and no group is
in a tree: the listing importer merges these with the other inputs by address.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["TreeFn", "TreeReader", "looks_like_tree"]

Addr = tuple[int, int, int, int]  # domain, bus, device, function
Bus = tuple[int, int]  # domain, bus
# report(line, col, end_col, message): a W801 for the caller to record (1-based columns)
Report = Callable[[int, int, int, str], None]

_HEX2 = "[0-9a-fA-F]{2}"
_ROOT = re.compile(rf"\[([0-9a-fA-F]{{4}}):({_HEX2})\]-")
_DEV = re.compile(rf"({_HEX2})\.([0-7])")
_BRIDGE = re.compile(rf"-\[({_HEX2})(?:-({_HEX2}))?\]-")
# `lspci -t -s BRIDGE` prints the bridge with its full address first (ls-tree.c: show_forest)
_SUBTREE = re.compile(rf"([0-9a-fA-F]{{4}}):({_HEX2}):(?={_HEX2}\.[0-7]-\[)")
_IDS_NN = re.compile(r"\[([0-9a-fA-F]{4}):([0-9a-fA-F]{4})\]\s*(?:\(rev [0-9a-fA-F]+\))?\s*$")
_IDS_N = re.compile(r"^([0-9a-fA-F]{4}):([0-9a-fA-F]{4})(?:\s*\(rev [0-9a-fA-F]+\))?$")
# `lspci -tvv` adds each BAR under its function (ls-tree.c: show_bases)
_BASES = re.compile(r"(?:Region \d+: )?(?:\[(?:virtual|enhanced)\] )?(?:Memory at|I/O ports at)\b")
_START = re.compile(r"[ |]*(?:[+\\]-|-[+\\]?-?\[)")


def looks_like_tree(line: str) -> bool:
    """Whether a line has the shape of an ``lspci -t`` line (a branch or a root)."""
    return bool(_START.match(line)) or bool(_SUBTREE.match(line.lstrip()))


@dataclass
class TreeFn:
    """One function as the tree shows it."""

    addr: Addr
    line: int
    col: int
    parent: Addr | None  # the bridge it sits below; None on a root bus
    parent_known: bool = True  # False for the top of an `lspci -t -s` subtree
    secondary: tuple[int, int] | None = None  # a bridge's bus range
    desc: str = ""
    vid: str = ""
    did: str = ""


@dataclass(frozen=True)
class _BusCtx:
    bus: Bus
    parent: Addr | None
    parent_known: bool


_ROOTS = _BusCtx((-1, -1), None, True)  # the column of a `+-[dddd:bb]` list of root buses


class _Bad(Exception):
    def __init__(self, col: int, message: str) -> None:
        super().__init__(message)
        self.col = col
        self.message = message


class TreeReader:
    """Feed it lines; it keeps the lines that are tree lines and reports the broken ones."""

    def __init__(self, report: Report) -> None:
        self.report = report
        self.fns: dict[Addr, TreeFn] = {}
        self.roots: set[Bus] = set()
        self.branch: dict[int, _BusCtx] = {}
        self.lines = 0
        self.text = ""
        self.number = 0

    def feed(self, number: int, raw: str) -> bool:
        """True when the line belongs to a tree (read, or reported as broken)."""
        line = raw.rstrip()
        first = len(line) - len(line.lstrip(" |"))
        rest = line[first:]
        if self.lines and _BASES.match(rest):
            return True  # `-tvv` BAR lines under a function: nothing to import
        sub = _SUBTREE.match(line.lstrip())
        if not (_START.match(line) or sub):
            return False
        self.lines += 1
        self.text, self.number = line, number
        try:
            if sub:
                self.branch.clear()
                start = len(line) - len(line.lstrip())
                bus = (int(sub.group(1), 16), int(sub.group(2), 16))
                self._dev(_BusCtx(bus, None, False), start + sub.end())
            elif rest.startswith("-"):
                self.branch.clear()  # a new tree
                self._top(first + 1)
            else:
                ctx = self.branch.get(first)
                if ctx is None:
                    raise _Bad(first, "tree branch with no line above it to hang from")
                if ctx is _ROOTS:
                    self._root(first + 2)
                else:
                    self._dev(ctx, first + 2)
        except _Bad as bad:
            end = max(len(line), bad.col + 1)
            self.report(number, bad.col + 1, end + 1, f"lspci -t line: {bad.message}")
        return True

    # -- the grammar of ls-tree.c, one position at a time ---------------------------------
    def _top(self, pos: int) -> None:
        """After the first '-': one root bus, or a `+-`/`\\-` list of them."""
        line = self.text
        if line.startswith(("+-", "\\-"), pos):
            self.branch[pos] = _ROOTS
            pos += 2
        self._root(pos)

    def _root(self, pos: int) -> None:
        m = _ROOT.match(self.text, pos)
        if not m:
            raise _Bad(pos, "expected a root bus '[dddd:bb]'")
        bus = (int(m.group(1), 16), int(m.group(2), 16))
        self.roots.add(bus)
        self._children(_BusCtx(bus, None, True), m.end())

    def _children(self, ctx: _BusCtx, pos: int) -> None:
        line = self.text
        if not line[pos:].strip():
            return  # a bus without functions
        if line.startswith("--", pos):
            self._dev(ctx, pos + 2)
        elif line.startswith("+-", pos):
            self.branch[pos] = ctx
            self._dev(ctx, pos + 2)
        else:
            raise _Bad(pos, "expected '--' or '+-' before the functions of a bus")

    def _dev(self, ctx: _BusCtx, pos: int) -> None:
        line = self.text
        m = _DEV.match(line, pos)
        if not m:
            raise _Bad(pos, "expected a function 'dd.f'")
        dev, fn = int(m.group(1), 16), int(m.group(2))
        if dev > 0x1F:
            raise _Bad(pos, f"'{m.group(0)}' is not a PCI function (device past 1f)")
        addr = (ctx.bus[0], ctx.bus[1], dev, fn)
        record = TreeFn(addr, self.number, pos + 1, ctx.parent, ctx.parent_known)
        self._keep(record)
        pos = m.end()
        bm = _BRIDGE.match(line, pos)
        if bm:
            low = int(bm.group(1), 16)
            high = int(bm.group(2), 16) if bm.group(2) else low
            record.secondary = (low, high)
            pos = bm.end()
            if not line.startswith("-", pos):
                raise _Bad(pos, "expected '-' after a bridge's bus range")
            self._children(_BusCtx((ctx.bus[0], low), addr, True), pos + 1)
            return
        tail = line[pos:]
        if not tail.strip():
            return
        if not tail.startswith("  "):
            raise _Bad(pos, "expected two blanks and a name after 'dd.f'")
        record.desc = " ".join(tail.split())
        ids = _IDS_NN.search(record.desc) or _IDS_N.match(record.desc)
        if ids:
            record.vid, record.did = ids.group(1).lower(), ids.group(2).lower()
            if _IDS_NN.search(record.desc):
                record.desc = record.desc[: ids.start()].rstrip()

    def _keep(self, record: TreeFn) -> None:
        old = self.fns.get(record.addr)
        if old is None:
            self.fns[record.addr] = record
        elif old.parent_known and record.parent_known and old.parent != record.parent:
            raise _Bad(
                record.col - 1,
                f"{_fmt(record.addr)} is shown again below another bridge "
                f"(line {old.line} has it below {_fmt(old.parent)})",
            )


def _fmt(addr: Addr | None) -> str:
    if addr is None:
        return "the root bus"
    return f"{addr[0]:04x}:{addr[1]:02x}:{addr[2]:02x}.{addr[3]}"
