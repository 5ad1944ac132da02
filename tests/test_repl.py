"""The REPL in a real terminal (pexpect drives the installed console script in a pty)."""

from __future__ import annotations

import gc
import os
import re
import shutil
import sys
from pathlib import Path

import pexpect
import pytest

from iommu_rules.repl.completer import ReplCompleter
from iommu_rules.repl.session import CommandError, Session, execute

from conftest import EXAMPLES, as_unprivileged, run_cli

TEGRA = str(EXAMPLES / "tegra30.iommu")
PROMPT = "iommu>"


def exe() -> str:
    found = shutil.which("iommu-rules", path=str(Path(sys.executable).parent))
    assert found, "console script not installed next to this Python"
    return found


@pytest.fixture
def repl(tmp_path: Path):  # type: ignore[no-untyped-def]
    env = {
        **os.environ,
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "TERM": "xterm",
        "PROMPT_TOOLKIT_NO_CPR": "1",
        "NO_COLOR": "1",
    }

    def start(*files: str, prefix: tuple[str, ...] = ()) -> pexpect.spawn:
        argv = [*prefix, exe(), "repl", *files]
        child = pexpect.spawn(
            argv[0],
            argv[1:],
            env=env,
            encoding="utf-8",
            timeout=30,
            dimensions=(40, 200),
            cwd=str(tmp_path),
        )
        child.expect_exact(PROMPT)
        return child

    yield start


NEXT_PROMPT = r"\r\n[^\r\n]*iommu>"  # the prompt redrawn after a command's output


def send(child: pexpect.spawn, line: str) -> str:
    """Type a line and return what the command printed."""
    child.sendline(line)
    child.expect(NEXT_PROMPT)
    return str(child.before)


ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Z0-9]|\r")


WAITING = "waiting for the board to load"  # said when a load outlasts a quarter second


def printed_lines(out: str) -> list[str]:
    """The command's output without terminal control sequences or the echoed prompt,
    which prompt_toolkit redraws a varying number of times, or the line that says a
    command waits for the board to load (a busy machine's, not the command's)."""
    lines = (ANSI.sub("", line).rstrip() for line in out.split("\n"))
    return [line for line in lines if line and PROMPT not in line and WAITING not in line]


def test_queries_whatif_undo_and_bad_input(repl) -> None:  # type: ignore[no-untyped-def]
    child = repl(TEGRA)
    out = send(child, "ops gpu")
    assert "gr3d" in out and "dma-direct" in out
    out = send(child, "why gr3d.dma_ops")
    assert "gr3d.dma_ops = dma-direct" in out and "examples/tegra30.iommu:" in out
    out = send(child, "try set mc contexts 2")
    assert "1 context freed" in out
    assert "1. set mc contexts 2" in send(child, "diff")
    assert "undone: set mc contexts 2" in send(child, "undo")
    assert "no pending changes" in send(child, "diff")
    out = send(child, "shwo gr3d")
    assert "unknown command 'shwo'" in out and "^^^^" in out
    assert "did you mean 'show'?" in out
    out = send(child, "show gr3d")
    assert "dma_ops" in out and "dma-direct" in out  # the session survived
    child.sendline("quit")
    child.expect(pexpect.EOF)


def test_completion_offers_device_names(repl) -> None:  # type: ignore[no-untyped-def]
    child = repl(TEGRA)
    child.send("show vd")
    child.send("\t")  # completes to 'vde'; without it, 'show vd' names nothing
    child.expect_exact("e")
    child.sendline("")
    child.expect_exact("nvidia,tegra30-vde")


def test_multiline_statement_and_ctrl_c(repl) -> None:  # type: ignore[no-untyped-def]
    child = repl(TEGRA)
    child.sendline('device epp: "nvidia,tegra30-epp" {')
    child.sendline("    iommu mc swgroup epp")
    child.sendline("}")
    child.expect_exact("+ device epp")
    child.expect(NEXT_PROMPT)
    child.send("half typed line")
    child.sendintr()
    child.expect(NEXT_PROMPT)
    assert "arm_iommu" in send(child, "ops epp")
    child.sendeof()
    child.expect(pexpect.EOF)


def test_save_then_load_reproduces_the_resolution(repl, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    child = repl(TEGRA)
    send(child, "try set mc contexts 3")
    before = send(child, "ops")
    out = send(child, f"save {tmp_path / 'session.iommu'}")
    assert "saved" in out
    child.sendline("quit")
    child.expect(pexpect.EOF)
    child = repl(str(tmp_path / "session.iommu"))
    after = printed_lines(send(child, "ops"))
    assert after == printed_lines(before)
    assert len(after) == 7 and after[0].split() == ["host1x", "arm_iommu"]


def test_history_survives_a_restart(repl) -> None:  # type: ignore[no-untyped-def]
    child = repl(TEGRA)
    send(child, "contexts mc")
    child.sendline("quit")
    child.expect(pexpect.EOF)
    child = repl(TEGRA)
    child.send("\x1b[A")  # up arrow: 'quit'
    child.send("\x1b[A")  # and again: 'contexts mc'
    child.sendline("")
    child.expect_exact("mc (tegra-smmu): 3 of 4 contexts used")


def test_save_to_readonly_dir_keeps_the_session(repl, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ro = tmp_path / "ro"
    ro.mkdir()
    target = ro / "s.iommu"
    target.write_text("# keep me\n")
    ro.chmod(0o500)
    try:
        child = repl(TEGRA, prefix=as_unprivileged())
        out = send(child, f"save --force {target}")
        assert "cannot save" in out and "Permission denied" in out
        assert target.read_text() == "# keep me\n"
        assert sorted(p.name for p in ro.iterdir()) == ["s.iommu"]  # no temp file left
        assert "gr3d" in send(child, "ops")  # the session goes on
        out = send(child, f"save {tmp_path / 'elsewhere.iommu'}")
        assert (tmp_path / "elsewhere.iommu").read_text().startswith("#")
    finally:
        ro.chmod(0o700)


def test_scripted_mode_without_a_terminal() -> None:
    script = "ops gpu\nwhy gr3d.dma_ops\nbogus\n"
    proc = run_cli("repl", TEGRA, stdin=script)  # stdin is not a terminal
    assert proc.returncode == 1  # a command failed
    assert "iommu>" not in proc.stdout
    assert "gr3d.dma_ops = dma-direct" in proc.stdout
    assert "unknown command 'bogus'" in proc.stderr
    ok = run_cli("repl", TEGRA, stdin="groups\n")
    assert ok.returncode == 0 and 'group 3 "display"' in ok.stdout


def test_a_change_is_named_alike_in_every_error_about_it() -> None:
    # the session's second change: its parse errors and its unknown names both say so
    script = "try set kernel 6.8\ntry drop device gr3e\ntry drop devise gr3d\n"
    proc = run_cli("repl", TEGRA, stdin=script)
    assert proc.returncode == 1
    assert "<change 2>:1:1: error[E502]: no device 'gr3e' to drop" in proc.stderr
    assert "<change 2>:1:6: error[E501]" in proc.stderr
    assert "<change>" not in proc.stderr


def test_completer_unit() -> None:
    session = Session()
    session.load([TEGRA])
    comp = ReplCompleter(session)
    assert ("show", "command", -2) in comp.candidates("sh")
    assert any(w == "gr3d" for w, _, _ in comp.candidates("show gr"))
    attrs = [w for w, _, _ in comp.candidates("why gr3d.dm")]
    assert attrs == ["dma_ops"]
    assert any(w == "contexts_used" for w, _, _ in comp.candidates("why mc.con"))


def test_every_command_survives_garbage(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from iommu_rules.repl.session import REGISTRY

    monkeypatch.chdir(tmp_path)  # `save }{` and `export gr3d.` write files in the cwd
    session = Session()
    session.load([TEGRA])
    for name in REGISTRY:
        if name == "quit":
            continue
        for arg in ("", '"', "}{", "nonsense words here", "gr3d.", "not a b c"):
            out = execute(session, f"{name} {arg}")
            assert isinstance(out.text, str)
    assert "gr3d" in execute(session, "ops").text


def test_pygments_plugin_is_registered() -> None:
    from pygments.lexers import get_lexer_by_name

    lexer = get_lexer_by_name("iommu")
    tokens = list(lexer.get_tokens('device gpu: "x" { iommu smmu sid 0x1 }  # c\n'))
    kinds = {str(t) for t, _ in tokens}
    assert "Token.Keyword.Declaration" in kinds and "Token.Comment.Single" in kinds


def test_keyword_completion_follows_the_grammar() -> None:
    session = Session()
    session.load([TEGRA])
    comp = ReplCompleter(session)
    props = [w for w, m, _ in comp.candidates('device x: "y" { ') if m == "keyword"]
    assert "dma-mask" in props and "tags" in props and "contexts" not in props
    assert [w for w, _, _ in comp.candidates("rule gpu requires i")] == ["identity"]
    assert [w for w, _, _ in comp.candidates("try drop r")] == ["rule"]


def test_pasted_lines_run_each() -> None:
    session = Session()
    session.load([TEGRA])
    out = execute(
        session, 'ops gpu\ndevice epp: "nvidia,tegra30-epp" {\n iommu mc swgroup epp\n}\nops epp'
    )
    assert out.ok and "gr3d" in out.text and "+ device epp" in out.text
    assert out.text.rstrip().endswith("arm_iommu")


def test_show_a_domain_not_built_on_this_platform(tmp_path: Path) -> None:
    board = tmp_path / "cond.iommu"
    board.write_text(
        'include "std/linux"\nplatform { arch arm64; kernel 6.8 }\n'
        "iommu smmu: arm-smmu { contexts 8 }\n"
        'device dc0: "vendor,dc" { iommu smmu sid 1; driver own-domain }\n'
        'when cmdline has "iommu.passthrough=1" {\n'
        "    domain drm: unmanaged on smmu { attach dc0 }\n}\n"
    )
    session = Session()
    session.load([str(board)])
    out = execute(session, "show drm").text
    assert out.startswith("domain drm: not built on this platform") and "passthrough" in out


def _synthetic_board(path: Path, devices: int) -> Path:
    """The benchmarks' synthetic board (SoC masters on arm-smmus and PCI functions)."""
    import importlib.util

    from conftest import ROOT

    spec = importlib.util.spec_from_file_location("synth", ROOT / "benchmarks" / "synth.py")
    assert spec and spec.loader
    synth = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(synth)
    path.write_text(synth.board(devices))
    return path


def test_ctrl_c_cancels_a_long_try_and_keeps_the_session(repl, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """As psql and pgcli: Ctrl-C cancels the running command, not the session (it ended
    the REPL with 130 and the pending changes were lost). A try on 10k devices resolves
    the board again, most of a second, so an interrupt 0.2 s in lands inside it; should
    the machine be faster than that, the next kernel is tried."""
    import time

    board = _synthetic_board(tmp_path / "big.iommu", 10000)
    child = repl(str(board))
    child.timeout = 120
    assert "no changes" in send(child, "try set kernel 6.6")  # a pending change
    for kernel in ("6.1", "5.15", "5.10", "5.4"):
        child.sendline(f"try set kernel {kernel}")
        time.sleep(0.2)
        child.sendintr()
        cancelled = re.escape("cancelled; the session and its 1 change are kept")
        if child.expect([cancelled, NEXT_PROMPT]) == 1:
            send(child, "undo")  # it finished first: a second pending change
            continue
        child.expect(NEXT_PROMPT)
        break
    else:
        pytest.fail("every try finished before its Ctrl-C")
    out = send(child, "diff")
    assert "1. set kernel 6.6" in out and kernel not in out
    assert child.isalive()
    child.sendline("quit")
    child.expect(pexpect.EOF)


def big_board(tmp_path: Path, n: int) -> Path:
    lines = ['include "std/linux"', "platform { arch arm64; kernel 6.8 }"]
    lines += [f"iommu smmu{i}: arm-smmu {{ contexts 128 }}" for i in range(n // 100)]
    lines += [
        f'device d{i}: "vendor,ip" {{ iommu smmu{i // 100} sid {i % 100} }}' for i in range(n)
    ]
    path = tmp_path / "big.iommu"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_the_prompt_answers_before_a_large_board_has_loaded(repl, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The board loads in the background: the prompt is there at once, a command typed
    meanwhile waits for the board (Ctrl-C stops waiting and keeps the session), and then
    answers on the loaded board."""
    import time

    path = big_board(tmp_path, 20_000)
    t = time.perf_counter()
    child = repl(str(path))  # returns once the prompt is on the screen
    prompt_after = time.perf_counter() - t
    child.sendline("show d19999")
    child.expect_exact("waiting for the board to load")
    child.sendintr()
    child.expect_exact("still loading: the command was not run")
    child.expect(NEXT_PROMPT)
    out = send(child, "show d19999")
    assert "vendor,ip" in out and "smmu199" in out
    loaded_after = time.perf_counter() - t
    assert prompt_after < loaded_after / 2, (prompt_after, loaded_after)
    child.sendeof()
    child.expect(pexpect.EOF)


SLOW_ENGINE = """
import runpy, sys, time
from importlib.abc import MetaPathFinder

class SlowEngine(MetaPathFinder):  # the engine's import takes 4 s longer
    def find_spec(self, name, path, target=None):
        if name == "iommu_rules.board":
            time.sleep(4)
        return None

sys.meta_path.insert(0, SlowEngine())
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def test_the_prompt_comes_before_the_engine_is_imported(repl, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The first prompt needs prompt_toolkit alone: with the engine's import slowed by 4 s
    the prompt is there well before, and the first command waits for the engine and
    then answers on the board."""
    import time

    wrapper = tmp_path / "slow_engine.py"
    wrapper.write_text(SLOW_ENGINE)
    t = time.perf_counter()
    child = repl(TEGRA, prefix=(sys.executable, str(wrapper)))
    assert time.perf_counter() - t < 3.0
    child.sendline("show gr3d")
    child.expect_exact("waiting for the board to load")
    child.expect_exact("nvidia,tegra30-gr3d")
    assert time.perf_counter() - t > 4.0  # the engine's import was slowed indeed
    child.expect(NEXT_PROMPT)
    child.sendeof()
    child.expect(pexpect.EOF)


def test_quit_leaves_at_once_while_the_engine_loads(repl, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import time

    wrapper = tmp_path / "slow_engine.py"
    wrapper.write_text(SLOW_ENGINE)
    child = repl(TEGRA, prefix=(sys.executable, str(wrapper)))
    t = time.perf_counter()
    child.sendline("quit")
    child.expect(pexpect.EOF)
    assert time.perf_counter() - t < 3.0  # the engine's import alone takes 4 s more


def test_a_board_that_fails_to_load_says_why_at_the_first_command(repl, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "bad.iommu"
    bad.write_text("device x: {\n")
    child = repl(str(bad))
    out = send(child, "help")
    assert "starting with an empty session" in out and "bad.iommu:1" in out
    child.sendeof()
    child.expect(pexpect.EOF)


def test_a_try_that_moves_many_devices_lists_the_first_and_counts_the_rest(
    tmp_path: Path,
) -> None:
    """A passthrough change moves every translated device of a large board: `try` shows
    the first TRY_DEVICES of them and the summary of all at once, `diff` lists them all."""
    from iommu_rules.repl.session import TRY_DEVICES
    from iommu_rules.whatif import CONTEXT_LINES

    session = Session()
    session.load([str(big_board(tmp_path, 300))])
    shown = execute(session, 'try set cmdline "iommu.passthrough=1"').text
    entries = [line for line in shown.splitlines() if line.startswith("~ device ")]
    assert len(entries) == TRY_DEVICES
    assert entries[0] == "~ device d0" and entries[-1] == f"~ device d{TRY_DEVICES - 1}"
    more = 300 - TRY_DEVICES
    assert f"… {more} more devices (`diff` lists every change)" in shown
    # each of the three IOMMUs frees 100 contexts: the first CONTEXT_LINES of each, and a count
    freed = [line for line in shown.splitlines() if line.startswith("    - context ")]
    assert len(freed) == 3 * CONTEXT_LINES
    assert shown.count(f"    … {100 - CONTEXT_LINES} more context lines") == 3
    assert shown.rstrip().endswith(
        "300 devices change DMA ops, 1 global default changes, 300 contexts freed"
    )
    full = execute(session, "diff").text
    assert len([line for line in full.splitlines() if line.startswith("~ device ")]) == 300
    assert len([line for line in full.splitlines() if line.startswith("    - context ")]) == 300
    assert "…" not in full
    # a change that moves few devices is shown whole
    assert "more device" not in execute(session, "try set kernel 6.6").text


def test_boards_hold_no_reference_cycles(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Reference counting frees a board when another replaces it (an undone what-if, an
    edited document) only while nothing in a board, its model, its resolution or what is
    made from them forms a reference cycle (networkx's cached edge view, a closure that
    calls itself, a callback held by what it calls back); the language server collects
    only in the pauses between edits, and the REPL freezes the loaded board out of the
    collector. Nothing is frozen here, so a cycle shows as garbage."""
    from lsprotocol import types as lsp

    from iommu_rules.lsp.analysis import analyse
    from iommu_rules.lsp.features import symbols
    from iommu_rules.lsp.server import RulesServer

    monkeypatch.setattr(gc, "freeze", lambda: None)
    server = RulesServer()

    def run() -> int:
        applied = 0
        for path in sorted(EXAMPLES.glob("*.iommu")):
            copy = tmp_path / path.name
            shutil.copy(path, copy)
            session = Session()
            session.load([str(copy)])
            model = session.model()
            changes = ['set cmdline "iommu.passthrough=1"', "set kernel 5.4"]
            changes += [f"drop device {next(iter(model.devices))}"]
            changes += [f"drop iommu {name}" for name in list(model.iommus)[:1]]
            for change in changes:
                try:
                    session.apply(change)
                    applied += 1
                except CommandError:
                    pass
            execute(session, "ops")
            execute(session, "undo")
            execute(session, "save --changes")  # rewrites the file: edit.edit_text
            text = path.read_text()
            memo: dict[str, object] = {}
            for edit in ("", "\n# an edit\n"):
                a = analyse(path.as_uri(), str(path), text + edit, {}, memo)  # type: ignore[arg-type]
                outline = [server.symbol(a, s) for s in symbols(a, a.display)]
                assert all(isinstance(o, lsp.DocumentSymbol) for o in outline)
                assert a.names[a.display]  # the identifiers rename and references read
        return applied

    run()  # what a first use makes once (imports, caches) is no board's
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        assert run() > 60
        gc.collect()
        kinds = sorted({type(o).__qualname__ for o in gc.garbage})
        assert not gc.garbage, f"{len(gc.garbage)} objects in cycles: {kinds[:20]}"
    finally:
        gc.set_debug(0)
        gc.garbage.clear()


def test_a_change_keeps_its_board_out_of_the_collectors_scans() -> None:
    """A change's board lives until the next change and holds no cycles (the test above):
    the session takes it out of the cyclic collector's generations once made, whose scans
    of its objects would otherwise cost every what-if on a large board."""
    session = Session()
    session.load([TEGRA])
    try:
        session.apply('set cmdline "iommu.passthrough=1"')
        res, _ = session.resolved()
        scanned = {id(o) for o in gc.get_objects()}
        assert id(res) not in scanned
        assert not any(id(d) in scanned or id(d.values) in scanned for d in res.devices.values())
        assert session.changes  # kept: the freeze is no reason to drop the change
    finally:
        gc.unfreeze()


def test_a_change_that_breaks_the_board_is_quoted_with_a_caret() -> None:
    """The session names its changes as the board does (<change N>), so the change's
    text is there to quote when the changed board fails."""
    session = Session()
    session.load([TEGRA])
    execute(session, 'try set cmdline "iommu.passthrough=1"')
    out = execute(session, 'try add device x: "y" { iommu mcc swgroup epp }')
    assert not out.ok
    lines = out.text.splitlines()
    at = lines.index('1 | add device x: "y" { iommu mcc swgroup epp }')
    assert lines[at - 1].startswith("<change 2>:1:27: error[E104]: unknown iommu 'mcc'")
    assert lines[at + 1].startswith("  | " + " " * 26 + "^^^")
    assert len(session.changes) == 1  # not applied
