"""Markdown text → Deck: front matter, slides, speaker notes, live SQL blocks and their lines."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

SHOW_CHOICES = ("both", "result", "source", "none")
FORMAT_CHOICES = ("table", "text", "expanded", "json")
ISOLATION_CHOICES = ("database", "schema", "none")
BLOCK_OPTIONS = (
    "session",
    "show",
    "expect",
    "rows",
    "format",
    "timeout",
    "title",
    "grace",
    "prompt",
)
DECK_SQL_KEYS = ("setup", "timezone", "isolation", "max_rows", "statement_timeout", "prompt")
BOOLEAN_WORDS = {"true": True, "yes": True, "on": True, "false": False, "no": False, "off": False}
DEFAULT_GRACE_MS = 200

_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?\n)?(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.DOTALL)
_FENCE_OPEN = re.compile(r"^[ \t]*(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
_SEPARATOR = re.compile(r"^---[ \t]*$")
_LINE = re.compile(r"[^\n]*\n|[^\n]+$")
_NOTES = re.compile(r"^\?\?\?[ \t]*$")
_COLUMNS = re.compile(r"^[ \t]*<!--[ \t]*columns[ \t]*-->[ \t]*$", re.MULTILINE)
_SESSION_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
_SQLSTATE = re.compile(r"^[0-9A-Z]{5}$")
_DURATION = re.compile(r"^(?P<amount>\d+(?:\.\d+)?)(?P<unit>ms|s|min)$")
_UNIT_MS = {"ms": 1, "s": 1000, "min": 60_000}


class DeckError(Exception):
    """Bad input in a deck: carries the file and 1-based line it is about."""

    def __init__(self, path: str, line: int, message: str) -> None:
        super().__init__(f"{path}:{line}: {message}")
        self.path = path
        self.line = line
        self.message = message


@dataclass(frozen=True)
class BlockOptions:
    session: str = "main"
    show: str = "both"
    expect: str = "ok"  # ok, error, or a SQLSTATE
    rows: int | None = None  # None: the configured max_rows
    format: str = "table"
    timeout_ms: int | None = None  # None: the configured statement_timeout
    title: str | None = None
    grace_ms: int = DEFAULT_GRACE_MS  # how long a statement may run before a lock wait shows
    prompt: bool | None = None  # None: the deck's `prompt` setting


@dataclass(frozen=True)
class Block:
    """A live SQL block: its source, its options and where it sits in the deck file."""

    index: int  # 0-based position among the deck's blocks
    line: int  # 1-based line of the opening fence
    sql: str
    options: BlockOptions

    @property
    def sql_line(self) -> int:
        """The file line of the block's first line of SQL."""
        return self.line + 1


@dataclass(frozen=True)
class Slide:
    number: int  # 1-based
    line: int  # 1-based line of the slide's first line
    source: str  # the slide's exact text, notes included
    parts: tuple[str | Block, ...]  # Markdown text and live blocks, in order
    notes: str | None  # the Markdown after ???, if any

    @property
    def blocks(self) -> tuple[Block, ...]:
        return tuple(part for part in self.parts if isinstance(part, Block))

    @property
    def columns(self) -> bool:
        """Whether the slide asks for its blocks side by side, a column per session."""
        return any(
            isinstance(part, str) and _COLUMNS.search(part) is not None for part in self.parts
        )


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


@dataclass(frozen=True)
class Deck:
    path: str  # as messages show it, e.g. slides/talk.md (relative to where the tool runs)
    title: str
    subtitle: str | None
    settings: DeckSettings
    slides: tuple[Slide, ...]
    meta: dict[str, Any] = field(default_factory=dict, compare=False)
    source: str = ""  # its path in the docs directory (talk.md): the same wherever one runs

    @property
    def name(self) -> str:
        """A stable name for the deck's cache file: its docs path, else its shown path."""
        return self.source or self.path

    @property
    def blocks(self) -> tuple[Block, ...]:
        return tuple(block for slide in self.slides for block in slide.blocks)


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
    meta, meta_end_line, body = _split_front_matter(text, path)
    first_body_line = meta_end_line + 1
    settings = _deck_settings(meta, text, path)
    slides = _split_slides(body, first_body_line, path)
    title = str(meta.get("title") or _first_heading(slides) or Path(path).stem)
    subtitle = meta.get("subtitle")
    return Deck(
        path=path,
        title=title,
        subtitle=None if subtitle is None else str(subtitle),
        settings=settings,
        slides=tuple(slides),
        meta=meta,
    )


def split_source_lines(text: str) -> list[str]:
    """Lines of a deck body, each with its newline, so that joining them gives the text back.

    Only \n ends a line (\r was normalised before): str.splitlines would also break at form
    feeds and U+2028, where Markdown does not, and line numbers would drift."""
    return [line for line in _LINE.findall(text) if line]


# --- front matter ------------------------------------------------------------------------------


def _split_front_matter(text: str, path: str) -> tuple[dict[str, Any], int, str]:
    """(meta, number of lines the front matter takes, the rest of the text)."""
    match = _FRONT_MATTER.match(text)
    if not match:
        return {}, 0, text
    raw = match.group(1) or ""
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
    return meta, consumed.count("\n") + (0 if consumed.endswith("\n") else 1), text[len(consumed) :]


def _front_matter_line(text: str, key: str) -> int:
    """Best-effort line of a front matter key, for messages."""
    for number, line in enumerate(text.splitlines(), start=1):
        if re.match(rf"^\s*{re.escape(key)}\s*:", line):
            return number
    return 1


def _deck_settings(meta: dict[str, Any], text: str, path: str) -> DeckSettings:
    raw = meta.get("sql")
    if raw is None:
        return DeckSettings()
    if not isinstance(raw, dict):
        raise DeckError(path, _front_matter_line(text, "sql"), "'sql' must be a mapping")

    def fail(key: str, message: str) -> DeckError:
        return DeckError(path, _front_matter_line(text, key), message)

    for key in raw:
        if key not in DECK_SQL_KEYS:
            raise fail(
                str(key), f"unknown sql setting {key!r}; valid settings: {', '.join(DECK_SQL_KEYS)}"
            )
    setup = raw.get("setup", [])
    if isinstance(setup, str):
        setup = [setup]
    if not isinstance(setup, list) or not all(isinstance(item, str) for item in setup):
        raise fail("setup", "'setup' must be a list of SQL file paths relative to the deck")
    isolation = raw.get("isolation")
    if isolation is not None and isolation not in ISOLATION_CHOICES:
        raise fail(
            "isolation",
            f"bad value {isolation!r} for isolation; valid choices: {', '.join(ISOLATION_CHOICES)}",
        )
    max_rows = raw.get("max_rows")
    if max_rows is not None and (not isinstance(max_rows, int) or max_rows < 0):
        raise fail("max_rows", f"bad value {max_rows!r} for max_rows; expected a whole number ≥ 0")
    timeout = raw.get("statement_timeout")
    timeout_ms = None
    if timeout is not None:
        timeout_ms = parse_duration(str(timeout))
        if not timeout_ms:
            raise fail(
                "statement_timeout",
                f"bad value {timeout!r} for statement_timeout; "
                "expected a duration like 500ms, 5s or 1min",
            )
    prompt = raw.get("prompt", False)
    if not isinstance(prompt, bool):
        raise fail("prompt", f"bad value {prompt!r} for prompt; valid choices: true, false")
    timezone = raw.get("timezone")
    return DeckSettings(
        timezone_line=_front_matter_line(text, "timezone"),
        prompt=prompt,
        setup=tuple(setup),
        timezone=None if timezone is None else str(timezone),
        isolation=isolation,
        max_rows=max_rows,
        statement_timeout_ms=timeout_ms,
    )


def parse_duration(value: str) -> int | None:
    """'500ms', '5s', '1min' → milliseconds; None when it is not such a duration."""
    match = _DURATION.match(value.strip())
    if not match:
        return None
    return round(float(match["amount"]) * _UNIT_MS[match["unit"]])


# --- slides --------------------------------------------------------------------------------------


@dataclass
class _SlideBuilder:
    line: int
    source: list[str] = field(default_factory=list)
    parts: list[str | Block] = field(default_factory=list)
    text: list[str] = field(default_factory=list)
    notes: list[str] | None = None

    def add_text(self, line: str) -> None:
        (self.notes if self.notes is not None else self.text).append(line)

    def flush_text(self) -> None:
        if self.text:
            self.parts.append("".join(self.text))
            self.text = []


@dataclass
class _Fence:
    char: str
    length: int
    line: int
    live_info: str | None  # the info string of a live block; None for any other fence
    sql: list[str] = field(default_factory=list)


def _split_slides(body: str, first_line: int, path: str) -> list[Slide]:
    builders: list[_SlideBuilder] = []
    current = _SlideBuilder(line=first_line)
    blocks: list[Block] = []
    fence: _Fence | None = None
    previous_blank = True  # the file start counts as a blank line above
    for offset, line in enumerate(split_source_lines(body)):
        number = first_line + offset
        stripped = line.rstrip("\n")
        if fence is not None:
            current.source.append(line)
            if _closes_fence(stripped, fence.char, fence.length):
                if fence.live_info is not None:
                    block = _make_block(len(blocks), fence, path)
                    blocks.append(block)
                    current.flush_text()
                    current.parts.append(block)
                else:
                    current.add_text(line)
                fence = None
            elif fence.live_info is not None:
                fence.sql.append(line)
            else:
                current.add_text(line)
            previous_blank = False
            continue
        if _SEPARATOR.match(stripped) and previous_blank:
            builders.append(current)
            current = _SlideBuilder(line=number + 1)
            previous_blank = False  # a --- right under a separator is not one
            continue
        current.source.append(line)
        fence = _open_fence(stripped, number, in_notes=current.notes is not None)
        if fence is not None and fence.live_info is not None:
            pass  # the fence lines of a live block are not Markdown: the renderer replaces them
        elif _NOTES.match(stripped) and current.notes is None:
            current.flush_text()
            current.notes = []
        else:
            current.add_text(line)
        # Blank as Markdown sees it: spaces and tabs only (a no-break space is text).
        previous_blank = stripped.strip(" \t") == ""
    if fence is not None and fence.live_info is not None:
        closing = fence.char * fence.length
        raise DeckError(path, fence.line, f"live block is never closed: no {closing} below it")
    builders.append(current)
    # A separator at the very start or two in a row make an empty slide: nobody means that.
    kept = [builder for builder in builders if "".join(builder.source).strip()] or builders[:1]
    return [_finish_slide(builder, number) for number, builder in enumerate(kept, start=1)]


def _open_fence(line: str, number: int, in_notes: bool) -> _Fence | None:
    """A fence that opens on this line, if any; blocks in speaker notes are never live."""
    match = _FENCE_OPEN.match(line)
    # CommonMark: a backtick fence's info string may not contain a backtick (`` ```x` `` is code).
    if not match or (match["fence"][0] == "`" and "`" in match["info"]):
        return None
    live = _is_live(match["info"]) and not in_notes
    return _Fence(
        char=match["fence"][0],
        length=len(match["fence"]),
        line=number,
        live_info=match["info"].strip() if live else None,
    )


def _finish_slide(builder: _SlideBuilder, number: int) -> Slide:
    notes_text = None if builder.notes is None else "".join(builder.notes)
    builder.flush_text()
    # A slide "is at" its first line with something on it, not the blank line after a ---.
    leading_blank = next(
        (i for i, line in enumerate(builder.source) if line.strip()), len(builder.source)
    )
    return Slide(
        number=number,
        line=builder.line + leading_blank,
        source="".join(builder.source),
        parts=tuple(builder.parts),
        notes=notes_text,
    )


def _closes_fence(line: str, char: str, length: int) -> bool:
    stripped = line.strip()
    return len(stripped) >= length and set(stripped) == {char}


def _first_heading(slides: list[Slide]) -> str | None:
    for slide in slides:
        for part in slide.parts:
            if isinstance(part, str):
                match = re.search(r"^#{1,6}[ \t]+(.+?)[ \t#]*$", part, re.MULTILINE)
                if match:
                    return match.group(1)
    return None


# --- live blocks ---------------------------------------------------------------------------------


def _is_live(info: str) -> bool:
    words = info.split()
    return len(words) >= 2 and words[0] == "sql" and words[1] == "exec"


def _make_block(index: int, fence: _Fence, path: str) -> Block:
    assert fence.live_info is not None
    options = parse_block_options(fence.live_info, path, fence.line)
    return Block(index=index, line=fence.line, sql="".join(fence.sql), options=options)


def parse_block_options(info: str, path: str, line: int) -> BlockOptions:
    """The key=value options after `sql exec`, validated; DeckError names the valid choices."""
    try:
        words = shlex.split(info)
    except ValueError as error:
        raise DeckError(path, line, f"cannot read the block options: {error}") from None
    seen: dict[str, str] = {}
    for word in words[2:]:
        key, equals, value = word.partition("=")
        if not equals:
            raise DeckError(
                path, line, f"option {word!r} has no value; write key=value (e.g. show=result)"
            )
        if key not in BLOCK_OPTIONS:
            raise DeckError(
                path,
                line,
                f"unknown option {key!r}; valid options: {', '.join(BLOCK_OPTIONS)}",
            )
        if key in seen:
            raise DeckError(path, line, f"option {key!r} is given twice")
        seen[key] = value
    return _block_options(seen, path, line)


def _block_options(raw: dict[str, str], path: str, line: int) -> BlockOptions:
    def bad(key: str, expected: str) -> DeckError:
        return DeckError(path, line, f"bad value {raw[key]!r} for option {key}; {expected}")

    def choice(key: str, choices: tuple[str, ...], default: str) -> str:
        value = raw.get(key, default)
        if value not in choices:
            raise bad(key, f"valid choices: {', '.join(choices)}")
        return value

    session = raw.get("session", "main")
    if not _SESSION_NAME.match(session):
        raise bad("session", "a session name is a letter or _ followed by letters, digits or _")
    expect = raw.get("expect", "ok")
    if expect not in ("ok", "error") and not _SQLSTATE.match(expect):
        raise bad("expect", "valid choices: ok, error, or a 5-character SQLSTATE such as 23503")
    rows = None
    if "rows" in raw:
        if not (raw["rows"].isascii() and raw["rows"].isdigit()):
            raise bad("rows", "expected a whole number ≥ 0")
        rows = int(raw["rows"])
    timeout_ms = None
    if "timeout" in raw:
        timeout_ms = parse_duration(raw["timeout"])
        if not timeout_ms:
            raise bad("timeout", "expected a duration like 500ms, 5s or 1min")
    grace_ms = DEFAULT_GRACE_MS
    if "grace" in raw:
        grace_ms = parse_duration(raw["grace"]) or 0
        if not grace_ms:
            raise bad("grace", "expected a duration like 200ms or 1s")
    prompt = None
    if "prompt" in raw:
        if raw["prompt"].lower() not in BOOLEAN_WORDS:
            raise bad("prompt", "valid choices: true, false")
        prompt = BOOLEAN_WORDS[raw["prompt"].lower()]
    return BlockOptions(
        session=session,
        show=choice("show", SHOW_CHOICES, "both"),
        expect=expect,
        rows=rows,
        format=choice("format", FORMAT_CHOICES, "table"),
        timeout_ms=timeout_ms,
        title=raw.get("title"),
        grace_ms=grace_ms,
        prompt=prompt,
    )
