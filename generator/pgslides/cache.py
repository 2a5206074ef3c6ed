"""Store and find a deck's outcomes by a hash of everything that could change them."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from pgslides.outcome import BlockOutcome, DeckOutcome, StatementOutcome
from pgslides.parse.deck import Deck

# Bump when the layout of a cache file changes, so old files are misses, not errors.
FORMAT = 3


@dataclass(frozen=True)
class CacheKeyParts:
    """Everything besides the deck's blocks that decides its outcomes."""

    package_version: str
    isolation: str
    timezone: str
    max_rows: int
    statement_timeout_ms: int
    setup: tuple[tuple[str, str], ...]  # (path, contents) of each setup file, in order
    database: str | None  # the database's identity, only where the deck reads existing data


def cache_key(deck: Deck, parts: CacheKeyParts) -> str:
    """A hash of the deck's blocks and options in order, and of `parts`; prose is left out.

    Blocks run in sequence on shared state, so any change to any block changes the key.
    """
    material = {
        "format": FORMAT,
        "parts": asdict(parts),
        "blocks": [{"sql": block.sql, "options": asdict(block.options)} for block in deck.blocks],
    }
    canonical = json.dumps(material, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class UnreadableCacheError(Exception):
    """A cache file that could not be used: the build runs the deck instead."""


class ResultCache:
    """One deterministic JSON file per deck under `directory`, written atomically."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def file_for(self, deck: Deck) -> Path:
        name = deck.name.replace("\\", "/").strip("/").replace("/", "__")
        return self.directory / f"{name}.json"

    def load(self, deck: Deck, key: str) -> DeckOutcome | None:
        """The stored outcome if its key matches, else None; UnreadableCacheError if unreadable."""
        path = self.file_for(deck)
        if not path.exists():
            return None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("format") != FORMAT or data.get("key") != key:
                return None
            outcome = DeckOutcome.from_dict(data["outcome"])
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
            raise UnreadableCacheError(
                f"{path}: unreadable cache file, running the deck ({error})"
            ) from None
        if len(outcome.blocks) != len(deck.blocks):
            return None
        return rebase_lines(outcome, deck)

    def store(self, deck: Deck, key: str, outcome: DeckOutcome) -> None:
        """Write the outcome for `key`: same input, same bytes, so the file can be committed."""
        document = {
            "format": FORMAT,
            "deck": deck.name,
            "key": key,
            "server_version": outcome.server_version,
            "outcome": outcome.to_dict(),
        }
        text = json.dumps(document, sort_keys=True, ensure_ascii=False, indent=1) + "\n"
        self.directory.mkdir(parents=True, exist_ok=True)
        target = self.file_for(deck)
        # A temp file in the same directory, then a rename: a reader never sees half a file.
        fd, temp_name = tempfile.mkstemp(prefix=f".{target.name}.", dir=self.directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
            Path(temp_name).replace(target)
        except BaseException:
            with contextlib.suppress(OSError):
                Path(temp_name).unlink()
            raise


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
    return replace(
        stored, line=stored.line + shift, statements=_shift(stored.statements, shift), late=late
    )


def _shift(statements: tuple[StatementOutcome, ...], shift: int) -> tuple[StatementOutcome, ...]:
    return tuple(replace(s, line=s.line + shift) for s in statements) if shift else statements
