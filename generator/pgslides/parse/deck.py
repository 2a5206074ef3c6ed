"""Markdown text → Deck: its front matter, then its slides (parse/slides.py)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any

from pgslides.errors import DeckError, Problem
from pgslides.parse.blocks import Block, BlockOptions
from pgslides.parse.frontmatter import (
    DeckSettings,
    deck_presenting,
    deck_settings,
    split_front_matter,
)
from pgslides.parse.slides import PLACEHOLDER, Slide, Splitter
from pgslides.settings import (
    BLOCK_OPTION_NAMES,
    DECK_OPTION_NAMES,
    FORMAT_CHOICES,
    SHOW_CHOICES,
    parse_duration,
)

_HEADING = re.compile(r"^#{1,6}[ \t]+(.+?)[ \t#]*$", re.MULTILINE)

# Kept importable from here: the names tests and adapters have always used.
BLOCK_OPTIONS = BLOCK_OPTION_NAMES
DECK_SQL_KEYS = DECK_OPTION_NAMES
__all__ = [
    "BLOCK_OPTIONS",
    "DECK_SQL_KEYS",
    "FORMAT_CHOICES",
    "PLACEHOLDER",
    "SHOW_CHOICES",
    "Block",
    "BlockOptions",
    "Deck",
    "DeckError",
    "DeckSettings",
    "Slide",
    "parse_deck",
    "parse_duration",
    "read_deck",
]


@dataclass(frozen=True)
class Deck:
    path: str  # as messages show it, e.g. slides/talk.md (relative to where the tool runs)
    title: str
    subtitle: str | None
    settings: DeckSettings
    slides: tuple[Slide, ...]
    meta: dict[str, Any] = field(default_factory=dict, compare=False)
    source: str = ""  # its path in the docs directory (talk.md): the same wherever one runs
    warnings: tuple[Problem, ...] = ()  # found while parsing: a mistyped fence, say
    duration_s: int | None = None  # front matter `duration:`, for the presenter's countdown
    theme: str | None = None  # front matter `theme:` (dark, light, auto)

    @property
    def name(self) -> str:
        """A stable name for the deck's cache file: its docs path, else its shown path."""
        return self.source or self.path

    @cached_property
    def blocks(self) -> tuple[Block, ...]:
        """Every live block in file order, those in speaker notes included."""
        return tuple(block for slide in self.slides for block in slide.all_blocks)

    @property
    def has_python(self) -> bool:
        return any(block.language == "python" for block in self.blocks)


def read_deck(path: Path, display_path: str | None = None, source: str = "") -> Deck:
    """Read and parse a deck file; display_path is how messages name it, source its path in
    the docs directory."""
    shown = display_path or str(path)
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise DeckError(shown, 1, f"cannot read the file: {error.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise DeckError(shown, line, f"not UTF-8 text (byte {raw[error.start]:#04x})") from None
    return replace(parse_deck(text.removeprefix("\ufeff"), shown), source=source)


def parse_deck(text: str, path: str) -> Deck:
    """Parse a deck's text; raises DeckError naming path and line for anything invalid."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    front = split_front_matter(text, path)
    settings = deck_settings(front.meta, text, path, front.setup_lines)
    duration_s, theme = deck_presenting(front.meta, text, path)
    splitter = Splitter(path)
    slides = splitter.split(front.body, front.lines + 1)
    title = str(front.meta.get("title") or _first_heading(slides) or Path(path).stem)
    subtitle = front.meta.get("subtitle")
    return Deck(
        path=path,
        title=title,
        subtitle=None if subtitle is None else str(subtitle),
        settings=settings,
        slides=tuple(slides),
        meta=front.meta,
        warnings=tuple(splitter.warnings),
        duration_s=duration_s,
        theme=theme,
    )


def _first_heading(slides: list[Slide]) -> str | None:
    for slide in slides:
        for part in slide.parts:
            if isinstance(part, str):
                match = _HEADING.search(part)
                if match:
                    return match.group(1)
    return None
