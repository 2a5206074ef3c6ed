"""An EXPLAIN asked for as JSON (format=plan): the author's options kept, FORMAT JSON added.

SPEC: "pgslides asks for FORMAT JSON itself". Only the option list changes: the query after
it is sent exactly as written, so an error's position in it still points at the author's text
(shifted by what the option list grew, which the outcome's `sql` records as sent).
"""

from __future__ import annotations

import re

# What may stand before EXPLAIN: whitespace and comments, as psql sends them.
_LEAD = r"(?:\s+|--[^\n]*\n|/\*.*?\*/)*"
_EXPLAIN = re.compile(rf"^(?P<lead>{_LEAD})(?P<word>explain)\b", re.IGNORECASE | re.DOTALL)
# The old syntax's options, in the order PostgreSQL accepts them: EXPLAIN ANALYZE VERBOSE q.
_OLD_OPTION = re.compile(rf"^{_LEAD}(?P<option>analy[sz]e|verbose)\b", re.IGNORECASE | re.DOTALL)
_FORMAT = re.compile(r"^\s*format\b", re.IGNORECASE)


def is_explain(text: str) -> bool:
    return _EXPLAIN.match(text) is not None


def as_json_explain(text: str) -> str | None:
    """The statement with FORMAT JSON in its options; None when it is not an EXPLAIN."""
    match = _EXPLAIN.match(text)
    if match is None:
        return None
    head, rest = text[: match.end()], text[match.end() :]
    stripped = rest.lstrip()
    if stripped.startswith("("):
        close = _closing_paren(stripped)
        if close is None:
            return None  # unbalanced: let the server say what is wrong, as written
        options = [item for item in _split_options(stripped[1:close]) if not _FORMAT.match(item)]
        query = stripped[close + 1 :]
    else:
        options = []
        while old := _OLD_OPTION.match(rest):
            options.append(old["option"].upper())
            rest = rest[old.end() :]
        query = rest
    listed = ", ".join([*(item.strip() for item in options), "FORMAT JSON"])
    return f"{head} ({listed}){query if query[:1].isspace() else ' ' + query}"


def _closing_paren(text: str) -> int | None:
    """Index of the parenthesis that closes text[0]'s, outside quotes."""
    depth = 0
    quote = ""
    for index, char in enumerate(text):
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return index
    return None


def _split_options(text: str) -> list[str]:
    """EXPLAIN's option list split at its top-level commas."""
    items, depth, start = [], 0, 0
    for index, char in enumerate(text):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            items.append(text[start:index])
            start = index + 1
    items.append(text[start:])
    return [item for item in items if item.strip()]
