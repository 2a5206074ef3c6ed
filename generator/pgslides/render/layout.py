"""A slide body's HTML laid out: its steps numbered and its layout's columns made."""

from __future__ import annotations

import re

from pgslides.errors import Problem
from pgslides.parse.deck import Slide
from pgslides.render.steps import highlight_plain_fences, number_steps, steps_lists

_HEADING_END = re.compile(r"</h[1-6]>\n?")
_COLUMN = re.compile(r"\n?<!--[ \t]*column[ \t]*-->\n?")
# The top-level element holding a slide's first image (Markdown puts it in a paragraph).
_IMAGE_PARAGRAPH = re.compile(r"<p>(?:(?!</p>).)*?<img\b.*?</p>\n?", re.DOTALL)


def unfold(body: str, slide: Slide, path: str) -> tuple[str, int, list[Problem]]:
    """The slide body with its steps marked and numbered, the number of steps, and a problem
    for a plain fence's hl= that did not reach the HTML."""
    problems = []
    body, found = highlight_plain_fences(body)
    if found != slide.hl_fences:
        problems.append(
            Problem(
                "a code fence's hl= did not reach the page: it needs the attr_list Markdown "
                "extension (add attr_list under markdown_extensions in mkdocs.yml)",
                path,
                slide.line,
            )
        )
    body = steps_lists(body)
    body = columns(body, slide.layout)
    body, count = number_steps(body)
    return body, count, problems


def columns(body: str, layout: str | None) -> str:
    """two-columns: the body after the first heading split at `<!-- column -->`; image-text:
    the first image on the left, the rest on the right."""
    if layout not in ("two-columns", "image-text"):
        return body
    heading = _HEADING_END.search(body)
    head, rest = (body[: heading.end()], body[heading.end() :]) if heading else ("", body)
    if layout == "two-columns":
        left, right = _split(rest)
    else:
        image = _IMAGE_PARAGRAPH.search(rest)
        if image is None:
            return body
        left, right = image[0].strip(), (rest[: image.start()] + rest[image.end() :]).strip()
    return (
        f'{head}<div class="slide-columns"><div class="slide-column">\n{left.strip()}\n</div>'
        f'<div class="slide-column">\n{right.strip()}\n</div></div>'
    )


def _split(rest: str) -> tuple[str, str]:
    parts = _COLUMN.split(rest, maxsplit=1)
    return parts[0], parts[1] if len(parts) > 1 else ""
