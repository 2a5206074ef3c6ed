"""A deck's own place to run (a fresh database or schema, dropped after it) and its named
sessions, each pinned to the same settings so a slide reads the same on every machine."""

from __future__ import annotations

import contextlib
import os
import re
import secrets
from dataclasses import dataclass, field
from typing import Any

import psycopg2
import psycopg2.extensions
from psycopg2 import sql

from pgslides.outcome import StatementOutcome
from pgslides.run.embedded import EmbeddedServer, default_embedded_dir, embedded_major_version
from pgslides.run.server import (
    APPLICATION_NAME,
    DatabaseError,
    Server,
    connect,
    mask_password,
    register_raw_text,
    secret_forms,
    server_from_url,
    server_version,
)
from pgslides.run.watchdog import Running
from pgslides.settings import ISOLATIONS

DATABASE_PREFIX = "pgslides_"
_GLOBAL_TAGS = {"CREATE DATABASE": "database", "CREATE ROLE": "role"}
_CREATE_NAME = re.compile(
    r'^\s*create\s+(?:database|role|user|group)\s+(?P<name>"(?:[^"]|"")+"|[^\s;]+)',
    re.IGNORECASE,
)


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


def session_options(settings: SessionSettings, search_path: str, read_only: bool) -> str:
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
    if read_only:
        pinned["default_transaction_read_only"] = "on"
    return " ".join(f"-c {key}={_options_value(value)}" for key, value in pinned.items())


def deck_object_name(deck_name: str) -> str:
    """A database or schema name no other build can pick: prefix, deck, pid, random suffix."""
    slug = re.sub(r"[^a-z0-9]+", "_", deck_name.lower()).strip("_")[:30] or "deck"
    return f"{DATABASE_PREFIX}{slug}_{os.getpid()}_{secrets.token_hex(4)}"


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
    """The place one deck runs, made fresh for it and removed after it (context manager)."""

    def __init__(
        self, server: Server, deck_name: str, isolation: str, settings: SessionSettings
    ) -> None:
        if isolation not in ISOLATIONS:
            raise DatabaseError(f"isolation must be one of {', '.join(ISOLATIONS)}")
        self.server = server
        self.isolation = isolation
        self.settings = settings
        self.name = deck_object_name(deck_name)
        self._sessions: dict[str, Session] = {}
        self._monitor: Any = None
        self._created = False
        self._globals: list[tuple[str, str]] = []  # ("database" | "role", name) the deck made

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
            search_path = self.name if self.isolation == "schema" else '"$user", public'
            options = session_options(self.settings, search_path, self.isolation == "none")
            conn = connect(self.server, self.dbname, options, self.settings.connect_timeout_s)
            session = Session(name, conn, self.settings.statement_timeout_ms)
            session.note_settings()
            self._sessions[name] = session
        return self._sessions[name]

    def cancel(self) -> None:
        """Stop what every session is running, and what it would start next, in a bounded
        time (from another thread: an interrupted build; see run.watchdog)."""
        for session in list(self._sessions.values()):
            session.running.stop()

    def drop_later(self, kind: str, name: str) -> None:
        """Remember a database or role the deck created: they outlive any database, so they
        are dropped when the deck is done."""
        if (kind, name) not in self._globals:
            self._globals.append((kind, name))

    def drop_created(self, statements: list[StatementOutcome]) -> None:
        """drop_later every database and role these statements created."""
        for statement in statements:
            created = created_global(statement)
            if created is not None:
                self.drop_later(*created)

    def monitor(self) -> Any:
        """A connection of pgslides' own, to watch the sessions' locks; closed with the deck."""
        if self._monitor is None:
            self._monitor = connect(self.server, self.dbname, "", self.settings.connect_timeout_s)
        return self._monitor

    def _create(self) -> None:
        if self.isolation == "none":
            return
        try:
            self._on_maintenance_db(_CREATE[self.isolation])
            self._created = True
        except psycopg2.errors.InsufficientPrivilege:
            raise DatabaseError(
                f"the role connecting to {self.server.label} {_MISSING_PRIVILEGE[self.isolation]}"
            ) from None
        except psycopg2.Error as error:
            # e.g. a read-only replica: the server refuses, and says why in one line.
            reason = mask_password(str(error).strip().splitlines()[0], self.server)
            raise DatabaseError(
                f"{self.server.label} refused to create the deck's {self.isolation}: {reason}"
            ) from None

    def close(self) -> None:
        """Close every session, then drop what was created for the deck; safe to call twice."""
        self.cancel()
        for session in self._sessions.values():
            with contextlib.suppress(Exception):
                session.conn.close()
        self._sessions.clear()
        if self._monitor is not None:
            with contextlib.suppress(Exception):
                self._monitor.close()
            self._monitor = None
        for name in [name for kind, name in self._globals if kind == "database"]:
            self._drop_global(_DROP["database"], name)
        if self._created:
            self._on_maintenance_db(_DROP[self.isolation])
            self._created = False
        for name in [name for kind, name in self._globals if kind == "role"]:
            self._drop_global(_DROP["role"], name)
        self._globals.clear()

    def _drop_global(self, template: str, name: str) -> None:
        # Best effort: the deck may have dropped it itself, or left it in use elsewhere.
        with contextlib.suppress(psycopg2.Error, DatabaseError):
            self._on_maintenance_db(template, name)

    def _on_maintenance_db(self, template: str, name: str | None = None) -> None:
        """Run one statement about a database, schema or role from the maintenance database."""
        admin = connect(self.server, self.server.maintenance_db)
        try:
            with admin.cursor() as cur:
                cur.execute(sql.SQL(template).format(sql.Identifier(name or self.name)))
        finally:
            admin.close()


_CREATE = {
    "database": "CREATE DATABASE {} TEMPLATE template0 ENCODING 'UTF8'",
    "schema": "CREATE SCHEMA {}",
}
# WITH (FORCE): a session the deck left behind (or a lock wait) must not keep it alive.
_DROP = {
    "database": "DROP DATABASE IF EXISTS {} WITH (FORCE)",
    "schema": "DROP SCHEMA IF EXISTS {} CASCADE",
    "role": "DROP ROLE IF EXISTS {}",
}
_MISSING_PRIVILEGE = {
    "database": "may not create databases; grant it CREATEDB or set isolation: schema",
    "schema": "may not create a schema; grant it CREATE on the database or set isolation: none",
}


def created_global(statement: StatementOutcome) -> tuple[str, str] | None:
    """("database" | "role", name) when the statement created one: they outlive the deck's
    own database, so the deck must drop them (DeckDatabase.drop_later)."""
    kind = _GLOBAL_TAGS.get(statement.status or "")
    match = _CREATE_NAME.match(statement.sql) if kind else None
    if kind is None or match is None:
        return None
    name = match["name"]
    if name.startswith('"'):
        return kind, name[1:-1].replace('""', '"')
    return kind, name.lower()


# Kept importable from here, where they lived before the server had a module of its own.
__all__ = [
    "APPLICATION_NAME",
    "DATABASE_PREFIX",
    "ISOLATIONS",
    "DatabaseError",
    "DeckDatabase",
    "EmbeddedServer",
    "Server",
    "Session",
    "SessionSettings",
    "connect",
    "created_global",
    "deck_object_name",
    "default_embedded_dir",
    "embedded_major_version",
    "mask_password",
    "register_raw_text",
    "secret_forms",
    "server_from_url",
    "server_version",
    "session_options",
]
