"""The contract every IOMMU kind keeps (dsl/kinds/): one record per driver, every facet
stated, every claim citing the kernel source it mirrors, and the docs' table current."""

from __future__ import annotations

import ast
import dataclasses
import pkgutil
import re
from pathlib import Path

import pytest

from iommu_rules import kinds as registry
from iommu_rules.eras import Era
from iommu_rules.grammar import iommu_kinds
from iommu_rules.kinds import KINDS, Contexts, Kind
from iommu_rules.loader import std_packs

DOC = Path(__file__).resolve().parents[2] / "docs" / "language.md"
HERE = Path(__file__).resolve().parent
# A kernel source file: drivers/iommu/tegra-smmu.c, arm-smmu.c, arch/arm/mm/dma-mapping.c
SOURCE_FILE = re.compile(r"\b[\w./-]+\.[ch]\b")
# Facets that hold a citation "file.c: function (...)" when they are set.
CITATIONS = (
    "xlate",
    "group_source",
    "static_default",
    "span",
    "no_span",
    "single_client",
    "shared_arm_mapping",
    "iova_regions",
    "passes_unattached",
    "faults_unattached",
)
CONTEXT_CITATIONS = ("source", "release_on_leave")
KIND_IDS = list(KINDS)


def test_the_registry_and_the_grammar_know_the_same_kinds() -> None:
    assert set(KINDS) == set(iommu_kinds())


@pytest.mark.parametrize("record", [Kind, Contexts])
def test_every_facet_must_be_stated(record: type) -> None:
    """A facet with a default would let a new kind forget it silently: none has one."""
    fields = dataclasses.fields(record)
    defaulted = [
        f.name
        for f in fields
        if f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
    ]
    assert not defaulted
    with pytest.raises(TypeError, match="missing"):
        record(**{f.name: None for f in fields[1:]})


@pytest.mark.parametrize("name", KIND_IDS)
def test_each_kind_cites_its_driver(name: str) -> None:
    kind = KINDS[name]
    assert kind.name == name
    assert re.fullmatch(r"(drivers|arch)/[\w./-]+\.c", kind.driver), kind.driver
    for facet in CITATIONS:
        value = getattr(kind, facet)
        assert value is None or SOURCE_FILE.search(value), f"{name}.{facet} cites no source"
    for facet in CONTEXT_CITATIONS:
        value = getattr(kind.contexts, facet)
        assert value is None or SOURCE_FILE.search(value), f"{name}.contexts.{facet}"
    if kind.arch is not None:
        assert "Kconfig" in kind.arch[1], f"{name}.arch cites no Kconfig line"


@pytest.mark.parametrize("name", KIND_IDS)
def test_each_kind_is_consistent(name: str) -> None:
    kind = KINDS[name]
    assert kind.streams and kind.streams <= {"sid", "swgroup", "context", "none"}
    assert (kind.cells == 0) == (kind.streams == {"none"})
    assert kind.dt_stream is None or kind.dt_stream in kind.streams
    if kind.smr:
        assert "sid" in kind.streams
    if kind.pci_claim or kind.pci_only or kind.pci_groups:
        assert kind.pci or kind.name == "adreno-smmu"  # an arm-smmu that serves no PCI host
    if kind.pci_claim:
        assert kind.probes_unbound  # the claim is made at init, bound or not
    assert not (kind.span and kind.no_span)
    assert kind.deferred_flush is None or isinstance(kind.deferred_flush, Era)
    assert not (kind.fq_alloc and kind.deferred_flush is None)  # they reported it in 6.5
    contexts = kind.contexts
    assert contexts.first in (0, 1)
    assert re.fullmatch(r"-E[A-Z]+", contexts.errno)
    assert "{n}" in contexts.id_text
    if contexts.uncounted:
        assert contexts.max is None
    if kind.pack is not None:
        assert kind.pack in std_packs()


def test_compatibles_belong_to_one_kind() -> None:
    seen: dict[str, str] = {}
    for kind in KINDS.values():
        for compatible in kind.compatibles:
            assert compatible not in seen, f"{compatible}: {seen.get(compatible)} and {kind.name}"
            seen[compatible] = kind.name


def test_the_docs_kinds_table_is_the_registrys() -> None:
    doc = DOC.read_text(encoding="utf-8")
    table = registry.markdown_table()
    assert table in doc, (
        "docs/language.md's kinds table differs from dsl/kinds/; paste this table there:\n" + table
    )


def test_every_kind_module_has_its_test_file_and_it_tests_something() -> None:
    """README and dsl/kinds/__init__.py: a kind comes with tests/kinds/test_<module>.py. Every
    family module of the installed package (all but base) has that file, with a test in it."""
    modules = sorted(m.name for m in pkgutil.iter_modules(registry.__path__) if m.name != "base")
    assert "tegra" in modules, modules  # the package's modules are found
    missing = [m for m in modules if not (HERE / f"test_{m}.py").is_file()]
    assert not missing, "no tests/kinds/test_<module>.py for: " + ", ".join(missing)
    empty = []
    for module in modules:
        tree = ast.parse((HERE / f"test_{module}.py").read_text(encoding="utf-8"))
        tests = [
            node.name
            for node in tree.body
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            and node.name.startswith("test")
        ]
        if not tests:
            empty.append(f"tests/kinds/test_{module}.py")
    assert not empty, "no test in: " + ", ".join(empty)
