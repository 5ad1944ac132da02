"""The LALR driver's shortcuts build the trees lark's tree builder would.

Most rules reduce through straight-line code generated per rule (lalr._reducer); a rule
of one symbol hands it up without making a node, an inlined `_rule` is spliced only
where it made one, and a list grows its node in place. The reference is the general
reducer doing what lark does (a node for every rule, every inlined child spliced): both
must give the same nodes, children and positions on every shipped file, broken input
included; and where lark's own parser reads a file, its tree is ours but for positions.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iommu_rules import lalr
from iommu_rules.grammar import tables
from iommu_rules.parse import normalize_text

from conftest import EXAMPLES, ROOT


def _dump(node: Any) -> object:
    if isinstance(node, lalr.Raw):
        where = (node.line, node.column, node.end_line, node.end_column)
        return (node.data, where, [_dump(c) for c in node.children])
    if node is None:
        return None
    return (str(node), node.type, node.line, node.column, node.end_line, node.end_column)


def _parse(parser: lalr.Parser, text: str) -> object:
    try:
        return _dump(parser.parse(normalize_text(text)))
    except (lalr.UnexpectedToken, lalr.UnexpectedCharacters) as exc:
        return (type(exc).__name__, exc.line, exc.column)


FAST = lalr.Parser(tables())
PLAIN = lalr.Parser(tables(), record_at=None)  # the tables over every token, nothing replayed
# lark's tree builder as plain code: every reduction through the general reducer, over
# every token (a replay would make the straight nodes inline, lalr.straight)
GENERAL = lalr.Parser(tables(), record_at=None)
GENERAL.rules = [
    (
        r["size"],
        lalr._general_reducer(
            r, [lalr.SPLICE if inlined else lalr.KEEP for _, inlined, _, _ in r["plan"]], lalr.Raw
        ),
        r["origin"],
    )
    for r in tables()["rules"]
]
FILES = sorted(
    [
        *EXAMPLES.rglob("*.iommu"),
        *(ROOT / "stdlib-rules").rglob("*.iommu"),
        *(ROOT / "tests").rglob("*.iommu"),
    ]
)


def test_most_rules_take_the_generated_path() -> None:
    generated = [r for _, r, _ in FAST.rules if getattr(r, "__name__", "") == "reduce"]
    assert len(generated) > len(FAST.rules) // 2


def test_the_shortcuts_are_taken(monkeypatch: pytest.MonkeyPatch) -> None:
    # a device's properties are handed up as they are (no `_device_prop` node), its
    # property list is one node however long, and the tree is the reference's
    handed_up = {origin for _, reduce, origin in FAST.rules if reduce is None}
    assert handed_up >= {"_device_prop", "_item", "number"}
    made: list[str] = []
    init = lalr.Raw.__init__

    def watch(self: lalr.Raw, data: str, *rest: Any) -> None:
        made.append(data)
        init(self, data, *rest)

    # the generated reducers make their nodes with object.__new__ and set the slots
    generated: list[lalr.Raw] = []

    def new(cls: type[lalr.Raw]) -> lalr.Raw:
        node = object.__new__(cls)
        generated.append(node)
        return node

    monkeypatch.setattr(lalr.Raw, "__init__", watch)
    for _, reduce, _ in FAST.rules:
        if getattr(reduce, "__name__", "") == "reduce" and "new" in reduce.__globals__:
            monkeypatch.setitem(reduce.__globals__, "new", new)
    text = 'device a: "x" { tags gpu dma-mask 32 coherent untrusted probe-order 3 }'
    fast = _parse(FAST, text)
    mine = made + [n.data for n in generated]
    assert generated  # the generated path was taken
    assert fast == _parse(GENERAL, text)
    assert made.count("_device_prop") == 5  # the reference makes one for each property
    assert "_device_prop" not in mine
    assert len([m for m in mine if m.startswith("__device")]) == 1


def test_every_shipped_file_parses_to_the_same_tree() -> None:
    assert len(FILES) > 50
    for path in FILES:
        text = path.read_text(errors="replace")
        assert _parse(FAST, text) == _parse(GENERAL, text), path


def test_lark_builds_the_same_tree_where_it_parses() -> None:
    from lark import Token, Tree

    from iommu_rules.grammar import lark_grammar

    def plain(node: Any) -> object:
        if isinstance(node, (Tree, lalr.Raw)):
            return (str(node.data), [plain(c) for c in node.children])
        return None if node is None else (str(node), str(node.type))

    lark, read = lark_grammar(), 0
    for path in FILES:
        text = normalize_text(path.read_text(errors="replace"))
        try:
            theirs = lark.parse(text)
        except Exception:  # lark's lexer knows no soft keywords (`device dma: ...`)
            continue
        assert isinstance(theirs, Tree) and not isinstance(theirs, Token)
        assert plain(FAST.parse(text)) == plain(theirs), path
        read += 1
    assert read > 30


def test_reading_line_by_line_gives_the_same_trees_and_errors(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # the lexer reads the text a chunk of whole lines at a time; a chunk of one line is
    # the most boundaries a text can have: the same trees, positions and errors
    texts = [path.read_text(errors="replace") for path in FILES]
    texts += [t[: len(t) // 2] + c + t[len(t) // 2 :] for t in texts[:40] for c in ("@", "\n#x\n")]
    whole = [_parse(FAST, t) for t in texts]
    assert any(isinstance(w, tuple) and w[0] == "UnexpectedCharacters" for w in whole)
    monkeypatch.setattr(lalr, "CHUNK", 1)
    assert [_parse(FAST, t) for t in texts] == whole


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(FILES), st.integers(0, 10_000), st.integers(0, 40))
def test_a_cut_file_parses_to_the_same_tree_or_error(path: Any, at: int, length: int) -> None:
    text = path.read_text(errors="replace")
    at %= len(text) + 1
    cut = text[:at] + text[at + length :]
    assert _parse(FAST, cut) == _parse(GENERAL, cut)


def test_forgetting_the_parse_memos_starts_a_parse_cold() -> None:
    # benchmarks time a cold parse: the loader's memo and the parser's word memo go
    from iommu_rules.grammar import parser
    from iommu_rules.loader import forget_parsed

    text = FILES[0].read_text(errors="replace")
    before = _parse(parser(), text)
    assert parser()._memo
    forget_parsed()
    assert not parser()._memo and not parser()._shapes and not parser()._seen
    assert _parse(parser(), text) == before


# one parser for every example: a word's terminals then come from a form an earlier
# word made, as they do on a real board
_WORDS = lalr.Parser(tables())
_PATTERN_WORDS = st.sampled_from(tables()["patterns"]).flatmap(
    lambda named: st.from_regex(named[1], fullmatch=True)
)
_LEXED = st.text(alphabet=st.characters(max_codepoint=127), min_size=1, max_size=12)


@settings(max_examples=400, deadline=None)
@given(word=st.one_of(_PATTERN_WORDS, _LEXED, st.text(min_size=1, max_size=6)))
def test_a_word_gets_the_terminals_its_patterns_match_whatever_form_it_shares(
    word: str,
) -> None:
    # a new word is typed by its form (lalr.char_cells): the words of one form must be
    # matched by the same patterns, or one would be typed as the other
    everything = [name for name, rx in _WORDS.patterns if rx.fullmatch(word)]
    keyword = [_WORDS.literals[word]] if word in _WORDS.literals else []
    assert list(_WORDS.candidates(word)) == keyword + everything, word


@pytest.mark.parametrize(
    ("patterns", "cells"),
    [
        (["[0-7]", "[0-9a-f]"], ["01234567", "89abcdef"]),
        (["x|yz", "[^y]"], ["x", "y", "z"]),
        (["0[xX]+", r"\d"], ["0", "123456789", "Xx"]),
        ([r'"(?:[^"\\\n]|\\.)*"'], ['"', "\\", "\n", "ab"]),
        (["a.b"], ["a", "b", "\n", "cd"]),
    ],
)
def test_characters_no_pattern_tells_apart_share_a_cell(
    patterns: list[str], cells: list[str]
) -> None:
    table = lalr.char_cells(patterns)
    assert table is not None
    for cell in cells:
        assert len({table[ord(c)] for c in cell}) == 1, cell
    firsts = [table[ord(cell[0])] for cell in cells]
    assert len(set(firsts)) == len(firsts), "cells that patterns tell apart were merged"


@pytest.mark.parametrize(
    "pattern", ["(?i)ab", "(?i:a)b", "(?s).", r"\bab", "^a", "(?=a)a", r"(a)\1", "a[", "x("]
)
def test_char_cells_gives_up_on_what_it_cannot_read(pattern: str) -> None:
    # None, never an exception: every word is then matched against the patterns themselves
    assert lalr.char_cells(["[0-9]+", pattern]) is None


def test_a_new_word_gets_the_terminals_every_pattern_would_give() -> None:
    parser = lalr.Parser(tables())
    words = ["dev1", "0x1f", "00:1f.0", "*:*.*", "CONFIG_X", "y", "has", "1.2.3", "4K", "_x"]
    words += ["==", "<", '"s"', "a-b", "ab", "0", "9"]
    for word in words:
        everything = [name for name, rx in parser.patterns if rx.fullmatch(word)]
        assert (
            list(parser.candidates(word))
            == ([parser.literals[word]] if word in parser.literals else []) + everything
        ), word


# A text for each pattern terminal; keywords are their own text.
_SAMPLES = {
    "PCI_ADDR": "00:01.0",
    "PCI_GLOB": "00:1f.*",
    "CONFIG_SYMBOL": "CONFIG_X",
    "HEX": "0x10",
    "SIZE": "4K",
    "VERSION": "6.8",
    "COMPARE": ">=",
    "CONFIG_VALUE": "y",
    "EQUALITY": "==",
    "EXPECT_OP": "has",
    "INT": "7",
    "NAME": "zz",
    "STRING": '"s"',
}


@pytest.mark.parametrize(
    "text",
    [
        "platform { kernel 99.x }",
        "platform { kernel 99 ) }",  # ')' follows a number elsewhere: reduced for, then refused
        "when kernel >= 6.8 ) { }",  # reduced for past the condition: 'and' and 'or' lost there
        'iommu smmu: arm-smmu { contexts 8 }\ndevce gpu: "a" { }',
        'device a: "x" { iommu smmu sid 0x1 mask }',
        "rule r: (gpu and ) requires identity",
        "domain d: dma on smmu attach a, }",
        "when kernel >= 6.8 { rule gpu requires }",
        "expect a.dma_ops == ",
    ],
)
def test_an_error_expects_what_the_parser_takes_there(text: str) -> None:
    """The expected terminals of a syntax error are exactly those that, written where the
    bad token is, the parser reads past: none of the terms a merged LALR state expects
    for other places (after `kernel 99`, no 'aperture' or ')'). A word that could be
    several terminals ('arch': the keyword or a name) proves its keyword only where the
    others are refused there; elsewhere it proves nothing and is left out."""
    parser = lalr.Parser(tables())
    words = {name: word for word, name in parser.literals.items()}

    def text_of(term: str) -> str:
        return words[term] if term in words else _SAMPLES[term]

    def taken_at(at: int, term: str) -> bool:
        tried = f"{text[:at]} {text_of(term)} {text[at:]}"
        try:
            parser.parse(tried)
        except lalr.UnexpectedToken as again:
            return again.token.start_pos > at + 1  # it stopped later, not at the word
        except lalr.UnexpectedCharacters as again:
            return again.pos_in_stream > at + 1
        return True

    with pytest.raises(lalr.UnexpectedToken) as err:
        parser.parse(text)
    at = err.value.token.start_pos
    terms = {t for actions in parser.states.values() for t in actions}
    terms = {t for t in terms if t in words or t in _SAMPLES}
    alike = {t: set(parser.candidates(text_of(t))) - {t} for t in terms}
    taken = {t for t in terms if taken_at(at, t)}
    refused = {t for t in terms if not alike[t] and t not in taken}
    testable = {t for t in terms if alike[t] <= refused}
    assert taken & testable  # something is expected at each of these
    assert err.value.expected & testable == taken & testable


def test_an_error_in_hostile_nesting_gives_up_following_and_keeps_the_lookaheads(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Following a lookahead down 100,000 nested `not`s to see whether it is taken would
    make an error message take seconds: past lalr._FOLLOWED reductions it is kept, as the
    state's own lookaheads keep it. Within the limit the answer is exact."""
    parser = lalr.Parser(tables())
    text = "rule " + "not " * 50 + "x }"

    def expected() -> set[str]:
        with pytest.raises(lalr.UnexpectedToken) as err:
            parser.parse(text)
        return err.value.expected

    exact = expected()
    assert "REQUIRES" in exact and "RPAR" not in exact
    monkeypatch.setattr(lalr, "_FOLLOWED", 10)
    wide = expected()
    assert exact < wide and "RPAR" in wide


def _fresh_twice(text: str) -> tuple[object, object]:
    """A parse that records every segment shape the first time it meets it (and replays
    the next segments of it), then one that replays them all."""
    parser = lalr.Parser(tables(), record_at=1)
    return _parse(parser, text), _parse(parser, text)


def test_replayed_segments_give_the_trees_and_errors_of_the_tables() -> None:
    for path in FILES:
        text = path.read_text(errors="replace")
        lines = text.split("\n")
        cuts = [text, "\n".join(lines[: len(lines) // 2]), "\n".join(lines[1:])]
        for cut in cuts:
            plain = _parse(PLAIN, cut)
            assert _fresh_twice(cut) == (plain, plain), path


def test_a_segment_is_replayed_without_the_tables(monkeypatch: pytest.MonkeyPatch) -> None:
    parser = lalr.Parser(tables())
    fed: list[int] = []
    feed = parser._feed

    def counted(text: str, toks: list[Any], *rest: Any) -> Any:
        fed.append(len(toks))
        return feed(text, toks, *rest)

    monkeypatch.setattr(parser, "_feed", counted)
    text = "".join(f'device d{i}: "v,{i}" {{ tags t{i}; iommu s sid {i} }}\n' for i in range(40))
    # the text's first word is resolved alone; d0 starts from the start state (a shape of
    # its own), d1-d15 are counted, d16 recorded, d17-d38 replayed, d39 runs the tables
    # for $END
    assert _parse(parser, text) == _parse(PLAIN, text)
    assert len(fed) == 1 + 1 + (lalr.RECORD_AT - 1) + 1 + 1 and len(parser._shapes) == 1
    fed.clear()
    assert _parse(parser, text) == _parse(PLAIN, text)
    assert len(fed) == 3  # the first word, d0 and d39: the other 37 replayed


# Statements and pieces of them where a segment guess can go wrong: a keyword as a name,
# a top-level word at column 1 inside a block or continuing a statement, two statements
# on a line, a block's items at column 1, a stray ';', broken input.
_PIECES = [
    'device a: "v,a" { tags gpu; iommu s sid 1 mask 0x3 }',
    'device dma: "v,b"',
    'device b: "v,b", "v,c" {\n    tags t\n}',
    'device c: "v,c" {\niommu s sid 2\n}',
    'device d: "v,d" {\ntags x\niommu s\n}',
    "iommu s: arm-smmu { contexts 8 }",
    "iommu t: arm-smmu-v3",
    "iommu u: arm-smmu\n{ contexts 4 }",
    "bridge rp: root-port { pci 00:01.0 }",
    "rule r: gpu excludes implicit",
    'rule "r": gpu excludes implicit',
    "gpu excludes implicit",
    'when kernel >= 5.4 {\ndevice e: "v,e"\n}',
    'device f: "v,f" device g: "v,g"',
    ";",
    "platform { arch arm64; kernel 6.8 }",
    "map\nrid 0 sid 0 length 1",
    'include "std/linux"',
    "device h: @",
    'device i: "v,i" {',
    "}",
    "# a comment",
    "",
]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(_PIECES), st.integers(1, 3)), max_size=12))
def test_any_statements_replay_as_the_tables_parse_them(pieces: list[tuple[str, int]]) -> None:
    text = "\n".join(piece for piece, times in pieces for _ in range(times))
    plain = _parse(PLAIN, text)
    assert _fresh_twice(text) == (plain, plain)


def test_a_replay_makes_the_empty_nodes_a_reduction_keeps() -> None:
    # a replay leaves a `;`'s empty spliced node unmade where a list splices it in, and
    # makes it where it goes to a reducer's call (the items before the segment may have
    # no position): a top-level `;` after a statement, and one alone on its line
    text = "".join(f'device d{i}: "v" {{ tags t; }};\n;\n' for i in range(4))
    parser = lalr.Parser(tables(), record_at=1)
    assert _fresh_twice(text) == (_parse(PLAIN, text),) * 2
    for _ in range(2):
        assert _parse(parser, text) == _parse(PLAIN, text)
    # the first statement, the later ones (each with its `;`), and the `;` alone
    assert len(parser._shapes) == 3


# Grammars with what the language's grammar lacks today, so a replay must still reduce as
# the tables do: a rule of two symbols that hands its one kept child up, an empty rule
_HANDS_UP = r"""
start: _item*
_item: stmt | ";"
stmt: "a" NAME _p
_p: "(" NAME ")"
NAME: /[a-z]+/
%ignore " " | "\n"
"""
_EMPTY = r"""
start: _item*
_item: stmt | ";"
stmt: "a" opt NAME
opt: "b"?
NAME: /[a-z]+/
%ignore " " | "\n"
"""


@pytest.mark.parametrize(
    ("grammar", "text"),
    [(_HANDS_UP, "a x (y)\na z (w)\n;\n" * 3), (_EMPTY, "a x\na b y\na z\n;\n" * 3)],
    ids=["a rule that hands its child up", "an empty rule"],
)
def test_a_replay_reduces_as_the_tables_do_in_any_grammar(grammar: str, text: str) -> None:
    from lark import Lark

    made = lalr.tables_from_lark(Lark(grammar, parser="lalr", maybe_placeholders=True))
    plain = lalr.Parser(made, record_at=None)
    replay = lalr.Parser(made, record_at=1)
    for _ in range(3):
        assert _parse(replay, text) == _parse(plain, text)
    assert replay._shapes


@pytest.mark.parametrize("pattern", [r"(?a)\s+", r"(?a:\s)+", r"\s+"])
def test_char_cells_read_whitespace_as_the_pattern_does(pattern: str) -> None:
    # under the ASCII flag \x1c-\x1f are no whitespace; without it they are
    table = lalr.char_cells([pattern])
    for word in ("\x1c", " \x1f", "\t"):
        found = re.fullmatch(pattern, word) is not None
        assert table is None or (re.fullmatch(pattern, word.translate(table)) is not None) == found


def test_a_long_segment_is_never_made_a_shape() -> None:
    # a block of 200 indented devices is one segment: replaying it would mean compiling
    # a function as long as the file, for a text that repeats no statement shape
    body = "".join(f'    device d{i}: "v,{i}" {{ tags t }}\n' for i in range(200))
    text = f'when kernel >= 5.4 {{\n{body}}}\nrule "r": t excludes implicit\n' * 3
    parser = lalr.Parser(tables(), record_at=1)
    for _ in range(3):
        assert _parse(parser, text) == _parse(PLAIN, text)
    # one shape, the rule's (where it stands, its first terminal, 5 more words, `when`)
    assert [len(key) for key in parser._shapes] == [2 + 5 + 1]


def test_the_shapes_memory_is_bounded_and_counting_goes_on(monkeypatch: pytest.MonkeyPatch) -> None:
    # shapes are counted and kept within a share of tokens of their keys: counting
    # forgets what it counted when its share fills (a new shape is still recorded),
    # keeping stops making shapes (those kept replay on)
    monkeypatch.setattr(lalr, "_SEEN_TOKENS", 100)
    monkeypatch.setattr(lalr, "_SHAPE_TOKENS", 30)
    many = "".join(f'device m{i}: "v" {{ tags {", ".join(["t"] * i)} }}\n' for i in range(1, 30))
    same = "".join(f'device s{i}: "v" {{ tags a, b }}\n' for i in range(4))
    parser = lalr.Parser(tables(), record_at=2)
    for text in (many + same, many + same + many, same * 3):
        assert _parse(parser, text) == _parse(PLAIN, text)
        assert parser._seen_tokens <= 100 and parser._shape_tokens <= 30
    assert parser._shapes  # the device with two tags, recorded after all those counted
    assert all(len(key) < 30 for key in parser._shapes)


def _big_text(devices: int = 1_000) -> str:
    return "iommu smmu: arm-smmu { contexts 128 }\n" + "".join(
        f'device d{i}: "vendor,ip" {{ iommu smmu sid {i} }}\n' for i in range(devices)
    )


def test_a_large_build_joins_the_old_objects_without_a_scan() -> None:
    """What a no-collector window builds goes to the oldest generation at its end: the
    young generations' passes never scan a syntax tree."""
    import gc

    from iommu_rules.parse import parse_text

    assert gc.isenabled() and not gc.get_freeze_count()
    gc.collect()
    scans: list[int] = []
    gc.callbacks.append(scan := lambda phase, info: scans.append(info["generation"]))
    try:
        result = parse_text(_big_text(), "big.iommu")
        young = {id(o) for g in (0, 1) for o in gc.get_objects(generation=g)}
    finally:
        gc.callbacks.remove(scan)
    devices = [item for item in result.file.items if type(item).__name__ == "Device"]
    assert len(devices) == 1_000
    assert not any(id(d) in young for d in devices)
    assert not scans  # no pass ran: the window's objects never counted as young


def test_a_build_leaves_the_processs_frozen_objects_frozen() -> None:
    import gc

    from iommu_rules.parse import parse_text

    gc.collect()
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        parse_text(_big_text(), "big.iommu")
        assert gc.get_freeze_count() >= frozen
    finally:
        gc.unfreeze()


_BACKTRACKING = re.compile(
    lalr._TOKENS.pattern.replace("++", "+").replace("*+", "*"), lalr._TOKENS.flags
)


@settings(max_examples=300, deadline=None)
@given(text=st.text(alphabet='ab0x9fK.:*-_"\\\n #{};=<>!,()[]+yZ\t\r@é', max_size=40))
def test_possessive_runs_read_the_tokens_backtracking_would(text: str) -> None:
    # the lexer's runs never give characters back (faster in re); nothing after a run
    # may need them, or a token would be cut where the plain pattern reads it whole
    assert lalr._TOKENS.findall(text) == _BACKTRACKING.findall(text)
