"""A one-regex lexer with soft keywords, for lark's LALR parser.

lark's contextual lexer compiles one regex per parser state, lazily, which
costs ~80 ms on every start.  This lexer scans with a single regex and asks the
parser which terminals it accepts to decide what a word is: ``dma`` is the
domain type after ``requires`` and a plain name after ``device``.  Keywords
still come from the grammar (``lexer_conf.terminals``), never from a list here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from lark.exceptions import UnexpectedCharacters
from lark.lexer import Lexer, PatternStr, Token

_SCAN = re.compile(
    r"""
    (?P<WS>[ \t\f\r\n]+)
  | (?P<COMMENT>\#[^\n]*)
  | (?P<STRING>"(?:[^"\\\n]|\\.)*")
  | (?P<PCI>(?:[0-9a-fA-F*]{4}:)?[0-9a-fA-F*]{2}:[0-9a-fA-F*]{2}\.[0-7*])
  | (?P<NUMBER>0[xX][0-9a-fA-F]+|[0-9]+(?:\.[0-9]+(?:\.[0-9]+)?|[KMGT])?)
  | (?P<WORD>[A-Za-z_][A-Za-z0-9_]*(?:-[A-Za-z0-9_]+)*)
  | (?P<OP>\.\.|==|!=|>=|<=|[{}()\[\]:;,.+=<>])
    """,
    re.VERBOSE,
)


class SoftKeywordLexer(Lexer):
    __future_interface__ = 2

    def __init__(self, lexer_conf: Any) -> None:
        self.terminals = list(lexer_conf.terminals)
        self.by_name = {t.name: t for t in self.terminals}
        # literal text -> terminal name ('device' -> 'DEVICE', '{' -> 'LBRACE')
        self.literals: dict[str, str] = {}
        self.patterns: list[tuple[str, re.Pattern[str]]] = []
        for t in sorted(self.terminals, key=lambda t: -t.priority):
            if isinstance(t.pattern, PatternStr):
                self.literals[t.pattern.value] = t.name
            elif t.name not in lexer_conf.ignore:
                self.patterns.append((t.name, re.compile(t.pattern.to_regexp())))
        self._memo: dict[str, tuple[str, ...]] = {}

    def candidates(self, text: str) -> tuple[str, ...]:
        """Terminals that could produce ``text``: the keyword first, then regexes."""
        found = self._memo.get(text)
        if found is None:
            names = [self.literals[text]] if text in self.literals else []
            names += [name for name, rx in self.patterns if rx.fullmatch(text)]
            found = tuple(names)
            if len(self._memo) < 50_000:
                self._memo[text] = found
        return found

    def lex(self, lexer_state: Any, parser_state: Any) -> Iterator[Token]:
        text = lexer_state.text
        if not isinstance(text, str):  # lark >= 1.3 passes a TextSlice
            text = text.text
        states = parser_state.parse_conf.parse_table.states
        pos, line, col = 0, 1, 1
        end = len(text)
        scan = _SCAN.match
        while pos < end:
            m = scan(text, pos)
            if m is None:
                raise _unexpected(text, pos, line, col, set(states[parser_state.position]))
            kind = m.lastgroup
            value = m.group()
            stop = m.end()
            if kind == "WS" or kind == "COMMENT":
                newlines = value.count("\n")
                if newlines:
                    line += newlines
                    col = len(value) - value.rfind("\n")
                else:
                    col += len(value)
                pos = stop
                continue
            accepts = states[parser_state.position]
            names = self.candidates(value)
            chosen = next((n for n in names if n in accepts), None)
            if chosen is None:
                if not names:
                    raise _unexpected(text, pos, line, col, set(accepts))
                chosen = names[0]
            tok = Token(chosen, value, pos, line, col, line, col + len(value), stop)
            col += len(value)
            pos = stop
            yield tok


def _unexpected(text: str, pos: int, line: int, col: int, allowed: set[str]) -> Exception:
    exc: Exception = UnexpectedCharacters(text, pos, line, col, allowed=allowed)  # type: ignore[no-untyped-call]
    return exc
