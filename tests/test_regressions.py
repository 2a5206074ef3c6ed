"""One test per bug found in review: each failed before its fix."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from pgslides import render
from pgslides.drift import statement_difference
from pgslides.outcome import StatementOutcome
from pgslides.parse.deck import DeckError, parse_deck
from pgslides.run.database import SessionSettings
from pgslides.run.execute import RunLimits
from pgslides.run.housekeeping import Housekeeper
from pgslides.run.runner import Runner, RunSettings
from pgslides.run.server import Server
from pgslides.run.setupfiles import SetupFile
from pgslides.run.timeline import run_deck
from sites import BIN, database_url, log_messages, make_site, mkdocs_build, run, without_fit


def run_source(pg_server: Server, source: str, setup: tuple[SetupFile, ...] = ()):
    deck = parse_deck(textwrap.dedent(source).lstrip("\n"), "slides/r.md")
    # As a build runs it: what the deck made outside its database is dropped after it.
    leftovers: list[str] = []
    with (
        Housekeeper(pg_server) as keeper,
        keeper.deck(
            "regress",
            "database",
            SessionSettings(),
            warnings=leftovers,
            sql_text="\n".join([source, *(item.sql for item in setup)]),
        ) as db,
    ):
        return deck, run_deck(deck, db, RunLimits(), setup)


def test_a_block_timeout_inside_a_transaction_does_not_outlive_it(pg_server: Server):
    _deck, outcome = run_source(
        pg_server,
        """
        ```sql exec timeout=500ms
        BEGIN;
        ```

        ```sql exec
        SET TRANSACTION ISOLATION LEVEL REPEATABLE READ;
        ROLLBACK;
        SHOW statement_timeout;
        ```
        """,
    )
    set_transaction, rollback, show = outcome.blocks[1].statements
    assert set_transaction.error is None
    assert rollback.status == "ROLLBACK"
    assert show.rows == (("10s",),)


def test_roles_a_setup_file_creates_are_dropped_too(pg_server: Server, pg_conn):
    name = f"made_by_setup_{os.getpid()}"
    setup = (SetupFile("slides/sql/roles.sql", f"CREATE ROLE {name};\n"),)
    for _ in range(2):  # the second run fails if the first left the role behind
        _deck, outcome = run_source(pg_server, "```sql exec\nSELECT 1;\n```\n", setup)
        assert outcome.blocks[0].problem is None
    with pg_conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM pg_roles WHERE rolname = %s", (name,))
        assert cur.fetchone()[0] == "0"


def test_a_runner_works_again_after_an_interrupted_build(pg_server: Server, tmp_path: Path):
    deck_file = tmp_path / "d.md"
    deck_file.write_text("```sql exec\nSELECT 1 AS one;\n```\n")
    deck = parse_deck(deck_file.read_text(), "d.md")
    runner = Runner(RunSettings(database_url=database_url(pg_server)))
    try:
        runner.interrupt()  # what a Ctrl-C in an earlier `mkdocs serve` build leaves behind
        result = runner.outcomes([(deck, deck_file)])["d.md"]
        assert result.outcome.blocks[0].statements[0].rows == (("1",),)
    finally:
        runner.close()


# alice holds a row lock; bob's update of the same row waits for her.
BOB_WAITS_FOR_ALICE = """
```sql exec
CREATE TABLE t (id int PRIMARY KEY, v int);
INSERT INTO t VALUES (1, 0);
```

```sql exec session=alice
BEGIN;
UPDATE t SET v = 1 WHERE id = 1;
```

```sql exec session=bob
UPDATE t SET v = 2 WHERE id = 1;
```
"""


def test_late_results_in_a_hidden_block_are_still_shown(pg_server: Server):
    deck, outcome = run_source(
        pg_server, BOB_WAITS_FOR_ALICE + "\n```sql exec session=alice show=none\nCOMMIT;\n```\n"
    )
    html = str(render.render_deck_blocks(deck, outcome)[3])
    assert '<div class="sql-late-label">meanwhile, bob: UPDATE 1</div>' in html
    assert "COMMIT" not in html


def test_an_unknown_time_zone_is_the_decks_error_with_its_line(pg_server: Server, tmp_path: Path):
    deck_file = tmp_path / "d.md"
    deck_file.write_text(
        "---\ntitle: T\nsql:\n  timezone: Europe/Pariss\n---\n\n```sql exec\nSELECT 1;\n```\n"
    )
    deck = parse_deck(deck_file.read_text(), "slides/d.md")
    runner = Runner(RunSettings(database_url=database_url(pg_server)))
    try:
        with pytest.raises(DeckError) as caught:
            runner.outcome(deck, deck_file)
    finally:
        runner.close()
    assert str(caught.value) == (
        "slides/d.md:4: unknown time zone 'Europe/Pariss'; use a name from pg_timezone_names, "
        "e.g. Europe/Paris"
    )


def test_the_cache_is_found_from_another_working_directory(tmp_path: Path, pg_server: Server):
    site = make_site(
        tmp_path / "site",
        {"deck.md": "```sql exec\nSELECT 1;\n```\n"},
        database_url=database_url(pg_server),
    )
    first = mkdocs_build(site.root)
    assert first.returncode == 0, first.stderr
    elsewhere = run(
        [str(BIN / "mkdocs"), "build", "--strict", "-f", str(site.config_file)], tmp_path
    )
    assert elsewhere.returncode == 0, elsewhere.stderr
    assert "pgslides: 1 deck: 0 run, 1 cached" in elsewhere.stderr
    assert [p.name for p in (site.root / ".pgslides-cache").iterdir()] == ["deck.md.json"]


def test_a_cache_hit_moves_late_results_and_warnings_with_their_blocks(
    tmp_path: Path, pg_server: Server
):
    deck = (
        "# Moves\n"
        + BOB_WAITS_FOR_ALICE
        + textwrap.dedent(
            """
        ```sql exec session=alice
        COMMIT;
        ```

        ```sql exec session=carol
        BEGIN;
        ```
        """
        )
    )
    url = database_url(pg_server)
    make_site(tmp_path, {"deck.md": deck}, database_url=url)
    fresh = mkdocs_build(tmp_path, "--no-strict")
    moved = deck.replace("# Moves\n", "# Moves\n\nMore.\n\nAnd more.\n")
    make_site(tmp_path, {"deck.md": moved}, database_url=url)
    cached = mkdocs_build(tmp_path, "--no-strict")
    assert "1 cached" in cached.stderr
    assert without_fit(log_messages(fresh.stderr, "WARNING")) == [
        "pgslides: slides/deck.md:21: session carol was left inside a transaction at the end of the deck; it was rolled back"
    ]
    assert without_fit(log_messages(cached.stderr, "WARNING")) == [
        "pgslides: slides/deck.md:25: session carol was left inside a transaction at the end of the deck; it was rolled back"
    ]
    page = (tmp_path / "site" / "deck.html").read_text()
    assert '<div class="sql-late" data-session="bob" data-line="17">' in page


def test_check_against_cache_leaves_the_stored_outcome_alone(tmp_path: Path, pg_server: Server):
    make_site(
        tmp_path,
        {"deck.md": "```sql exec\nSELECT 42 AS answer;\n```\n"},
        database_url=database_url(pg_server),
    )
    pgslides = [str(BIN / "pgslides"), "check"]
    assert run(pgslides, tmp_path).returncode == 0
    (cache_file,) = (tmp_path / ".pgslides-cache").iterdir()
    cache_file.write_text(cache_file.read_text().replace('"42"', '"43"'))
    for _ in range(2):
        completed = run([*pgslides, "--against-cache"], tmp_path)
        assert completed.returncode == 1
        assert "output differs from the cache: the rows shown changed" in completed.stdout
    assert '"43"' in cache_file.read_text()


def test_check_reports_a_session_left_in_a_transaction(tmp_path: Path, pg_server: Server):
    make_site(
        tmp_path,
        {"deck.md": "```sql exec\nBEGIN;\nSELECT 1;\n```\n"},
        database_url=database_url(pg_server),
    )
    completed = run([str(BIN / "pgslides"), "check"], tmp_path)
    assert completed.returncode == 0
    assert completed.stdout.splitlines() == [
        "warning: slides/deck.md:1: session main was left inside a transaction at the end of the deck; it was rolled back"
    ]


def test_a_deck_statement_timeout_of_zero_is_refused():
    with pytest.raises(
        DeckError, match=r"^d.md:3: bad value '0s' for sql setting statement_timeout"
    ):
        parse_deck("---\nsql:\n  statement_timeout: 0s\n---\n", "d.md")


def test_errors_inside_functions_show_the_internal_query(pg_server: Server):
    deck, outcome = run_source(
        pg_server, "```sql exec expect=42P01\nDO $$ BEGIN PERFORM * FROM nosuch; END $$;\n```\n"
    )
    html = str(render.render_deck_blocks(deck, outcome)[0])
    assert "QUERY:  SELECT * FROM nosuch" in html
    assert "LINE 1: SELECT * FROM nosuch" in html


def test_control_characters_in_errors_and_many_notices(pg_server: Server):
    deck, outcome = run_source(
        pg_server,
        """
        ```sql exec
        DO $$ BEGIN FOR i IN 1..60 LOOP RAISE NOTICE 'n%', i; END LOOP; END $$;
        ```

        ```sql exec expect=22P02
        SELECT E'a\\x1bb'::int;
        ```
        """,
    )
    assert len(outcome.blocks[0].statements[0].notices) == 60
    html = str(render.render_deck_blocks(deck, outcome)[1])
    assert "\x1b" not in html
    assert "a\\x1Bb" in html


def test_drift_sees_changed_copy_output():
    old = StatementOutcome(sql="COPY t TO STDOUT", line=1, status="COPY 1", copy_output="1\ta")
    new = StatementOutcome(sql="COPY t TO STDOUT", line=1, status="COPY 1", copy_output="1\tb")
    assert statement_difference(old, new) == "the COPY output changed"


def test_a_short_password_on_a_slide_is_a_warning_and_masking_keeps_words(tmp_path: Path):
    from pgslides.run.server import mask_password, server_from_url

    server = server_from_url("postgresql://postgres:postgres@127.0.0.1:1/postgres")
    assert (
        mask_password('relation "nosuch_postgres_table"', server)
        == 'relation "nosuch_postgres_table"'
    )
    assert mask_password("password postgres is wrong", server) == "password *** is wrong"


def test_a_cache_that_cannot_be_written_is_a_warning(tmp_path: Path, pg_server: Server):
    (tmp_path / "cachefile").write_text("a file, not a directory")
    make_site(
        tmp_path,
        {"deck.md": "```sql exec\nSELECT 1;\n```\n"},
        database_url=database_url(pg_server),
        cache_dir="cachefile",
    )
    completed = mkdocs_build(tmp_path, "--no-strict")
    assert completed.returncode == 0, completed.stderr
    (warning,) = log_messages(completed.stderr, "WARNING")
    assert warning.startswith("pgslides: ")
    assert "cannot store the outcome" in warning
    assert "Traceback" not in completed.stderr
