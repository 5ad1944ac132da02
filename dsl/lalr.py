"""A lean LALR driver over lark's tables, with a soft-keyword lexer built in.

lark compiles the grammar and the LALR(1) tables; this module runs them.  It
exists for speed: lark's generic runtime (interactive parser state, tree-builder
wrapper chain, position propagation) costs several times more than the tables
themselves, and parsing a 10k-device board must take well under a second.
The tables are kept as plain data in the user's cache directory, so a run that
finds them does not import lark at all.  The trees it builds mirror lark's
(same rule names, filtered anonymous tokens, ``_rule`` inlining, ``?rule``
expansion, ``[x]`` placeholders), with positions taken from every token,
keywords and braces included.

Lexing asks the current parser state which terminals it accepts, so a keyword
is a plain name wherever the grammar expects a name (``device dma: ...``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from operator import itemgetter
from typing import Any, NamedTuple


class UnexpectedCharacters(Exception):
    """No token starts here (the attributes are lark's, so messages read alike)."""

    def __init__(self, text: str, pos: int, line: int, column: int, allowed: set[str]):
        super().__init__(f"unexpected character at {line}:{column}")
        self.char = text[pos] if pos < len(text) else ""
        self.pos_in_stream = pos
        self.line = line
        self.column = column
        self.allowed = allowed


class UnexpectedToken(Exception):
    """A token the grammar does not accept here; ``expected`` are terminal names."""

    def __init__(self, token: Tok, expected: set[str]):
        super().__init__(f"unexpected {token.type} at {token.line}:{token.column}")
        self.token = token
        self.expected = expected
        self.line = token.line
        self.column = token.column


# The whitespace and comments before each token, then the token (empty at the end of the
# text, or where no token starts): read for a whole chunk of lines at once by findall, in C.
# Possessive (`++`, `*+`): nothing after a run can take part of it back, and re then
# keeps no places to return to (a tenth of findall's time); the blanks and comments as
# one run of blanks, then comments each with the blanks after it (no alternation a
# character).
_TOKENS = re.compile(
    r"""
    ([ \t\f\r\n]*+(?:\#[^\n]*+[ \t\f\r\n]*+)*+)
    (
      "(?:[^"\\\n]|\\.)*+"
    | (?:[0-9a-fA-F*]{4}:)?[0-9a-fA-F*]{2}:[0-9a-fA-F*]{2}\.[0-7*]
    | 0[xX][0-9a-fA-F]++|[0-9]++(?:\.[0-9]++(?:\.[0-9]++)?|[KMGT])?
    | [A-Za-z_][A-Za-z0-9_]*+(?:-[A-Za-z0-9_]++)*+
    | \.\.|==|!=|>=|<=|[{}()\[\]:;,.+=<>]
    )?
    """,
    re.VERBOSE,
)
CHUNK = 1 << 16  # characters read a findall: tokens never span lines, so a chunk ends at one


# A token is a named tuple the driver makes with tuple.__new__, one C call: a 10k-device
# board has 190,000 of them, and a str subclass whose __new__ set seven slots cost 0.36 us
# a token against 0.17 us. (Tree nodes stay a slotted class: as tuples their fields read
# slower and the builder reads them more often than the driver makes them.)
_new = tuple.__new__


class Tok(NamedTuple):
    """A token: its text and where it is (the attributes lark's Token has). ``str(tok)``
    is its text; a token never spans lines."""

    value: str
    type: str
    start_pos: int
    line: int
    column: int
    end_line: int
    end_column: int
    end_pos: int

    def __str__(self) -> str:
        return self.value


class Raw:
    """A parse-tree node shaped like lark's Tree, and its own ``meta``."""

    __slots__ = ("children", "column", "data", "end_column", "end_line", "line")
    empty = False

    def __init__(self, data: str, children: list[Any], first: Any, last: Any):
        self.data = data
        self.children = children
        if first is None:
            self.line = self.column = self.end_line = self.end_column = 0
        else:
            self.line = first.line
            self.column = first.column
            self.end_line = last.end_line
            self.end_column = last.end_column

    @property
    def meta(self) -> Raw:
        return self

    def __repr__(self) -> str:
        return f"Raw({self.data!r}, {self.children!r})"


def rule_plan(rule: Any, maybe_placeholders: bool) -> dict[str, Any]:
    """What lark's tree builder does for ``rule``, as plain data that can be cached."""
    expansion = rule.expansion
    opts = rule.options
    empty = opts.empty_indices if maybe_placeholders else None
    if empty:
        s = "".join(str(int(b)) for b in empty)
        nones = [len(ones) for ones in s.split("0")]
    else:
        nones = [0] * (len(expansion) + 1)
    plan: list[tuple[int, bool, int, str]] = []
    pending = 0
    for i, sym in enumerate(expansion):
        pending += nones[i]
        if opts.keep_all_tokens or not (sym.is_term and sym.filter_out):
            inlined = (not sym.is_term) and sym.name.startswith("_")
            plan.append((i, inlined, pending, str(sym.name)))
            pending = 0
    # plain str, never lark's Token: a Token key makes every goto lookup call its Python
    # __eq__, and pickling one makes reading the cached tables import lark
    return {
        "name": str(rule.alias or opts.template_source or rule.origin.name),
        "origin": str(rule.origin.name),
        "size": len(expansion),
        "plan": plan,
        "append_none": pending + nones[len(expansion)],
        "expand1": bool(opts.expand1) and not rule.alias,
    }


# How a reduction takes an inlined `_rule` child (lark splices its children in): as it
# is (every alternative of the rule hands up its one child), by splicing its children, or
# by looking (some alternatives hand up their child, the others make a Spliced node).
KEEP, SPLICE, CHECK = 0, 1, 2


class Spliced(Raw):
    """The node of an inlined rule some of whose alternatives hand up their one child
    instead (`_device_prop: tags | ... | ";"`): its parent splices only these."""

    __slots__ = ()


# what straight-line reductions name (see straight)
_STRAIGHT_ENV: dict[str, Any] = {"Raw": Raw, "Spliced": Spliced, "new": object.__new__}


def passes_child(data: dict[str, Any]) -> bool:
    """A rule whose node its parent would replace by its one kept child (an inlined
    `_rule` of one symbol, or a `?rule` of one): the child itself goes up, and no node is
    made. A 10k-device board reduces 60,000 of them (a device's properties, its numbers)."""
    plan = data["plan"]
    return (
        (data["expand1"] or data["origin"].startswith("_"))
        and len(plan) == 1
        and not plan[0][1]
        and not plan[0][2]
        and not data["append_none"]
    )


def splice_modes(rules: list[dict[str, Any]]) -> tuple[list[list[int]], set[str]]:
    """For each rule, how it takes each kept child (KEEP, SPLICE or CHECK); and the
    inlined rules whose nodes are Spliced (those with alternatives that pass a child)."""
    passes: dict[str, list[bool]] = {}
    for r in rules:
        if r["origin"].startswith("_"):
            passes.setdefault(r["origin"], []).append(passes_child(r))
    mixed = {o for o, p in passes.items() if any(p) and not all(p)}
    modes = []
    for r in rules:
        row = []
        for _i, inlined, _add, sym in r["plan"]:
            if not inlined or all(passes[sym]):
                row.append(KEEP)
            else:
                row.append(CHECK if sym in mixed else SPLICE)
        modes.append(row)
    return modes, mixed


def _reducer(data: dict[str, Any], modes: list[int], node: type[Raw]) -> Callable[[list[Any]], Any]:
    """One function per rule that builds the node lark's tree builder would: straight-line
    code for the common shapes (150,000 reductions on a 10k-device board), the
    general closure for the rest. ``node`` is the class of the nodes it makes."""
    plan = data["plan"]
    if passes_child(data):
        return itemgetter(plan[0][0])  # the one kept child itself
    general = _general_reducer(data, modes, node)
    kids = [f"c{i}" for i in range(data["size"])]
    body = straight(data, modes, node, kids, "n")
    if body is None:
        return general
    src = (
        "def reduce(c):\n"
        f"    {', '.join(kids)}, = c\n"
        f"    if {kids[0]}.line and {kids[-1]}.line:\n"
        + "".join(f"        {line}\n" for line in body)
        + "        return n\n"
        "    return general(c)\n"
    )
    env = {**_STRAIGHT_ENV, "general": general}
    exec(src, env)
    reduce: Callable[[list[Any]], Any] = env["reduce"]
    return reduce


def straight(
    data: dict[str, Any],
    modes: list[int],
    node: type[Raw],
    kids: list[str],
    out: str,
    classes: dict[str, type] | None = None,
    gone: dict[str, tuple[str, str, str]] | None = None,
) -> list[str] | None:
    """The lines that set ``out`` to the node a reduction of the rule makes from ``kids``
    (one expression a child) where the first and the last have a position, with no
    call: a reducer runs them, and a replayed segment has them inline (see
    ``_keep_shape``), which knows the class of some children (``classes``) and leaves
    out the empty spliced nodes it never makes (``gone``: each one's name and the
    children its position is taken from). None for the rules only the general reducer
    takes (placeholders, ``?rule`` expansion, no children)."""
    if not _straight_rule(data):
        return None
    plan = data["plan"]
    classes = classes or {}
    gone = gone or {}
    # Kept children in order; an inlined `_rule` child gives its children (the first one's
    # list is taken over, as lark does: item lists are left recursive).
    parts = []
    for n, ((i, _, _, _), mode) in enumerate(zip(plan, modes, strict=True)):
        kid = kids[i]
        if mode == CHECK and kid in classes:
            mode = SPLICE if classes[kid] is Spliced else KEEP
        if kid in gone:  # an empty node spliced in: no children to give
            assert mode != KEEP, "a kept child is made before"
            if not n:
                parts.append("kids = []")
        elif mode == KEEP:
            parts.append(f"kids.append({kid})" if n else f"kids = [{kid}]")
        elif mode == SPLICE:
            parts.append(f"kids += {kid}.children" if n else f"kids = {kid}.children")
        elif n:
            parts.append(f"if {kid}.__class__ is Spliced: kids += {kid}.children")
            parts.append(f"else: kids.append({kid})")
        else:
            parts.append(f"kids = {kid}.children if {kid}.__class__ is Spliced else [{kid}]")
    first, last = _ends(kids, gone)
    if _grows(data, modes):
        return [
            *parts,
            f"{first}.end_line = {last}.end_line",
            f"{first}.end_column = {last}.end_column",
            f"{out} = {first}",
        ]
    # the node's slots set here: Raw.__init__'s call and its test for a missing position
    # cost a fifth of a reduction, and 90,000 reductions at 10k devices make one
    return [
        *(parts or ["kids = []"]),
        *_made(out, node.__name__, data["name"], first, last),
        f"{out}.children = kids",
    ]


def _straight_rule(data: dict[str, Any]) -> bool:
    """Whether straight-line code makes the rule's nodes (else only the general reducer)."""
    plan = data["plan"]
    return not (
        data["append_none"]
        or any(p[2] for p in plan)
        or not data["size"]
        or data["expand1"]
        or passes_child(data)
    )


def _grows(data: dict[str, Any], modes: list[int]) -> bool:
    """A left-recursive list (`__items: __items _item`) grows its first child's node in
    place: one node per list, not one per item (60,000 fewer nodes at 10k devices)."""
    plan = data["plan"]
    return bool(
        plan
        and plan[0][0] == 0
        and modes[0] == SPLICE
        and plan[0][3] == data["name"] == data["origin"]
    )


def _ends(kids: list[str], gone: dict[str, tuple[str, str, str]]) -> tuple[str, str]:
    """The children whose positions a node made of ``kids`` takes: its first and last,
    or for one never made, the children it would have taken them from."""
    first = gone[kids[0]][1] if kids[0] in gone else kids[0]
    last = gone[kids[-1]][2] if kids[-1] in gone else kids[-1]
    return first, last


def _made(out: str, cls: str, name: str, first: str, last: str) -> list[str]:
    """The lines that make node ``out`` but for its children, with the positions of
    ``first`` and ``last``."""
    return [
        f"{out} = new({cls})",
        f"{out}.data = {name!r}",
        f"{out}.line = {first}.line",
        f"{out}.column = {first}.column",
        f"{out}.end_line = {last}.end_line",
        f"{out}.end_column = {last}.end_column",
    ]


def _general_reducer(
    data: dict[str, Any], modes: list[int], node: type[Raw]
) -> Callable[[list[Any]], Any]:
    """Any rule: placeholders, `?rule` expansion, children without a position."""
    name = data["name"]
    plan = [(i, mode, add) for (i, _, add, _), mode in zip(data["plan"], modes, strict=True)]
    append_none: int = data["append_none"]
    expand1: bool = data["expand1"]
    simple = not append_none and all(mode == KEEP and not a for _, mode, a in plan)
    indices = [i for i, _, _ in plan]

    def reduce(children: list[Any]) -> Any:
        # Every stack value is a Tok or a Raw; only empty Raws have no position.
        first = last = None
        if children:
            first = children[0]
            if not first.line:
                first = next((c for c in children if c.line), None)
            if first is not None:
                last = children[-1]
                if not last.line:
                    last = next(c for c in reversed(children) if c.line)
        if simple:
            filtered = [children[i] for i in indices]
        else:
            filtered = []
            for i, mode, add_none in plan:
                if add_none:
                    filtered += [None] * add_none
                kid = children[i]
                if mode == KEEP or (mode == CHECK and kid.__class__ is not Spliced):
                    filtered.append(kid)
                elif filtered:
                    filtered += kid.children
                else:
                    # Left recursion (item lists): extend the child's list in place,
                    # as lark does, or a long file costs quadratic time.
                    filtered = kid.children
            if append_none:
                filtered += [None] * append_none
        if expand1 and len(filtered) == 1:
            return filtered[0]
        return node(name, filtered, first, last)

    return reduce


SHIFT, REDUCE = 0, 1
# Reductions an error follows a lookahead through before it gives up and keeps it: far
# more than any nesting a board may have (MAX_NESTING), few enough that 100,000 nested
# `not`s do not make an error message take seconds.
_FOLLOWED = 2_000
RETYPE = 2  # in a recorded segment: a token the state typed other than as its first candidate
_END = ("$END",)
# What the shapes may hold, in tokens of their keys (a key is a tuple of ids, ~40 bytes a
# token): the shapes kept for replay (a 10k-device board has a handful, ~100 tokens),
# and the shapes counted before one is recorded, forgotten together when they fill up
_SHAPE_TOKENS = 1 << 17
_SEEN_TOKENS = 1 << 18
# the sighting of a shape that records it: making its function costs what 10-20 replays
# save, so a shape met only a few times (most of a small board's) is never made one
RECORD_AT = 16
_WORDS = 50_000  # words (and forms) whose terminals are kept
_LONGEST = 256  # tokens in a segment worth a shape (a statement, not a whole indented file)


def char_cells(patterns: list[str]) -> dict[int, str] | None:
    """A translation table that replaces each ASCII character by the first of those no
    pattern tells apart (every character set, literal and wildcard in every pattern holds
    all of them or none): a word is matched by a pattern exactly when its form, the word so
    translated, is, so a word's terminals are worked out once per form. None where a
    pattern uses what this reading leaves out (case folding, anchors, lookarounds, group
    references): the caller then matches every word itself."""
    sets: set[frozenset[str]] = set()
    try:
        from re import _parser

        for pattern in patterns:
            parsed = _parser.parse(pattern)
            if parsed.state.flags & _CHAR_FLAGS or not _char_sets(parsed.data, sets):
                return None
    except Exception:  # another Python's internals: read nothing
        return None
    ordered = sorted(sets, key=sorted)
    first: dict[tuple[bool, ...], str] = {}
    return {ord(c): first.setdefault(tuple(c in s for s in ordered), c) for c in _ASCII}


_ASCII = [chr(i) for i in range(128)]
# flags that change which characters a class or wildcard holds
_CHAR_FLAGS = re.IGNORECASE | re.LOCALE | re.DOTALL | re.ASCII
_CATEGORIES = {
    f"CATEGORY_{name}": re.compile(rx)
    for name, rx in [("DIGIT", r"\d"), ("NOT_DIGIT", r"\D"), ("SPACE", r"\s"),
                     ("NOT_SPACE", r"\S"), ("WORD", r"\w"), ("NOT_WORD", r"\W")]
}  # fmt: skip
_NESTS = ("SUBPATTERN", "ATOMIC_GROUP", "MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT")


def _char_sets(items: Any, sets: set[frozenset[str]]) -> bool:
    """Add to ``sets`` each set of ASCII characters the pattern ``items`` tests a
    character against; False where it tests anything else."""
    for op, arg in items:
        name = str(op)
        if name == "LITERAL":
            sets.add(frozenset(chr(arg)))
        elif name == "NOT_LITERAL":
            sets.add(frozenset(c for c in _ASCII if c != chr(arg)))
        elif name == "ANY":
            sets.add(frozenset(c for c in _ASCII if c != "\n"))
        elif name == "IN":
            held: set[str] = set()
            negate = False
            for item, value in arg:
                kind = str(item)
                if kind == "LITERAL":
                    held.add(chr(value))
                elif kind == "RANGE":
                    held.update(map(chr, range(value[0], min(value[1], 127) + 1)))
                elif kind == "NEGATE":
                    negate = True
                elif kind == "CATEGORY" and str(value) in _CATEGORIES:
                    held.update(filter(_CATEGORIES[str(value)].match, _ASCII))
                else:
                    return False
            sets.add(frozenset(c for c in _ASCII if (c in held) != negate))
        elif name in _NESTS:
            if name == "SUBPATTERN" and arg[1] & _CHAR_FLAGS:
                return False
            if not _char_sets(arg if name == "ATOMIC_GROUP" else arg[-1], sets):
                return False
        elif name == "BRANCH":
            if not all(_char_sets(alternative, sets) for alternative in arg[1]):
                return False
        else:  # anchors, lookarounds, group references
            return False
    return True


def tables_from_lark(lark: Any) -> dict[str, Any]:
    """Everything the driver needs from lark's compiled grammar, as plain data."""
    from lark.lexer import PatternStr
    from lark.parsers.lalr_analysis import Shift

    table = lark.parser.parser.parser.parse_table
    rules = list(lark.rules)
    index = {rule: i for i, rule in enumerate(rules)}
    states = {
        state: {
            sym: (SHIFT, arg) if action is Shift else (REDUCE, index[arg])
            for sym, (action, arg) in actions.items()
        }
        for state, actions in table.states.items()
    }
    ignore = set(lark.lexer_conf.ignore)
    literals: dict[str, str] = {}
    patterns: list[tuple[str, str]] = []
    for t in sorted(lark.terminals, key=lambda t: (-t.priority, t.name)):
        if isinstance(t.pattern, PatternStr):
            literals[t.pattern.value] = t.name
        elif t.name not in ignore:
            patterns.append((t.name, t.pattern.to_regexp()))
    maybe = bool(lark.options.maybe_placeholders)
    return {
        "states": states,
        "start": table.start_states["start"],
        "end": table.end_states["start"],
        "rules": [rule_plan(rule, maybe) for rule in rules],
        "literals": literals,
        "patterns": patterns,
    }


class Parser:
    """Runs the grammar's LALR tables (from lark, cached as plain data)."""

    def __init__(self, tables: dict[str, Any], record_at: int | None = RECORD_AT):
        """``record_at``: the sighting of a segment shape that records it for replay;
        None runs the tables over every token (the reference replays are held to)."""
        self.states: dict[int, dict[str, tuple[int, int]]] = tables["states"]
        self.start_state: int = tables["start"]
        self.end_state: int = tables["end"]
        self.literals: dict[str, str] = tables["literals"]
        self.patterns = [(name, re.compile(rx)) for name, rx in tables["patterns"]]
        self._memo: dict[str, tuple[str, ...]] = {}
        # a new word's terminals are its form's: 760 forms for the 29,000 distinct words
        # of a 10k-device board (names, stream IDs, PCI addresses)
        self._cells = char_cells([rx for _name, rx in tables["patterns"]])
        self._forms: dict[str, tuple[str, ...]] = {}
        # one tuple object per set of candidates, so a segment's shape is their ids (never
        # emptied: an id in a kept shape must not come back as another tuple's)
        self._interned: dict[tuple[str, ...], tuple[str, ...]] = {}
        # each rule's (size, reducer, left-hand side): one lookup a reduction; no reducer
        # for a rule of one symbol that hands it up as it is
        modes, mixed = splice_modes(tables["rules"])
        self.rules: list[tuple[int, Callable[[list[Any]], Any] | None, str]] = []
        # and what a replayed segment needs to make each rule's nodes inline (straight)
        self._plans: list[tuple[dict[str, Any], list[int], type[Raw]]] = []
        for r, row in zip(tables["rules"], modes, strict=True):
            node = Spliced if r["origin"] in mixed else Raw
            reduce = None if r["size"] == 1 and passes_child(r) else _reducer(r, row, node)
            self.rules.append((r["size"], reduce, r["origin"]))
            self._plans.append((r, row, node))
        # The state between top-level items (after the start rule's item list) and the
        # words that can begin an item there: where parse() may replay a segment. None
        # where the start rule is not a single list, and nothing is replayed.
        self._list_state: int | None = None
        self._starters: frozenset[str] = frozenset()
        begin = [r for r in tables["rules"] if r["origin"] == "start" and len(r["plan"]) == 1]
        self._record_at = record_at or 0
        if begin and record_at is not None:
            goto = self.states[self.start_state].get(begin[0]["plan"][0][3])
            if goto is not None:
                self._list_state = goto[1]
                accepted = self.states[goto[1]]
                self._starters = frozenset(w for w, t in self.literals.items() if t in accepted)
        self._shapes: dict[tuple[Any, ...], Callable[[list[Tok], list[Any]], None]] = {}
        self._seen: dict[tuple[Any, ...], int] = {}
        self._shape_tokens = 0  # tokens in the keys of _shapes
        self._seen_tokens = 0  # and of _seen

    def forget(self) -> None:
        """Empty the word memo and the segment shapes: a parse after it classifies every
        word afresh and records every shape again, as the first parse of a process does."""
        self._memo.clear()
        self._forms.clear()
        self._shapes.clear()
        self._seen.clear()
        self._shape_tokens = self._seen_tokens = 0

    def candidates(self, text: str) -> tuple[str, ...]:
        """Terminals that could produce ``text``: the keyword first, then regexes."""
        found = self._memo.get(text)
        if found is None:
            if self._cells is not None and text.isascii():
                # the patterns match the word as they match its form (see char_cells)
                form = text.translate(self._cells)
                matched = self._forms.get(form)
                if matched is None:
                    matched = self._matched(form)
                    if len(self._forms) < _WORDS:
                        self._forms[form] = matched
            else:
                matched = self._matched(text)
            found = (self.literals[text], *matched) if text in self.literals else matched
            found = self._interned.setdefault(found, found)
            if len(self._memo) < _WORDS:
                self._memo[text] = found
        return found

    def _matched(self, text: str) -> tuple[str, ...]:
        """The terminals whose patterns match ``text`` (a new form: 760 at 10k devices)."""
        return tuple([name for name, rx in self.patterns if rx.fullmatch(text)])

    def expected_after(self, text: str) -> set[str] | None:
        """Terminals the grammar accepts at the end of ``text`` (for completion), or None
        when ``text`` already fails before its end."""
        try:
            self.parse(text)
        except UnexpectedToken as exc:
            if exc.token.type == "$END":
                return set(exc.expected)
            return None
        except UnexpectedCharacters:
            return None
        return {"$END"}

    def accepts(self, state: int) -> set[str]:
        return {k for k in self.states[state] if k.isupper() or k.startswith("$")}

    def expected(self, stack: list[int]) -> set[str]:
        """The terminals the parser would shift next from this stack of states: each of
        the top state's lookaheads, followed through the reductions it calls for. The
        state's own lookaheads are wider: LALR merges states that differ only in what
        surrounds them, so the state after a number expects whatever follows a number
        anywhere in the grammar (after `kernel 99`, 'aperture' and ')')."""
        return {term for term in self.accepts(stack[-1]) if self._shifts(stack, term)}

    def _shifts(self, stack: list[int], term: str) -> bool:
        # the stack is read in place: stack[:depth] lies under the states this pushed
        states, rules = self.states, self.rules
        depth = len(stack)
        pushed: list[int] = []
        for _ in range(_FOLLOWED):
            step = states[pushed[-1] if pushed else stack[depth - 1]].get(term)
            if step is None:
                return False
            action, arg = step
            if action == SHIFT:
                return True
            size, _reduce, origin = rules[arg]
            mine = min(size, len(pushed))
            del pushed[len(pushed) - mine :]
            depth -= size - mine
            goto = states[pushed[-1] if pushed else stack[depth - 1]].get(origin)
            if goto is None:
                return False
            pushed.append(goto[1])
            if goto[1] == self.end_state and term == "$END":
                return True
        return True  # too deep to follow (hostile nesting): kept, as the state keeps it

    def parse(self, text: str) -> Any:
        """The tree of ``text``; UnexpectedCharacters or UnexpectedToken where it fails.

        The text is read a segment at a time: from a word that can begin a top-level item,
        at column 1, to the next such word (a guess at a statement). Where the parser is
        between items as a segment starts, all it does with the segment, the word after
        it included, is fixed by the segment's shape (the first word's terminal and every
        later word's candidate terminals): the 16th segment of a shape (``RECORD_AT``) records the
        driver's actions and the later ones replay them (see ``_keep_shape``), calling the
        same reducers on the same tokens, so the tree is the same. The rest, and every
        error, runs the tables. A 10k-device board replays 99 % of its statements."""
        memo = self._memo
        candidates = self.candidates
        starters = self._starters
        shapes = self._shapes
        seen = self._seen
        record_at = self._record_at
        between = self._list_state
        state_stack = [self.start_state]
        value_stack: list[Any] = []
        # the line's number and where the newline before it is: a column is pos - nl
        pos, line, nl, n = 0, 1, -1, len(text)
        findall = _TOKENS.findall
        chunk_end = 0
        seg: list[Tok] = []  # the segment so far, its first token resolved and reduced for
        names_of: list[tuple[str, ...]] = []  # each token's candidate terminals
        while True:  # a chunk of whole lines at a time
            end = text.find("\n", chunk_end + CHUNK)
            chunk_end = n if end < 0 else end + 1
            for ws, value in findall(text, pos, chunk_end):
                if ws:
                    if "\n" in ws:
                        line += ws.count("\n")
                        nl = pos + ws.rfind("\n")
                    pos += len(ws)
                if value:
                    names = memo.get(value) or candidates(value)
                    col, size = pos - nl, len(value)
                    # typed as its first candidate; _feed retypes it where the state wants
                    # another
                    tok = _new(
                        Tok,
                        (value, names[0] if names else "", pos, line, col, line, col + size,
                         pos + size),
                    )  # fmt: skip
                    pos += size
                    if names and (col != 1 or value not in starters) and seg:
                        seg.append(tok)
                        names_of.append(names)
                        continue
                elif pos < n:
                    if pos == chunk_end:
                        continue  # the chunk ends: read on
                    # no token starts here: an error where the parser reaches it
                    tok = _new(Tok, ("", "", pos, line, pos - nl, line, pos - nl, pos))
                    names = ()
                else:
                    tok = _new(Tok, ("", "$END", pos, line, pos - nl, line, pos - nl, pos))
                    names = _END
                # -- a segment ends before `tok` (or `tok` is the text's first)
                seg.append(tok)
                names_of.append(names)
                log: list[tuple[int, int, str]] | None = None
                if 1 < len(seg) <= _LONGEST and value and names and between is not None:
                    first = len(state_stack) == 1
                    if first or (len(state_stack) == 2 and state_stack[1] == between):
                        key = (first, seg[0].type, *map(id, names_of[1:]))
                        shape = shapes.get(key)
                        if shape is not None:
                            shape(seg, value_stack)
                            del state_stack[1:]
                            state_stack.append(between)
                            seg, names_of = [seg[-1]], [names]
                            continue
                        count = seen.get(key, 0) + 1
                        if count == record_at:
                            log = []
                        if count == 1:
                            self._count_new(key)
                        if count <= record_at:
                            seen[key] = count
                done = self._feed(text, seg, names_of, state_stack, value_stack, log)
                if done is not None:
                    return done
                if log is not None and state_stack[1:] == [between]:
                    self._keep_shape(key, log, first)
                seg, names_of = [seg[-1]], [names_of[-1]]

    def _feed(
        self,
        text: str,
        toks: list[Tok],
        names_of: list[tuple[str, ...]],
        state_stack: list[int],
        value_stack: list[Any],
        log: list[tuple[int, int, str]] | None,
    ) -> Any:
        """Run the tables over a segment and the word after it: shift each token but the
        last (the first is resolved and reduced for already, unless it is alone), reduce
        for the last. Returns the tree once $END is reduced for, else None. Each step goes
        to ``log`` when one is given."""
        states = self.states
        rules = self.rules
        end_state = self.end_state
        state = state_stack[-1]
        last = len(toks) - 1
        for j, (tok, names) in enumerate(zip(toks, names_of, strict=True)):
            actions = states[state]
            undo: list[list[int]] = []  # the states each reduction for this token popped
            if j or not last:
                # the terminal: the first candidate this state accepts, else the first
                for ttype in names:
                    if ttype in actions:
                        break
                else:
                    if not names:
                        raise _unexpected_char(
                            text, tok.start_pos, tok.line, tok.column, self.expected(state_stack)
                        )
                    ttype = names[0]
                if ttype != tok.type:
                    tok = toks[j] = tok._replace(type=ttype)
                    if log is not None:
                        log.append((RETYPE, j, ttype))
            else:
                ttype = tok.type
            # reduce until it shifts (the state's actions are at hand)
            while True:
                step = actions.get(ttype)
                if step is None:
                    raise UnexpectedToken(tok, self.expected(_undone(state_stack, undo)))
                action, arg = step
                if action == SHIFT:
                    if j == last:
                        return None
                    state = arg
                    state_stack.append(arg)
                    value_stack.append(tok)
                    if log is not None:
                        log.append((SHIFT, j, ""))
                    break
                size, reduce, origin = rules[arg]
                undo.append(state_stack[len(state_stack) - size :])
                if reduce is None:  # one symbol, handed up as it is: the value stays
                    del state_stack[-1]
                elif size:
                    children = value_stack[-size:]
                    del value_stack[-size:]
                    del state_stack[-size:]
                    value_stack.append(reduce(children))
                else:
                    value_stack.append(reduce([]))
                if log is not None:
                    log.append((REDUCE, arg, ""))
                state = states[state_stack[-1]][origin][1]
                state_stack.append(state)
                if state == end_state and ttype == "$END":
                    return value_stack[-1]
                actions = states[state]
        return None

    def _count_new(self, key: tuple[Any, ...]) -> None:
        """Make room to count a new shape: when the counted ones fill their share, they
        are forgotten (counting starts again) rather than no new shape being counted."""
        self._seen_tokens += len(key)
        if self._seen_tokens > _SEEN_TOKENS:
            self._seen.clear()
            self._seen_tokens = len(key)

    def _keep_shape(
        self, key: tuple[Any, ...], log: list[tuple[int, int, str]], first: bool
    ) -> None:
        """Make the function that replays a recorded segment: the reductions the driver
        made, in its order, on the same stack positions, with no table in between, each
        inline (``straight``) where its rule allows, else a call of its reducer. ``t`` is
        the segment and the word after it; ``vs`` the value stack, which holds the items
        before it (nothing for the text's first segment)."""
        if self._shape_tokens + len(key) > _SHAPE_TOKENS:
            return  # full: the shapes kept replay on, no more are made
        env: dict[str, Any] = dict(_STRAIGHT_ENV)
        toks = [f"t{i}" for i in range(len(key) - 1)]  # a shape's segments are as long
        body = [f"{', '.join(toks)}, = t"]
        stack = []
        if not first:
            body.append("base = vs.pop()")
            stack.append("base")
        # the values known to have a position: every token, and what inline code made of
        # them; a reduction whose ends may have none (an empty list) tests them and calls
        # the reducer, which makes its node from the positions it finds
        placed = set(toks)
        # what is known of each value's class: a replay resolves the test of a child that
        # may be spliced in; and the empty spliced nodes (a device's `;`s) left unmade
        # until a reduction keeps one, with their names and positions
        classes: dict[str, type] = dict.fromkeys(toks, Tok)
        gone: dict[str, tuple[str, str, str]] = {}

        def make(value: str) -> None:
            name, first, last = gone.pop(value)
            body.extend(_made(value, "Spliced", name, first, last))
            body.append(f"{value}.children = []")

        made = 0
        for op, arg, ttype in log:
            if op == RETYPE:
                body.append(f"t{arg} = t[{arg}] = t{arg}._replace(type={ttype!r})")
            elif op == SHIFT:
                stack.append(f"t{arg}")
            else:
                size, reduce, _origin = self.rules[arg]
                if reduce is None:
                    continue
                kids = stack[len(stack) - size :]
                del stack[len(stack) - size :]
                data, modes, node = self._plans[arg]
                if passes_child(data):  # its one kept child goes up as it is (itemgetter)
                    stack.append(kids[data["plan"][0][0]])
                    continue
                out = f"x{made}"
                made += 1
                stack.append(out)
                ends = (kids[0], kids[-1]) if kids else ()
                unplaced = [k for k in dict.fromkeys(ends) if k not in placed]
                inline = not unplaced and _straight_rule(data)
                # a reducer's call (or a kept child) wants the node itself
                for (i, _, _, _), mode in zip(data["plan"], modes, strict=True):
                    if kids[i] in gone and (not inline or mode == KEEP):
                        make(kids[i])
                lines = straight(data, modes, node, kids, out, classes, gone)
                if inline and lines is not None:
                    if node is Spliced and not data["plan"]:
                        # an empty spliced node (a `;`): made only where one is kept
                        gone[out] = (data["name"], *_ends(kids, gone))
                        classes[out] = Spliced
                    else:
                        body += lines
                        grown = _grows(data, modes)
                        classes[out] = classes.get(kids[0], node) if grown else node
                    placed.add(out)
                    continue
                call = f"{out} = r{arg}([{', '.join(kids)}])"
                env[f"r{arg}"] = reduce
                if lines is None:
                    body.append(call)
                else:
                    body.append(f"if {' and '.join(f'{k}.line' for k in unplaced)}:")
                    body += [f"    {line}" for line in lines]
                    body += ["else:", f"    {call}"]
        if len(stack) != 1:
            return  # the segment did not end as one item list: never seen, but not replayed
        if stack[0] in gone:
            make(stack[0])
        body.append(f"vs.append({stack[0]})")
        exec("def shape(t, vs):\n" + "".join(f"    {line}\n" for line in body), env)
        self._shapes[key] = env["shape"]
        self._shape_tokens += len(key)


def _undone(stack: list[int], undo: list[list[int]]) -> list[int]:
    """The state stack as it was before the reductions ``undo`` records (each pushed one
    state and popped those listed): an error's expected terminals are read from there,
    not from where the bad token's own reductions led. A copy of the stack at each token
    would have cost time in its depth: 100,000 nested `not`s took 36 s to refuse."""
    stack = list(stack)
    for popped in reversed(undo):
        del stack[-1]
        stack += popped
    return stack


def _unexpected_char(text: str, pos: int, line: int, col: int, allowed: set[str]) -> Exception:
    return UnexpectedCharacters(text, pos, line, col, allowed)


SETTLE_AT = 10_000  # objects a window must leave for them to join the old ones at once


class no_gc:
    """Pause the cyclic garbage collector while building large trees.

    Parsing allocates hundreds of thousands of small objects and no cycles;
    with the collector on, its repeated full scans make a 10k-device board
    parse twice as slowly.

    What such a window builds lives on (a syntax tree, a model, a resolution), so at its
    end the new objects join the oldest generation at once: left in the youngest, the
    collector's next passes would scan each of them twice on its way there (80-120 ms
    after loading and resolving a 10k-device board, 1.1-2.1 s at 100k). ``gc.freeze()``
    then ``gc.unfreeze()`` moves every tracked object there without a scan; nothing is
    lost, cyclic garbage among them waits for the next full collection. Skipped when the
    process keeps frozen objects of its own (the REPL does): unfreezing would hand them
    back to the collector.
    """

    def __enter__(self) -> None:
        import gc

        self.was_enabled = gc.isenabled()
        gc.disable()

    def __exit__(self, *exc: object) -> None:
        import gc

        if self.was_enabled:
            if gc.get_count()[0] >= SETTLE_AT and not gc.get_freeze_count():
                gc.freeze()
                gc.unfreeze()
            gc.enable()
