"""Hostile input: random bytes and mutated real files give diagnostics, never exceptions."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from iommu_rules import Board
from iommu_rules.loader import decode

from conftest import EXAMPLES

SEEDS = [p.read_text(encoding="utf-8") for p in sorted(EXAMPLES.glob("*.iommu"))]
CI_EXAMPLES = 2000


def check_never_raises(data: bytes) -> None:
    text, diag = decode(data, "fuzz.iommu")
    if text is None:
        assert diag is not None and diag.code == "E124"
        return
    board = Board.from_text(text, "fuzz.iommu")
    for d in board.input_diagnostics:  # the loader's, then the model's
        assert d.code[0] in "EW" and d.message
        assert d.span.line >= 0


@settings(max_examples=CI_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.binary(max_size=400))
def test_random_bytes(data: bytes) -> None:
    check_never_raises(data)


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    base = bytearray(draw(st.sampled_from(SEEDS)).encode())
    for _ in range(draw(st.integers(1, 8))):
        op = draw(st.integers(0, 3))
        pos = draw(st.integers(0, max(len(base) - 1, 0)))
        if op == 0 and base:
            del base[pos : pos + draw(st.integers(1, 20))]
        elif op == 1:
            base[pos:pos] = draw(
                st.sampled_from(
                    [b"{", b"}", b'"', b"\x00", b"\xff", b"\r\n", b"\xef\xbb\xbf", b"#"]
                )
            )
        elif op == 2:
            base[pos:pos] = draw(st.binary(min_size=1, max_size=6))
        elif base:
            other = draw(st.integers(0, len(base) - 1))
            base[pos], base[other] = base[other], base[pos]
    return bytes(base)


@pytest.mark.skipif(not SEEDS, reason="no examples")
@settings(max_examples=CI_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(mutated())
def test_mutated_examples(data: bytes) -> None:
    check_never_raises(data)


@pytest.mark.fuzz
@settings(max_examples=10_000, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.one_of(mutated(), st.binary(max_size=2000)))
def test_nightly_fuzz(data: bytes) -> None:
    check_never_raises(data)


@pytest.mark.parametrize(
    "data",
    [
        b"\xff\xfe\x00",
        b"device",
        b"{" * 5000,
        b"(" * 5000,
        b"rule a and " * 3000 + b"x requires dma",
    ],
)
def test_cli_never_shows_a_traceback(cli, data: bytes) -> None:  # type: ignore[no-untyped-def]
    proc = cli("check", "-", stdin=data)
    assert proc.returncode == 3, proc.stderr
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr
