"""Hardening: SQL that fails, runs away, needs care or is hostile, and the deck parser's
properties. Every case is a real build of a small site (or a real parse), never a mock, and
asserts the exact outcome: the message, the exit code, the HTML."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from mkdocs.exceptions import Abort

from pgslides.adapters.mkdocs import PgSlidesPlugin
from pgslides.parse.deck import (
    BLOCK_OPTIONS,
    FORMAT_CHOICES,
    SHOW_CHOICES,
    Deck,
    DeckError,
    parse_deck,
)
from pgslides.run.server import Server
from sites import (
    VOID,
    Node,
    Site,
    build_site,
    built_page,
    database_url,
    deck_text,
    fence_line,
    header_cells,
    make_site,
    mkdocs_build,
    table_cells,
)

PID = os.getpid()
NOT_RUN = "not run: an earlier statement of this block failed"


def failed_build(root: Path) -> list[str]:
    """`mkdocs build --strict` in root, which must fail in one clear message: its log from the
    first ERROR line on (continuation lines such as DETAIL: included)."""
    started = time.monotonic()
    completed = mkdocs_build(root)
    output = completed.stdout + completed.stderr
    assert time.monotonic() - started < 30, "the build hung"
    assert completed.returncode == 1, output
    assert "Traceback" not in output
    assert completed.stdout.strip() == "Aborted with a BuildError!"
    lines = completed.stderr.splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("ERROR"))
    return lines[first:]


def page_error_lines(message: str) -> list[str]:
    """What `failed_build` returns for a deck page whose build fails with message."""
    first, *rest = message.split("\n")
    return ["ERROR   -  Error reading page 'deck.md':", f"ERROR   -  {first}", *rest]


def output_kinds(block: Node) -> list[str]:
    """The first class of each element in a block's output, in order."""
    output = block.find("div", "sql-output")
    return [child.classes[0] for child in output.children if isinstance(child, Node)]


def fence_above(text: str, marker: str) -> int:
    """The 1-based line of the ```sql exec fence of the block whose SQL holds marker."""
    lines = deck_text(text).splitlines()
    below = next(number for number, line in enumerate(lines) if marker in line)
    return max(n for n in range(below) if lines[n].startswith("```sql exec")) + 1


def psql(psql_bin: str, pg_server: Server, sql: str) -> subprocess.CompletedProcess[str]:
    """psql -X -c sql on the test server, in UTF-8 (as a presenter's terminal would be)."""
    params = pg_server.connect_params()
    conninfo = " ".join(f"{key}={value}" for key, value in params.items() if key != "password")
    env = {"PGPASSWORD": params.get("password") or "", "PGCLIENTENCODING": "UTF8"}
    return subprocess.run(
        [psql_bin, "-X", "-d", conninfo, "-c", sql],
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
        check=False,
    )


# --- 1. SQL errors -------------------------------------------------------------------------------

SYNTAX_SQL = """SELECT 'éléphant ☃' AS name,
       '日本語' AS jp, 'ü' || ) AS broken,
       3 AS later"""

ERRORS_DECK = f"""
# When SQL goes wrong

```sql exec expect=42601
{SYNTAX_SQL};
```

```sql exec expect=22012
SELECT 10 / (2 - 2) AS ratio;
```

---

## An error after earlier statements

```sql exec expect=23505
CREATE TABLE t (id integer PRIMARY KEY);
INSERT INTO t VALUES (1);
SELECT id FROM t;
INSERT INTO t VALUES (1);
SELECT 'never' AS shown;
DROP TABLE t;
```
"""


@pytest.fixture(scope="module")
def errors_page(pg_server: Server, tmp_path_factory: pytest.TempPathFactory) -> Node:
    return built_page(tmp_path_factory.mktemp("errors"), "deck.md", ERRORS_DECK, pg_server)


def test_syntax_error_caret_sits_under_the_character_psql_points_at(
    errors_page: Node, pg_server: Server, psql_bin: str
):
    error = errors_page.block(fence_line(ERRORS_DECK, "expect=42601")).find(class_="sql-error")
    assert error.attrs["data-sqlstate"] == "42601"
    assert "sql-expected" in error.classes
    # Three wide characters and two accented ones before the error: columns, not bytes.
    assert error.text == (
        'ERROR:  syntax error at or near ")"\n'
        "LINE 2:        '日本語' AS jp, 'ü' || ) AS broken,\n"
        "                                      ^"
    )
    assert error.text == psql(psql_bin, pg_server, SYNTAX_SQL).stderr.rstrip("\n")


def test_runtime_error_division_by_zero_is_shown(errors_page: Node):
    block = errors_page.block(fence_line(ERRORS_DECK, "expect=22012"))
    assert output_kinds(block) == ["sql-error"]
    error = block.find(class_="sql-error")
    assert error.attrs["data-sqlstate"] == "22012"
    assert error.classes == ["sql-error", "sql-expected"]
    assert error.text == "ERROR:  division by zero"
    assert block.find_all(class_="sql-problem") == []


def test_error_after_earlier_statements_keeps_their_results_and_skips_the_rest(
    errors_page: Node,
):
    block = errors_page.block(fence_line(ERRORS_DECK, "expect=23505"))
    assert output_kinds(block) == [
        "sql-status",
        "sql-status",
        "sql-table-wrap",
        "sql-rows",
        "sql-error",
        "sql-skipped",
        "sql-skipped",
    ]
    assert [s.text for s in block.find_all(class_="sql-status")] == ["CREATE TABLE", "INSERT 0 1"]
    assert table_cells(block.find("table", "sql-result")) == [[("num", "1")]]
    assert block.find(class_="sql-rows").text == "(1 row)"
    assert block.find(class_="sql-error").text == (
        'ERROR:  duplicate key value violates unique constraint "t_pkey"\n'
        "DETAIL:  Key (id)=(1) already exists."
    )
    assert [s.text for s in block.find_all(class_="sql-skipped")] == [NOT_RUN, NOT_RUN]
    assert "sql-failed" not in block.classes


DROP_DECK = """
# Dependencies

```sql exec show=none
CREATE TABLE a (id integer PRIMARY KEY);
CREATE TABLE b (a_id integer REFERENCES a);
```

Dropping the parent:

```sql exec title=drop
SELECT count(*) FROM a;
DROP TABLE a;
```
"""


def test_unexpected_error_fails_the_build_with_file_line_detail_and_hint(tmp_path: Path, url: str):
    site = make_site(tmp_path, {"deck.md": DROP_DECK}, database_url=url)
    line = fence_line(DROP_DECK, "title=drop")
    assert failed_build(tmp_path) == [
        "ERROR   -  Error reading page 'deck.md':",
        f"ERROR   -  slides/deck.md:{line}: ERROR:  cannot drop table a because other "
        "objects depend on it (2BP01)",
        "DETAIL:  constraint b_a_id_fkey on table b depends on table a",
        "HINT:  Use DROP ... CASCADE to drop the dependent objects too.",
    ]
    assert not site.page_path("deck.md").exists()


@pytest.mark.parametrize(
    ("expect", "sql", "problem"),
    [
        (
            "23505",
            "INSERT INTO t VALUES (1);",
            "expected error 23505, but the block ran without error",
        ),
        (
            "error",
            "INSERT INTO t VALUES (1);",
            "expected an error, but the block ran without error",
        ),
        ("23505", "SELECT 1 / 0;", "expected error 23505, got ERROR:  division by zero (22012)"),
    ],
    ids=["sqlstate-but-ok", "any-error-but-ok", "other-sqlstate"],
)
def test_block_not_ending_as_expected_fails_the_build(
    tmp_path: Path, url: str, expect: str, sql: str, problem: str
):
    deck = f"""
    # Expectations

    ```sql exec show=none
    CREATE TABLE t (id integer PRIMARY KEY);
    ```

    ```sql exec expect={expect}
    {sql}
    ```
    """
    make_site(tmp_path, {"deck.md": deck}, database_url=url)
    line = fence_line(deck, f"expect={expect}")
    assert failed_build(tmp_path) == page_error_lines(f"slides/deck.md:{line}: {problem}")


# --- 2. Runaway work -----------------------------------------------------------------------------


def deck_seconds(plugin: PgSlidesPlugin, src_uri: str = "deck.md") -> float:
    """How long the build spent running one deck (its database made and dropped included)."""
    assert plugin.build is not None
    return plugin.build.results[src_uri].seconds


def test_block_timeout_cancels_a_long_statement(tmp_path: Path, url: str):
    deck = "# Slow\n\n```sql exec timeout=1s expect=57014\nSELECT pg_sleep(5);\n```\n"
    site = make_site(tmp_path, {"deck.md": deck}, database_url=url)
    plugin = build_site(site)
    assert deck_seconds(plugin) < 3.0
    error = site.page("deck.md").block(3).find(class_="sql-error")
    assert error.attrs["data-sqlstate"] == "57014"
    assert error.text == "ERROR:  canceling statement due to statement timeout"


def test_watchdog_cancels_a_statement_when_the_deck_turned_the_timeout_off(
    tmp_path: Path, url: str
):
    deck = """
    # No limits

    ```sql exec
    SET statement_timeout = 0;
    ```

    ```sql exec expect=57014
    SELECT pg_sleep(30);
    ```
    """
    site = make_site(tmp_path, {"deck.md": deck}, database_url=url, statement_timeout="1s")
    plugin = build_site(site)
    # 1 s of statement_timeout, then the watchdog's 1 s of grace, then the cancel.
    assert deck_seconds(plugin) < 3.5
    page = site.page("deck.md")
    assert page.block(3).find(class_="sql-status").text == "SET"
    error = page.block(fence_line(deck, "expect=57014")).find(class_="sql-error")
    assert error.attrs["data-sqlstate"] == "57014"
    assert error.text == "ERROR:  canceling statement due to user request"


def test_block_timeout_still_holds_after_reset_all(tmp_path: Path, url: str):
    deck = "# Reset\n\n```sql exec timeout=1s expect=57014\nRESET ALL;\nSELECT pg_sleep(5);\n```\n"
    site = make_site(tmp_path, {"deck.md": deck}, database_url=url)
    build_site(site)
    block = site.page("deck.md").block(3)
    assert block.find(class_="sql-status").text == "RESET"
    assert block.find(class_="sql-error").text == (
        "ERROR:  canceling statement due to statement timeout"
    )


LOCK_DECK = """
# Waiting too long

```sql exec session=alice
CREATE TABLE t (id integer PRIMARY KEY, v integer);
INSERT INTO t VALUES (1, 0);
BEGIN;
UPDATE t SET v = 1 WHERE id = 1;
```

Bob gives up after half a second (his grace is longer, so the deck waits for him):

```sql exec session=bob expect=55P03 grace=2s
SET lock_timeout = '500ms';
UPDATE t SET v = 2 WHERE id = 1;
```

```sql exec session=alice
ROLLBACK;
SELECT v FROM t;
```
"""


def test_lock_wait_past_lock_timeout_is_error_55p03(tmp_path: Path, url: str):
    site = make_site(tmp_path, {"deck.md": LOCK_DECK}, database_url=url)
    build_site(site)
    page = site.page("deck.md")
    bob = page.block(fence_line(LOCK_DECK, "session=bob"))
    assert output_kinds(bob) == ["sql-status", "sql-error"]
    assert "sql-waiting" not in bob.classes
    error = bob.find(class_="sql-error")
    assert error.attrs["data-sqlstate"] == "55P03"
    assert error.text == (
        "ERROR:  canceling statement due to lock timeout\n"
        'CONTEXT:  while updating tuple (0,1) in relation "t"'
    )
    alice = page.block(fence_above(LOCK_DECK, "ROLLBACK"))
    assert alice.attrs["data-session"] == "alice"
    assert alice.find(class_="sql-status").text == "ROLLBACK"
    assert table_cells(alice.find("table", "sql-result")) == [[("num", "0")]]
    assert alice.find_all(class_="sql-late") == []


# Runs `mkdocs build` and, as it exits, writes the peak resident memory of this program
# itself: VmHWM belongs to the memory map exec made. (wait4's ru_maxrss would not do: it keeps
# the forked copy of the test process's own memory from before the exec, which grows as the
# suite runs.)
_PEAK_OF_MKDOCS = """
import atexit, re, sys
from pathlib import Path
peak_file = Path(sys.argv[1])
def _peak():
    status = Path("/proc/self/status").read_text()
    peak_file.write_text(re.search(r"VmHWM:\\s+(\\d+) kB", status)[1])
atexit.register(_peak)
sys.argv = ["mkdocs", *sys.argv[2:]]
from mkdocs.__main__ import cli
cli()
"""


def test_ten_million_rows_build_in_little_memory(tmp_path: Path, url: str):
    deck = "# Big\n\n```sql exec\nSELECT g FROM generate_series(1, 10000000) AS g;\n```\n"
    site = make_site(tmp_path, {"deck.md": deck}, database_url=url)
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    peak_file = tmp_path / "peak-kB"
    with (tmp_path / "stdout").open("w") as out, (tmp_path / "stderr").open("w") as err:
        completed = subprocess.run(
            [sys.executable, "-c", _PEAK_OF_MKDOCS, str(peak_file), "build", "--strict"],
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=err,
            check=False,
        )
    assert completed.returncode == 0, (tmp_path / "stderr").read_text()
    assert int(peak_file.read_text()) < 200 * 1024
    block = site.page("deck.md").block(3)
    assert table_cells(block.find("table", "sql-result")) == [
        [("num", str(n))] for n in range(1, 21)
    ]
    assert block.find(class_="sql-rows").text == "(10000000 rows) … 9999980 more rows"


def test_a_50_mb_value_is_cut_on_the_slide_and_in_the_cache(tmp_path: Path, url: str):
    deck = "# Huge\n\n```sql exec\nSELECT repeat('x', 50 * 1024 * 1024) AS big;\n```\n"
    site = make_site(tmp_path, {"deck.md": deck}, database_url=url)
    # The slide is far too wide for the stage, and the build says so (a warning, so not strict).
    completed = mkdocs_build(tmp_path, "--no-strict")
    assert completed.returncode == 0, completed.stderr
    assert " will be presented at about 0.0" in completed.stderr
    shown = "x" * 2000 + "… (52426800 more characters)"
    cell = site.page("deck.md").block(3).find("td")
    assert cell.text == shown
    (cache_file,) = (tmp_path / ".pgslides-cache").glob("*.json")
    assert cache_file.stat().st_size < 1024 * 1024
    stored = json.loads(cache_file.read_text(encoding="utf-8"))
    assert stored["outcome"]["blocks"][0]["statements"][0]["rows"] == [[shown]]


# --- 3. Statements that need care ----------------------------------------------------------------


def test_vacuum_and_create_index_concurrently_run(tmp_path: Path, url: str):
    deck = """
    # Maintenance

    ```sql exec
    CREATE TABLE t (id integer);
    INSERT INTO t SELECT generate_series(1, 100);
    VACUUM;
    VACUUM (ANALYZE) t;
    CREATE INDEX CONCURRENTLY t_id ON t (id);
    SELECT indexname FROM pg_indexes WHERE tablename = 't';
    ```
    """
    site = make_site(tmp_path, {"deck.md": deck}, database_url=url)
    build_site(site)
    block = site.page("deck.md").block(3)
    assert [s.text for s in block.find_all(class_="sql-status")] == [
        "CREATE TABLE",
        "INSERT 0 100",
        "VACUUM",
        "VACUUM",
        "CREATE INDEX",
    ]
    assert table_cells(block.find("table", "sql-result")) == [[("", "t_id")]]
    assert block.find_all(class_="sql-error") == []


GLOBAL_DB = f"hardening_db_{PID}"
GLOBAL_ROLE = f"Hardening Role {PID}"


@pytest.fixture
def global_names(pg_conn) -> Iterator[None]:
    """The database and role the deck creates, dropped whatever the build left behind."""
    yield
    with pg_conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{GLOBAL_DB}" WITH (FORCE)')
        cur.execute(f'DROP ROLE IF EXISTS "{GLOBAL_ROLE}"')


def global_leftovers(pg_conn) -> tuple[list[str], list[str]]:
    with pg_conn.cursor() as cur:
        cur.execute("SELECT datname FROM pg_database WHERE datname = %s", (GLOBAL_DB,))
        databases = [row[0] for row in cur.fetchall()]
        cur.execute("SELECT rolname FROM pg_roles WHERE rolname = %s", (GLOBAL_ROLE,))
        roles = [row[0] for row in cur.fetchall()]
    return databases, roles


@pytest.mark.parametrize("ending", ["deck ends", "build fails"])
@pytest.mark.usefixtures("global_names")
def test_databases_and_roles_a_deck_creates_are_dropped_after_it(
    tmp_path: Path, url: str, pg_conn, ending: str
):
    deck = f"""
    # Globals

    ```sql exec
    CREATE DATABASE {GLOBAL_DB} TEMPLATE template0;
    CREATE ROLE "{GLOBAL_ROLE}" LOGIN;
    CREATE TABLE secrets (x integer);
    GRANT SELECT ON secrets TO "{GLOBAL_ROLE}";
    ```

    ```sql exec
    SELECT count(*) AS made FROM pg_database WHERE datname = '{GLOBAL_DB}';
    ```
    """
    if ending == "build fails":
        deck += "\n    ```sql exec\n    SELECT 1 / 0;\n    ```\n"
    site = make_site(tmp_path, {"deck.md": deck}, database_url=url)
    if ending == "build fails":
        with pytest.raises(Abort):
            build_site(site)
    else:
        build_site(site)
        page = site.page("deck.md")
        assert [s.text for s in page.block(3).find_all(class_="sql-status")] == [
            "CREATE DATABASE",
            "CREATE ROLE",
            "CREATE TABLE",
            "GRANT",
        ]
        made = page.block(fence_above(deck, "AS made")).find("table", "sql-result")
        assert table_cells(made) == [[("num", "1")]]
    assert global_leftovers(pg_conn) == ([], [])


COPY_DECK = """
# Copy

```sql exec show=none
CREATE TABLE t (id integer, name text);
INSERT INTO t VALUES (1, 'Ann'), (2, E'Tab\\there'), (3, NULL);
```

```sql exec
COPY t TO STDOUT;
```
"""


def test_copy_to_stdout_shows_the_data_and_the_tag(tmp_path: Path, url: str):
    site = make_site(tmp_path, {"deck.md": COPY_DECK}, database_url=url)
    build_site(site)
    block = site.page("deck.md").block(fence_above(COPY_DECK, "COPY t TO STDOUT"))
    assert output_kinds(block) == ["sql-copy", "sql-status"]
    assert block.find("pre", "sql-copy").text == "1\tAnn\n2\tTab\\there\n3\t\\N"
    assert block.find(class_="sql-status").text == "COPY 3"


def test_copy_to_stdout_tag_counts_rows_not_lines(
    tmp_path: Path, url: str, pg_server: Server, psql_bin: str
):
    sql = (
        "COPY (SELECT id, name FROM (VALUES (1, 'Ann'), (2, E'two\\nlines'), (3, NULL)) "
        "AS t (id, name) ORDER BY id) TO STDOUT WITH (FORMAT csv, HEADER)"
    )
    deck = f"# Copy\n\n```sql exec\n{sql};\n```\n"
    site = make_site(tmp_path, {"deck.md": deck}, database_url=url)
    build_site(site)
    block = site.page("deck.md").block(3)
    data = 'id,name\n1,Ann\n2,"two\nlines"\n3,'
    assert psql(psql_bin, pg_server, sql).stdout.rstrip("\n") == data
    assert block.find("pre", "sql-copy").text == data
    assert block.find(class_="sql-status").text == "COPY 3"


def test_copy_from_stdin_fails_the_build_with_a_way_out(tmp_path: Path, url: str):
    deck = """
    # Loading

    ```sql exec
    CREATE TABLE t (id integer);
    COPY t FROM STDIN;
    ```
    """
    make_site(tmp_path, {"deck.md": deck}, database_url=url)
    assert failed_build(tmp_path) == page_error_lines(
        "slides/deck.md:3: COPY ... FROM STDIN needs data from the client, which a live block "
        "cannot send; use INSERT ... VALUES, or COPY FROM a file on the server"
    )


@pytest.mark.parametrize(("command", "word"), [("\\d users", "\\d"), ("\\dt", "\\dt")])
def test_psql_meta_command_fails_the_build(tmp_path: Path, url: str, command: str, word: str):
    deck = f"# Describe\n\nSome prose.\n\n```sql exec\nSELECT 1;\n{command}\n```\n"
    make_site(tmp_path, {"deck.md": deck}, database_url=url)
    assert failed_build(tmp_path) == page_error_lines(
        f"slides/deck.md:5: psql meta-command {word} is not SQL and cannot run in a live block; "
        "query the catalog instead (e.g. SELECT ... FROM information_schema.columns) "
        "or use a plain ```sql fence to show it"
    )


MESSY_DECK = """
# Deck A changes its sessions

```sql exec
SET search_path = nowhere;
SET TimeZone = 'Asia/Tokyo';
SHOW search_path;
```

```sql exec
RESET ALL;
SHOW search_path;
SHOW TimeZone;
```

```sql exec
SET ROLE pg_monitor;
SET search_path = nowhere;
SELECT current_user AS role, current_setting('search_path') AS path;
```
"""

CLEAN_DECK = """
# Deck B

```sql exec
SELECT current_user AS role, session_user AS login,
       current_setting('search_path') AS path, current_setting('TimeZone') AS zone;
```
"""


@pytest.mark.parametrize("jobs", [1, None], ids=["jobs-1", "jobs-default"])
def test_session_settings_of_one_deck_never_leak_into_another(
    tmp_path: Path, url: str, pg_conn, jobs: int | None
):
    options = {} if jobs is None else {"jobs": jobs}
    site = make_site(
        tmp_path, {"a.md": MESSY_DECK, "b.md": CLEAN_DECK}, database_url=url, **options
    )
    build_site(site)
    with pg_conn.cursor() as cur:
        cur.execute("SELECT current_user")
        (connecting_role,) = cur.fetchone()

    deck_a = site.page("a.md")
    tables = [table_cells(t) for t in deck_a.find_all("table", "sql-result")]
    assert tables == [
        [[("", "nowhere")]],
        [[("", '"$user", public')]],  # RESET ALL returns to the pinned settings
        [[("", "UTC")]],
        [[("", "pg_monitor"), ("", "nowhere")]],
    ]
    deck_b = site.page("b.md").block(3).find("table", "sql-result")
    assert table_cells(deck_b) == [
        [("", connecting_role), ("", connecting_role), ("", '"$user", public'), ("", "UTC")]
    ]


# --- 4. Hostile values ---------------------------------------------------------------------------

# (hostile, harmless) pairs: the harmless deck has the same shape without any markup.
PAYLOADS = {
    "@SCRIPT@": ("<script>alert(1)</script>", "script alert(1) /script"),
    "@QUOTES@": ("'\"&amp;&<>", "quotes amp and lt gt"),
    "@IMG@": ("<img src=x onerror=alert(1)>", "img src=x alert(1)"),
    "@BOLD@": ("<b>bold</b>", "b bold /b"),
    "@NOTICE@": ("<script>alert(2)</script>", "script alert(2) /script"),
    "@TEXT@": ("<script>alert(3)</script>", "script alert(3) /script"),
}
RTL = "\u202eevil\u200bzero-width"
LONG_WORD = "w" * 500

HOSTILE_TEMPLATE = """
# Hostile values

```sql exec
SELECT $$@SCRIPT@$$ AS script, $$@QUOTES@$$ AS quotes, E'\\u202Eevil\\u200Bzero-width' AS rtl,
       repeat('w', 500) AS long, E'a\\x01b\\x07c' AS ctl, 1 AS "@IMG@";
```

---

## Messages

```sql exec expect=P0001
DO $$ BEGIN
  RAISE NOTICE '%', $n$@NOTICE@$n$;
  RAISE EXCEPTION '%', $e$@BOLD@$e$ USING DETAIL = $d$@BOLD@$d$, HINT = $h$@IMG@$h$;
END $$;
```

```sql exec format=text show=result
SELECT $$@TEXT@$$ AS "@IMG@";
```

```sql exec format=json show=result
SELECT $$@TEXT@$$ AS "@IMG@";
```
"""


def hostile_deck(which: int) -> str:
    text = HOSTILE_TEMPLATE
    for marker, pair in PAYLOADS.items():
        text = text.replace(marker, pair[which])
    return text


@pytest.fixture(scope="module")
def hostile(pg_server: Server, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Site]:
    """The hostile deck and its harmless twin, each built into a site of its own."""
    sites = {}
    for name, which in (("hostile", 0), ("harmless", 1)):
        site = make_site(
            tmp_path_factory.mktemp(name),
            {"deck.md": hostile_deck(which)},
            database_url=database_url(pg_server),
        )
        build_site(site)
        sites[name] = site
    return sites


class _Balance(HTMLParser):
    """Checks that every element is closed, by the right end tag (as tests/test_render.py)."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list) -> None:
        pass  # <path/>: opens and closes itself

    def handle_endtag(self, tag: str) -> None:
        assert self.stack, f"</{tag}> closes nothing at {self.getpos()}"
        assert self.stack.pop() == tag, f"</{tag}> closes the wrong element at {self.getpos()}"


@pytest.mark.parametrize("name", ["hostile", "harmless"])
def test_hostile_page_parses_with_balanced_tags(hostile: dict[str, Site], name: str):
    parser = _Balance()
    parser.feed(hostile[name].page_path("deck.md").read_text(encoding="utf-8"))
    parser.close()
    assert parser.stack == []


def test_no_element_or_attribute_comes_from_a_result(hostile: dict[str, Site]):
    html = {
        name: site.page_path("deck.md").read_text(encoding="utf-8")
        for name, site in hostile.items()
    }
    for needle in ("<script", "<img", "<b>"):
        assert html["hostile"].count(needle) == html["harmless"].count(needle), needle
    page = hostile["hostile"].page("deck.md")
    assert [node for node in page.iter() if "onerror" in node.attrs] == []
    blocks = page.find_all(data_sql_block=True)
    assert len(blocks) == 4
    for block in blocks:
        inside = [node.tag for node in block.iter()]
        assert not {"script", "img", "b"} & set(inside)
        assert not [name for node in block.iter() for name in node.attrs if name.startswith("on")]


def test_hostile_values_are_shown_as_text(hostile: dict[str, Site]):
    page = hostile["hostile"].page("deck.md")
    script, quotes, img, bold, notice, text = (pair[0] for pair in PAYLOADS.values())
    table = page.block(3).find("table", "sql-result")
    assert header_cells(table) == [
        ("", "script"),
        ("", "quotes"),
        ("", "rtl"),
        ("", "long"),
        ("", "ctl"),
        ("num", img),
    ]
    assert table_cells(table) == [
        [
            ("", script),
            ("", quotes),
            ("", RTL),
            ("", LONG_WORD),
            ("", "a\\x01b\\x07c"),
            ("num", "1"),
        ]
    ]

    messages = page.block(fence_line(HOSTILE_TEMPLATE, "expect=P0001"))
    assert messages.find("pre", "sql-notice").text == f"NOTICE:  {notice}"
    assert messages.find(class_="sql-error").text == (
        f"ERROR:  {bold}\n"
        f"DETAIL:  {bold}\n"
        f"HINT:  {img}\n"
        "CONTEXT:  PL/pgSQL function inline_code_block line 3 at RAISE"
    )
    as_text = page.block(fence_line(HOSTILE_TEMPLATE, "format=text"))
    width = len(img)  # the header is the widest line; psql pads no last column on the right
    assert as_text.find("pre", "sql-text").text == f" {img} \n-{'-' * width}-\n {text}"
    as_json = page.block(fence_line(HOSTILE_TEMPLATE, "format=json"))
    assert json.loads(as_json.find("pre", "sql-json").text) == [{img: text}]


def test_search_index_is_valid_json_without_markup_from_results(hostile: dict[str, Site]):
    raw = (hostile["hostile"].site_dir / "search" / "search_index.json").read_text(encoding="utf-8")
    index = json.loads(raw)
    texts = [field for doc in index["docs"] for field in (doc["title"], doc["text"])]
    indexed = "\n".join(texts)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in indexed  # the value is there, escaped
    for needle in ("<script", "<img", "<b>", "</script"):
        assert needle not in indexed
        assert needle not in raw


def test_control_characters_appear_as_psql_writes_them(
    tmp_path: Path, url: str, pg_server: Server, psql_bin: str
):
    sql = "SELECT E'a\\x01b\\x07c\\x1bd\\x7fe' AS c, 1 AS U&\"bell\\0007\""
    deck = f"# Control\n\n```sql exec\n{sql};\n```\n\n```sql exec format=text\n{sql};\n```\n"
    site = make_site(tmp_path, {"deck.md": deck}, database_url=url)
    build_site(site)
    page = site.page("deck.md")
    shown_by_psql = psql(psql_bin, pg_server, sql).stdout
    assert "a\\x01b\\x07c\\x1Bd\\x7Fe" in shown_by_psql  # the oracle
    table = page.block(3).find("table", "sql-result")
    assert header_cells(table) == [("", "c"), ("num", "bell\\x07")]
    assert table_cells(table) == [[("", "a\\x01b\\x07c\\x1Bd\\x7Fe"), ("num", "1")]]
    aligned = shown_by_psql.split("\n(1 row)")[0]
    assert page.block(7).find("pre", "sql-text").text == aligned


# --- 10. The deck parser's properties ------------------------------------------------------------

VALID_VALUES = {
    "session": ("main", "alice", "bob_2"),
    "show": SHOW_CHOICES,
    "expect": ("ok", "error", "23505", "42P01"),
    "rows": ("0", "5"),
    "format": FORMAT_CHOICES,
    "timeout": ("500ms", "5s", "1min"),
    "title": ('"Who said what"', "x", "'a --- b'"),
    "grace": ("200ms", "1s"),
    "prompt": ("true", "off"),
    "steps": ("statements",),
    "hl": ("1", '"1-2|3"', "1,3"),
    "chart": ("bar", "line"),
    "x": ("users", '"a b"'),
    "y": ("lazy", "lazy,selectinload"),
}
ODD_VALUES = ("", "all", "-1", "1.5", "0ms", "10 seconds", '"unclosed', "'", "=", "x=y", "\\")

valid_option = st.sampled_from(BLOCK_OPTIONS).flatmap(
    lambda key: st.sampled_from(VALID_VALUES[key]).map(lambda value: f"{key}={value}")
)
odd_option = st.one_of(
    st.builds(
        "{}={}".format, st.sampled_from((*BLOCK_OPTIONS, "bogus", "")), st.sampled_from(ODD_VALUES)
    ),
    st.sampled_from(("noequals", '"', "'", "show=result show=none")),
)
live_info = st.builds(
    lambda info, options: " ".join([info, *options]),
    st.sampled_from(("sql exec", "sql  exec", "sql exec`", "sql", "python", "erd exec")),
    st.lists(st.one_of(valid_option, valid_option, odd_option), max_size=3),
)
LINE_FRAGMENTS = (
    "---",
    "--- ",
    "---\t",
    " ---",
    "----",
    "???",
    "",
    " ",
    "\t",
    "# Title",
    "## A slide",
    "<!-- columns -->",
    "```",
    "~~~",
    "SELECT 1;",
    "SELECT '---';",
    "\\d users",
    "title: Deck",
    "sql:",
    "  max_rows: 3",
)
# Markdown punctuation, quotes, SQL, non-ASCII letters and a carriage return (a line break
# that parse_deck normalises); no other Unicode line breaks or digits (see below).
ALPHABET = "`~-?#=\"' \t\\;:$(){}[]<>aZ0é☃日\r\n"
# Line breaks to str.splitlines (not to Markdown), digits to str.isdigit (² not to int()).
EXOTIC = "\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029\u00a0²١"


def deck_texts(alphabet: str) -> st.SearchStrategy[str]:
    """Decks made of lines, blank-line-then-separator pairs, and fences (live or not, closed
    by the same fence, a longer one, another kind, or nothing)."""
    line = st.one_of(st.sampled_from(LINE_FRAGMENTS), st.text(alphabet=alphabet, max_size=12))
    separator = st.sampled_from(("\n---", " \n---", "\n--- ", "\n---\n???"))

    @st.composite
    def fenced(draw: st.DrawFn) -> str:
        fence = draw(st.sampled_from(("```", "~~~", "````")))
        indent = draw(st.sampled_from(("", "", " ", "   ")))
        body = draw(st.lists(line, max_size=4))
        other = "~~~" if fence[0] == "`" else "```"
        closing = draw(st.sampled_from((fence, fence, fence, fence + fence[0], other, "")))
        return "\n".join([f"{indent}{fence}{draw(live_info)}", *body, closing])

    return st.builds(
        lambda parts, newline: "\n".join(parts) + ("\n" if newline else ""),
        st.lists(st.one_of(line, line, separator, fenced()), max_size=24),
        st.booleans(),
    )


PROPERTY_SETTINGS = settings(
    max_examples=400,
    deadline=None,
    database=None,  # write nothing into the repository
    derandomize=True,  # the same examples on every run: a failure here is never a fluke
    suppress_health_check=[HealthCheck.too_slow],
)


def normalised(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def parse_or_error(text: str) -> Deck | DeckError:
    """parse_deck's result or its DeckError, which must name a line of the file; anything
    else it raises fails the test."""
    try:
        return parse_deck(text, "slides/deck.md")
    except DeckError as caught:
        error = caught
    line_count = len(normalised(text).split("\n"))
    assert 1 <= error.line <= line_count, (error.line, line_count, str(error))
    assert error.path == "slides/deck.md"
    assert str(error) == f"slides/deck.md:{error.line}: {error.message}"
    return error


@PROPERTY_SETTINGS
@given(deck_texts(ALPHABET))
def test_parse_deck_returns_a_deck_or_a_deck_error_on_a_line_of_the_file(text: str):
    parse_or_error(text)


@PROPERTY_SETTINGS
@given(deck_texts(ALPHABET + EXOTIC))
@example("```sql exec rows=²\nSELECT 1;\n```\n")
@example("Intro\x0c\x0c\x0c```sql exec\nSELECT 1;\n")
def test_parse_deck_property_holds_for_any_unicode(text: str):
    parse_or_error(text)


def _lines(text: str) -> list[str]:
    """text's lines, each with its newline."""
    return re.findall(r"[^\n]*\n|[^\n]+\Z", text)


def _blank(line: str) -> bool:
    return line.strip(" \t\n") == ""


def _separator(line: str) -> bool:
    return re.fullmatch(r"---[ \t]*\n?", line) is not None


def _gap_ok(text: str, start: int, end: int, shape: str) -> bool:
    """Whether text[start:end] is whole lines that are only separators (S) and blank lines
    (B), in the shape given as a regex; the line above a separator is blank, another
    separator, or the file start."""
    if 0 < start < end and text[start - 1] != "\n":
        return False
    above = text[:start].split("\n")[-2] if text[:start].count("\n") else None
    kinds = ""
    for line in _lines(text[start:end]):
        if _separator(line):
            if not kinds and above is not None and not _blank(above):
                return False
            kinds += "S"
        elif _blank(line):
            kinds += "B"
        else:
            return False
    return re.fullmatch(shape, kinds) is not None


def assert_slides_tile_the_text(text: str, deck: Deck) -> None:
    """The invariant _split_slides keeps, for a deck without front matter:

    the text (newlines normalised) is the slides' `source`s in order, with only these taken
    out: separator lines (`---` and optional spaces or tabs, under a blank line, the file
    start or another separator) and the blank lines of would-be slides that held nothing
    else, before the first slide (B*S)*, between two slides S(B*S)* and after the last (SB*)*;
    when every would-be slide is blank, the first one is kept.
    """
    position = 0
    for index, slide in enumerate(deck.slides):
        shape = "(B*S)*" if index == 0 else "S(B*S)*"
        starts = [
            start
            for start in range(position, len(text) + 1)
            if (start == 0 or text[start - 1] == "\n")
            and text.startswith(slide.source, start)
            and _gap_ok(text, position, start, shape)
        ]
        assert starts, f"slide {slide.number}'s source is not where the text has it"
        position = starts[0] + len(slide.source)
    assert _gap_ok(text, position, len(text), "(SB*)*"), f"left over: {text[position:]!r}"

    lines = text.split("\n")
    for slide in deck.slides:
        first = next((line for line in _lines(slide.source) if not _blank(line)), None)
        if first is not None:
            assert lines[slide.line - 1] == first.rstrip("\n"), slide.number
    for block in deck.blocks:
        assert "sql" in lines[block.line - 1]
        assert lines[block.line - 1].lstrip(" ")[:3] in ("```", "~~~")


@PROPERTY_SETTINGS
@given(deck_texts(ALPHABET))
def test_splitting_keeps_every_character_of_the_slides(text: str):
    text = normalised(text)
    if text.startswith("---"):
        return  # front matter, or a separator at the file start: not this property's case
    result = parse_or_error(text)
    if isinstance(result, Deck):
        assert_slides_tile_the_text(text, result)


def test_the_tiling_check_sees_a_lost_character():
    # The checker itself: a source that lost its last character is caught.
    text = "# One\n\n---\n\n# Two\n"
    deck = parse_deck(text, "slides/deck.md")
    assert [slide.source for slide in deck.slides] == ["# One\n\n", "\n# Two\n"]
    assert_slides_tile_the_text(text, deck)
    lost = dataclasses.replace(deck.slides[1], source="\n# Two")
    broken = dataclasses.replace(deck, slides=(deck.slides[0], lost))
    with pytest.raises(AssertionError):
        assert_slides_tile_the_text(text, broken)


@pytest.mark.parametrize("character", ["\x0c", "\x1c", "\x85", "\u2028"], ids=repr)
def test_only_newlines_end_a_line(character: str):
    deck = parse_deck(f"a{character}b\n\n```sql exec\nSELECT 1;\n```\n", "slides/deck.md")
    assert [block.line for block in deck.blocks] == [3]
    glued = parse_deck(f"Intro{character}```sql exec\nSELECT 1;\n", "slides/deck.md")
    assert glued.blocks == ()


def test_rows_with_a_digit_int_cannot_read_is_a_deck_error():
    with pytest.raises(DeckError) as caught:
        parse_deck("# R\n\n```sql exec rows=²\nSELECT 1;\n```\n", "slides/deck.md")
    assert str(caught.value) == (
        "slides/deck.md:3: bad value '²' for option rows; expected a whole number ≥ 0"
    )


def test_a_no_break_space_line_is_not_blank():
    deck = parse_deck("# One\n\n\u00a0\n---\n\nText\n", "slides/deck.md")
    assert len(deck.slides) == 1
