"""What a deck can leave outside its own database, found from the server's catalogs (never by
reading the deck's SQL) and dropped: prepared transactions, replication slots, databases,
tablespaces and roles.

Two ways to find them: everything a deck's own role owns or administers (it made it, whatever
statement, DO block or dblink call made it, and whatever it was renamed to), and everything
that appeared on the server while decks ran (for decks that run as a role pgslides does not
make: a database_url's, or a superuser deck's, whose creations have no owner to follow).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import psycopg2
from psycopg2 import sql

from pgslides.run.admin import DECK_GROUP, DECK_NAME, DECK_PREFIX, OLD_DECK_NAME, Admin
from pgslides.run.server import DatabaseError

# Dropped in this order: a prepared transaction or a logical slot keeps a database from being
# dropped, a database keeps its tablespace, and an owner its objects.
KINDS = ("prepared", "slot", "database", "tablespace", "role")


@dataclass(frozen=True, order=True)
class ClusterObject:
    kind: str  # one of KINDS
    name: str
    database: str = ""  # of a prepared transaction or a logical slot


_EVERYTHING = """
SELECT 'role', rolname, '' FROM pg_roles
UNION ALL SELECT 'database', datname, '' FROM pg_database
UNION ALL SELECT 'tablespace', spcname, '' FROM pg_tablespace
UNION ALL SELECT 'slot', slot_name, coalesce(database, '') FROM pg_replication_slots
UNION ALL SELECT 'prepared', gid, database FROM pg_prepared_xacts
"""

# The roles a deck role made (it holds ADMIN on them: PostgreSQL 16 grants it to their
# creator), transitively; then what any of them owns.
_MADE_BY = """
WITH RECURSIVE made(oid) AS (
    SELECT oid FROM pg_roles WHERE rolname = ANY(%(roles)s)
    UNION
    SELECT m.roleid FROM pg_auth_members m JOIN made ON m.member = made.oid WHERE m.admin_option
), names AS (SELECT rolname FROM pg_roles WHERE oid IN (SELECT oid FROM made))
SELECT 'role', rolname, '' FROM names
UNION ALL SELECT 'database', datname, '' FROM pg_database WHERE datdba IN (SELECT oid FROM made)
UNION ALL SELECT 'tablespace', spcname, '' FROM pg_tablespace
    WHERE spcowner IN (SELECT oid FROM made)
UNION ALL SELECT 'prepared', gid, database FROM pg_prepared_xacts
    WHERE owner IN (SELECT rolname FROM names)
       OR database IN (SELECT datname FROM pg_database WHERE datdba IN (SELECT oid FROM made))
UNION ALL SELECT 'slot', slot_name, database FROM pg_replication_slots
    WHERE database IN (SELECT datname FROM pg_database WHERE datdba IN (SELECT oid FROM made))
"""


def everything(admin: Admin) -> frozenset[ClusterObject]:
    """Every object of the kinds a deck can leave, as the server lists them now."""
    return frozenset(ClusterObject(*row) for row in admin.rows(_EVERYTHING))


def made_by(admin: Admin, roles: Iterable[str]) -> frozenset[ClusterObject]:
    """The deck roles `roles`, and everything they made or own."""
    found = admin.rows(_MADE_BY, {"roles": list(roles)})  # type: ignore[arg-type]
    return frozenset(ClusterObject(*row) for row in found)


def inside(admin: Admin, dbname: str) -> frozenset[ClusterObject]:
    """What keeps a database from being dropped: its prepared transactions and logical slots."""
    found = admin.rows(
        "SELECT 'prepared', gid, database FROM pg_prepared_xacts WHERE database = %s"
        " UNION ALL SELECT 'slot', slot_name, database FROM pg_replication_slots"
        " WHERE database = %s",
        (dbname, dbname),
    )
    return frozenset(ClusterObject(*row) for row in found)


def appeared(admin: Admin, before: frozenset[ClusterObject]) -> frozenset[ClusterObject]:
    """What appeared since `before` that the build's role could have made, but for decks' own
    places and what deck roles made (the decks running now drop those themselves).

    "Could have made": a database or tablespace it owns, a role it administers (PostgreSQL 16
    grants a role's creator ADMIN on it; a superuser administers every role), what sits in
    those databases. Nothing records who made a role when a superuser did, so with a superuser
    role what appears while decks run is taken for theirs (README, What a deck can do)."""
    new = everything(admin) - before
    deck_roles = [item.name for item in new if item.kind == "role" and _is_deck_name(item.name)]
    theirs = made_by(admin, deck_roles) if deck_roles else frozenset()
    candidates = frozenset(item for item in new - theirs if not _is_deck_name(item.name))
    if admin.superuser or not candidates:
        return candidates
    mine = made_by(admin, [admin.role]) - {ClusterObject("role", admin.role)}
    if admin.createrole and admin.version_num < 160000:
        # Before 16, CREATEROLE administers every role but superusers.
        plain = admin.rows("SELECT 'role', rolname, '' FROM pg_roles WHERE NOT rolsuper")
        mine |= {ClusterObject(*row) for row in plain}
    return candidates & mine


def dead_builds(admin: Admin, *, private: bool) -> frozenset[ClusterObject]:
    """Databases and roles of builds that ended without dropping them (killed), with what
    their roles made: their build's connection is gone. Names of older versions (no build id)
    are taken when nobody is connected to them, and on the private server only."""
    live = admin.live_builds()
    connected = {row[0] for row in admin.rows("SELECT datname FROM pg_stat_activity")}
    mine = "" if admin.superuser else " AND pg_get_userbyid(datdba) = current_user"
    rows = admin.rows(
        "SELECT 'database', datname FROM pg_database WHERE starts_with(datname, %s)"
        + mine
        + " UNION ALL SELECT 'role', rolname FROM pg_roles WHERE starts_with(rolname, %s)",
        (DECK_PREFIX, DECK_PREFIX),
    )
    dead = set()
    for kind, name in rows:
        match = DECK_NAME.match(name)
        if match is not None:
            if match["build"] not in live:
                dead.add(ClusterObject(kind, name))
        elif private and OLD_DECK_NAME.match(name) and name not in connected:
            dead.add(ClusterObject(kind, name))
    roles = [item.name for item in dead if item.kind == "role"]
    return frozenset(dead) | (made_by(admin, roles) if roles else frozenset())


def drop(admin: Admin, objects: Iterable[ClusterObject]) -> list[str]:
    """Drop the objects, in an order that lets each go; a warning for each one that stays,
    naming it and the statement that drops it."""
    warnings = []
    for item in sorted(objects, key=lambda item: (KINDS.index(item.kind), item.name)):
        try:
            _DROPPERS[item.kind](admin, item)
        except (psycopg2.Error, DatabaseError) as error:
            statement = _HOW_TO_DROP[item.kind].format(name=item.name, database=item.database)
            warnings.append(
                f"could not drop the {_WHAT[item.kind]} {item.name!r} a deck left: "
                f"{admin.reason(error)}; drop it with: {statement}"
            )
    return warnings


def _drop_prepared(admin: Admin, item: ClusterObject) -> None:
    admin.run_in(item.database, "ROLLBACK PREPARED %s", (item.name,))


def _drop_slot(admin: Admin, item: ClusterObject) -> None:
    admin.rows(
        "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots"
        " WHERE slot_name = %s AND active_pid IS NOT NULL",
        (item.name,),
    )
    admin.rows(
        "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = %s",
        (item.name,),
    )


def _drop_database(admin: Admin, item: ClusterObject) -> None:
    # A deck may have made it a template (which cannot be dropped) or closed it to connections.
    template = admin.rows("SELECT datistemplate FROM pg_database WHERE datname = %s", (item.name,))
    if template and template[0][0] == "t":
        admin.run("ALTER DATABASE {} IS_TEMPLATE false", item.name)
    # WITH (FORCE): a session the deck left behind (or a lock wait) must not keep it alive.
    admin.run("DROP DATABASE IF EXISTS {} WITH (FORCE)", item.name)


def _drop_tablespace(admin: Admin, item: ClusterObject) -> None:
    admin.run("DROP TABLESPACE IF EXISTS {}", item.name)


def _drop_role(admin: Admin, item: ClusterObject) -> None:
    """DROP OWNED in every database where the role still owns or was granted something (in the
    maintenance database for rights on databases, tablespaces and parameters), then DROP ROLE."""
    found = admin.rows("SELECT oid FROM pg_roles WHERE rolname = %s", (item.name,))
    if not found:
        return  # the deck dropped it itself
    where = admin.rows(
        "SELECT DISTINCT coalesce(d.datname, %s) FROM pg_shdepend s"
        " LEFT JOIN pg_database d ON d.oid = s.dbid"
        " WHERE s.refclassid = 'pg_authid'::regclass AND s.refobjid = %s"
        " AND (s.dbid = 0 OR d.oid IS NOT NULL)",
        (admin.server.maintenance_db, found[0][0]),
    )
    owned = sql.SQL("DROP OWNED BY {}").format(sql.Identifier(item.name))
    try:
        for (dbname,) in where:
            admin.run_in(dbname, owned)
    except psycopg2.errors.InsufficientPrivilege:
        pass  # not a member of it (PostgreSQL 15): DROP ROLE may still do, or say why not
    admin.run("DROP ROLE IF EXISTS {}", item.name)


def _is_deck_name(name: str) -> bool:
    """A deck's own database or role, or the group of the decks' roles."""
    if name == DECK_GROUP:
        return True
    return name.startswith(DECK_PREFIX) and bool(DECK_NAME.match(name) or OLD_DECK_NAME.match(name))


_DROPPERS = {
    "prepared": _drop_prepared,
    "slot": _drop_slot,
    "database": _drop_database,
    "tablespace": _drop_tablespace,
    "role": _drop_role,
}
_WHAT = {
    "prepared": "prepared transaction",
    "slot": "replication slot",
    "database": "database",
    "tablespace": "tablespace",
    "role": "role",
}
_HOW_TO_DROP = {
    "prepared": "ROLLBACK PREPARED '{name}' (in database {database})",
    "slot": "SELECT pg_drop_replication_slot('{name}')",
    "database": 'DROP DATABASE "{name}" WITH (FORCE)',
    "tablespace": 'DROP TABLESPACE "{name}"',
    "role": 'DROP OWNED BY "{name}"; DROP ROLE "{name}" (DROP OWNED in each of its databases)',
}
