"""A build's care of the server it runs on: what killed builds left is dropped before its first
deck; decks run in places of their own, and what they leave outside them is dropped after;
`jobs` never asks for more connections than the server has free."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

import psycopg2

from pgslides.errors import Problem
from pgslides.run import cluster
from pgslides.run.admin import Admin
from pgslides.run.database import DatabaseError, DeckDatabase, SessionSettings
from pgslides.run.server import Server

WHAT_A_DECK_CAN_DO = "README, What a deck can do"


class Housekeeper:
    """The build's Admin connection, and what it keeps track of between decks."""

    def __init__(self, server: Server) -> None:
        self.admin = Admin(server)
        self.notes: list[Problem] = []  # for the build's log, once
        self._lock = threading.Lock()
        self._running = 0  # decks running now
        self._before: frozenset[cluster.ClusterObject] | None = None  # when the first began
        self._texts: list[str] = []  # the SQL of the decks run since the first began
        self._settings_before: frozenset[tuple[str, str, str]] | None = None
        self._sweep()
        if not server.private and self.admin.superuser:
            self.notes.append(
                Problem(
                    f"decks run as {self.admin.role}, a superuser of {server.label}: a deck can "
                    "read and write the server's files and run programs there; connect as an "
                    f"ordinary role (see {WHAT_A_DECK_CAN_DO})",
                    severity="info",
                )
            )

    def jobs(self, wanted: int, connections_per_deck: int) -> int:
        """`wanted` decks at once, or as many as the server has free connections for (said in
        an info line: the build is slower, not wrong, so `--strict` does not fail on it)."""
        try:
            free = self.admin.free_connections()
        except (psycopg2.Error, DatabaseError):
            return wanted
        fits = max(1, free // max(1, connections_per_deck))
        if fits >= wanted:
            return wanted
        self.notes.append(
            Problem(
                f"jobs lowered from {wanted} to {fits}: {self.admin.server.label} has {free} "
                f"free connections, and a deck here uses up to {connections_per_deck}",
                severity="info",
            )
        )
        return fits

    @contextlib.contextmanager
    def deck(
        self,
        deck_name: str,
        isolation: str,
        settings: SessionSettings,
        *,
        superuser: bool = False,
        warnings: list[str],
        sql_text: str = "",
    ) -> Iterator[DeckDatabase]:
        """The deck's own place; when it and the decks running beside it are done, what
        appeared on the server meanwhile that the decks' SQL (`sql_text`: blocks and setup
        files) names is dropped too (cluster.appeared)."""
        self._began(superuser, sql_text)
        try:
            with DeckDatabase(self.admin, deck_name, isolation, settings, superuser) as db:
                try:
                    yield db
                finally:
                    db.close()
                    warnings.extend(db.warnings)
        finally:
            warnings.extend(self._ended(superuser))

    def __enter__(self) -> Housekeeper:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.admin.close()

    def _began(self, superuser: bool, sql_text: str) -> None:
        with self._lock:
            if self._running == 0:
                self._texts = []
            # What appears is measured from here: from the first deck with a database_url's
            # role; on the private server only a superuser deck leaves what no deck role owns,
            # so from the first of those (and no catalog read for the others).
            if self._before is None and (superuser or not self.admin.server.private):
                self._before = self._everything()
            if superuser and self._settings_before is None:
                self._settings_before = self._role_settings()
            self._running += 1
            self._texts.append(sql_text)

    def _ended(self, superuser: bool) -> list[str]:
        warnings = []
        if superuser and self.admin.server.private:
            warnings.extend(self._reset_server_settings())
        with self._lock:
            self._running -= 1
            if self._running:
                return warnings
            before, self._before = self._before, None
            self._settings_before = None
            if before is None:
                return warnings
            try:
                named = cluster.name_finder(self._texts)
                taken, others = cluster.appeared(self.admin, before, named)
                return [*warnings, *cluster.drop(self.admin, taken), *cluster.left_alone(others)]
            except (psycopg2.Error, DatabaseError) as error:
                return [
                    *warnings,
                    f"could not look for what the decks left: {self.admin.reason(error)}",
                ]

    def _everything(self) -> frozenset[cluster.ClusterObject] | None:
        try:
            return cluster.everything(self.admin)
        except (psycopg2.Error, DatabaseError):
            return None

    def _role_settings(self) -> frozenset[tuple[str, str, str]]:
        """(role, database, settings) of every ALTER ROLE / DATABASE ... SET; '' for ALL."""
        try:
            found = self.admin.rows(
                "SELECT coalesce(r.rolname, ''), coalesce(d.datname, ''), s.setconfig::text"
                " FROM pg_db_role_setting s LEFT JOIN pg_roles r ON r.oid = s.setrole"
                " LEFT JOIN pg_database d ON d.oid = s.setdatabase"
            )
        except (psycopg2.Error, DatabaseError):
            return frozenset()
        return frozenset((role, database, config) for role, database, config in found)

    def _reset_server_settings(self) -> list[str]:
        """Undo what a superuser deck set for the whole server (ALTER SYSTEM, ALTER ROLE or
        DATABASE ... SET, those made since it began): the private server is every project's,
        and must start next time."""
        before = self._settings_before or frozenset()
        try:
            self.admin.rows("ALTER SYSTEM RESET ALL")  # the private server's file is pgslides'
            for role, database, _config in self._role_settings() - before:
                self._reset(role, database)
            self.admin.rows("SELECT pg_reload_conf()")
        except (psycopg2.Error, DatabaseError) as error:
            reason = self.admin.reason(error)
            return [f"could not reset the server's settings after a superuser deck: {reason}"]
        return []

    def _reset(self, role: str, database: str) -> None:
        if role and database:
            self.admin.run("ALTER ROLE {} IN DATABASE {} RESET ALL", role, database)
        elif role:
            self.admin.run("ALTER ROLE {} RESET ALL", role)
        elif database:  # ALTER DATABASE ... SET, or ALTER ROLE ALL IN DATABASE ... SET
            self.admin.run("ALTER DATABASE {} RESET ALL", database)
        else:
            self.admin.run("ALTER ROLE ALL RESET ALL")

    def _sweep(self) -> None:
        """Drop the databases and roles of builds that were killed before they could."""
        try:
            dead = cluster.dead_builds(self.admin, private=self.admin.server.private)
        except (psycopg2.Error, DatabaseError) as error:
            reason = self.admin.reason(error)
            self.notes.append(
                Problem(f"could not look for what killed builds left: {reason}", severity="warning")
            )
            return
        if not dead:
            return
        problems = cluster.drop(self.admin, dead)
        self.notes.extend(Problem(message, severity="warning") for message in problems)
        names = sorted(item.name for item in dead if item.kind in ("database", "role"))
        self.notes.append(
            Problem(
                f"dropped what builds killed before their end left: {', '.join(names)}",
                severity="info",
            )
        )
