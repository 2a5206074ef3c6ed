"""Store and find a deck's outcomes by a hash of everything that could change them, with the
server that produced them."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from pgslides.ondisk import write_whole
from pgslides.outcome import BlockOutcome, DeckOutcome, StatementOutcome
from pgslides.parse.deck import Deck
from pgslides.shape import ShapeError, check_outcome, check_shape

# Bump when the layout of a cache file changes, so old files are misses, not errors.
# 4: the server that produced the outcome (`server`), and each input's own hash (`inputs`).
FORMAT = 6
# A traceback's frame line in a Python block's error: its deck line moves with the block.
_TRACEBACK_LINE = re.compile(r", line (\d+),")


@dataclass(frozen=True)
class CacheKeyParts:
    """Everything besides the deck's blocks and the server that decides its outcomes."""

    package_version: str
    isolation: str
    timezone: str
    max_rows: int
    statement_timeout_ms: int
    setup: tuple[tuple[str, str], ...]  # (path, contents) of each setup file, in order
    superuser: bool = False  # the deck runs as a superuser
    # What Python blocks run with (a new SQLAlchemy can send other SQL); empty: no Python.
    python_libraries: str = ""


@dataclass(frozen=True)
class ServerIdentity:
    """Which server produced an outcome: never a password, nothing that differs by machine
    for the embedded server (so a committed cache matches on another machine)."""

    kind: str  # "embedded" or "url"
    version: str  # the first word of SHOW server_version: "18.6", "15.20"
    host: str | None = None  # for a URL: where it points, as the URL says
    port: int | None = None
    database: str | None = None

    def describe(self) -> str:
        """`PostgreSQL 18.6, embedded` or `PostgreSQL 15.20 at 127.0.0.1:5432/postgres`."""
        if self.kind == "embedded":
            return f"PostgreSQL {self.version}, embedded"
        return f"PostgreSQL {self.version} at {self.place}"

    @property
    def place(self) -> str:
        if self.kind == "embedded":
            return "embedded"
        port = f":{self.port}" if self.port is not None else ""
        return f"{self.host or 'localhost'}{port}/{self.database or ''}"

    def change_from(self, old: ServerIdentity) -> str:
        """How this server differs from `old`, in a few words: `18.6 → 15.20`."""
        if self.version != old.version:
            return f"{old.version} → {self.version}"
        return f"{old.place} → {self.place}"

    def to_dict(self) -> dict[str, Any]:
        return {key: value for key, value in asdict(self).items() if value is not None}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ServerIdentity:
        port = data.get("port")
        return cls(
            kind=str(data["kind"]),
            version=str(data["version"]),
            host=data.get("host"),
            port=None if port is None else int(port),
            database=data.get("database"),
        )


def short_version(server_version: str) -> str:
    """`15.20` of `15.20 (Debian 15.20-0+deb12u1)`: what tells servers apart on a slide."""
    words = server_version.split()
    return words[0] if words else server_version


# What each input is called when it is why a deck runs again.
_INPUT_NAMES = {
    "blocks": "blocks changed",
    "setup": "setup files changed",
    "settings": "settings changed",
    "pgslides": "pgslides version changed",
    "python": "Python libraries changed",
}


def cache_inputs(deck: Deck, parts: CacheKeyParts) -> dict[str, str]:
    """A hash of each thing the outcome depends on; prose is left out.

    Blocks run in sequence on shared state, so any change to any block changes `blocks`.
    """
    settings = {
        "isolation": parts.isolation,
        "timezone": parts.timezone,
        "max_rows": parts.max_rows,
        "statement_timeout_ms": parts.statement_timeout_ms,
    }
    if parts.superuser:  # only then: the keys of every other deck stay as they were
        settings["superuser"] = True
    # Only options that change what runs: a new caption or format re-renders, runs nothing.
    blocks = [
        {"sql": block.sql, "options": block.options.run_options()}
        | ({} if block.language == "sql" else {"language": block.language})
        for block in deck.blocks
    ]
    inputs = {
        "blocks": _hash(blocks),
        "setup": _hash([list(item) for item in parts.setup]),
        "settings": _hash(settings),
        "pgslides": parts.package_version,
    }
    if parts.python_libraries:  # only for decks with Python blocks: other keys stay as they were
        inputs["python"] = parts.python_libraries
    return inputs


def cache_key(deck: Deck, parts: CacheKeyParts) -> str:
    """One hash of the deck's blocks and options in order, and of `parts`."""
    return key_of_inputs(cache_inputs(deck, parts))


def key_of_inputs(inputs: dict[str, str]) -> str:
    return _hash({"format": FORMAT, "inputs": inputs})


def changed_inputs(stored: dict[str, Any], current: dict[str, str]) -> str:
    """Why a stored outcome no longer fits, in a few words: `blocks changed`."""
    changed = [name for name in current if stored.get(name) != current[name]]
    return ", ".join(_INPUT_NAMES[name] for name in changed) or "inputs changed"


def _hash(material: object) -> str:
    canonical = json.dumps(material, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class CacheEntry:
    """What a cache file holds for a deck: its outcome, the inputs and server it came from."""

    key: str
    inputs: dict[str, Any]
    server: ServerIdentity | None  # None: nothing ran on a server (a deck without blocks)
    outcome: DeckOutcome


@dataclass(frozen=True)
class _StoredFile:
    """The layout store() writes, which a file must have to be used (shape.py checks it)."""

    format: int
    deck: str
    key: str
    inputs: dict[str, str]
    server: ServerIdentity | None
    outcome: DeckOutcome


class UnreadableCacheError(Exception):
    """A cache file that could not be used: the build runs the deck instead."""


class ResultCache:
    """One deterministic JSON file per deck under `directory`, written atomically."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def file_for(self, deck: Deck | str) -> Path:
        """The deck's file, or the file of the deck so named (Deck.name: its docs path)."""
        name = deck if isinstance(deck, str) else deck.name
        flat = name.replace("\\", "/").strip("/").replace("/", "__")
        return self.directory / f"{flat}.json"

    def entry(self, deck: Deck) -> CacheEntry | None:
        """What the deck's file holds, lines moved to where its blocks are now; None when there
        is no file, it is of another format, or its blocks are not the deck's.

        UnreadableCacheError if the file cannot be read.
        """
        path = self.file_for(deck)
        if not path.exists():
            return None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(data, dict):
                raise ShapeError("the file: expected a mapping")
            if data.get("format") != FORMAT:
                return None
            # Every type, before any of it is used: a wrong one must not become a traceback
            # in the renderer, far from the file.
            check_shape(_StoredFile, data)
            server = data.get("server")
            entry = CacheEntry(
                key=str(data["key"]),
                inputs=dict(data["inputs"]),
                server=None if server is None else ServerIdentity.from_dict(server),
                outcome=DeckOutcome.from_dict(data["outcome"]),
            )
            check_outcome(entry.outcome, len(deck.blocks))
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
            raise UnreadableCacheError(
                f"{path}: unreadable cache file, running the deck ({error})"
            ) from None
        if len(entry.outcome.blocks) != len(deck.blocks):
            return replace(entry, key="")  # blocks were added or removed: never a match
        return replace(entry, outcome=rebase_lines(entry.outcome, deck))

    def load(self, deck: Deck, key: str) -> DeckOutcome | None:
        """The stored outcome if its key matches, whichever server made it, else None;
        UnreadableCacheError if unreadable."""
        entry = self.entry(deck)
        return entry.outcome if entry is not None and entry.key == key else None

    def store(
        self,
        deck: Deck,
        inputs: dict[str, str],
        outcome: DeckOutcome,
        server: ServerIdentity | None = None,
    ) -> None:
        """Write the outcome for `inputs`: same input, same bytes, so the file can be committed."""
        document = {
            "format": FORMAT,
            "deck": deck.name,
            "key": key_of_inputs(inputs),
            "inputs": inputs,
            "server": None if server is None else server.to_dict(),
            "outcome": outcome.to_dict(),
        }
        text = json.dumps(document, sort_keys=True, ensure_ascii=False, indent=1) + "\n"
        write_whole(self.file_for(deck), text)


def rebase_lines(outcome: DeckOutcome, deck: Deck) -> DeckOutcome:
    """Move the lines in a stored outcome to where its blocks are now (prose may have moved)."""
    shifts = [
        block.line - stored.line for stored, block in zip(outcome.blocks, deck.blocks, strict=True)
    ]
    blocks = tuple(_shift_block(stored, shifts) for stored in outcome.blocks)
    return replace(outcome, blocks=blocks)


def _shift_block(stored: BlockOutcome, shifts: list[int]) -> BlockOutcome:
    """The block moved by its own shift; late results placed in it, by their own block's."""
    late = tuple(
        replace(
            item,
            line=item.line + shifts[item.block_index],
            statements=_shift(item.statements, shifts[item.block_index]),
        )
        for item in stored.late
    )
    shift = shifts[stored.index]
    python = stored.python
    if python is not None and python.error is not None and shift:
        moved = python.error.traceback
        for number in sorted(set(map(int, _TRACEBACK_LINE.findall(moved))), reverse=shift > 0):
            moved = moved.replace(f", line {number},", f", line {number + shift},")
        error = replace(python.error, line=python.error.line + shift, traceback=moved)
        python = replace(python, error=error)
    return replace(
        stored,
        line=stored.line + shift,
        statements=_shift(stored.statements, shift),
        late=late,
        python=python,
    )


def _shift(statements: tuple[StatementOutcome, ...], shift: int) -> tuple[StatementOutcome, ...]:
    return tuple(replace(s, line=s.line + shift) for s in statements) if shift else statements
