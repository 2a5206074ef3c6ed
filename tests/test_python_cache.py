"""Python blocks and the result cache: their libraries are in the key, and frozen builds,
`--refresh` and `check --against-cache` cover them as they cover SQL blocks."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import sqlalchemy

from pgslides.cache import cache_inputs, changed_inputs, key_of_inputs
from pgslides.parse.deck import parse_deck
from pgslides.run.identity import python_libraries
from pgslides.run.server import Server
from sites import BIN, database_url, log_messages, make_site, mkdocs_build, parse_html, run
from test_cache import PARTS

DECK = """
# Python, cached

```sql exec
CREATE TABLE t (id int, label text);
INSERT INTO t VALUES (1, 'one'), (2, 'two');
```

```python exec
from sqlalchemy import text

with engine.connect() as conn:
    labels = conn.execute(text("SELECT label FROM t WHERE id > :id ORDER BY id"), {"id": 0})
    print("labels:", [label for (label,) in labels])
len("four")
```
"""

UNREACHABLE = "postgresql://postgres:fr0zen-secret@127.0.0.1:1/postgres"


def test_the_python_libraries_are_in_a_python_decks_key_only():
    python_deck = parse_deck(DECK.lstrip("\n"), "slides/deck.md")
    sql_deck = parse_deck(DECK.split("```python", maxsplit=1)[0], "slides/deck.md")
    versions = python_libraries()
    assert f"sqlalchemy {sqlalchemy.__version__}" in versions
    assert versions.startswith("python 3.")
    parts = replace(PARTS, python_libraries=versions)
    assert cache_inputs(python_deck, parts)["python"] == versions
    assert "python" not in cache_inputs(sql_deck, PARTS)
    older = replace(PARTS, python_libraries="python 3.9, sqlalchemy 1.4.54, psycopg2 2.9.1")
    assert (
        changed_inputs(cache_inputs(python_deck, older), cache_inputs(python_deck, parts))
        == "Python libraries changed"
    )


def build(root: Path, url: str, **env: str) -> tuple[int, str]:
    make_site(root, {"deck.md": DECK}, database_url=url)
    completed = mkdocs_build(root, env=env)
    return completed.returncode, completed.stderr


def how_it_came(stderr: str) -> str:
    """`1 run, 0 cached` of the build's summary line."""
    (summary,) = [m for m in log_messages(stderr, "INFO") if m.startswith("pgslides: 1 deck: ")]
    return ", ".join(summary.removeprefix("pgslides: 1 deck: ").split(", ")[:2])


def test_a_frozen_build_shows_the_python_blocks_as_they_ran(tmp_path: Path, pg_server: Server):
    code, stderr = build(tmp_path, database_url(pg_server))
    assert code == 0, stderr
    page = tmp_path / "site" / "deck.html"
    first = page.read_bytes()
    assert "labels: ['one', 'two']" in parse_html(first.decode()).find("pre", "python-output").text
    shutil.rmtree(tmp_path / "site")
    code, stderr = build(tmp_path, UNREACHABLE)
    assert code == 0, stderr
    assert how_it_came(stderr) == "0 run, 1 cached"
    assert page.read_bytes() == first


def test_refresh_runs_the_python_blocks_again(tmp_path: Path, pg_server: Server):
    url = database_url(pg_server)
    assert build(tmp_path, url)[0] == 0
    code, stderr = build(tmp_path, url)
    assert (code, how_it_came(stderr)) == (0, "0 run, 1 cached")
    code, stderr = build(tmp_path, url, PGSLIDES_REFRESH="1")
    assert (code, how_it_came(stderr)) == (0, "1 run, 0 cached")


def test_other_python_libraries_run_the_deck_again(tmp_path: Path, pg_server: Server):
    url = database_url(pg_server)
    assert build(tmp_path, url)[0] == 0
    (cache_file,) = (tmp_path / ".pgslides-cache").iterdir()
    stored = json.loads(cache_file.read_text())
    assert stored["inputs"]["python"] == python_libraries()
    # As if it had been stored by a build with other libraries installed.
    stored["inputs"]["python"] = "python 3.9, sqlalchemy 1.4.54, psycopg2 2.9.1"
    stored["key"] = key_of_inputs(stored["inputs"])
    cache_file.write_text(json.dumps(stored))
    code, stderr = build(tmp_path, url)
    assert code == 0, stderr
    assert "run: Python libraries changed" in stderr


def test_check_against_cache_compares_what_python_printed_and_sent(
    tmp_path: Path, pg_server: Server
):
    make_site(tmp_path, {"deck.md": DECK}, database_url=database_url(pg_server))
    pgslides = [str(BIN / "pgslides"), "check"]
    assert run(pgslides, tmp_path).returncode == 0  # stores the outcome
    assert run([*pgslides, "--against-cache"], tmp_path).stdout == ""
    (cache_file,) = (tmp_path / ".pgslides-cache").iterdir()
    stored = cache_file.read_text()
    cache_file.write_text(stored.replace("labels: ", "names: "))
    completed = run([*pgslides, "--against-cache"], tmp_path)
    assert completed.returncode == 1
    assert completed.stdout.splitlines() == [
        "slides/deck.md:8: output differs from the cache: what it printed changed"
    ]
    cache_file.write_text(stored.replace("WHERE id > %(id)s", "WHERE id >= %(id)s"))
    completed = run([*pgslides, "--against-cache"], tmp_path)
    assert completed.stdout.splitlines() == [
        "slides/deck.md:8: output differs from the cache: the SQL it sent changed"
    ]
