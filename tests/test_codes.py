"""The registry of diagnostic codes (iommu_rules.codes) against the code that raises them.

Every code the sources use is in the registry and every registry entry is used;
every example raises its code, with the severity the registry gives, run in
process the way the CLI would: a rule file through Board (as example.iommu in
an empty directory, so its includes resolve there), a shell session by a small
interpreter of the few commands the examples use, a what-if change on an empty
board, a REPL line in a fresh session, a listing or device tree through its
importer.  The Diagnostics tables of docs/language.md are the registry's
markdown_tables(), and explain_text renders every code.
"""

from __future__ import annotations

import ast
import re
import shlex
import sys
from pathlib import Path

import pytest
from test_docs import DOC, source_codes

import iommu_rules
from iommu_rules import codes
from iommu_rules.board import Board
from iommu_rules.codes import CODES, ExampleKind, explain_text, lookup, markdown_tables
from iommu_rules.diagnostics import Diagnostic, Severity
from iommu_rules.importers.dts import import_dts
from iommu_rules.importers.listing import import_listing
from iommu_rules.importers.sysfs import snapshot
from iommu_rules.whatif import ChangeError

PACKAGE = Path(iommu_rules.__file__).parent

# Codes a rule file can raise (reading, validating, resolving, lints); the others come from
# what-if changes, the REPL and the importers.
RULE_FILE_CODE = re.compile(r"E[0-4]\d\d|W2\d\d")
# Codes about the file itself rather than its statements: their examples make the file in a
# shell (a NUL byte, a directory, bad UTF-8, 17 MiB, a link to a file that is no rule file),
# then check it.
FILE_CODES = {"E006", "E123", "E124", "E125", "E135"}
# Codes whose example cannot raise them: they report a bug in a generator, and no input is
# known to make it produce text that does not parse. Their examples show the command only.
BUG_ONLY = {
    "E803": "snapshot's generated rule file always parses: only a bug would raise it",
    "E816": "import dts's generated rule file always parses: only a bug would raise it",
}
# Codes whose example also raises another code, and why. Empty: every example raises its
# code alone; a new entry here must say why the example cannot avoid the other code.
ALSO: dict[str, tuple[set[str], str]] = {}


def of_kind(kind: ExampleKind) -> list[str]:
    return [c.code for c in CODES.values() if c.example_kind is kind]


def describe(found: list[Diagnostic]) -> str:
    return "\n".join(f"  {d.span}: {d.severity.value}[{d.code}]: {d.message}" for d in found)


def assert_raises(code: str, found: list[Diagnostic]) -> None:
    """The example raised its code, no other (unless ALSO says why), and every diagnostic
    has the severity the registry gives its code."""
    raised = {d.code for d in found}
    assert code in raised, f"the example of {code} does not raise it; it raises:\n" + (
        describe(found) or "  nothing"
    )
    also, _why = ALSO.get(code, (set(), ""))
    assert raised - {code} == also, f"the example of {code} raises other codes:\n" + describe(found)
    for d in found:
        assert d.code in CODES, f"{d.code} is raised but not in the registry"
        assert d.severity is CODES[d.code].severity, (
            f"{d.code} is raised as a {d.severity.value}, the registry says "
            f"{CODES[d.code].severity.value}: {d.message}"
        )


# ---------------------------------------------------------------- the registry and the sources
def test_registry_has_every_code_the_sources_use_and_no_other() -> None:
    used = source_codes()
    assert {"E001", "E121", "W201", "W815"} <= used  # the scan works
    missing = sorted(used - set(CODES))
    dead = sorted(set(CODES) - used)
    assert not missing, f"codes used in the sources but not in iommu_rules.codes: {missing}"
    assert not dead, f"codes in iommu_rules.codes that no source raises: {dead}"


def test_registry_is_in_code_order_and_keyed_by_code() -> None:
    assert list(CODES) == sorted(CODES)
    assert all(key == record.code for key, record in CODES.items())


@pytest.mark.parametrize("code", list(CODES))
def test_record_is_well_formed(code: str) -> None:
    record = CODES[code]
    assert re.fullmatch(r"[EW]\d{3}", code)
    expected = Severity.ERROR if code.startswith("E") else Severity.WARNING
    assert record.severity is expected, f"{code}: an {code[0]} code is a {expected.value}"
    assert "\n" not in record.summary and record.summary.endswith("."), record.summary
    assert record.summary == record.summary.strip() and "  " not in record.summary
    assert len(record.explanation.split()) >= 20, f"{code}: explain more"
    assert record.example.strip() and record.example.endswith("\n")
    if RULE_FILE_CODE.fullmatch(code):
        wanted = ExampleKind.SHELL if code in FILE_CODES else ExampleKind.RULE_FILE
        assert record.example_kind is wanted, f"{code}: a rule file can raise it"
    else:
        assert record.example_kind is not ExampleKind.RULE_FILE, f"{code}: no rule file can"


# ---------------------------------------------------------------- every example raises its code
@pytest.mark.parametrize("code", of_kind(ExampleKind.RULE_FILE))
def test_rule_file_example_raises_its_code(code: str, tmp_path: Path) -> None:
    example = CODES[code].example
    board = Board.from_text(example, "example.iommu", tmp_path / "example.iommu")
    assert_raises(code, board.diagnostics)


def _printf(fmt: str) -> bytes:
    """printf FORMAT as a shell does it, for the escapes the examples use."""
    assert "%" not in fmt, fmt
    out = bytearray()
    i = 0
    while i < len(fmt):
        ch = fmt[i]
        if ch != "\\":
            out += ch.encode()
            i += 1
            continue
        esc = fmt[i + 1]
        if esc == "x":
            out.append(int(fmt[i + 2 : i + 4], 16))
            i += 4
        elif esc == "0":
            digits = re.match(r"[0-7]{0,3}", fmt[i + 2 :])
            assert digits is not None
            out.append(int(digits.group() or "0", 8))
            i += 2 + len(digits.group())
        else:
            out += {"n": b"\n", "t": b"\t", "\\": b"\\"}[esc]
            i += 2
    return bytes(out)


def _size(text: str) -> int:
    number, unit = re.fullmatch(r"(\d+)([KMG]?)", text).groups()  # type: ignore[union-attr]
    return int(number) << {"": 0, "K": 10, "M": 20, "G": 30}[unit]


def run_shell(session: str, monkeypatch: pytest.MonkeyPatch) -> list[Diagnostic]:
    """Run an example's commands in the current directory: the file-making ones for real,
    `iommu-rules ...` as the library call behind it. The last command's diagnostics."""
    found: list[Diagnostic] | None = None
    for line in session.splitlines():
        assert line.startswith("$ "), f"not a command: {line}"
        words = shlex.split(line[2:])
        target = None
        if ">" in words:
            at = words.index(">")
            words, target = words[:at], words[at + 1]
        match words:
            case ["mkdir", *dirs]:
                for d in (d for d in dirs if not d.startswith("-")):
                    Path(d).mkdir(parents="-p" in dirs)
            case ["printf", fmt] if target is not None:
                Path(target).write_bytes(_printf(fmt))
            case ["ln", "-s", target_path, name]:
                Path(name).symlink_to(target_path)
            case ["truncate", "-s", size, name]:
                with open(name, "ab") as f:
                    f.truncate(_size(size))
            case ["python3", "-m", "pip", "uninstall", "-y", package]:
                monkeypatch.setitem(sys.modules, package, None)  # import now fails
            case ["iommu-rules", "check", *files]:
                found = Board.load(*files).diagnostics
            case ["iommu-rules", "whatif", board, "--move", spec]:
                shipped = Path(__file__).resolve().parent.parent / board  # examples/...
                try:
                    Board.load(shipped if shipped.exists() else board).whatif(f"move {spec}")
                    found = []
                except ChangeError as exc:
                    found = exc.diagnostics
            case ["iommu-rules", "snapshot", "--root", root]:
                found = snapshot(root).diagnostics
            case ["iommu-rules", "import", "dts", name]:
                found = import_dts(Path(name)).diagnostics
            case _:
                pytest.fail(f"the test cannot run '{line}': teach run_shell, or change it")
    assert found is not None, "the session runs no iommu-rules command"
    return found


@pytest.mark.parametrize("code", of_kind(ExampleKind.SHELL))
def test_shell_example_raises_its_code(
    code: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    example = CODES[code].example
    assert "$ iommu-rules " in example
    if code in BUG_ONLY:
        pytest.skip(BUG_ONLY[code])
    monkeypatch.chdir(tmp_path)
    assert_raises(code, run_shell(example, monkeypatch))


def test_only_bug_codes_go_unraised() -> None:
    for code in BUG_ONLY:
        assert CODES[code].example_kind is ExampleKind.SHELL
        assert "a bug" in CODES[code].summary, f"{code} is not a bug report: raise it"


@pytest.mark.parametrize("code", of_kind(ExampleKind.CHANGE))
def test_change_example_raises_its_code(code: str) -> None:
    board = Board.from_text("", "example.iommu")
    with pytest.raises(ChangeError) as refused:
        board.whatif(CODES[code].example.strip())
    assert_raises(code, refused.value.diagnostics)


@pytest.mark.parametrize("code", of_kind(ExampleKind.REPL))
def test_repl_example_raises_its_code(code: str) -> None:
    from iommu_rules.repl.session import Session, execute

    out = execute(Session(), CODES[code].example.strip())
    assert not out.ok
    severity = CODES[code].severity.value
    assert f"{severity}[{code}]" in out.text, out.text
    assert set(re.findall(r"\[([EW]\d{3})\]", out.text)) == {code}, out.text


@pytest.mark.parametrize("code", of_kind(ExampleKind.LISTING))
def test_listing_example_raises_its_code(code: str) -> None:
    assert_raises(code, import_listing(CODES[code].example, "listing.txt").diagnostics)


@pytest.mark.parametrize("code", of_kind(ExampleKind.DEVICE_TREE))
def test_device_tree_example_raises_its_code(code: str, tmp_path: Path) -> None:
    board = tmp_path / "board.dts"
    board.write_text(CODES[code].example, encoding="utf-8")
    assert_raises(code, import_dts(board).diagnostics)


def test_every_kind_of_example_is_tested() -> None:
    for kind in ExampleKind:
        assert of_kind(kind), f"no example is a {kind}: drop the kind or its test"


# ---------------------------------------------------------------- the docs' tables
def diagnostics_section() -> str:
    text = DOC.read_text(encoding="utf-8")
    start = text.index("\n## Diagnostics\n")
    return text[start : text.index("\n## ", start + 1)]


def test_docs_tables_are_the_registrys() -> None:
    errors, warnings = markdown_tables()
    tables = re.findall(r"(?:^\|.*\|\n)+", diagnostics_section(), re.MULTILINE)
    assert tables == [errors, warnings], (
        "docs/language.md's Diagnostics tables differ from iommu_rules.codes; "
        "paste these two tables there:\n\n" + errors + "\n" + warnings
    )


def test_markdown_tables_have_every_code_once() -> None:
    rows = re.findall(r"^\| `([EW]\d{3})` \| (.*) \|$", "".join(markdown_tables()), re.M)
    assert [code for code, _ in rows] == list(CODES)
    for code, summary in rows:
        assert summary.replace("\\|", "|") == CODES[code].summary


# ---------------------------------------------------------------- explain
def words(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.parametrize("code", list(CODES))
def test_explain_text_renders(code: str) -> None:
    record = CODES[code]
    text = explain_text(code)
    head, _, rest = text.partition("\n\n")
    assert head.startswith(f"{code} ({record.severity.value}): ")
    assert words(record.summary) in words(head)
    assert words(record.explanation) in words(rest)
    assert "\nExample: " in text
    example = text[text.index("\nExample: ") :].split("\n\n", 1)[1]
    assert example == "".join(f"    {line}\n" for line in record.example.splitlines())
    too_wide = [line for line in text.splitlines() if len(line) > codes.WIDTH]
    assert not too_wide, f"lines wider than {codes.WIDTH} columns:\n" + "\n".join(too_wide)


def test_lookup() -> None:
    assert lookup("E104") is CODES["E104"]
    assert lookup(" e104\n") is CODES["E104"]
    assert lookup("E999") is None
    assert explain_text("w201") == explain_text("W201")
    with pytest.raises(KeyError, match="no diagnostic code 'E1O4'; did you mean"):
        explain_text("E1O4")


# ---------------------------------------------------------------- import-light
HEAVY = {"lark", "networkx", "prompt_toolkit", "pygments", "devicetree", "fdt"}


def top_level_imports(path: Path) -> tuple[set[str], set[str]]:
    """(absolute modules, sibling modules) a file imports when it is imported: its
    module-level import statements, TYPE_CHECKING blocks excepted."""
    absolute: set[str] = set()
    siblings: set[str] = set()
    body = list(ast.parse(path.read_text(encoding="utf-8")).body)
    while body:
        node = body.pop()
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            body += node.orelse
        elif isinstance(node, ast.If | ast.Try):
            body += [*node.body, *node.orelse]
        elif isinstance(node, ast.Import):
            absolute.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 1:
            siblings.add(node.module or "")
        elif isinstance(node, ast.ImportFrom):
            absolute.add((node.module or "").split(".")[0])
    return absolute, siblings


def test_codes_is_import_light() -> None:
    seen: set[str] = set()
    todo = ["codes"]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        absolute, siblings = top_level_imports(PACKAGE / f"{name}.py")
        assert not absolute & HEAVY, f"iommu_rules.{name} imports {absolute & HEAVY}"
        todo += sorted(siblings)
    assert seen == {"codes", "diagnostics"}, seen


def test_iommu_rules_explain_prints_every_code_and_suggests_for_a_typo(capsys) -> None:  # type: ignore[no-untyped-def]
    from iommu_rules.cli import main

    for code in CODES:
        assert main(["explain", code.lower()]) == 0
        out = capsys.readouterr().out
        assert out.startswith(f"{code} (") and CODES[code].summary.split()[0] in out
    assert main(["explain", "E3O1"]) == 3
    assert "did you mean 'E301'?" in capsys.readouterr().err
    assert main(["explain"]) == 0
    listing = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in listing] == list(CODES)


def test_help_lists_every_command_of_the_table(capsys) -> None:  # type: ignore[no-untyped-def]
    import pytest

    from iommu_rules.cli import main
    from iommu_rules.commands import COMMANDS

    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for cmd in COMMANDS:
        assert f"    {cmd.name}" in out and cmd.help.split()[0] in out
