"""Diagnostics for machines: GitHub workflow annotations, SARIF 2.1.0, JUnit XML."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Sequence

from . import __version__
from .diagnostics import Diagnostic, Severity

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


def _escape_data(text: str) -> str:
    # GitHub's workflow-command escaping (toolkit/core: escapeData / escapeProperty)
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_prop(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def github(diagnostics: Sequence[Diagnostic]) -> str:
    """One `::error file=...,line=...,col=...::message` line per diagnostic."""
    kind = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.NOTE: "notice"}
    lines = []
    for d in sorted(diagnostics, key=Diagnostic.sort_key):
        props = []
        if d.span.line:
            props = [
                f"file={_escape_prop(d.span.file)}",
                f"line={d.span.line}",
                f"col={d.span.col}",
                f"endLine={d.span.end_line}",
                f"endColumn={d.span.end_col}",
            ]
        props.append(f"title={_escape_prop(d.code)}")
        message = d.message + (f" (help: {d.help})" if d.help else "")
        lines.append(f"::{kind[d.severity]} {','.join(props)}::{_escape_data(message)}")
    return "\n".join(lines) + ("\n" if lines else "")


def sarif(diagnostics: Sequence[Diagnostic]) -> str:
    """A SARIF 2.1.0 log with one run, for code-scanning uploads."""
    ordered = sorted(diagnostics, key=Diagnostic.sort_key)
    codes = sorted({d.code for d in ordered})
    level = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.NOTE: "note"}
    results = []
    for d in ordered:
        result: dict[str, object] = {
            "ruleId": d.code,
            "ruleIndex": codes.index(d.code),
            "level": level[d.severity],
            "message": {"text": d.message + (f"\nhelp: {d.help}" if d.help else "")},
        }
        if d.span.line:
            result["locations"] = [
                {
                    "physicalLocation": {
                        "artifactLocation": {"uri": d.span.file},
                        "region": {
                            "startLine": d.span.line,
                            "startColumn": d.span.col,
                            "endLine": d.span.end_line,
                            "endColumn": d.span.end_col,
                        },
                    }
                }
            ]
        if d.secondary:
            result["relatedLocations"] = [
                {
                    "id": i,
                    "message": {"text": lab.message},
                    "physicalLocation": {
                        "artifactLocation": {"uri": lab.span.file},
                        "region": {"startLine": lab.span.line, "startColumn": lab.span.col},
                    },
                }
                for i, lab in enumerate(d.secondary)
                if lab.span.line
            ]
        results.append(result)
    log = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "iommu-rules",
                        "version": __version__,
                        "informationUri": "https://pypi.org/project/iommu-rules/",
                        "rules": [{"id": c, "shortDescription": {"text": c}} for c in codes],
                    }
                },
                "results": results,
            }
        ],
    }
    return json.dumps(log, indent=2, sort_keys=True) + "\n"


def junit(diagnostics: Sequence[Diagnostic], files: Sequence[str]) -> str:
    """One test case per checked file; its errors are failures, warnings go to system-out."""
    suites = ET.Element("testsuites", name="iommu-rules check")
    suite = ET.SubElement(
        suites,
        "testsuite",
        name="iommu-rules check",
        tests=str(len(files)),
        failures=str(
            sum(1 for f in files if any(d.is_error and d.span.file == f for d in diagnostics))
        ),
    )
    for f in files:
        case = ET.SubElement(suite, "testcase", classname="iommu-rules", name=f)
        mine = [d for d in sorted(diagnostics, key=Diagnostic.sort_key) if d.span.file == f]
        errors = [d for d in mine if d.is_error]
        if errors:
            fail = ET.SubElement(case, "failure", message=f"{len(errors)} error(s)")
            fail.text = "\n".join(f"{d.span}: {d.code}: {d.message}" for d in errors)
        warnings = [d for d in mine if not d.is_error]
        if warnings:
            ET.SubElement(case, "system-out").text = "\n".join(
                f"{d.span}: {d.code}: {d.message}" for d in warnings
            )
    ET.indent(suites)
    return ET.tostring(suites, encoding="unicode") + "\n"
