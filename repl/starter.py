"""The interactive session, made in a thread once the first prompt is on the screen.

The prompt needs prompt_toolkit and nothing of the engine: importing the engine (~0.1 s)
and loading the board both run in the background, and a command typed meanwhile waits
for them (Ctrl-C stops waiting). This module imports nothing of the engine itself.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .completer import ReplCompleter
    from .session import Session


class Starter:
    """The session and its completer as the thread makes them, and the load's problems."""

    def __init__(self, paths: list[str], colour: bool) -> None:
        self.paths = list(paths)
        self.colour = colour
        self.session: Session | None = None  # once the engine is imported
        self.completer: ReplCompleter | None = None
        # an Event, not Thread.join: a join interrupted by Ctrl-C can leave is_alive() wrong
        self._done = threading.Event()
        self._made = threading.Event()  # the session and its completer are there
        self._said: str | None = None  # the load's problems, not yet shown
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the thread (once; later calls do nothing)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="load", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        try:
            from .completer import ReplCompleter
            from .session import CommandError

            session = self._new_session()
            self.completer = ReplCompleter(session, self.settle)
            self.session = session
            self._made.set()
            if self.paths:
                try:
                    said = session.load(self.paths)  # the toolbar shows the board
                    if any(d.is_error for d in session.board.model.diagnostics):
                        self._said = said
                except CommandError as exc:  # a load that fails leaves the session empty
                    self._said = f"{exc}\n(starting with an empty session)"
        except Exception as exc:  # a bug: say so, keep the session usable
            self._said = f"loading failed: {type(exc).__name__}: {exc}"
        finally:
            self._made.set()
            self._done.set()

    @property
    def loading(self) -> bool:
        return not self._done.is_set()

    def settle(self, timeout: float | None = None) -> bool:
        """Wait (at most ``timeout`` seconds) for the thread; whether it is over. Waits in
        short steps, so Ctrl-C interrupts it at once."""
        self.start()
        end = None if timeout is None else time.monotonic() + timeout
        while not self._done.wait(0.05):
            if end is not None and time.monotonic() >= end:
                return False
        return True

    def ready_completer(self, timeout: float) -> ReplCompleter | None:
        """The completer once the thread has made it (at most ``timeout`` seconds away:
        completion runs in its own thread, so the wait holds up no key)."""
        self.start()
        self._made.wait(timeout)
        return self.completer

    def wait(self) -> tuple[Session, str | None]:
        """The session once the thread is over, and the load's problems (once; None: it
        had none)."""
        self.settle()
        if self.session is None:  # the thread failed before it made one: make it here
            self.session = self._new_session()
        said, self._said = self._said, None
        return self.session, said

    def _new_session(self) -> Session:
        """An empty session (the import of the engine: in the thread, or as a last resort)."""
        from iommu_rules.diagnostics import Style

        from .session import Session

        return Session(style=Style(enabled=self.colour))
