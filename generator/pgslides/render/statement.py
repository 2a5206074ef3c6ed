"""One statement's outcome → HTML: rows as a table or in psql's layouts, tags, notices, errors."""

from __future__ import annotations

import json
import re

from markupsafe import Markup

from pgslides.outcome import Column, StatementOutcome
from pgslides.render import textformat
from pgslides.render.templating import render_template

# Statements whose command tag psql prints under their rows (DML with RETURNING).
_TAG_AFTER_ROWS = ("INSERT", "UPDATE", "DELETE", "MERGE")

# How text and expanded formats show NULL: psql users' common `\\pset null '∅'`, one
# character that no empty string or 'NULL' text can be mistaken for.
TEXT_NULL = "∅"

BOOL_OID = 16
JSON_OIDS = frozenset({114, 3802})
_JSON_NUMBER = re.compile(r"^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$")

# Control characters other than newline and tab: invalid in HTML, invisible on a slide.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def render_statement(
    statement: StatementOutcome,
    fmt: str,
    picture: Markup | None = None,
    *,
    picture_rows: bool = False,
) -> Markup:
    """One statement's outcome; whether its error was the block's point the run decided.

    A picture (a plan, a chart) stands in for its rows; with picture_rows the rows follow it,
    folded, for the handout."""
    if fmt == "plan" and picture is None:
        fmt = "table"  # a block's statements other than its EXPLAIN show as usual
    columns = statement.columns
    rows = [[displayable(value) for value in row] for row in statement.rows]
    text = ""
    if columns is not None and fmt not in ("table", "plan"):
        # psql's layouts escape control characters themselves, measuring them as they go.
        text = format_rows(fmt, columns, [list(row) for row in statement.rows])
    error = statement.error
    error_text = statement_error_text(statement)
    expected = error is not None and statement.expected
    status = statement.status or ""
    return render_template(
        "statement.html",
        notices=[
            {"severity": n.severity, "text": displayable(f"{n.severity}:  {n.message}")}
            for n in statement.notices
        ],
        more_notices=statement.more_notices,
        ran=statement.ran,
        error=error,
        error_text=displayable(error_text.rstrip("\n")),
        expected=expected,
        columns=columns,
        headers=[displayable(column.name) for column in columns or ()],
        rows=rows,
        format=fmt,
        text=text.rstrip("\n"),
        footer=textformat.row_count_footer(statement.row_count),
        more=statement.row_count - len(statement.rows),
        status=status,
        status_after_rows=status.split(" ")[0] in _TAG_AFTER_ROWS,
        copy_output=displayable(statement.copy_output),
        copy_more=statement.copy_more_lines,
        picture=picture,
        picture_rows=picture_rows,
    )


def statement_error_text(statement: StatementOutcome) -> str:
    """The statement's error as psql prints it (with LINE and caret); '' without one."""
    error = statement.error
    if error is None:
        return ""
    return textformat.error_text(
        error.severity,
        error.message,
        error.detail,
        error.hint,
        error.context,
        statement.sql,
        error.position,
        internal_query=error.internal_query,
        internal_position=error.internal_position,
    )


def format_rows(fmt: str, columns: tuple[Column, ...], rows: list[list[str | None]]) -> str:
    """Rows as psql's aligned text, psql's expanded (\\x) text, or a JSON array of objects."""
    headers = [column.name for column in columns]
    numeric = [column.numeric for column in columns]
    if fmt == "text":
        return textformat.aligned(headers, numeric, rows, null=TEXT_NULL)
    if fmt == "expanded":
        return textformat.expanded(headers, numeric, rows, null=TEXT_NULL)
    return rows_as_json(columns, rows)


def rows_as_json(columns: tuple[Column, ...], rows: list[list[str | None]]) -> str:
    """A JSON array of objects, one member per column in column order, as PostgreSQL's own
    row_to_json writes it: two columns of one name are two members of that name (`{"a": 1,
    "a": 2}`), never one value lost. Laid out as json.dumps(indent=2) lays out objects.

    Numbers and json/jsonb stay exactly as the server wrote them: going through Python floats
    would turn 1.50 into 1.5.
    """
    if not rows:
        return "[]"
    objects = [_json_object(columns, row) for row in rows]
    return "[\n" + ",\n".join(objects) + "\n]"


def _json_object(columns: tuple[Column, ...], row: list[str | None]) -> str:
    if not columns:
        return "  {}"
    members = [
        f"    {json.dumps(column.name, ensure_ascii=False)}: {_json_value(column, value)}"
        for column, value in zip(columns, row, strict=True)
    ]
    return "  {\n" + ",\n".join(members) + "\n  }"


def _json_value(column: Column, value: str | None) -> str:
    """A value as JSON text: numbers and json/jsonb verbatim, booleans as true/false."""
    if value is None:
        return "null"
    if column.type_oid == BOOL_OID:
        return "true" if value == "t" else "false"
    if column.type_oid in JSON_OIDS or (column.numeric and _JSON_NUMBER.match(value)):
        return value
    return json.dumps(value, ensure_ascii=False)


def displayable(value: str | None) -> str | None:
    """A value as a slide can show it: control characters written as psql writes them (the
    executor has already cut values too long for a slide)."""
    if value is None:
        return None
    return _CONTROL.sub(lambda match: textformat.control_escape(match[0]), value)
