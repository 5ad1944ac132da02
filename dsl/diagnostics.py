"""One diagnostic type for every stage, rendered like a compiler's.

A diagnostic carries a stable code, a primary span, labelled secondary spans
and an optional help line.  Rendering needs the source text, which the loader
keeps in a :class:`SourceMap`; JSON rendering does not.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import NamedTuple


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    NOTE = "note"


class Span(NamedTuple):
    """A region of a source file; lines and columns are 1-based, end exclusive.

    A named tuple, not a frozen dataclass: a 10k-device board makes some 130,000 spans,
    and a tuple is built four times faster than a frozen dataclass sets five fields.
    It orders, compares and hashes by its fields, as ``dataclass(frozen, order)`` did."""

    file: str
    line: int
    col: int
    end_line: int
    end_col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


NO_SPAN = Span("<builtin>", 0, 0, 0, 0)


@dataclass(frozen=True)
class Label:
    span: Span
    message: str


@dataclass(frozen=True)
class Diagnostic:
    severity: Severity
    code: str
    message: str
    span: Span
    label: str = ""
    secondary: tuple[Label, ...] = ()
    help: str = ""

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def sort_key(self) -> tuple[str, int, int, str]:
        return (self.span.file, self.span.line, self.span.col, self.code)

    def to_json(self) -> dict[str, object]:
        def span_json(s: Span) -> dict[str, object]:
            return {
                "file": s.file,
                "line": s.line,
                "col": s.col,
                "end_line": s.end_line,
                "end_col": s.end_col,
            }

        return {
            "severity": self.severity.value,
            "code": self.code,
            "message": self.message,
            "span": span_json(self.span),
            "label": self.label,
            "secondary": [
                {"span": span_json(lab.span), "message": lab.message} for lab in self.secondary
            ],
            "help": self.help,
        }


class DiagnosticError(Exception):
    """Raised by a stage that cannot go on; carries what it found so far."""

    def __init__(self, diagnostics: Sequence[Diagnostic]):
        super().__init__("; ".join(d.message for d in diagnostics))
        self.diagnostics = list(diagnostics)


def error(code: str, message: str, span: Span, **kw: object) -> Diagnostic:
    return Diagnostic(Severity.ERROR, code, message, span, **kw)  # type: ignore[arg-type]


def warning(code: str, message: str, span: Span, **kw: object) -> Diagnostic:
    return Diagnostic(Severity.WARNING, code, message, span, **kw)  # type: ignore[arg-type]


# Acronyms said letter by letter whose first letter sounds like a vowel ("an msm-iommu").
_VOWEL_SOUND = ("fsl", "msm", "mtk", "s390", "sprd")


def article(word: object) -> str:
    """'a' or 'an' before ``word``, by how it is said: "an identity domain", "an iommu",
    "a dma domain", "an msm-iommu"."""
    text = str(word)
    lowered = text.lower()
    vowel = lowered[:1] in tuple("aeiou") or lowered.startswith(_VOWEL_SOUND)
    return f"{'an' if vowel else 'a'} {text}"


def plural(n: int, word: str) -> str:
    """'1 context', '2 contexts'."""
    return f"{n} {word}{'' if n == 1 else 's'}"


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """A 'did you mean' help line, or '' when nothing is close enough."""
    pool = sorted(set(candidates))
    close = difflib.get_close_matches(word, pool, n=3, cutoff=0.6)
    if not close:
        lowered = {c.lower(): c for c in pool}
        if word.lower() in lowered:
            close = [lowered[word.lower()]]
    if not close:
        return ""
    if len(close) == 1:
        return f"did you mean '{close[0]}'?"
    return "did you mean " + ", ".join(f"'{c}'" for c in close[:-1]) + f" or '{close[-1]}'?"


class SourceMap:
    """File texts by display name, so diagnostics can quote the offending line."""

    def __init__(self) -> None:
        self._lines: dict[str, list[str]] = {}

    def add(self, name: str, text: str) -> None:
        self._lines[name] = text.splitlines()

    def update(self, other: SourceMap) -> None:
        self._lines.update(other._lines)

    def __len__(self) -> int:
        return len(self._lines)

    def names(self) -> list[str]:
        return list(self._lines)

    def lines(self, name: str) -> list[str] | None:
        """A file's lines, as loaded (without their line endings)."""
        lines = self._lines.get(name)
        return None if lines is None else list(lines)

    def line(self, name: str, number: int) -> str | None:
        lines = self._lines.get(name)
        if lines is None or not 1 <= number <= len(lines):
            return None
        return lines[number - 1]


@dataclass
class Style:
    """ANSI colours, or none at all."""

    enabled: bool = False
    codes: dict[str, str] = field(
        default_factory=lambda: {
            "error": "1;31",
            "warning": "1;33",
            "note": "1;36",
            "help": "1;32",
            "bold": "1",
            "gutter": "1;34",
        }
    )

    def __call__(self, what: str, text: str) -> str:
        if not self.enabled or not text:
            return text
        return f"\x1b[{self.codes[what]}m{text}\x1b[0m"


def _expand_tabs(text: str) -> str:
    return text.replace("\t", "    ")


# Untrusted text echoed to a terminal must not drive it: every control character but tab
# and newline becomes a visible one of the same width (C0 as its Unicode control picture,
# ESC as '␛'; DEL, C1 and the bidirectional overrides of "Trojan Source" as '�'), so carets
# stay aligned.
_VISIBLE = {
    **{c: 0x2400 + c for c in range(0x20) if c not in (0x09, 0x0A)},  # tab, newline stay
    0x7F: 0x2421,
    **{c: 0xFFFD for c in range(0x80, 0xA0)},
    **{c: 0xFFFD for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F)},
}


def visible(text: str) -> str:
    """``text`` safe to print: no character in it can move the cursor or set colours."""
    return text.translate(_VISIBLE)


# Longest quoted source line; a longer one (a generated file's one-line list) is cut to a
# window around the caret so one diagnostic cannot flood the terminal.
MAX_QUOTE = 120


def _window(shown: str, start: int, length: int) -> tuple[str, int, int]:
    """Cut ``shown`` to MAX_QUOTE columns around the caret at ``start`` (``length`` wide),
    marking each cut with '...'; return the text, the caret's column in it and its width."""
    if len(shown) <= MAX_QUOTE:
        return shown, start, length
    lo = max(0, min(start - 30, len(shown) - MAX_QUOTE))
    hi = min(len(shown), lo + MAX_QUOTE)
    head = "..." if lo else ""
    tail = "..." if hi < len(shown) else ""
    width = max(min(length, hi - start), 1)
    return head + shown[lo:hi] + tail, len(head) + start - lo, width


def _snippet(
    sources: SourceMap, span: Span, label: str, mark: str, style: Style, width: int
) -> list[str]:
    text = sources.line(span.file, span.line)
    if text is None:
        return []
    text = visible(text)
    gutter = " " * width
    prefix = text[: max(span.col - 1, 0)]
    if span.end_line == span.line and span.end_col > span.col:
        length = span.end_col - span.col
    else:
        length = max(len(text) - len(prefix), 1)
    shown, start, caret_len = _window(
        _expand_tabs(text),
        len(_expand_tabs(prefix)),
        max(len(_expand_tabs(text[len(prefix) : len(prefix) + length])), 1),
    )
    caret_pad = " " * start
    underline = style("error" if mark == "^" else "gutter", mark * caret_len)
    lines = [
        f"{style('gutter', str(span.line).rjust(width))} {style('gutter', '|')} {shown}",
        f"{gutter} {style('gutter', '|')} {caret_pad}{underline}"
        + (f" {visible(label)}" if label else ""),
    ]
    return lines


def render(diag: Diagnostic, sources: SourceMap, style: Style | None = None) -> str:
    """Render one diagnostic: location line, quoted source, carets, help."""
    style = style or Style()
    sev = diag.severity.value
    message = visible(diag.message)
    head = (
        f"{style('bold', visible(str(diag.span)))}: {style(sev, f'{sev}[{diag.code}]')}: "
        f"{style('bold', message)}"
    )
    if diag.span.line == 0:
        head = f"{style(sev, f'{sev}[{diag.code}]')}: {style('bold', message)}"
    spans = [diag.span] + [lab.span for lab in diag.secondary]
    width = max(len(str(s.line)) for s in spans)
    out = [head]
    out += _snippet(sources, diag.span, diag.label, "^", style, width)
    for lab in diag.secondary:
        where = f"{' ' * width} {style('gutter', '-->')} {visible(str(lab.span))}"
        out.append(where)
        out += _snippet(sources, lab.span, lab.message, "-", style, width)
    if diag.help:
        out.append(
            f"{' ' * width} {style('gutter', '=')} {style('help', 'help')}: {visible(diag.help)}"
        )
    return "\n".join(out)


def render_all(
    diagnostics: Sequence[Diagnostic],
    sources: SourceMap,
    style: Style | None = None,
    limit: int = 50,
) -> str:
    """Render in source order; past ``limit`` say how many more there are."""
    ordered = sorted(diagnostics, key=Diagnostic.sort_key)
    shown = [render(d, sources, style) for d in ordered[:limit]]
    if len(ordered) > limit:
        shown.append(f"... and {len(ordered) - limit} more")
    return "\n\n".join(shown)


def summary(diagnostics: Sequence[Diagnostic]) -> str:
    errors = sum(1 for d in diagnostics if d.severity is Severity.ERROR)
    warnings = sum(1 for d in diagnostics if d.severity is Severity.WARNING)
    parts = []
    if errors:
        parts.append(f"{errors} error{'s' if errors != 1 else ''}")
    if warnings:
        parts.append(f"{warnings} warning{'s' if warnings != 1 else ''}")
    return ", ".join(parts) if parts else "no problems"


def to_json(diagnostics: Sequence[Diagnostic]) -> str:
    ordered = sorted(diagnostics, key=Diagnostic.sort_key)
    return json.dumps(
        {"version": 1, "diagnostics": [d.to_json() for d in ordered]}, indent=2, sort_keys=True
    )
