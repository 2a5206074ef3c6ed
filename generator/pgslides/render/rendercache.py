"""What pgslides rendered of a deck, kept between builds: a build that finds the deck's outcome
in the cache renders nothing it rendered before.

A deck's blocks are rendered from the deck, its outcome and its Try it buttons alone
(render_deck_blocks), and its page cut into slides from the deck and the HTML Markdown made
of it alone (deck_page), by pgslides' code and templates and the libraries that write the HTML
(Pygments, Jinja, MarkupSafe). Each key is a digest of all of these: the inputs as their
dataclasses spell themselves out (repr), pgslides' source files by content, and the libraries'
and Python's versions. Same key, same HTML; anything else is a miss and the deck is rendered
again. A file that cannot be read or written is a miss: the cache makes builds faster, never
different.

The files live in the user's cache directory (`~/.cache/pgslides/rendered` on Linux), two per
deck file, named by a digest of its path: not in the project, whose `.pgslides-cache` is meant
to be committed and holds one outcome per deck. The most recently written KEPT_FILES are kept.
PGSLIDES_RENDER_CACHE=0 turns it off.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import sys
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any, TypeVar

from markupsafe import Markup

from pgslides.errors import Problem
from pgslides.ondisk import user_cache_directory, write_whole
from pgslides.outcome import DeckOutcome
from pgslides.parse.deck import Deck
from pgslides.render.templating import trusted
from pgslides.tryit import TryButtons

ENV_SWITCH = "PGSLIDES_RENDER_CACHE"
KEPT_FILES = 512  # two per deck: the decks of a few projects; beyond, the oldest go
# What writes the HTML besides pgslides' own code: another version may write other bytes.
LIBRARIES = ("pygments", "jinja2", "markupsafe")
RenderBlocks = Callable[[Deck, DeckOutcome, TryButtons | None], dict[int, Markup]]
CutPage = Callable[[str, Deck], tuple[str, list[Problem]]]
T = TypeVar("T")


class RenderCache:
    """Rendered blocks and pages by deck, in `directory` (None: nothing kept)."""

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory

    def blocks(
        self,
        deck_file: Path,
        deck: Deck,
        outcome: DeckOutcome,
        tries: TryButtons | None,
        render: RenderBlocks,
    ) -> dict[int, Markup]:
        """The deck's blocks as `render` makes them, from the file when its key matches."""
        if self.directory is None:
            return render(deck, outcome, tries)
        key = _digest(repr((deck, outcome, tries)))
        path = self.directory / f"{_file_name(deck_file)}.blocks.json"
        kept = _read(path, key, _blocks_of)
        if kept is not None:
            return kept
        blocks = render(deck, outcome, tries)
        self._write(path, key, {str(index): str(html) for index, html in blocks.items()})
        return blocks

    def page(
        self, deck_file: Path, html: str, deck: Deck, cut: CutPage
    ) -> tuple[str, list[Problem]]:
        """The deck's page as `cut` makes it of Markdown's HTML, from the file when its key
        matches; with the problems found on the way."""
        if self.directory is None:
            return cut(html, deck)
        key = _digest(repr(deck), html)
        path = self.directory / f"{_file_name(deck_file)}.page.json"
        kept = _read(path, key, _page_of)
        if kept is not None:
            return kept
        page, problems = cut(html, deck)
        found = [[p.message, p.path, p.line, p.severity] for p in problems]
        self._write(path, key, {"page": page, "problems": found})
        return page, problems

    def _write(self, path: Path, key: str, value: object) -> None:
        with contextlib.suppress(OSError):
            write_whole(path, json.dumps({"key": key, "value": value}, ensure_ascii=False))
            self._prune()

    def _prune(self) -> None:
        """Keep the KEPT_FILES most recently written files (a file gone is a miss)."""
        assert self.directory is not None
        files = list(self.directory.glob("*.json"))
        if len(files) <= KEPT_FILES:
            return
        by_age = sorted(files, key=lambda path: path.stat().st_mtime_ns)
        for path in by_age[: len(files) - KEPT_FILES * 3 // 4]:
            path.unlink(missing_ok=True)


def default_directory() -> Path | None:
    """The user's cache directory for rendered HTML, or None when turned off."""
    return user_cache_directory("rendered", ENV_SWITCH)


def _digest(*inputs: str) -> str:
    """The key of what is rendered from `inputs` by this code and these libraries."""
    digest = hashlib.sha256(code_fingerprint().encode())
    for text in inputs:
        digest.update(b"\0" + text.encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


@functools.cache
def code_fingerprint() -> str:
    """fingerprint_of pgslides as installed: it cannot change within a process."""
    return fingerprint_of(Path(__file__).resolve().parent.parent)


def fingerprint_of(package: Path) -> str:
    """A package's source files and templates (by content), the HTML-writing libraries'
    versions, Python's."""
    digest = hashlib.sha256(sys.version.encode())
    for library in LIBRARIES:
        digest.update(f"{library} {metadata.version(library)}\n".encode())
    sources = [*package.rglob("*.py"), *(package / "render" / "templates").rglob("*")]
    for path in sorted(p for p in sources if p.is_file()):
        digest.update(path.relative_to(package).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def _file_name(deck_file: Path) -> str:
    """A name for the deck file's kept HTML: a digest of where it is, which no two share."""
    where = str(deck_file.resolve())
    return hashlib.sha256(where.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _read(path: Path, key: str, convert: Callable[[Any], T]) -> T | None:
    """What `path` keeps under `key`, converted, or None (no file, another key, unreadable)."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        return convert(document["value"]) if document.get("key") == key else None
    except (OSError, ValueError, TypeError, AttributeError, KeyError):
        return None


def _blocks_of(value: Any) -> dict[int, Markup]:
    # What render_deck_blocks made, from autoescaped templates and Pygments.
    return {int(index): trusted(str(html)) for index, html in value.items()}


def _page_of(value: Any) -> tuple[str, list[Problem]]:
    return str(value["page"]), [Problem(*fields) for fields in value["problems"]]
