"""The formatter: canonical, idempotent, meaning-preserving, comment-keeping.

Property tests generate valid files with random layout (spaces, newlines, tabs,
';' separators, comments between tokens) and check that
``parse(fmt(x)) == parse(x)``, ``fmt(fmt(x)) == fmt(x)`` and that every comment
survives.
"""

from __future__ import annotations

from collections import Counter
from functools import cache

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from iommu_rules.fmt import format_text
from iommu_rules.grammar import keywords
from iommu_rules.parse import parse, scan_comments

RESERVED = keywords()


def commas(items: list[str]) -> list[str]:
    """['a', 'b'] -> ['a', ',', 'b']"""
    out: list[str] = []
    for item in items:
        out += [item, ","]
    return out[:-1]


names = st.from_regex(r"[a-z][a-z0-9_]{0,5}", fullmatch=True).filter(lambda n: n not in RESERVED)
hexnum = st.integers(0, 0xFFFF).map(hex)
smallnum = st.integers(0, 9).map(str)
strings = st.from_regex(r'"[a-z0-9,.*\- ]{0,10}"', fullmatch=True)
dtypes = st.sampled_from(["identity", "dma", "dma-fq", "unmanaged", "blocked"])
kinds = st.sampled_from(["arm-smmu", "tegra-smmu", "intel-vtd", "qcom-iommu", "apple-dart"])


@cache  # one strategy per depth, not a new tree (for hypothesis to validate) per draw
def selector(depth: int = 0) -> st.SearchStrategy[list[str]]:
    atoms = st.one_of(
        names.map(lambda n: [n]),
        strings.map(lambda s: ["compatible", s]),
        names.map(lambda n: ["on", n]),
        kinds.map(lambda k: ["kind", k]),
        st.just(["pci", "0000:03:00.*"]),
        st.just(["untrusted"]),
        st.just(["all"]),
    )
    if depth >= 2:
        return atoms
    sub = st.deferred(lambda: selector(depth + 1))
    return st.one_of(
        atoms,
        sub.map(lambda s: ["not", *s]),
        st.tuples(sub, st.sampled_from(["and", "or"]), sub).map(lambda t: [*t[0], t[1], *t[2]]),
        sub.map(lambda s: ["(", *s, ")"]),
    )


@cache
def condition() -> st.SearchStrategy[list[str]]:
    atoms = st.one_of(
        st.tuples(st.sampled_from([">=", "<", "=="]), st.sampled_from(["4.18", "6.7", "5"])).map(
            lambda t: ["kernel", t[0], t[1]]
        ),
        st.sampled_from(["arm", "arm64", "x86_64"]).map(lambda a: ["arch", "==", a]),
        st.just(["cmdline", "has", '"iommu=pt"']),
        st.just(["config", "IOMMU_DEFAULT_PASSTHROUGH"]),
    )
    return st.one_of(
        atoms,
        st.tuples(atoms, atoms).map(lambda t: [*t[0], "and", "not", *t[1]]),
        st.tuples(atoms, atoms).map(lambda t: ["(", *t[0], "or", *t[1], ")"]),
    )


def block(head: list[str], props: st.SearchStrategy[list[str]]) -> st.SearchStrategy[list[str]]:
    return st.lists(props, max_size=4).map(
        lambda ps: [*head, "{", *[tok for p in ps for tok in (*p, ";")], "}"]
    )


platform_props = st.one_of(
    st.sampled_from(["arm", "arm64", "x86_64"]).map(lambda a: ["arch", a]),
    st.sampled_from(["4.18", "6.7.1", "5.10"]).map(lambda v: ["kernel", v]),
    st.tuples(hexnum, st.sampled_from(["1G", "512M", "0x1000"])).map(
        lambda t: ["ram", t[0], "size", t[1]]
    ),
    strings.map(lambda s: ["cmdline", s]),
    st.just(["config", "ARM_DMA_USE_IOMMU", "=", "n"]),
)
iommu_props = st.one_of(
    smallnum.map(lambda n: ["contexts", n]),
    st.lists(dtypes, min_size=1, max_size=3).map(lambda ts: ["domains", *commas(ts)]),
    st.just(["reserved", "0", ",", "2", "..", "3"]),
    st.just(["secure", "1"]),
    st.just(["cells", "2"]),
    st.sampled_from([["smrs", "12"], ["stream-match-mask", "0x7f80"], ["reg", "0x12000000"]]),
    st.tuples(names, names).map(lambda t: ["group", t[0], ":", t[1], ",", "0x4"]),
    st.just(["quirk", "no-identity"]),
    st.sampled_from([[], ["smr-mask", "0x1"]]).map(
        lambda smr: ["map", "rid", "0x100", "sid", "0x1c81", *smr, "length", "1"]
    ),
    st.tuples(
        smallnum,
        st.lists(smallnum, min_size=1, max_size=3),
        st.sampled_from([[], ["ports"], ["except", "ports"]]),
        st.lists(smallnum, min_size=1, max_size=3),
    ).map(
        lambda t: ["region", t[0], "larb", *commas(t[1]), *(t[2] + commas(t[3]) if t[2] else [])]
    ),
)
device_props = st.one_of(
    st.lists(names, min_size=1, max_size=3).map(lambda ns: ["tags", *commas(ns)]),
    st.tuples(names, hexnum).map(lambda t: ["iommu", t[0], "sid", t[1], "mask", "0x3"]),
    st.tuples(names, names).map(lambda t: ["iommu", t[0], "swgroup", t[1]]),
    st.just(["pci", "0000:01:00.1"]),
    st.just(["dma-mask", "32"]),
    st.sampled_from([[], ["bus", "0xc0000000"]]).map(
        lambda bus: ["dma-range", "0x0", "size", "0x40000000", *bus]
    ),
    st.sampled_from([["coherent"], ["non-coherent"], ["untrusted"], ["acs", "no"]]),
    st.just(["driver", "own-domain", ",", "managed-dma"]),
)


@st.composite
def statements(draw: st.DrawFn, depth: int = 0) -> list[str]:
    choice = draw(st.integers(0, 10 if depth == 0 else 2))
    if choice == 0:
        sel = draw(selector())
        verb = draw(
            st.one_of(
                st.just(["excludes", "implicit"]),
                dtypes.map(lambda t: ["requires", t]),
                dtypes.map(lambda t: ["prefers", t]),
                st.just(["allows", "contexts", "0", "..", "1"]),
                st.tuples(
                    names,
                    st.sampled_from(["unmanaged", "blocked", "arm-mapping", "default-of-first"]),
                    st.sampled_from([[], ["per", "device"]]),
                    st.sampled_from([[], ["unless", "attached"], ["unless", "translated"]]),
                    st.sampled_from([[], ["log", '"failed to attach to domain: {errno}"']]),
                ).map(lambda t: ["builds", "domain", t[0], ":", t[1], *t[2], *t[3], *t[4]]),
            )
        )
        name = draw(st.one_of(st.just([]), strings.map(lambda s: [s, ":"])))
        clause = draw(st.one_of(st.just([]), strings.map(lambda s: ["because", s])))
        return ["rule", *name, *sel, *verb, *clause]
    if choice == 1:
        return ["rule", "context", draw(names), ".", "0", "reserved", "for", *draw(selector())]
    if choice == 2:
        value = draw(
            st.sampled_from([["dma-direct+swiotlb"], ["4"], ["[", "a", ",", "b", "]"], ['"x"']])
        )
        op = "==" if len(value) != 1 or not value[0].isdigit() else "<="
        return ["expect", draw(names), ".", "dma_ops", op, *value]
    if choice == 3:
        return ["include", draw(strings)]
    if choice == 4:
        return draw(block(["platform"], platform_props))
    if choice == 5:
        return draw(block(["iommu", draw(names), ":", draw(kinds)], iommu_props))
    if choice == 6:
        compat = draw(st.lists(strings, min_size=1, max_size=2))
        head = ["device", draw(names), ":", *commas(compat)]
        return draw(st.one_of(st.just(head), block(head, device_props)))
    if choice == 7:
        kind = draw(st.sampled_from(["root-port", "switch-port", "pci-bridge"]))
        return draw(
            block(
                ["bridge", draw(names), ":", kind],
                st.sampled_from([["pci", "00:1c.0"], ["acs", "yes"], ["upstream", "rp"]]),
            )
        )
    if choice == 8:
        on = draw(st.lists(names, min_size=1, max_size=3))
        head = ["domain", draw(names), ":", "unmanaged", "on", *commas(on)]
        if draw(st.booleans()):
            head = ["domain", draw(names), ":", "default", "of", draw(names)]
        return head + draw(st.one_of(st.just([]), names.map(lambda n: ["{", "attach", n, "}"])))
    if choice == 9:  # a PCI host's iommu-map onto an IOMMU declared elsewhere
        dom = draw(st.sampled_from([[], ["pci-domain", "1"]]))
        return [
            "map",
            draw(names),
            *dom,
            "rid",
            "0x0",
            "sid",
            "0x10",
            "length",
            "0x2",
            "mask",
            "0x0",
        ]
    inner = draw(st.lists(statements(depth + 1), max_size=3))
    return ["when", *draw(condition()), "{", *[t for s in inner for t in s], "}"]


separators = st.sampled_from(
    [" ", " ", " ", "\n", "\n\n", "\t", "  \n    ", " # note\n", "\n# own line\n"]
)


@st.composite
def files(draw: st.DrawFn) -> str:
    stmts = draw(st.lists(statements(), max_size=6))
    tokens = [t for s in stmts for t in s]
    out = []
    for tok in tokens:
        out.append(tok)
        out.append(draw(separators))
    return "".join(out)


def comments_of(text: str) -> Counter[str]:
    return Counter(c.text for c in scan_comments(text, "x"))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(files())
def test_format_round_trip(text: str) -> None:
    formatted = format_text(text)
    assert parse(formatted) == parse(text)
    assert format_text(formatted) == formatted
    assert comments_of(formatted) == comments_of(text)


def test_canonical_layout() -> None:
    text = """# header
include   "std/linux"
platform{arch arm;kernel 4.18}
iommu mc:tegra-smmu{contexts 4
# the scarce resource
domains unmanaged}
device   a :"x"{tags gpu;iommu mc swgroup dc}   # trailing
rule "r":gpu   excludes   implicit
when kernel>=6.7{rule gpu requires identity}
"""
    assert (
        format_text(text)
        == """# header
include "std/linux"

platform {
    arch arm
    kernel 4.18
}

iommu mc: tegra-smmu {
    contexts 4
    # the scarce resource
    domains unmanaged
}
device a: "x" { tags gpu; iommu mc swgroup dc }  # trailing
rule "r": gpu excludes implicit

when kernel >= 6.7 {
    rule gpu requires identity
}
"""
    )


def test_examples_and_stdlib_are_formatted() -> None:
    from iommu_rules.loader import std_root

    from conftest import EXAMPLES

    paths = sorted(EXAMPLES.glob("*.iommu")) + sorted(std_root().rglob("*.iommu"))
    assert paths
    for path in paths:
        text = path.read_text(encoding="utf-8")
        assert format_text(text, str(path)) == text, f"{path.name} is not canonical"


def test_soc_group_with_a_condition_round_trips() -> None:
    text = "iommu mc: tegra-smmu {\n  group display: dc, dcb  when kernel<5.5 and arch == arm\n}\n"
    out = format_text(text, "g.iommu")
    assert "    group display: dc, dcb when kernel < 5.5 and arch == arm\n" in out
    assert format_text(out, "g.iommu") == out
