"""Every setting in one declarative schema: plugin options, deck front matter, block options.

Each option names its kind; each kind has one validator, so `max_rows` means the same thing
in mkdocs.yml, under a deck's `sql:` and as a block's `rows=`. A block option also says
whether it changes what runs (`run`: part of the cache key) or only how the outcome looks
(`view`: changing it re-renders without running anything).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

ISOLATIONS = ("database", "schema", "none")
SHOW_CHOICES = ("both", "result", "source", "none")
FORMAT_CHOICES = ("table", "text", "expanded", "json", "plan")
CHART_CHOICES = ("bar", "line", "scatter", "area")
ON_ERROR_CHOICES = ("fail", "warn")

_DURATION = re.compile(r"^(?P<amount>\d+(?:\.\d+)?)(?P<unit>ms|s|min)$")
_UNIT_MS = {"ms": 1, "s": 1000, "min": 60_000}
_SESSION_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
_SQLSTATE = re.compile(r"^[0-9A-Z]{5}$")
_BOOLEAN_WORDS = {"true": True, "yes": True, "on": True, "false": False, "no": False, "off": False}


class SettingError(ValueError):
    """A value an option cannot take; the message says what it expects."""


@dataclass(frozen=True)
class Kind:
    """What values an option takes: one validator, one phrase for messages."""

    expected: str  # completes "bad value 'x' for option y; …"
    convert: Callable[[Any], Any]  # raises SettingError (or ValueError/TypeError) when invalid

    def __call__(self, value: Any) -> Any:
        try:
            return self.convert(value)
        except (SettingError, ValueError, TypeError):
            raise SettingError(self.expected) from None


def parse_duration(value: str) -> int | None:
    """'500ms', '5s', '1min' → milliseconds; None when it is not such a duration."""
    match = _DURATION.match(value.strip())
    if not match:
        return None
    return round(float(match["amount"]) * _UNIT_MS[match["unit"]])


def _duration(value: Any) -> int:
    # A bare YAML number (statement_timeout: 10) has no unit: refused rather than guessed.
    if not isinstance(value, str):
        raise SettingError
    milliseconds = parse_duration(value)
    if not milliseconds:
        raise SettingError
    return milliseconds


def _whole_number(value: Any) -> int:
    # YAML reads `yes` as True, and bool is an int in Python: refuse it explicitly.
    if isinstance(value, bool):
        raise SettingError
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    if isinstance(value, int) and value >= 0:
        return value
    raise SettingError


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in _BOOLEAN_WORDS:
        return _BOOLEAN_WORDS[value.lower()]
    raise SettingError


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise SettingError
    return value


def _paths(value: Any) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
        raise SettingError
    return tuple(items)


def _session(value: Any) -> str:
    if not isinstance(value, str) or not _SESSION_NAME.match(value):
        raise SettingError
    return value


def _expect(value: Any) -> str:
    if not isinstance(value, str) or not (value in ("ok", "error") or _SQLSTATE.match(value)):
        raise SettingError
    return value


_EXCEPTION_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


def _python_expect(value: Any) -> str:
    if not isinstance(value, str) or not (_SQLSTATE.match(value) or _EXCEPTION_NAME.match(value)):
        raise SettingError
    return value


def _columns(value: Any) -> tuple[str, ...]:
    names = tuple(value.split(",")) if isinstance(value, str) else ("",)
    if not all(names):
        raise SettingError
    return names


def choice(*choices: str) -> Kind:
    def convert(value: Any) -> str:
        if value not in choices:
            raise SettingError
        return str(value)

    return Kind(f"valid choices: {', '.join(choices)}", convert)


DURATION = Kind("expected a duration like 500ms, 5s or 1min", _duration)
WHOLE_NUMBER = Kind("expected a whole number ≥ 0", _whole_number)
BOOLEAN = Kind("valid choices: true, false", _boolean)
TEXT = Kind("expected text", _text)
PATHS = Kind("expected a list of SQL file paths relative to the deck", _paths)
SESSION = Kind("a session name is a letter or _ followed by letters, digits or _", _session)
EXPECT = Kind("valid choices: ok, error, or a 5-character SQLSTATE such as 23503", _expect)
PYTHON_EXPECT = Kind(
    "valid choices: ok, error, an exception class name such as IntegrityError or "
    "sqlalchemy.exc.IntegrityError, or a 5-character SQLSTATE such as 23503",
    _python_expect,
)
COLUMNS = Kind("expected column names of the result, separated by commas: y=a,b", _columns)
SQL_LIST_CHOICES = ("show", "count", "hide")
STEPS_CHOICES = ("statements",)
THEME_CHOICES = ("dark", "light", "auto")
_LINE_LIST = r"\d+(?:-\d+)?(?:,\d+(?:-\d+)?)*"
_HL = re.compile(rf"^{_LINE_LIST}(?:\|{_LINE_LIST})*$")


def _hl(value: Any) -> str:
    # Line steps: groups of line numbers and ranges, `|` between steps: 1-2|3|4,6
    if not isinstance(value, str) or not _HL.match(value):
        raise SettingError
    for group in value.split("|"):
        for item in group.split(","):
            first, _, last = item.partition("-")
            if int(first) < 1 or (last and int(last) < int(first)):
                raise SettingError
    return value


HL = Kind(
    "expected line steps like 1-2|3|4,6 (lines from 1, ranges low-high, | between steps)", _hl
)


@dataclass(frozen=True)
class Option:
    name: str
    kind: Kind
    default: Any  # already converted: durations in milliseconds
    doc: str
    affects: Literal["run", "view"] = "run"


PLUGIN_OPTIONS = (
    Option("enabled", BOOLEAN, True, "Run live blocks and lay decks out as slides."),
    Option("database_url", TEXT, "", "PostgreSQL URL to run decks on; empty: embedded."),
    Option("isolation", choice(*ISOLATIONS), "database", "A database, a schema, or none."),
    Option("statement_timeout", DURATION, 10_000, "Longest any statement may run (ms)."),
    Option("max_rows", WHOLE_NUMBER, 20, "Rows shown per result; a footer counts the rest."),
    Option("on_error", choice(*ON_ERROR_CHOICES), "fail", "fail: stop the build; warn: show."),
    Option("jobs", WHOLE_NUMBER, 0, "Decks run at once; 0: one per CPU."),
    Option("cache_dir", TEXT, ".pgslides-cache", "Where outcomes are kept; empty: no cache."),
    Option("refresh", BOOLEAN, False, "Run every deck even when its stored outcome is current."),
    Option("playground", BOOLEAN, True, "Try it buttons: readers run the SQL in their browser."),
)

DECK_OPTIONS = (
    Option("setup", PATHS, (), "SQL files run hidden, in order, before the first block."),
    Option("timezone", TEXT, None, "The sessions' TimeZone; default UTC."),
    Option("isolation", choice(*ISOLATIONS), None, "Overrides the plugin's isolation."),
    Option("max_rows", WHOLE_NUMBER, None, "Overrides the plugin's max_rows."),
    Option("statement_timeout", DURATION, None, "Overrides the plugin's statement_timeout."),
    Option("prompt", BOOLEAN, False, "Show psql prompts before statements."),
    Option("superuser", BOOLEAN, False, "Run as a superuser: the deck's point needs one."),
)

BLOCK_OPTIONS = (
    Option("session", SESSION, "main", "The connection the block runs on."),
    Option("show", choice(*SHOW_CHOICES), "both", "What the slide shows.", "view"),
    Option("expect", EXPECT, "ok", "How the block must end."),
    Option("rows", WHOLE_NUMBER, None, "Rows shown; None: max_rows."),
    Option("format", choice(*FORMAT_CHOICES), "table", "How rows are laid out.", "view"),
    Option("timeout", DURATION, None, "Per-statement limit; None: statement_timeout."),
    Option("title", TEXT, None, "A caption over the source.", "view"),
    Option("grace", DURATION, 200, "How long a statement runs before a lock wait shows."),
    Option("prompt", BOOLEAN, None, "psql prompts; None: the deck's prompt.", "view"),
    Option("steps", choice(*STEPS_CHOICES), None, "statements: one step each.", "view"),
    Option("hl", HL, None, "Line-highlight steps, like 1-2|3|4.", "view"),
    Option("chart", choice(*CHART_CHOICES), None, "Draw the rows as a chart.", "view"),
    Option("x", TEXT, None, "The chart's x column.", "view"),
    Option("y", COLUMNS, None, "The chart's y columns, comma-separated.", "view"),
)

# A ```erd exec``` block: its lines name tables; it is drawn, so only a caption to choose.
ERD_BLOCK_OPTIONS = (Option("title", TEXT, None, "A caption over the diagram.", "view"),)

# A ```python exec``` block's options (SPEC "Python blocks"); timeout: statement_timeout × 3.
PYTHON_BLOCK_OPTIONS = (
    Option("show", choice(*SHOW_CHOICES), "both", "What the slide shows.", "view"),
    Option("expect", PYTHON_EXPECT, "ok", "How the block must end."),
    Option("timeout", DURATION, None, "Wall-clock limit; None: statement_timeout × 3."),
    Option("sql", choice(*SQL_LIST_CHOICES), "show", "The SQL the block sent.", "view"),
    Option("title", TEXT, None, "A caption over the source.", "view"),
    Option("hl", HL, None, "Line-highlight steps, like 1-2|3|4.", "view"),
)

PLUGIN_DEFAULTS = {option.name: option.default for option in PLUGIN_OPTIONS}
BLOCK_OPTION_NAMES = tuple(option.name for option in BLOCK_OPTIONS)
DECK_OPTION_NAMES = tuple(option.name for option in DECK_OPTIONS)
PLUGIN_OPTION_NAMES = tuple(option.name for option in PLUGIN_OPTIONS)
VIEW_OPTIONS = frozenset(
    option.name
    for option in BLOCK_OPTIONS + PYTHON_BLOCK_OPTIONS + ERD_BLOCK_OPTIONS
    if option.affects == "view"
)


def did_you_mean(word: str, choices: tuple[str, ...] | list[str]) -> str:
    """' did you mean 'show'?' when word is close to one of choices, else ''."""
    close = difflib.get_close_matches(word.lower(), choices, n=1, cutoff=0.6)
    return f" did you mean {close[0]!r}?" if close else ""


def unknown_option_message(name: str, known: tuple[str, ...], what: str = "option") -> str:
    return f"unknown {what} {name!r};{did_you_mean(name, known)} valid {what}s: {', '.join(known)}"


def validate(
    options: tuple[Option, ...], raw: Mapping[str, Any], what: str = "option"
) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """(every option's value, defaults filled in; [(name, message)] for each bad one).

    Converted values for the options given, defaults for the rest; unknown names and bad
    values come back as messages for the caller to tie to a file and line."""
    by_name = {option.name: option for option in options}
    names = tuple(by_name)
    values = {option.name: option.default for option in options}
    errors: list[tuple[str, str]] = []
    for name, value in raw.items():
        option = by_name.get(str(name))
        if option is None:
            errors.append((str(name), unknown_option_message(str(name), names, what)))
            continue
        try:
            values[option.name] = option.kind(value)
        except SettingError as error:
            errors.append((option.name, f"bad value {value!r} for {what} {name}; {error}"))
    return values, errors


@dataclass(frozen=True)
class DeckPlan:
    """What one deck runs with: its front matter over the plugin's options."""

    isolation: str
    max_rows: int
    statement_timeout_ms: int
    timezone: str


def deck_plan(deck: Any, isolation: str, max_rows: int, statement_timeout_ms: int) -> DeckPlan:
    """Resolve a deck's `sql:` settings (a DeckSettings) against the plugin's options."""
    return DeckPlan(
        isolation=deck.isolation or isolation,
        max_rows=max_rows if deck.max_rows is None else deck.max_rows,
        statement_timeout_ms=(
            statement_timeout_ms if deck.statement_timeout_ms is None else deck.statement_timeout_ms
        ),
        timezone=deck.timezone or "UTC",
    )
