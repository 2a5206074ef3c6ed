"""A PostgreSQL server to run on, from a URL: its connection keywords, its label with the
password masked, and connections to it as pgslides opens them."""

from __future__ import annotations

import collections
import html
import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import psycopg2
import psycopg2.extensions
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from pgslides.errors import SetupError

APPLICATION_NAME = "pgslides"
# TCP settings of every connection, unless the URL sets its own (libpq ignores them on a Unix
# socket): the kernel notices a network gone dead under any wait, even one no watchdog times
# (keepalive probes after 10 s idle, every 5 s, 3 missed), and drops a connection whose data
# has gone unacknowledged for 20 s. A statement's own bound is shorter (run.watchdog).
TCP_SETTINGS = {
    "keepalives": "1",
    "keepalives_idle": "10",
    "keepalives_interval": "5",
    "keepalives_count": "3",
    "tcp_user_timeout": "20000",  # ms
}


class DatabaseError(SetupError):
    """A setup problem (server unreachable, missing privilege): one sentence that names the fix."""


@dataclass(frozen=True)
class Server:
    """A PostgreSQL server as libpq keywords; the password is kept out of repr and labels."""

    params: dict[str, Any]
    label: str  # what logs and errors may show: the URL with its password masked
    password: str | None = field(default=None, repr=False)
    # pgslides' own embedded server: the libpq variables of the user's shell are meant for
    # other servers and never reach it (with a URL they apply, as libpq documents).
    private: bool = False

    def as_role(self, role: str) -> Server:
        """The same server, connected to as `role` (a deck's own role)."""
        return replace(self, params={**self.params, "user": role})

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


_UNENCODED_AT = (
    "database_url has an @ in its user name, password or database name that is not "
    "URL-encoded; write each such @ as %40 (postgresql://user:p%40ss@host/dbname)"
)


def server_from_url(url: str) -> Server:
    """Parse a database URL (postgresql://, postgres://, postgresql+psycopg2://) into a Server.

    A password with an unencoded @ (`u:p@ss@host`) would end at its first @ and put the rest
    into the host, where labels and errors show it: such a URL is refused, and no message
    quotes any of it."""
    # Before the query, only the @ that ends user:password belongs in a URL.
    if url.partition("://")[2].partition("?")[0].count("@") > 1:
        raise DatabaseError(_UNENCODED_AT)
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):  # ValueError: a port that is not a number
        raise DatabaseError(
            "database_url is not a valid URL; expected postgresql://user:password@host:port/dbname"
        ) from None
    if "@" in (parsed.host or "") or "@" in (parsed.database or ""):
        raise DatabaseError(_UNENCODED_AT)  # a password with ? before its @
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


def connect(
    server: Server,
    dbname: str | None,
    options: str = "",
    timeout_s: int = 10,
    *,
    application_name: str = APPLICATION_NAME,
    defaults: str = "",
) -> Any:
    """A psycopg2 connection in autocommit (as psql), returning every value as PostgreSQL text."""
    params = libpq_keywords(
        server, dbname, options, timeout_s, application_name=application_name, defaults=defaults
    )
    try:
        conn = psycopg2.connect(**params)
    except psycopg2.OperationalError as error:
        message = mask_password(str(error).strip().splitlines()[0], server)
        if "too many clients" in message or "remaining connection slots" in message:
            # pgslides bounds jobs by the free connections at the build's start; others took
            # some since.
            message += "; lower jobs, or raise the server's max_connections"
        raise DatabaseError(f"cannot connect to {server.label}: {message}") from None
    conn.autocommit = True
    # psycopg2 keeps only the last 50 notices in its own list; a deck may raise more.
    conn.notices = collections.deque(maxlen=10_000)
    register_raw_text(conn)
    return conn


def libpq_keywords(
    server: Server,
    dbname: str | None,
    options: str = "",
    timeout_s: int = 10,
    *,
    application_name: str = APPLICATION_NAME,
    defaults: str = "",
) -> dict[str, Any]:
    """The keywords `connect` gives libpq (a deck's Python worker connects with the same)."""
    params = server.connect_params(dbname)
    params.setdefault("connect_timeout", timeout_s)
    for key, value in TCP_SETTINGS.items():
        if key != "tcp_user_timeout" or psycopg2.extensions.libpq_version() >= 120000:
            params.setdefault(key, value)  # tcp_user_timeout is libpq 12's: older ones refuse it
    params["application_name"] = application_name
    params["client_encoding"] = "UTF8"
    if server.private:
        params.update(_PRIVATE_KEYWORDS)
        params.setdefault("options", "")
        # A file that is never there (in the private socket directory): no PGPASSFILE.
        params["passfile"] = str(Path(params["host"]) / ".pgslides-no-passfile")
    # The URL's own -c settings come after `defaults` (they may change those) and before
    # `options` (the pinned ones win where both set a name).
    joined = " ".join(part for part in (defaults, params.get("options", ""), options) if part)
    if joined or server.private:
        params["options"] = joined
    return params


# Given explicitly to the private server, so that libpq takes nothing from PG* variables:
# a keyword given wins over its variable (PGOPTIONS, PGSSLMODE, PGHOSTADDR, PGPASSFILE, ...).
_PRIVATE_KEYWORDS = {
    "hostaddr": "",
    "sslmode": "disable",
    "gssencmode": "disable",
    "channel_binding": "disable",
    "require_auth": "",
    "target_session_attrs": "any",
    "load_balance_hosts": "disable",
}
# Variables libpq reads with no keyword to outweigh them: PGSERVICE names a service the private
# server is not in (the connection fails), PGTZ, PGDATESTYLE and PGGEQO outweigh -c options.
_UNKEYED_VARIABLES = ("PGSERVICE", "PGSERVICEFILE", "PGTZ", "PGDATESTYLE", "PGGEQO")


def forget_unkeyed_libpq_variables() -> None:
    """Remove from this process the libpq variables no keyword outweighs.

    Called when the private server is used: this process then talks to no other server.
    """
    for name in _UNKEYED_VARIABLES:
        os.environ.pop(name, None)


def register_raw_text(conn: Any) -> None:
    """Make every type psycopg2 knows come back as the server's own text, not a Python object.

    psycopg2's default casts lose information a slide must show (interval months, jsonb
    spacing, numeric scale, infinity); types it has no caster for are text already.
    """
    oids = tuple(psycopg2.extensions.string_types)
    raw = psycopg2.extensions.new_type(oids, "PGSLIDES_RAW", lambda value, _cursor: value)
    psycopg2.extensions.register_type(raw, conn)


def server_version(conn: Any) -> str:
    """The server's version as it names itself (SHOW server_version): as the server reported it
    when the connection started (no round trip), or asked if it did not."""
    reported = conn.info.parameter_status("server_version")
    if reported:
        return str(reported)
    with conn.cursor() as cur:
        cur.execute("SHOW server_version")
        return cur.fetchone()[0]
