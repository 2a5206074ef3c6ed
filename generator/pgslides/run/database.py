"""A deck's own place to run (a fresh database or schema, dropped after it) and its named
sessions, each pinned to the same settings so a slide reads the same on every machine."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import psycopg2
import psycopg2.extensions

from pgslides.run import cluster
from pgslides.run.admin import Admin, deck_group
from pgslides.run.embedded import EmbeddedServer, default_embedded_dir, embedded_major_version
from pgslides.run.server import (
    APPLICATION_NAME,
    DatabaseError,
    Server,
    connect,
    libpq_keywords,
    mask_password,
    register_raw_text,
    secret_forms,
    server_from_url,
    server_version,
)
from pgslides.run.watchdog import Running
from pgslides.settings import ISOLATIONS

if TYPE_CHECKING:
    from pgslides.run.templates import Template


@dataclass(frozen=True)
class SessionSettings:
    """What every session of a deck pins, so a slide shows the same text on every machine."""

    statement_timeout_ms: int = 10_000
    lock_timeout_ms: int = 10_000
    idle_in_transaction_timeout_ms: int = 60_000
    timezone: str = "UTC"
    connect_timeout_s: int = 10


def _options_value(value: str) -> str:
    # libpq's options string splits on spaces; a backslash keeps one inside a value.
    return value.replace("\\", "\\\\").replace(" ", "\\ ")


def session_options(settings: SessionSettings, search_path: str) -> str:
    """The -c settings every session starts with; RESET ALL returns to these, not the server's."""
    pinned = {
        "TimeZone": settings.timezone,
        "DateStyle": "ISO, MDY",
        "IntervalStyle": "postgres",
        "extra_float_digits": "1",
        "search_path": search_path,
        "statement_timeout": f"{settings.statement_timeout_ms}ms",
        "lock_timeout": f"{settings.lock_timeout_ms}ms",
        "idle_in_transaction_session_timeout": f"{settings.idle_in_transaction_timeout_ms}ms",
    }
    return _options(pinned)


def session_defaults(read_only: bool) -> str:
    """The -c settings a session starts with unless the database_url's own options say else.

    What psql shows: a server- or role-wide setting (another project's ALTER SYSTEM, a deck's
    ALTER ROLE ... SET) must not hide a slide's notices or make every later build read-only;
    a URL's `-c default_transaction_read_only=on` (a read-only connection) still holds."""
    read = "on" if read_only else "off"
    return _options({"client_min_messages": "notice", "default_transaction_read_only": read})


def _options(settings: dict[str, str]) -> str:
    return " ".join(f"-c {key}={_options_value(value)}" for key, value in settings.items())


@dataclass
class Session:
    """One named connection of a deck, and what pgslides last set on it."""

    name: str
    conn: Any
    statement_timeout_ms: int | None  # the session's statement_timeout as pgslides set it;
    # None once the deck ran a SET or RESET that may have changed it
    standard_strings: bool = True  # the server's standard_conforming_strings after the last
    # statement: how psql would lex the session's next line (see run.statements)
    running: Running = field(default_factory=Running)  # what runs now, to stop from elsewhere

    def roll_back_if_open(self) -> bool:
        """Roll back a transaction the deck left open; whether there was one."""
        if self.conn.info.transaction_status == psycopg2.extensions.TRANSACTION_STATUS_IDLE:
            return False
        with contextlib.suppress(psycopg2.Error), self.conn.cursor() as cur:
            cur.execute("ROLLBACK")
        return True

    def note_settings(self) -> None:
        """Read what the server reported after a statement (its ParameterStatus messages)."""
        value = self.conn.get_parameter_status("standard_conforming_strings")
        self.standard_strings = value != "off"


class DeckDatabase:
    """The place one deck runs, made fresh for it and removed after it (context manager).

    On the private (embedded) server the deck also has a role of its own: it owns the deck's
    database, is never a superuser unless the deck says it needs one, and when the deck is done
    the role goes with everything it made (cluster.made_by). With a database_url the deck runs
    as the URL's role, and what it made outside its database is found by the Housekeeper.
    """

    def __init__(
        self,
        admin: Admin,
        deck_name: str,
        isolation: str,
        settings: SessionSettings,
        superuser: bool = False,
        *,
        template: Template | None = None,  # a clone of it, not a fresh database (run.templates)
    ) -> None:
        if isolation not in ISOLATIONS:
            raise DatabaseError(f"isolation must be one of {', '.join(ISOLATIONS)}")
        self.admin = admin
        self.isolation = isolation
        self.settings = settings
        self.superuser = superuser
        self.template = template if isolation == "database" else None
        self.name = admin.deck_name(deck_name)
        self.own_role = admin.server.private
        self.server = admin.server.as_role(self.name) if self.own_role else admin.server
        self.warnings: list[str] = []  # what could not be dropped, each naming how to
        self._sessions: dict[str, Session] = {}
        self._monitor: Any = None
        self._made: list[cluster.ClusterObject] = []

    def __enter__(self) -> DeckDatabase:
        try:
            self._create()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def dbname(self) -> str:
        return self.name if self.isolation == "database" else self.server.maintenance_db

    def session(self, name: str) -> Session:
        """Session `name`, connected on first use."""
        if name not in self._sessions:
            options, timeout_s, defaults = self._pinned()
            conn = connect(self.server, self.dbname, options, timeout_s, defaults=defaults)
            session = Session(name, conn, self.settings.statement_timeout_ms)
            session.note_settings()
            self._sessions[name] = session
        return self._sessions[name]

    def _pinned(self) -> tuple[str, int, str]:
        search_path = self.name if self.isolation == "schema" else '"$user", public'
        options = session_options(self.settings, search_path)
        return options, self.settings.connect_timeout_s, session_defaults(self.isolation == "none")

    def session_keywords(self) -> dict[str, Any]:
        """What a session connects with, as libpq keywords (for the deck's Python worker)."""
        options, timeout_s, defaults = self._pinned()
        return libpq_keywords(self.server, self.dbname, options, timeout_s, defaults=defaults)

    def cancel(self) -> None:
        """Stop what every session is running, and what it would start next, in a bounded
        time (from another thread: an interrupted build; see run.watchdog)."""
        for session in list(self._sessions.values()):
            session.running.stop()

    def monitor(self) -> Any:
        """A connection of pgslides' own, to watch the sessions' locks; closed with the deck."""
        if self._monitor is None:
            self._monitor = connect(self.server, self.dbname, "", self.settings.connect_timeout_s)
        return self._monitor

    def _create(self) -> None:
        try:
            if self.own_role:
                power = "SUPERUSER" if self.superuser else _ORDINARY_ROLE
                if not self.superuser and self.admin.version_num >= 160000:
                    # From 16 only: a CREATEROLE role manages just the roles it made; before,
                    # it could grant itself pg_execute_server_program.
                    power += " CREATEROLE"
                template = f"CREATE ROLE {{}} LOGIN {power} IN ROLE {{}}"
                self._make("role", template, self.name, deck_group(self.admin))
            if self.isolation == "none":
                return
            owner = self.name if self.own_role else self.admin.role
            if self.template is None:
                self._make(self.isolation, _CREATE[self.isolation], self.name, owner)
                return
            self.template.clone(self.admin, self.name, owner)
            self._made.append(cluster.ClusterObject("database", self.name))
            self.template.hand_to(self.admin, self.name, owner)
        except psycopg2.errors.InsufficientPrivilege:
            raise DatabaseError(
                f"the role connecting to {self.server.label} {_MISSING_PRIVILEGE[self.isolation]}"
            ) from None
        except psycopg2.Error as error:
            # e.g. a read-only replica: the server refuses, and says why in one line.
            raise DatabaseError(
                f"{self.server.label} refused to create the deck's {self.isolation}: "
                f"{self.admin.reason(error)}"
            ) from None

    def _make(self, kind: str, template: str, *names: str) -> None:
        self.admin.run(template, *names)
        self._made.append(cluster.ClusterObject(kind, self.name))

    def close(self) -> None:
        """Close every session, then drop what was made for the deck; safe to call twice."""
        self.warnings.extend(self.hand_over()())

    def hand_over(self) -> Callable[[], list[str]]:
        """Close every session now, and leave dropping what was made for the deck to the
        caller: a call that drops it, and returns a warning for each thing that stays."""
        self.cancel()
        for session in self._sessions.values():
            with contextlib.suppress(Exception):
                session.conn.close()
            session.running.close()
        self._sessions.clear()
        if self._monitor is not None:
            with contextlib.suppress(Exception):
                self._monitor.close()
            self._monitor = None
        made, self._made = self._made, []
        return lambda: self._drop(made)

    def _drop(self, made: list[cluster.ClusterObject]) -> list[str]:
        if not made:
            return []
        warnings = []
        try:
            # What keeps the database from being dropped (prepared transactions, logical
            # slots), and on the private server all the deck's role made.
            found = (
                cluster.inside(self.admin, self.dbname) if self.isolation == "database" else set()
            )
            if self.own_role:
                found |= cluster.made_by(self.admin, [self.name])
            made = sorted(found | set(made))
        except (psycopg2.Error, DatabaseError) as error:
            warnings.append(f"could not list what the deck made: {self.admin.reason(error)}")
        return warnings + cluster.drop(self.admin, made)


_ORDINARY_ROLE = "NOSUPERUSER CREATEDB NOREPLICATION NOBYPASSRLS"
_CREATE = {
    "database": "CREATE DATABASE {} OWNER {} TEMPLATE template0 ENCODING 'UTF8'",
    "schema": "CREATE SCHEMA {} AUTHORIZATION {}",
}
_MISSING_PRIVILEGE = {
    "database": "may not create databases; grant it CREATEDB or set isolation: schema",
    "schema": "may not create a schema; grant it CREATE on the database or set isolation: none",
}


# Kept importable from here, where they lived before the server had a module of its own.
__all__ = [
    "APPLICATION_NAME",
    "ISOLATIONS",
    "DatabaseError",
    "DeckDatabase",
    "EmbeddedServer",
    "Server",
    "Session",
    "SessionSettings",
    "connect",
    "default_embedded_dir",
    "embedded_major_version",
    "mask_password",
    "register_raw_text",
    "secret_forms",
    "server_from_url",
    "server_version",
    "session_options",
]
