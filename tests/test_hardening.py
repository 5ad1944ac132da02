"""Defects found by trying the tool as a new user and as a hostile one: each test failed
before its fix."""

from __future__ import annotations

from pathlib import Path

from iommu_rules import Board

ROOT = Path(__file__).resolve().parent.parent

EMMC = """\
include "std/linux"
platform {{ arch arm64; kernel 6.8; ram 0x80000000 size 2G }}
iommu smmu: arm-smmu {{ contexts 8 }}
device emmc: "vendor,sdhci" {{ iommu smmu sid 0x10 }}
{rules}
"""


def test_two_hard_rules_that_contradict_each_other_are_e211_naming_both() -> None:
    board = Board.from_text(
        EMMC.format(rules='rule "a": emmc requires identity\nrule "b": emmc requires dma\n'),
        "emmc.iommu",
    )
    e211 = [d for d in board.diagnostics if d.code == "E211"]
    assert len(e211) == 1
    assert "'emmc' needs dma" in e211[0].message and "'emmc' needs identity" in e211[0].message
    assert {e211[0].span.line, e211[0].secondary[0].span.line} == {5, 6}  # both rules


def test_two_agreeing_hard_rules_are_no_conflict() -> None:
    board = Board.from_text(
        EMMC.format(rules="rule emmc requires identity\nrule emmc requires identity\n"),
        "emmc.iommu",
    )
    assert not board.errors
    assert board.value("emmc.default_domain") == "identity"


def test_a_std_include_that_leaves_the_stdlib_is_refused(tmp_path: Path) -> None:
    (tmp_path / "pack.iommu").write_text('rule "mine": nosuchtag requires identity\n')
    board_file = tmp_path / "board.iommu"
    escape = "std/" + "../" * 30 + str(tmp_path).lstrip("/") + "/pack"
    board_file.write_text(f'include "{escape}"\ndevice a: "x"\n')
    board = Board.load(board_file)
    assert [d.code for d in board.input_diagnostics] == ["E134"]
    assert "leaves the stdlib" in board.input_diagnostics[0].message


def test_a_users_file_under_a_folder_named_std_is_validated(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Trust comes from where a pack is, never from how its path is spelt."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "std").mkdir()
    (tmp_path / "std" / "mine.iommu").write_text('rule "r": nosuchtag requires identity\n')
    board = Board.load("std/mine.iommu")
    assert [d.code for d in board.input_diagnostics] == ["E106"]  # unknown device or tag


def test_why_of_an_unknown_name_is_an_input_error_and_a_malformed_query_usage(
    tmp_path: Path,
) -> None:
    from conftest import run_cli

    board = str(ROOT / "examples" / "tegra30.iommu")
    unknown = run_cli("why", board, "gr3e.dma_ops")
    assert unknown.returncode == 3 and "did you mean 'gr3d'" in unknown.stderr
    no_attr = run_cli("why", board, "gr3d.dma_opz")
    assert no_attr.returncode == 3 and "did you mean 'dma_ops'" in no_attr.stderr
    malformed = run_cli("why", board, "gr3d")
    assert malformed.returncode == 2 and "NAME.ATTRIBUTE" in malformed.stderr


def test_a_repl_script_whose_board_does_not_load_fails(tmp_path: Path) -> None:
    from conftest import run_cli

    bad = tmp_path / "bad.iommu"
    bad.write_text("device a: {\n")
    proc = run_cli("repl", str(bad), stdin="help\n")
    assert proc.returncode == 1
    assert "error[E" in proc.stderr and "starting with an empty session" in proc.stderr


def _nested_whens(depth: int) -> str:
    heads = "".join(f"when kernel >= 4.{i % 20} {{\n" for i in range(depth))
    return f"{heads}rule all requires dma\n" + "}\n" * depth


def test_deeply_nested_when_blocks_are_e007_everywhere(tmp_path: Path) -> None:
    from conftest import run_cli

    head = 'include "std/linux"\nplatform { kernel 6.8 }\ndevice d: "x"\n'
    ok = Board.from_text(head + _nested_whens(200), "deep.iommu")
    assert ok.ok and not ok.errors  # the limit itself still loads and resolves
    deep = Board.from_text(head + _nested_whens(250), "deep.iommu")
    assert [d.code for d in deep.input_diagnostics] == ["E007"]
    assert "when A and B" in deep.input_diagnostics[0].help
    path = tmp_path / "deep.iommu"
    path.write_text(head + _nested_whens(250))
    for args in (["check"], ["fmt"], ["resolve"], ["whatif", "--set", "kernel 6.1"]):
        proc = run_cli(*args[:1], str(path), *args[1:])
        assert proc.returncode == 3 and "error[E007]" in proc.stderr, (args, proc.stderr)
    # typed or pasted into the REPL, loaded into it: an error, and the session goes on
    script = _nested_whens(250) + f"load {path}\nops\n"
    repl = run_cli("repl", str(ROOT / "examples" / "tegra30.iommu"), stdin=script)
    assert repl.returncode == 1 and "internal error" not in repl.stderr
    assert repl.stderr.count("E007") == 2
    assert "gr3d" in repl.stdout  # `ops` still answers, on the board that stayed loaded


def test_whatif_exit_codes_follow_terraform_and_new_errors_fail() -> None:
    from conftest import run_cli

    board = str(ROOT / "examples" / "tegra30.iommu")
    detailed = ("--detailed-exitcode",)
    # a change that breaks the board (the implicit mappings run out of ASIDs)
    broken = run_cli("whatif", board, "--set", "mc contexts 2")
    assert broken.returncode == 1 and "+ error[E301]" in broken.stdout
    assert run_cli("whatif", board, "--set", "mc contexts 2", *detailed).returncode == 1
    # a clean difference, and none
    assert run_cli("whatif", board, "--set", "kernel 6.8", *detailed).returncode == 2
    assert run_cli("whatif", board, "--set", "kernel 6.8").returncode == 0
    assert run_cli("whatif", board, "--set", "kernel 4.18", *detailed).returncode == 0
    # every error is 1 under --detailed-exitcode, never the 2 of a difference
    assert run_cli("whatif", board, *detailed).returncode == 1  # no change given
    assert run_cli("whatif", board, "--bogus", *detailed).returncode == 1  # unknown flag
    assert run_cli("whatif", board, "--set", "mcc contexts 2", *detailed).returncode == 1
    assert run_cli("whatif", board, "--bogus").returncode == 2
    assert run_cli("whatif", board, "--set", "mcc contexts 2").returncode == 3


def test_a_set_change_cannot_break_out_of_its_block_and_errors_point_at_the_typed_text() -> None:
    from conftest import run_cli

    board = str(ROOT / "examples" / "tegra30.iommu")
    escape = 'kernel 6.8 } device evil: "x" { tags q'
    for args in (["whatif", board, "--set", escape], ["dot", board, "--whatif", f"set {escape}"]):
        proc = run_cli(*args)
        assert proc.returncode == 3 and "internal error" not in proc.stderr, proc.stderr
        assert "<change 1>:1:16: error[E501]: '}' in a 'set' change" in proc.stderr
    short = run_cli("whatif", board, "--set", "kernel")
    assert "<change 1>:1:11: error[E001]: the change ends too early" in short.stderr
    assert "'}'" not in short.stderr  # the user wrote none
    iommu = run_cli("whatif", board, "--set", "mc contexts x")
    assert "<change 1>:1:17: error[E001]: unexpected 'x'" in iommu.stderr


def _write_denied(tmp_path: Path) -> Path:
    """A folder this test's unprivileged child may read but not write."""
    folder = tmp_path / "ro"
    folder.mkdir()
    (folder / "ugly.iommu").write_text('device a:"x"\n')
    folder.chmod(0o555)
    return folder


def test_every_unwritable_output_is_one_clear_line_and_exit_3(tmp_path: Path) -> None:
    from conftest import as_unprivileged, run_process

    ro = _write_denied(tmp_path)
    board = str(ROOT / "examples" / "tegra30.iommu")
    groups = tmp_path / "groups.txt"
    groups.write_text(
        "IOMMU Group 0 00:00.0 Host bridge [0600]: Intel Corporation Device [8086:1234]\n"
    )
    cases = [
        (["fmt", "--write", str(ro / "ugly.iommu")], f"cannot write '{ro}/ugly.iommu'"),
        (["import", "listing", str(groups), "-o", str(ro / "x.iommu")], "Permission denied"),
        (["import", "listing", str(groups), "-o", str(tmp_path / "no" / "x.iommu")], "No such"),
        (["dot", board, "-o", str(tmp_path)], "it is a directory"),
        (["dot", board, "--render", "svg", "-o", str(ro / "x.svg")], "Permission denied"),
    ]
    for args, why in cases:
        proc = run_process(*args, prefix=as_unprivileged())
        assert proc.returncode == 3, (args, proc.stderr)
        assert "internal error" not in proc.stderr and why in proc.stderr, (args, proc.stderr)
        assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert sorted(p.name for p in ro.iterdir()) == ["ugly.iommu"]  # nothing half-written
    assert (ro / "ugly.iommu").read_text() == 'device a:"x"\n'


def test_resolve_into_a_full_disk_says_so(tmp_path: Path) -> None:
    import subprocess
    import sys

    board = str(ROOT / "examples" / "tegra30.iommu")
    with open("/dev/full", "w") as full:
        proc = subprocess.run(
            [sys.executable, "-m", "iommu_rules", "resolve", board],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
        )
    assert proc.returncode == 3
    assert proc.stderr.strip() == (
        "iommu-rules resolve: cannot write to standard output: No space left on device"
    )


def test_fmt_write_keeps_line_endings_bom_mode_and_refuses_read_only_files(
    tmp_path: Path,
) -> None:
    from conftest import run_cli

    crlf = tmp_path / "crlf.iommu"
    crlf.write_bytes('\ufeffdevice a:"x"\r\ndevice b:"y"\r\n'.encode())
    crlf.chmod(0o640)
    assert run_cli("fmt", "--write", str(crlf)).returncode == 0
    assert crlf.read_bytes() == '\ufeffdevice a: "x"\r\ndevice b: "y"\r\n'.encode()
    assert crlf.stat().st_mode & 0o777 == 0o640
    assert run_cli("fmt", "--check", str(crlf)).returncode == 0  # CRLF is not a change
    locked = tmp_path / "locked.iommu"
    locked.write_text('device a:"x"\n')
    locked.chmod(0o444)
    refused = run_cli("fmt", "--write", str(locked))
    assert refused.returncode == 3 and "read-only (mode 0444)" in refused.stderr
    assert locked.read_text() == 'device a:"x"\n'
    assert run_cli("fmt", "--write", "--force", str(locked)).returncode == 0
    assert locked.read_text() == 'device a: "x"\n' and locked.stat().st_mode & 0o777 == 0o444
    both = run_cli("fmt", "--check", "--diff", str(tmp_path / "crlf.iommu"), str(locked))
    assert both.returncode == 0  # --check and --diff combine (nothing left to change)


EVIL = "\x1b]0;pwned\x07\x1b[31m\u202e"  # set the title, colour, reverse the line


def test_text_from_a_rule_file_never_drives_the_terminal(tmp_path: Path) -> None:
    from conftest import run_cli

    board = tmp_path / "evil.iommu"
    board.write_text(
        'include "std/linux"\n'
        f'platform {{ arch arm64; kernel 6.8; cmdline "quiet {EVIL}" }}\n'
        "iommu smmu: arm-smmu { contexts 8 }\n"
        f'device a: "vendor,{EVIL}" {{ iommu smmu sid 1 }}\n'
        f'rule "r{EVIL}": a requires identity\n'
        f'expect a.dma_ops == "{EVIL}"\n'
        f'device b: "x" {{ iommu smu sid 2 }}  # {EVIL}\n'
    )
    runs = [
        ("check", str(board)),
        ("resolve", str(board)),
        ("why", str(board), "a.default_domain"),
        ("test", str(board)),
        ("dot", str(board), "--view", "topology"),
    ]
    broken = "\n".join(board.read_text().splitlines()[:-1]) + "\n"
    fixed = tmp_path / "fixed.iommu"
    fixed.write_text(broken)
    runs = [runs[0]] + [(r[0], str(fixed), *r[2:]) for r in runs[1:]]
    for args in runs:
        proc = run_cli(*args)
        for stream in (proc.stdout, proc.stderr):
            assert "\x1b" not in stream and "\x07" not in stream and "\u202e" not in stream, args
    check = run_cli("check", str(board)).stderr
    assert "\u241b]0;pwned\u2407" in check  # visible, one column each: the caret stays put
    lines = check.splitlines()
    quoted = next(i for i, line in enumerate(lines) if "iommu smu" in line)
    assert lines[quoted + 1].index("^") == lines[quoted].index("smu")
    repl = run_cli("repl", str(fixed), stdin="show a\n")
    assert "\x1b" not in repl.stdout and "vendor,\u241b" in repl.stdout
    # JSON keeps the exact text
    import json

    data = json.loads(run_cli("resolve", "--json", str(fixed)).stdout)
    assert data["platform"]["cmdline"] == f"quiet {EVIL}"


def test_bash_completion_knows_values_and_lists_help_once(tmp_path: Path) -> None:
    import subprocess

    from iommu_rules.commands import COMMANDS
    from iommu_rules.completion import script

    (tmp_path / "c.bash").write_text(script("bash", COMMANDS))
    probe = tmp_path / "probe.sh"
    probe.write_text(
        f"source {tmp_path / 'c.bash'}\n"
        'c() { COMP_WORDS=("$@"); COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 )); COMPREPLY=();'
        ' _iommu_rules; echo "${COMPREPLY[*]}"; }\n'
        'c iommu-rules dot x.iommu --view ""\n'
        "c iommu-rules check --\n"
        'c iommu-rules completion ""\n'
        "c iommu-rules whatif b.iommu --set k\n"
        "c iommu-rules whatif b.iommu --add-include std/li\n"
    )
    lines = subprocess.run(
        ["bash", str(probe)], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert lines == [
        "topology groups contexts",
        "--color --format --help --watch",
        "bash zsh fish",
        "kernel",
        "std/linux",
    ]


def test_top_level_help_keeps_the_exit_code_list_and_save_says_why_it_cannot(
    tmp_path: Path,
) -> None:
    from conftest import run_cli

    out = run_cli("--help").stdout
    assert "exit codes:\n  0  no problems\n  1  " in out
    repl = run_cli(
        "repl", str(ROOT / "examples" / "tegra30.iommu"), stdin="save --force /proc/version\n"
    )
    assert "cannot save to '/proc/version': cannot create a file in '/proc'" in repl.stderr


def test_every_input_channel_has_the_16_mib_limit_and_the_utf8_rule(tmp_path: Path) -> None:
    from conftest import run_cli

    big = b"#" * (16 * 1024 * 1024 + 10)
    for args in (["check", "-"], ["fmt", "-"], ["import", "listing", "-"]):
        proc = run_cli(*args, stdin=big)
        assert proc.returncode == 3, args
        assert "error[E125]: standard input is too large" in proc.stderr, args
    latin = run_cli("check", "-", stdin=b'device a: "\xff"\n')
    assert latin.returncode == 3 and "<stdin>:1:12: error[E124]" in latin.stderr
    dtb = tmp_path / "huge.dtb"
    dtb.write_bytes(big)
    proc = run_cli("import", "dts", str(dtb))
    assert proc.returncode == 3 and "too large" in proc.stderr
    line = b"# " + b"o" * 1021 + b"\n"  # long lines: the limit is on bytes, not lines
    script = b"device a: {\n" + line * (17 * 1024)  # a brace never closed
    repl = run_cli("repl", stdin=script + b"help\n")
    assert repl.returncode == 1 and "larger than 16 MiB" in repl.stderr


def test_a_board_that_leaves_its_platform_out_says_what_was_assumed() -> None:
    bare = Board.from_text('iommu smmu: arm-smmu\ndevice a: "x" { iommu smmu sid 1 }\n', "b.iommu")
    (w218,) = [d for d in bare.diagnostics if d.code == "W218"]
    assert "kernel 6.8" in w218.message and "arch arm64" in w218.message
    assert "global default domain dma (no std/linux)" in w218.message
    half = Board.from_text('include "std/linux"\nplatform { arch arm }\ndevice a: "x"\n', "b.iommu")
    assert [d.message.split("assumes ")[1] for d in half.diagnostics] == ["kernel 6.8"]
    full = Board.from_text(
        'include "std/linux"\nplatform { arch arm; kernel 5.10 }\ndevice a: "x"\n', "b.iommu"
    )
    assert not full.diagnostics


SHORT_SPECIFIER = """/dts-v1/;
/ {
    compatible = "vendor,board";
    #address-cells = <1>;
    #size-cells = <1>;
    memory@80000000 { device_type = "memory"; reg = <0x80000000 0x40000000>; };
    smmu: iommu@12000000 {
        compatible = "arm,mmu-500";
        reg = <0x12000000 0x10000>;
        #iommu-cells = <1>;
    };
    dma@1000 { compatible = "vendor,dma"; reg = <0x1000 0x100>; iommus = <&smmu>; };
    gpu@2000 { compatible = "vendor,gpu"; reg = <0x2000 0x100>; iommus = <&smmu 0x10>; };
};
"""


def test_import_dts_never_writes_a_file_that_check_rejects(tmp_path: Path) -> None:
    from conftest import run_cli

    dts = tmp_path / "short.dts"
    dts.write_text(SHORT_SPECIFIER)
    out = tmp_path / "short.iommu"
    proc = run_cli("import", "dts", str(dts), "-o", str(out))
    assert proc.returncode == 0
    assert "W812" in proc.stderr and "'/dma@1000': its iommus entry" in proc.stderr
    assert "has 0 cells, and the IOMMU's #iommu-cells is 1" in proc.stderr
    assert "<&smmu ID>" in proc.stderr
    check = run_cli("check", str(out))
    assert check.returncode == 0, check.stderr
    board = Board.load(out)
    assert board.value("dma_dev.iommu") == "none"  # of_iommu_configure found no IOMMU
    assert board.value("gpu.iommu") == "smmu"


def test_a_rule_file_linked_to_another_file_never_prints_that_file(tmp_path: Path) -> None:
    """A `*.iommu` link to a system file printed its first line (a CI log is often public).
    Links are followed; a linked file not named *.iommu is never quoted (E135)."""
    from conftest import run_cli

    secret = tmp_path / "secret.txt"
    secret.write_text("hunter2-SECRET:line one\nSECOND-SECRET line\n")
    (tmp_path / "link.iommu").symlink_to(secret)
    (tmp_path / "board.iommu").write_text('include "link"\n')
    binary = tmp_path / "key.bin"
    binary.write_bytes(b"KEY-\xff\xfe-SECRET\n")
    (tmp_path / "bin.iommu").symlink_to(binary)
    for name in ("link.iommu", "board.iommu", "bin.iommu"):
        for fmt in ("text", "json", "sarif"):
            proc = run_cli("check", "--format", fmt, name, cwd=tmp_path)
            assert proc.returncode == 3, (name, fmt, proc.stderr)
            out = proc.stdout + proc.stderr
            assert "SECRET" not in out and "hunter2" not in out, (name, fmt, out)
    proc = run_cli("check", "link.iommu", cwd=tmp_path)
    assert "link.iommu:1:" in proc.stderr and "E135" in proc.stderr
    assert f"links to '{secret.resolve()}'" in proc.stderr
    # the file by its own name, and a link to a rule file, are quoted as usual
    assert "hunter2-SECRET" in run_cli("check", "secret.txt", cwd=tmp_path).stderr
    (tmp_path / "real.iommu").write_text("devcie x\n")
    (tmp_path / "alias.iommu").symlink_to(tmp_path / "real.iommu")
    quoted = run_cli("check", "alias.iommu", cwd=tmp_path).stderr
    assert "devcie x" in quoted and "did you mean 'device'?" in quoted


def test_a_file_broken_at_every_statement_says_where_each_is() -> None:
    # recovery parses statement by statement, each where it stands and moved down to its
    # lines: an unclosed block deep in the file points at its own '{', and every broken
    # statement of a long file is reported once, on its line
    from iommu_rules.parse import parse_text

    head = 'device a: "x" { tags t }\n' * 5 + 'device b: "y" {\n    tags u\nbridge rp: root-port\n'
    (unclosed, bad) = parse_text(head + 'device c: "z" { tags @ }\n', "f.iommu").diagnostics
    assert (unclosed.code, unclosed.span.line, bad.code, bad.span.line) == ("E004", 8, "E002", 9)
    assert [(lab.span.line, lab.span.col) for lab in unclosed.secondary] == [(6, 15)]
    text = "".join(f'device d{i}: "v" {{ dma-mask 4O }}\n' for i in range(2000))
    found = parse_text(text, "f.iommu").diagnostics
    assert [d.span.line for d in found] == list(range(1, 2001))
