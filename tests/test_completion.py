"""Shell completion, run in the real shells: what a user sees after pressing Tab.

bash runs the generated function with COMP_WORDS set as readline sets them; fish answers
``complete -C``; zsh runs its completion system in a pseudo-terminal (zsh/zpty) with
``compadd`` wrapped to print what it adds.  A shell that is not installed is skipped,
saying which one (``.ci/run`` installs them where it can).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from iommu_rules.cli import build_parser
from iommu_rules.commands import COMMANDS
from iommu_rules.completion import script, shapes, subparsers
from iommu_rules.grammar import platform_facts
from iommu_rules.loader import std_packs

VIEWS = next(
    a.choices for a in subparsers(build_parser())["dot"]._actions if a.dest == "view"
)  # the parser's own list: completion must not keep a second one


def _need(shell: str) -> str:
    path = shutil.which(shell)
    if path is None:
        pytest.skip(f"{shell} is not installed (Debian/Ubuntu: apt-get install {shell})")
    return path


@pytest.fixture
def cwd(tmp_path: Path) -> Path:
    """A directory to complete file names in (the scripts are written beside it)."""
    tmp_path = tmp_path / "work"
    tmp_path.mkdir()
    (tmp_path / "board.iommu").write_text("")
    (tmp_path / "notes.txt").write_text("")
    (tmp_path / "soc.dts").write_text("")
    (tmp_path / "sub").mkdir()
    return tmp_path


# -- bash ---------------------------------------------------------------------------------
def bash(cwd: Path, *lines: list[str]) -> list[list[str]]:
    """COMPREPLY for each command line (its last word is the one being completed)."""
    _need("bash")
    (cwd.parent / "c.bash").write_text(script("bash", COMMANDS))
    calls = "".join(
        "c " + " ".join("'" + w.replace("'", "'\\''") + "'" for w in words) + "\n"
        for words in lines
    )
    probe = (
        "source ../c.bash\n"
        'c() { COMP_WORDS=("$@"); COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 )); COMPREPLY=();'
        ' _iommu_rules; echo "${COMPREPLY[*]}"; }\n' + calls
    )
    out = subprocess.run(
        ["bash", "--norc", "--noprofile", "-c", probe],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stderr == ""
    return [line.split() for line in out.stdout.splitlines()]


def test_bash_offers_values_from_the_parser_the_grammar_and_the_packs(cwd: Path) -> None:
    got = bash(
        cwd,
        ["iommu-rules", "dot", "board.iommu", "--view", ""],
        ["iommu-rules", "dot", "board.iommu", "--view", "=", "c"],  # --view=c
        ["iommu-rules", "whatif", "board.iommu", "--set", ""],
        ["iommu-rules", "whatif", "board.iommu", "--add-include", "std/l"],
        ["iommu-rules", "show-pack", ""],
        ["iommu-rules", "import", "listing", "--arch", "arm"],
        ["iommu-rules", "completion", ""],
        ["iommu-rules", "explain", "W20"],
        ["iommu-rules", "check", "--format", ""],
    )
    assert got[0] == list(VIEWS) == ["topology", "groups", "contexts"]
    assert got[1] == ["contexts"]
    assert sorted(got[2]) == sorted(platform_facts()) and "kernel" in got[2]
    assert got[3] == ["std/linux"]
    assert got[4] == std_packs() and "std/soc/tegra" in got[4]
    assert got[5] == ["arm", "arm64"]
    assert got[6] == ["bash", "zsh", "fish"]
    assert got[7] == [f"W20{i}" for i in range(1, 10)]
    assert got[8] == ["text", "json", "github", "sarif", "junit"]


def test_bash_completes_files_by_what_the_argument_is(cwd: Path) -> None:
    got = bash(
        cwd,
        ["iommu-rules", "check", ""],  # rule files: *.iommu and directories
        ["iommu-rules", "check", "board.iommu", "--format", "json", ""],
        ["iommu-rules", "dot", "board.iommu", "-o", ""],  # any file
        ["iommu-rules", "import", ""],
        ["iommu-rules", "import", "dts", ""],  # a device tree: any file
        ["iommu-rules", "import", "dts", "-I", ""],  # a directory
        ["iommu-rules", "snapshot", "--root", ""],
        ["iommu-rules", "whatif", "board.iommu", "--add", ""],  # a statement: no file names
        ["iommu-rules", "why", "board.iommu", ""],  # a query: nothing to offer
    )
    assert sorted(got[0]) == ["board.iommu", "sub"]
    assert sorted(got[1]) == ["board.iommu", "sub"]
    assert sorted(got[2]) == ["board.iommu", "notes.txt", "soc.dts", "sub"]
    assert got[3] == ["dts", "listing"]
    assert sorted(got[4]) == ["board.iommu", "notes.txt", "soc.dts", "sub"]
    assert got[5] == got[6] == ["sub"]
    assert got[7] == got[8] == []


def test_bash_lists_each_option_once(cwd: Path) -> None:
    got = bash(
        cwd,
        ["iommu-rules", "dot", "--"],
        ["iommu-rules", "completion", "-"],
        ["iommu-rules", "-"],
        ["iommu-rules", ""],
    )
    assert got[0] == ["--color", "--help", "--output", "--render", "--view", "--whatif"]
    assert got[1] == ["--help", "-h"]
    assert sorted(got[2]) == ["--help", "--no-cache", "--version", "-h"]
    assert got[3] == [c.name for c in COMMANDS]


# -- fish ---------------------------------------------------------------------------------
def fish(cwd: Path, *lines: str) -> list[list[str]]:
    _need("fish")
    (cwd.parent / "c.fish").write_text(script("fish", COMMANDS))
    out = []
    for line in lines:
        proc = subprocess.run(
            ["fish", "--no-config", "-c", "source ../c.fish; complete -C $argv[1]", line],
            cwd=cwd,
            capture_output=True,
            text=True,
            check=True,
        )
        assert proc.stderr == ""
        out.append([row.split("\t")[0] for row in proc.stdout.splitlines()])
    return out


def test_fish_offers_the_same_values(cwd: Path) -> None:
    got = fish(
        cwd,
        "iommu-rules dot board.iommu --view ",
        "iommu-rules dot board.iommu --view=g",
        "iommu-rules whatif board.iommu --set ",
        "iommu-rules whatif board.iommu --drop-include std/soc/tegra1",
        "iommu-rules show-pack std/l",
        "iommu-rules check ",
        "iommu-rules import ",
        "iommu-rules import dts -I ",
        "iommu-rules whatif board.iommu --add ",
        "iommu-rules dot --",
        "iommu-rules ",
    )
    assert sorted(got[0]) == sorted(VIEWS)
    assert got[1] == ["--view=groups"]
    assert sorted(got[2]) == sorted(platform_facts())
    assert got[3] == [p for p in std_packs() if p.startswith("std/soc/tegra1")]
    assert got[4] == ["std/linux"]
    assert sorted(got[5]) == ["board.iommu", "sub/"]
    assert got[6] == ["dts", "listing"]
    assert got[7] == ["sub/"]
    assert got[8] == []
    assert sorted(got[9]) == ["--color", "--help", "--output", "--render", "--view", "--whatif"]
    assert sorted(got[10]) == sorted(c.name for c in COMMANDS)


# -- zsh ----------------------------------------------------------------------------------
# compadd wrapped: what each call adds, between markers (calls that only ask, -O/-A/-D, pass)
ZSH_CAPTURE = r"""
zmodload zsh/zpty
zpty z zsh -f -i
zpty -w z "PROMPT=''; fpath=($1 \$fpath); autoload -Uz compinit; compinit -u -D"
zpty -w z "compadd() {"
zpty -w z "  if [[ \${@[1,(i)(-|--)]} == *-(O|A|D)\\ * ]]; then builtin compadd \"\$@\"; return; fi"
zpty -w z "  local -a __hits; builtin compadd -A __hits \"\$@\""
zpty -w z "  print -rl -- '<<' \$__hits '>>'; builtin compadd \"\$@\""
zpty -w z "}"
zpty -w z "comppostfuncs=(__done); __done() { print -r -- '@@''END' }"
zpty -w z "bindkey '^I' complete-word"
zpty -w z "$2"$'\t'
local line
while zpty -r z line; do print -rn -- "$line"; [[ $line == *@@END* ]] && break; done
zpty -d z
"""


def zsh(cwd: Path, *lines: str) -> list[list[str]]:
    _need("zsh")
    fpath = cwd.parent / "zfunc"
    fpath.mkdir(exist_ok=True)
    (fpath / "_iommu-rules").write_text(script("zsh", COMMANDS))
    (cwd.parent / "capture.zsh").write_text(ZSH_CAPTURE)
    out = []
    for line in lines:
        proc = subprocess.run(
            ["zsh", "-f", "../capture.zsh", str(fpath), line],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        if "zpty" in proc.stderr:
            pytest.skip(f"zsh cannot run its completion in a pseudo-terminal: {proc.stderr}")
        text = proc.stdout.replace("\r", "")
        assert "@@END" in text, text
        words: list[str] = []
        for chunk in text.split("<<\n")[1:]:
            words += chunk.split(">>")[0].split()
        out.append(sorted(set(words)))
    return out


def test_zsh_offers_the_same_values(cwd: Path) -> None:
    got = zsh(
        cwd,
        "iommu-rules dot board.iommu --view ",
        "iommu-rules dot board.iommu --view=",
        "iommu-rules whatif board.iommu --set ",
        "iommu-rules whatif board.iommu --add-include std/l",
        "iommu-rules check ",
        "iommu-rules import ",
        "iommu-rules import dts -I ",
        "iommu-rules check --",
        "iommu-rules ",
    )
    assert got[0] == got[1] == sorted(VIEWS)
    assert got[2] == sorted(platform_facts())
    assert got[3] == ["std/linux"]
    assert got[4] == ["board.iommu", "sub"]
    assert got[5] == ["dts", "listing"]
    assert got[6] == ["sub"]
    assert got[7] == ["--color", "--format", "--help", "--watch"]
    assert got[8] == sorted(c.name for c in COMMANDS)


# -- the model ----------------------------------------------------------------------------
def test_every_option_of_every_command_is_in_every_script() -> None:
    top, cmds = shapes(COMMANDS)
    scripts = {shell: script(shell, COMMANDS) for shell in ("bash", "zsh", "fish")}
    parser_cmds = subparsers(build_parser())
    for c in cmds:
        parser = parser_cmds[c.name]
        expected = {s for a in parser._actions for s in a.option_strings}
        assert {n for o in c.options for n in o.names} == expected, c.name
        assert [n for o in c.options for n in o.names].count("--help") == 1
        for o in c.options:
            long = o.names[-1]
            assert long in scripts["bash"] and long in scripts["zsh"], (c.name, long)
            assert f"-l {long[2:]}" in scripts["fish"], (c.name, long)
    assert [o.names for o in top.options] == [("-h", "--help"), ("--version",), ("--no-cache",)]


def test_whatif_set_takes_the_facts_the_grammar_has() -> None:
    from iommu_rules.whatif import PLATFORM_WORDS

    assert set(PLATFORM_WORDS) == set(platform_facts())
