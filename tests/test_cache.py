"""The result cache: keys change exactly when outcomes could, files are stable and atomic."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pgslides.cache import (
    FORMAT,
    CacheKeyParts,
    ResultCache,
    ServerIdentity,
    UnreadableCacheError,
    cache_inputs,
    cache_key,
)
from pgslides.outcome import BlockOutcome, DeckOutcome, StatementOutcome
from pgslides.parse.deck import parse_deck

PARTS = CacheKeyParts(
    package_version="1.0",
    isolation="database",
    timezone="UTC",
    max_rows=20,
    statement_timeout_ms=10_000,
    setup=(("slides/sql/users.sql", "CREATE TABLE users (id int);\n"),),
)

DECK = """---
title: T
---

# One

Some prose.

```sql exec
SELECT 1;
```

???
Notes.

---

```sql exec show=result
SELECT 2;
```
"""


def key_of(text: str, parts: CacheKeyParts = PARTS) -> str:
    return cache_key(parse_deck(text, "slides/d.md"), parts)


prose = st.text(alphabet=st.characters(blacklist_characters="`~-?\r"), max_size=40)


@settings(max_examples=60, deadline=None)
@given(before=prose, between=prose, notes=prose)
def test_prose_and_notes_never_change_the_key(before: str, between: str, notes: str):
    edited = (
        DECK.replace("Some prose.", f"Some prose.\n\n{before}")
        .replace("Notes.", f"Notes. {notes}")
        .replace("---\n\n```sql exec show", f"---\n\n{between}\n\n```sql exec show")
    )
    assert key_of(edited) == key_of(DECK)


@pytest.mark.parametrize(
    "edit",
    [
        lambda t: t.replace("SELECT 1;", "SELECT 1 ;"),  # any change to a block's SQL
        lambda t: t.replace("SELECT 2;", "SELECT 3;"),  # a later block
        lambda t: t.replace("show=result", "show=result expect=error"),  # an option that runs
        lambda t: t.replace("show=result", "show=result timeout=2s"),
        lambda t: t.replace("```sql exec\nSELECT 1;", "```sql exec rows=3\nSELECT 1;"),
        lambda t: t.replace("```sql exec\nSELECT 1;", "```sql exec session=bob\nSELECT 1;"),
        lambda t: t + "\n---\n\n```sql exec\nSELECT 4;\n```\n",  # a new block
        lambda t: t.replace("```sql exec\nSELECT 1;\n```\n", ""),  # a removed block
    ],
)
def test_any_change_to_blocks_or_options_changes_the_key(edit):
    assert key_of(edit(DECK)) != key_of(DECK)


@pytest.mark.parametrize(
    "edit",
    [
        lambda t: t.replace("show=result", "show=both"),
        lambda t: t.replace("show=result", 'show=result title="A caption"'),
        lambda t: t.replace("show=result", "show=result format=expanded"),
        lambda t: t.replace("show=result", "show=result prompt=true"),
        lambda t: t.replace("show=result", "show=result steps=statements"),
        lambda t: t.replace("show=result", 'show=result hl="1|2"'),
    ],
)
def test_options_that_only_change_the_view_keep_the_key(edit):
    # A new caption or layout re-renders the stored outcome: nothing runs again.
    assert key_of(edit(DECK)) == key_of(DECK)


@pytest.mark.parametrize(
    "field_value",
    [
        {"package_version": "1.1"},
        {"isolation": "schema"},
        {"timezone": "Europe/Paris"},
        {"max_rows": 5},
        {"statement_timeout_ms": 1000},
        {"setup": (("slides/sql/users.sql", "CREATE TABLE users (id bigint);\n"),)},
        {"setup": ()},
    ],
)
def test_setup_files_settings_and_version_change_the_key(field_value: dict):
    from dataclasses import replace

    assert key_of(DECK, replace(PARTS, **field_value)) != key_of(DECK)


def outcome_for(deck_text: str) -> DeckOutcome:
    deck = parse_deck(deck_text, "slides/d.md")
    return DeckOutcome(
        blocks=tuple(
            BlockOutcome(
                index=block.index,
                line=block.line,
                session="main",
                statements=(
                    StatementOutcome(sql=block.sql.strip(), line=block.sql_line, status="SELECT 1"),
                ),
            )
            for block in deck.blocks
        ),
        server_version="18.6",
    )


EMBEDDED = ServerIdentity(kind="embedded", version="18.6")


def test_store_is_deterministic_and_load_round_trips(tmp_path: Path):
    deck = parse_deck(DECK, "slides/d.md")
    cache = ResultCache(tmp_path / "cache")
    inputs = cache_inputs(deck, PARTS)
    key = cache_key(deck, PARTS)
    cache.store(deck, inputs, outcome_for(DECK), EMBEDDED)
    first = cache.file_for(deck).read_bytes()
    cache.store(deck, inputs, outcome_for(DECK), EMBEDDED)
    assert cache.file_for(deck).read_bytes() == first
    assert cache.file_for(deck).name == "slides__d.md.json"
    data = json.loads(first)
    assert data["format"] == FORMAT == 6
    assert data["server"] == {"kind": "embedded", "version": "18.6"}
    assert list(data) == sorted(data)
    assert cache.load(deck, key) == outcome_for(DECK)
    assert cache.load(deck, "another key") is None
    entry = cache.entry(deck)
    assert entry is not None
    assert (entry.key, entry.server, entry.outcome) == (key, EMBEDDED, outcome_for(DECK))
    assert [p.name for p in (tmp_path / "cache").iterdir()] == ["slides__d.md.json"]


def test_a_file_of_an_older_format_is_a_miss(tmp_path: Path):
    deck = parse_deck(DECK, "slides/d.md")
    cache = ResultCache(tmp_path)
    cache.store(deck, cache_inputs(deck, PARTS), outcome_for(DECK), EMBEDDED)
    data = json.loads(cache.file_for(deck).read_text())
    cache.file_for(deck).write_text(json.dumps({**data, "format": 3}))
    assert cache.entry(deck) is None
    assert cache.load(deck, cache_key(deck, PARTS)) is None


def test_a_url_server_is_recorded_without_its_password(tmp_path: Path):
    deck = parse_deck(DECK, "slides/d.md")
    cache = ResultCache(tmp_path)
    server = ServerIdentity(kind="url", version="15.20", host="db", port=5433, database="talks")
    cache.store(deck, cache_inputs(deck, PARTS), outcome_for(DECK), server)
    data = json.loads(cache.file_for(deck).read_text())
    assert data["server"] == {
        "kind": "url", "version": "15.20", "host": "db", "port": 5433, "database": "talks"
    }  # fmt: skip
    assert server.describe() == "PostgreSQL 15.20 at db:5433/talks"
    assert server.change_from(EMBEDDED) == "18.6 → 15.20"
    assert EMBEDDED.describe() == "PostgreSQL 18.6, embedded"


def test_lines_follow_blocks_when_prose_moves_them(tmp_path: Path):
    deck = parse_deck(DECK, "slides/d.md")
    cache = ResultCache(tmp_path)
    key = cache_key(deck, PARTS)
    cache.store(deck, cache_inputs(deck, PARTS), outcome_for(DECK))
    moved_text = DECK.replace("Some prose.", "Some prose.\n\nMore prose.\n\nAnd more.")
    moved = parse_deck(moved_text, "slides/d.md")
    assert cache_key(moved, PARTS) == key
    assert cache.load(moved, key) == outcome_for(moved_text)


@pytest.mark.parametrize(
    "garbage", [b"{not json", b"[]", b'{"format": FORMAT, "key": "K"}', b"\xff\xfe"]
)
def test_a_corrupt_file_is_reported_and_then_replaced(tmp_path: Path, garbage: bytes):
    deck = parse_deck(DECK, "slides/d.md")
    cache = ResultCache(tmp_path)
    key = cache_key(deck, PARTS)
    garbage = garbage.replace(b"FORMAT", str(FORMAT).encode()).replace(b"K", key.encode())
    cache.file_for(deck).write_bytes(garbage)
    with pytest.raises(UnreadableCacheError, match=r"slides__d\.md\.json: unreadable cache file"):
        cache.load(deck, key)
    cache.store(deck, cache_inputs(deck, PARTS), outcome_for(DECK))
    assert cache.load(deck, key) == outcome_for(DECK)
