"""What the server receives and what the slide shows, against psql running the same script.

Each case runs one script through `psql -f` and as one live block through pgslides, and
compares the text byte for byte: what the query sees of itself (current_query(),
pg_prepared_statements), errors with their LINE excerpt and caret, notices, and the expanded
layout. Nothing pgslides adds to a statement may show.
"""

from __future__ import annotations

import html
import os
import re
import subprocess
import textwrap
from pathlib import Path

import pytest

from pgslides import render
from pgslides.outcome import BlockOutcome, StatementOutcome
from pgslides.parse.deck import parse_deck
from pgslides.render import textformat
from pgslides.render.statement import statement_error_text
from pgslides.run.admin import Admin
from pgslides.run.database import DeckDatabase, SessionSettings
from pgslides.run.execute import RunLimits
from pgslides.run.server import Server
from pgslides.run.timeline import run_deck

_LOCUS = re.compile(r"^psql:[^\n]*?:\d+: ", re.MULTILINE)


def run_block(pg_server: Server, sql: str, options: str = "") -> tuple[BlockOutcome, str]:
    """The block's outcome, and its rendered HTML."""
    source = f"```sql exec {options}\n{sql}```\n"
    deck = parse_deck(source, "slides/fidelity.md")
    with (
        Admin(pg_server) as admin,
        DeckDatabase(admin, "fidelity", "database", SessionSettings()) as db,
    ):
        outcome = run_deck(deck, db, RunLimits(max_rows=20))
    return outcome.blocks[0], str(render.render_block(deck.blocks[0], outcome.blocks[0]))


def psql_script(
    psql_bin: str, server: Server, sql: str, tmp_path: Path, *options: str
) -> tuple[str, str]:
    """psql -f on `sql` (as a deck's block holds it): stdout, and stderr without the
    "psql:file:N: " locus that script input puts before each message."""
    script = tmp_path / "script.sql"
    script.write_text(sql, encoding="utf-8", newline="")
    params = server.connect_params(server.maintenance_db)
    env = {key: value for key, value in os.environ.items() if not key.startswith("PG")}
    if "password" in params:
        env["PGPASSWORD"] = str(params.pop("password"))
    env.update(PGCLIENTENCODING="UTF8", LC_ALL="C.UTF-8", PGTZ="UTC")
    conninfo = " ".join(f"{key}='{value}'" for key, value in params.items())
    run = subprocess.run(
        [psql_bin, "-X", "-q", "-d", conninfo, *options, "-f", str(script)],
        env=env,
        capture_output=True,
        encoding="utf-8",
        check=False,
        timeout=60,
    )
    return run.stdout, _LOCUS.sub("", run.stderr)


def as_psql(statements: tuple[StatementOutcome, ...]) -> tuple[str, str]:
    """What psql -q would print for these outcomes: results on stdout, messages on stderr."""
    out, err = [], []
    for statement in statements:
        err.extend(f"{notice.severity}:  {notice.message}\n" for notice in statement.notices)
        if statement.error is not None:
            err.append(statement_error_text(statement))
        elif statement.columns is not None:
            headers = [column.name for column in statement.columns]
            numeric = [column.numeric for column in statement.columns]
            rows = [list(row) for row in statement.rows]
            table = textformat.aligned(headers, numeric, rows)
            out.append(f"{table}{textformat.row_count_footer(statement.row_count)}\n\n")
    return "".join(out), "".join(err)


SCRIPTS = [
    pytest.param("SELECT current_query();\n", id="current_query"),
    pytest.param(
        "  -- a note\n/* kept */ SELECT current_query()  \n  ;\nSELECT current_query()  \n\n",
        id="current_query with comments, space before ; and a last statement without ;",
    ),
    pytest.param(
        "PREPARE p AS SELECT 1;\nSELECT statement FROM pg_prepared_statements;\n",
        id="pg_prepared_statements",
    ),
    pytest.param("drop table;\n", id="syntax error at the semicolon"),
    pytest.param("SELECT 1,\n       2 +\n;\n", id="syntax error on a later line"),
    pytest.param("SELECT 1;\nSELECT 'abc'::int;\n", id="class 22 error while parsing"),
    pytest.param("  SELECT 1/0 AS x;\n", id="runtime error"),
    pytest.param(
        "DO $$ BEGIN RAISE NOTICE 'hello'; RAISE WARNING 'careful'; END $$;\nSELECT 1;\n",
        id="notices",
    ),
]


@pytest.mark.parametrize("sql", SCRIPTS)
def test_the_query_sees_and_shows_what_psql_sends(
    pg_server: Server, psql_bin: str, tmp_path: Path, sql: str
) -> None:
    block, _ = run_block(pg_server, sql)
    # A block stops at its first error, as psql does with ON_ERROR_STOP.
    expected = psql_script(psql_bin, pg_server, sql, tmp_path, "-v", "ON_ERROR_STOP=1")
    assert as_psql(block.statements) == expected


def test_the_slide_shows_the_error_at_the_semicolon(pg_server: Server) -> None:
    block, page = run_block(pg_server, "drop table;\n", "expect=42601")
    (statement,) = block.statements
    assert statement.sql == "drop table;"
    assert statement.notices == ()
    shown = html.unescape(re.search(r'data-sqlstate="42601"><pre>(.*?)</pre>', page, re.DOTALL)[1])
    assert shown == 'ERROR:  syntax error at or near ";"\nLINE 1: drop table;\n' + " " * 18 + "^"


EXPANDED = [
    pytest.param("SELECT 1 AS a, 'x' AS b;\n", id="one record"),
    pytest.param("SELECT g AS n FROM generate_series(1, 3) AS g;\n", id="three records"),
    pytest.param("SELECT 1 AS a WHERE false;\n", id="no rows"),
    pytest.param("SELECT FROM generate_series(1, 2);\n", id="no columns"),
]


@pytest.mark.parametrize("sql", EXPANDED)
def test_expanded_ends_as_psql_x_does(
    pg_server: Server, psql_bin: str, tmp_path: Path, sql: str
) -> None:
    _, page = run_block(pg_server, sql, "format=expanded")
    pre = html.unescape(re.search(r'<pre class="sql-expanded">(.*?)</pre>', page, re.DOTALL)[1])
    footers = re.findall(r'<div class="sql-rows">(.*?)</div>', page, re.DOTALL)
    shown = "\n".join([pre, *(html.unescape(re.sub("<[^>]+>", "", f)) for f in footers)])
    stdout, _ = psql_script(psql_bin, pg_server, textwrap.dedent(sql), tmp_path, "-x")
    assert shown + "\n\n" == stdout


def test_expanded_says_how_many_more_records_it_left_out(pg_server: Server) -> None:
    _, page = run_block(
        pg_server, "SELECT g FROM generate_series(1, 5) AS g;\n", "rows=2 format=expanded"
    )
    footers = re.findall(r'<div class="sql-rows">(.*?)</div>', page, re.DOTALL)
    assert footers == ['<span class="sql-more">… 3 more rows</span>']


# Under standard_conforming_strings = off, psql lexes '' strings with backslash escapes.
OFF = "SET standard_conforming_strings = off;\n"
NONSTANDARD = [
    pytest.param(OFF + "SELECT 'don\\'t \\\\ worry', N'a\\'b;' AS n;\nSELECT 2;\n", id="escapes"),
    pytest.param(
        "SET standard_conforming_strings = off; SELECT 'a\\', 1;\nSELECT 2;\n",
        id="a SET applies from the next line, as psql reads the setting per line",
    ),
    pytest.param(
        OFF + "SET standard_conforming_strings = on;\nSELECT 'C:\\' AS dir;\n", id="and back on"
    ),
    pytest.param(OFF + "SELECT E'\\'', B'1', X'1F', U&'\\0041' AS u;\n", id="other strings"),
]


@pytest.mark.parametrize("sql", NONSTANDARD)
def test_strings_are_split_by_the_sessions_standard_conforming_strings(
    pg_server: Server, psql_bin: str, tmp_path: Path, sql: str
) -> None:
    block, _ = run_block(pg_server, sql)
    assert block.problem is None or "meta-command" not in block.problem
    expected = psql_script(psql_bin, pg_server, sql, tmp_path, "-v", "ON_ERROR_STOP=1")
    assert as_psql(block.statements) == expected


def test_a_later_block_is_split_with_the_setting_an_earlier_one_made(
    pg_server: Server, psql_bin: str, tmp_path: Path
) -> None:
    blocks = [OFF, "SELECT 'don\\'t \\\\ worry' AS s;\n"]
    deck = parse_deck("".join(f"```sql exec\n{sql}```\n\n" for sql in blocks), "slides/f.md")
    with (
        Admin(pg_server) as admin,
        DeckDatabase(admin, "fidelity", "database", SessionSettings()) as db,
    ):
        outcome = run_deck(deck, db, RunLimits())
    assert [block.problem for block in outcome.blocks] == [None, None]
    statements = tuple(s for block in outcome.blocks for s in block.statements)
    assert statements[-1].rows == (("don't \\ worry",),)
    assert as_psql(statements) == psql_script(psql_bin, pg_server, "".join(blocks), tmp_path)


def test_a_meta_command_found_as_the_block_runs_stops_it_there(pg_server: Server) -> None:
    # Like psql, the statements before it have run; the block fails with the usual message.
    block, _ = run_block(pg_server, "SET standard_conforming_strings = on;\n\\dt\n")
    assert [statement.status for statement in block.statements] == ["SET"]
    assert block.problem == (
        "psql meta-command \\dt is not SQL and cannot run in a live block; query the catalog "
        "instead (e.g. SELECT ... FROM information_schema.columns) or use a plain ```sql "
        "fence to show it"
    )
