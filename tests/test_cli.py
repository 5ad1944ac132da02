"""The command line as a user and a CI job use it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import EXAMPLES, run_process

GOOD = (
    'include "std/linux"\nplatform { arch arm64; kernel 6.8 }\n'
    'iommu smmu: arm-smmu { contexts 8 }\ndevice gpu: "qcom,adreno" { iommu smmu sid 0x0 }\n'
)
BAD = 'iommu smmu: arm-smmu { contexts 8 }\ndevice gpu: "qcom,adreno" { iommu smu sid 0x0 }\n'


def test_version_and_help(cli) -> None:  # type: ignore[no-untyped-def]
    assert cli("--version").stdout.startswith("iommu-rules ")
    out = cli("--help").stdout
    assert "check" in out and "fmt" in out and "exit codes" in out
    for sub in ("check", "fmt"):
        text = cli(sub, "--help").stdout
        assert "example" in text and "exit codes" in text


def test_no_command_is_a_usage_error(cli) -> None:  # type: ignore[no-untyped-def]
    assert cli().returncode == 2
    proc = cli("chek", "x")
    assert proc.returncode == 2 and "invalid choice" in proc.stderr


def test_check_ok_and_error(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    good = tmp_path / "good.iommu"
    good.write_text(GOOD)
    proc = cli("check", str(good))
    assert proc.returncode == 0 and "no problems in 1 file" in proc.stdout
    bad = tmp_path / "bad.iommu"
    bad.write_text(BAD)
    proc = cli("check", "bad.iommu", cwd=tmp_path)
    assert proc.returncode == 3
    assert proc.stderr.startswith("bad.iommu:2:35: error[E104]: unknown iommu 'smu'\n")
    assert "help: did you mean 'smmu'?" in proc.stderr


def test_check_examples(cli) -> None:  # type: ignore[no-untyped-def]
    paths = sorted(str(p) for p in EXAMPLES.glob("*.iommu"))
    assert paths
    proc = cli("check", *paths)
    assert proc.returncode == 0, proc.stderr


def test_check_json(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "bad.iommu").write_text(BAD)
    proc = cli("check", "--format", "json", "bad.iommu", cwd=tmp_path)
    assert proc.returncode == 3
    data = json.loads(proc.stdout)
    assert data["version"] == 1
    (diag,) = data["diagnostics"]
    assert diag["code"] == "E104" and diag["severity"] == "error"
    assert diag["span"] == {"file": "bad.iommu", "line": 2, "col": 35, "end_line": 2, "end_col": 38}
    assert diag["help"] == "did you mean 'smmu'?"


def test_stdin(cli) -> None:  # type: ignore[no-untyped-def]
    proc = cli("check", "-", stdin=BAD)
    assert proc.returncode == 3 and proc.stderr.startswith("<stdin>:2:35:")
    proc = cli("fmt", "-", stdin='device   a:"x"{tags gpu}')
    assert proc.returncode == 0 and proc.stdout == 'device a: "x" { tags gpu }\n'


def test_colour_only_when_asked_and_an_explicit_choice_wins_over_no_color(
    cli, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "bad.iommu").write_text(BAD)
    assert "\x1b[" not in cli("check", "bad.iommu", cwd=tmp_path).stderr  # not a tty
    assert "\x1b[" in cli("check", "--color", "always", "bad.iommu", cwd=tmp_path).stderr
    # no-color.org: "command-line arguments should override $NO_COLOR"
    proc = cli("check", "--color", "always", "bad.iommu", cwd=tmp_path, env={"NO_COLOR": "1"})
    assert "\x1b[" in proc.stderr
    proc = cli("check", "--color", "never", "bad.iommu", cwd=tmp_path)
    assert "\x1b[" not in proc.stderr


def test_missing_file(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    proc = cli("check", "nope.iommu", cwd=tmp_path)
    assert proc.returncode == 3 and "no such file 'nope.iommu'" in proc.stderr


def test_fmt_modes(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "b.iommu"
    path.write_text('device a:"x"{tags gpu}  # keep me\n')
    proc = cli("fmt", "--check", str(path))
    assert proc.returncode == 1 and "would reformat" in proc.stderr
    proc = cli("fmt", "--diff", str(path))
    assert proc.returncode == 1 and '+device a: "x" { tags gpu }  # keep me' in proc.stdout
    path.chmod(0o640)
    proc = cli("fmt", "--write", str(path))
    assert proc.returncode == 0
    assert path.read_text() == 'device a: "x" { tags gpu }  # keep me\n'
    assert path.stat().st_mode & 0o777 == 0o640
    assert cli("fmt", "--check", str(path)).returncode == 0
    assert [p.name for p in tmp_path.iterdir()] == ["b.iommu"]  # no temp file left


def test_fmt_refuses_broken_input_and_keeps_the_file(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "b.iommu"
    path.write_text("device a: {\n")
    proc = cli("fmt", "--write", str(path))
    assert proc.returncode == 3 and "error[E001]" in proc.stderr
    assert path.read_text() == "device a: {\n"


def test_internal_error_is_reported_without_traceback(monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    from iommu_rules import cli as cli_module
    from iommu_rules.board import Board

    def boom(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("kaboom")

    monkeypatch.setattr(Board, "load", boom)
    monkeypatch.delenv("IOMMU_RULES_DEBUG", raising=False)
    assert cli_module.main(["check", "x"]) == 4
    err = capsys.readouterr().err
    assert "internal error: RuntimeError: kaboom" in err and "Traceback" not in err
    assert "report" in err


@pytest.mark.parametrize(
    "text",
    [
        "rule " + "not " * 10_000 + "x requires dma",
        "rule " + "(a and " * 10_000 + "x" + ")" * 10_000 + " requires dma",
        "when " + "not " * 10_000 + "config X { }",
    ],
    ids=["not-selector", "and-parens", "not-condition"],
)
def test_deep_nesting_is_a_diagnostic(cli, text: str) -> None:  # type: ignore[no-untyped-def]
    proc = cli("check", "-", stdin=text)
    assert proc.returncode == 3
    assert "error[E007]" in proc.stderr and "Traceback" not in proc.stderr


def test_python_dash_m_and_console_script_agree(tmp_path: Path) -> None:
    import shutil
    import subprocess
    import sys

    exe = shutil.which("iommu-rules", path=str(Path(sys.executable).parent))
    assert exe, "console script not installed next to this Python"
    out = subprocess.run([exe, "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("iommu-rules ")


def test_parse_tables_are_cached_and_lark_is_not_imported_on_a_warm_start(tmp_path: Path) -> None:
    import subprocess
    import sys

    # Processes: in this one the tables are already in memory, and lark already imported.
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    first = run_process("check", str(EXAMPLES / "tegra30.iommu"), env=env)
    assert first.returncode == 0
    assert list((tmp_path / "cache" / "iommu-rules").glob("tables-*.pickle"))
    import os

    proc = subprocess.run(
        [
            sys.executable,
            "-X",
            "importtime",
            "-m",
            "iommu_rules",
            "check",
            str(EXAMPLES / "tegra30.iommu"),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
    )
    assert proc.returncode == 0
    assert "| lark" not in proc.stderr


def test_unwritable_cache_still_works(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    # A process: this one read (or built) its tables long ago.
    proc = run_process(
        "check", str(EXAMPLES / "tegra30.iommu"), env={"XDG_CACHE_HOME": str(blocker)}
    )
    assert proc.returncode == 0, proc.stderr


def test_a_run_that_ends_pauses_the_collector_and_gives_it_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A one-shot command runs with the cyclic collector off (its scans of a large board
    are a sixth of the run) and hands it back on every way out; the REPL, the language
    server and --watch live on and keep it."""
    import gc

    from iommu_rules import cli
    from iommu_rules.commands import check

    seen: list[bool] = []
    real = check.check

    def spy(args: object) -> object:
        seen.append(gc.isenabled())
        return real(args)  # type: ignore[arg-type]

    monkeypatch.setattr(check, "check", spy)
    assert cli.main(["check", str(EXAMPLES / "tegra30.iommu")]) == 0
    assert seen == [False] and gc.isenabled()

    def boom(args: object) -> object:
        raise RuntimeError("a bug")

    monkeypatch.setattr(check, "check", boom)
    assert cli.main(["check", str(EXAMPLES / "tegra30.iommu")]) == cli.EXIT_INTERNAL
    assert gc.isenabled()

    parser = cli.build_parser()
    for argv in (["repl"], ["lsp"], ["check", "--watch", "b.iommu"], ["test", "--watch", "b"]):
        assert cli._lives_on(parser.parse_args(argv)), argv
    assert not cli._lives_on(parser.parse_args(["check", "b.iommu"]))


# A command that has run ends the process at once (cli.run): Python's teardown of what the
# process kept is skipped. An atexit hook shows whether it ran.
_TEARDOWN = (
    "import atexit, sys\n"
    "atexit.register(lambda: sys.stderr.write('TEARDOWN\\n'))\n"
    "from iommu_rules.cli import run\n"
    "sys.argv[1:] = {argv!r}\n"
    "raise SystemExit(run())\n"
)


@pytest.mark.parametrize(
    ("argv", "stdin", "status", "teardown"),
    [
        (["check", str(EXAMPLES / "tegra30.iommu")], "", 0, False),
        (["check", "-"], "device x: { }", 3, False),  # input errors: their status
        (["repl", str(EXAMPLES / "tegra30.iommu")], "ops gr3d\n", 0, False),
        (["repl", str(EXAMPLES / "tegra30.iommu")], "frobnicate\n", 1, False),
        (["--version"], "", 0, True),  # argparse ends it, before any command
    ],
    ids=["check", "bad-input", "repl", "repl-failed", "version"],
)
def test_a_command_that_has_run_skips_pythons_teardown(
    argv: list[str], stdin: str, status: int, teardown: bool
) -> None:
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-c", _TEARDOWN.format(argv=argv)],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == status, proc.stderr
    assert ("TEARDOWN" in proc.stderr) is teardown, proc.stderr


def test_a_run_under_a_profiler_or_tracer_ends_as_python_does(tmp_path: Path) -> None:
    # They write what they gathered as Python ends: an early end would lose it, silently.
    import pstats
    import subprocess
    import sys

    out = tmp_path / "check.prof"
    board = str(EXAMPLES / "tegra30.iommu")
    proc = subprocess.run(
        [sys.executable, "-m", "cProfile", "-o", str(out), "-m", "iommu_rules", "check", board],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    stats = pstats.Stats(str(out)).stats  # type: ignore[attr-defined]
    assert any(name == "main" and path.endswith("cli.py") for path, _, name in stats)

    traced = _TEARDOWN.replace(
        "from iommu_rules", "sys.settrace(lambda *a: None)\nfrom iommu_rules"
    )
    proc = subprocess.run(
        [sys.executable, "-c", traced.format(argv=["check", board])],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0 and "TEARDOWN" in proc.stderr, proc.stderr


def test_output_is_whole_when_the_process_ends_at_once(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import os
    import subprocess
    import sys

    # What the console script writes through pipes before it ends the process is what
    # main() writes in-process, byte for byte: megabytes on stdout, the diagnostics (and
    # their summary, the last line) on stderr.
    lines = ["iommu smmu0: arm-smmu { contexts 4 }"]
    lines += [f'device d{i}: "vendor,ip-{i}" {{ iommu smmu0 sid {i:#x} }}' for i in range(3000)]
    board = tmp_path / "big.iommu"
    board.write_text("\n".join(lines) + "\n")
    # the streams buffered as a user's are (PYTHONUNBUFFERED would hide a lost buffer)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    for argv, stream in (
        (["resolve", "--json", str(board)], "stdout"),
        (["check", str(board)], "stderr"),
    ):
        inside = cli(*argv)
        proc = subprocess.run(
            [sys.executable, "-m", "iommu_rules", *argv], capture_output=True, text=True, env=env
        )
        assert proc.returncode == inside.returncode == 1  # the contexts run out: E301
        assert len(getattr(proc, stream)) > (1_000_000 if stream == "stdout" else 30_000)
        assert proc.stdout == inside.stdout
        assert proc.stderr == inside.stderr
