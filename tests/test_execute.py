"""The executor on a real server: values as psql shows them, statements, notices, errors."""

from __future__ import annotations

import subprocess
import textwrap

import pytest

from pgslides.outcome import DeckOutcome
from pgslides.parse.deck import parse_deck
from pgslides.run.admin import Admin
from pgslides.run.database import DeckDatabase, SessionSettings
from pgslides.run.execute import RunLimits
from pgslides.run.server import Server
from pgslides.run.setupfiles import SetupFile
from pgslides.run.timeline import run_deck

# One row per type; every value is compared with what psql prints for the same query.
TYPE_ZOO = """
SELECT 42::int AS int4, (-32768)::smallint AS int2, 9223372036854775807::bigint AS int8,
       1.50::numeric AS numeric, 1e-20::numeric AS tiny, 'NaN'::numeric AS numeric_nan,
       0.1::float8 AS float8, 'NaN'::float8 AS float_nan, '-Infinity'::float8 AS float_inf,
       1.1::real AS float4, ''::text AS empty, 'two
lines' AS multiline, 'tab	here' AS tab, 'NULL' AS null_text, NULL::text AS null_value,
       true AS bool_t, false AS bool_f,
       '2024-02-29 13:14:15.123456+02'::timestamptz AS timestamptz,
       '2024-02-29 13:14:15'::timestamp AS timestamp, 'infinity'::timestamp AS ts_inf,
       '2024-02-29'::date AS date, '13:14:15.5'::time AS time, '13:14:15+05:30'::timetz AS timetz,
       '1 year 2 months 3 days 04:05:06.7'::interval AS interval, '-1 month'::interval AS neg_interval,
       ARRAY[1, NULL, 3] AS int_array, ARRAY['a b', 'c,d', '"q"', NULL]::text[] AS text_array,
       '{{1,2},{3,4}}'::int[] AS matrix,
       '{"b": 1, "a": [1, 2.50, null]}'::json AS json, '{"b": 1,   "a": [1, 2.50, null]}'::jsonb AS jsonb,
       '\\x00ff10'::bytea AS bytea, '192.168.0.1/24'::inet AS inet, '10.0.0.0/8'::cidr AS cidr,
       '08:00:2b:01:02:03'::macaddr AS macaddr,
       'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid AS uuid,
       int4range(1, 10) AS int4range, '[2024-01-01,2024-02-01)'::daterange AS daterange,
       'empty'::numrange AS empty_range, to_tsvector('english', 'The elephants are dancing') AS tsvector,
       'fat & rat'::tsquery AS tsquery, point(1.5, 2) AS point, '((0,0),(1,1))'::box AS box,
       B'1010' AS bit, 12.34::money AS money, 'happy'::name AS name, 'x'::char(3) AS bpchar,
       '日本語 ☃ é'::text AS unicode, 'ol\u00e9'::text AS combining, '1.5'::float4 * 3 AS float_expr,
       ROW(1, 'a', NULL) AS record, 1::oid AS oid, 'pg_class'::regclass AS regclass
"""


def run(
    pg_server: Server, source: str, *, setup: str | None = None, max_rows: int = 20
) -> DeckOutcome:
    deck = parse_deck(textwrap.dedent(source).lstrip("\n"), "slides/test.md")
    setup_files = (SetupFile(path="slides/sql/setup.sql", sql=setup),) if setup else ()
    with (
        Admin(pg_server) as admin,
        DeckDatabase(admin, "test", "database", SessionSettings()) as db,
    ):
        return run_deck(deck, db, RunLimits(max_rows=max_rows), setup_files)


def psql_rows(
    psql_bin: str, pg_server: Server, query: str
) -> tuple[list[str], list[list[str | None]]]:
    """What psql prints for a query, unaligned, with an unmistakable NULL and separators."""
    params = pg_server.connect_params()
    env = {"PGPASSWORD": params.get("password") or "", "PGTZ": "UTC", "PGDATESTYLE": "ISO, MDY"}
    conninfo = " ".join(f"{key}={value}" for key, value in params.items() if key != "password")
    script = (
        "\\pset format unaligned\n\\pset fieldsep '\\x1f'\n\\pset recordsep '\\x1e'\n"
        "\\pset null '\\x01NULL\\x01'\n\\pset footer off\n"
        "SET IntervalStyle = postgres;\nSET extra_float_digits = 1;\n"
        f"{query};\n"
    )
    completed = subprocess.run(
        [psql_bin, "-X", "-q", "-v", "ON_ERROR_STOP=1", conninfo],
        input=script.encode(),
        capture_output=True,
        check=True,
        env=env,
    )
    # psql turns the \x escapes of \pset into the control characters themselves.
    records = completed.stdout.decode().rstrip("\n").split("\x1e")
    header = records[0].split("\x1f")
    rows = [
        [None if cell == "\x01NULL\x01" else cell for cell in record.split("\x1f")]
        for record in records[1:]
    ]
    return header, rows


def test_type_zoo_matches_psql_cell_by_cell(pg_server: Server, psql_bin: str):
    outcome = run(pg_server, f"```sql exec\n{TYPE_ZOO.strip()};\n```\n")
    (statement,) = outcome.blocks[0].statements
    assert statement.error is None
    header, rows = psql_rows(psql_bin, pg_server, TYPE_ZOO.strip())
    assert [column.name for column in statement.columns] == header
    assert len(rows) == 1
    mismatches = {
        name: (ours, theirs)
        for name, ours, theirs in zip(header, statement.rows[0], rows[0], strict=True)
        if ours != theirs
    }
    assert mismatches == {}
    values = dict(zip(header, statement.rows[0], strict=True))
    # Spot checks that would catch a Python round trip (psycopg2's default casts).
    assert values["interval"] == "1 year 2 mons 3 days 04:05:06.7"
    assert values["jsonb"] == '{"a": [1, 2.50, null], "b": 1}'
    assert values["numeric"] == "1.50"
    assert values["bytea"] == "\\x00ff10"
    assert values["empty"] == ""
    assert values["null_value"] is None
    assert values["null_text"] == "NULL"
    assert values["bool_t"] == "t"
    numeric = {column.name for column in statement.columns if column.numeric}
    assert {"int4", "int2", "int8", "numeric", "float8", "float4", "money", "oid"} <= numeric
    assert not numeric & {"text", "bool_t", "interval", "jsonb", "int_array", "empty"}


def test_multi_statement_block_keeps_each_outcome_in_order(pg_server: Server):
    outcome = run(
        pg_server,
        """
        ```sql exec
        CREATE TABLE t (id int PRIMARY KEY, name text);
        INSERT INTO t VALUES (1, 'a'), (2, 'b');
        -- a comment between statements
        UPDATE t SET name = 'c' WHERE id = 2 RETURNING *;
        SELECT * FROM t ORDER BY id;
        DELETE FROM t;
        ```
        """,
    )
    statuses = [s.status for s in outcome.blocks[0].statements]
    assert statuses == ["CREATE TABLE", "INSERT 0 2", "UPDATE 1", "SELECT 2", "DELETE 2"]
    update, select = outcome.blocks[0].statements[2:4]
    assert update.rows == (("2", "c"),)
    assert select.rows == (("1", "a"), ("2", "c"))
    assert select.row_count == 2
    assert [s.line for s in outcome.blocks[0].statements] == [2, 3, 5, 6, 7]
    assert outcome.blocks[0].problem is None


def test_state_carries_from_block_to_block_and_transactions_span_blocks(pg_server: Server):
    outcome = run(
        pg_server,
        """
        ```sql exec
        BEGIN;
        CREATE TABLE t (x int);
        ```

        ```sql exec
        INSERT INTO t VALUES (1);
        COMMIT;
        VACUUM t;
        CREATE INDEX CONCURRENTLY t_x ON t (x);
        SELECT count(*) FROM t;
        ```
        """,
    )
    second = outcome.blocks[1].statements
    assert [s.status for s in second] == [
        "INSERT 0 1",
        "COMMIT",
        "VACUUM",
        "CREATE INDEX",
        "SELECT 1",
    ]
    assert second[-1].rows == (("1",),)


def test_rows_are_cut_to_the_limit_and_counted_in_full(pg_server: Server):
    outcome = run(
        pg_server,
        "```sql exec rows=3\nSELECT g FROM generate_series(1, 50) AS g;\n```\n\n"
        "```sql exec\nSELECT g FROM generate_series(1, 30) AS g;\n```\n",
        max_rows=5,
    )
    first, second = (block.statements[0] for block in outcome.blocks)
    assert first.rows == (("1",), ("2",), ("3",))
    assert first.row_count == 50
    assert len(second.rows) == 5
    assert second.row_count == 30


def test_notices_and_warnings_are_kept_with_their_statement(pg_server: Server):
    outcome = run(
        pg_server,
        """
        ```sql exec
        DO $$ BEGIN RAISE NOTICE 'hello %', 'world'; RAISE WARNING 'careful'; END $$;
        DROP TABLE IF EXISTS nothing_here;
        ```
        """,
    )
    do, drop = outcome.blocks[0].statements
    assert [(n.severity, n.message) for n in do.notices] == [
        ("NOTICE", "hello world"),
        ("WARNING", "careful"),
    ]
    assert [(n.severity, n.message) for n in drop.notices] == [
        ("NOTICE", 'table "nothing_here" does not exist, skipping')
    ]


def test_error_keeps_full_diagnostics_and_stops_the_block(pg_server: Server):
    outcome = run(
        pg_server,
        """
        ```sql exec expect=23503
        CREATE TABLE parent (id int PRIMARY KEY);
        CREATE TABLE child (parent_id int REFERENCES parent);
        INSERT INTO child VALUES (7);
        SELECT 'never runs';
        ```
        """,
    )
    block = outcome.blocks[0]
    assert block.problem is None
    create, _, insert, skipped = block.statements
    assert create.status == "CREATE TABLE"
    assert insert.error is not None
    assert insert.error.sqlstate == "23503"
    assert insert.error.severity == "ERROR"
    assert insert.error.message == (
        'insert or update on table "child" violates foreign key constraint "child_parent_id_fkey"'
    )
    assert insert.error.detail == 'Key (parent_id)=(7) is not present in table "parent".'
    assert skipped.ran is False
    assert skipped.error is None


def test_syntax_error_position_counts_characters_not_bytes(pg_server: Server):
    outcome = run(
        pg_server,
        """
        ```sql exec expect=42601
        SELECT 'éléphant ☃' AS name,
               'x' FORM users;
        ```
        """,
    )
    error = outcome.blocks[0].statements[0].error
    assert error is not None
    assert error.sqlstate == "42601"
    statement = outcome.blocks[0].statements[0].sql
    assert statement[error.position - 1 :].startswith("users")


def test_error_with_hint_and_context_from_plpgsql(pg_server: Server):
    outcome = run(
        pg_server,
        """
        ```sql exec expect=P0001
        DO $$ BEGIN RAISE EXCEPTION 'no way' USING DETAIL = 'because', HINT = 'try again'; END $$;
        ```
        """,
    )
    error = outcome.blocks[0].statements[0].error
    assert (error.message, error.detail, error.hint) == ("no way", "because", "try again")
    assert error.context == "PL/pgSQL function inline_code_block line 1 at RAISE"


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        (
            "```sql exec\nSELECT * FROM userz;\n```\n",
            'ERROR:  relation "userz" does not exist (42P01)',
        ),
        (
            "```sql exec expect=error\nSELECT 1;\n```\n",
            "expected an error, but the block ran without error",
        ),
        (
            "```sql exec expect=23505\nSELECT 1;\n```\n",
            "expected error 23505, but the block ran without error",
        ),
        (
            "```sql exec expect=23505\nSELECT 1/0;\n```\n",
            "expected error 23505, got ERROR:  division by zero (22012)",
        ),
    ],
)
def test_blocks_that_do_not_end_as_expected_say_why(pg_server: Server, source: str, problem: str):
    outcome = run(pg_server, source)
    assert outcome.blocks[0].problem == problem


def test_expected_error_class_and_any_error(pg_server: Server):
    outcome = run(pg_server, "```sql exec expect=error\nSELECT 1/0;\n```\n")
    assert outcome.blocks[0].problem is None


def test_setup_files_run_hidden_before_the_first_block(pg_server: Server):
    outcome = run(
        pg_server,
        "```sql exec\nSELECT name FROM people ORDER BY name;\n```\n",
        setup="CREATE TABLE people (name text);\nINSERT INTO people VALUES ('Kurt'), ('David');\n",
    )
    assert outcome.blocks[0].statements[0].rows == (("David",), ("Kurt",))


def test_pinned_session_settings(pg_server: Server):
    outcome = run(
        pg_server,
        """
        ```sql exec
        SELECT current_setting('TimeZone'), current_setting('DateStyle'),
               current_setting('IntervalStyle'), current_setting('application_name'),
               current_setting('search_path'), '2024-01-01 12:00+00'::timestamptz;
        RESET ALL;
        SELECT current_setting('TimeZone'), current_setting('search_path');
        ```
        """,
    )
    first, _, after_reset = outcome.blocks[0].statements
    assert first.rows == (
        ("UTC", "ISO, MDY", "postgres", "pgslides", '"$user", public', "2024-01-01 12:00:00+00"),
    )
    assert after_reset.rows == (("UTC", '"$user", public'),)


def test_outcome_round_trips_through_json(pg_server: Server):
    import json

    outcome = run(pg_server, f"```sql exec\n{TYPE_ZOO.strip()};\nSELECT 1/0;\n```\n")
    again = DeckOutcome.from_dict(json.loads(json.dumps(outcome.to_dict())))
    assert again == outcome


def test_a_huge_result_keeps_only_the_shown_rows_and_counts_all(pg_server: Server):
    outcome = run(
        pg_server,
        "```sql exec rows=3\nSELECT g, md5(g::text) FROM generate_series(1, 300000) AS g;\n```\n",
    )
    (statement,) = outcome.blocks[0].statements
    assert statement.rows == (
        ("1", "c4ca4238a0b923820dcc509a6f75849b"),
        ("2", "c81e728d9d4c2f636f067f89cc14862c"),
        ("3", "eccbc87e4b5ce2fe28308fd9f2a7baf3"),
    )
    assert statement.row_count == 300000
    assert statement.status == "SELECT 300000"


def test_statements_that_cannot_be_cursors_still_run(pg_server: Server):
    outcome = run(
        pg_server,
        """
        ```sql exec
        SELECT 1 AS x INTO made_by_select_into;
        CREATE TABLE t (x int);
        WITH moved AS (INSERT INTO t VALUES (1), (2) RETURNING x) SELECT count(*) FROM moved;
        TABLE made_by_select_into;
        (SELECT x FROM t ORDER BY x LIMIT 1);
        ```
        """,
    )
    statements = outcome.blocks[0].statements
    assert [s.status for s in statements] == [
        "SELECT 1",
        "CREATE TABLE",
        "SELECT 1",
        "SELECT 1",
        "SELECT 1",
    ]
    assert [s.rows for s in statements[2:]] == [(("2",),), (("1",),), (("1",),)]


def test_a_runtime_error_in_a_query_points_into_the_users_text(pg_server: Server):
    outcome = run(pg_server, "```sql exec expect=22P02\n  SELECT 1, 'abc'::int;\n```\n")
    error = outcome.blocks[0].statements[0].error
    assert error.message == 'invalid input syntax for type integer: "abc"'
    assert error.position == 11
    assert outcome.blocks[0].statements[0].sql[error.position - 1 :].startswith("'abc'")
