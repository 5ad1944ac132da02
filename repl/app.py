"""The interactive front end: a prompt_toolkit session over :mod:`session`.

Without a terminal (``iommu-rules repl < script``) it reads commands line by
line, prints no prompt decoration and exits non-zero if a command failed.

The interactive prompt comes up before the engine is imported: the session is made in a
thread (``starter``) once the prompt is on the screen, so this module imports the engine
only where a command runs.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from .entries import balanced, nesting
from .starter import Starter

if TYPE_CHECKING:
    from .session import Session


def history_path() -> Path:
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "iommu-rules" / "history"


def _session(paths: list[str], colour: bool) -> tuple[Session, str, bool]:
    """A session with the files loaded: (session, what to say, whether loading failed)."""
    from iommu_rules.diagnostics import Style

    from .session import CommandError, Session

    session = Session(style=Style(enabled=colour))
    message = ""
    if paths:
        try:
            message = session.load(paths)
        except CommandError as exc:
            return session, f"{exc}\n(starting with an empty session)", True
    return session, message, False


def run_script(paths: list[str], stream) -> int:  # type: ignore[no-untyped-def]
    """Scripted mode: each command (statements may span lines until braces close)."""
    from iommu_rules.loader import MAX_FILE_BYTES

    from .session import execute

    session, message, failed = _session(paths, colour=False)
    if failed:  # the script goes on, but it did not run on the board it named
        print(message, file=sys.stderr)
    lines: list[str] = []  # the entry read so far
    size = depth = 0  # its bytes, and the braces it leaves open (counted line by line)
    for raw in stream:
        lines.append(raw)
        size += len(raw)
        depth += nesting(raw)
        if size > MAX_FILE_BYTES:  # the limit of every rule file, for one entry too
            print(
                f"an entry larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB (an unclosed "
                "'{'?): skipped",
                file=sys.stderr,
            )
            failed, lines, size, depth = True, [], 0, 0
            continue
        if depth > 0:
            continue
        buffer = "".join(lines)
        lines, size, depth = [], 0, 0
        try:
            out = execute(session, buffer)
        except EOFError:
            break
        if out.text:
            print(out.text, file=sys.stdout if out.ok else sys.stderr)
        failed |= not out.ok
    if "".join(lines).strip():
        print("unfinished input at end of script (an unclosed '{' or '(')", file=sys.stderr)
        failed = True
    return 1 if failed else 0


def run_interactive(paths: list[str], colour: bool) -> int:
    from prompt_toolkit import PromptSession
    from prompt_toolkit.auto_suggest import AutoSuggestFromHistory
    from prompt_toolkit.completion import DynamicCompleter, ThreadedCompleter
    from prompt_toolkit.history import FileHistory, InMemoryHistory
    from prompt_toolkit.key_binding import KeyBindings
    from prompt_toolkit.lexers import PygmentsLexer
    from prompt_toolkit.output.color_depth import ColorDepth

    from .lexer import IommuLexer
    from .style import style as repl_style

    # The engine's import and the board's load run in the background once the prompt is
    # drawn: the prompt answers at once, and a command typed before they are over waits.
    starter = Starter(paths, colour)
    hist_file = history_path()
    history: FileHistory | InMemoryHistory
    try:
        hist_file.parent.mkdir(parents=True, exist_ok=True)
        history = FileHistory(str(hist_file))
    except OSError:
        history = InMemoryHistory()

    bindings = KeyBindings()

    @bindings.add("enter")
    def _(event) -> None:  # type: ignore[no-untyped-def]
        """Enter runs the input once its braces are closed; otherwise a new line."""
        buf = event.current_buffer
        if balanced(buf.text):
            buf.validate_and_handle()
        else:
            buf.insert_text("\n")

    def toolbar() -> str:
        session = starter.session
        if starter.loading or session is None:
            return f" loading {', '.join(paths)} ... | help" if paths else " starting ... | help"
        files = ", ".join(session.paths) or "no files"
        # the resolution if it is there already: the toolbar never starts one (a large
        # board would freeze the prompt while it resolves)
        board = session.current()
        kernel = "?"
        if board._resolution is not None:
            kernel = ".".join(map(str, board._resolution.platform.kernel))
        elif board.model.platform.kernel_version is not None:
            kernel = ".".join(map(str, board.model.platform.kernel_version))
        devices = len(board.model.devices)
        return (
            f" {files} ({devices} devices) | kernel {kernel} | "
            f"{len(session.changes)} pending change(s) | help"
        )

    prompt: PromptSession[str] = PromptSession(
        history=history,
        auto_suggest=AutoSuggestFromHistory(),
        # the thread's, once it has made the session (it then waits for the load itself)
        completer=ThreadedCompleter(DynamicCompleter(lambda: starter.ready_completer(5.0))),
        complete_while_typing=False,
        lexer=PygmentsLexer(IommuLexer) if colour else None,
        key_bindings=bindings,
        bottom_toolbar=toolbar,
        multiline=True,
        enable_history_search=False,
        color_depth=ColorDepth.DEPTH_8_BIT if colour else ColorDepth.DEPTH_1_BIT,
        style=repl_style() if colour else None,
        refresh_interval=0.5,  # the toolbar says when a background load is over
    )
    prompt.app.after_render += lambda _app: starter.start()  # the first prompt is drawn
    if paths:
        print(f"loading {', '.join(paths)} ...")
    else:
        print("iommu-rules repl: no board loaded; 'load FILE' or 'help'")
    while True:
        try:
            text = prompt.prompt("iommu> ", prompt_continuation="    ... ")
        except KeyboardInterrupt:
            continue  # Ctrl-C cancels the line
        except EOFError:
            break  # Ctrl-D
        try:
            if not _run_one(starter, text):
                break
        except KeyboardInterrupt:  # as psql: cancel the command, keep the session
            if starter.loading or starter.session is None:
                print("still loading: the command was not run")
            else:
                from iommu_rules.diagnostics import plural

                kept = len(starter.session.changes)
                print(f"cancelled; the session and its {plural(kept, 'change')} are kept")
    return 0


def _run_one(starter: Starter, text: str) -> bool:
    """Run one entry at the prompt, once the board has loaded; False: the user quits."""
    if text.strip() in ("quit", "exit") and starter.loading:
        return False  # nothing to lose yet: no waiting for a load to leave
    if text.strip() and not starter.settle(0.25):  # a wait the user notices is said
        print("waiting for the board to load (Ctrl-C stops waiting) ...")
    session, said = starter.wait()
    if said:
        print(said)
    from iommu_rules.loader import MAX_FILE_BYTES

    from .session import execute

    if len(text) > MAX_FILE_BYTES:
        print(f"input larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB: not run")
        return True
    try:
        out = execute(session, text)
    except EOFError:
        return False
    if out.text:
        print(out.text)
    return True


def main(paths: list[str], colour: bool) -> int:
    if not sys.stdin.isatty():
        return run_script(paths, sys.stdin)
    return run_interactive(paths, colour)
