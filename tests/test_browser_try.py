"""Try it in a real browser (issue 14): Chromium, the built site served by python -m http.server
from a sub-path, PGlite loaded from the site itself on the first click.

The self-check at the end runs every runnable main-session block of the talk, unedited, in
PGlite and compares what it shows with what the build showed."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from browsing import Context, http_server
from conftest import TALK_PAGE
from sites import Site, build_site, database_url, make_site
from test_tryit import DECK, SETUP

# PGlite compiles 9 MB of WebAssembly and runs initdb on the first click: seconds, not ms.
FIRST_RUN_MS = 60_000


@pytest.fixture(scope="module")
def try_site(tmp_path_factory: pytest.TempPathFactory, pg_server) -> Site:
    root = tmp_path_factory.mktemp("try")
    site = make_site(root, {"deck.md": DECK}, database_url=database_url(pg_server))
    (root / "slides" / "setup.sql").write_text(SETUP, encoding="utf-8")
    build_site(site)
    return site


@pytest.fixture
def served(try_site: Site, tmp_path: Path) -> Iterator[str]:
    """The small site under /talks/ of a local http server: its deck page's URL."""
    shutil.copytree(try_site.site_dir, tmp_path / "talks")
    with http_server(tmp_path) as url:
        yield f"{url}/talks/deck.html"


def block(page: Any, n: int) -> Any:
    """The n-th SQL block of the page (1-based)."""
    return page.locator("div.sql-block").nth(n - 1)


def open_editor(page: Any, n: int) -> Any:
    target = block(page, n)
    target.locator("button.pgslides-try").click()
    target.locator("textarea.pgslides-try-editor").wait_for()
    return target


def run(target: Any, sql: str | None = None) -> Any:
    """Run the block's editor (with sql typed in first): its output once it is there."""
    if sql is not None:
        target.locator("textarea.pgslides-try-editor").fill(sql)
    # A run replaces the output: what is there now is marked, to wait for what replaces it.
    target.evaluate(
        "el => el.querySelectorAll('.pgslides-try-output > *').forEach(o => o.dataset.old = '')"
    )
    target.locator("button.pgslides-try-run").click()
    target.page.wait_for_function(
        """el => el.querySelector('.pgslides-try-output > :not([data-old])')
                 && !el.querySelector('button.pgslides-try-run').disabled""",
        arg=target.element_handle(),
        timeout=FIRST_RUN_MS,
    )
    return target.locator(".pgslides-try-output")


def cells(output: Any) -> list[list[str]]:
    return output.locator("table.sql-result").first.evaluate(
        "t => [...t.rows].map(r => [...r.cells].map(c => c.textContent))"
    )


def test_an_edited_block_runs_on_the_state_that_block_saw(ctx: Context, served: str):
    page = ctx.open_deck(served)
    assert not [url for url in ctx.requests if "pglite" in url or "/try/" in url]
    target = open_editor(page, 5)
    editor = target.locator("textarea.pgslides-try-editor")
    assert editor.input_value() == "SELECT * FROM t, s ORDER BY n;"
    # The main session's UPDATE waited for bob at build time; it is replayed where it ended.
    output = run(target, "SELECT label, count(*) AS n FROM t, s GROUP BY label;")
    assert cells(output) == [["label", "n"], ["main", "2"]]
    assert output.locator("th.num").all_inner_texts() == ["n"]
    assert output.locator(".sql-rows").inner_text() == "(1 row)"
    # Every run starts again from the block's state: an INSERT does not carry over.
    sql = "INSERT INTO t VALUES (2, 'two');\nSELECT count(*) FROM t;"
    for _ in range(2):
        output = run(target, sql)
        assert output.locator(".sql-status").first.inner_text() == "INSERT 0 1"
        assert cells(output) == [["count"], ["2"]]
    origin = re.match(r"https?://[^/]+", served)
    assert origin is not None
    assert [url for url in ctx.requests if not url.startswith(origin[0])] == []
    assert any(url.endswith("/talks/assets/pgslides/pglite/pglite.wasm") for url in ctx.requests)


def test_an_error_shows_as_it_would_on_a_slide(ctx: Context, served: str):
    page = ctx.open_deck(served)
    target = open_editor(page, 1)
    output = run(target, "SELECT 1;\nSELECT * FROM userz;\nSELECT 2;")
    error = output.locator("div.sql-error")
    assert error.get_attribute("data-sqlstate") == "42P01"
    assert error.locator("pre").inner_text() == (
        'ERROR:  relation "userz" does not exist\nLINE 1: SELECT * FROM userz;\n'
        "                      ^"
    )
    assert output.locator(".sql-skipped").inner_text() == (
        "not run: an earlier statement of this block failed"
    )
    assert cells(output) == [["?column?"], ["1"]]


def test_reset_ctrl_enter_and_keys_while_typing(ctx: Context, served: str):
    page = ctx.open_deck(served)
    target = open_editor(page, 5)
    editor = target.locator("textarea.pgslides-try-editor")
    editor.fill("")
    editor.type("SELECT 'pfob' AS keys")  # p, f, o and b would present, go full screen, ...
    assert not page.evaluate("document.documentElement.classList.contains('pgslides-presenting')")
    editor.press("Control+Enter")
    page.wait_for_function(
        "document.querySelector('.pgslides-try-output table.sql-result')", timeout=FIRST_RUN_MS
    )
    assert cells(target.locator(".pgslides-try-output")) == [["keys"], ["pfob"]]
    target.locator("button.pgslides-try-reset").click()
    assert editor.input_value() == "SELECT * FROM t, s ORDER BY n;"


def test_a_block_that_cannot_run_says_why(ctx: Context, served: str):
    page = ctx.open_deck(served)
    bob = block(page, 2)
    assert bob.get_attribute("data-try") == "no"
    assert bob.locator("button.pgslides-try").count() == 0
    assert bob.locator(".pgslides-try-why").inner_text() == (
        "Try it: no — session bob; the browser has one session"
    )
    assert bob.locator(".pgslides-try-why").is_visible()


def test_the_stage_shows_no_try_it(ctx: Context, served: str):
    page = ctx.open_deck(served + "#/1")
    assert not page.locator("section.slide .pgslides-try").first.is_visible()


def test_from_file_the_button_says_to_serve_the_site(ctx: Context, try_site: Site):
    page = ctx.open_deck(try_site.page_path("deck.md").as_uri())
    button = block(page, 1).locator("button.pgslides-try")
    assert "http" in button.inner_text()
    button.click()
    message = block(page, 1).locator(".pgslides-try-message")
    assert "python -m http.server" in message.inner_text()
    assert [url for url in ctx.requests if "pglite" in url] == []


# --- the self-check: the talk's blocks, unedited, in PGlite against the build -----------------

# What the build shows that the browser cannot, by a phrase of the block's SQL: the reason.
KNOWN_DIFFERENCES = {
    "SHOW server_version": "the version: the browser's PostgreSQL is PGlite's (18.7)",
    "pg_relation_filepath": "a file's path is made of OIDs, which differ from database to database",
    "EXPLAIN": "drawn as a plan at build time (format=plan); the browser shows EXPLAIN's text",
    "round_trips": "a table a Python block made, and Python blocks are not replayed",
}

# A result as a list of what a reader sees: each notice, error, table, footer and tag, in order.
OUTPUT_ITEMS_JS = """root => [...root.querySelectorAll(
      '.sql-notice, .sql-error, table.sql-result, .sql-rows, .sql-status, .sql-skipped')]
    .filter(el => !el.closest('.sql-late, .sql-source, .pgslides-try-panel'))
    .map(el => el.matches('table')
        ? 'table: ' + [...el.rows].map(r => [...r.cells].map(c => c.textContent).join(' | '))
            .join(' / ')
        : el.className.split(' ')[0] + ': ' + el.textContent)"""


def test_the_talk_replays_in_the_browser(ctx: Context, site_dir: Path, tmp_path: Path):
    shutil.copytree(site_dir, tmp_path / "talk")
    with http_server(tmp_path) as url:
        page = ctx.open_deck(f"{url}/talk/{TALK_PAGE}")
        checked = page.evaluate(
            "deck => window.pgslidesTry.selfCheck(deck)", "what-could-possibly-go-wrong"
        )
        buttons = page.eval_on_selector_all(
            "button.pgslides-try",
            "bs => bs.map(b => Number(b.closest('[data-line]').dataset.line))",
        )
        matched, differences = [], []
        for result in checked:
            block = page.locator(f"div.sql-block[data-line='{result['line']}']").first
            built = block.locator(":scope > .sql-output")
            built_items = built.evaluate(OUTPUT_ITEMS_JS) if built.count() else []
            tried = page.evaluate(
                "([html, items]) => { const d = document.createElement('div');"
                " d.innerHTML = html; return eval(items)(d); }",
                [result["html"], OUTPUT_ITEMS_JS],
            )
            sql = block.locator("button.pgslides-try").get_attribute("data-try-sql") or ""
            entry = (result["line"], sql, built_items, tried)
            (matched if built_items == tried else differences).append(entry)
    print(f"\nself-check: {len(matched)} of {len(checked)} runnable blocks match the build")
    explained = {}
    for line, sql, built_items, tried in differences:
        reason = next((why for phrase, why in KNOWN_DIFFERENCES.items() if phrase in sql), None)
        print(f"  line {line}: {reason or 'UNEXPLAINED'}\n    build:   {built_items}")
        print(f"    browser: {tried}")
        explained[line] = reason
    # Every block with a Try it button was checked, each once.
    assert sorted(result["line"] for result in checked) == sorted(set(buttons))
    assert len(checked) > 30
    assert [line for line, reason in explained.items() if reason is None] == []
    # Each known difference still happens: one that no longer does is taken off the list.
    used = {phrase for phrase in KNOWN_DIFFERENCES for _, sql, *_ in differences if phrase in sql}
    assert used == set(KNOWN_DIFFERENCES)
