"""Decks run in the background while MkDocs converts the pages of those already done
(Build.start, then Build.collect for each page): a page waits for its own deck only; a build
stopped early stops the decks still running and leaves nothing behind; once the decks' places
are dropped, the build lets the server go, before its last pages are written; a build that
will run decks starts the embedded server while MkDocs still reads the site (prestart)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest
from mkdocs.commands.build import build
from mkdocs.exceptions import Abort

from pgslides.build import Build, BuildSettings, DeckSource
from pgslides.run import postmaster
from sites import build_site, load, make_site
from test_hardening_faults import leftover_databases, wait_for

SLOW = "SELECT pg_sleep(25) AS slept;"


def deck(heading: str, sql: str) -> str:
    return f"# {heading}\n\n```sql exec\n{sql}\n```\n"


def count(conn: Any, query: str, *params: Any) -> int:
    with conn.cursor() as cur:
        cur.execute(query, params)
        return int(cur.fetchone()[0])  # pg_conn reads every value as text


def sleeping(conn: Any) -> int:
    """How many sessions run the slow deck's statement now."""
    return count(
        conn,
        "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query = %s",
        SLOW,
    )


def build_connections(conn: Any) -> int:
    """Connections of pgslides' own (its Admin's) open on the server now."""
    return count(
        conn,
        "SELECT count(*) FROM pg_stat_activity WHERE starts_with(application_name, %s)",
        "pgslides build ",
    )


def test_a_page_waits_for_its_own_deck_only(tmp_path: Path, url: str, pg_conn: Any):
    fast, slow = tmp_path / "a-fast.md", tmp_path / "b-slow.md"
    fast.write_text(deck("Fast", "SELECT 1 AS one;"))
    slow.write_text(deck("Slow", SLOW))
    options = {"database_url": url, "statement_timeout": "60s"}
    build = Build(BuildSettings.from_options(options, tmp_path))
    try:
        build.start([DeckSource("a-fast.md", fast), DeckSource("b-slow.md", slow)])
        log = build.collect("a-fast.md")
        assert log is not None
        assert log.how.startswith("run")
        assert "a-fast.md" in build.results
        assert "b-slow.md" not in build.results
        # The slow deck runs on while the fast deck's page is made.
        wait_for(lambda: sleeping(pg_conn) == 1, "the slow deck's statement running")
        page = build.page_markdown("a-fast.md", fast.read_text())
        assert page.problems == []
    finally:
        build.close()  # the slow deck is stopped, its database dropped
    assert sleeping(pg_conn) == 0
    assert leftover_databases(pg_conn, os.getpid()) == []


def test_a_build_a_failing_deck_stops_stops_the_decks_still_running(
    tmp_path: Path, url: str, pg_conn: Any, caplog: pytest.LogCaptureFixture
):
    pages = {"a-fails.md": deck("Fails", "SELECT 1/0;"), "b-slow.md": deck("Slow", SLOW)}
    site = make_site(tmp_path, pages, database_url=url, statement_timeout="60s")
    started = time.monotonic()
    with pytest.raises(Abort):
        build_site(site)
    assert "a-fails.md:3: ERROR:  division by zero (22012)" in caplog.text
    # The slow deck did not sleep its 25 s to the end: it was cancelled when the build stopped.
    assert time.monotonic() - started < 20
    assert sleeping(pg_conn) == 0
    assert leftover_databases(pg_conn, os.getpid()) == []


def test_the_build_lets_the_server_go_once_the_decks_are_dropped(
    tmp_path: Path, url: str, pg_conn: Any
):
    path = tmp_path / "deck.md"
    path.write_text(deck("One", "SELECT 1 AS one;"))
    build = Build(BuildSettings.from_options({"database_url": url}, tmp_path))
    try:
        build.prepare([DeckSource("deck.md", path)])
        _summary, problems = build.finish(None)  # waits for the drops
        assert problems == []
        # Before close(): nothing of the build's is left on the server, not even its own
        # connections (the embedded server stops then, while MkDocs writes the pages).
        assert build_connections(pg_conn) == 0
        assert leftover_databases(pg_conn, os.getpid()) == []
    finally:
        build.close()


def test_under_serve_the_server_is_kept_between_builds(tmp_path: Path, url: str, pg_conn: Any):
    path = tmp_path / "deck.md"
    path.write_text(deck("One", "SELECT 1 AS one;"))
    settings = BuildSettings.from_options({"database_url": url}, tmp_path).serve()
    build = Build(settings)
    try:
        build.prepare([DeckSource("deck.md", path)])
        build.finish(None)
        assert build_connections(pg_conn) >= 1  # the build's sign of life, for the next rebuild
    finally:
        build.close()
    assert build_connections(pg_conn) == 0


def test_a_build_with_decks_to_run_starts_the_embedded_server_before_it_lists_its_files(
    tmp_path: Path, private_dir: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("PGSLIDES_EMBEDDED_DIR", str(private_dir))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    path = tmp_path / "deck.md"
    path.write_text(deck("One", "SELECT 1 AS one;"))
    build = Build(BuildSettings.from_options({"database_url": ""}, tmp_path))
    try:
        build.prestart(["deck.md"])  # no stored outcome: the deck will run
        wait_for(
            lambda: postmaster.running(private_dir), "the embedded server starting", timeout=60
        )
        build.prepare([DeckSource("deck.md", path)])
        build.finish(None)  # the decks' places dropped, then the server stopped
        assert postmaster.running(private_dir) is None
        # Stored now: the next build's deck is cached and needs no server.
        again = Build(BuildSettings.from_options({"database_url": ""}, tmp_path))
        again.prestart(["deck.md"])
        (log,) = again.prepare([DeckSource("deck.md", path)])
        assert log.how == "cached"
        assert postmaster.running(private_dir) is None
        again.close()
    finally:
        build.close()


def test_a_deck_whose_page_is_not_converted_still_fails_the_build(
    tmp_path: Path, url: str, caplog: pytest.LogCaptureFixture
):
    """`mkdocs build --dirty` converts only the pages whose file changed: a deck that runs
    again because its setup file changed, and fails, is said and fails the build anyway."""
    front = "---\nsql:\n  setup: [setup.sql]\n---\n"
    site = make_site(
        tmp_path, {"deck.md": front + deck("One", "SELECT n FROM t;")}, database_url=url
    )
    setup = site.root / "slides" / "setup.sql"
    setup.write_text("CREATE TABLE t (n int);\n")
    build_site(site)
    setup.write_text("CREATE TABLE t (m int);\n")  # the deck's SELECT fails now
    config, _plugin = load(site)
    config.plugins.on_startup(command="build", dirty=True)
    try:
        with pytest.raises(Abort):
            build(config, dirty=True)
    finally:
        config.plugins.on_shutdown()
    assert 'column "n" does not exist' in caplog.text
