"""The REPL's colours: one mapping from pygments token kinds to styles.

Used only when colour is on (a terminal, and NO_COLOR unset).
"""

from __future__ import annotations

from prompt_toolkit.styles import Style, merge_styles, style_from_pygments_dict
from pygments.token import Comment, Keyword, Name, Number, Operator, String

TOKENS = {
    Comment: "italic #808080",
    Keyword: "bold #5f87d7",
    Keyword.Declaration: "bold #5f87d7",
    Keyword.Type: "#00afaf",
    Name.Entity: "bold",
    Name.Constant: "#af87d7",
    String: "#87af5f",
    Number: "#d7875f",
    Operator: "#d7af00",
}

UI = {
    "bottom-toolbar": "noreverse bg:#303030 #bcbcbc",
    "prompt": "bold",
}


def style() -> Style:
    return merge_styles([style_from_pygments_dict(TOKENS), Style.from_dict(UI)])  # type: ignore[return-value]
