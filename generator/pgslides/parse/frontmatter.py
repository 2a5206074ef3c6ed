"""A deck's YAML front matter → its metadata and validated `sql:` settings."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import yaml

from pgslides.errors import DeckError
from pgslides.settings import (
    DECK_OPTION_NAMES,
    DECK_OPTIONS,
    DURATION,
    THEME_CHOICES,
    SettingError,
    choice,
    validate,
)

_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?\n)?(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.DOTALL)
# A blank line, then a Markdown heading: YAML reads `# Title` as a comment...
_HEADING_AFTER_BLANK = re.compile(r"\n[ \t]*\n(?:[^\n]*\n)*?#{1,6}[ \t]+\S[^\n]*")
# ...and a comment is what it is when YAML keys follow it; else it is a slide.
_YAML_KEY = re.compile(r"^[A-Za-z_][\w-]*[ \t]*:", re.MULTILINE)

# The front matter's YAML starts on the file's second line; YAML counts lines from 0.
_FIRST_YAML_LINE = 2


class _AliasError(yaml.YAMLError):
    def __init__(self, alias: str, mark: yaml.Mark) -> None:
        super().__init__(alias)
        self.alias, self.mark = alias, mark


class _FrontMatterLoader(yaml.SafeLoader):
    """yaml.safe_load's loader, refusing aliases: `*name` repeats what `&name` marks, and a
    few lines of aliases of aliases ("billion laughs") grow into gigabytes once a title or a
    page uses them. A deck's settings never need one."""

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise _AliasError(event.anchor, event.start_mark)
        return super().compose_node(parent, index)


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
    setup_lines: tuple[int, ...] = ()  # where each setup file is named, for its problems


@dataclass(frozen=True)
class FrontMatter:
    meta: dict[str, Any]
    lines: int  # how many lines of the file it takes (0: none)
    body: str  # the rest of the text
    setup_lines: tuple[int, ...] = ()  # the file line of each `sql: setup:` entry


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
        node, meta = _load(raw)
    except _AliasError as error:
        raise DeckError(
            path,
            _FIRST_YAML_LINE + error.mark.line,
            f"front matter uses the YAML alias *{error.alias}: aliases are refused (a few "
            "of them can grow into gigabytes); write the value out",
        ) from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = _FIRST_YAML_LINE + mark.line if mark is not None else 1
        problem = getattr(error, "problem", None) or "invalid YAML"
        raise DeckError(path, line, f"front matter is not valid YAML: {problem}") from None
    if not isinstance(meta, dict):
        raise DeckError(path, 1, "front matter must be a mapping of keys to values")
    consumed = match.group(0)
    lines = consumed.count("\n") + (0 if consumed.endswith("\n") else 1)
    return FrontMatter(meta, lines, text[len(consumed) :], _setup_lines(node))


def _load(raw: str) -> tuple[yaml.Node | None, Any]:
    """The YAML's node tree (it knows each value's line) and its value, aliases refused."""
    loader = _FrontMatterLoader(raw)
    try:
        node = loader.get_single_node()
        return node, (loader.construct_document(node) if node is not None else None) or {}
    finally:
        loader.dispose()


def _setup_lines(root: yaml.Node | None) -> tuple[int, ...]:
    """The file line of each entry of `sql: setup:`, a list's items or a single path."""
    setup = _value_node(_value_node(root, "sql"), "setup")
    if isinstance(setup, yaml.SequenceNode):
        return tuple(_FIRST_YAML_LINE + item.start_mark.line for item in setup.value)
    if isinstance(setup, yaml.ScalarNode):
        return (_FIRST_YAML_LINE + setup.start_mark.line,)
    return ()


def _value_node(mapping: yaml.Node | None, key: str) -> yaml.Node | None:
    if not isinstance(mapping, yaml.MappingNode):
        return None
    # The last of two equal keys, as the YAML loader keeps it.
    return next((value for name, value in reversed(mapping.value) if name.value == key), None)


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


def deck_settings(
    meta: dict[str, Any], text: str, path: str, setup_lines: tuple[int, ...] = ()
) -> DeckSettings:
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
        setup_lines=setup_lines,
    )


def deck_presenting(meta: dict[str, Any], text: str, path: str) -> tuple[int | None, str | None]:
    """The front matter's `duration:` (in seconds, for the presenter's countdown) and
    `theme:` (dark, light or auto), validated; DeckError names the line."""

    def read(key: str, kind: Callable[[Any], Any]) -> Any:
        value = meta.get(key)
        if value is None:
            return None
        try:
            return kind(value)
        except SettingError as error:
            raise DeckError(
                path, front_matter_line(text, key), f"bad value {value!r} for {key}; {error}"
            ) from None

    duration_ms = read("duration", DURATION)
    theme = read("theme", choice(*THEME_CHOICES))
    return (None if duration_ms is None else round(duration_ms / 1000)), theme
