"""Hardening, items 5–9: secrets, connections, the embedded server, interruption, concurrency.

Everything here is real: `mkdocs build` and `pgslides check` run as subprocesses, as a user runs
them, against the test server, the machine's PostgreSQL (trust auth, so a password in the URL is
accepted and ignored), throwaway embedded servers in private data directories, and a socket that
accepts and never answers.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode

import psutil
import psycopg2
import pytest
from psycopg2 import sql
from sqlalchemy.engine import make_url

from pgslides.run.embedded import EmbeddedServer
from pgslides.run.server import Server, connect
from sites import (
    BIN,
    database_url,
    deck_text,
    log_messages,
    make_site,
    postgres_processes,
    table_cells,
)

PID = os.getpid()
T = TypeVar("T")

# --- running builds as a user does ---------------------------------------------------------------


@dataclass(frozen=True)
class Finished:
    """A finished `mkdocs build` or `pgslides check`."""

    pid: int
    returncode: int
    stdout: str
    stderr: str
    seconds: float  # from start (or from the signal, for an interrupted one) to exit

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def base_env(**extra: str) -> dict[str, str]:
    return {**os.environ, "NO_MKDOCS_2_WARNING": "1", **extra}


def embedded_env(data_dir: Path) -> dict[str, str]:
    """The environment of a build whose embedded server lives in data_dir, not the shared one."""
    return base_env(PGSLIDES_EMBEDDED_DIR=str(data_dir))


def start(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    # A session of its own: a signal for the process group reaches this build only.
    return subprocess.Popen(
        args,
        cwd=cwd,
        env=env or base_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def start_build(cwd: Path, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return start([str(BIN / "mkdocs"), "build", "--strict"], cwd, env)


def finish(proc: subprocess.Popen[str], timeout: float, since: float | None = None) -> Finished:
    """Wait for proc; one still running after timeout is killed and the test fails."""
    began = time.monotonic() if since is None else since
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, stderr = proc.communicate()
        pytest.fail(f"still running {timeout:.0f} s later; killed. stderr:\n{stderr}")
    return Finished(proc.pid, proc.returncode, stdout, stderr, time.monotonic() - began)


def build(cwd: Path, env: dict[str, str] | None = None, *args: str) -> Finished:
    """`mkdocs build --strict` from cwd, to its end."""
    began = time.monotonic()
    proc = start([str(BIN / "mkdocs"), "build", "--strict", *args], cwd, env)
    return finish(proc, 120, began)


def check(cwd: Path, env: dict[str, str] | None = None) -> Finished:
    """`pgslides check` from cwd, to its end."""
    began = time.monotonic()
    return finish(start([str(BIN / "pgslides"), "check"], cwd, env), 120, began)


def kill_if_running(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.communicate()


READING_PAGE = re.compile(r"Error reading page '.+':")


def problem_lines(result: Finished) -> list[str]:
    """What a failed build said, without MkDocs' own "Error reading page" line.

    Fails when anything but MkDocs' DEBUG, INFO and ERROR log lines reached stderr (a library's log
    dump, a traceback): a problem is one line, and nothing else.
    """
    assert "Traceback" not in result.output
    stray = [
        line
        for line in result.stderr.splitlines()
        if not line.startswith(("DEBUG   -  ", "INFO    -  ", "ERROR   -  "))
    ]
    assert stray == []
    return [
        line for line in log_messages(result.stderr, "ERROR") if not READING_PAGE.fullmatch(line)
    ]


def wait_for(
    probe: Callable[[], T | None],
    what: str,
    proc: subprocess.Popen[str] | None = None,
    timeout: float = 30.0,
) -> T:
    """probe()'s first true value; fails if proc exits first or nothing comes within timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            _, stderr = proc.communicate()
            pytest.fail(f"the build exited ({proc.returncode}) before {what}:\n{stderr}")
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {timeout:.0f} s")
        time.sleep(0.05)


# --- what is on a server -----------------------------------------------------------------------


def own_pattern(pid: int) -> str:
    """LIKE pattern of the databases (and schemas) the build of process pid makes."""
    return f"pgslides\\_%\\_{pid}\\_%"


def active_statement(conn: Any, marker: str, pid: int) -> tuple[int, str] | None:
    """(backend pid, database) of a statement containing marker that build pid runs now."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT pid, datname FROM pg_stat_activity WHERE application_name = 'pgslides' "
            "AND state = 'active' AND query LIKE %s AND datname LIKE %s",
            (f"%{marker}%", own_pattern(pid)),
        )
        row = cur.fetchone()
    return None if row is None else (int(row[0]), row[1])


def backend_alive(conn: Any, backend: int) -> bool:
    with conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", (backend,))
        return int(cur.fetchone()[0]) > 0


def leftover_databases(conn: Any, *pids: int) -> list[str]:
    names = []
    with conn.cursor() as cur:
        for pid in pids:
            cur.execute(
                "SELECT datname FROM pg_database WHERE datname LIKE %s", (own_pattern(pid),)
            )
            names += [row[0] for row in cur.fetchall()]
    return names


def clean_up_after(conn: Any, *pids: int) -> None:
    """Whatever builds that were killed left on the server: their backends and databases."""
    with conn.cursor() as cur:
        for pid in pids:
            cur.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname LIKE %s",
                (own_pattern(pid),),
            )
    for name in leftover_databases(conn, *pids):
        with conn.cursor() as cur:
            cur.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def with_database(url: str, dbname: str) -> str:
    return make_url(url).set(database=dbname).render_as_string(hide_password=False)


def with_user(url: str, user: str) -> str:
    return make_url(url).set(username=user, password=None).render_as_string(hide_password=False)


# --- private embedded servers --------------------------------------------------------------------


@dataclass(frozen=True)
class Postmaster:
    pid: int
    socket_dir: str
    port: int

    def connect(self) -> Any:
        conn = psycopg2.connect(
            host=self.socket_dir, port=self.port, user="postgres", dbname="postgres"
        )
        conn.autocommit = True
        return conn


def postmaster(data_dir: Path) -> Postmaster | None:
    """The server postmaster.pid says is ready in data_dir, else None."""
    try:
        lines = (data_dir / "postmaster.pid").read_text().splitlines()
    except OSError:
        return None
    if len(lines) < 8 or lines[7].strip() != "ready":
        return None
    return Postmaster(int(lines[0]), lines[4].strip(), int(lines[3]))


def databases_left_in(data_dir: Path, *pids: int) -> list[str]:
    """The pgslides_ databases of those builds still in a (stopped) private data dir."""
    embedded = EmbeddedServer(data_dir)
    conn = connect(embedded.start(), None)
    try:
        return leftover_databases(conn, *pids)
    finally:
        conn.close()
        embedded.stop()


def initialise(data_dir: Path) -> None:
    """initdb the private data dir (and leave its server stopped)."""
    embedded = EmbeddedServer(data_dir)
    embedded.start()
    embedded.stop()


# =================================================================================================
# 5. Secrets
# =================================================================================================

SECRETS = ("S3cr@t!pw", "S3cr%40t!pw", "S3cr%40t%21pw")
PASSWORD_URLS = {
    "postgresql": "postgresql://{user}:S3cr%40t!pw@{where}",
    "postgres": "postgres://{user}:S3cr%40t!pw@{where}",
    "psycopg2": "postgresql+psycopg2://{user}:S3cr%40t!pw@{where}",
    "encoded": "postgresql://{user}:S3cr%40t%21pw@{where}",
    "query": "postgresql://{user}@{where}?password=S3cr%40t%21pw",
}
UNREACHABLE = "127.0.0.1:1/postgres"

WHO_DECK = """
---
title: Who am I
---

# Who am I

```sql exec
SELECT current_user AS who, current_database() LIKE 'pgslides_%' AS own_database;
```

```sql exec expect=42P01
SELECT * FROM no_such_table;
```
"""
AS_IS_DECK = """
---
title: As it is
sql:
  isolation: none
---

# As it is

```sql exec
SELECT count(*) > 0 AS has_catalog FROM pg_class;
```
"""


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


@dataclass(frozen=True)
class SecretTarget:
    """A server that accepts a URL with any password (trust auth), or None for none."""

    user: str
    where: str  # host:port/dbname

    def url(self, form: str = "postgresql") -> str:
        return PASSWORD_URLS[form].format(user=self.user, where=self.where)


@pytest.fixture(scope="module")
def secret_target() -> SecretTarget | None:
    if _reachable("127.0.0.1", 5432):
        return SecretTarget("postgres", "127.0.0.1:5432/postgres")
    env = os.environ.get("DATABASE_URL")
    if env:
        parsed = make_url(env)
        if parsed.host and parsed.password is None:
            where = f"{parsed.host}:{parsed.port or 5432}/{parsed.database or 'postgres'}"
            return SecretTarget(parsed.username or "postgres", where)
    return None  # no server: the tests below check the failure messages only


def assert_no_secret(text: str, secrets: tuple[str, ...] = SECRETS) -> None:
    for secret in secrets:
        assert secret not in text


def assert_no_secret_in_files(root: Path, secrets: tuple[str, ...] = SECRETS) -> None:
    for path in sorted(root.rglob("*")):
        if path.is_file():
            data = path.read_bytes()
            for secret in secrets:
                assert secret.encode() not in data, f"the password is in {path}"


@pytest.mark.parametrize(
    "form",
    [
        "postgresql",
        "postgres",
        "psycopg2",
        "encoded",
        pytest.param(
            "query",
        ),
    ],
)
def test_password_never_appears_in_logs_site_cache_or_check(
    tmp_path: Path, secret_target: SecretTarget | None, form: str
):
    if secret_target is not None:
        site = make_site(
            tmp_path / "up",
            {"who.md": WHO_DECK, "as-is.md": AS_IS_DECK},
            database_url=secret_target.url(form),
        )
        built = build(site.root, None, "--verbose")
        assert built.returncode == 0, built.stderr
        who = site.page("who.md").find("table", "sql-result")
        assert table_cells(who) == [[("", secret_target.user), ("", "t")]]
        checked = check(site.root)
        assert checked.returncode == 0, checked.stderr
        assert_no_secret(built.output + checked.output)
        assert (site.site_dir / "search" / "search_index.json").is_file()
        assert_no_secret_in_files(site.site_dir)
        assert len(list((site.root / ".pgslides-cache").glob("*.json"))) == 2
        assert_no_secret_in_files(site.root / ".pgslides-cache")

    # The messages that name the server: it cannot be reached.
    down = make_site(
        tmp_path / "down",
        {"who.md": WHO_DECK},
        database_url=PASSWORD_URLS[form].format(user="postgres", where=UNREACHABLE),
    )
    failed = build(down.root, None, "--verbose")
    assert failed.returncode == 1
    (line,) = problem_lines(failed)
    assert re.fullmatch(
        r"cannot connect to postgres(ql)?://\S+: connection to server at \"127\.0\.0\.1\", "
        r"port 1 failed: Connection refused",
        line,
    ), line
    checked = check(down.root)
    assert checked.returncode == 2
    assert checked.stderr.splitlines() == [f"pgslides: {line}"]
    assert_no_secret(failed.output + checked.output)
    assert_no_secret_in_files(down.root / "site")


def test_password_quoted_by_a_server_error_is_masked(
    tmp_path: Path, secret_target: SecretTarget | None
):
    if secret_target is None:
        pytest.skip("no server at 127.0.0.1:5432 and no DATABASE_URL to run a deck on")
    site = make_site(
        tmp_path,
        {"deck.md": "# Cast\n\n```sql exec\nSELECT 'S3cr@t!pw'::int;\n```\n"},
        database_url=secret_target.url(),
    )
    masked = 'slides/deck.md:3: ERROR:  invalid input syntax for type integer: "***" (22P02)'
    built = build(site.root)
    assert built.returncode == 1
    assert problem_lines(built) == [masked]
    checked = check(site.root)
    assert checked.returncode == 1
    assert checked.stdout.splitlines() == [masked]
    assert_no_secret(built.output + checked.output)


def test_a_deck_that_shows_the_password_fails_the_build(
    tmp_path: Path, secret_target: SecretTarget | None
):
    if secret_target is None:
        pytest.skip("no server at 127.0.0.1:5432 and no DATABASE_URL to run a deck on")
    site = make_site(
        tmp_path,
        {"deck.md": "# Leak\n\n```sql exec show=result\nSELECT 'S3cr@t!pw' AS leaked;\n```\n"},
        database_url=secret_target.url(),
    )
    built = build(site.root)
    assert built.returncode == 1
    assert "Traceback" not in built.output
    assert_no_secret(built.output)
    found = [
        match[1]
        for message in log_messages(built.stderr, "ERROR")
        if (match := re.search(r"the database password was found in site/([^\s;,]+)", message))
    ]
    # The final scan of site/ names the first file that holds it: the page or the search index.
    assert len(found) == 1
    assert found[0] in ("deck.html", "search/search_index.json")


# =================================================================================================
# 6. Connections
# =================================================================================================

ONE_DECK = {"deck.md": "# One\n\n```sql exec\nSELECT current_user AS who;\n```\n"}


def test_refused_port_is_one_line(tmp_path: Path):
    site = make_site(tmp_path, ONE_DECK, database_url="postgresql://postgres@127.0.0.1:1/postgres")
    built = build(site.root)
    assert built.returncode == 1
    assert problem_lines(built) == [
        "cannot connect to postgresql://postgres@127.0.0.1:1/postgres: "
        'connection to server at "127.0.0.1", port 1 failed: Connection refused'
    ]
    assert not site.page_path("deck.md").exists()


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port on 127.0.0.1 that accepts connections and never says a word."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []

    def accept() -> None:
        with contextlib.suppress(OSError):  # the listener closed: the test is over
            while True:
                accepted.append(listener.accept()[0])

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        listener.close()
        thread.join(5)
        for conn in accepted:
            conn.close()


def test_server_that_never_answers_fails_at_connect_timeout(tmp_path: Path, silent_port: int):
    url = f"postgresql://postgres@127.0.0.1:{silent_port}/postgres?connect_timeout=2"
    site = make_site(tmp_path, ONE_DECK, database_url=url)
    built = build(site.root)
    assert built.returncode == 1
    assert problem_lines(built) == [
        f"cannot connect to {url}: "
        f'connection to server at "127.0.0.1", port {silent_port} failed: timeout expired'
    ]
    assert 2.0 <= built.seconds < 4.5


@dataclass(frozen=True)
class ScramServer:
    server: Server

    def url(self, password: str) -> str:
        query = urlencode({"host": self.server.params["host"], "port": self.server.params["port"]})
        return f"postgresql://alice:{password}@/postgres?{query}"

    @property
    def socket(self) -> str:
        return f"{self.server.params['host']}/.s.PGSQL.{self.server.params['port']}"


@pytest.fixture
def scram_server(tmp_path: Path) -> Iterator[ScramServer]:
    """A throwaway embedded server where role alice must give its password (scram-sha-256)."""
    embedded = EmbeddedServer(tmp_path / "scram")
    server = embedded.start()
    try:
        conn = connect(server, None)
        try:
            with conn.cursor() as cur:
                cur.execute("CREATE ROLE alice LOGIN CREATEDB PASSWORD 'R1ght!pw'")
            hba = embedded.data_dir / "pg_hba.conf"
            hba.write_text("local all alice scram-sha-256\n" + hba.read_text())
            with conn.cursor() as cur:
                cur.execute("SELECT pg_reload_conf()")
        finally:
            conn.close()

        def asks_for_a_password() -> bool:
            params = server.connect_params()
            try:
                psycopg2.connect(**{**params, "user": "alice"}).close()
            except psycopg2.OperationalError as error:
                return "password" in str(error)
            return False

        wait_for(asks_for_a_password, "the server reloading pg_hba.conf", timeout=10)
        yield ScramServer(server)
    finally:
        embedded.stop()
        shutil.rmtree(embedded.data_dir, ignore_errors=True)


def test_wrong_password_is_one_line_with_the_password_masked(
    tmp_path: Path, scram_server: ScramServer
):
    wrong = scram_server.url("Wr0ng%21pw")
    site = make_site(tmp_path / "wrong", ONE_DECK, database_url=wrong)
    built = build(site.root)
    assert built.returncode == 1
    assert problem_lines(built) == [
        f"cannot connect to {wrong.replace('Wr0ng%21pw', '***')}: connection to server on "
        f'socket "{scram_server.socket}" failed: FATAL:  password authentication failed for user "alice"'
    ]
    assert_no_secret(built.output, ("Wr0ng!pw", "Wr0ng%21pw"))

    # The same server with the right password: the build runs, and says its password nowhere.
    right = make_site(tmp_path / "right", ONE_DECK, database_url=scram_server.url("R1ght%21pw"))
    built = build(right.root)
    assert built.returncode == 0, built.stderr
    assert table_cells(right.page("deck.md").find("table", "sql-result")) == [[("", "alice")]]
    secrets = ("R1ght!pw", "R1ght%21pw")
    assert_no_secret(built.output, secrets)
    assert_no_secret_in_files(right.site_dir, secrets)
    assert_no_secret_in_files(right.root / ".pgslides-cache", secrets)


def test_missing_database_is_one_line(tmp_path: Path, url: str):
    missing = with_database(url, "no_such_db")
    site = make_site(tmp_path, ONE_DECK, database_url=missing)
    built = build(site.root)
    assert built.returncode == 1
    (line,) = problem_lines(built)
    assert line.startswith("cannot connect to postgresql://")
    assert "/no_such_db" in line
    assert line.endswith(' failed: FATAL:  database "no_such_db" does not exist')


@pytest.fixture
def nocreate_role(pg_conn) -> Iterator[str]:
    """A role that may log in but not create databases, on the test server."""
    role = f"nocreate_{PID}"
    with pg_conn.cursor() as cur:
        cur.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))
        cur.execute(sql.SQL("CREATE ROLE {} LOGIN NOCREATEDB").format(sql.Identifier(role)))
    yield role
    with pg_conn.cursor() as cur:
        # DROP OWNED drops a schema left behind and revokes the grant on the database.
        cur.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
        cur.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def test_role_without_createdb_is_told_to_use_isolation_schema_and_can(
    tmp_path: Path, url: str, pg_conn, nocreate_role: str
):
    role_url = with_user(url, nocreate_role)
    deck = {
        "deck.md": "# Mine\n\n```sql exec\nCREATE TABLE t AS SELECT current_user AS who;\n"
        "SELECT who, current_schema() FROM t;\n```\n"
    }
    site = make_site(tmp_path / "database", deck, database_url=role_url)
    built = build(site.root)
    assert built.returncode == 1
    assert problem_lines(built) == [
        f"the role connecting to {role_url} may not create databases; "
        "grant it CREATEDB or set isolation: schema"
    ]

    maintenance = make_url(url).database or "postgres"
    with pg_conn.cursor() as cur:
        cur.execute(
            sql.SQL("GRANT CREATE ON DATABASE {} TO {}").format(
                sql.Identifier(maintenance), sql.Identifier(nocreate_role)
            )
        )
    site = make_site(tmp_path / "schema", deck, database_url=role_url, isolation="schema")
    built = build(site.root)
    assert built.returncode == 0, built.stderr
    ((who, schema),) = table_cells(site.page("deck.md").find("table", "sql-result"))
    assert who == ("", nocreate_role)
    assert re.fullmatch(rf"pgslides_deck_{built.pid}_[0-9a-f]{{8}}_[0-9a-f]{{4}}", schema[1])
    with pg_conn.cursor() as cur:
        cur.execute(
            "SELECT nspname FROM pg_namespace WHERE nspname LIKE %s", (own_pattern(built.pid),)
        )
        assert cur.fetchall() == []


LOST_DECK = """
# Lost

```sql exec
CREATE TABLE t (x integer);
```

---

```sql exec
SELECT 'before' AS x;
SELECT pg_terminate_backend(pg_backend_pid());
SELECT 'after' AS x;
```
"""


def test_connection_lost_mid_deck_fails_it_with_file_line_and_publishes_no_page(
    tmp_path: Path, url: str, pg_conn
):
    site = make_site(tmp_path, {"deck.md": LOST_DECK}, database_url=url)
    built = build(site.root)
    assert built.returncode == 1
    (line,) = problem_lines(built)
    # The line of the statement the connection was lost in.
    assert re.fullmatch(r"slides/deck\.md:11: lost the connection to the server: \S.*", line), line
    assert not site.page_path("deck.md").exists()
    assert list(site.root.glob("site/**/deck.html")) == []
    assert leftover_databases(pg_conn, built.pid) == []


# =================================================================================================
# 7. The embedded server
# =================================================================================================

SLEEPY_DECK = "# Asleep\n\n```sql exec\nSELECT pg_sleep(60);\n```\n"
QUICK_DECK = "# Quick\n\n```sql exec\nSELECT 'again' AS said;\n```\n"


def start_sleepy_build(tmp_path: Path, data_dir: Path) -> tuple[subprocess.Popen[str], Path]:
    """A build on the private server, caught in its pg_sleep; returns it and its site root."""
    site = make_site(
        tmp_path / "site", {"deck.md": SLEEPY_DECK}, database_url="", statement_timeout="120s"
    )
    proc = start_build(site.root, embedded_env(data_dir))
    info = wait_for(lambda: postmaster(data_dir), "the embedded server starting", proc)
    conn = info.connect()
    try:
        wait_for(lambda: active_statement(conn, "pg_sleep(60)", proc.pid), "pg_sleep", proc)
    finally:
        conn.close()
    return proc, site.root


def test_stale_postmaster_pid_from_a_killed_server_is_recovered(tmp_path: Path, private_dir: Path):
    proc, root = start_sleepy_build(tmp_path, private_dir)
    info = postmaster(private_dir)
    assert info is not None
    proc.kill()
    proc.communicate()
    server = psutil.Process(info.pid)
    procs = [server, *server.children(recursive=True)]
    for each in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            each.kill()
    psutil.wait_procs(procs, timeout=10)
    assert (private_dir / "postmaster.pid").read_text().splitlines()[0] == str(info.pid)
    assert postgres_processes(private_dir) == []

    (root / "slides" / "deck.md").write_text(deck_text(QUICK_DECK), encoding="utf-8")
    built = build(root, embedded_env(private_dir))
    assert built.returncode == 0, built.stderr
    page = root / "site" / "deck.html"
    assert "again" in page.read_text(encoding="utf-8")
    assert postgres_processes(private_dir) == []


def test_port_5432_taken_does_not_matter_to_the_embedded_server(tmp_path: Path, private_dir: Path):
    # The embedded server listens on no TCP port: only on a socket in its own data dir. Hold
    # 127.0.0.1:5432 (or find it held already, e.g. by the machine's own PostgreSQL).
    holder = socket.socket()
    with contextlib.suppress(OSError):
        holder.bind(("127.0.0.1", 5432))
        holder.listen()
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=2):
            pass  # someone listens there: the point of the test
        root = tmp_path / "site"
        make_site(root, {"deck.md": QUICK_DECK}, database_url="")
        built = build(root, embedded_env(private_dir))
        assert built.returncode == 0, built.stderr
        assert "again" in (root / "site" / "deck.html").read_text(encoding="utf-8")
        assert postgres_processes(private_dir) == []
    finally:
        holder.close()


def test_data_dir_that_cannot_be_made_is_one_line_saying_what_to_do(tmp_path: Path):
    if os.geteuid() == 0:
        # Root ignores permissions: make the data dir's path a regular file instead.
        data_dir = tmp_path / "pg"
        data_dir.write_text("not a directory\n")
        reason, locked = r"[Nn]ot a directory|[Ff]ile exists", None
    else:
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(0o500)
        data_dir = locked / "pg"
        reason = r"Permission denied"
    site = make_site(tmp_path / "site", ONE_DECK, database_url="")
    try:
        built = build(site.root, embedded_env(data_dir))
        checked = check(site.root, embedded_env(data_dir))
    finally:
        if locked is not None:
            locked.chmod(0o700)
    assert built.returncode == 1
    (line,) = problem_lines(built)
    assert "embedded PostgreSQL" in line
    assert str(data_dir) in line
    assert re.search(reason, line), f"the line does not say why: {line}"
    if locked is None:
        assert f"delete {data_dir}" in line
    assert "database_url" in line
    assert checked.returncode == 2
    assert checked.stderr.splitlines() == [f"pgslides: {line}"]
    assert "Traceback" not in checked.output


def test_stale_handle_pid_of_a_killed_build_does_not_keep_the_server_running(
    tmp_path: Path, private_dir: Path
):
    proc, root = start_sleepy_build(tmp_path, private_dir)
    proc.kill()
    proc.communicate()
    # The killed build's pid stays in the wheel's list of users, and its server runs on.
    assert json.loads((private_dir / ".handle_pids.json").read_text()) == [proc.pid]
    assert not psutil.pid_exists(proc.pid)
    assert postgres_processes(private_dir) != []

    (root / "slides" / "deck.md").write_text(deck_text(QUICK_DECK), encoding="utf-8")
    built = build(root, embedded_env(private_dir))
    assert built.returncode == 0, built.stderr
    assert postgres_processes(private_dir) == []
    assert not (private_dir / "postmaster.pid").exists()


# =================================================================================================
# 8. Interruption
# =================================================================================================

INTERRUPT_DEADLINE_S = 6.0  # "within about 5 s" of the signal


def send(proc: subprocess.Popen[str], signum: int) -> float:
    """SIGINT as Ctrl-C sends it (to the process group), SIGTERM as `kill` does (the process)."""
    if signum == signal.SIGINT:
        os.killpg(proc.pid, signum)
    else:
        proc.send_signal(signum)
    return time.monotonic()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupted_build_stops_its_statement_and_drops_its_database(
    tmp_path: Path, url: str, pg_conn, signum: int
):
    site = make_site(tmp_path, {"deck.md": SLEEPY_DECK}, database_url=url, statement_timeout="120s")
    proc = start_build(site.root)
    try:
        backend, _db = wait_for(
            lambda: active_statement(pg_conn, "pg_sleep(60)", proc.pid), "pg_sleep", proc
        )
        sent = send(proc, signum)
        stopped = finish(proc, INTERRUPT_DEADLINE_S, sent)
        assert stopped.returncode != 0
        assert "Traceback" not in stopped.output
        assert stopped.seconds < INTERRUPT_DEADLINE_S
        wait_for(lambda: not backend_alive(pg_conn, backend), "the backend ending", timeout=2)
        assert leftover_databases(pg_conn, proc.pid) == []
    finally:
        kill_if_running(proc)
        clean_up_after(pg_conn, proc.pid)


def pgslides_temp_entries() -> set[Path]:
    return set(Path(tempfile.gettempdir()).glob("pgslides-*"))


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupted_embedded_build_leaves_no_server_or_temp_dir(
    tmp_path: Path, private_dir: Path, signum: int
):
    before = pgslides_temp_entries()
    proc, _root = start_sleepy_build(tmp_path, private_dir)
    try:
        sent = send(proc, signum)
        stopped = finish(proc, INTERRUPT_DEADLINE_S, sent)
        assert stopped.returncode != 0
        assert "Traceback" not in stopped.output
        assert stopped.seconds < INTERRUPT_DEADLINE_S
    finally:
        kill_if_running(proc)
    wait_for(lambda: not postgres_processes(private_dir), "the embedded server stopping", timeout=2)
    assert pgslides_temp_entries() - before == set()
    assert databases_left_in(private_dir, proc.pid) == []


# =================================================================================================
# 9. Concurrency
# =================================================================================================


def waiting_deck(go_role: str) -> str:
    """A deck that makes a table, waits until role go_role exists, then reads its table.

    The wait is a loop of short sleeps (not a lock, which pgslides would show as waiting), so
    the test decides when each build may finish.
    """
    return f"""
    # Waiting

    ```sql exec
    CREATE TABLE mine AS SELECT current_database() AS db;
    ```

    ```sql exec
    DO $$
    BEGIN
      WHILE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{go_role}') LOOP
        PERFORM pg_sleep(0.05);
      END LOOP;
    END
    $$;
    ```

    ```sql exec
    SELECT db FROM mine;
    ```
    """


def create_role(conn: Any, role: str) -> None:
    with conn.cursor() as cur:
        cur.execute(sql.SQL("CREATE ROLE {}").format(sql.Identifier(role)))


def drop_role(conn: Any, role: str) -> None:
    with conn.cursor() as cur:
        cur.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


def clean_up_builds(
    conn: Any, procs: list[subprocess.Popen[str]], roles: list[str], on_server: bool
) -> None:
    for proc in procs:
        kill_if_running(proc)
    if conn is None:
        return
    with contextlib.suppress(psycopg2.Error):  # the embedded server may be stopped by now
        for role in roles:
            drop_role(conn, role)
        if on_server:
            clean_up_after(conn, *(proc.pid for proc in procs))
    conn.close()


@pytest.mark.parametrize("where", ["server", "embedded"])
def test_two_builds_at_once_see_their_own_results_and_one_ending_spares_the_other(
    tmp_path: Path, pg_server: Server, private_dir: Path, where: str
):
    """Two copies of a site built at once on one server: B finishes while A still runs, and A
    goes on undisturbed (its database is there, its server up); both pages show their own."""
    if where == "embedded":
        initialise(private_dir)
        env, site_url = embedded_env(private_dir), ""
    else:
        env, site_url = base_env(), database_url(pg_server)
    go = {name: f"hardening_go_{PID}_{name}" for name in "ab"}
    sites = {
        name: make_site(
            tmp_path / name,
            {"deck.md": waiting_deck(go[name])},
            database_url=site_url,
            statement_timeout="30s",
        )
        for name in "ab"
    }
    procs = {name: start_build(site.root, env) for name, site in sites.items()}
    conn = None
    try:
        if where == "embedded":
            info = wait_for(lambda: postmaster(private_dir), "the embedded server starting")
            conn = info.connect()
        else:
            conn = connect(pg_server, None)
        databases = {}
        for name, proc in procs.items():
            marker, pid = go[name], proc.pid
            waiting = wait_for(
                lambda marker=marker, pid=pid: active_statement(conn, marker, pid),
                f"build {name} waiting",
                proc,
            )
            databases[name] = waiting[1]
        create_role(conn, go["b"])
        b = finish(procs["b"], 60)
        assert b.returncode == 0, b.stderr
        # A still runs, on a server that is still up, in a database that is still there.
        assert procs["a"].poll() is None
        assert leftover_databases(conn, procs["a"].pid) == [databases["a"]]
        create_role(conn, go["a"])
        a = finish(procs["a"], 60)
        assert a.returncode == 0, a.stderr
        for name, proc in procs.items():
            page = sites[name].page("deck.md")
            last = page.find_all(data_sql_block=True)[-1]
            (only,) = table_cells(last.find("table", "sql-result"))
            assert only == [("", databases[name])]
            assert re.fullmatch(
                rf"pgslides_deck_{proc.pid}_[0-9a-f]{{8}}_[0-9a-f]{{4}}", databases[name]
            )
        if where == "server":
            assert leftover_databases(conn, *(proc.pid for proc in procs.values())) == []
    finally:
        clean_up_builds(conn, list(procs.values()), list(go.values()), where == "server")
    if where == "embedded":
        wait_for(lambda: not postgres_processes(private_dir), "the server stopping", timeout=5)
        assert databases_left_in(private_dir, *(proc.pid for proc in procs.values())) == []
