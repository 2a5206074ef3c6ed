"""Outcomes → HTML: live blocks, psql's text layouts, slides and the deck page."""

from pgslides.render.blocks import columns_html, render_block, render_deck_blocks
from pgslides.render.page import deck_index, deck_markdown, deck_page, problem_box
from pgslides.render.statement import format_rows, render_statement, rows_as_json
from pgslides.render.templating import highlight_sql

__all__ = [
    "columns_html",
    "deck_index",
    "deck_markdown",
    "deck_page",
    "format_rows",
    "highlight_sql",
    "problem_box",
    "render_block",
    "render_deck_blocks",
    "render_statement",
    "rows_as_json",
]
