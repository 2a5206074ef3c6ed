"""Try it, the build's side (issue 14): the vendored PGlite, each deck's replay file, the
buttons and their reasons, and `playground: false`. What the browser does with them is
tests/test_browser_try.py's business."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import replace
from pathlib import Path

from pgslides.outcome import (
    BlockOutcome,
    DeckOutcome,
    PythonOutcome,
    SqlError,
    StatementOutcome,
)
from pgslides.parse.deck import parse_deck
from pgslides.run.server import Server
from pgslides.settings import DeckPlan
from pgslides.tryit import (
    PGLITE_DIR,
    PGLITE_MANIFEST,
    deck_replay,
    masked,
    missing_summary,
    pglite_files,
    try_states,
)
from sites import Site, build_site, database_url, deck_text, make_site

SETUP = "CREATE TABLE s (n int);\nINSERT INTO s VALUES (1), (2);\n"

DECK = """
    ---
    sql:
      setup: [setup.sql]
    ---
    # Try it

    ```sql exec
    CREATE TABLE t (id int PRIMARY KEY, label text);
    INSERT INTO t VALUES (1, 'one');
    ```

    ```sql exec session=bob
    BEGIN;
    UPDATE t SET label = 'bob' WHERE id = 1;
    ```

    ```sql exec grace=100ms
    UPDATE t SET label = 'main' WHERE id = 1;
    ```

    ```sql exec session=bob
    COMMIT;
    ```

    ```sql exec rows=5
    SELECT * FROM t, s ORDER BY n;
    ```
    """


def built(tmp_path: Path, server: Server, **options: object) -> Site:
    site = make_site(tmp_path, {"deck.md": DECK}, database_url=database_url(server), **options)
    (tmp_path / "slides" / "setup.sql").write_text(SETUP, encoding="utf-8")
    build_site(site)
    return site


def test_the_vendored_pglite_is_what_its_manifest_pins():
    manifest = json.loads(PGLITE_MANIFEST.read_text(encoding="utf-8"))
    assert manifest["package"] == "@electric-sql/pglite"
    assert manifest["integrity"].startswith("sha512-")
    for name, digest in manifest["files"].items():
        assert hashlib.sha256((PGLITE_DIR / name).read_bytes()).hexdigest() == digest, name
    assert "Apache License" in (PGLITE_DIR / "LICENSE").read_text(encoding="utf-8")
    # Everything the entry module imports is vendored: nothing would be fetched from elsewhere.
    assert {"index.js", "pglite.wasm", "pglite.data", "initdb.wasm"} <= set(manifest["files"])
    for name in manifest["files"]:
        if name.endswith(".js"):
            text = (PGLITE_DIR / name).read_text(encoding="utf-8")
            for imported in _static_imports(text):
                assert imported in manifest["files"], f"{name} imports {imported}"


def _static_imports(text: str) -> list[str]:
    return re.findall(r'(?:from|import)\s*"\./([A-Za-z0-9_.-]+\.js)"', text)


def test_the_site_carries_the_replay_the_buttons_and_the_reasons(tmp_path: Path, pg_server):
    site = built(tmp_path, pg_server)
    assets = site.site_dir / "assets" / "pgslides"
    for name in pglite_files():
        assert (assets / "pglite" / name).read_bytes() == (PGLITE_DIR / name).read_bytes()
    for name in ("pgslides-try.js", "pgslides-try-worker.js", "pgslides-try.css"):
        assert (assets / name).is_file()

    replay = json.loads((assets / "try" / "deck.json").read_text(encoding="utf-8"))
    assert replay["format"] == 1
    assert replay["deck"].endswith("deck.md")
    assert replay["settings"][0] == "SET TimeZone = 'UTC'"
    assert replay["setup"] == ["CREATE TABLE s (n int);", "INSERT INTO s VALUES (1), (2);"]
    blocks = replay["blocks"]
    assert [(b["session"], b["try"]) for b in blocks] == [
        ("main", "yes"),
        ("bob", "no"),
        ("main", "no"),
        ("bob", "no"),
        ("main", "yes"),
    ]
    assert blocks[0]["replay"] == [
        "CREATE TABLE t (id int PRIMARY KEY, label text);",
        "INSERT INTO t VALUES (1, 'one');",
    ]
    assert blocks[1]["why"] == "session bob; the browser has one session"
    assert blocks[1]["replay"] == []  # another session's statements are never replayed
    assert blocks[2]["why"] == "it waited for bob's lock; the browser has one session"
    # The main session's waiting UPDATE finished during bob's COMMIT: it is replayed there.
    assert blocks[2]["replay"] == []
    assert blocks[3]["replay"] == ["UPDATE t SET label = 'main' WHERE id = 1;"]
    lines = [b["line"] for b in blocks]
    assert blocks[4]["missing"] == [f"the 2 blocks of session bob at lines {lines[1]}-{lines[3]}"]
    assert blocks[4]["rows"] == 5
    assert blocks[0]["rows"] == 20

    page = site.page("deck.md")
    sql_blocks = page.find_all("div", "sql-block")
    assert [b.attrs["data-try"] for b in sql_blocks] == ["yes", "no", "no", "no", "yes"]
    buttons = page.find_all("button", "pgslides-try")
    assert [b.attrs["data-try-deck"] for b in buttons] == ["deck", "deck"]
    assert buttons[1].attrs["data-try-sql"] == "SELECT * FROM t, s ORDER BY n;"
    assert buttons[0].text == "Try it"
    why = [span.text for span in page.find_all("span", "pgslides-try-why")]
    assert why[1] == ("Try it: no — it waited for bob's lock; the browser has one session")
    scripts = [s.attrs.get("src", "") for s in page.find_all("script")]
    assert any(src.endswith("assets/pgslides/pgslides-try.js") for src in scripts)
    # Nothing of PGlite is referenced by the page itself: it loads on the first click.
    html = site.page_path("deck.md").read_text(encoding="utf-8")
    assert "pglite" not in html
    assert "pgslides-try-worker" not in html


def test_playground_false_leaves_no_button_and_no_file(tmp_path: Path, pg_server):
    site = built(tmp_path, pg_server, playground=False)
    assets = site.site_dir / "assets" / "pgslides"
    assert sorted(path.name for path in assets.iterdir()) == ["pgslides.css", "pgslides.js"]
    html = site.page_path("deck.md").read_text(encoding="utf-8")
    assert "pgslides-try" not in html
    assert "data-try" not in html
    assert not list(site.site_dir.rglob("*.wasm"))


def test_every_string_of_the_replay_is_masked():
    replay = {"setup": ["SELECT 'hunter2'"], "blocks": [{"line": 3, "replay": ["hunter2!"]}]}
    hidden = masked(replay, lambda text: text.replace("hunter2", "********"))
    assert hidden == {
        "setup": ["SELECT '********'"],
        "blocks": [{"line": 3, "replay": ["********!"]}],
    }


# --- which blocks can run, on hand-made outcomes (no server needed) ----------------------------

PLAN = DeckPlan(isolation="database", max_rows=20, statement_timeout_ms=10_000, timezone="UTC")


def _deck_and_outcome(text: str, sent: list[list[str]]):
    deck = parse_deck(deck_text(text), "slides/d.md")
    blocks = []
    for block, statements in zip(deck.blocks, sent, strict=True):
        python = PythonOutcome(sql=tuple((s, None) for s in statements))
        blocks.append(
            BlockOutcome(
                index=block.index,
                line=block.line,
                session=block.options.session,
                statements=()
                if block.language == "python"
                else tuple(StatementOutcome(sql=s, line=block.line + 1) for s in statements),
                python=python if block.language == "python" else None,
            )
        )
    return deck, DeckOutcome(blocks=tuple(blocks))


def test_sql_after_an_extension_pglite_lacks_cannot_run():
    deck, outcome = _deck_and_outcome(
        """
        # x

        ```sql exec
        SELECT 1;
        ```

        ```sql exec
        CREATE EXTENSION IF NOT EXISTS "pg_trgm";
        ```

        ```sql exec
        SELECT similarity('a', 'b');
        ```
        """,
        [["SELECT 1;"], ['CREATE EXTENSION IF NOT EXISTS "pg_trgm";'], ["SELECT 1;"]],
    )
    states = try_states(deck, outcome, PLAN, ())
    assert [state.runnable for state in states.values()] == [True, False, False]
    assert states[2].why == "needs the extension pg_trgm, which PGlite lacks"
    # plpgsql is in PGlite itself; another extension in the setup files stops every block.
    with_plpgsql = try_states(deck, outcome, PLAN, ("CREATE EXTENSION plpgsql;",))
    assert [state.runnable for state in with_plpgsql.values()] == [True, False, False]
    with_hstore = try_states(deck, outcome, PLAN, ("create extension hstore;",))
    assert not any(state.runnable for state in with_hstore.values())
    assert "hstore" in (with_hstore[0].why or "")


def test_a_python_block_that_wrote_is_named_one_that_only_read_is_not():
    deck, outcome = _deck_and_outcome(
        """
        # x

        ```python exec
        engine
        ```

        ```python exec
        engine
        ```

        ```sql exec
        SELECT 1;
        ```
        """,
        [["SELECT id FROM users"], ["INSERT INTO users (name) VALUES (%(name)s)"], ["SELECT 1;"]],
    )
    replay = deck_replay(deck, outcome, PLAN, (), try_states(deck, outcome, PLAN, ()))
    blocks = replay["blocks"]
    assert [b["session"] for b in blocks] == ["python", "python", "main"]
    assert [b["try"] for b in blocks] == [None, None, "yes"]
    assert blocks[2]["missing"] == [f"the Python block at line {blocks[1]['line']}"]
    assert blocks[0]["replay"] == blocks[1]["replay"] == []


def test_a_deck_on_an_existing_database_cannot_run_in_the_browser():
    deck, outcome = _deck_and_outcome("# x\n\n```sql exec\nSELECT 1;\n```\n", [["SELECT 1;"]])
    none = DeckPlan(isolation="none", max_rows=20, statement_timeout_ms=10_000, timezone="UTC")
    [state] = try_states(deck, outcome, none, ()).values()
    assert not state.runnable
    assert state.why == "the deck reads an existing database, which the browser does not have"


def test_what_the_replay_lacks_is_named_by_kind():
    assert missing_summary([]) == []
    assert missing_summary([("session bob", 40)]) == ["the block of session bob at line 40"]
    assert missing_summary([("session alice", 12), ("Python", 30), ("session bob", 20)]) == [
        "the 2 blocks of sessions alice and bob at lines 12-20",
        "the Python block at line 30",
    ]
    assert missing_summary([("Python", 30), ("Python", 50)]) == [
        "the 2 Python blocks at lines 30-50"
    ]


def test_a_statement_the_timeout_stopped_is_replayed_as_its_error_at_once():
    deck, outcome = _deck_and_outcome(
        "# x\n\n```sql exec expect=57014\nSELECT pg_sleep(60);\n```\n", [["SELECT pg_sleep(60);"]]
    )
    [block] = outcome.blocks
    cancelled = SqlError(
        sqlstate="57014", severity="ERROR", message="canceling statement due to statement timeout"
    )
    statement = replace(block.statements[0], error=cancelled)
    outcome = DeckOutcome(blocks=(replace(block, statements=(statement,)),))
    replay = deck_replay(deck, outcome, PLAN, (), try_states(deck, outcome, PLAN, ()))
    assert replay["blocks"][0]["replay"] == [
        "DO $pgslides$ BEGIN RAISE EXCEPTION 'canceling statement due to statement timeout' "
        "USING ERRCODE = '57014'; END $pgslides$;"
    ]
