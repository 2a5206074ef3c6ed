"""pgslides' own connections (run.pool): never more open at once than the bound, counted by the
server itself, whatever the threads running statements through the build's Admin."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from pgslides.run.admin import Admin
from pgslides.run.server import Server

SLEEP = "SELECT pg_sleep(0.3)"


def opened_by(conn: Any, admin: Admin, dbname: str | None = None) -> int:
    """How many connections the server has from `admin`'s build (to `dbname`, if given)."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s"
            " AND datname = coalesce(%s, datname)",
            (admin.application_name, dbname),
        )
        return int(cur.fetchone()[0])


def settled(conn: Any, admin: Admin, expected: int) -> int:
    """`opened_by`, once closed connections' backends are gone (they leave after the close)."""
    for _ in range(100):
        found = opened_by(conn, admin)
        if found == expected:
            break
        time.sleep(0.02)
    return found


def most_opened_while(conn: Any, admin: Admin, work: Any) -> int:
    """The most connections `admin` had open at once while `work` ran (sampled every 20 ms)."""
    seen = [opened_by(conn, admin)]
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            seen.append(opened_by(conn, admin))
            done.wait(0.02)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        work()
    finally:
        done.set()
        watcher.join()
    return max(seen)


def at_once(admin: Admin, statements: int, in_other_db: bool = False) -> None:
    def one(_n: int) -> None:
        if in_other_db:
            admin.run_in("template1", SLEEP)
        else:
            admin.rows(SLEEP)

    with ThreadPoolExecutor(max_workers=statements) as pool:
        list(pool.map(one, range(statements)))


def test_unbounded_it_opens_one_connection_per_statement_running(pg_server: Server, pg_conn):
    with Admin(pg_server) as admin:
        most = most_opened_while(pg_conn, admin, lambda: at_once(admin, 6))
        assert most == 6
        # A few are kept open for the next statements, not all.
        assert settled(pg_conn, admin, 4) == 4


def test_a_bound_is_never_passed_and_statements_wait_their_turn(pg_server: Server, pg_conn):
    with Admin(pg_server) as admin:
        admin.pool.bound(2)
        most = most_opened_while(pg_conn, admin, lambda: at_once(admin, 6))
        assert most == 2
        assert admin.rows("SELECT 1") == [("1",)]


def test_statements_in_other_databases_count_and_idle_ones_make_room(pg_server: Server, pg_conn):
    with Admin(pg_server) as admin:
        at_once(admin, 3)  # three idle ones to the maintenance database
        admin.pool.bound(3)
        most = most_opened_while(pg_conn, admin, lambda: at_once(admin, 5, in_other_db=True))
        assert most == 3


def test_lowering_the_bound_closes_idle_connections_past_it(pg_server: Server, pg_conn):
    with Admin(pg_server) as admin:
        at_once(admin, 4)
        assert settled(pg_conn, admin, 4) == 4
        admin.pool.bound(1)  # 2 at least: the build's sign of life, and one to work with
        assert settled(pg_conn, admin, 2) == 2
        admin.pool.bound(0)
        assert most_opened_while(pg_conn, admin, lambda: at_once(admin, 3)) == 3


def test_the_builds_sign_of_life_stays_open_whatever_runs_elsewhere(pg_server: Server, pg_conn):
    """Another build takes a build with no connection of its own for dead, and drops its
    places: statements in other databases never close the last one to the maintenance one."""
    with Admin(pg_server) as admin:
        at_once(admin, 2)
        admin.pool.bound(2)
        home, seen = pg_server.maintenance_db, []
        done = threading.Event()

        def watch() -> None:
            while not done.is_set():
                seen.append(opened_by(pg_conn, admin, home))
                done.wait(0.01)

        watcher = threading.Thread(target=watch)
        watcher.start()
        try:
            at_once(admin, 6, in_other_db=True)
        finally:
            done.set()
            watcher.join()
        assert len(seen) > 10
        assert min(seen) == 1
