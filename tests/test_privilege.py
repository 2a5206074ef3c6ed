"""Least privilege and nothing left behind (issue 10, items 1–3).

Real builds (`mkdocs build` as a subprocess, as a user runs it) on the embedded server, on
throwaway embedded servers in private data directories (some with settings of their own:
prepared transactions on, few connections), and through a `database_url` on the test server.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import psycopg2
import pytest
from psycopg2 import sql

from pgslides.run import postmaster as pm
from pgslides.run.admin import DECK_GROUP
from pgslides.run.embedded import EmbeddedServer
from pgslides.run.server import Server
from sites import make_site, parse_html
from test_hardening_faults import (
    Finished,
    active_statement,
    base_env,
    build,
    embedded_env,
    finish,
    initialise,
    kill_if_running,
    leftover_databases,
    own_pattern,
    postmaster,
    start_build,
    wait_for,
    with_user,
)

PID = os.getpid()
SECRET = "S3CRET-TOKEN-FOR-PGSLIDES"
IS_ROOT = os.geteuid() == 0


# --- helpers -------------------------------------------------------------------------------------


def page_of(root: Path, name: str = "deck.md") -> Any:
    return parse_html((root / "site" / name.replace(".md", ".html")).read_text(encoding="utf-8"))


def errors_of(page: Any) -> list[str]:
    return [node.attrs.get("data-sqlstate", "") for node in page.find_all(class_="sql-error")]


def cells(page: Any) -> list[str]:
    return [node.text for node in page.find_all("td")]


def rows(conn: Any, query: str, *params: Any) -> list[tuple[Any, ...]]:
    with conn.cursor() as cur:
        cur.execute(query, params)
        return cur.fetchall()


def deck_roles(conn: Any, pid: int) -> list[str]:
    found = rows(
        conn, "SELECT rolname FROM pg_roles WHERE rolname LIKE %s", f"pgslides\\_%\\_{pid}\\_%"
    )
    return [row[0] for row in found]


def ours(conn: Any, prefix: str) -> dict[str, list[str]]:
    """Every role, database, tablespace, slot and prepared transaction named prefix… (but the
    group of the deck roles, which stays)."""
    like = f"{prefix}%"
    return {
        "roles": [
            r[0]
            for r in rows(conn, "SELECT rolname FROM pg_roles WHERE rolname LIKE %s", like)
            if r[0] != DECK_GROUP
        ],
        "databases": [
            r[0] for r in rows(conn, "SELECT datname FROM pg_database WHERE datname LIKE %s", like)
        ],
        "tablespaces": [
            r[0]
            for r in rows(conn, "SELECT spcname FROM pg_tablespace WHERE spcname LIKE %s", like)
        ],
        "slots": [
            r[0]
            for r in rows(
                conn, "SELECT slot_name FROM pg_replication_slots WHERE slot_name LIKE %s", like
            )
        ],
        "prepared": [
            r[0] for r in rows(conn, "SELECT gid FROM pg_prepared_xacts WHERE gid LIKE %s", like)
        ],
    }


NOTHING = {"roles": [], "databases": [], "tablespaces": [], "slots": [], "prepared": []}


@pytest.fixture
def conn(pg_server: Server) -> Iterator[Any]:
    conn = psycopg2.connect(**pg_server.connect_params())
    conn.autocommit = True
    try:
        yield conn
    finally:
        conn.close()


def private_server(data_dir: Path, **settings: str) -> None:
    """initdb data_dir, with settings of its own in postgresql.conf (its server stopped)."""
    initialise(data_dir)
    with (data_dir / "postgresql.conf").open("a") as conf:
        for name, value in settings.items():
            conf.write(f"{name} = {value}\n")


@contextlib.contextmanager
def running(data_dir: Path) -> Iterator[tuple[Server, Any]]:
    """The private server up for the test (and a connection to it as its superuser)."""
    embedded = EmbeddedServer(data_dir)
    server = embedded.start()
    conn = psycopg2.connect(**server.connect_params())
    conn.autocommit = True
    try:
        yield server, conn
    finally:
        conn.close()
        embedded.stop()


def private_url(server: Server) -> str:
    """A database_url for a private server (DATABASE_URL aside): its socket, as a query."""
    query = urlencode({"host": server.params["host"], "port": server.params["port"]})
    return f"postgresql://postgres@/postgres?{query}"


def site_with(root: Path, decks: dict[str, str], url: str = "", **options: Any) -> Path:
    return make_site(root, decks, database_url=url, **options).root


def built(root: Path, env: dict[str, str] | None = None) -> Finished:
    """`mkdocs build --strict`, which must succeed."""
    result = build(root, env)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.output
    return result


# =================================================================================================
# 1. Least privilege
# =================================================================================================

DENIED = [
    "COPY (SELECT 1) TO PROGRAM 'id'",
    f"COPY (SELECT 1) TO '{Path(tempfile.gettempdir()) / f'pgslides-denied-{PID}'}'",
    "SELECT pg_read_file('/etc/passwd')",
    "CREATE TEMP TABLE env (line text);\nCOPY env FROM PROGRAM 'env'",
    "ALTER SYSTEM SET client_min_messages = 'error'",
    "ALTER SYSTEM SET shared_preload_libraries = 'no_such_library'",
    "CREATE EXTENSION dblink",
    "SET session_replication_role = replica",
    "ALTER ROLE CURRENT_USER SUPERUSER",
]

WHO_AM_I = """
```sql exec
SELECT rolsuper, rolcreatedb FROM pg_roles WHERE rolname = current_user;
```
"""
# A deck role of the embedded server may pick a deadlock's victim (a superuser-only setting).
DEADLOCK_TIMEOUT = """
```sql exec
SET deadlock_timeout = '5s';
```
"""


def denied_deck(embedded: bool) -> str:
    # One slide each: a slide holds some 40 lines.
    blocks = "\n---\n\n".join(
        f"```sql exec expect=42501\n{statement};\n```\n" for statement in DENIED
    )
    who = WHO_AM_I + (DEADLOCK_TIMEOUT if embedded else "")
    return f"# Denied\n\n{who}\n---\n\n{blocks}"


def test_a_deck_on_the_embedded_server_runs_as_an_ordinary_role(tmp_path: Path, private_dir: Path):
    root = site_with(tmp_path / "site", {"deck.md": denied_deck(embedded=True)})
    built(root, embedded_env(private_dir))
    page = page_of(root)
    assert cells(page)[:2] == ["f", "t"]  # not a superuser; may create databases
    assert "SET" in [node.text for node in page.find_all(class_="sql-status")]
    assert errors_of(page) == ["42501"] * len(DENIED)
    assert not (Path(tempfile.gettempdir()) / f"pgslides-denied-{PID}").exists()


def test_with_a_url_decks_run_as_its_role_and_a_superuser_is_said_once(
    tmp_path: Path, url: str, conn: Any
):
    role = f"pgs_t{PID}_plain"
    conn.cursor().execute(sql.SQL("CREATE ROLE {} LOGIN CREATEDB").format(sql.Identifier(role)))
    try:
        plain = site_with(
            tmp_path / "plain", {"deck.md": denied_deck(embedded=False)}, with_user(url, role)
        )
        result = built(plain)
        assert "superuser" not in result.stderr
        assert errors_of(page_of(plain)) == ["42501"] * len(DENIED)

        needs = "---\nsql:\n  superuser: true\n---\n# Needs\n\n```sql exec\nSELECT 1;\n```\n"
        refused = build(site_with(tmp_path / "needs", {"deck.md": needs}, with_user(url, role)))
        assert refused.returncode == 1
        assert f"slides/deck.md:3: the deck needs a superuser (superuser: true), and {role}" in (
            refused.stderr
        )
    finally:
        conn.cursor().execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))

    two = {
        "one.md": "# One\n\n```sql exec\nSELECT 1;\n```\n",
        "two.md": "# Two\n\n```sql exec\nSELECT 2;\n```\n",
    }
    result = built(site_with(tmp_path / "super", two, url))
    notes = [line for line in result.stderr.splitlines() if "a superuser of" in line]
    assert len(notes) == 1, result.stderr
    assert notes[0].startswith("INFO")
    assert "What a deck can do" in notes[0]


SUPERUSER_DECK = f"""---
sql:
  superuser: true
---
# Every right

```sql exec
SELECT rolsuper FROM pg_roles WHERE rolname = current_user;
```

```sql exec
ALTER SYSTEM SET client_min_messages = 'error';
ALTER SYSTEM SET shared_preload_libraries = 'no_such_library';
SELECT pg_reload_conf();
```

```sql exec
CREATE TABLE env (line text);
COPY env FROM PROGRAM 'env';
SELECT count(*) AS secrets FROM env WHERE line LIKE '%{SECRET}%';
```
"""

NOTICE_DECK = """# Another project

```sql exec
DO $$ BEGIN RAISE NOTICE 'still heard'; END $$;
```
"""


def test_a_superuser_deck_is_marked_and_changes_nothing_for_the_next_project(
    tmp_path: Path, private_dir: Path
):
    env = embedded_env(private_dir) | {"CI_TOKEN": SECRET}
    first = site_with(tmp_path / "first", {"deck.md": SUPERUSER_DECK})
    built(first, env)
    page = page_of(first)
    (mark,) = page.find_all(class_="pgslides-superuser")
    assert "superuser: true" in mark.text
    assert mark.attrs["data-line"] == "3"
    values = cells(page)
    assert values[0] == "t"
    assert values[-1] == "0"  # the build's environment never reached the server
    assert "shared_preload_libraries" not in (private_dir / "postgresql.auto.conf").read_text()

    # Another project on the same server: it starts, and its notices are shown.
    second = site_with(tmp_path / "second", {"deck.md": NOTICE_DECK})
    built(second, embedded_env(private_dir))
    notices = [node.text for node in page_of(second).find_all(class_="sql-notice")]
    assert any("still heard" in text for text in notices), notices


def test_a_server_a_killed_superuser_deck_left_unable_to_start_starts(
    tmp_path: Path, private_dir: Path
):
    initialise(private_dir)
    (private_dir / "postgresql.auto.conf").write_text(
        "shared_preload_libraries = 'no_such_library'\nclient_min_messages = 'error'\n"
    )
    root = site_with(tmp_path / "site", {"deck.md": NOTICE_DECK})
    built(root, embedded_env(private_dir))
    notices = [node.text for node in page_of(root).find_all(class_="sql-notice")]
    assert any("still heard" in text for text in notices)


READ_ONLY_DECK = """# Read only

```sql exec
ALTER ROLE CURRENT_USER SET default_transaction_read_only = on;
```

```sql exec session=later
CREATE TABLE still_writable (x int);
```
"""


@pytest.mark.parametrize("where", ["embedded", "url"])
def test_a_read_only_role_default_breaks_no_later_build(
    tmp_path: Path, private_dir: Path, url: str, conn: Any, where: str
):
    role = f"pgs_t{PID}_reader"
    if where == "url":
        conn.cursor().execute(sql.SQL("CREATE ROLE {} LOGIN CREATEDB").format(sql.Identifier(role)))
    try:
        target = with_user(url, role) if where == "url" else ""
        env = embedded_env(private_dir) if where == "embedded" else base_env()
        for attempt in ("first", "second"):
            root = site_with(tmp_path / attempt, {"deck.md": READ_ONLY_DECK}, target)
            built(root, env)
            assert "CREATE TABLE" in [n.text for n in page_of(root).find_all(class_="sql-status")]
    finally:
        if where == "url":
            conn.cursor().execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


# =================================================================================================
# 2. A private server
# =================================================================================================


@pytest.mark.parametrize("length", ["short", "long"])
def test_the_private_servers_socket_is_for_the_builds_user_alone(
    tmp_path: Path, psql_bin: str, monkeypatch: pytest.MonkeyPatch, length: str
):
    data_dir = tmp_path / ("d" * 120 if length == "long" else "pg")
    monkeypatch.setenv("CI_TOKEN", SECRET)
    try:
        with running(data_dir) as (server, conn):
            socket_dir = Path(server.params["host"])
            assert (socket_dir == data_dir.resolve()) == (length == "short")
            socket = socket_dir / f".s.PGSQL.{server.params['port']}"
            assert socket_dir.stat().st_mode & 0o777 == 0o700
            assert socket.stat().st_mode & 0o077 == 0
            assert rows(conn, "SHOW listen_addresses") == [("",)]
            pid = postmaster(data_dir)
            assert pid is not None
            environ = Path(f"/proc/{pid.pid}/environ").read_bytes()
            assert SECRET.encode() not in environ
            if IS_ROOT:
                other = subprocess.run(
                    [
                        "su",
                        "nobody",
                        "-s",
                        "/bin/sh",
                        "-c",
                        f"{psql_bin} -h {socket_dir} -p {server.params['port']} -U postgres -c 'SELECT 1'",
                    ],
                    capture_output=True,
                    text=True,
                    check=False,
                )
                assert other.returncode != 0
                assert "Permission denied" in other.stderr
    finally:
        pm_stop(data_dir)


def pm_stop(data_dir: Path) -> None:
    info = pm.running(data_dir.resolve())
    if info is not None:
        pm.stop(data_dir.resolve(), info)


SHOW_DECK = """# Shown

```sql exec
SHOW TimeZone;
SHOW DateStyle;
SHOW statement_timeout;
SHOW application_name;
SHOW client_encoding;
SELECT current_database() LIKE 'pgslides\\_%' AS own;
```
"""

SHELL = {
    "PGSERVICE": "no_such_service",
    "PGOPTIONS": "-c statement_timeout=1",
    "PGTZ": "Asia/Tokyo",
    "PGDATESTYLE": "German",
    "PGHOST": "/nonexistent",
    "PGHOSTADDR": "10.9.9.9",
    "PGPORT": "1",
    "PGUSER": "nobody",
    "PGDATABASE": "nope",
    "PGSSLMODE": "require",
    "PGGSSENCMODE": "require",
    "PGPASSFILE": "/nonexistent",
    "PGTARGETSESSIONATTRS": "standby",
    "PGAPPNAME": "someone-else",
    "PGCLIENTENCODING": "LATIN1",
    "PGCONNECT_TIMEOUT": "1",
    "PGREQUIREAUTH": "password",
    "PGCHANNELBINDING": "require",
}


def test_libpq_variables_of_the_shell_never_reach_the_embedded_server(
    tmp_path: Path, private_dir: Path
):
    root = site_with(tmp_path / "site", {"deck.md": SHOW_DECK})
    built(root, embedded_env(private_dir) | SHELL)
    assert cells(page_of(root)) == ["UTC", "ISO, MDY", "10s", "pgslides", "UTF8", "t"]


def test_with_a_url_libpq_variables_apply_as_libpq_documents(tmp_path: Path, pg_server: Server):
    params = pg_server.connect_params()
    service_file = tmp_path / "services.conf"
    service_file.write_text(
        "[pgslides_test]\n"
        + "".join(f"{key}={params[key]}\n" for key in ("host", "port", "user", "dbname"))
    )
    env = base_env(PGSERVICEFILE=str(service_file), PGSERVICE="pgslides_test")
    root = site_with(tmp_path / "site", {"deck.md": SHOW_DECK}, "postgresql://")
    built(root, env)
    assert cells(page_of(root)) == ["UTC", "ISO, MDY", "10s", "pgslides", "UTF8", "t"]


# =================================================================================================
# 3. Nothing left behind
# =================================================================================================

SLEEPY = "# Asleep\n\n```sql exec\nSELECT pg_sleep(60);\n```\n"
QUICK = "# Quick\n\n```sql exec\nSELECT 'again' AS said;\n```\n"


@pytest.mark.parametrize("where", ["embedded", "url"])
def test_what_a_killed_build_left_is_dropped_by_the_next_but_not_a_running_builds(
    tmp_path: Path, private_dir: Path, url: str, where: str
):
    if where == "embedded":
        env, target = embedded_env(private_dir), ""
    else:
        env, target = base_env(), url
    sleepy = {"deck.md": SLEEPY}
    running_build = start_build(
        site_with(tmp_path / "a", sleepy, target, statement_timeout="120s"), env
    )
    killed_build = start_build(
        site_with(tmp_path / "b", sleepy, target, statement_timeout="120s"), env
    )
    try:
        info = (
            wait_for(lambda: postmaster(private_dir), "the server") if where == "embedded" else None
        )
        watch = info.connect() if info else psycopg2.connect(url)
        watch.autocommit = True
        for proc in (running_build, killed_build):
            wait_for(
                lambda proc=proc: active_statement(watch, "pg_sleep(60)", proc.pid),
                "pg_sleep",
                proc,
            )
        killed_build.kill()
        killed_build.communicate()
        assert leftover_databases(watch, killed_build.pid) != []
        # Its statement runs on (a server notices a dead client only when it next writes to
        # it): a sweep leaves a database someone is connected to, so end it first. The build's
        # idle connections end by themselves, racing this query, so only the sleeper is asserted.
        orphans = rows(
            watch,
            "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity "
            "WHERE datname LIKE %s AND query LIKE '%%pg_sleep(60)%%'",
            own_pattern(killed_build.pid),
        )
        assert orphans == [(True,)]
        wait_for(
            lambda: (
                not rows(
                    watch,
                    "SELECT pid FROM pg_stat_activity WHERE datname LIKE %s",
                    own_pattern(killed_build.pid),
                )
            ),
            "the killed build's connections to end",
        )

        after = built(site_with(tmp_path / "c", {"deck.md": QUICK}, target), env)
        assert leftover_databases(watch, killed_build.pid) == []
        assert deck_roles(watch, killed_build.pid) == []
        assert "dropped what builds killed before their end left" in after.stderr
        # Each thing once, with its kind: on the embedded server a deck's role shares its name.
        kind = "database and role" if where == "embedded" else "database"
        named = rf"pgslides_deck_{killed_build.pid}_[0-9a-f]{{8}}_[0-9a-f]{{4}} \({kind}\)"
        assert re.search(f"left: (.*, )?{named}", after.stderr), after.stderr
        # The running build's database is its own still; its slide comes out whole.
        assert leftover_databases(watch, running_build.pid) != []
        watch.close()
        running_build.send_signal(signal.SIGTERM)
        finish(running_build, 30)
        # On the embedded server, the last build stopped it: look again with it started.
        with (
            running(private_dir) if where == "embedded" else contextlib.nullcontext((None, None))
        ) as (_server, private):
            look = private or psycopg2.connect(url)
            assert leftover_databases(look, running_build.pid) == []
            assert deck_roles(look, running_build.pid) == []
            if private is None:
                look.close()
    finally:
        for proc in (running_build, killed_build):
            if proc.poll() is None:
                proc.kill()
                proc.communicate()


def stubborn_deck(prefix: str, read_only_default: bool) -> str:
    """A deck that makes what is hard to find by its text, and that fights its own drop."""
    read_only = (
        "ALTER ROLE CURRENT_USER SET default_transaction_read_only = on;\n"
        if read_only_default
        else ""
    )
    return f"""# Stubborn

```sql exec
CREATE TABLE t (x int);
DO $$ BEGIN EXECUTE format('CREATE ROLE %I', '{prefix}_in_do'); END $$;
/* a comment first */ CREATE ROLE {prefix}_commented;
CREATE ROLE {prefix}_old;
ALTER ROLE {prefix}_old RENAME TO {prefix}_renamed;
CREATE ROLE {prefix}_granted;
GRANT SELECT ON t TO {prefix}_granted;
CREATE DATABASE {prefix}_db;
GRANT CONNECT ON DATABASE {prefix}_db TO {prefix}_granted;
ALTER DATABASE {prefix}_db IS_TEMPLATE true;
DO $$ BEGIN EXECUTE format('ALTER DATABASE %I IS_TEMPLATE true', current_database()); END $$;
{read_only}```
"""


@pytest.mark.parametrize("where", ["embedded", "url"])
def test_a_deck_that_fights_its_own_drop_leaves_nothing(
    tmp_path: Path, private_dir: Path, url: str, conn: Any, where: str
):
    prefix = f"pgs_t{PID}_{where}"
    owner = f"{prefix}_owner"
    if where == "url":
        # The URL's role, not postgres: the deck makes its role's default read-only.
        statement = sql.SQL("CREATE ROLE {} LOGIN CREATEDB CREATEROLE").format(
            sql.Identifier(owner)
        )
        conn.cursor().execute(statement)
        env, target = base_env(), with_user(url, owner)
    else:
        env, target = embedded_env(private_dir), ""
    try:
        root = site_with(tmp_path / "site", {"deck.md": stubborn_deck(prefix, True)}, target)
        result = built(root, env)
        assert "could not drop" not in result.stderr
        if where == "url":
            assert ours(conn, prefix) == {**NOTHING, "roles": [owner]}
        else:
            with running(private_dir) as (_server, private):
                assert ours(private, prefix) == NOTHING
                assert ours(private, "pgslides_") == NOTHING
    finally:
        if where == "url":
            conn.cursor().execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(owner)))


def superuser_deck(prefix: str, socket_dir: str, port: int, space: Path, flag: bool) -> str:
    front = "---\nsql:\n  superuser: true\n---\n" if flag else ""
    target = f"host={socket_dir} port={port} user=postgres dbname=postgres"
    return f"""{front}# Every right

```sql exec show=result
SELECT 'slot' FROM pg_create_physical_replication_slot('{prefix}_slot', true);
CREATE TABLESPACE {prefix}_space LOCATION '{space}';
CREATE EXTENSION dblink;
SELECT dblink_exec('{target}', 'CREATE DATABASE {prefix}_via_dblink');
BEGIN;
CREATE TABLE held (x int);
PREPARE TRANSACTION '{prefix}_prepared';
```
"""


@pytest.fixture
def tablespace_dir() -> Iterator[Path]:
    """An empty directory the server's own user owns and can reach, for CREATE TABLESPACE."""
    parent = Path(tempfile.mkdtemp(prefix="pgslides-space-"))
    parent.chmod(0o755)
    path = parent / "space"
    path.mkdir()
    if IS_ROOT:
        shutil.chown(path, pm.SERVER_USER_AS_ROOT, pm.SERVER_USER_AS_ROOT)
    try:
        yield path
    finally:
        shutil.rmtree(parent, ignore_errors=True)


@pytest.mark.parametrize("where", ["embedded", "url"])
def test_a_superuser_deck_leaves_no_slot_tablespace_prepared_transaction_or_database(
    tmp_path: Path, private_dir: Path, tablespace_dir: Path, where: str
):
    prefix = f"pgs_t{PID}_{where}"
    private_server(private_dir, max_prepared_transactions="5", wal_level="replica")
    with running(private_dir) as (server, conn):
        socket_dir, port = server.params["host"], server.params["port"]
        space = tablespace_dir
        deck = superuser_deck(prefix, socket_dir, port, space, flag=where == "embedded")
        target = "" if where == "embedded" else private_url(server)
        root = site_with(tmp_path / "site", {"deck.md": deck}, target)
        result = built(root, embedded_env(private_dir))
        assert "could not drop" not in result.stderr
        assert ours(conn, prefix) == NOTHING
        assert ours(conn, "pgslides_") == NOTHING
        assert cells(page_of(root))[0] == "slot"


def test_a_drop_that_fails_is_one_warning_naming_it_and_how(
    tmp_path: Path, private_dir: Path, tablespace_dir: Path
):
    prefix = f"pgs_t{PID}_stuck"
    initialise(private_dir)
    with running(private_dir) as (server, conn):
        space = tablespace_dir
        target = f"host={server.params['host']} port={server.params['port']} user=postgres dbname=postgres"
        deck = f"""---
sql:
  superuser: true
---
# Stuck

```sql exec
CREATE TABLESPACE {prefix}_space LOCATION '{space}';
CREATE EXTENSION dblink;
SELECT dblink_exec('{target}', 'CREATE TABLE {prefix}_table (x int) TABLESPACE {prefix}_space');
```
"""
        root = site_with(tmp_path / "site", {"deck.md": deck})
        result = build(root, embedded_env(private_dir))
        assert result.returncode == 1  # a warning, and --strict
        assert "Traceback" not in result.output
        # The tablespace holds a table; the deck's role owns the tablespace, so it stays too.
        (role,) = deck_roles(conn, result.pid)
        space, owner = [line for line in result.stderr.splitlines() if "could not drop" in line]
        assert space.startswith("WARNING -  pgslides: slides/deck.md:1: could not drop the ")
        assert f"tablespace '{prefix}_space' a deck left: tablespace" in space
        assert f'is not empty; drop it with: DROP TABLESPACE "{prefix}_space"' in space
        assert f"could not drop the role '{role}' a deck left" in owner
        assert f'drop it with: DROP OWNED BY "{role}"; DROP ROLE "{role}"' in owner
        for statement in (f"DROP TABLE {prefix}_table", f"DROP TABLESPACE {prefix}_space"):
            conn.cursor().execute(statement)
        conn.cursor().execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


MANY_SESSIONS = """# Deck {n}

```sql exec session=alice
SELECT {n} AS alice;
```

```sql exec session=bob
SELECT {n} AS bob;
```

```sql exec session=carol
SELECT pg_sleep(0.2), {n} AS carol;
```
"""


@pytest.mark.parametrize("where", ["embedded", "url"])
def test_jobs_is_bounded_by_the_servers_free_connections(
    tmp_path: Path, private_dir: Path, where: str
):
    private_server(private_dir, max_connections="20")
    decks = {f"deck{n:02}.md": MANY_SESSIONS.format(n=n) for n in range(12)}
    with running(private_dir) as (server, conn):
        target = "" if where == "embedded" else private_url(server)
        root = site_with(tmp_path / "site", decks, target, jobs=12)
        result = built(root, embedded_env(private_dir))
        assert "jobs lowered from 12 to" in result.stderr
        assert "too many clients" not in result.output
        for n in range(12):
            assert cells(page_of(root, f"deck{n:02}.md"))[-1] == str(n)
        assert ours(conn, "pgslides_") == NOTHING


BYSTANDER_DECK = """# Busy

```sql exec
SELECT pg_sleep(3);
```
"""


def test_what_someone_else_makes_while_decks_run_is_left_and_said(
    tmp_path: Path, url: str, conn: Any
):
    """A superuser URL role: nothing records who made a role or a database, so what the decks'
    SQL does not name is never taken for theirs."""
    name = f"pgs_t{PID}_bystander"
    root = site_with(tmp_path / "site", {"deck.md": BYSTANDER_DECK}, url)
    proc = start_build(root, base_env())
    try:
        wait_for(lambda: active_statement(conn, "pg_sleep(3)", proc.pid), "pg_sleep", proc)
        conn.cursor().execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        conn.cursor().execute(sql.SQL("CREATE ROLE {}").format(sql.Identifier(name)))
        result = finish(proc, 60)
        assert ours(conn, name) == {**NOTHING, "roles": [name], "databases": [name]}
        said = [line for line in result.stderr.splitlines() if "appeared on the server" in line]
        assert len(said) == 2, result.stderr
        assert all("but no deck's SQL names it, so pgslides left it" in line for line in said)
    finally:
        kill_if_running(proc)
        conn.cursor().execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
        conn.cursor().execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(name)))
