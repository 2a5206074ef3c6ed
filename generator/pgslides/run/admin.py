"""pgslides' own connection to a server, one per build: it makes and drops the decks' databases
and roles, and finds what decks and killed builds left behind.

Its application_name carries the build's id, and so do the names of everything the build makes
(`pgslides_<deck>_<pid>_<build>_<n>`): a later build tells a live build's objects from a dead
one's by whether a connection of that name is still open, whatever machine the build runs on.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import secrets
from collections.abc import Sequence
from typing import Any

import psycopg2
from psycopg2 import sql

from pgslides.run.pool import Pool
from pgslides.run.server import DatabaseError, Server, connect, mask_password

# Settings only a superuser may SET that act on the session alone, which demos use: every
# deck role may set them too (a deadlock demo picks its victim with deadlock_timeout). Granted
# once to one group of the decks' roles: a GRANT per deck would update the parameter's ACL while
# another deck's DROP OWNED revokes from it ("tuple concurrently updated").
SESSION_ONLY_PARAMETERS = ("deadlock_timeout",)

DECK_PREFIX = "pgslides_"
DECK_GROUP = "pgslides_decks"  # every deck role of the private server is in it
BUILD_PREFIX = "pgslides build "
# pgslides_<deck>_<pid>_<build id>_<n>; and as earlier versions named them: _<pid>_<8 hex>.
DECK_NAME = re.compile(r"^pgslides_(?:.*_)?\d+_(?P<build>[0-9a-f]{8})_[0-9a-f]{4}$")
OLD_DECK_NAME = re.compile(r"^pgslides_(?:.*_)?\d+_[0-9a-f]{8}$")
# pgslides' own statements (CREATE, DROP, catalog reads) are short; a wait past this is a
# lock a deck left, and the build goes on with a warning rather than waiting.
# idle_session_timeout=0: the connection is the build's sign of life for other builds' sweeps
# (cluster.dead_builds); a server's idle timeout must not cut it between decks.
_ADMIN_OPTIONS = (
    "-c statement_timeout=30s -c lock_timeout=10s -c idle_in_transaction_session_timeout=60s"
    " -c idle_session_timeout=0"
)
# Unless the URL says else (a read-only connection): a role default must not stop the build.
_ADMIN_DEFAULTS = "-c default_transaction_read_only=off -c client_min_messages=warning"
Rows = list[tuple[Any, ...]]


class Admin:
    """The build's connection to the server's maintenance database, as the role it was given."""

    def __init__(self, server: Server, connect_timeout_s: int = 10) -> None:
        self.server = server
        self.build_id = secrets.token_hex(4)
        self.application_name = f"{BUILD_PREFIX}{self.build_id}"
        self._timeout_s = connect_timeout_s
        self._decks = itertools.count()
        self.pool = Pool(self._connect, server.maintenance_db)  # a few at once (run.pool)
        facts = self.rows(
            "SELECT current_user, rolsuper, rolcreaterole, current_setting('server_version_num')"
            " FROM pg_roles WHERE rolname = current_user"
        )[0]
        self.role, self.superuser, self.createrole = facts[0], facts[1] == "t", facts[2] == "t"
        self.version_num = int(facts[3])

    def deck_name(self, deck_name: str) -> str:
        """A name for a deck's database (and role) that carries this build's id."""
        slug = re.sub(r"[^a-z0-9]+", "_", deck_name.lower()).strip("_")[:30] or "deck"
        # Counted, not random: decks of one name (2024/intro.md, 2025/intro.md) never collide.
        return f"{DECK_PREFIX}{slug}_{os.getpid()}_{self.build_id}_{next(self._decks):04x}"

    def rows(self, statement: str | sql.Composable, params: Sequence[Any] = ()) -> Rows:
        """Run one statement on the maintenance database; its rows (as text)."""
        with self.pool.connection() as conn, conn.cursor() as cur:
            cur.execute(statement, params)
            return cur.fetchall() if cur.description else []

    def run(self, template: str, *names: str) -> None:
        """Run a statement whose {} are identifiers (a database, a role)."""
        self.rows(sql.SQL(template).format(*map(sql.Identifier, names)))

    def run_in(self, dbname: str, statement: str | sql.Composable, params: Sequence[Any] = ()):
        """Run one statement in another database (DROP OWNED, ROLLBACK PREPARED need it)."""
        with self.pool.connection(dbname) as conn, conn.cursor() as cur:
            cur.execute(statement, params)

    def reason(self, error: psycopg2.Error | DatabaseError) -> str:
        """The first line of an error, the password masked."""
        text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        return mask_password(text.removeprefix("ERROR:").strip(), self.server)

    def free_connections(self) -> int:
        """Connections a role without superuser may still open on the server."""
        reserved = "coalesce(current_setting('reserved_connections', true), '0')::int"
        return int(
            self.rows(
                "SELECT current_setting('max_connections')::int"
                " - current_setting('superuser_reserved_connections')::int"
                f" - {reserved}"
                " - (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')"
            )[0][0]
        )

    def live_builds(self) -> set[str]:
        """The ids of the builds whose connection is open now (this one among them)."""
        found = self.rows(
            "SELECT DISTINCT substr(application_name, %s) FROM pg_stat_activity"
            " WHERE starts_with(application_name, %s)",
            (len(BUILD_PREFIX) + 1, BUILD_PREFIX),
        )
        return {row[0] for row in found}

    def __enter__(self) -> Admin:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self.pool.close()

    def _connect(self, dbname: str) -> Any:
        return connect(
            self.server,
            dbname,
            _ADMIN_OPTIONS,
            self._timeout_s,
            application_name=self.application_name,
            defaults=_ADMIN_DEFAULTS,
        )


def deck_group(admin: Admin) -> str:
    """The group every deck role of the private server is in, made on first use."""
    exists = admin.rows("SELECT 1 FROM pg_roles WHERE rolname = %s", (DECK_GROUP,))
    # Another build may be making it at this moment: what it made is as good.
    racing = (psycopg2.errors.DuplicateObject, psycopg2.errors.UniqueViolation)
    if not exists:
        with contextlib.suppress(*racing):
            admin.run("CREATE ROLE {} NOLOGIN", DECK_GROUP)
    for parameter in SESSION_ONLY_PARAMETERS:
        held = admin.rows("SELECT has_parameter_privilege(%s, %s, 'SET')", (DECK_GROUP, parameter))
        if held[0][0] != "t":
            with contextlib.suppress(*racing, psycopg2.errors.InternalError):
                admin.run(f"GRANT SET ON PARAMETER {parameter} TO {{}}", DECK_GROUP)
    return DECK_GROUP
