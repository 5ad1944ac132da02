"""The language's grammar, loaded once, and what the tools read from it.

``grammar/iommu.lark`` is the only list of keywords: the parser is built from
it, and the highlighter, the completer and the docs test ask this module for
the keyword set instead of keeping their own.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import re
import threading
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lark import Lark

    from .lalr import Parser

_lock = threading.Lock()
TABLES_FORMAT = 3  # bump when the cached table layout changes


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


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "iommu-rules"


def _build_tables() -> dict[str, Any]:
    from .lalr import tables_from_lark

    lark = lark_grammar()
    tables = tables_from_lark(lark)
    from lark.lexer import PatternStr

    keywords = {
        t.name: t.pattern.value for t in lark.terminals if isinstance(t.pattern, PatternStr)
    }
    choices: dict[str, list[str]] = {}
    for rule in lark.rules:
        origin = str(rule.origin.name)
        if origin in CHOICE_RULES:
            words = [keywords.get(sym.name) for sym in rule.expansion]
            choices.setdefault(origin, []).extend(w for w in words if w)
    config_values = [
        w
        for t in lark.terminals
        if t.name == "CONFIG_VALUE"
        for w in re.findall(r"[a-z0-9_]+", t.pattern.value)
    ]
    tables["keyword_terminals"] = keywords
    tables["choices"] = {k: sorted(set(v)) for k, v in choices.items()}
    tables["config_values"] = config_values
    return tables


@cache
def tables() -> dict[str, Any]:
    """The parse tables and keyword lists, from the user's cache or built with lark.

    A warm start reads one pickle and never imports lark; the file name carries a
    hash of the grammar and of this package's version, so a change rebuilds it.
    """
    from . import __version__

    text = grammar_text()
    digest = hashlib.sha256(f"{__version__}\0{TABLES_FORMAT}\0{text}".encode()).hexdigest()[:16]
    path = _cache_dir() / f"tables-{digest}.pickle"
    with _lock:
        try:
            with path.open("rb") as fh:
                data: dict[str, Any] = pickle.load(fh)
            return data
        except (OSError, EOFError, pickle.UnpicklingError, AttributeError, ValueError):
            pass
    data = _build_tables()
    try:
        from .pathio import write_bytes_atomic

        path.parent.mkdir(parents=True, exist_ok=True)
        write_bytes_atomic(path, pickle.dumps(data, protocol=pickle.HIGHEST_PROTOCOL))
    except OSError:
        pass  # a read-only home still works, just without the cache
    return data


@cache
def parser() -> Parser:
    """The parser: the grammar's LALR tables run by our lean driver (see lalr.py)."""
    from .lalr import Parser

    return Parser(tables())


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
    return dict(tables()["keyword_terminals"])


@cache
def keywords() -> frozenset[str]:
    """Every word-like keyword of the language (punctuation excluded)."""
    words = {v for v in keyword_terminals().values() if re.fullmatch(r"[a-z][a-z0-9_\-]*", v)}
    words.update(tables()["config_values"])
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


@cache
def platform_facts() -> tuple[str, ...]:
    """The facts a ``platform`` block states (``arch``, ``kernel``, ...), asked of the
    grammar: what what-if's ``set FACT`` and the shells' ``--set`` complete."""
    return tuple(keywords_after("platform { "))


def describe_terminal(name: str) -> str:
    kw = keyword_terminals().get(name)
    if kw is not None:
        return f"'{kw}'"
    return TERMINAL_WORDS.get(name, name.lower())


# Rules whose alternatives are a closed list of keywords, and what to call them.
CHOICE_RULES = {
    "pci_cap": "PCI capability",
    "iommu_kind": "iommu kind",
    "domain_type": "domain type",
    "domain_kind": "driver domain kind",
    "built_kind": "driver domain kind",
    "built_guard": "attach condition",
    "bridge_kind": "bridge kind",
    "driver_flag": "driver behaviour",
    "quirk_name": "quirk",
    "arch_name": "architecture",
    "yes_no": "answer",
    "acs_flag": "ACS flag",
    "pcie_kind": "PCI Express type",
}


# Rules whose alternatives are a closed list of keywords, for messages such as
# "unknown iommu kind 'tegra-smu'" and for completion.
@cache
def rule_choices() -> dict[str, tuple[str, ...]]:
    return {k: tuple(v) for k, v in tables()["choices"].items()}


def iommu_kinds() -> tuple[str, ...]:
    return rule_choices()["iommu_kind"]


def architectures() -> tuple[str, ...]:
    return rule_choices()["arch_name"]


def domain_types() -> tuple[str, ...]:
    return rule_choices()["domain_type"]


def mask_line(line: str) -> tuple[str, int | None]:
    """The line with string literals blanked (columns kept), and where a '#' comment starts.

    One scanner for everything that must skip strings and comments: brace
    matching in messages, comment collection for fmt, and the REPL's
    'is this entry finished' check.
    """
    out = list(line)
    in_str = False
    i = 0
    while i < len(line):
        ch = line[i]
        if in_str:
            out[i] = " "
            if ch == "\\" and i + 1 < len(line):
                out[i + 1] = " "
                i += 1
            elif ch == '"':
                in_str = False
        elif ch == '"':
            in_str = True
            out[i] = " "
        elif ch == "#":
            return "".join(out[:i]), i
        i += 1
    return "".join(out), None
