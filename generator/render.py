"""Outcomes → HTML with Jinja2 (autoescape on): live blocks, slides, the deck page's Markdown."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers.sql import PostgresLexer

from generator import textformat
from generator.deck import Block, Deck
from generator.outcome import BlockOutcome, Column, StatementOutcome

# The Markdown that stands for a live block or a slide boundary until MkDocs has made HTML of
# the rest. HTML comments survive Markdown untouched and cannot come from a result, since
# results are only ever inserted after this substitution.
_MARK = "pgslides"
_MARKER = re.compile(r"<!--pgslides:(?P<kind>slide|notes|block) (?P<number>\d+)-->\n?")

# Statements whose command tag psql prints under their rows (DML with RETURNING).
_TAG_AFTER_ROWS = ("INSERT", "UPDATE", "DELETE", "MERGE")

# How text and expanded formats show NULL: psql users' common `\pset null '∅'`, one
# character that no empty string or 'NULL' text can be mistaken for.
TEXT_NULL = "∅"

BOOL_OID = 16
JSON_OIDS = frozenset({114, 3802})
_JSON_NUMBER = re.compile(r"^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$")

# Control characters other than newline and tab: invalid in HTML, invisible on a slide.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")

# Characters of one value kept on a slide; a longer value is cut with a note.
MAX_VALUE_CHARS = 2000


@cache
def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("generator", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=False,
        keep_trailing_newline=False,
    )


def _render(name: str, **context: Any) -> Markup:
    """A template's output; autoescape has already escaped every value put into it."""
    return _trusted(_environment().get_template(name).render(**context).strip())


def _trusted(html: str) -> Markup:
    # Only for HTML made by autoescaped templates, Pygments (which escapes) or MkDocs' Markdown.
    return Markup(html)  # noqa: S704


# --- the Markdown of a deck page ---------------------------------------------------------------


def deck_markdown(deck: Deck) -> str:
    """The deck as Markdown for MkDocs, with markers where slides, notes and blocks go."""
    pieces = []
    for slide in deck.slides:
        pieces.append(f"\n<!--{_MARK}:slide {slide.number}-->\n\n")
        for part in slide.parts:
            if isinstance(part, Block):
                pieces.append(f"\n<!--{_MARK}:block {part.index}-->\n\n")
            else:
                pieces.append(part if part.endswith("\n") else part + "\n")
        if slide.notes is not None:
            pieces.append(f"\n<!--{_MARK}:notes {slide.number}-->\n\n{slide.notes}\n")
    return "".join(pieces)


def deck_page(html: str, deck: Deck, blocks: Mapping[int, Markup]) -> str:
    """Replace the markers in MkDocs' HTML of deck_markdown with slides and rendered blocks."""

    total = len(deck.slides)
    pieces = _MARKER.split(html)
    # split() with two groups yields: text, kind, number, text, kind, number, ...
    head, rest = pieces[0], pieces[1:]
    slides: list[dict[str, Any]] = []
    for kind, number, text in zip(rest[0::3], rest[1::3], rest[2::3], strict=True):
        if kind == "slide":
            slides.append({"number": int(number), "body": [text], "notes": None})
        elif kind == "notes":
            slides[-1]["notes"] = [text]
        else:
            target = slides[-1]["notes"] if slides[-1]["notes"] is not None else slides[-1]["body"]
            target.append(str(blocks.get(int(number), Markup(""))))
            target.append(text)
    rendered = [
        _render(
            "slide.html",
            number=slide["number"],
            line=deck.slides[slide["number"] - 1].line,
            total=total,
            body=_trusted("".join(slide["body"]).strip()),
            notes=None if slide["notes"] is None else _trusted("".join(slide["notes"]).strip()),
        )
        for slide in slides
    ]
    return head + "\n".join(rendered) + "\n"


def deck_index(decks: list[Mapping[str, Any]]) -> Markup:
    """The table of decks (title, subtitle, slides, url) for an index page."""
    return _render("deck_index.html", decks=decks)


def problem_box(title: str, message: str) -> Markup:
    """An error shown on the page itself (mkdocs serve, on_error: warn)."""
    return _render("problem.html", title=title, message=message)


# --- live blocks ---------------------------------------------------------------------------------


def render_block(block: Block, outcome: BlockOutcome | None) -> Markup:
    """A live block's HTML: source and/or outcomes as its `show` option says."""
    options = block.options
    problem = outcome.problem if outcome is not None else None
    if options.show == "none" and problem is None:
        return Markup("")
    statements = outcome.statements if outcome is not None else ()
    expected = options.expect != "ok" and problem is None
    return _render(
        "block.html",
        session=options.session,
        line=block.line,
        show=options.show,
        title=options.title,
        show_source=options.show in ("both", "source"),
        show_result=options.show in ("both", "result") or problem is not None,
        source_html=highlight_sql(block.sql),
        statements=[render_statement(s, options.format, expected) for s in statements],
        problem=problem,
        problem_label="Not as expected:" if options.expect != "ok" else "Unexpected error:",
    )


def highlight_sql(sql: str) -> Markup:
    """SQL with Pygments' classes, the ones Material's code blocks are styled by."""
    lexer, formatter = _highlighter()
    return _trusted(highlight(sql.rstrip("\n"), lexer, formatter).rstrip("\n"))


@cache
def _highlighter() -> tuple[PostgresLexer, HtmlFormatter]:
    # Made once: an HtmlFormatter builds its whole style table when it is created.
    return PostgresLexer(), HtmlFormatter(nowrap=True)


def render_statement(statement: StatementOutcome, fmt: str, expected: bool) -> Markup:
    columns = statement.columns
    rows = [[_displayable(value) for value in row] for row in statement.rows]
    text = ""
    if columns is not None and fmt != "table":
        text = format_rows(fmt, columns, rows)
    error = statement.error
    error_text = ""
    if error is not None:
        error_text = textformat.error_text(
            error.severity,
            error.message,
            error.detail,
            error.hint,
            error.context,
            statement.sql,
            error.position,
        )
    status = statement.status or ""
    return _render(
        "statement.html",
        notices=[
            {"severity": n.severity, "text": f"{n.severity}:  {n.message}"}
            for n in statement.notices
        ],
        ran=statement.ran,
        error=error,
        error_text=error_text.rstrip("\n"),
        expected=expected,
        columns=columns,
        rows=rows,
        format=fmt,
        text=text.rstrip("\n"),
        footer=textformat.row_count_footer(statement.row_count),
        more=statement.row_count - len(statement.rows),
        status=status,
        status_after_rows=status.split(" ")[0] in _TAG_AFTER_ROWS,
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
    """A JSON array of objects; numbers and json/jsonb stay exactly as the server wrote them.

    Going through Python floats would turn 1.50 into 1.5 and reorder nothing but lose scale,
    so such values go in as placeholders and their server text replaces them afterwards.
    PostgreSQL text cannot contain NUL, so a NUL-delimited placeholder cannot collide.
    """
    verbatim: dict[str, str] = {}

    def value_of(column: Column, value: str | None) -> Any:
        if value is None:
            return None
        if column.type_oid == BOOL_OID:
            return value == "t"
        if column.type_oid in JSON_OIDS or (column.numeric and _JSON_NUMBER.match(value)):
            placeholder = f"\x00{len(verbatim)}\x00"
            verbatim[json.dumps(placeholder)] = value
            return placeholder
        return value

    objects = [
        {col.name: value_of(col, value) for col, value in zip(columns, row, strict=True)}
        for row in rows
    ]
    text = json.dumps(objects, indent=2, ensure_ascii=False)
    for placeholder, value in verbatim.items():
        text = text.replace(placeholder, value, 1)
    return text


def _displayable(value: str | None) -> str | None:
    """A value as a slide can show it: control characters written as psql writes them, and
    a value longer than a slide can hold cut, with a note of how much is left out."""
    if value is None:
        return None
    value = _CONTROL.sub(_escape_control, value)
    if len(value) <= MAX_VALUE_CHARS:
        return value
    return f"{value[:MAX_VALUE_CHARS]}… ({len(value) - MAX_VALUE_CHARS} more characters)"


def _escape_control(match: re.Match[str]) -> str:
    # psql prints \r as \r and other C0/C1 controls as \xNN / \uNNNN (print.c, mbvalidate).
    char = match.group(0)
    if char == "\r":
        return "\\r"
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x80 else f"\\u{code:04x}"
