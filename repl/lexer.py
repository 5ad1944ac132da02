"""A pygments lexer for the language, built from the grammar's keywords.

Registered as the pygments plugin ``iommu`` (``pygmentize -l iommu board.iommu``).
"""

from __future__ import annotations

import re

from pygments.lexer import RegexLexer, bygroups
from pygments.token import Comment, Keyword, Name, Number, Operator, Punctuation, String, Text

from iommu_rules.grammar import domain_types, iommu_kinds, keywords


def _words(words: set[str]) -> str:
    # Longest first, so 'arm-smmu-v3' wins over 'arm-smmu'; never inside a longer name.
    alts = "|".join(re.escape(w) for w in sorted(words, key=lambda w: (-len(w), w)))
    return rf"(?<![\w-])(?:{alts})(?![\w-])"


class IommuLexer(RegexLexer):  # type: ignore[misc]
    name = "iommu-rules"
    aliases = ("iommu", "iommu-rules")
    filenames = ("*.iommu",)
    mimetypes = ("text/x-iommu-rules",)

    _types = set(domain_types()) | set(iommu_kinds())
    _keywords = set(keywords()) - _types

    tokens = {  # noqa: RUF012 - pygments' RegexLexer protocol
        "root": [
            (r"\s+", Text),
            (r"#.*$", Comment.Single),
            (r'"(?:[^"\\\n]|\\.)*"', String),
            (r"(?:[0-9a-fA-F*]{4}:)?[0-9a-fA-F*]{2}:[0-9a-fA-F*]{2}\.[0-7*]", Number.Other),
            (r"0[xX][0-9a-fA-F]+", Number.Hex),
            (r"[0-9]+(?:\.[0-9]+(?:\.[0-9]+)?|[KMGT])?", Number),
            (
                r"(rule|device|iommu|bridge|domain)(\s+)([A-Za-z_][\w-]*)(\s*)(:)",
                bygroups(Keyword.Declaration, Text, Name.Entity, Text, Punctuation),
            ),
            (_words(_types), Keyword.Type),
            (_words(_keywords), Keyword),
            (r"[A-Z][A-Z0-9_]+", Name.Constant),
            (r"[A-Za-z_][\w]*(?:-[\w]+)*", Name),
            (r"==|!=|>=|<=|\.\.|[<>=+]", Operator),
            (r"[{}()\[\]:;,.]", Punctuation),
        ]
    }
