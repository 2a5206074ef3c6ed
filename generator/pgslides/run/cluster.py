"""What a deck can leave outside its own database, found from the server's catalogs (never by
reading the deck's SQL) and dropped: prepared transactions, replication slots, databases,
tablespaces and roles.

Two ways to find them: everything a deck's own role owns or administers (it made it, whatever
statement, DO block or dblink call made it, and whatever it was renamed to), and everything
that appeared on the server while decks ran (for decks that run as a role pgslides does not
make: a database_url's, or a superuser deck's, whose creations have no owner to follow).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import psycopg2
from psycopg2 import sql

from pgslides.run.admin import DECK_GROUP, DECK_NAME, DECK_PREFIX, OLD_DECK_NAME, Admin
from pgslides.run.server import DatabaseError

# Dropped in this order: a prepared transaction or a logical slot keeps a database from being
# dropped, a database keeps its tablespace, and an owner its objects.
KINDS = ("prepared", "slot", "schema", "database", "tablespace", "role")


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
), names AS (SELECT rolname FROM pg_roles WHERE oid IN (SELECT oid FROM made)),
owned AS (SELECT datname FROM pg_database WHERE datdba IN (SELECT oid FROM made))
SELECT 'role', rolname, '' FROM names
UNION ALL SELECT 'database', datname, '' FROM owned
UNION ALL SELECT 'tablespace', spcname, '' FROM pg_tablespace
    WHERE spcowner IN (SELECT oid FROM made)
UNION ALL SELECT 'prepared', gid, database FROM pg_prepared_xacts
    WHERE owner IN (SELECT rolname FROM names) OR database IN (SELECT datname FROM owned)
UNION ALL SELECT 'slot', slot_name, database FROM pg_replication_slots
    WHERE database IN (SELECT datname FROM owned)
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


def appeared(
    admin: Admin, before: frozenset[ClusterObject], named: Callable[[str], bool]
) -> tuple[frozenset[ClusterObject], frozenset[ClusterObject]]:
    """(what the decks made, what else appeared) since `before`, where no deck role made it.

    Nothing in the catalogs says who made a database or a role when the decks ran as a role
    pgslides did not make (a database_url's, or a superuser deck's), and others may make some on
    the server meanwhile. So an object is taken for the decks' only when it appeared while they
    ran, the build's role could have made it (it owns or administers it; a superuser
    administers all), and the decks' SQL names it (`named`); the rest is left and said."""
    new = everything(admin) - before
    new -= owned_by_decks(admin)
    new = frozenset(item for item in new if not _is_deck_name(item.name))
    if not admin.superuser and new:
        new &= _could_have_made(admin)
    taken = frozenset(item for item in new if named(item.name))
    return taken, new - taken


def owned_by_decks(admin: Admin) -> frozenset[ClusterObject]:
    """What the deck roles on the server now (this build's and others') made, and what sits in
    decks' databases: theirs to drop when they are done."""
    roles = [row[0] for row in admin.rows(_DECK_ROLES, (DECK_PREFIX,)) if _is_deck_name(row[0])]
    inside_decks = frozenset(
        ClusterObject(*row)
        for row in admin.rows(_IN_DECK_DATABASES, (DECK_PREFIX, DECK_PREFIX))
        if _is_deck_name(row[2])
    )
    return inside_decks | (made_by(admin, roles) if roles else frozenset())


def _could_have_made(admin: Admin) -> frozenset[ClusterObject]:
    mine = made_by(admin, [admin.role]) - {ClusterObject("role", admin.role)}
    if admin.createrole and admin.version_num < 160000:
        # Before 16, CREATEROLE administers every role but superusers.
        plain = admin.rows("SELECT 'role', rolname, '' FROM pg_roles WHERE NOT rolsuper")
        mine |= {ClusterObject(*row) for row in plain}
    return mine


_DECK_ROLES = "SELECT rolname FROM pg_roles WHERE starts_with(rolname, %s)"
_IN_DECK_DATABASES = """
SELECT 'prepared', gid, database FROM pg_prepared_xacts WHERE starts_with(database, %s)
UNION ALL SELECT 'slot', slot_name, database FROM pg_replication_slots
    WHERE starts_with(database, %s)
"""


def name_finder(texts: Iterable[str]) -> Callable[[str], bool]:
    """Whether any of the texts names an object: as a word, in any case (an unquoted name is
    folded to lower case), in a string or a quoted identifier alike (a DO block's EXECUTE)."""
    joined = "\n".join(texts)

    def named(name: str) -> bool:
        pattern = rf"(?<![\w$]){re.escape(name)}(?![\w$])"
        return re.search(pattern, joined, re.IGNORECASE) is not None

    return named


def left_alone(objects: Iterable[ClusterObject]) -> list[str]:
    """A warning for each object that appeared while decks ran and that pgslides left."""
    return [
        f"the {_WHAT[item.kind]} {item.name!r} appeared on the server while decks ran, but no "
        "deck's SQL names it, so pgslides left it; if a deck made it, drop it with: "
        + _HOW_TO_DROP[item.kind].format(name=item.name, database=item.database)
        for item in sorted(objects)
    ]


def dead_builds(admin: Admin, *, private: bool) -> frozenset[ClusterObject]:
    """Databases and roles of builds that ended without dropping them (killed), with what
    their roles made: their build's connection is gone, and nobody is connected to them (a
    build whose own connection was cut is still running its decks). Names of older versions
    (no build id) are taken on the private server only, when nobody is connected to them."""
    live = admin.live_builds()
    in_use = {
        name
        for row in admin.rows("SELECT datname, usename FROM pg_stat_activity")
        for name in row
        if name
    }
    mine = "" if admin.superuser else " AND pg_get_userbyid(datdba) = current_user"
    rows = admin.rows(
        "SELECT 'database', datname FROM pg_database WHERE starts_with(datname, %s)"
        + mine
        + " UNION ALL SELECT 'role', rolname FROM pg_roles WHERE starts_with(rolname, %s)",
        (DECK_PREFIX, DECK_PREFIX),
    )
    dead = set()
    for kind, name in rows:
        if name in in_use:
            continue
        match = DECK_NAME.match(name)
        if (match is not None and match["build"] not in live) or (
            match is None and private and OLD_DECK_NAME.match(name)
        ):
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
        # With a timeout, it waits for the backend to end: the slot is then free to drop.
        "SELECT pg_terminate_backend(active_pid, 5000) FROM pg_replication_slots"
        " WHERE slot_name = %s AND active_pid IS NOT NULL",
        (item.name,),
    )
    admin.rows(
        "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = %s",
        (item.name,),
    )


def _drop_schema(admin: Admin, item: ClusterObject) -> None:
    admin.run("DROP SCHEMA IF EXISTS {} CASCADE", item.name)  # a deck's own, isolation: schema


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
    for (dbname,) in where:
        # Not a member of it (PostgreSQL 15): DROP ROLE may still do, or it says why not.
        with contextlib.suppress(psycopg2.errors.InsufficientPrivilege):
            admin.run_in(dbname, owned)
    admin.run("DROP ROLE IF EXISTS {}", item.name)


def _is_deck_name(name: str) -> bool:
    """A deck's own database or role, or the group of the decks' roles."""
    return name == DECK_GROUP or bool(DECK_NAME.match(name) or OLD_DECK_NAME.match(name))


_DROPPERS = {
    "prepared": _drop_prepared,
    "slot": _drop_slot,
    "schema": _drop_schema,
    "database": _drop_database,
    "tablespace": _drop_tablespace,
    "role": _drop_role,
}
_WHAT = {
    "prepared": "prepared transaction",
    "slot": "replication slot",
    "schema": "schema",
    "database": "database",
    "tablespace": "tablespace",
    "role": "role",
}
_HOW_TO_DROP = {
    "prepared": "ROLLBACK PREPARED '{name}' (in database {database})",
    "slot": "SELECT pg_drop_replication_slot('{name}')",
    "schema": 'DROP SCHEMA "{name}" CASCADE',
    "database": 'DROP DATABASE "{name}" WITH (FORCE)',
    "tablespace": 'DROP TABLESPACE "{name}"',
    "role": 'DROP OWNED BY "{name}"; DROP ROLE "{name}" (DROP OWNED in each of its databases)',
}
