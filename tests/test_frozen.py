"""Frozen builds: with every deck cached, a build contacts no server and gives the same pages."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pgslides.run.server import Server
from sites import database_url, log_messages, make_site, mkdocs_build

DECK = """
---
title: Frozen
---

# Frozen

```sql exec
CREATE TABLE t AS SELECT g AS id, 'row ' || g AS label FROM generate_series(1, 3) AS g;
SELECT * FROM t ORDER BY id;
```

---

## More prose than before

```sql exec show=result
SELECT count(*) FROM t;
```
"""

UNREACHABLE = "postgresql://postgres:fr0zen-secret@127.0.0.1:1/postgres"


@pytest.fixture
def built(tmp_path: Path, pg_server: Server) -> Path:
    make_site(tmp_path, {"deck.md": DECK}, database_url=database_url(pg_server))
    completed = mkdocs_build(tmp_path)
    assert completed.returncode == 0, completed.stderr
    return tmp_path


def rebuild_unreachable(root: Path, deck: str = DECK, **env: str) -> tuple[object, bytes]:
    make_site(root, {"deck.md": deck}, database_url=UNREACHABLE)
    saved = (root / "site" / "deck.html").read_bytes()
    shutil.rmtree(root / "site")
    return mkdocs_build(root, env=env), saved


def test_a_cached_build_contacts_no_server_and_writes_identical_pages(built: Path):
    completed, before = rebuild_unreachable(built)
    assert completed.returncode == 0, completed.stderr
    assert (built / "site" / "deck.html").read_bytes() == before
    summary = [
        m for m in log_messages(completed.stderr, "INFO") if m.startswith("pgslides: 1 deck")
    ]
    assert len(summary) == 1
    assert summary[0].startswith("pgslides: 1 deck: 0 run, 1 cached, ")


def test_refresh_runs_the_decks_again(built: Path):
    completed, _ = rebuild_unreachable(built, PGSLIDES_REFRESH="1")
    assert completed.returncode == 1
    assert "cannot connect to postgresql://postgres:***@127.0.0.1:1/postgres" in completed.stderr
    assert "fr0zen-secret" not in completed.stderr


def test_a_changed_block_is_a_miss(built: Path):
    completed, _ = rebuild_unreachable(built, DECK.replace("count(*)", "count(id)"))
    assert completed.returncode == 1
    assert "cannot connect to" in completed.stderr


def test_a_corrupt_cache_file_is_a_warning_then_replaced(built: Path, pg_server: Server):
    (cache_file,) = (built / ".pgslides-cache").iterdir()
    cache_file.write_text("{ truncated")
    make_site(built, {"deck.md": DECK}, database_url=database_url(pg_server))
    completed = mkdocs_build(built, "--no-strict")
    assert completed.returncode == 0, completed.stderr
    (warning,) = log_messages(completed.stderr, "WARNING")
    assert warning.startswith(f"pgslides: {cache_file}: unreadable cache file, running the deck")
    assert cache_file.read_text().startswith("{\n")
    again, _ = rebuild_unreachable(built)
    assert again.returncode == 0, again.stderr


def test_parallel_and_serial_builds_write_identical_pages(tmp_path: Path, pg_server: Server):
    decks = {f"deck{n}.md": DECK.replace("Frozen", f"Deck {n}") for n in range(4)}
    pages = {}
    for jobs in (1, 4):
        root = tmp_path / f"jobs{jobs}"
        make_site(root, decks, database_url=database_url(pg_server), jobs=jobs, cache_dir="")
        completed = mkdocs_build(root)
        assert completed.returncode == 0, completed.stderr
        pages[jobs] = {
            name: (root / "site" / name.replace(".md", ".html")).read_bytes() for name in decks
        }
    assert pages[1] == pages[4]
