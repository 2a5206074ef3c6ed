"""A deck page through the real Markdown parser (SuperFences and the containers MkDocs sites
use), without MkDocs: deck → Markdown → HTML → slides, as the build does it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import markdown
from markupsafe import Markup

from pgslides import render
from pgslides.errors import Problem
from pgslides.parse.deck import Deck
from pgslides.render.page import PageBlocks, placeholder_fence, placeholder_fence_config

EXTENSIONS = [
    "admonition",
    "attr_list",
    "md_in_html",
    "tables",
    "pymdownx.details",
    "pymdownx.superfences",
    "pymdownx.tabbed",
]


def convert(deck: Deck, rendered: Mapping[int, Markup]) -> tuple[str, list[Problem]]:
    """The deck's page HTML and the problems the page found (blocks not rendered once,
    markers that did not come back)."""
    page = PageBlocks(deck, rendered)

    def formatter(src: str, language: str, class_name: str, options: Any, md: Any, **kw: Any):
        return placeholder_fence(page, src, options)

    fence = placeholder_fence_config(formatter)
    parser = markdown.Markdown(
        extensions=EXTENSIONS,
        extension_configs={"pymdownx.superfences": {"custom_fences": [fence]}},
    )
    html = parser.convert(render.deck_markdown(deck))
    text, problems = render.deck_page(html, deck)
    return text, page.problems() + problems
