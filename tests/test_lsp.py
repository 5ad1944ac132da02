"""The language server end to end: pygls's own client drives `iommu-rules lsp` over stdio."""

from __future__ import annotations

import asyncio
import shutil
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types as lsp
from pygls.lsp.client import LanguageClient

from conftest import EXAMPLES, run_cli

TIMEOUT = 30.0


def exe() -> str:
    found = shutil.which("iommu-rules", path=str(Path(sys.executable).parent))
    assert found, "console script not installed next to this Python"
    return found


class Editor:
    """A client session: open documents, edit them, ask, and read what is published."""

    def __init__(self, root: Path):
        self.root = root
        self.client = LanguageClient("iommu-rules-tests", "1")
        self.published: dict[str, lsp.PublishDiagnosticsParams] = {}
        self.logs: list[str] = []
        self.changed = asyncio.Condition()
        self.versions: dict[str, int] = {}
        self.texts: dict[str, str] = {}

        @self.client.feature(lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        async def published(params: lsp.PublishDiagnosticsParams) -> None:
            self.published[params.uri] = params
            async with self.changed:
                self.changed.notify_all()

        @self.client.feature(lsp.WINDOW_LOG_MESSAGE)
        def logged(params: lsp.LogMessageParams) -> None:
            self.logs.append(params.message)

        @self.client.feature(lsp.WINDOW_SHOW_MESSAGE)
        def shown(params: lsp.ShowMessageParams) -> None:
            self.logs.append(params.message)

    async def start(self) -> None:
        await self.client.start_io(exe(), "lsp", cwd=str(self.root))
        await self.client.initialize_async(
            lsp.InitializeParams(
                capabilities=lsp.ClientCapabilities(),
                root_uri=self.root.as_uri(),
            )
        )
        self.client.initialized(lsp.InitializedParams())

    async def stop(self) -> None:
        await self.client.shutdown_async(None)
        self.client.exit(None)
        await self.client.stop()

    def uri(self, name: str) -> str:
        return (self.root / name).as_uri()

    async def open(self, name: str, text: str | None = None) -> str:
        uri = self.uri(name)
        text = (self.root / name).read_text() if text is None else text
        self.versions[uri] = 1
        self.texts[uri] = text
        self.client.text_document_did_open(
            lsp.DidOpenTextDocumentParams(
                text_document=lsp.TextDocumentItem(
                    uri=uri, language_id="iommu", version=1, text=text
                )
            )
        )
        await self.diagnostics(uri, 1)
        return uri

    async def edit(self, uri: str, line: int, col: int, end_col: int, text: str) -> None:
        """Replace characters col..end_col (0-based) of a line, as a keystroke does."""
        self.versions[uri] += 1
        rng = lsp.Range(
            start=lsp.Position(line=line, character=col),
            end=lsp.Position(line=line, character=end_col),
        )
        lines = self.texts[uri].split("\n")
        lines[line] = lines[line][:col] + text + lines[line][end_col:]
        self.texts[uri] = "\n".join(lines)
        self.client.text_document_did_change(
            lsp.DidChangeTextDocumentParams(
                text_document=lsp.VersionedTextDocumentIdentifier(
                    uri=uri, version=self.versions[uri]
                ),
                content_changes=[lsp.TextDocumentContentChangePartial(range=rng, text=text)],
            )
        )

    async def diagnostics(self, uri: str, version: int | None = None) -> list[lsp.Diagnostic]:
        """The diagnostics published for this version of the document (default: latest)."""
        want = self.versions.get(uri) if version is None else version

        def ready() -> bool:
            got = self.published.get(uri)
            return got is not None and (want is None or got.version == want)

        async with self.changed:
            await asyncio.wait_for(self.changed.wait_for(ready), TIMEOUT)
        return list(self.published[uri].diagnostics)

    def at(self, uri: str, line: int, col: int) -> dict[str, Any]:
        return {
            "text_document": lsp.TextDocumentIdentifier(uri=uri),
            "position": lsp.Position(line=line, character=col),
        }


def session(root: Path, body: Callable[[Editor], Awaitable[None]]) -> None:
    async def main() -> None:
        editor = Editor(root)
        await editor.start()
        try:
            await body(editor)
        finally:
            await editor.stop()

    asyncio.run(main())


BOARD = """\
include "std/linux"
include "soc.iommu"

platform {
    arch arm64
    kernel 6.8
}

device gpu: "vendor,gpu" { tags display; iommu smmu sid 0x10 }
device dc: "vendor,dc" { tags display; iommu smmu sid 0x11 }
rule "displays share nothing": display excludes implicit
expect gpu.group == 0
"""
SOC = """\
iommu smmu: arm-smmu { contexts 8 }
"""


@pytest.fixture
def board(tmp_path: Path) -> Path:
    (tmp_path / "board.iommu").write_text(BOARD)
    (tmp_path / "soc.iommu").write_text(SOC)
    return tmp_path


def find(text: str, needle: str, nth: int = 0) -> tuple[int, int]:
    """The 0-based line and column of a needle's nth occurrence."""
    at = -1
    for _ in range(nth + 1):
        at = text.index(needle, at + 1)
    line = text.count("\n", 0, at)
    return line, at - (text.rfind("\n", 0, at) + 1)


def test_diagnostics_as_you_type_are_checks(board: Path) -> None:
    """A typo gives the same code, range and help as `check`; fixing it clears it."""

    async def body(ed: Editor) -> None:
        uri = await ed.open("board.iommu")
        assert await ed.diagnostics(uri) == []
        line, col = find(BOARD, "iommu smmu sid 0x11")
        await ed.edit(uri, line, col + 6, col + 10, "smu")  # iommu smu sid 0x11
        (d,) = await ed.diagnostics(uri)
        (board / "typo.iommu").write_text(ed.texts[uri])
        (checked,) = _check_json(board / "typo.iommu")
        assert d.code == checked["code"] == "E104"
        assert (d.range.start.line, d.range.start.character) == (
            checked["span"]["line"] - 1,
            checked["span"]["col"] - 1,
        )
        assert (d.range.end.line, d.range.end.character) == (
            checked["span"]["end_line"] - 1,
            checked["span"]["end_col"] - 1,
        )
        assert checked["message"] in d.message and "did you mean 'smmu'?" in d.message
        assert d.severity == lsp.DiagnosticSeverity.Error and d.source == "iommu-rules"
        await ed.edit(uri, line, col + 6, col + 9, "smmu")
        assert await ed.diagnostics(uri) == []

    session(board, body)


def test_columns_after_a_character_outside_ascii_count_utf16_units(board: Path) -> None:
    """The client counts UTF-16 units: a character beyond the BMP before a problem on its
    line moves the range by two, one of 'é' by one."""
    text = BOARD.replace('"vendor,dc"', '"vendor,dc\U0001f600é"').replace(
        "smmu sid 0x11", "smu sid 0x11"
    )

    async def body(ed: Editor) -> None:
        uri = await ed.open("board.iommu", text)
        (d,) = await ed.diagnostics(uri)
        (board / "wide.iommu").write_text(text)
        (checked,) = _check_json(board / "wide.iommu")
        assert d.code == checked["code"] == "E104"
        # the checked column counts characters: the emoji is one there, two units here
        assert d.range.start.character == checked["span"]["col"] - 1 + 1
        assert d.range.end.character == checked["span"]["end_col"] - 1 + 1

    session(board, body)


def _check_json(path: Path) -> list[dict[str, Any]]:
    import json

    proc = run_cli("check", "--format", "json", str(path))
    found: list[dict[str, Any]] = json.loads(proc.stdout)["diagnostics"]
    return found


def test_problems_in_an_included_file_are_published_on_it(board: Path) -> None:
    (board / "soc.iommu").write_text("iommu smmu: arm-smmu { contexts 0 }\n")

    async def body(ed: Editor) -> None:
        await ed.open("board.iommu")
        soc = ed.uri("soc.iommu")
        async with ed.changed:
            await asyncio.wait_for(ed.changed.wait_for(lambda: soc in ed.published), TIMEOUT)
        (d,) = ed.published[soc].diagnostics
        assert d.code == "E114" and d.range.start.line == 0

    session(board, body)


def test_an_open_include_is_read_from_the_editor(board: Path) -> None:
    """An unsaved edit of an included file counts when the including file is analysed."""

    async def body(ed: Editor) -> None:
        soc = await ed.open("soc.iommu")
        uri = await ed.open("board.iommu")
        await ed.edit(soc, 0, 6, 10, "mmu0")  # iommu mmu0: unsaved
        await ed.diagnostics(soc)
        await ed.edit(uri, 0, 0, 0, " ")  # touch the board: re-analysed with the buffer
        codes = {d.code for d in await ed.diagnostics(uri)}
        assert "E104" in codes  # 'smmu' is gone from the buffer, not from the disk

    session(board, body)


def test_hover_shows_resolved_values_why_keyword_docs_and_codes(board: Path) -> None:
    async def body(ed: Editor) -> None:
        uri = await ed.open("board.iommu")
        line, col = find(BOARD, "gpu:")
        h = await ed.client.text_document_hover_async(lsp.HoverParams(**ed.at(uri, line, col)))
        assert h is not None and isinstance(h.contents, lsp.MarkupContent)
        text = h.contents.value
        assert "**device gpu**" in text and "- group: `0`" in text
        assert "- dma_ops: `dma-direct`" in text and "gpu.dma_ops = dma-direct" in text
        line, col = find(BOARD, "excludes")
        h = await ed.client.text_document_hover_async(lsp.HoverParams(**ed.at(uri, line, col)))
        assert h is not None and "excludes implicit" in h.contents.value  # type: ignore[union-attr]
        line, col = find(BOARD, "rule")
        h = await ed.client.text_document_hover_async(lsp.HoverParams(**ed.at(uri, line, col)))
        assert h is not None and "matches: dc, gpu" in h.contents.value  # type: ignore[union-attr]
        line, col = find(BOARD, "smmu sid")
        h = await ed.client.text_document_hover_async(lsp.HoverParams(**ed.at(uri, line, col)))
        assert h is not None and "**iommu smmu** — arm-smmu" in h.contents.value  # type: ignore[union-attr]
        assert "contexts_used" in h.contents.value  # type: ignore[union-attr]
        await ed.edit(uri, 12, 0, 0, "# E104\n")
        await ed.diagnostics(uri)
        h = await ed.client.text_document_hover_async(lsp.HoverParams(**ed.at(uri, 12, 3)))
        assert h is not None and "E104 (error)" in h.contents.value  # type: ignore[union-attr]

    session(board, body)


def test_completion_from_the_grammar_and_the_model(board: Path) -> None:
    async def body(ed: Editor) -> None:
        uri = await ed.open("board.iommu")

        async def labels(line: int, col: int) -> set[str]:
            got = await ed.client.text_document_completion_async(
                lsp.CompletionParams(**ed.at(uri, line, col))
            )
            assert isinstance(got, lsp.CompletionList)
            return {i.label for i in got.items}

        last = BOARD.count("\n")
        await ed.edit(uri, last, 0, 0, 'device x: "v" { iommu ')
        await ed.diagnostics(uri)
        got = await labels(last, len('device x: "v" { iommu '))
        assert got == {"smmu"}  # after `iommu` in a device: IOMMU names only
        await ed.edit(uri, last, 0, len('device x: "v" { iommu '), 'device x: "v" { ')
        await ed.diagnostics(uri)
        props = await labels(last, len('device x: "v" { '))
        assert {"iommu", "tags", "dma-mask", "dma-range", "coherent"} <= props
        await ed.edit(uri, last, 0, len('device x: "v" { '), "expect gpu.")
        await ed.diagnostics(uri)
        assert {"dma_ops", "group", "domain"} <= await labels(last, len("expect gpu."))
        await ed.edit(uri, last, 0, len("expect gpu."), 'include "std/soc/teg')
        await ed.diagnostics(uri)
        assert "std/soc/tegra30" in await labels(last, len('include "std/soc/teg'))

    session(board, body)


def test_definition_references_and_rename_across_files(board: Path) -> None:
    async def body(ed: Editor) -> None:
        uri = await ed.open("board.iommu")
        soc = ed.uri("soc.iommu")
        line, col = find(BOARD, "smmu sid")
        defs = await ed.client.text_document_definition_async(
            lsp.DefinitionParams(**ed.at(uri, line, col + 1))
        )
        assert isinstance(defs, list) and [(d.uri, d.range.start.line) for d in defs] == [(soc, 0)]
        line, col = find(BOARD, '"soc.iommu"')
        defs = await ed.client.text_document_definition_async(
            lsp.DefinitionParams(**ed.at(uri, line, col + 2))
        )
        assert isinstance(defs, list) and defs[0].uri == soc
        line, col = find(BOARD, "display", 1)
        refs = await ed.client.text_document_references_async(
            lsp.ReferenceParams(
                **ed.at(uri, line, col), context=lsp.ReferenceContext(include_declaration=True)
            )
        )
        assert refs is not None and len(refs) == 3  # two `tags` and the rule's selector
        line, col = find(BOARD, "smmu sid")
        edit = await ed.client.text_document_rename_async(
            lsp.RenameParams(**ed.at(uri, line, col), new_name="apps_smmu")
        )
        assert edit is not None and edit.changes is not None
        assert {u: len(e) for u, e in edit.changes.items()} == {uri: 2, soc: 1}
        with pytest.raises(Exception, match="already a device"):
            await ed.client.text_document_rename_async(
                lsp.RenameParams(**ed.at(uri, line, col), new_name="gpu")
            )
        with pytest.raises(Exception, match="not a name"):
            await ed.client.text_document_rename_async(
                lsp.RenameParams(**ed.at(uri, line, col), new_name="9lives")
            )

    session(board, body)


def test_outline_formatting_and_code_actions(board: Path) -> None:
    messy = (
        BOARD.replace("device gpu: ", "device   gpu:")
        .replace('include "std/linux"\n', "")
        .replace("iommu smmu sid 0x11", "iommu smu sid 0x11")
    )

    async def body(ed: Editor) -> None:
        uri = await ed.open("board.iommu", messy)
        syms = await ed.client.text_document_document_symbol_async(
            lsp.DocumentSymbolParams(text_document=lsp.TextDocumentIdentifier(uri=uri))
        )
        assert syms is not None
        names = [s.name for s in syms]
        assert names == [
            'include "soc.iommu"',
            "platform",
            "gpu",
            "dc",
            'rule "displays share nothing"',
            "expect gpu.group",
        ]
        edits = await ed.client.text_document_formatting_async(
            lsp.DocumentFormattingParams(
                text_document=lsp.TextDocumentIdentifier(uri=uri),
                options=lsp.FormattingOptions(tab_size=4, insert_spaces=True),
            )
        )
        assert edits is not None and "device gpu: " in edits[0].new_text
        diags = await ed.diagnostics(uri)
        line = next(d.range.start.line for d in diags if d.code == "E104")
        actions = await ed.client.text_document_code_action_async(
            lsp.CodeActionParams(
                text_document=lsp.TextDocumentIdentifier(uri=uri),
                range=lsp.Range(
                    start=lsp.Position(line=line, character=0),
                    end=lsp.Position(line=line, character=0),
                ),
                context=lsp.CodeActionContext(diagnostics=diags),
            )
        )
        assert actions is not None
        titles = [a.title for a in actions if isinstance(a, lsp.CodeAction)]
        assert titles == ["Replace with smmu"]
        fix = next(a for a in actions if isinstance(a, lsp.CodeAction))
        assert fix.edit is not None and fix.edit.changes is not None
        (change,) = fix.edit.changes[uri]
        assert change.new_text == "smmu" and change.range == diags[0].range
        # a board that leaves the kernel's policy out is offered std/linux
        plain = await ed.open("plain.iommu", BOARD.replace('include "std/linux"\n', ""))
        diags = await ed.diagnostics(plain)
        assert [d.code for d in diags] == ["W218"]
        actions = await ed.client.text_document_code_action_async(
            lsp.CodeActionParams(
                text_document=lsp.TextDocumentIdentifier(uri=plain),
                range=diags[0].range,
                context=lsp.CodeActionContext(diagnostics=diags),
            )
        )
        assert actions is not None
        add = next(a for a in actions if isinstance(a, lsp.CodeAction))
        assert add.title == 'Add include "std/linux"' and add.edit and add.edit.changes
        (change,) = add.edit.changes[plain]
        assert change.new_text == 'include "std/linux"\n' and change.range.start.line == 1

    session(board, body)


def test_the_examples_open_clean(tmp_path: Path) -> None:
    """Every shipped example opens with the diagnostics `check` gives it."""

    async def body(ed: Editor) -> None:
        for example in sorted(EXAMPLES.glob("*.iommu"))[:6]:
            uri = example.as_uri()
            ed.versions[uri] = 1
            ed.client.text_document_did_open(
                lsp.DidOpenTextDocumentParams(
                    text_document=lsp.TextDocumentItem(
                        uri=uri, language_id="iommu", version=1, text=example.read_text()
                    )
                )
            )
            got = sorted(d.code for d in await ed.diagnostics(uri))
            checked = sorted(
                d["code"] for d in _check_json(example) if d["span"]["file"] == str(example)
            )
            assert got == checked, example.name

    session(tmp_path, body)


PIECES = [
    "device",
    "iommu",
    " smmu",
    "{",
    "}",
    '"',
    ":",
    ";",
    "\n",
    " ",
    "rule ",
    "when kernel >= 5.",
    "expect gpu.",
    'include "std/',
    "0x1f",
    "#",
    "é",
    "😋",
    "\t",
    "aperture 0x0 size 4G",
    "builds domain d: arm-mapping window 1 size 2",
]


def test_random_edits_never_crash_the_server(board: Path) -> None:
    """Random keystrokes and pastes into an open board: after each one the server answers
    hover, completion, definition, references, outline, formatting and code actions, logs
    no traceback, and still publishes diagnostics at the end."""
    import random

    rng = random.Random(20261205)

    async def body(ed: Editor) -> None:
        uri = await ed.open("board.iommu")
        for _ in range(120):
            lines = ed.texts[uri].split("\n")
            line = rng.randrange(len(lines))
            col = rng.randrange(len(lines[line]) + 1)
            end = min(len(lines[line]), col + rng.choice((0, 0, 1, 3, 12)))
            await ed.edit(uri, line, col, end, rng.choice(PIECES))
            lines = ed.texts[uri].split("\n")
            at = ed.at(uri, rng.randrange(len(lines) + 2), rng.randrange(80))
            doc = lsp.TextDocumentIdentifier(uri=uri)
            whole = lsp.Range(start=at["position"], end=at["position"])
            await asyncio.wait_for(
                asyncio.gather(
                    ed.client.text_document_hover_async(lsp.HoverParams(**at)),
                    ed.client.text_document_completion_async(lsp.CompletionParams(**at)),
                    ed.client.text_document_definition_async(lsp.DefinitionParams(**at)),
                    ed.client.text_document_references_async(
                        lsp.ReferenceParams(
                            **at, context=lsp.ReferenceContext(include_declaration=True)
                        )
                    ),
                    ed.client.text_document_document_symbol_async(
                        lsp.DocumentSymbolParams(text_document=doc)
                    ),
                    ed.client.text_document_formatting_async(
                        lsp.DocumentFormattingParams(
                            text_document=doc,
                            options=lsp.FormattingOptions(tab_size=4, insert_spaces=True),
                        )
                    ),
                    ed.client.text_document_code_action_async(
                        lsp.CodeActionParams(
                            text_document=doc,
                            range=whole,
                            context=lsp.CodeActionContext(diagnostics=[]),
                        )
                    ),
                ),
                TIMEOUT,
            )
        await ed.diagnostics(uri)  # the latest version's, published
        assert not [m for m in ed.logs if "Traceback" in m], ed.logs

    session(board, body)


def test_layout_edits_move_the_diagnostics_as_a_full_check_places_them(board: Path) -> None:
    """An Enter between statements or a comment typed changes no statement: the server
    moves the last diagnostics (W218 stays at the file's start) instead of re-resolving,
    and they must be where `check` puts them for the new text."""
    text = BOARD.replace('include "std/linux"\n', "").replace("gpu.group == 0", "gpu.group == 7")

    async def body(ed: Editor) -> None:
        uri = await ed.open("board.iommu", text)

        async def same_as_check() -> None:
            got = sorted(
                (d.code, d.range.start.line, d.range.start.character)
                for d in await ed.diagnostics(uri)
            )
            (board / "now.iommu").write_text(ed.texts[uri])
            want = sorted(
                (d["code"], d["span"]["line"] - 1, d["span"]["col"] - 1)
                for d in _check_json(board / "now.iommu")
                if d["span"]["file"].endswith("now.iommu")
            )
            assert got == want and got

        await same_as_check()
        await ed.edit(uri, 1, 0, 0, "\n\n")  # blank lines above the platform
        await same_as_check()
        line = (
            ed.texts[uri]
            .split("\n")
            .index(next(ln for ln in ed.texts[uri].split("\n") if ln.startswith("device dc")))
        )
        end = len(ed.texts[uri].split("\n")[line])
        await ed.edit(uri, line, end, end, "  # the display engine")
        await same_as_check()
        await ed.edit(uri, 0, 0, 0, "# a header\n")  # before the first statement
        await same_as_check()
        h = await ed.client.text_document_hover_async(lsp.HoverParams(**ed.at(uri, line + 1, 8)))
        assert h is not None and "**device dc**" in h.contents.value  # type: ignore[union-attr]

    session(board, body)


# ---------------------------------------------------------------- the analysis, directly
def analysed(tmp_path: Path, text: str, name: str = "board.iommu") -> Any:
    from iommu_rules.lsp.analysis import analyse

    path = tmp_path / name
    path.write_text(text)
    return analyse(path.as_uri(), str(path), text, {}, {})


def test_an_edited_buffer_keeps_one_text_in_the_parse_memo(tmp_path: Path) -> None:
    """Every keystroke hands the memo a new text of the same file: only the latest stays."""
    from iommu_rules.loader import _PARSED
    from iommu_rules.lsp.analysis import analyse

    path = tmp_path / "board.iommu"
    memo: dict[Any, Any] = {}
    for i in range(50):
        text = BOARD.replace("0x10", hex(0x10 + i))
        analyse(path.as_uri(), str(path), text, {}, memo)
    assert sum(1 for name, _ in _PARSED.entries if name == str(path)) == 1


def test_a_keystroke_validates_the_device_it_edits_and_takes_the_others(board: Path) -> None:
    """Each analysis starts from the last one's validation (validate.Known): the devices a
    keystroke left as they were are the same objects; the edited one is validated again,
    and every diagnostic is what a fresh analysis gives."""
    from iommu_rules.lsp.analysis import analyse

    path = board / "board.iommu"
    uri, memo = path.as_uri(), {}  # type: ignore[var-annotated]
    first = analyse(uri, str(path), BOARD, {}, memo)
    edits = [
        BOARD.replace("sid 0x11", "sid 0x1"),  # dc's stream
        BOARD.replace("sid 0x11", "sid 0x10"),  # dc on gpu's stream: one group
        BOARD.replace("iommu smmu sid 0x11", "iommu smu sid 0x11"),  # no such IOMMU
        BOARD,
    ]
    last = first
    for text in edits:
        got = analyse(uri, str(path), text, {}, memo, before=last)
        assert got.model.devices["gpu"] is first.model.devices["gpu"]
        # edited each time (back to its first text at the end: parsed again, a new node)
        assert got.model.devices["dc"] is not last.model.devices["dc"]
        fresh = analyse(uri, str(path), text, {}, {})
        assert list(map(repr, got.diagnostics)) == list(map(repr, fresh.diagnostics))
        assert got.model == fresh.model
        last = got
    assert last.known is not None and last.known.before is None  # no chain of analyses


def test_a_keystroke_that_leaves_the_groups_facts_takes_the_last_groups(board: Path) -> None:
    """Editing a rule that only later stages read (or an expectation) keeps the last
    analysis's groups (resolve.Grouping); editing a device's stream makes them again.
    Either way the diagnostics are a fresh analysis's."""
    from iommu_rules.lsp.analysis import analyse

    path = board / "board.iommu"
    uri, memo = path.as_uri(), {}  # type: ignore[var-annotated]
    last = analyse(uri, str(path), BOARD, {}, memo)
    for text, kept in (
        (BOARD.replace("excludes implicit", "requires identity"), True),
        (BOARD.replace("expect gpu.group == 0", "expect gpu.group == 1"), True),
        (BOARD.replace("sid 0x11", "sid 0x10"), False),
    ):
        got = analyse(uri, str(path), text, {}, memo, before=last)
        assert (got.resolution.grouping is last.resolution.grouping) is kept, text
        fresh = analyse(uri, str(path), text, {}, {})
        assert list(map(repr, got.diagnostics)) == list(map(repr, fresh.diagnostics))
        assert got.board._previous is None  # let go once resolved
        last = got


def test_rename_refuses_keywords_and_names_that_mean_two_things(tmp_path: Path) -> None:
    from iommu_rules.lsp.features import RenameError, rename

    text = BOARD + 'device x: "v" { tags gpu; iommu smmu sid 0x12 }\n'
    (tmp_path / "soc.iommu").write_text(SOC)
    a = analysed(tmp_path, text)
    line, col = find(text, "gpu:")
    for word in ("on", "all", "system", "excludes"):
        with pytest.raises(RenameError, match="keyword"):
            rename(a, a.display, line + 1, col + 1, word)
    with pytest.raises(RenameError, match="both a device and a tag"):
        rename(a, a.display, line + 1, col + 1, "gpu2")
    # a tag alone renames its uses, never a device
    line, col = find(text, "display;")
    edits = rename(a, a.display, line + 1, col + 1, "screen")
    assert len(edits[a.display]) == 3  # two `tags` and the rule's selector


def test_add_include_after_a_last_line_without_a_line_end(tmp_path: Path) -> None:
    from iommu_rules.lsp.features import code_actions

    text = 'platform { arch arm64; kernel 6.8 }\ndevice d: "v"\ninclude "soc.iommu"'
    (tmp_path / "soc.iommu").write_text(SOC)
    a = analysed(tmp_path, text)
    (act,) = [x for x in code_actions(a, a.display, 1, 1) if "std/linux" in x.title]
    (edit,) = act.edits[a.display]
    lines = text.split("\n")
    assert (edit.span.line, edit.span.col) == (3, len(lines[2]) + 1)
    fixed = text + edit.text
    assert fixed.endswith('include "soc.iommu"\ninclude "std/linux"\n')


def test_layout_edits_after_a_syntax_error_are_analysed_again(tmp_path: Path) -> None:
    """E004 sits at the end of the file, past every statement: no relocation then."""
    from iommu_rules.lsp.analysis import relocated

    a = analysed(tmp_path, 'device b: "v,b" {\n')
    assert [d.code for d in a.diagnostics] == ["E004"]
    assert relocated(a, 'device b: "v,b" {\n\n\n') is None


def test_an_undecodable_include_is_published_on_itself(board: Path) -> None:
    (board / "soc.iommu").write_bytes(b"iommu smmu: arm-smmu\n\xff\n")

    async def body(ed: Editor) -> None:
        uri = await ed.open("board.iommu")
        soc = ed.uri("soc.iommu")
        async with ed.changed:
            await asyncio.wait_for(ed.changed.wait_for(lambda: soc in ed.published), TIMEOUT)
        assert [d.code for d in ed.published[soc].diagnostics] == ["E124"]
        assert "E124" not in [d.code for d in await ed.diagnostics(uri)]

    session(board, body)


def test_editing_an_open_include_rechecks_the_boards_that_include_it(board: Path) -> None:
    async def body(ed: Editor) -> None:
        uri = await ed.open("board.iommu")
        soc = await ed.open("soc.iommu")
        assert await ed.diagnostics(uri) == []
        before = ed.published[uri]
        await ed.edit(soc, 0, 6, 10, "mmu0")  # the board's `iommu smmu` now names nothing
        await ed.diagnostics(soc)
        async with ed.changed:
            await asyncio.wait_for(
                ed.changed.wait_for(lambda: ed.published[uri] is not before), TIMEOUT
            )
        assert "E104" in {d.code for d in ed.published[uri].diagnostics}
        # closing the include: the board reads the file on disk again
        before = ed.published[uri]
        ed.client.text_document_did_close(
            lsp.DidCloseTextDocumentParams(text_document=lsp.TextDocumentIdentifier(uri=soc))
        )
        async with ed.changed:
            await asyncio.wait_for(
                ed.changed.wait_for(lambda: ed.published[uri] is not before), TIMEOUT
            )
        assert list(ed.published[uri].diagnostics) == []

    session(board, body)


@pytest.mark.parametrize("eol", ["\r\n", "\r"])
def test_documents_with_crlf_or_cr_line_ends(board: Path, eol: str) -> None:
    """Spans count CR and CRLF as line ends, as LSP clients do: diagnostics, hover and
    formatting meet on the same lines."""
    text = BOARD.replace("iommu smmu sid 0x11", "iommu smu sid 0x11").replace("\n", eol)

    async def body(ed: Editor) -> None:
        uri = await ed.open("board.iommu", text)
        (d,) = await ed.diagnostics(uri)
        line, col = find(BOARD, "smmu sid 0x11")
        assert d.code == "E104" and (d.range.start.line, d.range.start.character) == (line, col)
        line, col = find(BOARD, "gpu:")
        h = await ed.client.text_document_hover_async(lsp.HoverParams(**ed.at(uri, line, col)))
        assert h is not None and "**device gpu**" in h.contents.value  # type: ignore[union-attr]
        edits = await ed.client.text_document_formatting_async(
            lsp.DocumentFormattingParams(
                text_document=lsp.TextDocumentIdentifier(uri=uri),
                options=lsp.FormattingOptions(tab_size=4, insert_spaces=True),
            )
        )
        assert edits is not None and len(edits) == 1
        end = edits[0].range.end
        assert (end.line, end.character) == (text.count(eol), 0)  # the whole buffer

    session(board, body)


def test_a_pack_included_through_another_is_not_offered_again(tmp_path: Path) -> None:
    """std/soc/tegra30 includes std/soc/tegra: the Tegra30 example lacks no pack."""
    from iommu_rules.lsp.analysis import analyse
    from iommu_rules.lsp.features import code_actions

    path = EXAMPLES / "tegra30.iommu"
    a = analyse(path.as_uri(), str(path), path.read_text(), {}, {})
    assert [x.title for x in code_actions(a, a.display, 1, 1) if "include" in x.title] == []
    # a board without the SoC pack is offered it
    text = path.read_text().replace('include "std/soc/tegra30"\n', "")
    b = analysed(tmp_path, text)
    titles = [x.title for x in code_actions(b, b.display, 1, 1)]
    assert 'Add include "std/soc/tegra"' in titles


def test_the_server_collects_in_the_pauses_between_edits(monkeypatch: pytest.MonkeyPatch) -> None:
    """The cyclic collector runs IDLE seconds after the last message, once for a burst, and
    at once past YOUNG new objects; outside an event loop nothing is scheduled."""
    import gc

    from iommu_rules.lsp import server

    collected: list[float] = []
    monkeypatch.setattr(gc, "collect", lambda *a: collected.append(asyncio.get_event_loop().time()))
    monkeypatch.setattr(server, "IDLE", 0.05)
    ls = server.RulesServer()
    ls.collect_when_idle()  # no loop: nothing happens
    assert not collected

    async def burst() -> None:
        loop = asyncio.get_running_loop()
        start = loop.time()
        for _ in range(5):  # a burst of five messages: one collection, IDLE after the last
            ls.collect_when_idle()
        await asyncio.sleep(0)
        assert not collected
        await asyncio.sleep(0.2)
        assert len(collected) == 1 and collected[0] - start >= 0.05
        monkeypatch.setattr(server, "YOUNG", -1)  # past the limit: now, not later
        ls.collect_when_idle()
        assert len(collected) == 2 and ls._idle is None

    asyncio.run(burst())


def test_the_server_exits_cleanly_when_the_editor_says_exit(tmp_path: Path) -> None:
    """shutdown, then exit: status 0 and nothing on standard error (the transport closes
    standard output at exit, which the CLI's last flush must not take for a bug)."""

    async def main() -> tuple[int | None, bytes]:
        editor = Editor(tmp_path)
        await editor.start()
        await editor.client.shutdown_async(None)
        editor.client.exit(None)
        server = editor.client._server  # the server's process (pygls keeps it here)
        assert server is not None
        status = await asyncio.wait_for(server.wait(), 30)
        err = await server.stderr.read() if server.stderr is not None else b""
        await editor.client.stop()
        return status, err

    status, err = asyncio.run(main())
    assert status == 0, err.decode()
    assert b"internal error" not in err


def test_each_text_of_an_edited_document_is_split_into_statements_once(
    board: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An edit's text is split to compare it with the last analysis's (relocated); where
    it must be analysed, that analysis keeps the split, the base of the next edit's
    comparison (0.03 s a keystroke on a 10k-device board)."""
    from lsprotocol import types as lsp
    from pygls.workspace import Workspace

    from iommu_rules import parse
    from iommu_rules.lsp import analysis, server

    split: list[str] = []

    def counted(text: str) -> list[parse.Statement]:
        split.append(text)
        return parse.statements(text)

    monkeypatch.setattr(server, "statements", counted, raising=False)
    monkeypatch.setattr(analysis, "statements", counted)
    ls = server.RulesServer()
    ls.protocol._workspace = Workspace(None)
    published: list[Any] = []
    monkeypatch.setattr(ls, "publish", lambda a, version: published.append(a))
    uri = (board / "board.iommu").as_uri()
    texts = [BOARD, BOARD.replace("0x10", "0x13"), BOARD.replace("0x10", "0x12")]
    texts.append(texts[-1] + "\n# a comment: relocated, not analysed\n")
    for version, text in enumerate(texts, 1):
        ls.workspace.put_text_document(lsp.TextDocumentItem(uri, "iommu", version, text))
        ls.changed(uri, version)
    assert sorted(map(texts.index, split)) == list(range(len(texts)))
    assert len(published) == len(texts) and published[-1].text == texts[-1]
