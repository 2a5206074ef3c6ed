"""A live block's info string (`sql exec key=value …`) → validated BlockOptions."""

from __future__ import annotations

import shlex
from dataclasses import asdict, dataclass
from typing import Any

from pgslides.errors import DeckError
from pgslides.settings import BLOCK_OPTIONS, PYTHON_BLOCK_OPTIONS, VIEW_OPTIONS, validate

# BlockOptions' field for each option, where the two names differ (durations in ms).
_FIELDS = {"timeout": "timeout_ms", "grace": "grace_ms", "sql": "sql_list"}
_PYTHON_NAMES = tuple(option.name for option in PYTHON_BLOCK_OPTIONS)
_SQL_NAMES = tuple(option.name for option in BLOCK_OPTIONS)


@dataclass(frozen=True)
class BlockOptions:
    session: str = "main"
    show: str = "both"
    expect: str = "ok"  # ok, error, or a SQLSTATE
    rows: int | None = None  # None: the configured max_rows
    format: str = "table"
    timeout_ms: int | None = None  # None: the configured statement_timeout
    title: str | None = None
    grace_ms: int = 200  # how long a statement may run before a lock wait shows
    prompt: bool | None = None  # None: the deck's `prompt` setting
    sql_list: str = "show"  # a Python block's `sql`: show, count or hide the SQL it sent
    steps: str | None = None  # "statements": each statement with its output is a step
    hl: str | None = None  # line-highlight steps, e.g. "1-2|3|4"

    def run_options(self) -> dict[str, Any]:
        """The options that change what runs: the ones a cached outcome depends on."""
        view = {_FIELDS.get(name, name) for name in VIEW_OPTIONS}
        return {key: value for key, value in asdict(self).items() if key not in view}


@dataclass(frozen=True)
class Block:
    """A live SQL block: its source, its options and where it sits in the deck file."""

    index: int  # 0-based position among the deck's blocks
    line: int  # 1-based line of the opening fence
    sql: str
    options: BlockOptions
    in_notes: bool = False  # in the speaker notes: runs in order, shown in the notes
    language: str = "sql"  # or "python": a ```python exec``` block

    @property
    def sql_line(self) -> int:
        """The file line of the block's first line of SQL."""
        return self.line + 1


def parse_block_options(info: str, path: str, line: int, language: str = "sql") -> BlockOptions:
    """The key=value options after `sql exec` (or `python exec`), validated; DeckError names
    the valid choices."""
    try:
        words = shlex.split(info)
    except ValueError as error:
        raise DeckError(path, line, f"cannot read the block options: {error}") from None
    raw: dict[str, str] = {}
    for word in words[2:]:
        key, equals, value = word.partition("=")
        if not equals:
            raise DeckError(
                path, line, f"option {word!r} has no value; write key=value (e.g. show=result)"
            )
        if key in raw:
            raise DeckError(path, line, f"option {key!r} is given twice")
        raw[key] = value
    python = language == "python"
    for key in raw:
        if python and key in _SQL_NAMES and key not in _PYTHON_NAMES:
            raise DeckError(path, line, _elsewhere(key, "SQL", "Python", _PYTHON_NAMES))
        if not python and key in _PYTHON_NAMES and key not in _SQL_NAMES:
            raise DeckError(path, line, _elsewhere(key, "Python", "SQL", _SQL_NAMES))
    values, errors = validate(PYTHON_BLOCK_OPTIONS if python else BLOCK_OPTIONS, raw)
    if errors:
        raise DeckError(path, line, errors[0][1])
    if values.get("steps") and values.get("hl"):
        raise DeckError(
            path,
            line,
            "hl= highlights the block's source as one piece, which steps=statements splits "
            "by statement: use one or the other",
        )
    return BlockOptions(**{_FIELDS.get(name, name): value for name, value in values.items()})


def _elsewhere(key: str, its: str, this: str, valid: tuple[str, ...]) -> str:
    return (
        f"option {key!r} is for {its} blocks, not {this} blocks; "
        f"a {this} block takes {', '.join(valid)}"
    )
