"""`iommu-rules test`: expectations as test cases, in text, JSON or JUnit XML."""

from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING, Any

from .checks import render_value
from .diagnostics import Style, render_all, visible

if TYPE_CHECKING:
    from .board import Board


def _cases(board: Board) -> list[dict[str, Any]]:
    out = []
    for checked in board.resolution.expectations:
        exp = checked.expectation
        q = exp.query
        from .checks import _literal

        out.append(
            {
                "name": f"{q.subject.text}.{q.attribute.text} {exp.op} "
                f"{render_value(_literal(exp.value))}",
                "file": exp.span.file,
                "line": exp.span.line,
                "passed": checked.passed,
                "actual": checked.actual,
                "why": checked.why,
            }
        )
    return out


def run_tests(boards: list[Board], fmt: str, style: Style) -> int:
    """Print results; return the number of failed expectations and resolution errors."""
    failed = 0
    results = []
    for board in boards:
        cases = _cases(board)
        # Errors a passing 'expect system.diagnostics has ...' asks for are not failures.
        wanted: set[str] = set()
        for checked in board.resolution.expectations:
            exp = checked.expectation
            if checked.passed and exp.query.subject.text == "system" and exp.op == "has":
                from .checks import _literal

                value = _literal(exp.value)
                wanted |= set(map(str, value)) if isinstance(value, list) else {str(value)}
        errors = [
            d for d in board.diagnostics if d.is_error and d.code != "E401" and d.code not in wanted
        ]
        failed += sum(not c["passed"] for c in cases) + len(errors)
        results.append((board, cases, errors))
    if fmt in ("github", "sarif"):
        from . import formats

        failures = [
            d
            for b, cases, errors in results
            for d in [*errors, *(x for x in b.diagnostics if x.code == "E401")]
        ]
        sys.stdout.write(formats.github(failures) if fmt == "github" else formats.sarif(failures))
    elif fmt == "json":
        print(
            json.dumps(
                {
                    "version": 1,
                    "boards": [
                        {
                            "file": b.name,
                            "expectations": [
                                {
                                    **{k: v for k, v in c.items() if k != "why"},
                                    "why": c["why"].to_json(),
                                }
                                for c in cases
                            ],
                            "errors": [d.to_json() for d in errors],
                        }
                        for b, cases, errors in results
                    ],
                },
                indent=2,
                sort_keys=True,
            )
        )
    elif fmt == "junit":
        suites = ET.Element("testsuites")
        for board, cases, errors in results:
            suite = ET.SubElement(
                suites,
                "testsuite",
                name=board.name,
                tests=str(len(cases) + len(errors)),
                failures=str(sum(not c["passed"] for c in cases)),
                errors=str(len(errors)),
            )
            for c in cases:
                case = ET.SubElement(
                    suite,
                    "testcase",
                    classname=board.name,
                    name=c["name"],
                    file=c["file"],
                    line=str(c["line"]),
                )
                if not c["passed"]:
                    fail = ET.SubElement(case, "failure", message=f"actual: {c['actual']}")
                    fail.text = "\n".join(c["why"].lines())
            for d in errors:
                case = ET.SubElement(
                    suite, "testcase", classname=board.name, name=f"resolve {d.code}"
                )
                ET.SubElement(case, "error", message=d.message).text = str(d.span)
        ET.indent(suites)
        sys.stdout.write(ET.tostring(suites, encoding="unicode") + "\n")
    else:
        total = passed = 0
        for board, cases, errors in results:
            for c in cases:
                total += 1
                mark = style("help", "ok  ") if c["passed"] else style("error", "FAIL")
                print(f"{mark} {visible(c['file'])}:{c['line']}: {visible(c['name'])}")
                if c["passed"]:
                    passed += 1
                else:
                    print(f"       actual: {visible(c['actual'])}")
                    print(visible("\n".join("       " + line for line in c["why"].lines())))
            if errors:
                print(render_all(errors, board.sources, style))
        print(f"{passed} passed, {total - passed} failed")
    return failed
