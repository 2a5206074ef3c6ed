"""A deck's YAML front matter → its metadata and validated `sql:` settings."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import yaml

from pgslides.errors import DeckError
from pgslides.settings import DECK_OPTION_NAMES, DECK_OPTIONS, validate

_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?\n)?(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.DOTALL)
# A blank line, then a Markdown heading: YAML reads `# Title` as a comment...
_HEADING_AFTER_BLANK = re.compile(r"\n[ \t]*\n(?:[^\n]*\n)*?#{1,6}[ \t]+\S[^\n]*")
# ...and a comment is what it is when YAML keys follow it; else it is a slide.
_YAML_KEY = re.compile(r"^[A-Za-z_][\w-]*[ \t]*:", re.MULTILINE)


@dataclass(frozen=True)
class DeckSettings:
    """The deck's `sql:` front matter."""

    setup: tuple[str, ...] = ()
    timezone: str | None = None
    isolation: str | None = None
    max_rows: int | None = None
    statement_timeout_ms: int | None = None
    prompt: bool = False
    timezone_line: int = 1  # where `timezone` is set, for the server's word on a bad zone
    superuser: bool = False  # the deck's point needs a superuser (ALTER SYSTEM, pg_read_file)
    superuser_line: int = 1


@dataclass(frozen=True)
class FrontMatter:
    meta: dict[str, Any]
    lines: int  # how many lines of the file it takes (0: none)
    body: str  # the rest of the text


def split_front_matter(text: str, path: str) -> FrontMatter:
    """The front matter and the rest; DeckError for YAML that does not parse, or a front
    matter whose closing `---` is missing (it would swallow the first slide)."""
    match = _FRONT_MATTER.match(text)
    if not match:
        if text.startswith("---\n") and _looks_like_settings(text):
            raise _never_closed(path)
        return FrontMatter({}, 0, text)
    raw = match.group(1) or ""
    if not _looks_like_settings(text):
        # `---`, a blank line, a slide: a separator at the file start, as MkDocs reads it too.
        return FrontMatter({}, 0, text)
    if _slide_in_yaml(raw):
        raise _never_closed(path)
    try:
        meta = yaml.safe_load(raw) or {}
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = 2 + mark.line if mark is not None else 1
        problem = getattr(error, "problem", None) or "invalid YAML"
        raise DeckError(path, line, f"front matter is not valid YAML: {problem}") from None
    if not isinstance(meta, dict):
        raise DeckError(path, 1, "front matter must be a mapping of keys to values")
    consumed = match.group(0)
    lines = consumed.count("\n") + (0 if consumed.endswith("\n") else 1)
    return FrontMatter(meta, lines, text[len(consumed) :])


def _slide_in_yaml(raw: str) -> bool:
    """Whether the front matter ran into a slide: a heading after a blank line with no more
    settings below it (the --- that closed it was the next slide separator)."""
    heading = _HEADING_AFTER_BLANK.search("\n" + raw)
    return heading is not None and not _YAML_KEY.search("\n" + raw, heading.end())


def _looks_like_settings(text: str) -> bool:
    second = text.split("\n", 2)[1] if text.count("\n") >= 1 else ""
    return re.match(r"^[A-Za-z_][\w-]*:(\s|$)", second) is not None


def _never_closed(path: str) -> DeckError:
    return DeckError(path, 1, "front matter is never closed: add a line --- after its last setting")


def front_matter_line(text: str, key: str) -> int:
    """Best-effort line of a front matter key, for messages."""
    for number, line in enumerate(text.splitlines(), start=1):
        if re.match(rf"^\s*{re.escape(key)}\s*:", line):
            return number
    return 1


def deck_settings(meta: dict[str, Any], text: str, path: str) -> DeckSettings:
    """The validated `sql:` settings; a setting placed at the top level is an error too."""
    for key in meta:
        if key in DECK_OPTION_NAMES:
            raise DeckError(
                path,
                front_matter_line(text, str(key)),
                f"{key!r} is an sql setting and does nothing at the top level: "
                f"indent it under sql:",
            )
    raw = meta.get("sql")
    if raw is None:
        return DeckSettings()
    if not isinstance(raw, dict):
        raise DeckError(path, front_matter_line(text, "sql"), "'sql' must be a mapping")
    values, errors = validate(DECK_OPTIONS, raw, what="sql setting")
    if errors:
        key, message = errors[0]
        raise DeckError(path, front_matter_line(text, key), message)
    timezone = values["timezone"]
    return DeckSettings(
        setup=tuple(values["setup"]),
        timezone=None if timezone is None else str(timezone),
        isolation=values["isolation"],
        max_rows=values["max_rows"],
        statement_timeout_ms=values["statement_timeout"],
        prompt=values["prompt"],
        timezone_line=front_matter_line(text, "timezone"),
        superuser=values["superuser"],
        superuser_line=front_matter_line(text, "superuser"),
    )
