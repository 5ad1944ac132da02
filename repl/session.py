"""The REPL's state and commands, independent of any terminal.

A session is a base board (the loaded files) plus a stack of changes: what a
user types as a statement, or asks for with ``try``, becomes a change, so
``undo``/``redo``/``reset`` and ``diff`` work the same for both.
"""

from __future__ import annotations

import gc
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from iommu_rules import ast
from iommu_rules.board import Board
from iommu_rules.checks import render_value
from iommu_rules.diagnostics import Diagnostic, SourceMap, Style, plural, render_all, visible
from iommu_rules.lalr import no_gc
from iommu_rules.model import Model
from iommu_rules.parse import TOP_LEVEL
from iommu_rules.resolution import Resolution
from iommu_rules.whatif import Change, ChangeError, checked, diff

from .entries import entries

# the words that start a statement, which joins the session when typed at the prompt
STATEMENTS = TOP_LEVEL


class CommandError(Exception):
    """A command that failed; the message is for the user."""


# A change can move every device of a large board: `try` lists this many devices' changes
# with the summary of all, and `diff` lists them all.
TRY_DEVICES = 40


@dataclass
class Output:
    text: str = ""
    ok: bool = True


@dataclass(frozen=True)
class Command:
    name: str
    usage: str
    summary: str
    run: Callable[[Session, str], str]
    args: str = ""  # what completes after it: "name", "query", "change", "file", "iommu", ""


@dataclass
class Session:
    """The loaded board and the changes on top of it, newest last."""

    paths: list[str] = field(default_factory=list)
    style: Style = field(default_factory=Style)
    board: Board = field(default_factory=lambda: Board.from_text("", "<session>"))
    changes: list[Change] = field(default_factory=list)
    undone: list[Change] = field(default_factory=list)
    _current: tuple[tuple[int, ...], Board] | None = None
    _frozen: Board | None = field(default=None, repr=False)  # the board gc.freeze() last kept

    # -- loading ---------------------------------------------------------------------
    def load(self, paths: list[str]) -> str:
        board = Board.load(*paths)
        errors = [d for d in board.base.diagnostics if d.is_error]
        if errors:
            raise CommandError(render_all(errors, board.sources, self.style))
        self.paths = list(paths)
        self.board = board
        self.changes, self.undone, self._current = [], [], None
        self._frozen = None  # the board it named goes now, not at the next change
        # Resolving waits for the first query, so the prompt comes up fast.
        problems = [d for d in board.model.diagnostics if d.is_error]
        note = f"; {len(problems)} problem(s): try 'check'" if problems else ""
        return f"loaded {', '.join(paths) or 'nothing'}: {len(board.model.devices)} devices{note}"

    # -- the current board -----------------------------------------------------------------
    def current(self) -> Board:
        """The loaded board with the session's changes on top (built once per change set)."""
        key = tuple(map(id, self.changes))
        if self._current is None or self._current[0] != key:
            self._current = (key, self.board.with_changes(self.changes))
        return self._current[1]

    def _state(self) -> tuple[Model, Resolution | None, list[Diagnostic]]:
        board = self.current()
        return board.model, board.resolution if board.ok else None, board.input_diagnostics

    def model(self) -> Model:
        return self.current().model

    def resolved(self) -> tuple[Resolution, list[Diagnostic]]:
        board = self.current()
        if not board.ok:
            raise CommandError(
                "the session does not resolve:\n"
                + render_all(board.errors, board.sources, self.style)
            )
        return board.resolution, board.diagnostics

    def sources(self) -> SourceMap:
        return self.current().sources

    def base_resolution(self) -> Resolution:
        if not self.board.ok:
            raise CommandError(
                "the loaded files do not resolve:\n"
                + render_all(self.board.errors, self.board.sources, self.style)
            )
        return self.board.resolution

    # -- changes ------------------------------------------------------------------------
    def apply(self, text: str) -> str:
        """Apply one change; if the board then fails, the change is not kept."""
        # named as the board names its changes (ChangedLoad: "<change N>" holds its text),
        # so a change that breaks the board is quoted where it says so
        name = f"<change {len(self.changes) + 1}>"
        try:
            change = checked(text, self.model(), name)
        except ChangeError as exc:
            sources = SourceMap()
            sources.add(name, text)
            raise CommandError(render_all(exc.diagnostics, sources, self.style)) from None
        before, _ = self.resolved()
        self._long_lived()
        gc.collect()  # what died since the last freeze, before the next one keeps it
        self.changes.append(change)
        try:
            with no_gc():
                after = self.current()
                if not after.ok:
                    raise CommandError(
                        "not applied:\n" + render_all(after.errors, after.sources, self.style)
                    )
                shown = diff(before, after.resolution).text(TRY_DEVICES).rstrip()
                # The changed board lives until the next change; its objects hold no
                # cycles (refcounts free them), so the collector never needs to see them:
                # its scans of a what-if's 300,000 new objects cost 15-30 ms at 10k.
                gc.freeze()
        except (CommandError, KeyboardInterrupt):  # Ctrl-C: the change was never seen
            self.changes.pop()
            raise
        self.undone.clear()
        return shown

    def _long_lived(self) -> None:
        """Take the loaded board and its resolution out of the cyclic collector's scans
        (``gc.freeze``): they live as long as the session, and the full collections a
        what-if's allocations trigger would walk them all, up to 0.2 s a change on a
        10k-device board. Once per loaded board; memory held without cycles is still
        freed when the board goes."""
        if self._frozen is not self.board:
            gc.freeze()
            self._frozen = self.board


def _words(arg: str) -> list[str]:
    try:
        return shlex.split(arg)
    except ValueError as exc:
        raise CommandError(f"cannot split arguments: {exc}") from None


# ---------------------------------------------------------------- commands
def cmd_help(s: Session, arg: str) -> str:
    if arg.strip():
        cmd = REGISTRY.get(arg.strip())
        if cmd is None:
            from iommu_rules.diagnostics import did_you_mean

            raise CommandError(
                f"no command '{arg.strip()}'"
                + (
                    f"; {did_you_mean(arg.strip(), REGISTRY)}"
                    if did_you_mean(arg.strip(), REGISTRY)
                    else ""
                )
            )
        return f"{cmd.usage}\n  {cmd.summary}"
    width = max(len(c.usage) for c in REGISTRY.values())
    lines = ["commands:"] + [f"  {c.usage:<{width}}  {c.summary}" for c in REGISTRY.values()]
    lines += [
        "",
        "Statements (device ..., rule ..., iommu ..., include ...) join the session as changes.",
        "A query is NAME.ATTRIBUTE, e.g. gr3d.dma_ops, mc.contexts_used, system.default_domain.",
        "Changes: set FACT | set IOMMU PROPERTY | add STATEMENT"
        " | drop rule|device|iommu|bridge|domain|include NAME"
        " | move DEVICE to BRIDGE",
    ]
    return "\n".join(lines)


def cmd_show(s: Session, arg: str) -> str:
    res, _ = s.resolved()
    model = res.model
    name = model.at_address(arg) or arg.strip()  # a PCI function by its address
    if name in res.devices:
        d = res.devices[name]
        dev = model.devices[name]
        what = f"bridge ({dev.bridge})" if dev.bridge else "device"
        where = f" at {dev.pci}" if dev.pci is not None else ""
        lines = [f"{what} {name}{where}: {visible(', '.join(dev.compatibles))}"]
        lines += [
            f"  {k:<15} {render_value(d.values.get(k))}"
            for k in (
                "iommu",
                "group",
                "group_members",
                "default_domain",
                "domain",
                "domain_type",
                "context",
                "dma_ops",
            )
        ]
        lines.append(f"  defined at {dev.span}")
        return "\n".join(lines)
    if name in model.iommus:
        return cmd_contexts(s, name)
    if name in res.domains:
        dom = res.domains[name]
        return (
            f"domain {name}: {dom.type} on {dom.iommu} ({dom.origin}); {dom.placement()}; "
            f"devices {', '.join(dom.devices) or 'none'}"
        )
    if name in model.domains:  # under a `when` that does not hold on this platform
        from iommu_rules.checks import query

        _, why = query(res, name, "members")
        cond = "; ".join(r.text for r in why.because) or "its condition does not hold"
        return f"domain {name}: not built on this platform ({cond})"
    from iommu_rules.diagnostics import did_you_mean

    hint = did_you_mean(name, [*res.devices, *model.iommus, *res.domains, *model.domains])
    raise CommandError(f"nothing named '{name}'" + (f"; {hint}" if hint else ""))


def cmd_ops(s: Session, arg: str) -> str:
    res, _ = s.resolved()
    names = list(res.devices)
    at = res.model.at_address(arg)
    if at is not None:
        names = [at]
    elif arg.strip():
        from iommu_rules.parse import parse_text
        from iommu_rules.rules import _select

        parsed = parse_text(f"rule {arg.strip()} excludes implicit", "<selector>")
        if not parsed.ok or parsed.file is None or not parsed.file.items:
            raise CommandError(
                f"'{arg.strip()}' is not a selector (e.g. gpu, on mc, "
                'compatible "nvidia,*", not display)'
            )
        rule = parsed.file.items[0]
        assert isinstance(rule, ast.Rule) and rule.selector is not None
        chosen = _select(rule.selector, res.model)
        names = [n for n in names if n in chosen]
    if not names:
        return "no device matches"
    width = max(len(n) for n in names)
    return "\n".join(f"{n:<{width}}  {res.devices[n].values.get('dma_ops')}" for n in names)


def cmd_groups(s: Session, arg: str) -> str:
    res, _ = s.resolved()
    lines = []
    for g in res.groups:
        default = "refused" if g.failed else (g.default or "none")
        label = f' "{g.name}"' if g.name else ""
        lines.append(
            f"group {g.id}{label} on {g.iommu}: {', '.join(g.members)}  [default {default}]"
        )
    return "\n".join(lines) or "no groups"


def cmd_contexts(s: Session, arg: str) -> str:
    res, _ = s.resolved()
    model = res.model
    wanted = arg.strip()
    if wanted and wanted not in model.iommus:
        from iommu_rules.diagnostics import did_you_mean

        hint = did_you_mean(wanted, model.iommus)
        raise CommandError(f"no IOMMU '{wanted}'" + (f"; {hint}" if hint else ""))
    lines = []
    live = res.live_domains()
    for iommu in model.iommus.values():
        if wanted and iommu.name != wanted:
            continue
        sharers = res.context_sharers(iommu.name, live)
        limit = iommu.contexts if iommu.contexts else "unlimited"
        lines.append(f"{iommu.name} ({iommu.kind}): {len(sharers)} of {limit} contexts used")
        for c, ds in sharers.items():
            lines.append(f"  {c}: {', '.join(f'{d.name} ({d.type})' for d in ds)}")
    return "\n".join(lines) or "no IOMMUs"


def cmd_domains(s: Session, arg: str) -> str:
    res, _ = s.resolved()
    lines = []
    for d in sorted(res.domains.values(), key=lambda d: d.name):
        state = "FAILED " + d.outcome if d.failed else d.placement()
        lines.append(f"{d.name}: {d.type} on {d.iommu}, {state}; {', '.join(d.devices)}")
    return "\n".join(lines) or "no domains"


def cmd_why(s: Session, arg: str) -> str:
    from iommu_rules.explain import QueryError, explain

    res, _ = s.resolved()
    words = arg.split()
    not_value = None
    query = arg.strip()
    if words and words[0] == "not":
        if len(words) != 3:
            raise CommandError("usage: why not QUERY VALUE, e.g. why not gr3d.dma_ops iommu-dma")
        query, not_value = words[1], words[2]
    if not query:
        raise CommandError("usage: why QUERY, e.g. why gr3d.dma_ops")
    try:
        return explain(res, query, not_value).text()
    except QueryError as exc:
        raise CommandError(str(exc)) from None


def cmd_try(s: Session, arg: str) -> str:
    if not arg.strip():
        raise CommandError("usage: try CHANGE, e.g. try set kernel 6.8")
    return s.apply(arg.strip())


def cmd_diff(s: Session, arg: str) -> str:
    res, _ = s.resolved()
    if not s.changes:
        return "no pending changes"
    changes = "\n".join(f"  {i + 1}. {c.text}" for i, c in enumerate(s.changes))
    return f"changes:\n{changes}\n\n" + diff(s.base_resolution(), res).text().rstrip()


def cmd_undo(s: Session, arg: str) -> str:
    if not s.changes:
        raise CommandError("nothing to undo")
    change = s.changes.pop()
    s.undone.append(change)
    return f"undone: {change.text}"


def cmd_redo(s: Session, arg: str) -> str:
    if not s.undone:
        raise CommandError("nothing to redo")
    change = s.undone.pop()
    s.changes.append(change)
    return f"redone: {change.text}"


def cmd_reset(s: Session, arg: str) -> str:
    n = len(s.changes)
    s.changes, s.undone = [], []
    return f"dropped {n} change(s)"


def session_text(s: Session) -> str:
    """The session as one rule file: stdlib includes, then every other statement."""
    from iommu_rules.fmt import format_file
    from iommu_rules.whatif import ChangedLoad

    load = ChangedLoad(s.board.base, list(s.changes))
    items: list[ast.Item] = []
    std: list[str] = []
    for fname, item in load.ordered_items():
        if load.is_std(fname):
            pack = fname.removesuffix(".iommu")
            if pack not in std:
                std.append(pack)
            continue
        items.append(item)
    head = [ast.Include(ast.Str(p, f'"{p}"')) for p in std]
    file = ast.File("<session>", (*head, *items))
    text = format_file(file, "")
    return "# saved by iommu-rules repl\n" + text


SAVE_USAGE = "usage: save [--force] FILE | save --changes [--force] [FILE]"


def cmd_save(s: Session, arg: str) -> str:
    """``save FILE``: the whole session as one generated file, never over an existing file
    without --force. ``save --changes [FILE]``: the loaded file with the changes written
    in, its comments and layout kept; without FILE, into the loaded file itself."""
    from iommu_rules.pathio import write_atomic

    words = _words(arg)
    flags = {w for w in words if w.startswith("--")}
    paths = [w for w in words if not w.startswith("--")]
    unknown = flags - {"--force", "--changes"}
    if unknown:
        raise CommandError(f"unknown option '{sorted(unknown)[0]}'; {SAVE_USAGE}")
    force, changes = "--force" in flags, "--changes" in flags
    if len(paths) > 1 or (not paths and not changes):
        raise CommandError(SAVE_USAGE)
    res, _ = s.resolved()
    if changes:
        return _save_changes(s, paths[0] if paths else None, force, res)
    path = Path(paths[0]).expanduser()
    if path.exists() and not force:
        loaded = " (the file this session loaded)" if _is_loaded(s, path) else ""
        raise CommandError(
            f"'{path}' exists{loaded}; 'save --force {paths[0]}' replaces it with the whole "
            "session as one generated file, 'save --changes' writes only the changes into "
            "the loaded file, keeping its comments"
        )
    try:
        write_atomic(path, session_text(s))
    except OSError as exc:
        raise CommandError(f"cannot save to '{path}': {exc.strerror or exc}") from None
    if len(s.paths) == 1 and _is_loaded(s, path):  # the file holds the session now
        s.load(s.paths)
        return f"saved {path}; the session starts from it now"
    return f"saved {path}"


def _is_loaded(s: Session, path: Path) -> bool:
    try:
        return any(Path(p).expanduser().resolve() == path.resolve() for p in s.paths)
    except OSError:
        return False


def _save_changes(s: Session, target: str | None, force: bool, res: Resolution) -> str:
    from iommu_rules.edit import EditError, as_loaded, edit_text
    from iommu_rules.loader import read_source
    from iommu_rules.parse import normalize_text
    from iommu_rules.pathio import as_written, write_atomic

    if len(s.paths) != 1 or s.paths[0] == "-":
        raise CommandError(
            "save --changes writes into the one file a session loaded "
            f"(this one loaded {len(s.paths)}); 'save FILE' writes the whole session"
        )
    if not s.changes:
        raise CommandError("no pending changes to save")
    source = Path(s.paths[0]).expanduser()
    raw, diag = read_source(source, s.paths[0], None)
    if raw is None:
        raise CommandError(diag.message if diag else f"cannot read '{source}'")
    path = Path(target).expanduser() if target else source
    into_loaded = _is_loaded(s, path)
    if path.exists() and not into_loaded and not force:
        raise CommandError(f"'{path}' exists; 'save --changes --force {target}' replaces it")
    if not as_loaded(s.board.base, s.paths[0], raw):
        raise CommandError(
            f"'{source}' has changed on disk since it was loaded; 'reload' (which keeps the "
            "changes) and save again"
        )
    try:
        text = edit_text(s.board.base, s.changes, normalize_text(raw), source, res)
    except EditError as exc:
        raise CommandError(
            f"cannot write the changes into '{source}': {exc}; 'save FILE' writes the whole "
            "session as one file"
        ) from None
    out, _mixed = as_written(raw, text)
    try:
        write_atomic(path, out)
    except OSError as exc:
        raise CommandError(f"cannot save to '{path}': {exc.strerror or exc}") from None
    n = len(s.changes)
    if into_loaded:  # the changes are the file's now: the session starts from it
        s.load(s.paths)
        return f"saved {plural(n, 'change')} into {path}; the session starts from it now"
    return f"saved {s.paths[0]} with {plural(n, 'change')} as {path}"


def cmd_load(s: Session, arg: str) -> str:
    words = _words(arg)
    if not words:
        raise CommandError("usage: load FILE...")
    return s.load(words)


def cmd_reload(s: Session, arg: str) -> str:
    changes = list(s.changes)
    out = s.load(s.paths)
    s.changes = changes
    return out + (f"; {len(changes)} change(s) kept" if changes else "")


def cmd_export(s: Session, arg: str) -> str:
    from iommu_rules.dot import VIEWS, render
    from iommu_rules.pathio import write_atomic

    words = _words(arg)
    if len(words) < 2 or words[0] != "dot":
        raise CommandError("usage: export dot FILE [topology|groups|contexts]")
    view = words[2] if len(words) > 2 else "groups"
    if view not in VIEWS:
        raise CommandError(f"no view '{view}': {', '.join(VIEWS)}")
    res, _ = s.resolved()
    try:
        write_atomic(Path(words[1]).expanduser(), render(res, view))
    except OSError as exc:
        raise CommandError(f"cannot write '{words[1]}': {exc.strerror or exc}") from None
    return f"wrote the {view} view to {words[1]}"


def cmd_check(s: Session, arg: str) -> str:
    _model, res, diags = s._state()
    all_diags = [*diags, *(res.diagnostics if res else [])]
    if not all_diags:
        return "no problems"
    return render_all(all_diags, s.sources(), s.style)


def cmd_quit(s: Session, arg: str) -> str:
    raise EOFError


REGISTRY: dict[str, Command] = {
    c.name: c
    for c in [
        Command("help", "help [COMMAND]", "list commands, or explain one", cmd_help, "command"),
        Command(
            "show",
            "show NAME",
            "a device, IOMMU or domain and what it resolved to",
            cmd_show,
            "name",
        ),
        Command(
            "ops", "ops [SELECTOR]", "DMA ops per device (all, or those selected)", cmd_ops, "name"
        ),
        Command("groups", "groups", "IOMMU groups and their default domains", cmd_groups),
        Command("contexts", "contexts [IOMMU]", "context use per IOMMU", cmd_contexts, "iommu"),
        Command("domains", "domains", "every domain and its context", cmd_domains),
        Command("why", "why [not] QUERY [VALUE]", "the derivation of a value", cmd_why, "query"),
        Command(
            "try",
            "try CHANGE",
            "apply a what-if change (set/add/drop) and show the diff (the first "
            f"{TRY_DEVICES} devices; diff lists them all)",
            cmd_try,
            "change",
        ),
        Command("diff", "diff", "all pending changes against the loaded files", cmd_diff),
        Command("undo", "undo", "take back the last change", cmd_undo),
        Command("redo", "redo", "apply the last undone change again", cmd_redo),
        Command("reset", "reset", "drop every change", cmd_reset),
        Command("check", "check", "diagnostics of the session", cmd_check),
        Command(
            "save",
            "save [--changes] [--force] FILE",
            "write the session as one rule file; --changes: only the changes, into the "
            "loaded file, its comments kept",
            cmd_save,
            "file",
        ),
        Command(
            "load",
            "load FILE...",
            "load rule files, dropping the session's changes",
            cmd_load,
            "file",
        ),
        Command("reload", "reload", "read the files again, keeping the changes", cmd_reload),
        Command("export", "export dot FILE [VIEW]", "write a Graphviz view", cmd_export, "export"),
        Command("quit", "quit", "leave (also Ctrl-D)", cmd_quit),
    ]
}


def execute(s: Session, line: str) -> Output:
    """Run what was typed or pasted: each command, or statement, in turn."""
    parts = entries(line)
    if len(parts) <= 1:
        return _execute_one(s, line)
    outputs = [_execute_one(s, part) for part in parts]
    return Output("\n".join(o.text for o in outputs if o.text), all(o.ok for o in outputs))


def _execute_one(s: Session, line: str) -> Output:
    """Run one input: a command, or a statement that joins the session."""
    text = line.strip()
    if not text or text.startswith("#"):
        return Output()
    word, _, rest = text.partition(" ")
    try:
        if word in STATEMENTS:
            return Output(s.apply(f"add {text}"))
        if word == "exit":
            word = "quit"
        cmd = REGISTRY.get(word)
        if cmd is None:
            from iommu_rules.diagnostics import did_you_mean

            hint = did_you_mean(word, [*REGISTRY, *STATEMENTS])
            sources = SourceMap()
            sources.add("<input>", text)
            from iommu_rules.diagnostics import Span, error

            diag = error(
                "E601",
                f"unknown command '{word}'",
                Span("<input>", 1, 1, 1, len(word) + 1),
                help=hint or "type 'help' for the commands",
            )
            return Output(render_all([diag], sources, s.style), ok=False)
        return Output(cmd.run(s, rest))
    except CommandError as exc:
        return Output(str(exc), ok=False)
