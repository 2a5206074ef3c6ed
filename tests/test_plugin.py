"""The MkDocs plugin end to end: small sites written to a temp dir and built for real."""

from __future__ import annotations

import json
import logging
import os
import re
from pathlib import Path

import pytest
from mkdocs.commands.build import build
from mkdocs.exceptions import Abort

from pgslides.run.server import Server, connect
from sites import (
    BIN,
    Node,
    Site,
    build_site,
    built_page,
    deck_text,
    fence_line,
    header_cells,
    load,
    log_messages,
    make_site,
    mkdocs_build,
    run,
    table_cells,
    with_options,
)

REPO = Path(__file__).resolve().parent.parent
PID = os.getpid()

FRUIT_DECK = """
---
title: Fruit stand
subtitle: A deck that tries every option
---

# Fruit stand

A plain fence is only highlighted, never run:

```sql
SELECT 1 / 0;
```

???
Notes for **slide one**.

---

## Setup and rows

```sql exec show=none
CREATE TABLE fruit (id integer PRIMARY KEY, name text, price numeric(6,2));
CREATE TABLE basket (fruit_id integer REFERENCES fruit (id));
INSERT INTO fruit VALUES (2, NULL, 20.00), (3, '<b>kiwi</b>', 0.25);
```

```sql exec title="Add an <em>apple</em>"
INSERT INTO fruit VALUES (1, 'apple', 1.50);
```

```sql exec show=result
SELECT id, name, price FROM fruit ORDER BY id;
```

```sql exec show=source
SELECT count(*) FROM fruit;
```

---

## Formats

```sql exec format=text
SELECT id, name, price FROM fruit ORDER BY id;
```

```sql exec format=expanded
SELECT id, name, price FROM fruit WHERE id = 2;
```

```sql exec format=json
SELECT id, name, price FROM fruit ORDER BY id;
```

```sql exec rows=1 session=other
SELECT id FROM fruit ORDER BY id;
```

---

## Errors as the point

```sql exec expect=23503
INSERT INTO basket VALUES (99);
```
"""

TYPO_DECK = """
# Typo

```sql exec
SELECT * FROM userz;
```

```sql exec
SELECT 'after' AS still_runs;
```
"""
TYPO_LINE = 3
TYPO_ERROR = 'slides/deck.md:3: ERROR:  relation "userz" does not exist (42P01)'


def leftovers(pg_conn, catalog: str) -> list[str]:
    """Databases or schemas this process's builds named pgslides_* that still exist."""
    column, table = {"database": ("datname", "pg_database"), "schema": ("nspname", "pg_namespace")}[
        catalog
    ]
    with pg_conn.cursor() as cur:
        cur.execute(
            f"SELECT {column} FROM {table} WHERE {column} LIKE %s", (f"pgslides\\_%\\_{PID}\\_%",)
        )
        return [row[0] for row in cur.fetchall()]


# --- a deck with every option, built once ----------------------------------------------------


@pytest.fixture(scope="module")
def fruit(pg_server: Server, tmp_path_factory: pytest.TempPathFactory) -> Node:
    return built_page(tmp_path_factory.mktemp("fruit"), "fruit.md", FRUIT_DECK, pg_server)


def fruit_block(page: Node, marker: str) -> Node:
    return page.block(fence_line(FRUIT_DECK, marker))


def test_slides_are_sections_with_notes_aside(fruit: Node):
    slides = fruit.find_all("section", "slide")
    assert [slide.attrs["id"] for slide in slides] == ["slide-1", "slide-2", "slide-3", "slide-4"]
    notes = slides[0].find("aside", "notes")
    assert notes.find("strong").text == "slide one"
    assert "Notes for slide one." in notes.text
    assert [slide.find_all("aside", "notes") for slide in slides[1:]] == [[], [], []]


def test_plain_sql_fence_is_highlighted_not_run(fruit: Node):
    first = fruit.find("section", id="slide-1")
    assert first.find_all(data_sql_block=True) == []
    assert first.find("code").text.strip() == "SELECT 1 / 0;"


def test_every_shown_block_has_its_session_and_fence_line(fruit: Node):
    markers = ["title=", "show=result", "show=source", "format=text", "format=expanded"]
    markers += ["format=json", "rows=1", "expect=23503"]
    blocks = fruit.find_all(data_sql_block=True)
    assert [(b.attrs["data-session"], int(b.attrs["data-line"])) for b in blocks] == [
        ("other" if marker == "rows=1" else "main", fence_line(FRUIT_DECK, marker))
        for marker in markers
    ]
    # The oracle itself: the first shown block's fence, counted by hand.
    assert fence_line(FRUIT_DECK, "title=") == 27


def test_show_none_renders_nothing_but_runs(fruit: Node):
    hidden_line = fence_line(FRUIT_DECK, "show=none")
    assert fruit.find_all(data_sql_block=True, data_line=str(hidden_line)) == []
    slide = fruit.find("section", id="slide-2")
    assert "CREATE TABLE" not in slide.text
    # The next block inserts into the table the hidden one made, and the rows it inserted show.
    assert fruit_block(fruit, "title=").find(class_="sql-status").text == "INSERT 0 1"


def test_status_title_and_source(fruit: Node):
    block = fruit_block(fruit, "title=")
    assert block.find(class_="sql-title").text == "Add an <em>apple</em>"
    assert block.find_all("em") == []
    source = block.find(class_="sql-source")
    assert source.text.strip() == "INSERT INTO fruit VALUES (1, 'apple', 1.50);"
    assert block.find(class_="sql-status").text == "INSERT 0 1"
    assert block.find_all("table") == []


def test_result_table_values_null_numeric_and_escaping(fruit: Node):
    block = fruit_block(fruit, "show=result")
    assert block.find_all(class_="sql-source") == []
    table = block.find("table", "sql-result")
    assert header_cells(table) == [("num", "id"), ("", "name"), ("num", "price")]
    assert table_cells(table) == [
        [("num", "1"), ("", "apple"), ("num", "1.50")],
        [("num", "2"), ("null", ""), ("num", "20.00")],
        [("num", "3"), ("", "<b>kiwi</b>"), ("num", "0.25")],
    ]
    assert block.find_all("b") == []
    assert block.find(class_="sql-rows").text == "(3 rows)"


def test_show_source_has_no_output(fruit: Node):
    block = fruit_block(fruit, "show=source")
    assert block.find(class_="sql-source").text.strip() == "SELECT count(*) FROM fruit;"
    assert block.find_all(class_="sql-output") == []
    assert block.find_all("table") == []


def test_format_text_is_psql_aligned(fruit: Node):
    block = fruit_block(fruit, "format=text")
    assert block.find_all("table") == []
    assert block.find("pre", "sql-text").text == (
        " id |    name     | price \n"
        "----+-------------+-------\n"
        "  1 | apple       |  1.50\n"
        "  2 | ∅           | 20.00\n"
        "  3 | <b>kiwi</b> |  0.25"
    )
    assert block.find(class_="sql-rows").text == "(3 rows)"


def test_format_expanded_is_psql_x(fruit: Node):
    block = fruit_block(fruit, "format=expanded")
    assert block.find("pre", "sql-expanded").text == (
        "-[ RECORD 1 ]\nid    | 2\nname  | ∅\nprice | 20.00"
    )


def test_format_json(fruit: Node):
    block = fruit_block(fruit, "format=json")
    assert json.loads(block.find("pre", "sql-json").text) == [
        {"id": 1, "name": "apple", "price": 1.5},
        {"id": 2, "name": None, "price": 20},
        {"id": 3, "name": "<b>kiwi</b>", "price": 0.25},
    ]


def test_rows_cuts_the_table_and_says_how_many_more(fruit: Node):
    block = fruit_block(fruit, "rows=1")
    assert table_cells(block.find("table", "sql-result")) == [[("num", "1")]]
    assert block.find(class_="sql-rows").text == "(3 rows) … 2 more rows"


def test_expected_error_is_the_point(fruit: Node):
    block = fruit_block(fruit, "expect=23503")
    error = block.find(class_="sql-error")
    assert error.attrs["data-sqlstate"] == "23503"
    assert "sql-expected" in error.classes
    assert error.text == (
        'ERROR:  insert or update on table "basket" violates foreign key constraint '
        '"basket_fruit_id_fkey"\n'
        'DETAIL:  Key (fruit_id)=(99) is not present in table "fruit".'
    )
    assert block.find_all(class_="sql-problem") == []
    assert "sql-failed" not in block.classes


# --- errors ------------------------------------------------------------------------------------


def test_unexpected_error_fails_build_with_one_line(tmp_path: Path, url: str):
    site = make_site(tmp_path, {"deck.md": TYPO_DECK}, database_url=url)
    completed = mkdocs_build(tmp_path)
    assert completed.returncode == 1
    assert log_messages(completed.stderr, "ERROR") == ["Error reading page 'deck.md':", TYPO_ERROR]
    assert "Traceback" not in completed.stdout + completed.stderr
    assert not site.page_path("deck.md").exists()


def test_on_error_warn_shows_the_error_and_keeps_building(
    tmp_path: Path, url: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
):
    site = make_site(tmp_path, {"deck.md": TYPO_DECK}, database_url=url, on_error="warn")
    monkeypatch.chdir(tmp_path)
    with caplog.at_level(logging.WARNING):
        build_site(site)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [f"pgslides: {TYPO_ERROR}"]
    page = site.page("deck.md")
    block = page.block(TYPO_LINE)
    assert "sql-failed" in block.classes
    error = block.find(class_="sql-error")
    assert error.attrs["data-sqlstate"] == "42P01"
    assert "sql-expected" not in error.classes
    assert block.find(class_="sql-problem").text == (
        'Unexpected error: ERROR:  relation "userz" does not exist (42P01)'
    )
    later = page.block(7)
    assert table_cells(later.find("table", "sql-result")) == [[("", "after")]]

    strict = mkdocs_build(tmp_path)
    assert strict.returncode == 1
    assert log_messages(strict.stderr, "WARNING") == [f"pgslides: {TYPO_ERROR}"]
    assert "Aborted with 1 warnings in strict mode!" in strict.stdout
    assert "Traceback" not in strict.stdout + strict.stderr


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (
            "shwo=result",
            "unknown option 'shwo'; did you mean 'show'? valid options: session, show, expect, rows, format, timeout, title, grace, prompt, steps, hl, chart, x, y",
        ),
        ("show=all", "bad value 'all' for option show; valid choices: both, result, source, none"),
        (
            "expect=oops",
            "bad value 'oops' for option expect; valid choices: ok, error, or a 5-character SQLSTATE such as 23503",
        ),
    ],
)
def test_bad_block_option_fails_build_naming_file_and_line(
    tmp_path: Path, url: str, option: str, message: str
):
    make_site(
        tmp_path,
        {"deck.md": f"# Bad\n\nText.\n\n```sql exec {option}\nSELECT 1;\n```\n"},
        database_url=url,
    )
    completed = mkdocs_build(tmp_path)
    assert completed.returncode == 1
    assert log_messages(completed.stderr, "ERROR") == [
        "Error reading page 'deck.md':",
        f"slides/deck.md:5: {message}",
    ]
    assert "Traceback" not in completed.stdout + completed.stderr


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        (
            {"statement_timeout": "10 seconds"},
            "Config value 'plugins': Plugin 'pgslides' option 'statement_timeout': "
            "bad value '10 seconds'; expected a duration like 500ms, 5s or 1min",
        ),
        (
            {"isolation": "bogus"},
            "Config value 'plugins': Plugin 'pgslides' option 'isolation': "
            "bad value 'bogus'; valid choices: database, schema, none",
        ),
        (
            {"max_rows": -1},
            "Config value 'plugins': Plugin 'pgslides' option 'max_rows': "
            "bad value -1; expected a whole number ≥ 0",
        ),
        # YAML reads `yes` as true, and Python's True is the integer 1: refused, not taken.
        (
            {"max_rows": True},
            "Config value 'plugins': Plugin 'pgslides' option 'max_rows': "
            "bad value True; expected a whole number ≥ 0",
        ),
    ],
)
def test_bad_plugin_setting_stops_the_build_with_one_sentence(
    tmp_path: Path, url: str, setting: dict[str, object], message: str
):
    make_site(tmp_path, {"deck.md": TYPO_DECK}, database_url=url, **setting)
    completed = mkdocs_build(tmp_path)
    assert completed.returncode == 1
    assert log_messages(completed.stderr, "ERROR") == [message]
    assert "Traceback" not in completed.stdout + completed.stderr


@pytest.mark.parametrize("isolation", ["database", "schema"])
def test_server_refusing_to_create_the_deck_database_is_one_line(
    tmp_path: Path, url: str, isolation: str
):
    # As on a hot standby: every transaction of this URL's sessions is read-only.
    read_only = with_options(url, "-c default_transaction_read_only=on")
    make_site(tmp_path, {"deck.md": TYPO_DECK}, database_url=read_only, isolation=isolation)
    completed = mkdocs_build(tmp_path)
    assert "Traceback" not in completed.stdout + completed.stderr
    assert completed.returncode == 1
    # A setup problem: the build stops before any page, in one line.
    (error,) = log_messages(completed.stderr, "ERROR")
    assert "read-only transaction" in error


# --- mkdocs serve ------------------------------------------------------------------------------


def test_serve_shows_errors_on_the_page_and_keeps_the_server_between_builds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
):
    # Without DATABASE_URL the plugin starts (its own handle on) the embedded server.
    site = make_site(
        tmp_path,
        {"deck.md": TYPO_DECK, "bad.md": "# Bad\n\n```sql exec shwo=result\nSELECT 1;\n```\n"},
        database_url=os.environ.get("DATABASE_URL", ""),
    )
    monkeypatch.chdir(tmp_path)
    config, plugin = load(site)
    config.plugins.on_startup(command="serve", dirty=False)
    try:
        with caplog.at_level(logging.WARNING):
            build(config)  # on_error is fail, but serving: no exception
        warnings = sorted(r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
        bad_option = (
            "slides/bad.md:3: unknown option 'shwo'; did you mean 'show'? "
            "valid options: session, show, expect, rows, format, timeout, title, grace, prompt, steps, hl, chart, x, y"
        )
        assert warnings == [f"pgslides: {bad_option}", f"pgslides: {TYPO_ERROR}"]
        block = site.page("deck.md").block(TYPO_LINE)
        assert block.find(class_="sql-error").attrs["data-sqlstate"] == "42P01"
        assert block.find(class_="sql-problem").text.startswith(
            "Unexpected error: ERROR:  relation"
        )
        box = site.page("bad.md").find(class_="pgslides-problem")
        assert box.find("pre").text == bad_option

        assert plugin.build is not None
        runner = plugin.build.runner
        server = runner.server()
        probe = connect(server, None)  # the server is up between builds
        probe.close()

        (site.root / "slides" / "deck.md").write_text(
            deck_text(TYPO_DECK).replace("userz", "pg_namespace WHERE nspname = 'public'"),
            encoding="utf-8",
        )
        config, again = load(site)  # what serve does on each rebuild
        assert again is plugin
        build(config)
        assert plugin.build.runner is runner
        assert runner.server() is server
        fixed = site.page("deck.md").block(TYPO_LINE)
        assert fixed.find_all(class_="sql-error") == []
        assert fixed.find("table", "sql-result") is not None
    finally:
        config.plugins.on_shutdown()


# --- isolation -----------------------------------------------------------------------------------

WHERE_DECK = """
# Where am I?

```sql exec
SELECT current_database() AS db, current_schema() AS schema;
CREATE TABLE mine (x integer);
```
"""


@pytest.mark.parametrize("isolation", ["database", "schema"])
def test_deck_runs_in_its_own_place_which_is_dropped_after(
    tmp_path: Path, url: str, pg_conn, isolation: str
):
    site = make_site(tmp_path, {"isolated.md": WHERE_DECK}, database_url=url, isolation=isolation)
    build_site(site)
    ((_, db), (_, schema)) = table_cells(site.page("isolated.md").find("table", "sql-result"))[0]
    own = db if isolation == "database" else schema
    assert re.fullmatch(rf"pgslides_isolated_{PID}_[0-9a-f]{{8}}_[0-9a-f]{{4}}", own)
    assert leftovers(pg_conn, "database") == []
    assert leftovers(pg_conn, "schema") == []


@pytest.mark.parametrize("isolation", ["database", "schema"])
def test_failed_build_leaves_no_database_or_schema(
    tmp_path: Path, url: str, pg_conn, isolation: str, caplog: pytest.LogCaptureFixture
):
    site = make_site(
        tmp_path, {"deck.md": WHERE_DECK + TYPO_DECK}, database_url=url, isolation=isolation
    )
    with caplog.at_level(logging.ERROR), pytest.raises(Abort):
        build_site(site)
    # Outside the site's directory a deck is named by its absolute path.
    deck = tmp_path / "slides" / "deck.md"
    assert caplog.records[-1].getMessage() == (
        f'{deck}:10: ERROR:  relation "userz" does not exist (42P01)'
    )
    assert leftovers(pg_conn, "database") == []
    assert leftovers(pg_conn, "schema") == []


@pytest.fixture
def keep_me(pg_conn):
    """A table of the maintenance database that no deck may touch."""
    name = f"keep_me_{PID}"
    with pg_conn.cursor() as cur:
        cur.execute(
            f"DROP TABLE IF EXISTS {name}; CREATE TABLE {name} (id integer); INSERT INTO {name} VALUES (42)"
        )
    yield name
    with pg_conn.cursor() as cur:
        cur.execute(f"DROP TABLE {name}")


def keep_me_state(pg_conn, name: str) -> tuple[list[str], list[tuple[str, ...]]]:
    with pg_conn.cursor() as cur:
        cur.execute(f"SELECT * FROM public.{name}")
        return [column.name for column in cur.description], cur.fetchall()


@pytest.mark.parametrize("isolation", ["database", "schema"])
def test_deck_cannot_touch_tables_it_did_not_create(
    tmp_path: Path, url: str, pg_conn, keep_me: str, isolation: str
):
    deck = f"""
    # Clobber

    ```sql exec
    DROP TABLE IF EXISTS {keep_me};
    CREATE TABLE {keep_me} (note text);
    INSERT INTO {keep_me} VALUES ('deck');
    ```
    """
    site = make_site(tmp_path, {"deck.md": deck}, database_url=url, isolation=isolation)
    build_site(site)
    block = site.page("deck.md").block(3)
    # The deck's DROP found nothing to drop: it ran somewhere else.
    assert block.find(class_="sql-notice").text == (
        f'NOTICE:  table "{keep_me}" does not exist, skipping'
    )
    assert [s.text for s in block.find_all(class_="sql-status")] == [
        "DROP TABLE",
        "CREATE TABLE",
        "INSERT 0 1",
    ]
    assert keep_me_state(pg_conn, keep_me) == (["id"], [("42",)])


def test_isolation_none_is_read_only_on_the_configured_database(
    tmp_path: Path, url: str, pg_conn, keep_me: str
):
    deck = f"""
    # As it is

    ```sql exec
    SELECT id FROM {keep_me};
    ```

    ```sql exec expect=25006
    CREATE TABLE made_{PID} ();
    ```
    """
    site = make_site(tmp_path, {"deck.md": deck}, database_url=url, isolation="none")
    build_site(site)
    page = site.page("deck.md")
    assert table_cells(page.block(3).find("table", "sql-result")) == [[("num", "42")]]
    error = page.block(7).find(class_="sql-error")
    assert error.attrs["data-sqlstate"] == "25006"
    assert error.text == "ERROR:  cannot execute CREATE TABLE in a read-only transaction"
    with pg_conn.cursor() as cur:
        cur.execute("SELECT to_regclass(%s)", (f"made_{PID}",))
        assert cur.fetchone() == (None,)
    assert keep_me_state(pg_conn, keep_me) == (["id"], [("42",)])


# --- the index page ------------------------------------------------------------------------------

ALPHA = """
---
title: Alpha
subtitle: The first deck
---

# Alpha

---

# Two
"""
BETA = """
# Beta from its heading

---

## Two

---

## Three
"""


@pytest.mark.parametrize(
    ("use_directory_urls", "root_links", "nested_links"),
    [
        (False, ["alpha.html", "talks/beta.html"], ["../alpha.html", "beta.html"]),
        (True, ["alpha/", "talks/beta/"], ["../alpha/", "beta/"]),
    ],
)
def test_index_page_lists_decks_with_working_links(
    tmp_path: Path,
    url: str,
    use_directory_urls: bool,
    root_links: list[str],
    nested_links: list[str],
):
    listing = "# Talks\n\n<!-- pgslides:decks -->\n"
    site = make_site(
        tmp_path,
        {"index.md": listing, "alpha.md": ALPHA, "talks/beta.md": BETA, "talks/index.md": listing},
        database_url=url,
        use_directory_urls=use_directory_urls,
    )
    build_site(site)
    for index, links in (("index.md", root_links), ("talks/index.md", nested_links)):
        table = site.page(index).find("table", "pgslides-decks")
        rows = [
            (row.find("a").attrs["href"], *(cell.text for cell in row.find_all("td")))
            for row in table.find("tbody").find_all("tr")
        ]
        assert rows == [
            (links[0], "Alpha", "The first deck", "2"),
            (links[1], "Beta from its heading", "", "3"),
        ]
        for href, target in zip(links, ("alpha.md", "talks/beta.md"), strict=True):
            resolved = (site.page_path(index).parent / href).resolve()
            if href.endswith("/"):
                resolved /= "index.html"
            assert resolved == site.page_path(target).resolve()
            assert resolved.is_file()


# --- the repository's own site ---------------------------------------------------------------


def test_repository_site_builds_strict(tmp_path: Path):
    deck = REPO / "slides" / "what-could-possibly-go-wrong.md"
    completed = mkdocs_build(REPO, "-d", str(tmp_path / "site"))
    assert completed.returncode == 0, completed.stderr
    assert "Traceback" not in completed.stderr
    page = Site(tmp_path).page("what-could-possibly-go-wrong.md")
    assert len(page.find_all("section", "slide")) == 69
    block = page.block(fence_line(deck.read_text(encoding="utf-8"), "expect=42601"))
    error = block.find(class_="sql-error")
    assert error.attrs["data-sqlstate"] == "42601"
    assert error.text == (
        'ERROR:  syntax error at or near "{"\n'
        "LINE 2: SET data = {'awesome': true}\n"
        "                   ^"
    )
    index = Site(tmp_path).page("index.md").find("table", "pgslides-decks")
    assert [cell.text for cell in index.find("tbody").find_all("td")] == [
        "What could possibly go wrong?",
        "PostgreSQL and Python",
        "69",
    ]
    check_the_talks_python_section(page, deck.read_text(encoding="utf-8"))
    check_the_talks_pictures(page)


def python_fence_line(text: str, marker: str) -> int:
    """The line of the ```python exec fence of the one block whose source has marker."""
    lines = text.splitlines()
    (found,) = [number for number, line in enumerate(lines) if marker in line]
    return next(
        number + 1 for number in range(found, -1, -1) if lines[number].startswith("```python exec")
    )


def check_the_talks_python_section(page: Node, text: str) -> None:
    """What the Python slides claim, as the build ran them."""
    lost, fixed = (
        page.block(python_fence_line(text, marker)).find("pre", "python-output").text
        for marker in ("a.balance += 10", "a.balance = Account.balance + 10")
    )
    had, should, has = map(int, re.findall(r"-?\d+", lost))
    assert (should, has) == (had + 30, had + 20)  # alice's deposit is lost
    had, should, has = map(int, re.findall(r"-?\d+", fixed))
    assert should == has == had + 30
    n_plus_one, selectin = (
        page.block(python_fence_line(text, marker)).find("div", "python-sql")
        for marker in ("sql=count", "users = select(User).options(selectinload(User.comments))")
    )
    assert (n_plus_one.attrs["data-statements"], selectin.attrs["data-statements"]) == ("5", "2")
    injected, bound = (
        page.block(python_fence_line(text, marker)).find("table", "sql-result")
        for marker in ("show(conn.exec_driver_sql(query))", "show(conn.execute(")
    )
    assert len(injected.find("tbody").find_all("tr")) == 4  # every user
    assert bound.find_all("tbody") == [] or bound.find("tbody").find_all("tr") == []
    error = page.block(python_fence_line(text, "expect=IntegrityError")).find("div", "python-error")
    assert (error.attrs["data-exception"], error.attrs["data-sqlstate"]) == (
        "IntegrityError",
        "23503",
    )


def check_the_talks_pictures(page: Node) -> None:
    """The schema drawn live, Kurt found by a scan then by the index, and N+1 as a chart."""
    erd = page.find("svg", "sql-erd")
    assert [g.attrs["data-table"] for g in erd.find_all(class_="erd-table")] == [
        "users",
        "comments",
    ]
    edge = erd.find(class_="erd-edge")
    assert (edge.attrs["data-from"], edge.attrs["data-to"]) == ("comments.user_id", "users.id")
    plans = [
        [node.attrs["data-node-type"] for node in plan.find_all(class_="plan-node")]
        for plan in page.find_all("div", "sql-plan")
    ]
    assert plans[:2] == [["Seq Scan"], ["Seq Scan"]]
    assert "Seq Scan" not in plans[2]
    assert any("Index" in kind for kind in plans[2])
    chart = page.find("svg", "sql-chart")
    series = {
        g.attrs["data-series"]: [mark.attrs["data-y"] for mark in g.find_all(data_y=True)]
        for g in chart.find_all(class_="chart-series")
    }
    assert series == {"lazy": ["2", "3", "4", "5"], "selectinload": ["2", "2", "2", "2"]}


# --- the password ---------------------------------------------------------------------------

SECRET_URL = "postgresql://postgres:S3cr%40t-pw@127.0.0.1:1/postgres"
SECRETS = ("S3cr@t-pw", "S3cr%40t-pw")
REFUSED = re.compile(
    r"cannot connect to postgresql://postgres:\*\*\*@127\.0\.0\.1:1/postgres: "
    r'connection to server at "127\.0\.0\.1", port 1 failed: .*Connection refused.*'
)


def test_unreachable_database_fails_build_without_password(tmp_path: Path):
    site = make_site(
        tmp_path, {"deck.md": "# One\n\n```sql exec\nSELECT 1;\n```\n"}, database_url=SECRET_URL
    )
    completed = mkdocs_build(tmp_path)
    assert completed.returncode == 1
    # A setup problem: the build stops before any page, in one line.
    (error,) = log_messages(completed.stderr, "ERROR")
    assert REFUSED.fullmatch(error)
    output = completed.stdout + completed.stderr
    assert "Traceback" not in output
    for secret in SECRETS:
        assert secret not in output
    assert not site.page_path("deck.md").exists()


def test_unreachable_database_with_warn_still_stops_the_build_without_password(tmp_path: Path):
    # on_error: warn is about blocks; with no server nothing can be built at all.
    site = make_site(
        tmp_path,
        {"deck.md": "# One\n\n```sql exec\nSELECT 1;\n```\n"},
        database_url=SECRET_URL,
        on_error="warn",
    )
    completed = mkdocs_build(tmp_path)
    assert completed.returncode == 1
    (error,) = log_messages(completed.stderr, "ERROR")
    assert REFUSED.fullmatch(error)
    assert not site.page_path("deck.md").exists()
    for secret in SECRETS:
        assert secret not in completed.stdout + completed.stderr


def test_the_summary_gives_the_builds_wall_time_not_the_sum_of_parallel_decks(
    tmp_path: Path, url: str
):
    slow = "# Slow\n\n```sql exec\nSELECT pg_sleep(0.6);\n```\n"
    make_site(tmp_path, {"a.md": slow, "b.md": slow}, database_url=url, jobs=2, cache_dir="")
    completed = mkdocs_build(tmp_path)
    assert completed.returncode == 0, completed.stderr
    messages = log_messages(completed.stderr, "INFO")
    per_deck = [
        float(m.group(1))
        for line in messages
        if (m := re.fullmatch(r"pgslides: slides/[ab]\.md: 1 block, (\d+\.\d\d) s, run.*", line))
    ]
    (summary,) = [line for line in messages if line.startswith("pgslides: 2 decks: ")]
    wall = float(re.fullmatch(r"pgslides: 2 decks: 2 run, 0 cached, (\d+\.\d\d) s", summary)[1])
    assert len(per_deck) == 2
    assert all(seconds >= 0.6 for seconds in per_deck)
    assert wall < sum(per_deck)


def test_a_mistyped_fence_warns_fails_strict_and_the_blocks_after_it_still_run(
    tmp_path: Path, url: str
):
    deck = "# One\n\n```sql exex\nSELECT 'typo';\n```\n\n```sql exec\nSELECT 42 AS after;\n```\n"
    site = make_site(tmp_path, {"deck.md": deck}, database_url=url, cache_dir="")
    strict = mkdocs_build(tmp_path)
    assert strict.returncode == 1
    assert log_messages(strict.stderr, "WARNING") == [
        "pgslides: slides/deck.md:3: fence ```sql exex looks like a mistyped live block; "
        "did you mean ```sql exec? It is shown as code, not run"
    ]
    plain = run([str(BIN / "mkdocs"), "build"], tmp_path)
    assert plain.returncode == 0, plain.stderr
    page = site.page("deck.md")
    assert table_cells(page.block(7).find("table")) == [[("num", "42")]]
    assert "pgslides" not in "".join(node.text for node in page.find_all("code"))


def test_enabled_false_written_as_text_runs_nothing(tmp_path: Path, url: str):
    site = make_site(
        tmp_path,
        {"deck.md": "# One\n\n```sql exec\nSELECT 1/0;\n```\n"},
        database_url=url,
        enabled="false",
    )
    completed = mkdocs_build(tmp_path)
    assert completed.returncode == 0, completed.stderr
    assert site.page("deck.md").find_all(data_sql_block=True) == []


def test_a_failing_setup_file_is_a_problem_record_with_its_file_and_line(tmp_path: Path, url: str):
    from pgslides.build import Build, BuildSettings, DeckSource
    from pgslides.run.runner import RunSettings

    (tmp_path / "setup.sql").write_text("SELECT 1;\n\nSELECT 1/0;\n")
    deck = tmp_path / "deck.md"
    deck.write_text("---\nsql:\n  setup: [setup.sql]\n---\n\n# One\n")
    build = Build(BuildSettings(run=RunSettings(database_url=url)))
    try:
        build.prepare([DeckSource("deck.md", deck)])
        (problem,) = build.problems("deck.md")
    finally:
        build.close()
    assert (problem.path, problem.line, problem.severity) == (
        str(tmp_path / "setup.sql"),
        3,
        "error",
    )
    assert problem.message == "ERROR:  division by zero (22012)"
