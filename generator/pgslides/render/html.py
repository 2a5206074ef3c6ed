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

from pgslides.outcome import BlockOutcome, Column, DeckOutcome, LateOutcome, StatementOutcome
from pgslides.parse.deck import Block, Deck, Slide
from pgslides.render import textformat
from pgslides.run.statements import MetaCommandError, Statement, split_statements

# The Markdown that stands for a live block or a slide boundary until MkDocs has made HTML of
# the rest. HTML comments survive Markdown untouched and cannot come from a result, since
# results are only ever inserted after this substitution.
_MARK = "pgslides"
_MARKER = re.compile(r"<!--pgslides:(?P<kind>slide|notes|block|columns) (?P<number>[\d,]+)-->\n?")

# Statements whose command tag psql prints under their rows (DML with RETURNING).
_TAG_AFTER_ROWS = ("INSERT", "UPDATE", "DELETE", "MERGE")

# How text and expanded formats show NULL: psql users' common `\pset null '∅'`, one
# character that no empty string or 'NULL' text can be mistaken for.
TEXT_NULL = "∅"

_STATE_LABELS = {"idle": "idle", "open": "in a transaction", "failed": "in a failed transaction"}

BOOL_OID = 16
JSON_OIDS = frozenset({114, 3802})
_JSON_NUMBER = re.compile(r"^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$")

# Control characters other than newline and tab: invalid in HTML, invisible on a slide.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


@cache
def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("pgslides.render", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=False,
        keep_trailing_newline=False,
        auto_reload=False,  # templates ship with the package: no stat per render
    )


def _render(name: str, **context: Any) -> Markup:
    """A template's output; autoescape has already escaped every value put into it."""
    return _trusted(_template(name).render(**context).strip())


@cache
def _template(name: str) -> Any:
    return _environment().get_template(name)


def _trusted(html: str) -> Markup:
    # Only for HTML made by autoescaped templates, Pygments (which escapes) or MkDocs' Markdown.
    return Markup(html)  # noqa: S704


# --- the Markdown of a deck page ---------------------------------------------------------------


def deck_markdown(deck: Deck) -> str:
    """The deck as Markdown for MkDocs, with markers where slides, notes and blocks go."""
    pieces = []
    for slide in deck.slides:
        pieces.append(f"\n<!--{_MARK}:slide {slide.number}-->\n\n")
        for part in _grouped_parts(slide):
            if isinstance(part, tuple):
                numbers = ",".join(str(block.index) for block in part)
                pieces.append(f"\n<!--{_MARK}:columns {numbers}-->\n\n")
            elif isinstance(part, Block):
                pieces.append(f"\n<!--{_MARK}:block {part.index}-->\n\n")
            else:
                pieces.append(part if part.endswith("\n") else part + "\n")
        if slide.notes is not None:
            pieces.append(f"\n<!--{_MARK}:notes {slide.number}-->\n\n{slide.notes}\n")
    return "".join(pieces)


def _grouped_parts(slide: Slide) -> list[str | Block | tuple[Block, ...]]:
    """The slide's parts; on a columns slide, runs of blocks with only blank lines between
    them become one tuple, laid out side by side."""
    if not slide.columns:
        return list(slide.parts)
    grouped: list[str | Block | tuple[Block, ...]] = []
    run: list[Block] = []
    for part in slide.parts:
        if isinstance(part, Block):
            run.append(part)
            continue
        if not part.strip() and run:
            continue
        if run:
            grouped.append(tuple(run))
            run = []
        grouped.append(part)
    if run:
        grouped.append(tuple(run))
    return grouped


def columns_html(blocks: list[Block], rendered: Mapping[int, Markup]) -> Markup:
    """Blocks side by side: a column per session in order of appearance, a row per block."""
    # A hidden block shows nothing; it takes no row (and its session no column) either.
    blocks = [block for block in blocks if rendered.get(block.index)]
    sessions = list(dict.fromkeys(block.options.session for block in blocks))
    cells = [
        {
            "column": sessions.index(block.options.session) + 1,
            "row": row,
            "html": rendered.get(block.index, Markup("")),
        }
        for row, block in enumerate(blocks, start=2)
    ]
    return _render("columns.html", sessions=sessions, cells=cells)


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
            if kind == "columns":
                group = [deck.blocks[int(index)] for index in number.split(",")]
                target.append(str(columns_html(group, blocks)))
            else:
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


def render_deck_blocks(deck: Deck, outcome: DeckOutcome) -> dict[int, Markup]:
    """Every live block of a deck, by index, with late results placed where they finished."""
    late_of = {late.block_index: late for block in outcome.blocks for late in block.late}
    return {
        block.index: render_block(
            block,
            outcome.blocks[block.index],
            prompt_default=deck.settings.prompt,
            blocks=deck.blocks,
            late_of=late_of,
        )
        for block in deck.blocks
    }


def render_block(
    block: Block,
    outcome: BlockOutcome | None,
    *,
    prompt_default: bool = False,
    blocks: tuple[Block, ...] = (),
    late_of: Mapping[int, LateOutcome] | None = None,
) -> Markup:
    """A live block's HTML: source and/or outcomes as its `show` option says."""
    options = block.options
    problem = outcome.problem if outcome is not None else None
    if options.show == "none" and problem is None and not (outcome and outcome.late):
        return Markup("")
    statements = outcome.statements if outcome is not None else ()
    prompt = options.prompt if options.prompt is not None else prompt_default
    prompt = prompt and options.show in ("both", "source")
    waiting_for = outcome.waiting_for if outcome is not None else None
    entries = _entries(block, statements, prompt, late_of or {})
    lates = [_late_view(late, blocks) for late in (outcome.late if outcome else ())]
    return _render(
        "block.html",
        session=options.session,
        line=block.line,
        show=options.show,
        title=options.title,
        show_source=options.show in ("both", "source"),
        show_result=options.show in ("both", "result") or problem is not None,
        prompt=prompt,
        source_html=highlight_sql(block.sql) if not prompt else "",
        entries=entries,
        waiting_for=", ".join(waiting_for) if waiting_for else None,
        lates=lates,
        problem=problem,
        problem_label="Not as expected:" if options.expect != "ok" else "Unexpected error:",
    )


def _entries(
    block: Block,
    statements: tuple[StatementOutcome, ...],
    prompt: bool,
    late_of: Mapping[int, LateOutcome],
) -> list[dict[str, Any]]:
    """One entry per statement: its prompt line (with prompt=true) and its output."""
    entries = [
        {
            **(
                _prompt_view(block.options.session, statement.sql, statement.transaction)
                if prompt
                else {}
            ),
            "output": render_statement(statement, block.options.format, block.options.expect),
        }
        for statement in statements
    ]
    if prompt:
        # Statements still to come (the block waits): their source, with the prompt they had.
        texts = [s.text for s in _split(block.sql)]
        late = late_of.get(block.index)
        pending = list(late.statements) if late is not None else []
        for index, text in enumerate(texts[len(statements) :]):
            state = pending[index].transaction if index < len(pending) else "open"
            entries.append({**_prompt_view(block.options.session, text, state), "output": ""})
    return entries


def _prompt_view(session: str, sql: str, transaction: str) -> dict[str, Any]:
    marker = {"idle": "", "open": "*", "failed": "!"}.get(transaction, "")
    typed = sql.rstrip()  # as sent: with its semicolon, unless the block's last had none
    return {
        "prompt": f"{session}={marker}>",
        "state_label": _STATE_LABELS.get(transaction, "idle"),
        "source_html": highlight_sql(typed if typed.endswith(";") else typed + ";"),
    }


def _late_view(late: LateOutcome, blocks: tuple[Block, ...]) -> dict[str, Any]:
    origin = blocks[late.block_index] if late.block_index < len(blocks) else None
    fmt = origin.options.format if origin is not None else "table"
    expect = origin.options.expect if origin is not None else "ok"
    first = late.statements[0] if late.statements else None
    summary = ""
    if first is not None:
        summary = first.error.summary().splitlines()[0] if first.error else first.status or ""
    # The label already says a bare command tag: show the first statement only if it has more.
    shown = list(late.statements)
    if first is not None and first.error is None and first.columns is None and not first.notices:
        shown = shown[1:]
    return {
        "session": late.session,
        "line": late.line,
        "summary": summary,
        "outputs": [render_statement(s, fmt, expect) for s in shown],
    }


def _split(sql: str) -> list[Statement]:
    try:
        return split_statements(sql)
    except MetaCommandError:
        return []


def highlight_sql(sql: str) -> Markup:
    """SQL with Pygments' classes, the ones Material's code blocks are styled by."""
    lexer, formatter = _highlighter()
    return _trusted(highlight(sql.rstrip("\n"), lexer, formatter).rstrip("\n"))


@cache
def _highlighter() -> tuple[PostgresLexer, HtmlFormatter]:
    # Made once: an HtmlFormatter builds its whole style table when it is created.
    return PostgresLexer(), HtmlFormatter(nowrap=True)


def render_statement(statement: StatementOutcome, fmt: str, expect: str = "ok") -> Markup:
    """One statement's outcome; an error is marked expected when the block's `expect` names it."""
    columns = statement.columns
    rows = [[_displayable(value) for value in row] for row in statement.rows]
    text = ""
    if columns is not None and fmt != "table":
        # psql's layouts escape control characters themselves, measuring them as they go.
        text = format_rows(fmt, columns, [list(row) for row in statement.rows])
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
            internal_query=error.internal_query,
            internal_position=error.internal_position,
        )
    expected = error is not None and expect in ("error", error.sqlstate)
    status = statement.status or ""
    return _render(
        "statement.html",
        notices=[
            {"severity": n.severity, "text": _displayable(f"{n.severity}:  {n.message}")}
            for n in statement.notices
        ],
        ran=statement.ran,
        error=error,
        error_text=_displayable(error_text.rstrip("\n")),
        expected=expected,
        columns=columns,
        headers=[_displayable(column.name) for column in columns or ()],
        rows=rows,
        format=fmt,
        text=text.rstrip("\n"),
        footer=textformat.row_count_footer(statement.row_count),
        more=statement.row_count - len(statement.rows),
        status=status,
        status_after_rows=status.split(" ")[0] in _TAG_AFTER_ROWS,
        copy_output=_displayable(statement.copy_output),
        copy_more=statement.copy_more_lines,
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
    """A value as a slide can show it: control characters written as psql writes them (the
    executor has already cut values too long for a slide)."""
    if value is None:
        return None
    return _CONTROL.sub(lambda match: textformat.control_escape(match[0]), value)
