"""Text -> AST, with diagnostics that speak the user's words.

lark parses; :class:`_Builder` turns its tree into :mod:`ast` nodes.  Syntax
errors are rewritten from lark's terminal names into what a user types, and
common mistakes get their own message.  After the first error the file is
re-parsed statement by statement so that independent errors are all reported.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

from . import ast
from .diagnostics import Diagnostic, DiagnosticError, Label, Span, did_you_mean, error
from .grammar import (
    CHOICE_RULES,
    describe_terminal,
    keyword_terminals,
    mask_line,
    parser,
    rule_choices,
)
from .lalr import Tok, UnexpectedCharacters, UnexpectedToken, no_gc
from .node import Node

UnexpectedInput = (UnexpectedToken, UnexpectedCharacters)

TOP_LEVEL = (
    "include",
    "platform",
    "iommu",
    "device",
    "bridge",
    "domain",
    "rule",
    "when",
    "expect",
    "map",
)
MAX_NESTING = 200


# properties that are one number: the grammar rule -> the AST node
ONE_NUMBER: dict[str, Any] = {
    "contexts": ast.Contexts,
    "cells": ast.Cells,
    "stream_bits": ast.StreamBits,
    "smrs": ast.Smrs,
    "stream_match_mask": ast.StreamMatchMask,
    "reg": ast.Reg,
    "map_mask": ast.MapMask,
    "stream_context": ast.StreamContext,
    "dma_mask": ast.DmaMask,
    "probe_order": ast.ProbeOrder,
}


class ParseResult:
    """A parsed file and its problems.

    After a syntax error ``file`` holds the statements that did parse and
    ``partial`` is set, so later stages can still check them.
    """

    def __init__(self, file: ast.File | None, diagnostics: list[Diagnostic], partial: bool = False):
        self.file = file
        self.diagnostics = diagnostics
        self.partial = partial

    @property
    def ok(self) -> bool:
        return self.file is not None and not self.partial and not self.diagnostics


def _unescape(text: str) -> str:
    body = text[1:-1]
    if "\\" not in body:
        return body
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), body)


_SCALE = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def _int(text: str) -> int:
    text = text.strip()
    if text[:2] in ("0x", "0X"):
        return int(text, 16)
    if text[-1] in _SCALE:
        return int(text[:-1]) * _SCALE[text[-1]]
    return int(text)


_tuple_new = tuple.__new__


class _Builder:
    """Builds AST nodes from lark's tree; one method per grammar rule."""

    def __init__(self, path: str):
        self.path = path
        self.errors: list[Diagnostic] = []
        self.when_depth = 0  # `when` blocks inside one another, here

    # -- helpers ---------------------------------------------------------
    # Spans are built as tuples directly (a named tuple's __new__ is a Python call): a
    # 10k-device board makes 130,000 of them here.
    def span_tok(self, tok: Tok) -> Span:
        return _tuple_new(Span, (self.path, tok[3], tok[4], tok[5], tok[6]))  # line .. end_column

    def span_meta(self, meta: Any) -> Span:
        if getattr(meta, "empty", True):
            return Span(self.path, 0, 0, 0, 0)
        where = (self.path, meta.line, meta.column, meta.end_line, meta.end_column)
        return _tuple_new(Span, where)

    # the three leaves (75,000 at 10k devices) make their span inline, as span_tok does
    def ident(self, tok: Tok) -> ast.Ident:
        return ast.Ident(tok[0], _tuple_new(Span, (self.path, tok[3], tok[4], tok[5], tok[6])))

    def num(self, tok: Tok) -> ast.Num:
        span = _tuple_new(Span, (self.path, tok[3], tok[4], tok[5], tok[6]))
        return ast.Num(_int(tok[0]), tok[0], span)

    def string(self, tok: Tok) -> ast.Str:
        span = _tuple_new(Span, (self.path, tok[3], tok[4], tok[5], tok[6]))
        return ast.Str(_unescape(tok[0]), tok[0], span)

    def version(self, tree: Any) -> ast.Version:
        tok = tree.children[0] if hasattr(tree, "children") else tree
        parts = tuple(int(p) for p in tok.value.split("."))
        return ast.Version(parts, tok.value, self.span_tok(tok))

    def kw(self, tree: Any) -> ast.Ident:
        """A keyword-choice rule such as domain_type: the chosen word."""
        tok = tree.children[0]
        ident = ast.Ident(tok.value, self.span_tok(tok))
        if tok.type == "NAME":
            choices = rule_choices()[str(tree.data)]
            self.errors.append(
                error(
                    "E005",
                    f"unknown {CHOICE_RULES[str(tree.data)]} '{tok}'",
                    ident.span,
                    label=f"expected one of: {', '.join(choices)}",
                    help=did_you_mean(str(tok), choices),
                )
            )
        return ident

    def build(self, tree: Any) -> Any:
        # 55,000 nodes at 10k devices: one lookup, and the span made here (span_meta's)
        if tree.__class__ is Tok:
            return tree
        span = _tuple_new(Span, (self.path, tree.line, tree.column, tree.end_line, tree.end_column))
        return _RULE_METHODS[tree.data](self, tree, span)

    def items(self, children: list[Any]) -> tuple[Any, ...]:
        build = self.build
        return tuple([build(c) for c in children if c is not None and c.__class__ is not Tok])

    # -- file ------------------------------------------------------------
    def r_start(self, t: Any, span: Span) -> ast.File:
        return ast.File(self.path, self.items(t.children), span=span)

    def r_include(self, t: Any, span: Span) -> ast.Include:
        return ast.Include(self.string(t.children[0]), span)

    # -- platform ----------------------------------------------------------
    def r_platform(self, t: Any, span: Span) -> ast.Platform:
        return ast.Platform(self.items(t.children), span)

    def r_arch(self, t: Any, span: Span) -> ast.Arch:
        return ast.Arch(self.kw(t.children[0]), span)

    def r_kernel(self, t: Any, span: Span) -> ast.Kernel:
        return ast.Kernel(self.version(t.children[0]), span)

    def r_ram(self, t: Any, span: Span) -> ast.Ram:
        base, size = t.children
        if size is None:
            return ast.Ram(ast.Num(0, "0", span), self.num(base), span)
        return ast.Ram(self.num(base), self.num(size), span)

    def r_cmdline(self, t: Any, span: Span) -> ast.Cmdline:
        return ast.Cmdline(self.string(t.children[0]), span)

    def r_config(self, t: Any, span: Span) -> ast.Config:
        sym, val = t.children
        return ast.Config(self.ident(sym), self.ident(val) if val is not None else None, span)

    # -- iommu -------------------------------------------------------------
    def r_iommu(self, t: Any, span: Span) -> ast.Iommu:
        name, kind, *props = t.children
        return ast.Iommu(self.ident(name), self.kw(kind), self.items(props), span)

    def r_domains(self, t: Any, span: Span) -> ast.Domains:
        return ast.Domains(tuple(self.kw(c) for c in t.children), span)

    def context_set(self, t: Any) -> tuple[ast.ContextRange, ...]:
        out = []
        for item in t.children:
            first, last = item.children
            out.append(
                ast.ContextRange(
                    self.num(first),
                    self.num(last) if last is not None else None,
                    self.span_meta(item.meta),
                )
            )
        return tuple(out)

    def r_reserved(self, t: Any, span: Span) -> ast.Reserved:
        return ast.Reserved(self.context_set(t.children[0]), span)

    def r_secure(self, t: Any, span: Span) -> ast.Secure:
        return ast.Secure(self.context_set(t.children[0]), span)

    def r_iommu_map(self, t: Any, span: Span) -> ast.IommuMap:
        dom, rid, sid, smr, length, mask = (None if c is None else self.num(c) for c in t.children)
        assert rid is not None and sid is not None and length is not None
        return ast.IommuMap(dom, rid, sid, length, mask, span, smr)

    def r_host_map(self, t: Any, span: Span) -> ast.HostMap:
        name, *rest = t.children
        dom, rid, sid, smr, length, mask = (None if c is None else self.num(c) for c in rest)
        assert rid is not None and sid is not None and length is not None
        entry = ast.IommuMap(dom, rid, sid, length, mask, span, smr)
        return ast.HostMap(self.ident(name), entry, span)

    def stream_id(self, t: Any) -> ast.Ident | ast.Num:
        tok = t.children[0]
        return self.ident(tok) if tok.type == "NAME" else self.num(tok)

    def r_soc_group(self, t: Any, span: Span) -> ast.SocGroup:
        name, *members, cond = t.children
        return ast.SocGroup(
            self.ident(name),
            tuple(self.stream_id(m) for m in members),
            None if cond is None else self.condition(cond),
            span,
        )

    def r_region(self, t: Any, span: Span) -> ast.Region:
        number, larbs, ports = t.children
        return ast.Region(
            self.num(number),
            tuple(self.num(n) for n in larbs.children),
            () if ports is None else tuple(self.num(n) for n in ports.children[0].children),
            ports is not None and ports.data == "region_except",
            span,
        )

    def r_quirk(self, t: Any, span: Span) -> ast.Quirk:
        return ast.Quirk(self.kw(t.children[0]), span)

    def r_disabled(self, t: Any, span: Span) -> ast.Disabled:
        return ast.Disabled(span)

    # -- device ------------------------------------------------------------
    def r_device(self, t: Any, span: Span) -> ast.Device:
        name, *rest = t.children
        string = self.string
        compat = tuple([string(c) for c in rest if c.__class__ is Tok and c.type == "STRING"])
        return ast.Device(self.ident(name), compat, self.items(rest), span)

    def r_tags(self, t: Any, span: Span) -> ast.Tags:
        ident = self.ident
        return ast.Tags(tuple([ident(c) for c in t.children]), span)

    def r_attach_iommu(self, t: Any, span: Span) -> ast.AttachIommu:
        name, *streams = t.children
        return ast.AttachIommu(self.ident(name), self.items(streams), span)

    def r_stream_sid(self, t: Any, span: Span) -> ast.StreamSid:
        sid, mask = t.children
        return ast.StreamSid(self.num(sid), self.num(mask) if mask is not None else None, span)

    def r_stream_swgroup(self, t: Any, span: Span) -> ast.StreamSwgroup:
        return ast.StreamSwgroup(self.stream_id(t.children[0]), span)

    def r_pci(self, t: Any, span: Span) -> ast.Pci:
        return ast.Pci(self.ident(t.children[0]), span)

    def r_upstream(self, t: Any, span: Span) -> ast.Upstream:
        return ast.Upstream(self.ident(t.children[0]), span)

    def r_aperture(self, t: Any, span: Span) -> ast.Aperture:
        base, size = t.children
        return ast.Aperture(self.num(base), self.num(size), span)

    def window(self, t: Any) -> ast.Window | None:
        if t is None:
            return None
        base, size = t.children
        return ast.Window(self.num(base), self.num(size), self.span_meta(t.meta))

    def r_dma_range(self, t: Any, span: Span) -> ast.DmaRange:
        cpu, size, bus = t.children
        return ast.DmaRange(
            self.num(cpu), self.num(size), None if bus is None else self.num(bus), span
        )

    def r_coherent(self, t: Any, span: Span) -> ast.Coherent:
        return ast.Coherent(str(t.children[0]) == "coherent", span)

    def r_untrusted(self, t: Any, span: Span) -> ast.Untrusted:
        return ast.Untrusted(span)

    def r_driver(self, t: Any, span: Span) -> ast.Driver:
        return ast.Driver(tuple(self.kw(c) for c in t.children), span)

    def r_caps(self, t: Any, span: Span) -> ast.Caps:
        return ast.Caps(tuple(self.kw(c) for c in t.children), span)

    def r_alias(self, t: Any, span: Span) -> ast.Alias:
        return ast.Alias(self.ident(t.children[0]), span)

    def r_acs(self, t: Any, span: Span) -> ast.Acs:
        return ast.Acs(self.kw(t.children[0]).text == "yes", span)

    def r_acs_regs(self, t: Any, span: Span) -> ast.AcsRegs:
        cap, ctl = t.children
        flags = [tuple(self.kw(f) for f in group.children) for group in (cap, ctl) if group]
        return ast.AcsRegs(flags[0], flags[1] if ctl is not None else None, span)

    def r_pcie_type(self, t: Any, span: Span) -> ast.PcieType:
        return ast.PcieType(self.kw(t.children[0]), span)

    def r_multifunction(self, t: Any, span: Span) -> ast.Multifunction:
        return ast.Multifunction(self.kw(t.children[0]).text == "yes", span)

    def r_bound(self, t: Any, span: Span) -> ast.Bound:
        tok = t.children[0]
        driver = self.string(tok) if tok.type == "STRING" else self.ident(tok)
        return ast.Bound(driver, span)

    # -- bridge, domain ------------------------------------------------------
    def r_bridge(self, t: Any, span: Span) -> ast.Bridge:
        name, kind, *rest = t.children
        compat = tuple(self.string(c) for c in rest if isinstance(c, Tok) and c.type == "STRING")
        props = [c for c in rest if c is not None and not isinstance(c, Tok)]
        return ast.Bridge(self.ident(name), self.kw(kind), self.items(props), span, compat)

    def r_domain(self, t: Any, span: Span) -> ast.Domain:
        name, dtype, *rest = t.children
        iommus = [self.ident(c) for c in rest if isinstance(c, Tok)]
        attach: list[ast.Ident] = []
        window = None
        for p in rest:
            if p is not None and not isinstance(p, Tok) and p.data == "iova_window":
                window = self.window(p)
            elif p is not None and not isinstance(p, Tok):
                attach.extend(self.ident(c) for c in p.children)
        if dtype.data == "domain_of":  # `default of DEVICE`: no kind word, no `on`
            of = self.ident(dtype.children[0])
            return ast.Domain(
                self.ident(name), ast.Ident("default", of.span), (), tuple(attach), span, of, window
            )
        return ast.Domain(
            self.ident(name), self.kw(dtype), tuple(iommus), tuple(attach), span, window=window
        )

    # -- rules -------------------------------------------------------------
    def r_rule(self, t: Any, span: Span) -> ast.Rule:
        kids = list(t.children)
        name = self.string(kids.pop(0)) if kids and kids[0] is not None else None
        if kids and kids[0] is None:
            kids.pop(0)
        because = source = None
        selector = None
        verb: ast.Verb | ast.Reserve | None = None
        for kid in kids:
            if isinstance(kid, Tok):
                continue
            if kid.data == "because":
                because = self.string(kid.children[0])
            elif kid.data == "source":
                source = self.string(kid.children[0])
            elif kid.data == "reserve":
                verb = self.reserve(kid)
            elif kid.data in _VERBS:
                verb = self.verb(kid)
            else:
                selector = self.selector(kid)
        assert verb is not None
        return ast.Rule(name, selector, verb, because, source, span)

    def reserve(self, t: Any) -> ast.Reserve:
        iommu, index, sel = t.children
        return ast.Reserve(
            self.ident(iommu), self.num(index), self.selector(sel), self.span_meta(t.meta)
        )

    def verb(self, t: Any) -> ast.Verb:
        span = self.span_meta(t.meta)
        kind = _VERBS[str(t.data)]
        if t.data == "allows_contexts":
            return ast.Verb(kind, contexts=self.context_set(t.children[0]), span=span)
        if t.data == "driver_does":
            return ast.Verb(kind, flags=tuple(self.kw(c) for c in t.children), span=span)
        if t.data == "builds_domain":
            name, built, window, per, unless, log = t.children
            return ast.Verb(
                kind,
                domain=self.ident(name),
                built=self.kw(built),
                window=self.window(window),
                per_device=per is not None,
                unless=self.kw(unless.children[0]) if unless is not None else None,
                log=self.string(log.children[0]) if log is not None else None,
                span=span,
            )
        if t.children:
            return ast.Verb(kind, domain_type=self.kw(t.children[0]), span=span)
        return ast.Verb(kind, span=span)

    def selector(self, t: Any, depth: int = 0) -> ast.Selector:
        if depth > MAX_NESTING:
            raise _TooDeep(self.span_meta(t.meta))
        span = self.span_meta(t.meta)
        data = str(t.data)
        if data == "sel_name":
            return ast.SelName(self.ident(t.children[0]), span)
        if data == "sel_compatible":
            return ast.SelCompatible(self.string(t.children[0]), span)
        if data == "sel_on":
            return ast.SelOn(self.ident(t.children[0]), span)
        if data == "sel_kind":
            return ast.SelKind(self.kw(t.children[0]), span)
        if data == "sel_pci":
            return ast.SelPci(self.ident(t.children[0]), span)
        if data == "sel_untrusted":
            return ast.SelUntrusted(span)
        if data == "sel_cap":
            return ast.SelCap(self.kw(t.children[0]), span)
        if data == "sel_all":
            return ast.SelAll(span)
        if data == "sel_not":
            return ast.SelNot(self.selector(t.children[0], depth + 1), span)
        ops = tuple(self.selector(c, depth + 1) for c in t.children)
        if data == "sel_and":
            return ast.SelAnd(ops, span)
        if data == "sel_or":
            return ast.SelOr(ops, span)
        raise AssertionError(data)

    # -- when --------------------------------------------------------------
    def r_when(self, t: Any, span: Span) -> ast.When:
        if self.when_depth >= MAX_NESTING:
            raise _TooDeep(
                span, "join the conditions: 'when A and B { ... }' holds where both hold"
            )
        cond, *items = t.children
        self.when_depth += 1
        try:
            return ast.When(self.condition(cond), self.items(items), span)
        finally:
            self.when_depth -= 1

    def condition(self, t: Any, depth: int = 0) -> ast.Condition:
        if depth > MAX_NESTING:
            raise _TooDeep(self.span_meta(t.meta))
        span = self.span_meta(t.meta)
        data = str(t.data)
        if data == "cond_kernel":
            op, ver = t.children
            return ast.CondKernel(str(op), self.version(ver), span)
        if data == "cond_arch":
            op, arch = t.children
            return ast.CondArch(str(op), self.kw(arch), span)
        if data == "cond_cmdline":
            return ast.CondCmdline(self.string(t.children[0]), span)
        if data == "cond_config":
            return ast.CondConfig(self.ident(t.children[0]), span)
        if data == "cond_not":
            return ast.CondNot(self.condition(t.children[0], depth + 1), span)
        ops = tuple(self.condition(c, depth + 1) for c in t.children)
        if data == "cond_and":
            return ast.CondAnd(ops, span)
        if data == "cond_or":
            return ast.CondOr(ops, span)
        raise AssertionError(data)

    # -- expect ------------------------------------------------------------
    def r_expect(self, t: Any, span: Span) -> ast.Expect:
        query, op, value = t.children
        subject, attr = query.children
        q = ast.Query(self.ident(subject), self.ident(attr), self.span_meta(query.meta))
        return ast.Expect(q, str(op), self.value(value), span)

    def value(self, t: Any, depth: int = 0) -> ast.Value:
        if depth > MAX_NESTING:
            raise _TooDeep(self.span_meta(t.meta), "flatten the list")
        span = self.span_meta(t.meta)
        first = t.children[0]
        if isinstance(first, Tok):
            if first.type == "STRING":
                return self.string(first)
            if first.type == "VERSION":
                return self.version(first)
            if first.type == "LSQB":
                items = tuple(
                    self.value(c, depth + 1)
                    for c in t.children
                    if c is not None and not isinstance(c, Tok)
                )
                return ast.ValueList(items, span)
            return self.num(first)
        # value_word
        return ast.Word("+".join(str(c) for c in first.children), span)


_VERBS = {
    "excludes_implicit": "excludes implicit",
    "excludes_iommu": "excludes iommu",
    "requires": "requires",
    "prefers": "prefers",
    "excludes": "excludes",
    "allows_contexts": "allows contexts",
    "def_domain_type": "def-domain-type",
    "default_domain": "default-domain",
    "driver_does": "driver",
    "builds_domain": "builds domain",
}


def _one_number(node: Any) -> Callable[[_Builder, Any, Span], Any]:
    """The builder of a property that is one number (`contexts 8`, `dma-mask 40`)."""

    def build(self: _Builder, t: Any, span: Span) -> Any:
        return node(self.num(t.children[0]), span)

    return build


# grammar rule -> the _Builder method that builds its node (r_device for `device`)
_RULE_METHODS: dict[str, Callable[[_Builder, Any, Span], Any]] = {
    **{name[2:]: method for name, method in vars(_Builder).items() if name.startswith("r_")},
    **{rule: _one_number(node) for rule, node in ONE_NUMBER.items()},
}


class _TooDeep(Exception):
    def __init__(
        self, span: Span, help: str = "split the selector or condition into simpler rules"
    ):
        self.span = span
        self.help = help


# ---------------------------------------------------------------- errors
def _kind_of_word(expected: set[str]) -> tuple[str, tuple[str, ...]] | None:
    """If the expected keywords are one closed choice, name that choice."""
    words = {keyword_terminals().get(e) for e in expected}
    for rule, choices in rule_choices().items():
        if words and words <= set(choices) | {None} and len(words & set(choices)) >= 2:
            return CHOICE_RULES[rule], choices
    return None


# What follows `domain NAME: default of DEVICE` by mistake: (message, label, help).
_DEFAULT_OF_HINTS = {
    ",": (
        "a 'default of DEVICE' domain names one device",
        "expected '{' or the next statement",
        "attach the other devices in a block: 'default of DEVICE { attach A, B }'",
    ),
    "on": (
        "a 'default of DEVICE' domain takes no 'on IOMMU'",
        "not expected here",
        "it is the default domain of DEVICE, on DEVICE's IOMMU; remove 'on ...'",
    ),
}


def _keyword_expected(expected: set[str], word: str) -> bool:
    return any(keyword_terminals().get(e) == word for e in expected)


def _expected_text(expected: set[str]) -> str:
    # '$END' alone is rarely what a user needs to read; keep it out unless it is all.
    shown = {e for e in expected if e not in ("$END", "SEMICOLON")} or expected
    names = sorted({describe_terminal(e) for e in shown})
    if len(names) > 8:
        return ", ".join(names[:8]) + f" or one of {len(names) - 8} more"
    if len(names) == 1:
        return names[0]
    return ", ".join(names[:-1]) + " or " + names[-1]


def _token_text(tok: Any) -> str:
    if tok.type == "$END":
        return "end of file"
    return f"'{tok}'"


def _unclosed_brace(text: str, path: str) -> Span | None:
    """The last '{' with no matching '}', ignoring strings and comments."""
    stack: list[tuple[int, int]] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        code, _ = mask_line(line)
        for col, ch in enumerate(code, 1):
            if ch == "{":
                stack.append((lineno, col))
            elif ch == "}" and stack:
                stack.pop()
    if not stack:
        return None
    brace_line, brace_col = stack[-1]
    return Span(path, brace_line, brace_col, brace_line, brace_col + 1)


def _syntax_diagnostic(exc: Any, text: str, path: str, line_offset: int = 0) -> Diagnostic:

    def at(line: int, col: int, length: int = 1) -> Span:
        return Span(path, line + line_offset, col, line + line_offset, col + max(length, 1))

    if isinstance(exc, UnexpectedCharacters):
        line = text.splitlines()[exc.line - 1] if exc.line - 1 < len(text.splitlines()) else ""
        ch = exc.char
        if ch == '"':
            rest = len(line) - (exc.column - 1)
            return error(
                "E003",
                "unterminated string",
                at(exc.line, exc.column, rest),
                label="this string is not closed on its line",
                help="strings end on the line they start; add the closing '\"'",
            )
        expected = set(exc.allowed or ())
        return error(
            "E002",
            f"unexpected character {ch!r}",
            at(exc.line, exc.column),
            label=f"expected {_expected_text(expected)}" if expected else "",
        )
    if isinstance(exc, UnexpectedToken):
        tok = exc.token
        expected = set(exc.expected)
        if tok.type == "$END":
            lines = text.splitlines() or [""]
            last = len(lines)
            end = at(last, len(lines[-1]) + 1)
            if "RBRACE" in expected:
                brace = _unclosed_brace(text, path)
                sec: tuple[Label, ...] = ()
                if brace is not None:
                    sec = (Label(_moved(brace, line_offset), "this '{' is never closed"),)
                return error(
                    "E004",
                    "missing '}' at end of file",
                    end,
                    label="expected '}'",
                    secondary=sec,
                    help="close the block with '}'",
                )
            return error(
                "E004",
                "unexpected end of file",
                end,
                label=f"expected {_expected_text(expected)}",
            )
        tline: int = tok.line or 1
        tcol: int = tok.column or 1
        length = len(str(tok)) if tok.end_column is None else tok.end_column - tcol
        span = at(tline, tcol, length)
        word = str(tok)
        if "RBRACE" in expected and word in TOP_LEVEL and tok.column == 1:
            brace = _unclosed_brace(text[: tok.start_pos or 0], path)
            return error(
                "E004",
                f"missing '}}' before '{word}'",
                span,
                label="a new statement starts here",
                secondary=(Label(_moved(brace, line_offset), "this '{' is never closed"),)
                if brace
                else (),
                help="close the block with '}'",
            )
        if tok.type == "STRING" and "STRING" not in expected:
            inner = word[1:-1]
            bare = re.fullmatch(r"[\w.\-+:]+", inner) is not None
            return error(
                "E001",
                f"expected {_expected_text(expected)}, found a string",
                span,
                label="this is a string",
                help=f"write it without quotes: {inner}" if bare else "",
            )
        if word == "of" and tok.type != "NAME" and _keyword_expected(expected, "on"):
            # `domain NAME: KIND of ...`: the kind word was not `default`
            line = text.splitlines()[tline - 1]
            prev = re.search(r"([A-Za-z_][\w\-]*)\s*$", line[: tcol - 1])
            kinds = [*rule_choices()["domain_kind"], "default"]
            if prev is not None and prev.group(1) not in kinds:
                return error(
                    "E005",
                    f"unknown domain kind '{prev.group(1)}'",
                    at(tline, prev.start(1) + 1, len(prev.group(1))),
                    label="expected 'default of DEVICE', or a kind and 'on IOMMU'",
                    help=did_you_mean(prev.group(1), kinds),
                )
        nameless = re.match(r"map\s+(rid|pci-domain)\s+", text.splitlines()[tline - 1])
        if nameless is not None and nameless.end() == tcol - 1:
            # a top-level `map` whose IOMMU name is missing: 'rid' was taken for it
            return error(
                "E001",
                f"unexpected '{word}'",
                span,
                label=f"expected {_expected_text(expected)}",
                help="a `map` outside an `iommu` block names its IOMMU first: "
                "`map IOMMU rid R sid S length L`",
            )
        misplaced = _DEFAULT_OF_HINTS.get(word)
        if misplaced and re.search(
            r":\s*default\s+of\s+[\w\-]+\s*$", text.splitlines()[tline - 1][: tcol - 1]
        ):
            message, label, help_text = misplaced
            return error("E001", message, span, label=label, help=help_text)
        choice = _kind_of_word(expected)
        if choice is not None and re.fullmatch(r"[A-Za-z_][\w\-]*", word):
            label, choices = choice
            return error(
                "E005",
                f"unknown {label} '{word}'",
                span,
                label=f"expected one of: {', '.join(choices)}",
                help=did_you_mean(word, choices),
            )
        keywords = [keyword_terminals()[e] for e in expected if e in keyword_terminals()]
        keywords = [k for k in keywords if re.fullmatch(r"[a-z][\w\-]*", k)]
        if tok.type in ("NAME", "CONFIG_SYMBOL") and keywords and "NAME" not in expected:
            # mid-line, a word is no new statement: suggest what continues this one
            inline = [k for k in keywords if k not in TOP_LEVEL] if tcol > 1 else []
            hint = did_you_mean(word, inline) or did_you_mean(word, keywords)
            what = (
                "statement"
                if set(keywords) & set(TOP_LEVEL) and "platform" in keywords and not inline
                else ""
            )
            message = f"unknown {what or 'keyword'} '{word}'"
            return error(
                "E001",
                message,
                span,
                label=f"expected {_expected_text(expected)}",
                help=hint,
            )
        if tok.type == "RBRACE" and "RBRACE" not in expected and "INCLUDE" in expected:
            return error(
                "E001",
                "unexpected '}'",
                span,
                label=f"expected {_expected_text(expected)}",
                help="is there a '}' too many, or is the statement before it unfinished?",
            )
        if "COLON" in expected and len(expected) <= 2 and tok.type != "COLON":
            return error(
                "E001",
                f"expected ':' before {_token_text(tok)}",
                span,
                label="expected ':'",
                help="write 'NAME: KIND', for example 'iommu smmu: arm-smmu'",
            )
        return error(
            "E001",
            f"unexpected {_token_text(tok)}",
            span,
            label=f"expected {_expected_text(expected)}",
        )
    raise exc


def _chunks(text: str) -> Iterator[tuple[int, str]]:
    """Split at lines that start (in column 1) with a top-level keyword."""
    starts = re.compile(r"^(?:{})\b".format("|".join(TOP_LEVEL)))
    lines = text.split("\n")
    begin = 0
    for i, line in enumerate(lines):
        if i > begin and starts.match(line):
            yield begin, "\n".join(lines[begin:i])
            begin = i
    yield begin, "\n".join(lines[begin:])


def _check_text(text: str, path: str) -> list[Diagnostic]:
    """Problems with the raw text that the grammar cannot name well."""
    out = []
    nul = text.find("\x00")
    if nul >= 0:
        line = text.count("\n", 0, nul) + 1
        col = nul - (text.rfind("\n", 0, nul) + 1) + 1
        out.append(
            error(
                "E006",
                "NUL byte in input",
                Span(path, line, col, line, col + 1),
                help="is this a binary file?",
            )
        )
    return out


def scan_comments(text: str, path: str) -> tuple[ast.Comment, ...]:
    """Every '#' comment outside a string, with its span."""
    out = []
    for lineno, line in enumerate(text.split("\n"), 1):
        if "#" not in line:
            continue
        _, start = mask_line(line)
        if start is not None:
            body = line[start:].rstrip()
            out.append(
                ast.Comment(body, Span(path, lineno, start + 1, lineno, start + 1 + len(body)))
            )
    return tuple(out)


def normalize_text(text: str) -> str:
    """Drop a BOM and turn CRLF/CR into LF, so columns count what the user sees."""
    if text.startswith("\ufeff"):
        text = text[1:]
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _build(tree: Any, path: str) -> tuple[ast.File | None, list[Diagnostic]]:
    builder = _Builder(path)
    try:
        file: ast.File = builder.build(tree)
    except _TooDeep as deep:
        return None, [
            error(
                "E007",
                f"nesting deeper than {MAX_NESTING} levels",
                deep.span,
                help=deep.help,
            )
        ]
    return file, builder.errors


def _recover(text: str, path: str, first: Diagnostic) -> ParseResult:
    """Re-parse statement by statement: report each broken one, keep the rest."""
    found: list[Diagnostic] = []
    said: set[Span] = set()  # where found has a diagnostic: one a place (a set: 20,000 errors)
    items: list[ast.Item] = []
    chunks = list(_chunks(text))
    # Each chunk is parsed as it stands and its lines moved down to where it is (not
    # parsed behind as many empty lines: a 100k-device file with an error a statement
    # read 5e9 newlines that way).
    for index, (offset, chunk) in enumerate(chunks):
        try:
            tree = parser().parse(chunk)
        except UnexpectedInput as exc:
            diag = _syntax_diagnostic(exc, chunk, path, offset)
            if diag.code == "E004" and index + 1 < len(chunks):
                # The chunk ended early: say so at the statement that follows.
                joined = chunk + "\n" + chunks[index + 1][1]
                try:
                    parser().parse(joined)
                except UnexpectedInput as exc2:
                    diag = _syntax_diagnostic(exc2, joined, path, offset)
            if diag.span not in said:
                found.append(diag)
                said.add(diag.span)
            continue
        except RecursionError:
            deep = error("E007", "input nested too deeply", Span(path, offset + 1, 1, 1, 2))
            found.append(deep)
            said.add(deep.span)
            continue
        file, errors = _build(tree, path)
        if offset:
            errors = [_moved(d, offset) for d in errors]
        found.extend(errors)
        said.update(d.span for d in errors)
        if file is not None:
            items.extend(_moved(file.items, offset) if offset else file.items)
    if first.span not in said:
        found.insert(0, first)
    return ParseResult(ast.File(path, tuple(items)), found, partial=True)


def parse_text(text: str, path: str = "<input>", keep_comments: bool = False) -> ParseResult:
    """Parse one file's text.  Never raises for bad input."""
    with no_gc():
        return _parse_text(text, path, keep_comments)


def _parse_text(text: str, path: str, keep_comments: bool) -> ParseResult:
    text = normalize_text(text)
    diags = _check_text(text, path)
    if diags:
        return ParseResult(None, diags)
    try:
        tree = parser().parse(text)
    except UnexpectedInput as exc:
        return _recover(text, path, _syntax_diagnostic(exc, text, path))
    except RecursionError:
        return ParseResult(None, [error("E007", "input nested too deeply", Span(path, 1, 1, 1, 2))])
    file, errors = _build(tree, path)
    if file is not None and keep_comments:
        file = ast.File(file.path, file.items, scan_comments(text, path), file.span)
    return ParseResult(file, errors)


# A statement's parse, by its text: the line it was parsed at, its items and diagnostics.
Statements = dict[str, tuple[int, tuple[ast.Item, ...], tuple[Diagnostic, ...]]]


def parse_edited(text: str, path: str, memo: Statements) -> ParseResult:
    """Parse a text that changes a little at a time (an editor's buffer): each top-level
    statement whose text is unchanged since the last call is taken from ``memo`` (which is
    updated), moved to its new line if lines were added or removed above it, so a keystroke
    re-parses one statement. The result is what parse_text gives; where a statement does not
    parse alone, the whole text is parsed by parse_text, which recovers and reports every
    error."""
    with no_gc():
        text = normalize_text(text)
        if _check_text(text, path):
            memo.clear()
            return _parse_text(text, path, False)
        fresh: Statements = {}
        items: list[ast.Item] = []
        diags: list[Diagnostic] = []
        for offset, chunk in _chunks(text):
            hit = memo.get(chunk) or fresh.get(chunk)
            if hit is None:
                try:
                    tree = parser().parse("\n" * offset + chunk)
                except (*UnexpectedInput, RecursionError):
                    memo.clear()
                    return _parse_text(text, path, False)
                file, errors = _build(tree, path)
                if file is None:
                    memo.clear()
                    return _parse_text(text, path, False)
                hit = (offset, file.items, tuple(errors))
            at, got, said = hit
            if at != offset:
                got = _moved(got, offset - at)
                said = _moved(said, offset - at)
            # kept where it is now: the next edit moves it only if lines above it change again
            fresh[chunk] = (offset, got, said)
            items += got
            diags += said
        memo.clear()
        memo.update(fresh)
        return ParseResult(ast.File(path, tuple(items)), diags)


class Statement(NamedTuple):
    """A top-level statement's place and its text without layout (see :func:`statements`)."""

    first: int  # the 0-based line its text starts on (its leading blank lines skipped)
    text: str  # its lines with comments and trailing blanks cut, the lines between kept


def statements(text: str) -> list[Statement]:
    """The file's top-level statements without comments and surrounding blank lines: two
    texts with equal lists of statement texts parse to the same syntax, line for line within
    each statement, so one's spans map onto the other's by each statement's ``first``."""
    out = []
    for offset, chunk in _chunks(normalize_text(text)):
        lines = []
        for line in chunk.split("\n"):
            if "#" in line:
                _, start = mask_line(line)
                line = line if start is None else line[:start]
            lines.append(line.rstrip())
        lead = 0
        while lead < len(lines) and not lines[lead]:
            lead += 1
        while lines and not lines[-1]:
            lines.pop()
        out.append(Statement(offset + lead, "\n".join(lines[lead:])))
    return out


_LEAVES = frozenset({str, int, bool, type(None)})  # what a move leaves as it is


# each node class's mover: straight-line code that copies a node with every field moved
# (a statement pasted in the editor moves every node below it: 31,000 at 1k devices)
_MOVERS: dict[type, Callable[[Any, int], Any]] = {}


def _mover(kind: type[Node]) -> Callable[[Any, int], Any]:
    fields = [f"_m(v.{n}, lines) if type(v.{n}) not in _leaves else v.{n}" for n in kind._fields]
    src = f"def move(v, lines):\n    return kind({', '.join(fields)})\n"
    env: dict[str, Any] = {"kind": kind, "_m": _moved, "_leaves": _LEAVES}
    exec(src, env)
    move: Callable[[Any, int], Any] = env["move"]
    return move


def _moved(value: Any, lines: int) -> Any:
    """The same syntax (nodes, diagnostics, spans) ``lines`` lines further down."""
    kind = type(value)
    if kind is Span:
        file, line, col, end_line, end_col = value
        if not line:
            return value
        return _tuple_new(Span, (file, line + lines, col, end_line + lines, end_col))
    if kind is tuple:
        return tuple([v if type(v) in _LEAVES else _moved(v, lines) for v in value])
    if isinstance(value, Node):  # a copy with every field moved
        move = _MOVERS.get(kind)
        if move is None:
            move = _MOVERS[kind] = _mover(kind)
        return move(value, lines)
    if kind is Diagnostic:
        return dataclasses.replace(
            value,
            span=_moved(value.span, lines),
            secondary=tuple(Label(_moved(lab.span, lines), lab.message) for lab in value.secondary),
        )
    return value


def parse(text: str, path: str = "<input>", keep_comments: bool = False) -> ast.File:
    """Parse or raise :class:`DiagnosticError`."""
    result = parse_text(text, path, keep_comments)
    if not result.ok:
        raise DiagnosticError(result.diagnostics)
    assert result.file is not None
    return result.file
