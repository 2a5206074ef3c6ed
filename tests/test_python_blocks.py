"""```python exec``` blocks on a real server: one namespace and one worker per deck, what a block
printed, returned and sent, its exceptions, stopping it, and nothing of it left behind."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import signal
import subprocess
import textwrap
import threading
import time
from collections.abc import Callable
from typing import Any

import psutil
import pytest

from pgslides.errors import DeckError
from pgslides.outcome import DeckOutcome
from pgslides.parse.deck import Deck, parse_deck
from pgslides.render import render_deck_blocks
from pgslides.report import deck_problems
from pgslides.run.admin import Admin
from pgslides.run.database import DeckDatabase, SessionSettings
from pgslides.run.execute import ExecutionError, RunLimits
from pgslides.run.server import Server, connect
from pgslides.run.timeline import run_deck
from sites import BIN, database_url, log_messages, make_site, mkdocs_build, parse_html

PATH = "slides/deck.md"
SECRET = "Hunter2-pw"


def workers_of(pid: int) -> list[psutil.Process]:
    """Python workers, anywhere, that build process `pid` started and that are still alive."""
    found = []
    for process in psutil.process_iter():
        try:
            if "pgslides.run.pyworker" not in " ".join(process.cmdline()):
                continue
            if (
                process.environ().get("PGSLIDES_PARENT") == str(pid)
                and process.status() != "zombie"
            ):
                found.append(process)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


def databases_of(pg_server: Server, pid: int) -> list[str]:
    """The databases and roles the build of process `pid` made that are still there."""
    like = f"pgslides\\_%\\_{pid}\\_%"
    conn = connect(pg_server, None)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT datname FROM pg_database WHERE datname LIKE %s"
                " UNION ALL SELECT rolname FROM pg_roles WHERE rolname LIKE %s",
                (like, like),
            )
            return [name for (name,) in cur.fetchall()]
    finally:
        conn.close()


def workers() -> list[psutil.Process]:
    """This process's Python workers that are still alive."""
    found = []
    for child in psutil.Process().children(recursive=True):
        try:
            if "pgslides.run.pyworker" in " ".join(child.cmdline()):
                found.append(child)
        except psutil.NoSuchProcess:
            continue
    return found


def run(
    pg_server: Server,
    source: str,
    *,
    adjust: Callable[[DeckDatabase], None] | None = None,
    stop: threading.Event | None = None,
) -> tuple[Deck, DeckOutcome]:
    deck = parse_deck(textwrap.dedent(source).lstrip("\n"), PATH)
    with (
        Admin(pg_server) as admin,
        DeckDatabase(admin, "python", "database", SessionSettings()) as db,
    ):
        if adjust is not None:
            adjust(db)
        outcome = run_deck(deck, db, RunLimits(), stop=stop)
    assert workers() == []
    assert DeckOutcome.from_dict(json.loads(json.dumps(outcome.to_dict()))) == outcome
    return deck, outcome


def html(deck: Deck, outcome: DeckOutcome, index: int) -> Any:
    return parse_html(str(render_deck_blocks(deck, outcome)[index]))


def test_one_namespace_across_blocks_interleaved_with_sql_both_ways(pg_server: Server):
    _deck, outcome = run(
        pg_server,
        """
        ```sql exec
        CREATE TABLE users (id int PRIMARY KEY, name text);
        INSERT INTO users VALUES (1, 'Ada');
        ```

        ```python exec
        from sqlalchemy import text
        with engine.begin() as conn:
            seen = conn.execute(text("SELECT name FROM users")).scalar_one()
            conn.execute(text("INSERT INTO users VALUES (2, :name)"), {"name": seen + " II"})
        ```

        ```python exec
        seen
        ```

        ```sql exec
        SELECT name FROM users ORDER BY id;
        ```
        """,
    )
    assert [block.problem for block in outcome.blocks] == [None] * 4
    assert outcome.blocks[2].python is not None
    assert outcome.blocks[2].python.value == "'Ada'"
    assert outcome.blocks[3].statements[0].rows == (("Ada",), ("Ada II",))


def test_stdout_and_stderr_interleave_in_the_order_written(pg_server: Server):
    _deck, outcome = run(
        pg_server,
        """
        ```python exec
        import sys
        print("one")
        print("two", file=sys.stderr)
        sys.stdout.write("three\\n")
        print("four", file=sys.stderr)
        ```
        """,
    )
    python = outcome.blocks[0].python
    assert python is not None
    assert python.output == (
        ("stdout", "one\n"),
        ("stderr", "two\n"),
        ("stdout", "three\n"),
        ("stderr", "four\n"),
    )


def test_last_expression_repr_and_rows_as_a_result_table(pg_server: Server):
    deck, outcome = run(
        pg_server,
        """
        ```python exec
        {"answer": 6 * 7}
        ```

        ```python exec
        from sqlalchemy import text
        with engine.connect() as conn:
            show(conn.execute(text("SELECT 1 AS n, 'x' AS label")))
            rows = conn.execute(text("SELECT g AS g FROM generate_series(1, 3) AS g")).all()
        rows
        ```

        ```python exec
        x = 1
        ```
        """,
    )
    first, second, third = (block.python for block in outcome.blocks)
    assert first is not None
    assert second is not None
    assert third is not None
    assert first.value == "{'answer': 42}"
    assert [table.rows for table in second.shown] == [(("1", "x"),)]
    assert second.value_table is not None
    assert second.value_table.rows == (("1",), ("2",), ("3",))
    assert second.value_table.columns[0].numeric
    assert third.value is None
    assert third.value_table is None
    page = html(deck, outcome, 1)
    tables = page.find_all("table", class_="sql-result")
    assert len(tables) == 2
    assert "data-python-block" in page.find("div", class_="sql-block").attrs


SENDS_TWO = """
```sql exec
CREATE TABLE t (id int, label text);
```

```python exec {options}
from sqlalchemy import text
with engine.begin() as conn:
    conn.execute(text("INSERT INTO t VALUES (:id, :label)"), {{"id": 7, "label": "seven"}})
    conn.exec_driver_sql("SELECT count(*) FROM t")
```
"""


def test_the_sql_sent_is_listed_with_its_parameters_in_order(pg_server: Server):
    deck, outcome = run(pg_server, SENDS_TWO.format(options=""))
    python = outcome.blocks[1].python
    assert python is not None
    assert python.sql == (
        ("INSERT INTO t VALUES (%(id)s, %(label)s)", "{'id': 7, 'label': 'seven'}"),
        ("SELECT count(*) FROM t", None),
    )
    listed = html(deck, outcome, 1).find("div", class_="python-sql")
    assert listed.attrs["data-statements"] == "2"
    statements = listed.find_all("div", class_="python-sql-statement")
    assert [s.text for s in statements] == [
        "INSERT INTO t VALUES (%(id)s, %(label)s){'id': 7, 'label': 'seven'}",
        "SELECT count(*) FROM t",
    ]


@pytest.mark.parametrize(("option", "listed"), [("sql=count", False), ("sql=hide", None)])
def test_sql_count_shows_only_the_count_and_hide_nothing(
    pg_server: Server, option: str, listed: bool | None
):
    deck, outcome = run(pg_server, SENDS_TWO.format(options=option))
    page = html(deck, outcome, 1)
    if listed is None:
        assert page.find_all("div", class_="python-sql") == []
        return
    found = page.find("div", class_="python-sql")
    assert found.attrs["data-statements"] == "2"
    assert found.find_all("div", class_="python-sql-statement") == []
    assert "2 statements sent" in found.text


FK_DECK = """
```sql exec
CREATE TABLE users (id int PRIMARY KEY);
CREATE TABLE comments (user_id int REFERENCES users);
```

```python exec {options}
from sqlalchemy import text

with engine.begin() as conn:
    conn.execute(text("INSERT INTO comments VALUES (99)"))
```
"""


@pytest.mark.parametrize(
    "expect", ["IntegrityError", "sqlalchemy.exc.IntegrityError", "23503", "error", "DBAPIError"]
)
def test_an_expected_exception_by_class_or_sqlstate_is_the_slides_point(
    pg_server: Server, expect: str
):
    deck, outcome = run(pg_server, FK_DECK.format(options=f"expect={expect}"))
    block = outcome.blocks[1]
    assert block.problem is None
    assert block.python is not None
    assert block.python.error is not None
    error = block.python.error
    assert (error.exception, error.sqlstate, error.expected) == ("IntegrityError", "23503", True)
    assert error.detail == 'Key (user_id)=(99) is not present in table "users".'
    shown = html(deck, outcome, 1).find("div", class_="python-error")
    assert shown.attrs["data-exception"] == "IntegrityError"
    assert shown.attrs["data-sqlstate"] == "23503"
    assert "SQLSTATE: 23503" in shown.text


def test_an_unexpected_exception_names_the_deck_line_of_the_failing_python_line(
    pg_server: Server,
):
    deck, outcome = run(pg_server, FK_DECK.format(options=""))
    fence = deck.blocks[1].line
    (problem,) = deck_problems(deck, outcome)
    assert problem.line == fence + 4  # the conn.execute line, inside the block
    assert str(problem).startswith(f"{PATH}:{fence + 4}: IntegrityError: (psycopg2.errors.")
    python = outcome.blocks[1].python
    assert python is not None
    assert python.error is not None
    traceback = python.error.traceback
    assert f'File "{PATH}", line {fence + 4}, in <module>' in traceback
    assert "site-packages" not in traceback
    assert "sqlalchemy/" not in traceback
    assert html(deck, outcome, 1).find("div", class_="sql-block").attrs["data-line"] == str(fence)


@pytest.mark.parametrize("expect", ["ValueError", "23505"])
def test_another_exception_than_expected_fails_the_block(pg_server: Server, expect: str):
    _deck, outcome = run(pg_server, FK_DECK.format(options=f"expect={expect}"))
    assert outcome.blocks[1].problem is not None
    assert outcome.blocks[1].problem.startswith(f"expected {expect}, got IntegrityError: ")


def test_an_expected_exception_that_never_comes_fails_the_block(pg_server: Server):
    _deck, outcome = run(pg_server, "```python exec expect=ZeroDivisionError\n1 / 2\n```\n")
    assert outcome.blocks[0].problem == (
        "expected ZeroDivisionError, but the block ran without an exception"
    )


@pytest.mark.parametrize(
    "code", ["while True:\n    pass", "import time\ntime.sleep(60)"], ids=["loop", "sleep"]
)
def test_a_block_past_its_timeout_is_stopped_and_fails_with_file_line(pg_server: Server, code: str):
    started = time.monotonic()
    deck, outcome = run(
        pg_server,
        f"```python exec timeout=1s expect=error\n{code}\n```\n\n```python exec\n1\n```\n",
    )
    assert time.monotonic() - started < 10
    first, second = deck_problems(deck, outcome)
    assert str(first) == (f"{PATH}:1: the Python block ran past its timeout of 1 s and was stopped")
    assert second.message == f"not run: the deck's Python worker was stopped at {PATH}:1"


@pytest.mark.parametrize(
    ("code", "said"),
    [
        ("import os\nos._exit(3)", "the Python worker exited with status 3"),
        ("import ctypes\nctypes.string_at(0)", "the Python worker was killed by SIGSEGV"),
    ],
    ids=["os._exit", "segfault"],
)
def test_a_worker_that_dies_fails_the_block_with_its_exit_status(
    pg_server: Server, code: str, said: str
):
    _deck, outcome = run(pg_server, f"```python exec\n{code}\n```\n")
    assert outcome.blocks[0].problem == said


def test_no_worker_is_left_after_an_exception_or_an_interrupt(pg_server: Server):
    run(pg_server, "```python exec\nraise RuntimeError('boom')\n```\n")  # run() checks
    stop = threading.Event()
    failed: list[BaseException] = []

    def interrupted() -> None:
        try:
            run(pg_server, "```python exec\nimport time\ntime.sleep(60)\n```\n", stop=stop)
        except ExecutionError as error:
            failed.append(error)

    thread = threading.Thread(target=interrupted)
    thread.start()
    deadline = time.monotonic() + 20
    while not workers() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert workers() != []
    stop.set()
    thread.join(10)
    assert not thread.is_alive()
    assert [str(error) for error in failed] == [f"{PATH}:1: interrupted"]
    assert workers() == []


def test_printed_and_returned_text_is_escaped(pg_server: Server):
    deck, outcome = run(
        pg_server,
        """
        ```python exec
        print("<script>alert(1)</script>")
        "<img src=x onerror=alert(2)>"
        ```
        """,
    )
    rendered = str(render_deck_blocks(deck, outcome)[0])
    assert "<script>" not in rendered
    assert "<img" not in rendered
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in rendered
    assert parse_html(rendered).find("pre", class_="python-output").text.startswith("<script>")


def test_the_password_never_comes_back_from_the_worker(pg_server: Server):
    def with_password(db: DeckDatabase) -> None:
        db.server = dataclasses.replace(db.server, password=SECRET)

    deck, outcome = run(
        pg_server,
        """
        ```python exec
        print(engine.url)
        print(url.password)
        raise ValueError(url.password)
        ```
        """,
        adjust=with_password,
    )
    python = outcome.blocks[0].python
    assert python is not None
    ((stream, text),) = python.output
    printed_url, printed_password = text.splitlines()
    assert stream == "stdout"
    assert printed_url.startswith("postgresql+psycopg2://")
    assert ":***@" in printed_url
    assert printed_password == "***"
    everything = json.dumps(outcome.to_dict()) + str(render_deck_blocks(deck, outcome)[0])
    assert SECRET not in everything
    assert "ValueError: ***" in everything


def test_sql_options_on_a_python_block_and_python_options_on_sql_are_errors():
    with pytest.raises(DeckError) as raised:
        parse_deck("# t\n\n```python exec session=alice\n1\n```\n", PATH)
    assert str(raised.value) == (
        f"{PATH}:3: option 'session' is for SQL blocks, not Python blocks; "
        "a Python block takes show, expect, timeout, sql, title, hl"
    )
    with pytest.raises(DeckError) as raised:
        parse_deck("# t\n\n```sql exec sql=count\nSELECT 1;\n```\n", PATH)
    assert str(raised.value).startswith(f"{PATH}:3: option 'sql' is for Python blocks")
    with pytest.raises(DeckError) as raised:
        parse_deck("# t\n\n```python exec expect=no-such!\n1\n```\n", PATH)
    assert "an exception class name such as IntegrityError" in str(raised.value)


SLEEPY_PYTHON = """
# Sleepy

```python exec
print("awake")
```

```python exec
import time
time.sleep(60)
```
"""


def start_build(root: Any) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(BIN / "mkdocs"), "build", "--strict"],
        cwd=root,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # a group of its own: SIGINT as Ctrl-C sends it reaches it alone
    )


def test_no_worker_or_database_outlives_a_build_that_succeeds_fails_or_gets_sigint(
    tmp_path: Any, pg_server: Server
):
    url = database_url(pg_server)
    quick = make_site(
        tmp_path / "quick",
        {"deck.md": SLEEPY_PYTHON.split("```python exec\nimport", maxsplit=1)[0]},
        database_url=url,
        cache_dir="",
    )
    proc = start_build(quick.root)
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert "awake" in quick.page("deck.md").find("pre", class_="python-output").text
    assert workers_of(proc.pid) == []
    assert databases_of(pg_server, proc.pid) == []

    failing = make_site(
        tmp_path / "failing",
        {"deck.md": SLEEPY_PYTHON.replace("time.sleep(60)", "1 / 0")},
        database_url=url,
        cache_dir="",
    )
    proc = start_build(failing.root)
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 1
    assert "slides/deck.md:9: ZeroDivisionError: division by zero" in err
    assert workers_of(proc.pid) == []
    assert databases_of(pg_server, proc.pid) == []

    sleepy = make_site(
        tmp_path / "sleepy", {"deck.md": SLEEPY_PYTHON}, database_url=url, cache_dir=""
    )
    proc = start_build(sleepy.root)
    try:
        deadline = time.monotonic() + 60
        while not workers_of(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        (worker,) = workers_of(proc.pid)
        time.sleep(0.5)  # into the sleeping block
        os.killpg(proc.pid, signal.SIGINT)
        _out, err = proc.communicate(timeout=10)
        assert proc.returncode != 0
        assert "Traceback" not in err
        assert not worker.is_running() or worker.status() == "zombie"
        assert workers_of(proc.pid) == []
        assert databases_of(pg_server, proc.pid) == []
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


CACHED_DECK = """
# Cached

{prose}
```python exec expect=ZeroDivisionError
print("ran")
1 / 0
```
"""


def test_a_python_block_is_cached_and_its_traceback_lines_move_with_the_prose(
    tmp_path: Any, pg_server: Server
):
    url = database_url(pg_server)

    def build(prose: str) -> tuple[str, Any]:
        site = make_site(tmp_path, {"deck.md": CACHED_DECK.format(prose=prose)}, database_url=url)
        done = mkdocs_build(site.root)
        assert done.returncode == 0, done.stderr
        pattern = re.compile(r"pgslides: slides/deck\.md: \d+ blocks?, \d+\.\d\d s, (.*)")
        (how,) = [
            m[1] for line in log_messages(done.stderr, "INFO") if (m := pattern.fullmatch(line))
        ]
        return how, site.page("deck.md").find("div", class_="python-error")

    how, error = build("")
    assert how.startswith("run")
    assert 'File "slides/deck.md", line 6, in <module>' in error.text
    how, error = build("")
    assert how == "cached"
    how, error = build("Two more lines\nof prose.\n")
    assert how == "cached"
    assert 'File "slides/deck.md", line 8, in <module>' in error.text
    how, _error = build("Two more lines\nof prose.\n".replace("prose", "text"))
    assert how == "cached"
    site = make_site(
        tmp_path, {"deck.md": CACHED_DECK.replace("1 / 0", "1 // 0")}, database_url=url
    )
    done = mkdocs_build(site.root)
    assert "ran" in site.page("deck.md").find("pre", class_="python-output").text
    assert done.returncode == 0, done.stderr
    assert "run: blocks changed" in done.stderr


def test_engine_connects_as_the_decks_role_with_the_pinned_settings(pg_server: Server):
    roles: list[str] = []
    _deck, outcome = run(
        pg_server,
        """
        ```python exec
        with engine.connect() as conn:
            settings = conn.exec_driver_sql(
                "SELECT current_user, current_database(), current_setting('TimeZone'),"
                " current_setting('statement_timeout'), current_setting('DateStyle')"
            ).one()
        tuple(settings)
        ```
        """,
        adjust=lambda db: roles.extend([db.server.params["user"], db.dbname]),
    )
    python = outcome.blocks[0].python
    assert python is not None
    assert python.value == repr((*roles, "UTC", "10s", "ISO, MDY"))


def test_a_block_waiting_for_a_lock_past_its_timeout_is_stopped(pg_server: Server):
    started = time.monotonic()
    deck, outcome = run(
        pg_server,
        """
        ```sql exec
        CREATE TABLE t (id int);
        ```

        ```sql exec session=alice
        BEGIN;
        LOCK TABLE t;
        ```

        ```python exec timeout=1s
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT * FROM t").all()
        ```

        ```sql exec session=alice
        ROLLBACK;
        ```
        """,
    )
    assert time.monotonic() - started < 10
    (problem,) = deck_problems(deck, outcome)
    assert str(problem) == (
        f"{PATH}:{deck.blocks[2].line}: the Python block ran past its timeout of 1 s and was stopped"
    )


def test_a_statement_of_a_stopped_worker_does_not_run_on(pg_server: Server):
    _deck, outcome = run(
        pg_server,
        """
        ```python exec timeout=1s
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT pg_sleep(60) AS marker_sleep").all()
        ```

        ```sql exec
        SELECT count(*) AS left_running FROM pg_stat_activity
        WHERE query LIKE '%marker_sleep%' AND pid <> pg_backend_pid();
        ```
        """,
    )
    assert outcome.blocks[0].problem is not None
    assert outcome.blocks[1].statements[0].rows == (("0",),)


RAW_DBAPI = """
```sql exec
CREATE TABLE t (id int, label text);
```

```python exec
import psycopg2.extras

connection = engine.raw_connection()
try:
    cursor = connection.cursor()
    cursor.execute("INSERT INTO t VALUES (%s, %s)", (1, "one"))
    psycopg2.extras.execute_values(cursor, "INSERT INTO t VALUES %s", [(2, "two")])
    named = connection.cursor(cursor_factory=psycopg2.extras.RealDictCursor)
    named.execute("SELECT label FROM t WHERE id = %(id)s", {"id": 2})
    print(dict(named.fetchone()))
    connection.commit()
finally:
    connection.close()
```
"""


def test_the_sql_sent_through_a_raw_connection_is_listed_too(pg_server: Server):
    _deck, outcome = run(pg_server, RAW_DBAPI)
    python = outcome.blocks[1].python
    assert python is not None
    assert python.error is None, python.error
    assert python.output == (("stdout", "{'label': 'two'}\n"),)
    assert python.sql == (
        ("INSERT INTO t VALUES (%s, %s)", "(1, 'one')"),
        ("INSERT INTO t VALUES (2,'two')", None),  # execute_values sends its values inline
        ("SELECT label FROM t WHERE id = %(id)s", "{'id': 2}"),
    )


def test_a_block_holding_more_connections_than_its_pool_fails_plainly(pg_server: Server):
    started = time.monotonic()
    deck, outcome = run(
        pg_server,
        """
        ```python exec
        held = [engine.connect() for _ in range(6)]
        ```
        """,
    )
    assert 5 <= time.monotonic() - started < 15
    (problem,) = deck_problems(deck, outcome)
    assert str(problem).startswith(
        f"{PATH}:2: TimeoutError: QueuePool limit of size 5 overflow 0 reached"
    )


def test_the_deck_is_main_and_keeps_its_own_future_flags(pg_server: Server):
    # The worker's `from __future__ import annotations` must not leak into the deck, and a
    # class's module must be findable: SQLAlchemy's declarative models depend on both.
    _deck, outcome = run(
        pg_server,
        """
        ```sql exec
        CREATE TABLE notes (id int PRIMARY KEY, body text NOT NULL);
        INSERT INTO notes VALUES (1, 'kept');
        ```

        ```python exec
        import sys
        from sqlalchemy import select
        from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

        class Base(DeclarativeBase):
            pass

        class Note(Base):
            __tablename__ = "notes"
            id: Mapped[int] = mapped_column(primary_key=True)
            body: Mapped[str]

        def f(x: int) -> None: ...

        print(f.__annotations__["x"] is int, sys.modules[Note.__module__].Note is Note)
        with Session(engine) as session:
            bodies = session.scalars(select(Note.body)).all()
        bodies
        ```
        """,
    )
    python = outcome.blocks[1].python
    assert python is not None
    assert python.error is None, python.error
    assert python.output == (("stdout", "True True\n"),)
    assert python.value == "['kept']"
