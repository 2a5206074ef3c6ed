"""Every wait has an end: a statement that ignores its cancel, a server whose network stops
answering, and Ctrl-C or SIGTERM while such a statement runs (issue 10, item 4).

All real: `mkdocs build` and `pgslides build` run as subprocesses against the test server (or
a private embedded one), and the stalled network is a TCP proxy to the test server that stops
relaying while keeping every socket open.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import signal
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pgslides.run.server import Server
from pgslides.run.watchdog import ESCALATION_S
from sites import BIN, make_site, postgres_processes, stop_servers
from test_hardening_faults import (
    active_statement,
    backend_alive,
    clean_up_after,
    databases_left_in,
    embedded_env,
    finish,
    kill_if_running,
    leftover_databases,
    postmaster,
    problem_lines,
    send,
    start,
    start_build,
    wait_for,
)

# A statement that catches every cancel: only terminating its backend stops it. Its dollar
# quote's tag is how the tests find it in pg_stat_activity.
STUBBORN = (
    "DO $stubborn$ BEGIN LOOP BEGIN PERFORM pg_sleep(0.1); "
    "EXCEPTION WHEN query_canceled THEN NULL; END; END LOOP; END $stubborn$;"
)
LINE = 4  # of the statement in the decks below

# What a build costs besides the statement (MkDocs, a database made and dropped): generous,
# so that a slow machine does not fail the test, and far below "forever".
BUILD_OVERHEAD_S = 5.0
# Past this a build counts as one that waits forever: it is killed and the test fails.
BUILD_DEADLINE_S = 60.0
# Ctrl-C and SIGTERM: the statement's escalation (cancel at once, terminate, give up), then
# dropping the database and stopping the embedded server.
INTERRUPT_DEADLINE_S = ESCALATION_S + 6.0


@pytest.fixture
def private_dir(tmp_path: Path) -> Iterator[Path]:
    """A data directory of its own for the embedded server; whatever server a test leaves on
    it is stopped, and the directory removed."""
    data_dir = tmp_path / "pg"
    yield data_dir
    stop_servers(data_dir)
    shutil.rmtree(data_dir, ignore_errors=True)


def stubborn_deck(timeout: str) -> str:
    return f"# Stubborn\n\n```sql exec timeout={timeout}\n{STUBBORN}\n```\n"


# --- a statement that ignores its cancel ---------------------------------------------------------


def test_a_statement_that_ignores_its_cancel_is_terminated_and_fails_the_deck_at_its_line(
    tmp_path: Path, url: str, pg_conn
):
    site = make_site(tmp_path, {"deck.md": stubborn_deck("1s")}, database_url=url)
    began = time.monotonic()
    proc = start_build(site.root)
    try:
        built = finish(proc, BUILD_DEADLINE_S, began)
        assert built.returncode == 1
        assert problem_lines(built) == [
            f"slides/deck.md:{LINE}: the statement ran past its timeout of 1 s and "
            "ignored its cancel, so it was terminated after 3 s"
        ]
        assert built.seconds < 1 + ESCALATION_S + BUILD_OVERHEAD_S
        assert leftover_databases(pg_conn, proc.pid) == []
    finally:
        kill_if_running(proc)
        clean_up_after(pg_conn, proc.pid)


# --- a network that stops answering --------------------------------------------------------------


class StallingProxy:
    """A TCP proxy to the test server that, once a client sends `trigger`, stops relaying
    anything on any connection, old or new, while keeping every socket open: a network that
    stops answering. It relays again once that client closes its connection (pgslides gave
    up on it), so that the build can still drop its database afterwards."""

    def __init__(self, target: Server, trigger: bytes) -> None:
        params = target.connect_params()
        host, port = params.get("host") or "127.0.0.1", int(params.get("port") or 5432)
        if host.startswith("/"):
            self._family, self._address = socket.AF_UNIX, f"{host}/.s.PGSQL.{port}"
        else:
            self._family, self._address = socket.AF_INET, (host, port)
        self.trigger = trigger
        self.stalled = threading.Event()
        self.healed = threading.Event()
        self._sockets: list[socket.socket] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # closed
            upstream = socket.socket(self._family, socket.SOCK_STREAM)
            upstream.connect(self._address)
            self._sockets += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, from_client: bool) -> None:
        stalls_here = False
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                if from_client and not self.stalled.is_set() and self.trigger in data:
                    sink.sendall(data)  # the statement reaches the server; no answer comes back
                    stalls_here = True
                    self.stalled.set()
                    continue
                if self.stalled.is_set():
                    self.healed.wait()
                sink.sendall(data)
        if stalls_here:
            self.healed.set()
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        self.healed.set()
        self._listener.close()
        for each in self._sockets:
            with contextlib.suppress(OSError):
                each.close()


@pytest.fixture
def stalling_proxy(pg_server: Server) -> Iterator[StallingProxy]:
    proxy = StallingProxy(pg_server, b"stalls-here")
    yield proxy
    proxy.close()


def proxied_url(pg_server: Server, proxy: StallingProxy) -> str:
    """The test server's URL through the proxy, with libpq's smallest connect_timeout."""
    params = pg_server.connect_params()
    user, dbname = params.get("user") or "postgres", params.get("dbname") or "postgres"
    return f"postgresql://{user}@127.0.0.1:{proxy.port}/{dbname}?connect_timeout=2"


@pytest.mark.parametrize(
    "case",
    [
        # The block's statement alone waits: its watchdog gives up on the connection.
        (
            "30s",
            LINE,
            re.escape(
                "the statement ran past its timeout of 1 s and got no answer from the server "
                "(nor did its cancel or the terminating of its backend), so pgslides gave up on "
                "the connection after 5 s"
            ),
        ),
        # Past its grace, the deck looks at the lock graph on a new connection: that never
        # connects, so the deck ends at its block, its statement stopped by the same watchdog.
        (
            "200ms",
            LINE - 1,
            r"lost the connection to the server: cannot connect to \S+: .*timeout expired",
        ),
    ],
    ids=["statement", "lock-look"],
)
def test_a_server_that_stops_answering_mid_statement_fails_the_deck_within_its_bound(
    tmp_path: Path,
    pg_server: Server,
    pg_conn,
    stalling_proxy: StallingProxy,
    case: tuple[str, int, str],
):
    grace, line_number, said = case
    statement = 'SELECT pg_sleep(30) AS "stalls-here";'
    deck = f"# Silent\n\n```sql exec timeout=1s grace={grace}\n{statement}\n```\n"
    url = proxied_url(pg_server, stalling_proxy)
    site = make_site(tmp_path, {"deck.md": deck}, database_url=url)
    began = time.monotonic()
    proc = start_build(site.root)
    try:
        built = finish(proc, BUILD_DEADLINE_S, began)
        assert stalling_proxy.stalled.is_set()
        assert built.returncode == 1
        (line,) = problem_lines(built)
        assert re.fullmatch(rf"slides/deck\.md:{line_number}: {said}", line), line
        assert built.seconds < 1 + ESCALATION_S + BUILD_OVERHEAD_S
        assert leftover_databases(pg_conn, proc.pid) == []
    finally:
        kill_if_running(proc)
        clean_up_after(pg_conn, proc.pid)


# --- Ctrl-C and SIGTERM while a statement ignores its cancel ------------------------------------


def wait_for_stubborn(proc: Any, conn: Any) -> int:
    """The backend of the build's stubborn statement, once it runs."""
    found = wait_for(lambda: active_statement(conn, "stubborn", proc.pid), "the statement", proc)
    return found[0]


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupting_a_statement_that_ignores_its_cancel_ends_the_build_at_once(
    tmp_path: Path, url: str, pg_conn, signum: int
):
    site = make_site(tmp_path, {"deck.md": stubborn_deck("120s")}, database_url=url)
    proc = start_build(site.root)
    try:
        backend = wait_for_stubborn(proc, pg_conn)
        stopped = finish(proc, INTERRUPT_DEADLINE_S * 2, send(proc, signum))
        assert stopped.returncode != 0
        assert "Traceback" not in stopped.output
        assert stopped.stderr.strip().splitlines()[-1:] == ["Aborted!"]
        assert stopped.seconds < INTERRUPT_DEADLINE_S
        assert not backend_alive(pg_conn, backend)
        assert leftover_databases(pg_conn, proc.pid) == []
    finally:
        kill_if_running(proc)
        clean_up_after(pg_conn, proc.pid)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupting_an_embedded_build_whose_statement_ignores_its_cancel_leaves_nothing(
    tmp_path: Path, private_dir: Path, signum: int
):
    site = make_site(tmp_path / "site", {"deck.md": stubborn_deck("120s")}, database_url="")
    proc = start([str(BIN / "pgslides"), "build"], site.root, embedded_env(private_dir))
    try:
        info = wait_for(lambda: postmaster(private_dir), "the embedded server starting", proc)
        conn = info.connect()
        try:
            wait_for_stubborn(proc, conn)
        finally:
            conn.close()
        stopped = finish(proc, INTERRUPT_DEADLINE_S * 2, send(proc, signum))
        assert stopped.returncode == 130
        assert "Traceback" not in stopped.output
        assert stopped.stderr.strip().splitlines()[-1:] == ["pgslides: interrupted"]
        assert stopped.seconds < INTERRUPT_DEADLINE_S
    finally:
        kill_if_running(proc)
    assert postgres_processes(private_dir) == []
    assert databases_left_in(private_dir, proc.pid) == []
