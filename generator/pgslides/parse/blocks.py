"""A live block's info string (`sql exec key=value …`) → validated BlockOptions."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, fields
from typing import Any

from pgslides.errors import DeckError
from pgslides.settings import (
    BLOCK_OPTIONS,
    ERD_BLOCK_OPTIONS,
    PYTHON_BLOCK_OPTIONS,
    VIEW_OPTIONS,
    Option,
    validate,
)

# BlockOptions' field for each option, where the two names differ (durations in ms).
_FIELDS = {"timeout": "timeout_ms", "grace": "grace_ms", "sql": "sql_list"}
_VIEW_FIELDS = frozenset(_FIELDS.get(name, name) for name in VIEW_OPTIONS)
_PYTHON_NAMES = tuple(option.name for option in PYTHON_BLOCK_OPTIONS)
_SQL_NAMES = tuple(option.name for option in BLOCK_OPTIONS)
_OPTIONS_OF: dict[str, tuple[Option, ...]] = {
    "sql": BLOCK_OPTIONS,
    "python": PYTHON_BLOCK_OPTIONS,
    "erd": ERD_BLOCK_OPTIONS,
}


@dataclass(frozen=True)
class BlockOptions:
    session: str = "main"
    show: str = "both"
    expect: str = "ok"  # ok, error, or a SQLSTATE
    rows: int | None = None  # None: the configured max_rows
    format: str = "table"
    timeout_ms: int | None = None  # None: the configured statement_timeout
    title: str | None = None
    grace_ms: int = 200  # how long a statement may run before a lock wait shows
    prompt: bool | None = None  # None: the deck's `prompt` setting
    sql_list: str = "show"  # a Python block's `sql`: show, count or hide the SQL it sent
    steps: str | None = None  # "statements": each statement with its output is a step
    hl: str | None = None  # line-highlight steps, e.g. "1-2|3|4"
    chart: str | None = None  # bar, line, scatter or area: the rows drawn
    x: str | None = None  # the chart's x column
    y: tuple[str, ...] | None = None  # the chart's y columns

    def run_options(self) -> dict[str, Any]:
        """The options that change what runs: the ones a cached outcome depends on."""
        # Its fields hold strings, numbers and tuples of strings: nothing to copy (asdict would).
        options = {
            field.name: getattr(self, field.name)
            for field in fields(self)
            if field.name not in _VIEW_FIELDS
        }
        if self.format == "plan":
            # format is a view option, but a plan is asked for in JSON: that changes what runs.
            # Only then, so the keys of every other block stay as they were.
            options["explain"] = "json"
        return options


@dataclass(frozen=True)
class Block:
    """A live SQL block: its source, its options and where it sits in the deck file."""

    index: int  # 0-based position among the deck's blocks
    line: int  # 1-based line of the opening fence
    sql: str
    options: BlockOptions
    in_notes: bool = False  # in the speaker notes: runs in order, shown in the notes
    language: str = "sql"  # or "python": a ```python exec``` block

    @property
    def sql_line(self) -> int:
        """The file line of the block's first line of SQL."""
        return self.line + 1


def parse_block_options(info: str, path: str, line: int, language: str = "sql") -> BlockOptions:
    """The key=value options after `sql exec` (or `python exec`), validated; DeckError names
    the valid choices."""
    try:
        words = shlex.split(info)
    except ValueError as error:
        raise DeckError(path, line, f"cannot read the block options: {error}") from None
    raw: dict[str, str] = {}
    for word in words[2:]:
        key, equals, value = word.partition("=")
        if not equals:
            raise DeckError(
                path, line, f"option {word!r} has no value; write key=value (e.g. show=result)"
            )
        if key in raw:
            raise DeckError(path, line, f"option {key!r} is given twice")
        raw[key] = value
    python = language == "python"
    for key in raw:
        if python and key in _SQL_NAMES and key not in _PYTHON_NAMES:
            raise DeckError(path, line, _elsewhere(key, "SQL", "Python", _PYTHON_NAMES))
        if language == "sql" and key in _PYTHON_NAMES and key not in _SQL_NAMES:
            raise DeckError(path, line, _elsewhere(key, "Python", "SQL", _SQL_NAMES))
    values, errors = validate(_OPTIONS_OF[language], raw)
    if errors:
        raise DeckError(path, line, errors[0][1])
    conflict = _conflict(values)
    if conflict:
        raise DeckError(path, line, conflict)
    return BlockOptions(**{_FIELDS.get(name, name): value for name, value in values.items()})


def _conflict(values: dict[str, Any]) -> str | None:
    """Why options that are each valid cannot go together, or None."""
    if values.get("steps") and values.get("hl"):
        return (
            "hl= highlights the block's source as one piece, which steps=statements splits "
            "by statement: use one or the other"
        )
    chart, x, y = values.get("chart"), values.get("x"), values.get("y")
    if chart and (x is None or y is None):
        return f"chart={chart} needs the columns to draw: add x=COLUMN and y=COLUMN[,COLUMN…]"
    if not chart and (x is not None or y is not None):
        return "x= and y= name a chart's columns: add chart=bar, line, scatter or area"
    if chart and values.get("format", "table") != "table":
        fmt = values["format"]
        return f"chart= draws the rows, format={fmt} lays them out: use one or the other"
    return None


def _elsewhere(key: str, its: str, this: str, valid: tuple[str, ...]) -> str:
    return (
        f"option {key!r} is for {its} blocks, not {this} blocks; "
        f"a {this} block takes {', '.join(valid)}"
    )


# An erd block's lines: table names as SQL writes them (`users`, `public.comments`,
# `"Odd Name"`), `*` for every table of the deck's schema, `schema.*` for one schema's.
_IDENT = r'(?:[A-Za-z_][A-Za-z0-9_$]*|"(?:[^"]|"")+")'
_TABLE_NAME = re.compile(rf"^(?:\*|{_IDENT}(?:\.(?:{_IDENT}|\*))?)$")
_NAME_SEPARATORS = re.compile(r"[\s,]+")


def erd_names(text: str) -> list[tuple[int, str]]:
    """(line within the block, name) for each table name an erd block lists, in order;
    `-- comments` and blank lines are skipped."""
    names: list[tuple[int, str]] = []
    for number, line in enumerate(text.splitlines()):
        content = line.split("--", 1)[0] if '"' not in line else line
        names.extend((number, name) for name in _NAME_SEPARATORS.split(content.strip()) if name)
    return names


def check_erd_names(text: str, path: str, sql_line: int) -> None:
    """DeckError at the line of the first name that is not a table name, or when none is."""
    names = erd_names(text)
    for number, name in names:
        if not _TABLE_NAME.match(name):
            raise DeckError(
                path,
                sql_line + number,
                f"{name!r} is not a table name: an erd block lists tables (users, "
                'public.comments, "Odd Name"), schema.* or * for every table of the deck',
            )
    if not names:
        raise DeckError(path, sql_line - 1, "an erd block lists the tables to draw, or * for all")
