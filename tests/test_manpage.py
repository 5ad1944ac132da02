"""The manual page: generated from the command table, committed current, rendered by man.

``iommu-rules.1`` at the top of the repository is what ``python -m iommu_rules.manpage``
prints; when a command changes, regenerate it (the first test says so when it is stale).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from iommu_rules.cli import build_parser
from iommu_rules.commands import COMMANDS
from iommu_rules.commands.base import EXIT_CODES
from iommu_rules.completion import subparsers
from iommu_rules.manpage import ENVIRONMENT, exit_codes, page, text

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "iommu-rules.1"
GENERATED = page(COMMANDS)


def test_the_committed_page_is_the_generated_one() -> None:
    assert PAGE.read_text(encoding="utf-8") == GENERATED, (
        "iommu-rules.1 is stale: run 'python -m iommu_rules.manpage > iommu-rules.1'"
    )


def test_every_command_option_exit_code_and_example_is_in_it() -> None:
    subs = subparsers(build_parser())
    for cmd in COMMANDS:
        assert f'.SS "{text(cmd.name)}"' in GENERATED, cmd.name
        assert text(cmd.description) in GENERATED, cmd.name
        for example in cmd.examples:
            assert "\n" + text(example) + "\n" in GENERATED, example
        for action in subs[cmd.name]._actions:
            for name in action.option_strings:
                assert f"\\fB{text(name)}\\fR" in GENERATED, (cmd.name, name)
            for choice in action.choices or ():
                assert text(str(choice)) in GENERATED, (cmd.name, choice)
        for code, meaning in exit_codes(cmd.exit_codes or ""):
            assert text(meaning) in GENERATED, (cmd.name, code)
    for code, meaning in exit_codes(EXIT_CODES):
        assert f".TP\n\\fB{code}\\fR\n{text(meaning)}\n" in GENERATED
    for section in ("NAME", "SYNOPSIS", "DESCRIPTION", "COMMANDS", "OPTIONS", "EXIT STATUS"):
        assert f"\n.SH {section}\n" in GENERATED
    assert "\\fB\\-\\-version\\fR" in GENERATED


def test_every_environment_variable_the_code_reads_is_documented() -> None:
    read = set()
    for path in [*(ROOT / "dsl").rglob("*.py"), *(ROOT / "repl").rglob("*.py")]:
        source = path.read_text(encoding="utf-8")
        read |= set(re.findall(r"""(?:environ\.get|getenv|environ\[)\(?\s*["']([A-Z_]+)""", source))
    assert read and read <= {name for name, _ in ENVIRONMENT}, read
    for name, _ in ENVIRONMENT:
        assert f".TP\n\\fB{text(name)}\\fR\n" in GENERATED


def test_roff_escapes_what_roff_would_misread() -> None:
    assert text("--set") == "\\-\\-set"
    assert text(".TH x\n'quote") == "\\&.TH x\n\\&'quote"
    assert text("a\\b") == "a\\eb"
    assert text("old → new") == "old \\[u2192] new"
    assert GENERATED.isascii()
    body = [line for line in GENERATED.splitlines() if not line.startswith(".")]
    assert not any(line.startswith("'") for line in body)
    assert not any(re.search(r"(?<!\\)-", line) for line in body), "an unescaped '-'"


def _render(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command,
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": "/usr/bin:/bin", "MANWIDTH": "80", "MANPAGER": "cat", "LANG": "C.UTF-8"},
    )


def test_it_renders_without_warnings() -> None:
    if shutil.which("groff") is None:
        pytest.skip("groff is not installed (Debian/Ubuntu: apt-get install groff man-db)")
    groff = _render("groff", "-man", "-Tutf8", "-ww", "-z", str(PAGE))
    assert groff.returncode == 0 and groff.stderr == "", groff.stderr
    if shutil.which("man") is None:
        pytest.skip("man is not installed (Debian/Ubuntu: apt-get install man-db)")
    man = _render("man", "--warnings", "-l", str(PAGE))
    assert man.returncode == 0 and man.stderr == "", man.stderr
    shown = re.sub(r".\x08", "", man.stdout)  # no overstrike bold
    assert "IOMMU-RULES(1)" in shown and "--detailed-exitcode" in shown
    assert "iommu-rules dot examples/tegra30.iommu --view groups" in shown


def test_the_wheel_installs_it_where_man_looks() -> None:
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert config["tool"]["setuptools"]["data-files"]["share/man/man1"] == ["iommu-rules.1"]
