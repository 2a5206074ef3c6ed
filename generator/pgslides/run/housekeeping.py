"""A build's care of the server it runs on: what killed builds left is dropped before its first
deck; decks run in places of their own, and what they leave outside them is dropped after;
`jobs` never asks for more connections than the server has free."""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import psycopg2

from pgslides.errors import Problem
from pgslides.run import cluster
from pgslides.run.admin import Admin
from pgslides.run.database import DatabaseError, DeckDatabase, SessionSettings
from pgslides.run.server import Server

if TYPE_CHECKING:
    from pgslides.run.templates import Template

WHAT_A_DECK_CAN_DO = "README, What a deck can do"
# Places handed to a Dropper are dropped in batches of this many: at the latest when the decks
# are done, and sooner when more pile up (each holds a database's disk space until then).
DROP_BATCH = 32


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
        self.spare = 0  # connections free for pgslides' own use once the decks are done
        self._while_decks_run = 0  # pgslides' own connections while decks run (0: unbounded)
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
        # pgslides' own connections (its first is not in `free`): while decks run, the one
        # each running deck is counted for and what the decks leave (the next decks' places
        # are made while others run); once they are done, as many as the decks used.
        self._while_decks_run = 1 + fits + max(0, free - fits * connections_per_deck)
        self.spare = min(free - 1, fits * connections_per_deck)
        self.decks_running(True)
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

    def decks_running(self, running: bool) -> None:
        """Bound pgslides' own connections to what the decks' leave while they run (they are
        all the server has room for), and lift it to the spare ones once they are done."""
        if self._while_decks_run:
            self.admin.pool.bound(
                self._while_decks_run if running else max(self._while_decks_run, 1 + self.spare)
            )

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
        template: Template | None = None,
        later: Dropper | None = None,
    ) -> Iterator[DeckDatabase]:
        """The deck's own place (a clone of `template`, if given); when it and the decks running
        beside it are done, what appeared on the server meanwhile that the decks' SQL
        (`sql_text`: blocks and setup files) names is dropped too (cluster.appeared). With
        `later`, the deck's place is dropped by it, with the other decks', not at once."""
        self._began(superuser, sql_text)
        try:
            with DeckDatabase(
                self.admin, deck_name, isolation, settings, superuser, template=template
            ) as db:
                try:
                    yield db
                finally:
                    if later is None:
                        db.close()
                    else:
                        later.add(db.hand_over(), warnings)
                    warnings.extend(db.warnings)
        finally:
            warnings.extend(self._ended(superuser, later, warnings))

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

    def _ended(
        self, superuser: bool, later: Dropper | None = None, said: list[str] | None = None
    ) -> list[str]:
        """What the deck's end leaves to say; with `later`, what the decks made outside their
        places is dropped after those places (a grant in a deck's database holds a role)."""
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
                if later is not None and said is not None:
                    later.then(functools.partial(cluster.drop, self.admin, taken), said)
                    taken = frozenset()
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
        kinds: dict[str, list[str]] = {}  # a deck's database and its role share a name
        for item in sorted(dead, key=lambda item: (item.name, item.kind)):
            if item.kind in ("database", "role"):
                kinds.setdefault(item.name, []).append(item.kind)
        left = ", ".join(f"{name} ({' and '.join(kind)})" for name, kind in kinds.items())
        self.notes.append(
            Problem(f"dropped what builds killed before their end left: {left}", severity="info")
        )


class Dropper:
    """Decks' places, dropped together once the decks are done rather than one by one.

    A DROP DATABASE makes the server write and sync every dirty page it holds (a checkpoint).
    Dropped as each deck ends, while others run, every drop writes out the other decks' fresh
    databases too; dropped together, each database's pages are let go before anything writes
    them, and drops running at once share their checkpoints."""

    def __init__(self, workers: int) -> None:
        self.workers = max(1, workers)
        self._lock = threading.Lock()
        self._pending: list[tuple[Callable[[], list[str]], list[str]]] = []
        self._then: list[tuple[Callable[[], list[str]], list[str]]] = []

    def add(self, drop: Callable[[], list[str]], warnings: list[str]) -> None:
        """Drop later; what cannot be dropped is added to `warnings` then."""
        with self._lock:
            self._pending.append((drop, warnings))
            full = len(self._pending) >= DROP_BATCH
        if full:
            self.finish()

    def then(self, drop: Callable[[], list[str]], warnings: list[str]) -> None:
        """Drop after the places handed over so far (what their decks made outside them)."""
        with self._lock:
            self._then.append((drop, warnings))

    def finish(self) -> None:
        """Drop everything handed over, several at once, then what comes after them."""
        with self._lock:
            pending, self._pending = self._pending, []
            then, self._then = self._then, []
        if pending:
            with ThreadPoolExecutor(max_workers=min(self.workers, len(pending))) as pool:
                found = list(pool.map(lambda item: item[0](), pending))
            for (_drop, warnings), problems in zip(pending, found, strict=True):
                warnings.extend(problems)
        for drop, warnings in then:
            warnings.extend(drop())
