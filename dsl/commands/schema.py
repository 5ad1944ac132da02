"""`iommu-rules schema`: the JSON Schema of each JSON document the CLI prints.

The schemas are files shipped in the package (``schemas/NAME.json``, Draft 2020-12), so a
program reading ``resolve --json`` can validate what it reads against the schema of the
version it was written for; each file's ``$id`` names the schema and its version, and its
``version`` property is the ``version`` the output prints. A change to a schema comes with
a new version (tests/test_json_schemas.py holds each file's digest to that).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from importlib import resources
from typing import Any

from .base import EXIT_OK, EXIT_USAGE, Command, arg


@dataclass(frozen=True)
class Schema:
    name: str  # the file's name without .json, and NAME on the command line
    command: str  # the command that prints the document

    def text(self) -> str:
        path = resources.files("iommu_rules").joinpath("schemas", f"{self.name}.json")
        return path.read_text("utf-8")

    def load(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.text())
        return data

    @property
    def version(self) -> int:
        version: int = self.load()["properties"]["version"]["const"]
        return version


SCHEMAS: tuple[Schema, ...] = (
    Schema("resolution", "resolve --json"),
    Schema("check", "check --format json"),
    Schema("test", "test --format json"),
    Schema("whatif", "whatif --json"),
    Schema("compare", "compare --json"),
)


def find(name: str) -> Schema | None:
    """The schema by its name, or by the command that prints it ('resolve')."""
    for schema in SCHEMAS:
        if name in (schema.name, schema.command.split()[0]):
            return schema
    return None


def run(args: argparse.Namespace) -> int:
    from ..diagnostics import did_you_mean

    if args.name is not None and args.list:
        print("iommu-rules schema: give a NAME or --list, not both", file=sys.stderr)
        return EXIT_USAGE
    if args.name is None:
        width = max(len(s.name) for s in SCHEMAS)
        command_width = max(len(s.command) for s in SCHEMAS)
        for s in SCHEMAS:
            print(
                f"{s.name:<{width}}  iommu-rules {s.command:<{command_width}}  version {s.version}"
            )
        return EXIT_OK
    schema = find(args.name)
    if schema is None:
        names = [s.name for s in SCHEMAS] + [s.command.split()[0] for s in SCHEMAS]
        hint = did_you_mean(args.name, names)
        known = ", ".join(s.name for s in SCHEMAS)
        print(
            f"iommu-rules schema: no schema named '{args.name}' (there are: {known})"
            + (f"; {hint}" if hint else ""),
            file=sys.stderr,
        )
        return EXIT_USAGE
    sys.stdout.write(schema.text())
    return EXIT_OK


COMMAND = Command(
    name="schema",
    help="print the JSON Schema of a JSON output (resolve --json, check --format json, ...)",
    description="Print the JSON Schema (Draft 2020-12) of a JSON document iommu-rules prints, "
    "to validate the output of this version against: NAME is the schema's name or the "
    "command that prints it (resolve, check, test, whatif, compare). Without NAME, or "
    "with --list, list each schema with the command that prints it and its version.",
    examples=(
        "iommu-rules schema",
        "iommu-rules schema resolution > resolution.schema.json",
        "iommu-rules schema check",
    ),
    exit_codes="exit codes:\n  0  printed\n  2  usage error: no such schema "
    "(the message suggests the closest)",
    color=False,
    args=(
        arg("name", nargs="?", metavar="NAME", help="a schema, or the command that prints it"),
        arg("--list", action="store_true", help="list the schemas (the default without NAME)"),
    ),
    run=run,
)
