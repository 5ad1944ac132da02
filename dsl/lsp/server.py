"""The protocol side: pygls wiring, positions in the editor's units, and never a crash.

Documents sync incrementally; each change re-analyses the document (the latest version
only: a burst of keystrokes queued behind one analysis is analysed once) and publishes its
diagnostics, and those of the files it includes that are not open themselves (an open file
publishes its own). Every request handler is guarded: a bug answers ``null`` and is
logged to the editor, and the server keeps serving.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import gc
import os
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from lsprotocol import types as lsp
from pygls.exceptions import JsonRpcException
from pygls.lsp.server import LanguageServer
from pygls.uris import from_fs_path, to_fs_path

from .. import __version__
from ..diagnostics import Diagnostic, Severity, Span
from ..parse import Statement, Statements, statements
from . import features
from .analysis import Analysis, analyse, relocated

REQUEST_FAILED = -32803  # LSP's RequestFailed: the request was valid, the server refuses it

# The cyclic collector runs in the pauses between messages, not inside an answer: in one,
# its scans of the boards the last analyses built were a sixth of a keystroke's answer on a
# 1k-device board (a middle collection 5-37 ms most keystrokes, a full one 45-67 ms every
# dozen). It collects IDLE seconds after the last message, and at once past YOUNG new
# objects, so that an editor that never pauses does not grow the heap without bound.
IDLE = 0.5
YOUNG = 2_000_000

SYMBOL_KINDS = {
    "platform": lsp.SymbolKind.Namespace,
    "iommu": lsp.SymbolKind.Class,
    "device": lsp.SymbolKind.Object,
    "bridge": lsp.SymbolKind.Interface,
    "domain": lsp.SymbolKind.Struct,
    "rule": lsp.SymbolKind.Function,
    "when": lsp.SymbolKind.Namespace,
    "include": lsp.SymbolKind.File,
    "expect": lsp.SymbolKind.Event,
    "map": lsp.SymbolKind.Field,
}
COMPLETION_KINDS = {
    "keyword": lsp.CompletionItemKind.Keyword,
    "device": lsp.CompletionItemKind.Variable,
    "iommu": lsp.CompletionItemKind.Class,
    "bridge": lsp.CompletionItemKind.Interface,
    "domain": lsp.CompletionItemKind.Struct,
    "tag": lsp.CompletionItemKind.EnumMember,
    "attribute": lsp.CompletionItemKind.Property,
    "pack": lsp.CompletionItemKind.Module,
    "file": lsp.CompletionItemKind.File,
    "value": lsp.CompletionItemKind.Value,
}

F = TypeVar("F", bound=Callable[..., Any])


class RulesServer(LanguageServer):
    """The server and what it keeps per open document."""

    def __init__(self) -> None:
        super().__init__("iommu-rules", __version__)
        self.analyses: dict[str, Analysis] = {}
        self.statements: dict[str, Statements] = {}
        self.published: dict[str, set[str]] = {}  # root URI -> other URIs it published to
        self.pending: dict[str, int] = {}  # URI -> the version a queued analysis is for
        self._idle: asyncio.TimerHandle | None = None

    def collect_when_idle(self) -> None:
        """After a message: collect cycles once the editor pauses (IDLE), or now past YOUNG
        new objects. Outside an event loop (a test driving the server) nothing is set."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None
        if gc.get_count()[0] > YOUNG:
            gc.collect()
        else:
            self._idle = loop.call_later(IDLE, self._collect)

    def _collect(self) -> None:
        self._idle = None
        gc.collect()

    def report_server_error(self, error: Exception, source: Any) -> None:
        """Log what went wrong; pygls's default would stop the server on some errors."""
        self.log(f"iommu-rules: {type(error).__name__}: {error}")

    def log(self, message: str) -> None:
        # no client to tell (shutting down): nothing more to do
        with contextlib.suppress(Exception):
            self.window_log_message(lsp.LogMessageParams(type=lsp.MessageType.Log, message=message))

    # -- analysis ---------------------------------------------------------------------------
    def analysis(self, uri: str) -> Analysis:
        """The document's analysis for its current text, made now if it is stale."""
        doc = self.workspace.get_text_document(uri)
        found = self.analyses.get(uri)
        if found is not None and found.text == doc.source:
            return found
        return self.refresh(uri)

    def refresh(self, uri: str, split: list[Statement] | None = None) -> Analysis:
        """A new analysis of the document's text (``split``: its statements, if known)."""
        doc = self.workspace.get_text_document(uri)
        display = _display(uri)
        overlay = {
            os.path.realpath(_display(u)): d.source
            for u, d in self.workspace.text_documents.items()
            if u != uri and u.startswith("file:")
        }
        memo = self.statements.setdefault(uri, {})
        found = analyse(uri, display, doc.source, overlay, memo, split, self.analyses.get(uri))
        self.analyses[uri] = found
        if found.failure is not None:
            self.log(found.failure)
            self.window_show_message(
                lsp.ShowMessageParams(
                    type=lsp.MessageType.Error,
                    message="iommu-rules: internal error while resolving this board; the server "
                    "keeps running (details in its log). Please report it with the file.",
                )
            )
        self.publish(found, doc.version)
        return found

    def changed(self, uri: str, version: int) -> None:
        """After an edit: where only comments and blank lines between statements changed,
        the last analysis's diagnostics, moved (the analysis itself is redone when a
        request needs it); else a new analysis."""
        prev = self.analyses.get(uri)
        doc = self.workspace.get_text_document(uri)
        split = None
        if prev is not None and prev.failure is None:
            split = statements(doc.source)  # the module's function (self.statements: memos)
            moved = relocated(prev, doc.source, split)
            if moved is not None:
                self.publish(
                    dataclasses.replace(prev, text=doc.source, diagnostics=moved, _lines={}),
                    version,
                )
                return
        self.refresh(uri, split)
        for other in self.dependents(uri):  # the boards that include it read its buffer
            self.refresh(other)

    def dependents(self, uri: str) -> list[str]:
        """The other open documents whose last analysis read this one (they include it)."""
        real = Path(os.path.realpath(_display(uri)))
        return [
            other
            for other, a in self.analyses.items()
            if other != uri
            and other in self.workspace.text_documents
            and real in a.loaded.paths.values()
        ]

    def publish(self, a: Analysis, version: int | None) -> None:
        by_file: dict[str, list[Diagnostic]] = {}
        for d in a.diagnostics:
            known = d.span.file == a.display or d.span.file in a.loaded.paths
            by_file.setdefault(d.span.file if known else a.display, []).append(d)
        open_uris = set(self.workspace.text_documents)
        others: set[str] = set()
        # the document, the board's own files (to clear what they no longer have), and any
        # file with a problem (one that did not even load, say)
        files = {a.display, *a.user_files(), *(f for f in by_file if f in a.loaded.paths)}
        for display in sorted(files):
            uri = a.uri if display == a.display else _uri(a, display)
            if uri is None or (uri != a.uri and uri in open_uris):
                continue
            diags = [self.diagnostic(a, display, d) for d in by_file.get(display, [])]
            if uri != a.uri:
                others.add(uri)
            self.text_document_publish_diagnostics(
                lsp.PublishDiagnosticsParams(
                    uri=uri, diagnostics=diags, version=version if uri == a.uri else None
                )
            )
        for gone in self.published.get(a.uri, set()) - others:
            if gone not in open_uris:
                self.text_document_publish_diagnostics(
                    lsp.PublishDiagnosticsParams(uri=gone, diagnostics=[])
                )
        self.published[a.uri] = others

    def symbol(self, a: Analysis, s: features.Symbol) -> lsp.DocumentSymbol:
        """An outline entry and its children (a method: a closure calling itself is a
        reference cycle, which would hold the analysis until the collector runs)."""
        return lsp.DocumentSymbol(
            name=s.name,
            kind=SYMBOL_KINDS[s.kind],
            range=self.range(a, s.span),
            selection_range=self.range(a, s.selection),
            detail=s.kind,
            children=[self.symbol(a, c) for c in s.children] or None,
        )

    # -- positions --------------------------------------------------------------------------
    def range(self, a: Analysis, span: Span) -> lsp.Range:
        lines = a.lines(span.file)
        return lsp.Range(
            start=self.position(lines, span.line, span.col),
            end=self.position(lines, span.end_line or span.line, span.end_col or span.col),
        )

    def position(self, lines: list[str], line: int, col: int) -> lsp.Position:
        """A 1-based line and character column as the client counts (UTF-16 by default)."""
        index = max(line - 1, 0)
        text = lines[index] if index < len(lines) else ""
        before = text[: max(col - 1, 0)]
        # ASCII is one unit a character in every encoding a client may ask for (UTF-8, -16
        # and -32); pygls's codec counts character by character in Python, which took a
        # fifth of the server's time publishing the diagnostics of a 1k-device board
        if before.isascii():
            return lsp.Position(line=index, character=len(before))
        units = self.workspace.position_codec.client_num_units(before)
        return lsp.Position(line=index, character=units)

    def where(self, uri: str, position: lsp.Position) -> tuple[Analysis, int, int]:
        """The analysis of a document and a client position as 1-based line and column."""
        a = self.analysis(uri)
        lines = a.lines(a.display)
        at = self.workspace.position_codec.position_from_client_units(lines, position)
        return a, at.line + 1, at.character + 1

    def location(self, a: Analysis, span: Span) -> lsp.Location | None:
        uri = a.uri if span.file == a.display else _uri(a, span.file)
        if uri is None:
            return None
        return lsp.Location(uri=uri, range=self.range(a, span))

    def edits(self, a: Analysis, edits: dict[str, list[features.Edit]]) -> lsp.WorkspaceEdit:
        changes: dict[str, list[lsp.TextEdit]] = {}
        for display, found in edits.items():
            uri = a.uri if display == a.display else _uri(a, display)
            if uri is not None:
                changes[uri] = [
                    lsp.TextEdit(range=self.range(a, e.span), new_text=e.text) for e in found
                ]
        return lsp.WorkspaceEdit(changes=changes)

    def diagnostic(self, a: Analysis, display: str, d: Diagnostic) -> lsp.Diagnostic:
        span = d.span if d.span.line else Span(display, 1, 1, 1, 1)
        message = d.message
        if d.label:
            message += f"\n{d.label}"
        if d.help:
            message += f"\nhelp: {d.help}"
        related = []
        for label in d.secondary:
            where = self.location(a, label.span) if label.span.line else None
            if where is not None:
                related.append(
                    lsp.DiagnosticRelatedInformation(location=where, message=label.message)
                )
        return lsp.Diagnostic(
            range=self.range(a, span),
            message=message,
            severity=lsp.DiagnosticSeverity.Error
            if d.severity is Severity.ERROR
            else lsp.DiagnosticSeverity.Warning,
            code=d.code,
            source="iommu-rules",
            related_information=related or None,
        )


def _display(uri: str) -> str:
    path = to_fs_path(uri)
    return path if path is not None else uri


def _uri(a: Analysis, display: str) -> str | None:
    path = a.path_of(display)
    return from_fs_path(str(path)) if path is not None else None


def guarded(fn: F) -> F:
    """A request handler that answers ``null`` on a bug (logged) instead of failing."""

    @functools.wraps(fn)
    def run(ls: RulesServer, params: Any) -> Any:
        try:
            return fn(ls, params)
        except JsonRpcException:
            raise
        except Exception:
            ls.log(traceback.format_exc())
            return None
        finally:
            ls.collect_when_idle()

    return run  # type: ignore[return-value]


def build() -> RulesServer:
    """The server with every feature registered."""
    server = RulesServer()

    @server.feature(lsp.TEXT_DOCUMENT_DID_OPEN)
    @guarded
    def did_open(ls: RulesServer, params: lsp.DidOpenTextDocumentParams) -> None:
        ls.refresh(params.text_document.uri)

    @server.feature(lsp.TEXT_DOCUMENT_DID_CHANGE)
    async def did_change(ls: RulesServer, params: lsp.DidChangeTextDocumentParams) -> None:
        uri, version = params.text_document.uri, params.text_document.version
        ls.pending[uri] = version
        await asyncio.sleep(0)  # let queued changes in: only the latest is analysed
        if ls.pending.get(uri) != version:
            return
        try:
            ls.changed(uri, version)
        except Exception:
            ls.log(traceback.format_exc())
        finally:
            ls.collect_when_idle()

    @server.feature(lsp.TEXT_DOCUMENT_DID_SAVE)
    @guarded
    def did_save(ls: RulesServer, params: lsp.DidSaveTextDocumentParams) -> None:
        ls.refresh(params.text_document.uri)
        for uri in ls.dependents(params.text_document.uri):  # only they read the saved file
            ls.refresh(uri)

    @server.feature(lsp.TEXT_DOCUMENT_DID_CLOSE)
    @guarded
    def did_close(ls: RulesServer, params: lsp.DidCloseTextDocumentParams) -> None:
        uri = params.text_document.uri
        ls.analyses.pop(uri, None)
        ls.statements.pop(uri, None)
        for other in ls.published.pop(uri, set()):
            ls.text_document_publish_diagnostics(
                lsp.PublishDiagnosticsParams(uri=other, diagnostics=[])
            )
        ls.text_document_publish_diagnostics(lsp.PublishDiagnosticsParams(uri=uri, diagnostics=[]))
        # the open boards that include it read it from disk again, and speak for it
        for other in ls.dependents(uri):
            ls.refresh(other)

    @server.feature(lsp.TEXT_DOCUMENT_HOVER)
    @guarded
    def hover(ls: RulesServer, params: lsp.HoverParams) -> lsp.Hover | None:
        a, line, col = ls.where(params.text_document.uri, params.position)
        found = features.hover(a, a.display, line, col)
        if found is None:
            return None
        text, span = found
        return lsp.Hover(
            contents=lsp.MarkupContent(kind=lsp.MarkupKind.Markdown, value=text),
            range=ls.range(a, span) if span is not None else None,
        )

    @server.feature(
        lsp.TEXT_DOCUMENT_COMPLETION,
        lsp.CompletionOptions(trigger_characters=[".", '"', "/"]),
    )
    @guarded
    def completion(ls: RulesServer, params: lsp.CompletionParams) -> lsp.CompletionList:
        a, line, col = ls.where(params.text_document.uri, params.position)
        lines = a.lines(a.display)
        items = []
        for c in features.completion(a, a.display, line, col):
            start = ls.position(lines, line, c.start_col)
            end = ls.position(lines, line, col)
            items.append(
                lsp.CompletionItem(
                    label=c.label,
                    kind=COMPLETION_KINDS.get(c.kind),
                    detail=c.detail,
                    text_edit=lsp.TextEdit(range=lsp.Range(start=start, end=end), new_text=c.label),
                )
            )
        return lsp.CompletionList(is_incomplete=False, items=items)

    @server.feature(lsp.TEXT_DOCUMENT_DEFINITION)
    @guarded
    def definition(ls: RulesServer, params: lsp.DefinitionParams) -> list[lsp.Location]:
        a, line, col = ls.where(params.text_document.uri, params.position)
        found = (ls.location(a, s) for s in features.definition(a, a.display, line, col))
        return [f for f in found if f is not None]

    @server.feature(lsp.TEXT_DOCUMENT_REFERENCES)
    @guarded
    def references(ls: RulesServer, params: lsp.ReferenceParams) -> list[lsp.Location]:
        a, line, col = ls.where(params.text_document.uri, params.position)
        spans = features.references(a, a.display, line, col, params.context.include_declaration)
        return [f for f in (ls.location(a, s) for s in spans) if f is not None]

    @server.feature(lsp.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
    @guarded
    def symbols(ls: RulesServer, params: lsp.DocumentSymbolParams) -> list[lsp.DocumentSymbol]:
        a = ls.analysis(params.text_document.uri)
        return [ls.symbol(a, s) for s in features.symbols(a, a.display)]

    @server.feature(
        lsp.TEXT_DOCUMENT_PREPARE_RENAME,
    )
    @guarded
    def prepare_rename(ls: RulesServer, params: lsp.PrepareRenameParams) -> lsp.Range | None:
        a, line, col = ls.where(params.text_document.uri, params.position)
        try:
            return ls.range(a, features.prepare_rename(a, a.display, line, col))
        except features.RenameError as exc:
            raise JsonRpcException(str(exc), REQUEST_FAILED) from None

    @server.feature(lsp.TEXT_DOCUMENT_RENAME)
    @guarded
    def rename(ls: RulesServer, params: lsp.RenameParams) -> lsp.WorkspaceEdit | None:
        a, line, col = ls.where(params.text_document.uri, params.position)
        try:
            edits = features.rename(a, a.display, line, col, params.new_name)
        except features.RenameError as exc:
            raise JsonRpcException(str(exc), REQUEST_FAILED) from None
        return ls.edits(a, edits)

    @server.feature(lsp.TEXT_DOCUMENT_FORMATTING)
    @guarded
    def formatting(ls: RulesServer, params: lsp.DocumentFormattingParams) -> list[lsp.TextEdit]:
        a = ls.analysis(params.text_document.uri)
        text = features.formatting(a)
        if text is None or text == a.text:
            return []
        # the whole buffer as the client counts it: a last line end starts one more line
        raw = a.text.splitlines(keepends=True) or [""]
        if raw[-1].endswith(("\n", "\r")):
            end = lsp.Position(line=len(raw), character=0)
        else:
            end = ls.position(raw, len(raw), len(raw[-1]) + 1)
        whole = lsp.Range(start=lsp.Position(line=0, character=0), end=end)
        return [lsp.TextEdit(range=whole, new_text=text)]

    @server.feature(
        lsp.TEXT_DOCUMENT_CODE_ACTION,
        lsp.CodeActionOptions(
            code_action_kinds=[lsp.CodeActionKind.QuickFix, lsp.CodeActionKind.Source]
        ),
    )
    @guarded
    def code_action(ls: RulesServer, params: lsp.CodeActionParams) -> list[lsp.CodeAction]:
        a = ls.analysis(params.text_document.uri)
        first, last = params.range.start.line + 1, params.range.end.line + 1
        out = []
        for act in features.code_actions(a, a.display, first, last):
            kind = (
                lsp.CodeActionKind.QuickFix if act.kind == "quickfix" else lsp.CodeActionKind.Source
            )
            diags = [ls.diagnostic(a, a.display, act.diagnostic)] if act.diagnostic else None
            out.append(
                lsp.CodeAction(
                    title=act.title,
                    kind=kind,
                    diagnostics=diags,
                    edit=ls.edits(a, act.edits),
                    is_preferred=act.preferred or None,
                )
            )
        return out

    return server


def serve() -> None:
    """Serve over stdin and stdout until the client says exit."""
    server = build()
    gc.freeze()  # what the server is made of lives as long as it: no collection walks it
    gc.disable()  # collected in the pauses instead (RulesServer.collect_when_idle)
    server.start_io()


__all__ = ["RulesServer", "build", "serve"]
