"""Splitting SQL blocks into statements where psql would: examples, properties, and psql itself."""

from __future__ import annotations

import itertools
import os
import random
import re
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pgslides.run.server import Server
from pgslides.run.statements import (
    MetaCommandError,
    Statement,
    _spans,
    iter_statements,
    split_statements,
)


def split(sql: str) -> list[tuple[str, int]]:
    return [(statement.text, statement.line) for statement in split_statements(sql)]


# --- examples: one per rule, with exact texts and line offsets ---------------------------------

BASICS = [
    pytest.param("SELECT 1;\nSELECT 2;", [("SELECT 1;", 0), ("SELECT 2;", 1)], id="two statements"),
    pytest.param("SELECT 1; SELECT 2;", [("SELECT 1;", 0), ("SELECT 2;", 0)], id="one line"),
    pytest.param(
        "SELECT 1;\nSELECT 2", [("SELECT 1;", 0), ("SELECT 2", 1)], id="no final semicolon"
    ),
    pytest.param(
        "\n\n  SELECT 1,\n         2\n  FROM t;\n",
        [("SELECT 1,\n         2\n  FROM t;", 2)],
        id="line of the first character",
    ),
    pytest.param(";;\n;  ;", [], id="empty statements"),
    pytest.param("  \n\t\n", [], id="blank block"),
    pytest.param("", [], id="empty block"),
    pytest.param(
        "-- just a note\n/* and another */;\n/* trailing */\n-- the end",
        [],
        id="comment-only statements send nothing",
    ),
    pytest.param(
        "-- the answer\n--\nSELECT 42;", [("SELECT 42;", 2)], id="leading line comments dropped"
    ),
    pytest.param(
        "/* the answer */ SELECT 42;",
        [("/* the answer */ SELECT 42;", 0)],
        id="leading block comment kept",
    ),
    pytest.param(
        "SELECT 1 -- one\n  + 1 /* two */\n;",
        [("SELECT 1 -- one\n  + 1 /* two */\n;", 0)],
        id="inner comments kept",
    ),
    pytest.param(
        "SELECT 1 \t\f\r\n\n;", [("SELECT 1 \t\f\r\n\n;", 0)], id="whitespace before ; kept"
    ),
    pytest.param("SELECT\n\n1;", [("SELECT\n\n1;", 0)], id="blank lines kept (psql drops them)"),
    pytest.param(
        "SELECT 1;\nSELECT 2  \n\n",
        [("SELECT 1;", 0), ("SELECT 2  ", 1)],
        id="final line breaks cut",
    ),
    pytest.param(
        "SELECT 1 -- one\n \n",
        [("SELECT 1 -- one\n ", 0)],
        id="final statement keeps its last line",
    ),
]

QUOTES = [
    pytest.param(
        "SELECT 'a;b', 'it''s; fine';\nSELECT 2;",
        [("SELECT 'a;b', 'it''s; fine';", 0), ("SELECT 2;", 1)],
        id="single quotes",
    ),
    pytest.param(
        "SELECT 'C:\\';\nSELECT 2;",
        [("SELECT 'C:\\';", 0), ("SELECT 2;", 1)],
        id="backslash is plain in a standard string",
    ),
    pytest.param(
        "SELECT E'it\\'s; fine', e'\\\\';\nSELECT 2;",
        [("SELECT E'it\\'s; fine', e'\\\\';", 0), ("SELECT 2;", 1)],
        id="E-string backslash escapes",
    ),
    pytest.param(
        "SELECT E'a'\n'\\'; SELECT 2",
        [("SELECT E'a'\n'\\';", 0), ("SELECT 2", 1)],
        id="no quote continuation, as psql reads line by line",
    ),
    pytest.param(
        'SELECT U&\'d\\0061t;a\' AS U&"a;""b";\nSELECT 2;',
        [('SELECT U&\'d\\0061t;a\' AS U&"a;""b";', 0), ("SELECT 2;", 1)],
        id="U& string and identifier",
    ),
    pytest.param(
        "SELECT B'1;0', X'1F;', N'n;';\nSELECT 2",
        [("SELECT B'1;0', X'1F;', N'n;';", 0), ("SELECT 2", 1)],
        id="bit, hex and national strings",
    ),
    pytest.param(
        'SELECT 1 AS "a;""b";\nSELECT 2;',
        [('SELECT 1 AS "a;""b";', 0), ("SELECT 2;", 1)],
        id="double-quoted identifier",
    ),
    pytest.param(
        "SELECT $$a;b$$;\nSELECT 2;", [("SELECT $$a;b$$;", 0), ("SELECT 2;", 1)], id="dollar quote"
    ),
    pytest.param(
        "DO $body$\nBEGIN\n  PERFORM $$;$$; RAISE NOTICE '$x$;';\nEND\n$body$;\nSELECT 2;",
        [
            ("DO $body$\nBEGIN\n  PERFORM $$;$$; RAISE NOTICE '$x$;';\nEND\n$body$;", 0),
            ("SELECT 2;", 5),
        ],
        id="tagged dollar quote",
    ),
    pytest.param(
        "PREPARE q AS SELECT $1; EXECUTE q(1);",
        [("PREPARE q AS SELECT $1;", 0), ("EXECUTE q(1);", 0)],
        id="$1 is a parameter",
    ),
    pytest.param(
        "SELECT a$b$; SELECT $b$;$b$;",
        [("SELECT a$b$;", 0), ("SELECT $b$;$b$;", 0)],
        id="dollar inside an identifier",
    ),
    pytest.param(
        "SELECT $a ; SELECT 2", [("SELECT $a ;", 0), ("SELECT 2", 0)], id="$tag without closing $"
    ),
]

COMMENTS = [
    pytest.param(
        "SELECT 1 -- no; not here\n, 2;\nSELECT 3;",
        [("SELECT 1 -- no; not here\n, 2;", 0), ("SELECT 3;", 2)],
        id="line comment",
    ),
    pytest.param(
        "SELECT /* a; /* b; */ still; */ 1;\nSELECT 2;",
        [("SELECT /* a; /* b; */ still; */ 1;", 0), ("SELECT 2;", 1)],
        id="block comments nest",
    ),
    pytest.param(
        "SELECT /*/ ; */ 1; SELECT 2",
        [("SELECT /*/ ; */ 1;", 0), ("SELECT 2", 0)],
        id="slash-star-slash does not close",
    ),
    pytest.param(
        "SELECT 1+--;\n2; SELECT 3",
        [("SELECT 1+--;\n2;", 0), ("SELECT 3", 1)],
        id="comment glued to an operator",
    ),
    pytest.param(
        "SELECT 1e--; SELECT 2",
        [("SELECT 1e--;", 0), ("SELECT 2", 0)],
        id="exponent sign is no comment start",
    ),
    pytest.param(
        "SELECT 1e'\\'; SELECT 2",
        [("SELECT 1e'\\';", 0), ("SELECT 2", 0)],
        id="junk after a number is no E-string",
    ),
    pytest.param(
        "SELECT 1_0$a$; SELECT 2",
        [("SELECT 1_0$a$;", 0), ("SELECT 2", 0)],
        id="junk after a number is no dollar quote",
    ),
]

PARENTHESES = [
    pytest.param(
        "CREATE RULE r AS ON INSERT TO t DO ALSO (\n"
        "  INSERT INTO a VALUES (1);\n"
        "  INSERT INTO b VALUES (2)\n"
        ");\n"
        "SELECT 1;",
        [
            (
                "CREATE RULE r AS ON INSERT TO t DO ALSO (\n"
                "  INSERT INTO a VALUES (1);\n"
                "  INSERT INTO b VALUES (2)\n"
                ");",
                0,
            ),
            ("SELECT 1;", 4),
        ],
        id="CREATE RULE ... DO (a; b)",
    ),
    pytest.param(
        "SELECT 1); SELECT 2;",
        [("SELECT 1);", 0), ("SELECT 2;", 0)],
        id="stray closing parenthesis",
    ),
    pytest.param(
        "SELECT ARRAY[1;2]; SELECT 3",
        [("SELECT ARRAY[1;", 0), ("2];", 0), ("SELECT 3", 0)],
        id="brackets do not count",
    ),
]

FUNCTION_BODIES = [
    pytest.param(
        "CREATE FUNCTION one() RETURNS int LANGUAGE sql\nBEGIN ATOMIC\n  SELECT 1;\nEND;\n"
        "SELECT one();",
        [
            ("CREATE FUNCTION one() RETURNS int LANGUAGE sql\nBEGIN ATOMIC\n  SELECT 1;\nEND;", 0),
            ("SELECT one();", 4),
        ],
        id="BEGIN ATOMIC function",
    ),
    pytest.param(
        "create or replace procedure p(x int)\nbegin atomic\n"
        "  select case when x > 0 then 1 end;\n  select 2;\nend;\ncall p(1);",
        [
            (
                "create or replace procedure p(x int)\nbegin atomic\n"
                "  select case when x > 0 then 1 end;\n  select 2;\nend;",
                0,
            ),
            ("call p(1);", 5),
        ],
        id="OR REPLACE procedure with CASE ... END inside",
    ),
    pytest.param(
        "BEGIN;\nSELECT 1;\nEND;",
        [("BEGIN;", 0), ("SELECT 1;", 1), ("END;", 2)],
        id="a transaction's BEGIN is no body",
    ),
    pytest.param(
        "CREATE FUNCTION f() RETURNS int LANGUAGE sql RETURN CASE WHEN true THEN 1 END;\nSELECT 2;",
        [
            ("CREATE FUNCTION f() RETURNS int LANGUAGE sql RETURN CASE WHEN true THEN 1 END;", 0),
            ("SELECT 2;", 1),
        ],
        id="CASE outside a body does not count",
    ),
    pytest.param(
        "CREATE FUNCTION g(begin int) RETURNS int LANGUAGE sql RETURN 1;\nSELECT 2;",
        [("CREATE FUNCTION g(begin int) RETURNS int LANGUAGE sql RETURN 1;", 0), ("SELECT 2;", 1)],
        id="BEGIN in parentheses does not count",
    ),
    pytest.param(
        "CREATE TABLE function (begin int, x int); SELECT 2;",
        [("CREATE TABLE function (begin int, x int);", 0), ("SELECT 2;", 0)],
        id="only CREATE [OR REPLACE] FUNCTION|PROCEDURE opens bodies",
    ),
    pytest.param(
        "CREATE FUNCTION f() RETURNS int AS $$ BEGIN RETURN 1; END $$ LANGUAGE plpgsql;\n"
        "SELECT f();",
        [
            ("CREATE FUNCTION f() RETURNS int AS $$ BEGIN RETURN 1; END $$ LANGUAGE plpgsql;", 0),
            ("SELECT f();", 1),
        ],
        id="dollar-quoted body",
    ),
]

UNTERMINATED = [
    pytest.param(
        "SELECT 1;\nSELECT 'oops;\nSELECT 2;",
        [("SELECT 1;", 0), ("SELECT 'oops;\nSELECT 2;", 1)],
        id="quote",
    ),
    pytest.param("SELECT E'oops\\';", [("SELECT E'oops\\';", 0)], id="E-string"),
    pytest.param('SELECT "oops; SELECT 2;', [('SELECT "oops; SELECT 2;', 0)], id="identifier"),
    pytest.param("SELECT $x$ oops; SELECT 2;", [("SELECT $x$ oops; SELECT 2;", 0)], id="dollar"),
    pytest.param(
        "SELECT 1;\n/* oops; SELECT 2;",
        [("SELECT 1;", 0), ("/* oops; SELECT 2;", 1)],
        id="comment, sent though it is only a comment",
    ),
    pytest.param(
        "/* a /* b */ SELECT 1;", [("/* a /* b */ SELECT 1;", 0)], id="nested comment closed once"
    ),
    pytest.param("SELECT (1;\nSELECT 2;", [("SELECT (1;\nSELECT 2;", 0)], id="parenthesis"),
    pytest.param(
        "CREATE PROCEDURE p() BEGIN ATOMIC SELECT 1;\nSELECT 2;",
        [("CREATE PROCEDURE p() BEGIN ATOMIC SELECT 1;\nSELECT 2;", 0)],
        id="BEGIN ATOMIC without END",
    ),
]

EXAMPLES = BASICS + QUOTES + COMMENTS + PARENTHESES + FUNCTION_BODIES + UNTERMINATED


@pytest.mark.parametrize(("sql", "expected"), EXAMPLES)
def test_split(sql: str, expected: list[tuple[str, int]]) -> None:
    assert split(sql) == expected


def test_statements_are_plain_frozen_data() -> None:
    statement = split_statements("SELECT 1")[0]
    assert statement == Statement(text="SELECT 1", line=0)
    with pytest.raises(AttributeError):
        statement.text = "DROP TABLE t"  # type: ignore[misc]


# --- psql meta-commands ---------------------------------------------------------------------


def test_meta_command_at_block_start() -> None:
    with pytest.raises(MetaCommandError) as caught:
        split_statements("\\d t")
    assert (caught.value.command, caught.value.line) == ("\\d", 0)
    assert str(caught.value) == (
        "psql meta-command \\d is not SQL and cannot run in a live block; query the catalog "
        "instead (e.g. SELECT ... FROM information_schema.columns) or use a plain ```sql "
        "fence to show it"
    )


def test_meta_command_after_statements() -> None:
    with pytest.raises(MetaCommandError) as caught:
        split_statements("SELECT 1;\n\n\\copy t TO 'x.csv'")
    assert (caught.value.command, caught.value.line) == ("\\copy", 2)
    assert str(caught.value) == (
        "psql meta-command \\copy is not SQL and cannot run in a live block; "
        "remove it, or use a plain ```sql fence to show it"
    )


@pytest.mark.parametrize(
    ("sql", "command", "line"),
    [
        pytest.param("SELECT 1\n  \\gx", "\\gx", 1, id="ending a statement"),
        pytest.param("\\dt+\\x", "\\dt+", 0, id="up to the next backslash"),
        pytest.param("SELECT (\n1 \\;", "\\;", 1, id="inside parentheses"),
    ],
)
def test_meta_command_anywhere_outside_quotes(sql: str, command: str, line: int) -> None:
    with pytest.raises(MetaCommandError) as caught:
        split_statements(sql)
    assert (caught.value.command, caught.value.line) == (command, line)


def test_glued_statements_are_refused() -> None:
    with pytest.raises(MetaCommandError, match=r"^psql's \\; escape is not SQL .* plain ; instead"):
        split_statements("SELECT 1 \\; SELECT 2;")


def test_backslashes_inside_quotes_and_comments_are_text() -> None:
    sql = "SELECT '\\d', E'\\\\', $$\\x$$, \"a\\b\", U&'\\0041' -- \\d\n/* \\d */;"
    assert split(sql) == [(sql, 0)]


# --- properties over generated text ------------------------------------------------------------

# Fragments glued together with no space between them, so that their interactions get exercised:
# quotes opening inside comments, tags running into identifiers, numbers eating signs, ...
FRAGMENTS = [
    *("select", "begin", "end", "case", "create", "function", "procedure", "or", "replace"),
    *("atomic", "e", "E", "u", "U", "n", "b", "x", "a", "é", "_", "1", "1e", "2.5", "1_0", "."),
    *("'", "''", "E'", "U&'", 'U&"', '"', '""', "$$", "$a$", "$1", "$", "a$", "$_x", ":x", "::"),
    *("--", "/*", "*/", "*", "/", "-", "+", "=", ";", ";", "(", ")", "\\", "\\\\", "\\'"),
    *("\n", "\r\n", " ", "\t", "\u00a0"),
    *(" create function f() ", " begin atomic ", " end ", " case "),
]
fragment_text = st.lists(st.sampled_from(FRAGMENTS) | st.text(max_size=2), max_size=40).map("".join)

property_settings = settings(max_examples=300, deadline=None, database=None)


def split_or_none(sql: str) -> list[Statement] | None:
    try:
        return split_statements(sql)
    except MetaCommandError:
        return None


@property_settings
@given(fragment_text | st.text())
def test_only_meta_commands_raise(sql: str) -> None:
    error: MetaCommandError | None = None
    try:
        statements = split_statements(sql)
    except MetaCommandError as raised:
        error, statements = raised, []
    if error is not None:
        assert error.command.startswith("\\")
        assert error.command in sql.split("\n")[error.line]
    lines = [statement.line for statement in statements]
    assert lines == sorted(lines)
    for statement in statements[:-1]:
        assert statement.text.endswith(";")  # only the last may go without one
    for statement in statements:
        assert statement.text
        assert statement.text == statement.text.lstrip(" \t\n\r\f")
    if statements and not statements[-1].text.endswith(";"):
        assert not statements[-1].text.endswith(("\r", "\n"))


@property_settings
@given(fragment_text)
def test_every_character_is_accounted_for(sql: str) -> None:
    # What lies outside the statements is whitespace, terminating semicolons and comments
    # that had no statement: scanned again from scratch, it holds no statement either.
    statements = split_or_none(sql)
    if statements is None:
        return
    spans = _spans(sql)
    assert [(sql[start:end], sql.count("\n", 0, start)) for start, end in spans] == [
        (statement.text, statement.line) for statement in statements
    ]
    edges = [0, *(offset for span in spans for offset in span), len(sql)]
    gaps = [sql[start:end] for start, end in zip(edges[::2], edges[1::2], strict=True)]
    assert all(start <= end for start, end in itertools.pairwise(edges))
    assert [gap for gap in gaps if split_statements(gap)] == []


@property_settings
@given(fragment_text)
def test_rejoining_statements_is_stable(sql: str) -> None:
    statements = split_or_none(sql)
    if statements is None:
        return
    texts = [statement.text for statement in statements]
    assert [s.text for s in split_statements("\n;\n".join(texts))] == texts
    # ";\n" alone would land inside a trailing -- comment; anything else keeps its meaning.
    if not any("--" in text.rsplit("\n", 1)[-1] for text in texts):
        assert [s.text for s in split_statements(";\n".join(texts))] == texts


# A model of scripts whose statements are known by construction: tokens that cannot end a
# statement, separated by whitespace so that they cannot run into each other, then semicolons.

identifiers = st.from_regex(r"[a-z_][a-z0-9_$]{0,5}", fullmatch=True).filter(
    lambda word: (
        word not in ("create", "or", "replace", "function", "procedure", "begin", "end")
        and word != "case"
    )
)
numbers = st.sampled_from(["1", "1.5", "1e5", "1e-5", ".5", "1_000", "0x1F", "1e", "1e-"])
operators = st.sampled_from(["+", "-", "*", "/", "<>", "=", "::", ",", ".", "[", "]", "$1"])


def quoted(opening: str, pieces: list[str], closing: str) -> st.SearchStrategy[str]:
    return st.lists(st.sampled_from(pieces), max_size=6).map(
        lambda body: opening + "".join(body) + closing
    )


STRING_PIECES = ["a", ";", " ", "\n", "\\", "--", "/*", "$$", '"', "é"]
strings = st.one_of(
    quoted("'", [*STRING_PIECES, "''"], "'"),
    quoted("E'", ["a", ";", "\n", "\\'", "\\\\", "''", "\\n", "--"], "'"),
    quoted("U&'", [*STRING_PIECES, "''"], "'"),
    quoted("b'", ["0", "1", ";"], "'"),
    quoted('"', ["a", ";", '""', "'", " ", "\\", "$$"], '"'),
    quoted('U&"', ["a", ";", '""', "'"], '"'),
)


@st.composite
def dollar_quotes(draw: st.DrawFn) -> str:
    delimiter = "$" + draw(st.sampled_from(["", "a", "tag", "_x1"])) + "$"
    body = "".join(draw(st.lists(st.sampled_from(["a", ";", "'", "$", "$$", "--", "\n"]))))
    # The quote ends at the first copy of its delimiter, wherever the body leaves one.
    if (body + delimiter).find(delimiter) != len(body):
        body = body.replace("$", "")
    return delimiter + body + delimiter


COMMENT_TEXT = ["a", ";", "'", '"', "$$", "--", " ", "\\", "é"]  # no * or /: no early close
line_comments = quoted("--", COMMENT_TEXT, "\n")
block_comments = st.recursive(
    quoted("/*", [*COMMENT_TEXT, "\n"], "*/"),
    lambda inner: st.tuples(inner, quoted("", COMMENT_TEXT, "")).map(
        lambda parts: "/* " + parts[0] + parts[1] + " */"
    ),
    max_leaves=3,
)
comments = line_comments | block_comments
plain_tokens = identifiers | numbers | operators | strings | dollar_quotes()
tokens = st.recursive(
    plain_tokens | comments,
    # Parentheses hold semicolons that end nothing.
    lambda inner: st.lists(inner | st.just(";"), max_size=4).map(
        lambda parts: "( " + " ".join(parts) + " )"
    ),
    max_leaves=8,
)
separators = st.sampled_from([" ", "\n", "\t", "\r\n", "  \n\f "])
ROUTINE_HEADS = ["CREATE FUNCTION f() RETURNS int LANGUAGE sql", "create or replace procedure p()"]


@st.composite
def statement_tokens(draw: st.DrawFn) -> list[str]:
    """The tokens of one statement: plain, only comments, or a routine with a BEGIN ATOMIC body."""
    kind = draw(st.sampled_from(["plain", "plain", "comments", "routine"]))
    if kind == "comments":
        return draw(st.lists(comments, max_size=3))
    body = draw(st.lists(tokens, max_size=6))
    if kind == "plain":
        return draw(st.lists(line_comments, max_size=2)) + body
    inner = draw(st.lists(st.lists(tokens, max_size=3), max_size=3))
    case = ["CASE", "WHEN", "true", "THEN", "1", "END"]
    parts = [part for statement in inner for part in [*statement, *case, ";"]]
    return [draw(st.sampled_from(ROUTINE_HEADS)), *body, "BEGIN", "ATOMIC", *parts, "END"]


@st.composite
def scripts(draw: st.DrawFn) -> tuple[str, list[tuple[str, int]]]:
    """A script and the statements it holds by construction."""
    script = draw(st.sampled_from(["", "\n", "  "]))
    expected = []
    statements = draw(st.lists(statement_tokens(), max_size=5))
    for index, parts in enumerate(statements):
        start = None
        for part in parts:
            if start is None and not part.startswith("--"):
                start = len(script)  # psql drops line comments before a statement
            script += part + draw(separators)
        terminated = index < len(statements) - 1 or draw(st.booleans())
        if terminated:
            script += ";"
        # Sent through the semicolon; without one, to the end less the final line breaks.
        text = script[start:] if start is not None else ""
        text = text if terminated else text.rstrip("\r\n")
        if text and not all(part.startswith(("--", "/*")) for part in parts):
            expected.append((text, script.count("\n", 0, start)))
        if terminated:
            script += draw(st.sampled_from(["", " ", "\n", "\n\n"]))
    return script, expected


@settings(
    max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(scripts())
def test_generated_scripts_split_as_built(script: tuple[str, list[tuple[str, int]]]) -> None:
    sql, expected = script
    assert split(sql) == expected


# --- psql itself -------------------------------------------------------------------------------

MARKER = "SELECT 'pgslides statements marker'"


def psql_queries(
    psql_bin: str, server: Server, scripts: list[str], workdir: Path
) -> list[list[str]]:
    """What psql sends for each script, read from its query log (-L), scripts run read-only."""
    marker = workdir / "marker.sql"
    marker.write_text(MARKER + ";\n")
    files = []
    for index, sql in enumerate(scripts):
        path = workdir / f"script{index}.sql"
        path.write_text(sql, newline="")
        files += ["-f", str(path), "-f", str(marker)]
    params = server.connect_params(server.maintenance_db)
    password = params.pop("password", None)
    conninfo = " ".join(f"{key}='{_conninfo_quote(value)}'" for key, value in params.items())
    env = {
        **os.environ,
        "PGOPTIONS": "-c default_transaction_read_only=on -c statement_timeout=5000",
        "EDITOR": "false",
        "PSQL_EDITOR": "false",
    }
    if password is not None:
        env["PGPASSWORD"] = password
    log = workdir / "queries.log"
    command = [psql_bin, "-X", "-q", "-d", conninfo, "-L", str(log), "-o", os.devnull, *files]
    subprocess.run(command, env=env, capture_output=True, check=False, timeout=120)
    # psql logs each query it sends between these two lines.
    logged = re.findall(
        r"/\*{8} QUERY \*{9}/\n(.*?)\n/\*{24}/\n\n", log.read_text(), flags=re.DOTALL
    )
    per_script: list[list[str]] = [[]]
    for query in logged:
        if query == MARKER + ";":
            per_script.append([])
        else:
            per_script[-1].append(query)
    return per_script[:-1]


def _conninfo_quote(value: object) -> str:
    return str(value).replace("\\", "\\\\").replace("'", "\\'")


def comparable(text: str) -> str:
    # psql reads lines (a lone CR ends one too) and drops empty lines outside quotes; pgslides
    # keeps them (see split_statements). Nothing else differs: semicolons, whitespace before
    # them and trailing spaces of a final statement are sent as psql sends them.
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return re.sub(r"\n\n+", "\n", text)


def test_psql_sends_the_same_statements(pg_server: Server, psql_bin: str, tmp_path: Path) -> None:
    rng = random.Random(20240601)
    generated = ("".join(rng.choices(FRAGMENTS, k=rng.randint(1, 30))) for _ in range(1000))
    scripts = [param.values[0] for param in EXAMPLES]
    scripts += [sql for sql in generated if split_or_none(sql) is not None][:300]
    sent = psql_queries(psql_bin, pg_server, scripts, tmp_path)
    assert len(sent) == len(scripts)
    for sql, queries in zip(scripts, sent, strict=True):
        # psql also sends comment-only statements and lone semicolons; the server ignores them.
        psql_texts = [comparable(query) for query in queries if split_statements(query)]
        ours = [comparable(statement.text) for statement in split_statements(sql)]
        assert ours == psql_texts, f"for {sql!r}"


# --- standard_conforming_strings ---------------------------------------------------------------


def test_nonstandard_strings_take_backslash_escapes() -> None:
    sql = "SELECT 'it\\'s; fine', n'\\';', b'1', '\\\\';\nSELECT 2;"
    assert [s.text for s in split_statements(sql, standard_strings=False)] == [
        "SELECT 'it\\'s; fine', n'\\';', b'1', '\\\\';",
        "SELECT 2;",
    ]


def test_a_changed_setting_applies_from_the_next_line() -> None:
    # As psql, which asks the server for the setting each time it reads a line.
    asked: list[bool] = [True]
    sql = "SET off; SELECT 'a\\';\nSELECT 'b\\'';\nSELECT 3;"
    texts = []
    for statement in iter_statements(sql, lambda: asked[-1]):
        texts.append(statement.text)
        if statement.text.startswith("SET"):
            asked.append(False)
    assert texts == ["SET off;", "SELECT 'a\\';", "SELECT 'b\\'';", "SELECT 3;"]
