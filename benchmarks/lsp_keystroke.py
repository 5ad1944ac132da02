"""How long after a keystroke the editor has the new diagnostics, end to end.

    python benchmarks/lsp_keystroke.py [N]      # default: 1000 devices

A pygls client starts `iommu-rules lsp`, opens a synthetic board of N devices and types:
characters into a compatible string in the middle of the file, new lines near its top
(which move every statement below, and change none), and whole new statements pasted near
the top (which change the board and move every statement below). Each figure is the median
wall time from sending the change to receiving the diagnostics published for that version:
parsing, validating, resolving and the protocol's round trip, as an editor sees it.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

from lsprotocol import types as lsp
from pygls.lsp.client import LanguageClient

sys.path.insert(0, str(Path(__file__).parent))
from synth import board

_SCRIPT = Path(sys.executable).parent / "iommu-rules"
CLI = str(_SCRIPT) if _SCRIPT.exists() else "iommu-rules"


async def _measure(path: Path, keys: int) -> tuple[float, float, float]:
    client = LanguageClient("benchmark", "1")
    got: dict[int, float] = {}
    arrived = asyncio.Event()

    @client.feature(lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    def published(params: lsp.PublishDiagnosticsParams) -> None:
        if params.version is not None:
            got[params.version] = time.perf_counter()
            arrived.set()

    await client.start_io(CLI, "lsp")
    await client.initialize_async(lsp.InitializeParams(capabilities=lsp.ClientCapabilities()))
    client.initialized(lsp.InitializedParams())
    uri = path.as_uri()
    text = path.read_text()
    client.text_document_did_open(
        lsp.DidOpenTextDocumentParams(
            text_document=lsp.TextDocumentItem(uri=uri, language_id="iommu", version=1, text=text)
        )
    )
    version = 1

    async def wait(v: int) -> None:
        while v not in got:
            arrived.clear()
            await asyncio.wait_for(arrived.wait(), 60)

    await wait(1)
    lines = text.split("\n")
    middle = len(lines) // 2
    col = lines[middle].index('"') + 1  # inside the device's compatible string

    async def key(line: int, character: int, typed: str) -> float:
        nonlocal version
        version += 1
        at = lsp.Position(line=line, character=character)
        sent = time.perf_counter()
        client.text_document_did_change(
            lsp.DidChangeTextDocumentParams(
                text_document=lsp.VersionedTextDocumentIdentifier(uri=uri, version=version),
                content_changes=[
                    lsp.TextDocumentContentChangePartial(
                        range=lsp.Range(start=at, end=at), text=typed
                    )
                ],
            )
        )
        await wait(version)
        return got[version] - sent

    # characters typed into a compatible string: one statement changes, and it still parses
    chars = [await key(middle, col + i, "x") for i in range(keys)]
    newlines = [await key(12, 0, "\n") for _ in range(keys)]
    pasted = [
        await key(12, 0, f'device pasted{i}: "vendor,ip-1" {{ tags gpu }}\n') for i in range(keys)
    ]
    await client.shutdown_async(None)
    client.exit(None)
    await client.stop()
    return statistics.median(chars), statistics.median(newlines), statistics.median(pasted)


def keystrokes(path: Path, keys: int = 15) -> tuple[float, float, float]:
    """Median seconds for a character, a new line and a pasted statement."""
    return asyncio.run(_measure(path, keys))


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"synth{n}.iommu"
        path.write_text(board(n))
        char, newline, paste = keystrokes(path)
    print(
        f"| editor keystroke to diagnostics, {n} devices (target < 100 ms at 1k) | "
        f"character {char * 1000:.0f} ms, new line {newline * 1000:.0f} ms, "
        f"pasted statement {paste * 1000:.0f} ms |"
    )


if __name__ == "__main__":
    main()
