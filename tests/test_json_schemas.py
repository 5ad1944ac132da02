"""Every JSON document the CLI prints validates against the schema shipped for it.

Real outputs, through the CLI: `resolve --json` of every example, `check --format json`
on clean and broken boards (and on every diagnostic code's own example), `test --format
json` passing and failing, `whatif --json`, `compare --json`. The schemas are held to
their versions: a schema's text cannot change without a new version (VERSIONS), and the
version a schema names is the one its output prints.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from iommu_rules.commands.schema import SCHEMAS, find
from iommu_rules.diagnostics import Severity

from conftest import EXAMPLES, ROOT, run_cli

# Every schema version ever shipped, with the sha256 of its file. A row is never edited
# once it is committed: a changed schema is a new row with a higher version, and the
# output that schema describes prints that version (so a program that validated against
# the old file can tell).
VERSIONS: dict[tuple[str, int], str] = {
    ("resolution", 1): "164593b8d76ccc3a41e9b11a42b96df21c6e16466a87294d86d5b056946798d4",
    ("check", 1): "4aa36591570e489607fab3844fc25467413454d1b753be069b51d9de99ae06d7",
    ("test", 1): "82a65146a3dce937349997f0ba4df9f641612d87f186e27c2e88a558f1cff8f1",
    ("whatif", 1): "ebc82728fa85b3451d2feae398265285b36d6785c3390c1eed5f5f443395c729",
    ("compare", 1): "9a6b142b7ca6b172129c6e1150232ce036ed9e874c9efcb29ac6bf9be12a778e",
}

TEGRA30 = str(EXAMPLES / "tegra30.iommu")
X86 = str(EXAMPLES / "x86-desktop.iommu")
CLEAN = (
    'include "std/linux"\nplatform { arch arm64; kernel 6.8 }\n'
    'iommu smmu: arm-smmu { contexts 8 }\ndevice gpu: "qcom,adreno" { iommu smmu sid 0x0 }\n'
)
UNKNOWN_NAME = CLEAN.replace("iommu smmu sid", "iommu smu sid")
SYNTAX_ERROR = CLEAN.replace("{ contexts 8 }", "{ contexts 8")
WARNING = (  # W201: a rule that matches no device
    'include "std/linux"\nplatform { arch arm64; kernel 6.8 }\n'
    'device gpu: "vendor,gpu"\nrule compatible "nvidia,*" excludes implicit\n'
)
FAILING = CLEAN + "expect gpu.dma_ops == dma-direct\nexpect smmu.contexts_used <= 0\n"
EXHAUSTED = (  # E301: two devices, one context
    'include "std/linux"\nplatform { arch arm64; kernel 6.8 }\n'
    "iommu smmu: arm-smmu { contexts 4 }\n"
    'device a: "vendor,a" { iommu smmu sid 0x1 }\ndevice b: "vendor,b" { iommu smmu sid 0x2 }\n'
    "rule all allows contexts 0\nexpect a.dma_ops == iommu-dma\n"
)


def validator(name: str) -> Draft202012Validator:
    schema = find(name)
    assert schema is not None
    return Draft202012Validator(schema.load())


def problems(name: str, document: object) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in validator(name).iter_errors(document)
    ]


def output(*args: str, codes: tuple[int, ...] = (0,), cwd: Path = ROOT) -> dict[str, Any]:
    proc = run_cli(*args, cwd=cwd)
    assert proc.returncode in codes, proc.stderr
    document: dict[str, Any] = json.loads(proc.stdout)
    return document


def assert_valid(name: str, document: dict[str, Any]) -> None:
    assert problems(name, document) == []
    schema = find(name)
    assert schema is not None and document["version"] == schema.version


# ---------------------------------------------------------------- the schemas themselves
@pytest.mark.parametrize("schema", SCHEMAS, ids=lambda s: s.name)
def test_schema_is_draft_2020_12_and_names_its_version(schema) -> None:  # type: ignore[no-untyped-def]
    data = schema.load()
    Draft202012Validator.check_schema(data)
    assert data["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert data["$id"].endswith(f"/{schema.name}-{schema.version}.json")
    assert data["additionalProperties"] is False
    assert "version" in data["required"]


@pytest.mark.parametrize("schema", SCHEMAS, ids=lambda s: s.name)
def test_a_schema_does_not_change_without_a_new_version(schema) -> None:  # type: ignore[no-untyped-def]
    digest = hashlib.sha256(schema.text().encode()).hexdigest()
    key = (schema.name, schema.version)
    assert key in VERSIONS, f"{key}: a new version of a schema gets a new row in VERSIONS"
    assert VERSIONS[key] == digest, (
        f"schemas/{schema.name}.json changed under version {schema.version}: give it (and "
        f"the 'version' its output prints) a new version and add a row for it: {digest}"
    )


def test_every_schema_is_listed_and_shipped() -> None:
    shipped = {p.stem for p in (ROOT / "dsl" / "schemas").glob("*.json")}
    assert shipped == {s.name for s in SCHEMAS}
    assert {name for name, _ in VERSIONS} == shipped


def test_the_definitions_the_schemas_share_are_the_same() -> None:
    seen: dict[str, tuple[str, object]] = {}
    for schema in SCHEMAS:
        for name, definition in schema.load()["$defs"].items():
            first, earlier = seen.setdefault(name, (schema.name, definition))
            assert definition == earlier, f"$defs/{name} differs in {schema.name} and {first}"


def test_the_enums_are_the_codes() -> None:
    """The values the code can print, from where the code keeps them: a value added there
    fails here until the schema (and so its version) says it."""
    from iommu_rules.codes import CODES
    from iommu_rules.enums import DmaOps, DomainType, Origin
    from iommu_rules.grammar import architectures, iommu_kinds, rule_choices

    res = find("resolution")
    assert res is not None
    defs = res.load()["$defs"]
    props = res.load()["properties"]
    device = props["devices"]["items"]["properties"]
    assert defs["dma_ops"]["enum"] == [str(v) for v in DmaOps]
    assert defs["domain_type"]["enum"] == [str(v) for v in DomainType]
    assert defs["diagnostic"]["properties"]["severity"]["enum"] == [str(v) for v in Severity]
    origin = props["domains"]["items"]["properties"]["origin"]["enum"]
    assert origin == [str(v) for v in Origin]
    assert props["platform"]["properties"]["arch"]["enum"] == list(architectures())
    assert device["bridge"]["anyOf"][0]["enum"] == list(rule_choices()["bridge_kind"])
    kind = Draft202012Validator(props["iommus"]["items"]["properties"]["kind"])
    assert all(kind.is_valid(k) for k in iommu_kinds())
    code = Draft202012Validator(defs["diagnostic"]["properties"]["code"])
    assert all(code.is_valid(c) for c in CODES)


# ---------------------------------------------------------------- resolve --json
@pytest.mark.parametrize("example", sorted(EXAMPLES.glob("*.iommu")), ids=lambda p: p.stem)
def test_resolve_json_of_every_example(example: Path) -> None:
    assert_valid("resolution", output("resolve", "--json", str(example)))


def test_resolve_json_with_errors_and_warnings(tmp_path: Path) -> None:
    board = tmp_path / "board.iommu"
    board.write_text(WARNING + "iommu mc: tegra-smmu { contexts 1 }\n")
    document = output("resolve", "--json", str(board))
    assert {d["severity"] for d in document["diagnostics"]} == {"warning"}
    assert_valid("resolution", document)
    exhausted = tmp_path / "exhausted.iommu"
    exhausted.write_text(EXHAUSTED)
    document = output("resolve", "--json", str(exhausted), codes=(1,))
    assert "E301" in {d["code"] for d in document["diagnostics"]}
    assert_valid("resolution", document)


def test_resolve_json_of_several_files_is_one_document_each() -> None:
    """Not one array: one document per FILE, one after another, as the schema says."""
    proc = run_cli("resolve", "--json", TEGRA30, X86)
    assert proc.returncode == 0, proc.stderr
    decoder, text, documents = json.JSONDecoder(), proc.stdout, []
    while text.strip():
        document, end = decoder.raw_decode(text.lstrip())
        documents.append(document)
        text = text.lstrip()[end:]
    assert len(documents) == 2
    for document in documents:
        assert_valid("resolution", document)


# ---------------------------------------------------------------- check --format json
@pytest.mark.parametrize(
    "text, code, severities",
    [
        (CLEAN, 0, set()),
        (SYNTAX_ERROR, 3, {"error"}),
        (UNKNOWN_NAME, 3, {"error"}),
        (WARNING, 0, {"warning"}),
    ],
    ids=["clean", "syntax-error", "unknown-name", "warning"],
)
def test_check_json(tmp_path: Path, text: str, code: int, severities: set[str]) -> None:
    board = tmp_path / "board.iommu"
    board.write_text(text)
    document = output("check", "--format", "json", str(board), codes=(code,))
    assert {d["severity"] for d in document["diagnostics"]} == severities
    assert_valid("check", document)


def test_check_json_of_a_missing_file(tmp_path: Path) -> None:
    document = output("check", "--format", "json", str(tmp_path / "nothing.iommu"), codes=(3,))
    assert document["diagnostics"] and problems("check", document) == []


def test_check_json_of_every_code_example(tmp_path: Path) -> None:
    """Each code's own example (`iommu-rules explain CODE`): secondary spans, help lines,
    every stage's diagnostics, all in the shape the schema gives."""
    from iommu_rules.codes import CODES, ExampleKind

    seen: set[str] = set()
    for record in CODES.values():
        if record.example_kind is not ExampleKind.RULE_FILE:
            continue
        board = tmp_path / f"{record.code}.iommu"
        board.write_text(record.example)
        document = output("check", "--format", "json", str(board), codes=(0, 1, 3))
        assert problems("check", document) == [], record.code
        seen |= {d["code"] for d in document["diagnostics"]}
    assert len(seen) > 60


# ---------------------------------------------------------------- test --format json
def test_test_json_passing() -> None:
    document = output("test", "--format", "json", TEGRA30)
    assert all(e["passed"] for b in document["boards"] for e in b["expectations"])
    assert_valid("test", document)


def test_test_json_failing(tmp_path: Path) -> None:
    board = tmp_path / "board.iommu"
    board.write_text(FAILING)
    broken = tmp_path / "broken.iommu"  # resolution errors count as failures too
    broken.write_text(EXHAUSTED)
    document = output("test", "--format", "json", str(board), str(broken), codes=(1,))
    expectations = [e for b in document["boards"] for e in b["expectations"]]
    assert not all(e["passed"] for e in expectations)
    assert any(b["errors"] for b in document["boards"])
    assert_valid("test", document)


# ---------------------------------------------------------------- whatif and compare --json
WHATIFS = {
    "kernel": ([TEGRA30, "--set", "kernel 6.8"], 0),
    "nothing-changes": ([TEGRA30, "--set", "kernel 4.18"], 0),
    "exhaustion": ([TEGRA30, "--set", "mc contexts 1"], 1),
    "added-removed-vfio": (
        [
            X86,
            "--drop-device",
            "dgpu_audio",
            "--add",
            'device audio2: "pci10de,10f0" '
            "{ pci 0000:01:00.1; upstream cpu_rp; iommu vtd; bound snd_hda_intel }",
        ],
        1,
    ),
}


@pytest.mark.parametrize("case", WHATIFS)
def test_whatif_json(case: str) -> None:
    args, code = WHATIFS[case]
    assert_valid("whatif", output("whatif", "--json", *args, codes=(code,)))


def test_whatif_json_covers_every_kind_of_change() -> None:
    args, code = WHATIFS["added-removed-vfio"]
    document = output("whatif", "--json", *args, codes=(code,))
    assert {c["change"] for c in document["changes"]} == {"added", "removed", "changed"}
    assert {"new_errors", "new_warnings"} <= set(document["counts"])


def test_compare_json() -> None:
    document = output("compare", "--json", TEGRA30, "--kernel", "4.18", "--kernel", "6.8")
    assert (document["from"], document["to"]) == ("4.18", "6.8") and document["changes"]
    assert_valid("compare", document)
    assert problems("whatif", document), "compare's document is whatif's and two more keys"


# ---------------------------------------------------------------- the schemas bite
Mutation = Callable[[dict[str, Any]], None]


def _set(path: str, value: object) -> Mutation:
    *parents, last = path.split("/")

    def mutate(doc: dict[str, Any]) -> None:
        node: Any = doc
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        node[int(last) if isinstance(node, list) else last] = value

    return mutate


def _drop(path: str) -> Mutation:
    *parents, last = path.split("/")

    def mutate(doc: dict[str, Any]) -> None:
        node: Any = doc
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        del node[last]

    return mutate


MUTATIONS: dict[str, tuple[str, list[str], Mutation]] = {
    "resolution: a newer version": (
        "resolution",
        ["resolve", "--json", TEGRA30],
        _set("version", 2),
    ),
    "resolution: another schema": (
        "resolution",
        ["resolve", "--json", TEGRA30],
        _set("schema", "iommu-rules/resolutions"),
    ),
    "resolution: an unknown DMA ops": (
        "resolution",
        ["resolve", "--json", TEGRA30],
        _set("devices/0/dma_ops", "iommu_dma"),
    ),
    "resolution: null where 'none' is printed": (
        "resolution",
        ["resolve", "--json", TEGRA30],
        _set("devices/6/group", None),
    ),
    "resolution: a device without its domain": (
        "resolution",
        ["resolve", "--json", TEGRA30],
        _drop("devices/0/domain"),
    ),
    "resolution: an unknown field": (
        "resolution",
        ["resolve", "--json", TEGRA30],
        _set("groups/0/vfio", "viable"),
    ),
    "resolution: an unknown origin": (
        "resolution",
        ["resolve", "--json", TEGRA30],
        _set("domains/0/origin", "built"),
    ),
    "resolution: a kernel that is no version": (
        "resolution",
        ["resolve", "--json", TEGRA30],
        _set("platform/kernel", "v6.8"),
    ),
    "check: an unknown severity": (
        "check",
        ["check", "--format", "json", "BAD"],
        _set("diagnostics/0/severity", "fatal"),
    ),
    "check: a code that is no code": (
        "check",
        ["check", "--format", "json", "BAD"],
        _set("diagnostics/0/code", "e104"),
    ),
    "check: a span without its end": (
        "check",
        ["check", "--format", "json", "BAD"],
        _drop("diagnostics/0/span/end_col"),
    ),
    "test: a warning among the errors": (
        "test",
        ["test", "--format", "json", TEGRA30],
        lambda doc: doc["boards"][0]["errors"].append(
            {
                "severity": "warning",
                "code": "W201",
                "message": "m",
                "span": {"file": "f", "line": 1, "col": 1, "end_line": 1, "end_col": 2},
                "label": "",
                "secondary": [],
                "help": "",
            }
        ),
    ),
    "test: an actual value that is not text": (
        "test",
        ["test", "--format", "json", TEGRA30],
        _set("boards/0/expectations/1/actual", 3),
    ),
    "test: an empty 'because'": (
        "test",
        ["test", "--format", "json", TEGRA30],
        _set("boards/0/expectations/0/why/because", []),
    ),
    "whatif: a change that is no kind of change": (
        "whatif",
        ["whatif", "--json", TEGRA30, "--set", "kernel 6.8"],
        _set("changes/0/change", "moved"),
    ),
    "whatif: a changed device without attributes": (
        "whatif",
        ["whatif", "--json", TEGRA30, "--set", "kernel 6.8"],
        _drop("changes/0/attributes"),
    ),
    "whatif: three values for one attribute": (
        "whatif",
        ["whatif", "--json", TEGRA30, "--set", "kernel 6.8"],
        _set("changes/0/attributes/dma_ops", ["arm_iommu", "dma-direct", "none"]),
    ),
    "whatif: a count of nothing": (
        "whatif",
        ["whatif", "--json", TEGRA30, "--set", "kernel 6.8"],
        _set("counts/group", 0),
    ),
    "compare: without its kernels": (
        "compare",
        ["compare", "--json", TEGRA30, "--kernel", "4.18", "--kernel", "6.8"],
        _drop("to"),
    ),
}


@pytest.mark.parametrize("case", MUTATIONS)
def test_a_mutated_output_fails_validation(case: str, tmp_path: Path) -> None:
    name, args, mutate = MUTATIONS[case]
    if "BAD" in args:
        bad = tmp_path / "bad.iommu"
        bad.write_text(UNKNOWN_NAME)
        args = [str(bad) if a == "BAD" else a for a in args]
    document = output(*args, codes=(0, 3))
    assert problems(name, document) == []
    mutated = copy.deepcopy(document)
    mutate(mutated)
    assert problems(name, mutated), f"{case}: still valid"


# ---------------------------------------------------------------- iommu-rules schema
def test_schema_lists_every_schema_with_its_command_and_version() -> None:
    for args in (("schema",), ("schema", "--list")):
        proc = run_cli(*args)
        assert proc.returncode == 0
        rows = [line.split() for line in proc.stdout.splitlines()]
        assert [r[0] for r in rows] == [s.name for s in SCHEMAS]
        for row, schema in zip(rows, SCHEMAS, strict=True):
            assert " ".join(row[1:-2]) == f"iommu-rules {schema.command}"
            assert row[-2:] == ["version", str(schema.version)]


@pytest.mark.parametrize("schema", SCHEMAS, ids=lambda s: s.name)
def test_schema_prints_the_shipped_file(schema) -> None:  # type: ignore[no-untyped-def]
    text = (ROOT / "dsl" / "schemas" / f"{schema.name}.json").read_text()
    for name in (schema.name, schema.command.split()[0]):
        proc = run_cli("schema", name)
        assert proc.returncode == 0 and proc.stdout == text


def test_schema_of_an_unknown_name_is_a_usage_error() -> None:
    proc = run_cli("schema", "resolutoin")
    assert proc.returncode == 2 and proc.stdout == ""
    assert "no schema named 'resolutoin'" in proc.stderr
    assert "did you mean 'resolution'?" in proc.stderr
    proc = run_cli("schema", "check", "--list")
    assert proc.returncode == 2 and "not both" in proc.stderr


def test_schema_help() -> None:
    text = run_cli("schema", "--help").stdout
    assert "iommu-rules schema resolution" in text and "exit codes" in text


def test_docs_link_every_schema() -> None:
    docs = (ROOT / "docs" / "json.md").read_text()
    assert "iommu-rules schema NAME" in docs
    for schema in SCHEMAS:
        assert f"(../dsl/schemas/{schema.name}.json)" in docs, schema.name
