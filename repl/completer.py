"""Completion: commands, keywords from the grammar, names from the loaded board.

Candidates depend on what is before the cursor; the completer is wrapped in a
ThreadedCompleter by the app, so typing never waits for it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document

from iommu_rules.grammar import keywords, keywords_after, platform_facts
from iommu_rules.model import ATTRIBUTES

from .session import REGISTRY, STATEMENTS, Session


def _nothing_to_wait_for(timeout: float | None = None) -> bool:
    """A session loaded in this thread (tests, the benchmarks): no load to wait for."""
    return True


class ReplCompleter(Completer):
    def __init__(self, session: Session, settle: Callable[[float], bool] = _nothing_to_wait_for):
        self.session = session
        self.settle = settle  # waits for a background load (the app's Starter.settle)
        # The last model's names: completion runs on every key press, the model changes
        # only when the session does.
        self._names: tuple[object, dict[str, str]] | None = None

    def names(self) -> dict[str, str]:
        """Completable names and what they are (once a background load has finished:
        completion runs in its own thread, so waiting for it holds up no key)."""
        self.settle(5.0)
        try:
            model = self.session.model()
        except Exception:  # a session that does not build has no names to offer
            return {}
        if self._names is not None and self._names[0] is model:
            return self._names[1]
        out = {n: "device" for n in model.devices}
        out.update({n: "iommu" for n in model.iommus})
        out.update({n: "domain" for n in model.domains})
        out.update({t: "tag" for t in model.tags if t not in out})
        out.update({f'"{r.name}"': "rule" for r in model.rules if r.explicit_name and not r.std})
        out["system"] = "system"
        self._names = (model, out)
        return out

    def candidates(self, text: str) -> list[tuple[str, str, int]]:
        """(completion, meta, start offset relative to the cursor) for the text so far."""
        words = text.split()
        current = "" if text.endswith((" ", "\t")) or not text else words[-1]
        before = words[:-1] if current else words
        names = self.names()
        if not before:
            pool = [(c, "command") for c in REGISTRY] + [(s, "statement") for s in STATEMENTS]
            return [(w, m, -len(current)) for w, m in pool if w.startswith(current)]
        command = before[0]
        if "." in current:  # NAME.ATTRIBUTE
            subject, _, attr = current.rpartition(".")
            kind = names.get(subject, "")
            attrs = ATTRIBUTES.get(kind if kind in ATTRIBUTES else "", {})
            return [(a, f"{kind} attribute", -len(attr)) for a in attrs if a.startswith(attr)]
        statement = ""
        if command in STATEMENTS:
            statement = text[: len(text) - len(current)]
        elif command == "try" and len(before) >= 2 and before[1] == "add":
            statement = text.split("add", 1)[1][: -len(current) or None].lstrip()
        if statement:
            # What the grammar accepts next, asked of the LALR tables.
            pool = [(k, "keyword") for k in keywords_after(statement)]
            pool += [(n, kind) for n, kind in names.items()]
            return _matching(pool, current)
        if command == "try":
            if len(before) == 1:
                pool = [(w, "change") for w in ("set", "add", "drop", "move")]
            elif before[1] == "move" and len(before) == 3:
                pool = [("to", "keyword")]
            elif before[1] == "move":
                model = self.session.model()
                wanted = model.bridges if len(before) == 4 else model.devices
                pool = [(n, "bridge" if len(before) == 4 else "device") for n in wanted]
            elif before[1] == "drop" and len(before) == 2:
                pool = [
                    (w, "what") for w in ("rule", "device", "iommu", "bridge", "domain", "include")
                ]
            elif before[1] == "set" and len(before) == 2:
                pool = [(w, "platform") for w in platform_facts()]
                pool += [(n, "iommu") for n, k in names.items() if k == "iommu"]
            else:
                pool = [(n, kind) for n, kind in names.items()] + [
                    (k, "keyword") for k in keywords()
                ]
            return _matching(pool, current)
        if command in ("help",):
            return [(c, "command", -len(current)) for c in REGISTRY if c.startswith(current)]
        if command in ("show", "ops", "why", "contexts", "export"):
            pool = [(n, kind) for n, kind in names.items()]
            if command == "ops":
                pool += [
                    (k, "keyword")
                    for k in (
                        "compatible",
                        "on",
                        "kind",
                        "pci",
                        "not",
                        "and",
                        "or",
                        "all",
                        "untrusted",
                        "cap",
                    )
                ]
            if command == "export" and len(before) == 1:
                pool = [("dot", "format")]
            return _matching(pool, current)
        return []

    def get_completions(
        self, document: Document, complete_event: CompleteEvent
    ) -> Iterable[Completion]:
        text = document.text_before_cursor
        for word, meta, start in self.candidates(text):
            yield Completion(word, start_position=start, display_meta=meta)


def _matching(pool: list[tuple[str, str]], current: str) -> list[tuple[str, str, int]]:
    """The pool's words that start with what is typed, sorted (filtered first: the pool
    holds every name of the board)."""
    hits = sorted({(w, m) for w, m in pool if w.startswith(current)})
    return [(w, m, -len(current)) for w, m in hits]
