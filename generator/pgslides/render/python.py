"""A live Python block → HTML: source, printed text, value, the SQL it sent, its exception."""

from __future__ import annotations

from functools import cache
from typing import Any

from markupsafe import Markup
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers.python import PythonLexer

from pgslides.outcome import BlockOutcome, PythonTable, StatementOutcome
from pgslides.parse.deck import Block
from pgslides.render.statement import displayable, render_statement
from pgslides.render.steps import highlight_block_source
from pgslides.render.templating import (
    block_frame,
    highlight_sql,
    plain_whitespace,
    render_template,
    trusted,
)


def render_python_block(block: Block, outcome: BlockOutcome | None) -> Markup:
    """A Python block's HTML, as its `show` and `sql` options say."""
    options = block.options
    problem = outcome.problem if outcome is not None else None
    if options.show == "none" and problem is None:
        return Markup("")
    python = outcome.python if outcome is not None else None
    tables = [_table(table) for table in python.shown] if python else []
    if python is not None and python.value_table is not None:
        tables.append(_table(python.value_table))
    statements = None
    if python is not None and (python.sql or python.stopped is None):
        statements = [
            {
                "html": highlight_sql(text),
                "parameters": None if parameters is None else displayable(parameters),
            }
            for text, parameters in python.sql
        ]
    html = render_template(
        "python_block.html",
        **block_frame(block, problem),
        source_html=highlight_python(block.sql),
        output=[{"stream": stream, "text": displayable(text)} for stream, text in python.output]
        if python
        else [],
        tables=tables,
        value=displayable(python.value) if python and python.value is not None else None,
        sql_list=options.sql_list,
        statements=statements,
        error=_error(python.error) if python and python.error else None,
    )
    if options.hl:
        return trusted(highlight_block_source(str(html), options.hl))
    return html


def _error(error: Any) -> dict[str, Any]:
    return {
        "exception": error.exception,
        "expected": error.expected,
        "sqlstate": error.sqlstate,
        "traceback": displayable(error.traceback.rstrip("\n")),
        "detail": error.detail,
        "hint": error.hint,
    }


def _table(table: PythonTable) -> Markup:
    statement = StatementOutcome(
        sql="",
        line=0,
        columns=table.columns,
        rows=table.rows,
        row_count=table.row_count,
        status=f"SELECT {table.row_count}",
    )
    return render_statement(statement, "table")


def highlight_python(source: str) -> Markup:
    """Python with Pygments' classes, whitespace left plain (see templating.plain_whitespace)."""
    return trusted(highlight(source.rstrip("\n"), *_highlighter()).rstrip("\n"))


@cache
def _highlighter() -> tuple[PythonLexer, HtmlFormatter]:
    return plain_whitespace(PythonLexer()), HtmlFormatter(nowrap=True)
