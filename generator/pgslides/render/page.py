"""A deck's page: its Markdown for the Markdown parser, live blocks handed to the parser's
fences, and the parser's HTML cut into slides.

Live blocks reach the page through the Markdown parser itself: each is a placeholder fence
(```pgslides block="N"), a SuperFences custom fence whose formatter returns the block's
HTML, so a block renders wherever Markdown puts its fence (an admonition, a list item, tabs,
speaker notes). Only slide and notes boundaries are marked, with HTML comments at the top
level of the page, which the parser passes through; deck_page checks that every one of them
came back and that no marker text is left anywhere.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from html.parser import HTMLParser
from typing import Any

from markupsafe import Markup, escape

from pgslides.errors import Problem
from pgslides.parse.deck import PLACEHOLDER, Block, Deck
from pgslides.render.blocks import columns_html
from pgslides.render.layout import unfold
from pgslides.render.steps import timeline_steps
from pgslides.render.templating import render_template, trusted

_MARKER = re.compile(r"<!--pgslides:(?P<kind>slide|notes) (?P<number>\d+)-->\n?")
# What Markdown leaves where a placeholder fence rendered nothing (a show=none block, a block
# laid out in its columns grid): the parser never makes an empty paragraph of its own.
# A line that starts raw HTML (an HTML comment cannot hold a slide separator open).
_RAW_HTML = re.compile(r"^[ \t]{0,3}<(?!!--)[A-Za-z/]", re.MULTILINE)
_EMPTY_PARAGRAPH = re.compile(r"^<p></p>\n?", re.MULTILINE)
# Any trace of a marker or a placeholder fence, escaped or not: none may reach a page.
MARKER_TEXT = re.compile(r"pgslides:(?:slide|notes|block|columns)\b|pgslides block=")
# A placeholder fence that Markdown took for text (in an indented code block, say).
_LEAKED_PLACEHOLDER = re.compile(r"pgslides block=(?:\"|&quot;|&#34;)(?P<index>\d+)")


def deck_markdown(deck: Deck) -> str:
    """The deck as Markdown for the parser: slide and notes markers at the top level."""
    pieces = []
    for slide in deck.slides:
        pieces.append(f"\n<!--pgslides:slide {slide.number}-->\n\n")
        pieces.append(_with_newline(slide.markdown))
        if slide.notes_markdown is not None:
            pieces.append(f"\n<!--pgslides:notes {slide.number}-->\n\n")
            pieces.append(_with_newline(slide.notes_markdown))
    return "".join(pieces)


def _with_newline(text: str) -> str:
    return text if text.endswith("\n") else text + "\n"


class PageBlocks:
    """One page's rendered live blocks, handed out as the Markdown parser meets their fences.

    Counts what it handed out, so a block that Markdown never rendered or rendered twice
    (an author's own placeholder fence naming it) is reported, never lost in silence."""

    def __init__(self, deck: Deck, rendered: Mapping[int, Markup]) -> None:
        self.deck = deck
        self.rendered = rendered
        self.used: Counter[int] = Counter()
        # On a columns slide, a run of blocks is laid out as one grid by its first block.
        self.grids: dict[int, tuple[Block, ...]] = {}
        self.in_grid: set[int] = set()
        self.timelines: set[int] = set()  # grids of `<!-- columns steps -->`: a block a step
        for slide in deck.slides:
            for group in slide.column_groups:
                self.grids[group[0].index] = group
                self.in_grid.update(block.index for block in group)
                if slide.timeline_steps:
                    self.timelines.add(group[0].index)

    def html(self, index: int) -> str:
        self.used[index] += 1
        if index in self.grids:
            grid = str(columns_html(list(self.grids[index]), self.rendered))
            return timeline_steps(grid) if index in self.timelines else grid
        if index in self.in_grid:
            return ""
        return str(self.rendered.get(index, Markup("")))

    def problems(self) -> list[Problem]:
        found = []
        for block in self.deck.blocks:
            count = self.used[block.index]
            if count == 1:
                continue
            where = "never rendered" if count == 0 else f"rendered {count} times"
            found.append(
                Problem(
                    f"live block {where} by Markdown: each block must appear once on its "
                    "page (is another fence naming it, or is it inside an HTML comment?)",
                    self.deck.path,
                    block.line,
                )
            )
        return found


def fence_validator(
    language: str, inputs: dict[str, str], options: dict[str, Any], attrs: Any, md: Any
) -> bool:
    """SuperFences validator: only the placeholder fences pgslides wrote are ours."""
    block = inputs.get("block", "")
    if set(inputs) != {"block"} or not block.isdigit():
        return False
    options["block"] = int(block)
    return True


def placeholder_fence_config(formatter: Any) -> dict[str, Any]:
    """The SuperFences custom fence that renders live blocks' placeholders with formatter."""
    return {
        "name": PLACEHOLDER,
        "class": PLACEHOLDER,
        "validator": fence_validator,
        "format": formatter,
    }


def placeholder_fence(page: PageBlocks | None, source: str, options: Mapping[str, Any]) -> str:
    """The HTML for a placeholder fence: its block, or the fence's text off a deck page."""
    if page is None:
        return f'<pre class="{PLACEHOLDER}"><code>{escape(source)}</code></pre>'
    return page.html(int(options["block"]))


def deck_page(html: str, deck: Deck) -> tuple[str, list[Problem]]:
    """The parser's HTML of deck_markdown cut into slide sections; problems for markers that
    did not come back where they were put."""
    pieces = _MARKER.split(_EMPTY_PARAGRAPH.sub("", html))
    head, rest = pieces[0], pieces[1:]
    bodies: dict[int, str] = {}
    notes: dict[int, str] = {}
    order = []
    for kind, number, text in zip(rest[0::3], rest[1::3], rest[2::3], strict=True):
        (bodies if kind == "slide" else notes)[int(number)] = text
        order.append((kind, int(number)))
    unmarked = head + "".join(rest[2::3])
    # The first that applies: a later check would only repeat what an earlier one found.
    problems = (
        _leak_problems(deck, unmarked)
        or _marker_problems(deck, order, unmarked)
        or _balance_problems(deck, bodies, notes)
    )
    total = len(deck.slides)
    rendered = []
    for slide in deck.slides:
        body, steps, found = unfold(bodies.get(slide.number, "").strip(), slide, deck.path)
        problems = problems + found
        rendered.append(
            render_template(
                "slide.html",
                number=slide.number,
                line=slide.line,
                total=total,
                steps=steps,
                layout=slide.layout,
                body=trusted(body),
                notes=None if slide.number not in notes else trusted(notes[slide.number].strip()),
            )
        )
    page = head + _deck_meta(deck) + _superuser_note(deck) + "\n".join(rendered) + "\n"
    return page, problems


def _deck_meta(deck: Deck) -> str:
    """Deck-level presenting settings (duration, theme), once, before the first slide."""
    if deck.duration_s is None and deck.theme is None:
        return ""
    return str(render_template("deck_meta.html", duration=deck.duration_s, theme=deck.theme)) + "\n"


def _superuser_note(deck: Deck) -> str:
    """The handout says, above the first slide, that the deck ran with every right."""
    if not deck.settings.superuser:
        return ""
    return str(render_template("superuser.html", line=deck.settings.superuser_line)) + "\n"


def _leak_problems(deck: Deck, html: str) -> list[Problem]:
    blocks = deck.blocks
    return [
        Problem(
            "live block shows as text, not as its outcome: Markdown took its fence for "
            "something else (indented as code? inside inline code?)",
            deck.path,
            blocks[int(match["index"])].line if int(match["index"]) < len(blocks) else None,
        )
        for match in _LEAKED_PLACEHOLDER.finditer(html)
    ]


def _marker_problems(deck: Deck, order: list[tuple[str, int]], text: str) -> list[Problem]:
    expected = []
    for slide in deck.slides:
        expected.append(("slide", slide.number))
        if slide.notes_markdown is not None:
            expected.append(("notes", slide.number))
    if order == expected and not MARKER_TEXT.search(text):
        return []
    found = set(order)
    missing = next((item for item in expected if item not in found), None)
    slide = deck.slides[(missing[1] if missing else 1) - 1]
    return [
        Problem(
            f"slide {slide.number} could not be cut out of the page: a container (raw HTML, "
            "a list or an admonition) runs across the --- or ??? line above it",
            deck.path,
            slide.line,
        )
    ]


def _balance_problems(
    deck: Deck, bodies: Mapping[int, str], notes: Mapping[int, str]
) -> list[Problem]:
    """A slide whose HTML opens what it does not close (or the reverse): a raw HTML block
    that runs across a --- or ??? line, which the slide cut would tear apart. Only a slide
    (or its notes) with raw HTML of its own can be torn: only those are parsed."""
    return [
        Problem(
            f"slide {slide.number} is cut through an HTML element: a raw HTML block (a <div>, "
            "say) runs across the --- or ??? line; close it on the slide that opens it",
            deck.path,
            slide.line,
        )
        for slide in deck.slides
        if _torn(slide.markdown, bodies.get(slide.number, ""))
        or _torn(slide.notes_markdown or "", notes.get(slide.number, ""))
    ]


def _torn(markdown: str, html: str) -> bool:
    return bool(_RAW_HTML.search(markdown)) and not _balanced(html)


class _TagBalance(HTMLParser):
    VOID = frozenset(
        "area base br col embed hr img input link meta source track wbr".split()  # noqa: SIM905
    )

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.open: list[str] = []
        self.broken = False

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag not in self.VOID:
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in self.VOID:
            return
        if not self.open or self.open[-1] != tag:
            self.broken = True
            return
        self.open.pop()


def _balanced(html: str) -> bool:
    checker = _TagBalance()
    checker.feed(html)
    checker.close()
    return not checker.broken and not checker.open


def deck_index(decks: list[Mapping[str, Any]]) -> Markup:
    """The table of decks (title, subtitle, slides, url) for an index page."""
    return render_template("deck_index.html", decks=decks)


def problem_box(title: str, message: str) -> Markup:
    """An error shown on the page itself (mkdocs serve, on_error: warn)."""
    return render_template("problem.html", title=title, message=message)
