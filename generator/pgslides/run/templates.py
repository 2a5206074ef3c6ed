"""Setup templates: decks of one build that share their setup (the same files with the same
contents, the same session settings, isolation: database) start from a clone of a database
the setup ran in once (CREATE DATABASE ... TEMPLATE), not from running the setup again.

The setup runs in its template as it would in a deck: on the private server as a role of its
own with a deck's rights, owning the template's database; with a URL as the URL's role. Each
clone then belongs to its deck: on the private server what the setup made is handed to the
deck's role (REASSIGN OWNED). A template is used only when the setup left nothing but what is
inside its database, and nothing in its session (settings, temporary tables, prepared
statements, cursors, advisory locks, LISTEN, an open transaction); otherwise, or when the
setup fails, its decks run their setup themselves, as without templates. Templates are named
like decks' databases (`pgslides_tpl_<hash>_<pid>_<build>_<n>`), closed to connections, and
dropped when the build's decks are done (under `mkdocs serve`, kept for the next rebuild, so an
edited deck starts from its setup's clone); what a killed build left is swept like its decks'.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

import psycopg2
import psycopg2.extensions
from psycopg2 import sql

from pgslides.run import cluster
from pgslides.run.admin import Admin
from pgslides.run.database import DatabaseError, DeckDatabase, SessionSettings
from pgslides.run.execute import ExecutionError, RunLimits
from pgslides.run.setupfiles import SetupFile, run_setup

TEMPLATE_PREFIX = "tpl_"
# CREATE DATABASE ... TEMPLATE fails while another session is in the template: nobody can
# connect to one (ALLOW_CONNECTIONS false), so this is only a second line of defence.
CLONE_TRIES = 5
CLONE_PAUSE_S = 0.1
# A deck that reads its session's sequence state would see none in a clone: the setup's
# nextval calls were made in another session. Such decks run their setup themselves.
_SESSION_SEQUENCES = re.compile(r"\b(?:currval|lastval)\b", re.IGNORECASE)

# What a setup can leave in its session, which a clone (and the deck's fresh session) lacks;
# and default privileges (ALTER DEFAULT PRIVILEGES), which REASSIGN OWNED does not hand over.
_SESSION_STATE = """
SELECT (SELECT count(*) FROM pg_settings WHERE source = 'session')
     + (SELECT count(*) FROM pg_class WHERE relnamespace = pg_my_temp_schema())
     + (SELECT count(*) FROM pg_prepared_statements)
     + (SELECT count(*) FROM pg_cursors)
     + (SELECT count(*) FROM pg_locks WHERE pid = pg_backend_pid() AND locktype = 'advisory')
     + (SELECT count(*) FROM pg_listening_channels())
     + (SELECT count(*) FROM pg_default_acl)
"""
# What a setup can leave about its database or its role in the shared catalogs, which a clone
# does not copy or REASSIGN OWNED does not hand over: ALTER DATABASE/ROLE ... SET, comments,
# grants on the database, policies naming the role, grants to it on what it does not own.
_SHARED_STATE = """
SELECT (SELECT count(*) FROM pg_db_role_setting
        WHERE setdatabase = d.oid OR setrole IS NOT DISTINCT FROM r.oid)
     + (SELECT count(*) FROM pg_shdescription WHERE objoid IN (d.oid, r.oid))
     + (SELECT count(*) FROM pg_shdepend
        WHERE dbid = d.oid AND refobjid IS NOT DISTINCT FROM r.oid AND deptype <> 'o')
     + (CASE WHEN d.datacl IS NULL THEN 0 ELSE 1 END)
FROM pg_database d LEFT JOIN pg_roles r ON r.rolname = %(role)s
WHERE d.datname = %(database)s
"""

Drop = Callable[[], list[str]]  # drops a template; returns a warning for each thing that stays


@dataclass(frozen=True)
class Template:
    """A database made by running a setup once, for decks to be cloned from."""

    name: str
    role: str | None  # the role that ran the setup (private server); None with a URL

    def clone(self, admin: Admin, dbname: str, owner: str) -> None:
        """CREATE DATABASE dbname from the template; concurrent clones are fine."""
        for attempt in range(1, CLONE_TRIES + 1):
            try:
                admin.run("CREATE DATABASE {} OWNER {} TEMPLATE {}", dbname, owner, self.name)
                return
            except psycopg2.errors.ObjectInUse:
                if attempt == CLONE_TRIES:
                    raise
                time.sleep(CLONE_PAUSE_S * attempt)

    def hand_to(self, admin: Admin, dbname: str, owner: str) -> None:
        """Make the deck's role owner of what the setup made, as if the deck had run it."""
        if self.role is not None and self.role != owner:
            roles = (sql.Identifier(self.role), sql.Identifier(owner))
            admin.run_in(dbname, sql.SQL("REASSIGN OWNED BY {} TO {}").format(*roles))


def template_key(
    setup: tuple[SetupFile, ...],
    settings: SessionSettings,
    limits: RunLimits,
    deck_sql: Iterable[str],
) -> str | None:
    """What decks must share to share a template (None: this deck runs its setup itself): the
    setup files (where they are, what they hold) and the session settings the setup runs with."""
    texts = [*(item.sql for item in setup), *deck_sql]
    if not setup or any(_SESSION_SEQUENCES.search(text) for text in texts):
        return None
    material = {
        "setup": [[item.source or item.path, item.sql] for item in setup],
        "settings": [settings.timezone, settings.statement_timeout_ms, settings.lock_timeout_ms],
        "idle": settings.idle_in_transaction_timeout_ms,
        "limits": [limits.statement_timeout_ms],
    }
    text = json.dumps(material, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def make_template(
    admin: Admin,
    key: str,
    setup: tuple[SetupFile, ...],
    pinned: tuple[SessionSettings, RunLimits],
    running: Callable[[DeckDatabase], AbstractContextManager[Any]],
) -> tuple[Template, Drop] | None:
    """Run the setup files in a database of their own, as a deck would (with its session
    settings and limits, `pinned`): its Template and how to drop it, or None (nothing left
    behind) when the decks must run their setup themselves.

    `running(db)` keeps the template's place cancellable while its setup runs."""
    settings, limits = pinned
    try:
        with DeckDatabase(admin, TEMPLATE_PREFIX + key[:12], "database", settings) as db:
            with running(db):
                if not _setup_alone(admin, db, setup, limits):
                    return None  # leaving the block drops what the setup made
            drop = db.hand_over()
    except (DatabaseError, psycopg2.Error):
        return None  # the deck's own database then fails as it would, or works
    role = db.name if db.own_role else None
    try:
        if role is not None:  # REASSIGN OWNED in a clone must not take the template with it
            admin.run("ALTER DATABASE {} OWNER TO {}", db.name, admin.role)
        admin.run("ALTER DATABASE {} ALLOW_CONNECTIONS false", db.name)
    except (DatabaseError, psycopg2.Error):
        drop()
        return None
    return Template(db.name, role), drop


def _setup_alone(
    admin: Admin, db: DeckDatabase, setup: tuple[SetupFile, ...], limits: RunLimits
) -> bool:
    """Run the setup; whether all it left is inside the template's database."""
    session = db.session("main")
    before = None if db.own_role else cluster.everything(admin)
    try:
        for item in setup:
            run_setup(item, session, limits, [])
    except ExecutionError:
        return False  # each deck runs its setup, and fails as it would have
    if session.conn.info.transaction_status != psycopg2.extensions.TRANSACTION_STATUS_IDLE:
        return False
    with session.conn.cursor() as cur:
        cur.execute(_SESSION_STATE)
        if int(cur.fetchone()[0]):
            return False
    role = db.name if db.own_role else None
    if int(admin.rows(_SHARED_STATE, {"role": role, "database": db.name})[0][0]):  # type: ignore[arg-type]
        return False
    itself = cluster.ClusterObject("database", db.name)
    if before is None:  # what the setup's own role made, besides itself and its database
        made = cluster.made_by(admin, [db.name])
        return made <= {cluster.ClusterObject("role", db.name), itself}
    named = cluster.name_finder(item.sql for item in setup)
    new = {item for item in cluster.everything(admin) - before if named(item.name)} - {itself}
    if new:  # the decks' own setups will make them again: drop them now
        cluster.drop(admin, new)
    return not new
