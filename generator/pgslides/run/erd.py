"""An erd block's one statement: the listed tables' columns and foreign keys, read from the
catalogs on the deck's session at that point of the deck, as one JSON value.

The catalogs are read on the deck's own session rather than through SQLAlchemy's inspector:
on another connection the inspector cannot see what the session has not committed, and on
the session's own its pool would roll the session's transaction back when done. The query
asks what the inspector asks (pg_attribute, format_type, pg_constraint), in one round trip.
Names are sorted with COLLATE "C", so the diagram is the same whatever the database's locale.
"""

from __future__ import annotations

from dataclasses import replace

from pgslides.outcome import StatementOutcome
from pgslides.parse.blocks import erd_names
from pgslides.parse.deck import Block
from pgslides.run.database import Session
from pgslides.run.execute import RunLimits, run_or_explain
from pgslides.run.rows import PICTURE_VALUE_CHARS

_TABLES_OF_SCHEMA = """SELECT c.oid, {position}, c.relname::text COLLATE "C"
    FROM pg_class c
    WHERE c.relnamespace = {schema} AND c.relkind IN ('r', 'p') AND NOT c.relispartition"""

_SCHEMA_QUERY = """WITH listed (oid, ord1, ord2) AS (
  {listed}
), wanted AS (
  SELECT DISTINCT ON (oid) oid, ord1, ord2 FROM listed ORDER BY oid, ord1, ord2
), tables AS (
  SELECT w.oid, w.ord1, w.ord2,
         CASE WHEN n.nspname = current_schema() THEN c.relname::text
              ELSE n.nspname || '.' || c.relname END AS name
  FROM wanted w JOIN pg_class c ON c.oid = w.oid JOIN pg_namespace n ON n.oid = c.relnamespace
)
SELECT json_build_object(
  'tables', COALESCE((
    SELECT json_agg(json_build_object('name', t.name, 'columns', (
      SELECT COALESCE(json_agg(json_build_object(
        'name', a.attname,
        'type', format_type(a.atttypid, a.atttypmod),
        'pk', EXISTS (SELECT FROM pg_constraint k
                      WHERE k.conrelid = t.oid AND k.contype = 'p' AND a.attnum = ANY (k.conkey)),
        'fk', EXISTS (SELECT FROM pg_constraint k
                      WHERE k.conrelid = t.oid AND k.contype = 'f' AND a.attnum = ANY (k.conkey)),
        'nullable', NOT a.attnotnull) ORDER BY a.attnum), '[]')
      FROM pg_attribute a WHERE a.attrelid = t.oid AND a.attnum > 0 AND NOT a.attisdropped
    )) ORDER BY t.ord1, t.ord2)
    FROM tables t), '[]'),
  'edges', COALESCE((
    SELECT json_agg(json_build_object(
      'name', k.conname,
      'from_table', f.name,
      'from_columns', (SELECT json_agg(a.attname ORDER BY u.i)
                       FROM unnest(k.conkey) WITH ORDINALITY u(attnum, i)
                       JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.attnum),
      'to_table', r.name,
      'to_columns', (SELECT json_agg(a.attname ORDER BY u.i)
                     FROM unnest(k.confkey) WITH ORDINALITY u(attnum, i)
                     JOIN pg_attribute a ON a.attrelid = k.confrelid AND a.attnum = u.attnum))
      ORDER BY f.name COLLATE "C", k.conname COLLATE "C")
    FROM pg_constraint k JOIN tables f ON f.oid = k.conrelid JOIN tables r ON r.oid = k.confrelid
    WHERE k.contype = 'f'), '[]')
) AS schema"""


def schema_query(block_text: str) -> str:
    """The catalog query for the tables an erd block lists (its text, already checked)."""
    parts = []
    for position, (_line, name) in enumerate(erd_names(block_text), start=1):
        if name == "*":
            schema = "current_schema()::regnamespace"
            parts.append(_TABLES_OF_SCHEMA.format(position=position, schema=schema))
        elif name.endswith(".*"):
            schema = f"{_literal(name[:-2])}::regnamespace"
            parts.append(_TABLES_OF_SCHEMA.format(position=position, schema=schema))
        else:
            # A cast: a table that does not exist is PostgreSQL's own error, at this block.
            parts.append(f"SELECT {_literal(name)}::regclass::oid, {position}, ''::text")
    return _SCHEMA_QUERY.format(listed="\n  UNION ALL ".join(parts))


def _literal(text: str) -> str:
    # E'' reads backslashes the same whatever standard_conforming_strings says.
    return "E'" + text.replace("\\", "\\\\").replace("'", "''") + "'"


def run_erd_block(
    session: Session, block: Block, *, path: str, limits: RunLimits, done: list[StatementOutcome]
) -> None:
    """Run an erd block's catalog query on its session, appending its outcome to `done`.

    The outcome shows the block's own lines, not the query, so an error (a table that does
    not exist) reads as the author wrote the names."""
    outcome = run_or_explain(
        session,
        schema_query(block.sql),
        path,
        block.sql_line,
        max_rows=1,
        limits=limits,
        timeout_ms=None,
        value_chars=PICTURE_VALUE_CHARS,
    )
    error = outcome.error
    if error is not None:
        error = replace(error, position=None, internal_query=None, internal_position=None)
    done.append(replace(outcome, sql=block.sql, error=error))
