"""The language's grammar, loaded once, and what the tools read from it.

``grammar/iommu.lark`` is the only list of keywords: the parser is built from
it, and the highlighter, the completer and the docs test ask this module for
the keyword set instead of keeping their own.
"""

from __future__ import annotations

import re
import threading
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lark import Lark

    from .lalr import Parser

_lock = threading.Lock()


def grammar_text() -> str:
    return resources.files("iommu_rules.grammar_files").joinpath("iommu.lark").read_text("utf-8")


@cache
def lark_grammar() -> Lark:
    """lark's compiled grammar and LALR tables (cached by lark between runs)."""
    from lark import Lark

    with _lock:
        return Lark(
            grammar_text(),
            parser="lalr",
            lexer="basic",
            maybe_placeholders=True,
            cache=True,
        )


@cache
def parser() -> Parser:
    """The parser: lark's tables run by our lean driver (see lalr.py)."""
    from .lalr import Parser

    return Parser(lark_grammar())


# What a user types, for every named terminal.  Keyword terminals render as
# themselves; see describe_terminal.
TERMINAL_WORDS: dict[str, str] = {
    "NAME": "a name",
    "STRING": "a string",
    "INT": "a number",
    "HEX": "a hex number",
    "SIZE": "a size such as 1G",
    "VERSION": "a version such as 6.7",
    "PCI_ADDR": "a PCI address (dddd:bb:dd.f)",
    "PCI_GLOB": "a PCI address pattern such as 0000:03:00.*",
    "CONFIG_SYMBOL": "a Kconfig symbol such as IOMMU_DEFAULT_PASSTHROUGH",
    "CONFIG_VALUE": "y, n or m",
    "COMPARE": "a comparison (==, !=, <, <=, >, >=)",
    "EQUALITY": "'==' or '!='",
    "EXPECT_OP": "a comparison (==, !=, <, <=, >, >= or has)",
    "$END": "end of file",
}


@cache
def keyword_terminals() -> dict[str, str]:
    """Terminal name -> keyword text for every literal keyword in the grammar."""
    from lark.lexer import PatternStr

    out: dict[str, str] = {}
    for term in lark_grammar().terminals:
        if isinstance(term.pattern, PatternStr):
            out[term.name] = term.pattern.value
    return out


@cache
def keywords() -> frozenset[str]:
    """Every word-like keyword of the language (punctuation excluded)."""
    words = {v for v in keyword_terminals().values() if re.fullmatch(r"[a-z][a-z0-9_\-]*", v)}
    for term in lark_grammar().terminals:
        if term.name == "CONFIG_VALUE":
            words.update(re.findall(r"[a-z0-9_]+", term.pattern.value))
    words.add("has")
    return frozenset(words)


def keywords_after(text: str) -> list[str]:
    """The keywords that may come next after ``text``, asked of the LALR tables.

    Completion uses it: after ``device gpu: "x" {`` it offers the device
    properties and nothing else.
    """
    expected = parser().expected_after(text)
    if not expected:
        return []
    words = keyword_terminals()
    out = {words[t] for t in expected if t in words}
    for rule, choices in rule_choices().items():
        del rule
        if expected & {"NAME"} and out & set(choices):
            out |= set(choices)
    return sorted(w for w in out if re.fullmatch(r"[a-z][\w\-]*", w))


def describe_terminal(name: str) -> str:
    kw = keyword_terminals().get(name)
    if kw is not None:
        return f"'{kw}'"
    return TERMINAL_WORDS.get(name, name.lower())


# Rules whose alternatives are a closed list of keywords, and what to call them.
CHOICE_RULES = {
    "iommu_kind": "iommu kind",
    "domain_type": "domain type",
    "bridge_kind": "bridge kind",
    "driver_flag": "driver behaviour",
    "quirk_name": "quirk",
    "arch_name": "architecture",
    "yes_no": "answer",
}


# Rules whose alternatives are a closed list of keywords, for messages such as
# "unknown iommu kind 'tegra-smu'" and for completion.
@cache
def rule_choices() -> dict[str, tuple[str, ...]]:
    out: dict[str, tuple[str, ...]] = {}
    for rule in lark_grammar().rules:
        origin = rule.origin.name
        if origin not in CHOICE_RULES:
            continue
        found = [keyword_terminals().get(sym.name) for sym in rule.expansion]
        words = [w for w in found if w]
        if words:
            out.setdefault(str(origin), ())
            out[str(origin)] += tuple(words)
    return {k: tuple(sorted(set(v))) for k, v in out.items()}


def iommu_kinds() -> tuple[str, ...]:
    return rule_choices()["iommu_kind"]


def architectures() -> tuple[str, ...]:
    return rule_choices()["arch_name"]


def domain_types() -> tuple[str, ...]:
    return rule_choices()["domain_type"]
