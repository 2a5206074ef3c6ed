"""Jinja2 templates (autoescape on) and Pygments highlighting: how every piece of HTML is made."""

from __future__ import annotations

from functools import cache
from typing import Any, TypeVar

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup
from pygments import highlight
from pygments.filter import simplefilter
from pygments.formatters import HtmlFormatter
from pygments.lexer import Lexer
from pygments.lexers.sql import PostgresLexer
from pygments.token import Token

AnyLexer = TypeVar("AnyLexer", bound=Lexer)


@cache
def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("pgslides.render", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=False,
        keep_trailing_newline=False,
        auto_reload=False,  # templates ship with the package: no stat per render
    )


def block_frame(block: Any, problem: str | None) -> dict[str, Any]:
    """What the template of every live block (SQL or Python) is given about the block itself:
    its hooks (session, line, show), its caption, which parts show, and its problem box."""
    options = block.options
    return {
        "session": options.session,
        "line": block.line,
        "show": options.show,
        "title": options.title,
        "show_source": options.show in ("both", "source"),
        "show_result": options.show in ("both", "result") or problem is not None,
        "problem": problem,
        "problem_label": "Not as expected:" if options.expect != "ok" else "Unexpected error:",
    }


def render_template(name: str, **context: Any) -> Markup:
    """A template's output; autoescape has already escaped every value put into it."""
    return trusted(_template(name).render(**context).strip())


@cache
def _template(name: str) -> Any:
    return _environment().get_template(name)


def trusted(html: str) -> Markup:
    # Only for HTML made by autoescaped templates, Pygments (which escapes) or MkDocs' Markdown.
    return Markup(html)  # noqa: S704


def highlight_sql(sql: str) -> Markup:
    """SQL with Pygments' classes, the ones Material's code blocks are styled by."""
    lexer, formatter = _highlighter()
    return trusted(highlight(sql.rstrip("\n"), lexer, formatter).rstrip("\n"))


@cache
def _highlighter() -> tuple[PostgresLexer, HtmlFormatter]:
    # Made once: an HtmlFormatter builds its whole style table when it is created.
    return plain_whitespace(PostgresLexer()), HtmlFormatter(nowrap=True)


@simplefilter
def _unstyled_whitespace(_self: Any, _lexer: Any, stream: Any, _options: Any) -> Any:
    for kind, value in stream:
        yield (Token.Text if kind in Token.Text.Whitespace else kind), value


def plain_whitespace(lexer: AnyLexer) -> AnyLexer:
    """`lexer` with whitespace as plain text: Pygments wraps each run of whitespace in a span
    (class "w") that no style colours, about a fifth of a block's elements, each parsed again
    by Material's search plugin on every build."""
    lexer.add_filter(_unstyled_whitespace())
    return lexer
