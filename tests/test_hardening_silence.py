"""Hardening: nothing lost in silence. Notices past the first few are counted on the slide,
long messages are cut with a note, JSON keeps columns of one name, a cache file of any wrong
shape is a warning and a rerun, YAML aliases are refused, setup files are blamed on their own
line, and an unencoded @ in a password is refused without showing any of it. Real builds on
a real PostgreSQL, never a mock."""

from __future__ import annotations

import copy
import json
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pgslides.drift import outcome_drift, unordered_results
from pgslides.errors import Problem
from pgslides.outcome import DeckResult
from pgslides.parse.deck import Deck, DeckError, parse_deck, read_deck
from pgslides.render.blocks import render_deck_blocks
from pgslides.report import deck_report
from pgslides.run.runner import Runner, RunSettings
from pgslides.run.server import Server, server_from_url
from sites import BIN, database_url, log_messages, make_site, mkdocs_build, run

# --- a cache file of any wrong shape -------------------------------------------------------------

# Every kind of outcome a cache file can hold: rows of several types in every format, an
# expected error after a notice, COPY output, a lock wait with a late result, a warning.
SHAPES_DECK = """
# Shapes

```sql exec
CREATE TABLE t (id int PRIMARY KEY, name text, price numeric, ok boolean, doc jsonb);
INSERT INTO t VALUES (1, 'a', 1.50, true, '{"k": 1}'), (2, NULL, 2, false, NULL);
```

```sql exec format=json
SELECT * FROM t ORDER BY id;
```

```sql exec format=text
SELECT id, name FROM t ORDER BY id;
```

```sql exec format=expanded rows=1
SELECT * FROM t ORDER BY id;
```

```sql exec expect=23505
DO $$BEGIN RAISE NOTICE 'about to fail'; END$$;
INSERT INTO t VALUES (1, 'dup', 0, true, NULL);
```

```sql exec
COPY t (id) TO STDOUT;
```

```sql exec session=a
BEGIN;
UPDATE t SET name = 'locked' WHERE id = 1;
```

```sql exec session=b
UPDATE t SET name = 'waits' WHERE id = 1;
```

```sql exec session=a
COMMIT;
```

```sql exec session=c
BEGIN;
```
"""


class StoredDeck:
    """A deck run once on the test server, its cache file written, to be spoiled at will."""

    def __init__(self, root: Path, url: str) -> None:
        site = make_site(root, {"deck.md": SHAPES_DECK}, database_url=url)
        self.deck_file = site.root / "slides" / "deck.md"
        self.deck: Deck = read_deck(self.deck_file, "slides/deck.md", "deck.md")
        self.runner = Runner(RunSettings(database_url=url, cache_dir=root / "cache"))
        result = self.runner.outcome(self.deck, self.deck_file)
        assert not result.cached
        assert self.runner.cache is not None
        self.file = self.runner.cache.file_for(self.deck)
        self.document = json.loads(self.file.read_text(encoding="utf-8"))
        self.fresh = result.outcome
        _setup, self.inputs = self.runner._inputs(self.deck, self.deck_file)

    def stored(self, document: Any) -> tuple[DeckResult | str, list[Problem]]:
        """What a build makes of the cache file holding document: a result, or why it runs."""
        self.file.write_text(json.dumps(document), encoding="utf-8")
        warnings: list[Problem] = []
        return self.runner.freshness.stored(self.deck, self.inputs, warnings), warnings

    def use(self, result: DeckResult) -> None:
        """Everything a build and a drift check do with a stored outcome."""
        render_deck_blocks(self.deck, result.outcome)
        deck_report(self.deck, result.outcome)
        outcome_drift(self.deck, result.outcome, self.fresh)
        unordered_results(self.deck, result.outcome)


@pytest.fixture(scope="module")
def stored_deck(pg_server: Server, tmp_path_factory: pytest.TempPathFactory) -> StoredDeck:
    return StoredDeck(tmp_path_factory.mktemp("shapes"), database_url(pg_server))


def paths_of(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a JSON document, the document itself first."""
    found = [path]
    if isinstance(node, dict):
        for key, value in node.items():
            found += paths_of(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += paths_of(value, (*path, index))
    return found


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 2**40) | st.floats() | st.text(max_size=4),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner),
    max_leaves=4,
)


@st.composite
def spoiled(draw: st.DrawFn, document: dict[str, Any]) -> dict[str, Any]:
    """document with one to three places replaced by any JSON value, or deleted."""
    document = copy.deepcopy(document)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(paths_of(document)[1:]))
        parent = document
        for step in path[:-1]:
            parent = parent[step]
        if isinstance(parent, dict) and draw(st.booleans()):
            del parent[path[-1]]
        else:
            parent[path[-1]] = draw(JSON_VALUES)
    return document


def test_a_cache_file_of_any_wrong_shape_is_a_warning_and_a_rerun(stored_deck: StoredDeck):
    @settings(
        max_examples=300,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(spoiled(stored_deck.document))
    def check(document: dict[str, Any]) -> None:
        found, warnings = stored_deck.stored(document)
        if isinstance(found, DeckResult):
            stored_deck.use(found)  # a shape the checks let through must work all the way
            return
        if found == "unreadable cache file":
            (warning,) = warnings
            assert warning.severity == "warning"
            assert warning.message.startswith(f"{stored_deck.file}: unreadable cache file")
        else:
            assert warnings == []  # another format, other inputs: a plain miss

    check()


@pytest.mark.parametrize(
    ("spoil", "where"),
    [
        (lambda d: d["outcome"]["blocks"][1]["statements"][0].update(rows=[[1, "a"]]),
         "the file.outcome.blocks[1].statements[0].rows[0][0]: expected a string or null"),
        (lambda d: d["outcome"]["blocks"][1]["statements"][0].update(line="7"),
         "the file.outcome.blocks[1].statements[0].line: expected a whole number, not negative"),
        (lambda d: d["outcome"]["blocks"][1]["statements"][0].update(row_count=-1),
         "the file.outcome.blocks[1].statements[0].row_count: expected a whole number, not negative"),
        (lambda d: d["outcome"]["blocks"][0].update(statements=None),
         "the file.outcome.blocks[0].statements: expected a list"),
        (lambda d: d["outcome"].update(blocks={"0": {}}), "the file.outcome.blocks: expected a list"),
        (lambda d: d["outcome"]["blocks"][2]["statements"][0].pop("sql"),
         "the file.outcome.blocks[2].statements[0]: missing key 'sql'"),
        (lambda d: d["outcome"]["blocks"][3].update(index=9), "the file.outcome.blocks[3].index: expected 3"),
        (lambda d: d["outcome"]["blocks"][1]["statements"][0]["rows"][0].append("x"),
         "the file.outcome.blocks[1].statements: expected rows as wide as their columns"),
        (lambda d: d.update(server=[]), "the file.server: expected a mapping or null"),
        (lambda d: d.update(inputs={"blocks": 1}), "the file.inputs.blocks: expected a string"),
    ],
    ids=["int-value", "str-line", "negative-count", "null-list", "dict-for-list", "missing-key",
         "index", "row-width", "list-for-server", "int-input"],
)  # fmt: skip
def test_a_cache_file_with_wrong_types_says_where(stored_deck: StoredDeck, spoil: Any, where: str):
    document = copy.deepcopy(stored_deck.document)
    spoil(document)
    found, warnings = stored_deck.stored(document)
    assert found == "unreadable cache file"
    (warning,) = warnings
    assert (
        warning.message == f"{stored_deck.file}: unreadable cache file, running the deck ({where})"
    )


def test_a_cache_file_of_wrong_types_is_rerun_by_the_build(tmp_path: Path, pg_server: Server):
    deck = "# Types\n\n```sql exec\nSELECT 'fresh' AS word;\n```\n"
    site = make_site(tmp_path, {"deck.md": deck}, database_url=database_url(pg_server))
    assert mkdocs_build(tmp_path).returncode == 0
    (cache_file,) = (tmp_path / ".pgslides-cache").glob("*.json")
    document = json.loads(cache_file.read_text(encoding="utf-8"))
    document["outcome"]["blocks"][0]["statements"][0]["rows"] = [[42]]
    cache_file.write_text(json.dumps(document), encoding="utf-8")
    completed = mkdocs_build(tmp_path, "--no-strict")
    assert completed.returncode == 0, completed.stderr
    assert "Traceback" not in completed.stderr
    (warning,) = log_messages(completed.stderr, "WARNING")
    assert warning == (
        f"pgslides: {cache_file}: unreadable cache file, running the deck "
        "(the file.outcome.blocks[0].statements[0].rows[0][0]: expected a string or null)"
    )
    assert site.page("deck.md").block(3).find("td").text == "fresh"
    assert json.loads(cache_file.read_text(encoding="utf-8")) != document


# --- a build that fails, in one line ---------------------------------------------------------------


def failed_build(root: Path) -> list[str]:
    """`mkdocs build --strict` in root, failing without a traceback: its ERROR messages."""
    completed = mkdocs_build(root)
    output = completed.stdout + completed.stderr
    assert completed.returncode == 1, output
    assert "Traceback" not in output
    return log_messages(completed.stderr, "ERROR")


# --- notices: the first 100 shown, the rest counted -------------------------------------------------

NOTICES_DECK = """
# Many notices

```sql exec
DO $$BEGIN FOR i IN 1..100000 LOOP RAISE NOTICE 'notice %', i; END LOOP; END$$;
```
"""


def test_notices_past_the_first_hundred_are_counted_on_the_slide(tmp_path: Path, pg_server: Server):
    site = make_site(tmp_path, {"deck.md": NOTICES_DECK}, database_url=database_url(pg_server))
    completed = mkdocs_build(tmp_path, "--no-strict")  # 100 notices make a slide too large
    assert completed.returncode == 0, completed.stderr
    block = site.page("deck.md").block(3)
    notices = [node.text for node in block.find_all("pre", "sql-notice")]
    assert notices == [f"NOTICE:  notice {n}" for n in range(1, 101)]
    assert block.find(class_="sql-notices-more").text == "… 99900 more notices"
    assert block.find(class_="sql-status").text == "DO"
    (cache_file,) = (tmp_path / ".pgslides-cache").glob("*.json")
    assert cache_file.stat().st_size < 50_000
    stored = json.loads(cache_file.read_text(encoding="utf-8"))
    assert stored["outcome"]["blocks"][0]["statements"][0]["more_notices"] == 99900


# --- long notices and errors: cut like values, with a note ------------------------------------------

LONG_MESSAGES_DECK = """
# Long messages

```sql exec
DO $$BEGIN RAISE NOTICE '%', repeat('n', 1000000) USING DETAIL = repeat('d', 3000), HINT = 'h'; END$$;
```

```sql exec expect=P0001
DO $$BEGIN
  RAISE EXCEPTION '%', repeat('e', 1000000)
    USING DETAIL = repeat('d', 1000000), HINT = repeat('h', 2001);
END$$;
```

```sql exec expect=42703
DO $$BEGIN EXECUTE 'SELECT ''' || repeat('q', 1000000) || ''' AS long, nosuch'; END$$;
```
"""


def cut(character: str, length: int) -> str:
    return f"{character * 2000}… ({length - 2000} more characters)"


def test_long_notices_and_errors_are_cut_with_a_note(tmp_path: Path, pg_server: Server):
    site = make_site(
        tmp_path, {"deck.md": LONG_MESSAGES_DECK}, database_url=database_url(pg_server)
    )
    # The slide is far too wide for the stage, and the build says so (a warning, so not strict).
    completed = mkdocs_build(tmp_path, "--no-strict")
    assert completed.returncode == 0, completed.stderr
    assert " will be presented at about 0.0" in completed.stderr
    page = site.page("deck.md")
    notice = page.block(3).find("pre", "sql-notice").text
    assert notice == f"NOTICE:  {cut('n', 1000000)}\nDETAIL:  {cut('d', 3000)}\nHINT:  h"
    error = page.block(7).find(class_="sql-error").text
    assert error == (
        f"ERROR:  {cut('e', 1000000)}\nDETAIL:  {cut('d', 1000000)}\nHINT:  {cut('h', 2001)}\n"
        "CONTEXT:  PL/pgSQL function inline_code_block line 2 at RAISE"
    )
    query = "SELECT '" + "q" * 1000000 + "' AS long, nosuch"
    error = page.block(14).find(class_="sql-error").text
    # The position points past the part of the query that is kept: no LINE excerpt.
    assert error == (
        'ERROR:  column "nosuch" does not exist\n'
        f"QUERY:  {query[:2000]}… ({len(query) - 2000} more characters)\n"
        "CONTEXT:  PL/pgSQL function inline_code_block line 1 at EXECUTE"
    )
    (cache_file,) = (tmp_path / ".pgslides-cache").glob("*.json")
    assert cache_file.stat().st_size < 50_000


def test_a_long_unexpected_error_fails_the_build_in_a_short_line(tmp_path: Path, pg_server: Server):
    deck = "# Fails\n\n```sql exec\nDO $$BEGIN RAISE EXCEPTION '%', repeat('e', 1000000); END$$;\n```\n"
    make_site(tmp_path, {"deck.md": deck}, database_url=database_url(pg_server))
    errors = failed_build(tmp_path)
    assert errors[-1] == f"slides/deck.md:3: ERROR:  {cut('e', 1000000)} (P0001)"


# --- format=json keeps columns of one name, as row_to_json does -----------------------------------

JSON_QUERY = (
    "SELECT g AS a, g * 2 AS a, 'x' || g AS b, 1.50 * g AS n, g > 1 AS t, NULL::int AS a, "
    """'{"k": [1, 2.50]}'::jsonb AS j FROM generate_series(1, 2) AS g ORDER BY g"""
)


def json_members(text: str) -> Any:
    """JSON with objects as lists of (name, value) pairs and numbers as their text."""
    return json.loads(text, object_pairs_hook=list, parse_float=str, parse_int=str)


def test_json_keeps_duplicate_column_names_as_postgresql_does(
    tmp_path: Path, pg_server: Server, pg_conn
):
    deck = f"# JSON\n\n```sql exec format=json\n{JSON_QUERY};\n```\n"
    site = make_site(tmp_path, {"deck.md": deck}, database_url=database_url(pg_server))
    assert mkdocs_build(tmp_path, "--no-strict").returncode == 0  # a wide slide warns
    shown = site.page("deck.md").block(3).find("pre", "sql-json").text
    with pg_conn.cursor() as cursor:
        cursor.execute(f"SELECT json_agg(q) FROM ({JSON_QUERY}) AS q")
        (server_json,) = cursor.fetchone()
    assert json_members(shown) == json_members(server_json)
    assert [name for name, _value in json_members(shown)[0]] == ["a", "a", "b", "n", "t", "a", "j"]
    assert '"n": 1.50,' in shown  # the server's text, scale kept


# --- YAML aliases in front matter -------------------------------------------------------------

BILLION_LAUGHS = """---
title: Laughs
a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]
h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]
subtitle: [*h, *h, *h, *h, *h, *h, *h, *h, *h]
---

# Laughs
"""

ALIAS_REFUSED = (
    "front matter uses the YAML alias *a: aliases are refused (a few of them can grow into "
    "gigabytes); write the value out"
)


@pytest.mark.parametrize(
    ("text", "line"),
    [
        (BILLION_LAUGHS, 4),
        ("---\ntitle: T\nsql:\n  setup: &s [a.sql]\n  timezone: *s\n---\n\n# T\n", 5),
        ("---\nbase: &a {title: T}\nmore:\n  <<: *a\n---\n\n# T\n", 4),
    ],
    ids=["billion-laughs", "in-sql", "merge-key"],
)
def test_yaml_aliases_in_front_matter_are_refused_at_their_line(text: str, line: int):
    with pytest.raises(DeckError) as caught:
        parse_deck(text.replace("*s", "*a").replace("&s", "&a"), "slides/deck.md")
    assert (caught.value.path, caught.value.line) == ("slides/deck.md", line)
    assert caught.value.message == ALIAS_REFUSED


def test_an_anchor_without_an_alias_is_fine():
    deck = parse_deck("---\ntitle: &t Anchored\n---\n\n# Slide\n", "slides/deck.md")
    assert deck.title == "Anchored"


def test_a_yaml_alias_bomb_fails_the_build_quickly_and_small(tmp_path: Path, pg_server: Server):
    site = make_site(tmp_path, {"deck.md": BILLION_LAUGHS}, database_url=database_url(pg_server))
    started = time.monotonic()
    errors = failed_build(tmp_path)
    assert time.monotonic() - started < 30
    assert errors[-1] == f"slides/deck.md:4: {ALIAS_REFUSED}"
    assert not site.page_path("deck.md").exists()


# `mkdocs serve` builds the page of a failed deck with its problem on it; MkDocs' own YAML
# loader takes the aliases, and a theme rendering that title would take gigabytes. Run in a
# child with its address space bounded, so a regression fails the test, not the machine.
SERVE_BUILD = """
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, (2 * 1024**3, 2 * 1024**3))
sys.path.insert(0, sys.argv[2])
from pathlib import Path
from sites import Site, build_site
build_site(Site(Path(sys.argv[1])), command="serve")
"""


def test_a_yaml_alias_bomb_as_the_title_is_not_rendered_by_serve(tmp_path: Path, pg_server: Server):
    text = BILLION_LAUGHS.replace("title: Laughs\n", "").replace("subtitle:", "title:")
    site = make_site(tmp_path, {"deck.md": text}, database_url=database_url(pg_server))
    started = time.monotonic()
    completed = run(
        [sys.executable, "-c", SERVE_BUILD, str(tmp_path), str(Path(__file__).parent)], tmp_path
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert time.monotonic() - started < 30
    assert f"slides/deck.md:3: {ALIAS_REFUSED}" in completed.stderr
    assert site.page_path("deck.md").stat().st_size < 100_000
    assert ALIAS_REFUSED in site.page("deck.md").find(class_="pgslides-problem").text


# --- setup files: blamed on the line that names them ------------------------------------------

SETUP_DECK = """---
title: Setup
sql:
  setup:
    - good.sql
    - {name}
---

# Setup

```sql exec
SELECT 1;
```
"""


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("missing.sql", "No such file or directory"),
        ("adir", "Is a directory"),
        ("binary.sql", "not UTF-8 text (byte 0xff on its line 2)"),
    ],
)
def test_setup_file_problems_name_the_line_of_their_setup_entry(
    tmp_path: Path, pg_server: Server, name: str, reason: str
):
    make_site(
        tmp_path, {"deck.md": SETUP_DECK.format(name=name)}, database_url=database_url(pg_server)
    )
    (tmp_path / "slides" / "good.sql").write_text("SELECT 1;\n")
    (tmp_path / "slides" / "adir").mkdir()
    (tmp_path / "slides" / "binary.sql").write_bytes(b"SELECT 1;\n\xff\xfe\x00\x01")
    errors = failed_build(tmp_path)
    assert errors[-1] == f"slides/deck.md:6: cannot read setup file {name}: {reason}"


def test_a_setup_file_in_a_flow_list_or_alone_names_its_line():
    flow = parse_deck("---\nsql:\n  setup: [a.sql,\n    b.sql]\n---\n\n# A\n", "d.md")
    alone = parse_deck("---\ntitle: T\nsql:\n  timezone: UTC\n  setup: a.sql\n---\n\n# A\n", "d.md")
    assert flow.settings.setup_lines == (3, 4)
    assert alone.settings.setup_lines == (5,)


# --- an unencoded @ in a database URL's password -------------------------------------------------

UNENCODED_AT = (
    "database_url has an @ in its user name, password or database name that is not "
    "URL-encoded; write each such @ as %40 (postgresql://user:p%40ss@host/dbname)"
)


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://alice:hunter@2xyz@127.0.0.1:5432/postgres",
        "postgresql://alice:hunter@2xyz:9@127.0.0.1/postgres",
        "postgresql://alice:hun?ter@2xyz@127.0.0.1/postgres",
        "postgresql://alice:hun/ter@2xyz@127.0.0.1/postgres",
    ],
    ids=["at", "at-and-colon", "question-mark", "slash"],
)
def test_an_unencoded_at_in_a_password_is_refused_and_none_of_it_shown(tmp_path: Path, url: str):
    site = make_site(
        tmp_path, {"deck.md": "# One\n\n```sql exec\nSELECT 1;\n```\n"}, database_url=url
    )
    completed = mkdocs_build(tmp_path)
    output = completed.stdout + completed.stderr
    assert completed.returncode == 1, output
    assert log_messages(completed.stderr, "ERROR") == [UNENCODED_AT]
    for part in ("hunter", "2xyz", "hun?ter", "hun/ter", "ter@"):
        assert part not in output
    assert not site.page_path("deck.md").exists()
    checked = run([str(BIN / "pgslides"), "check"], tmp_path)
    assert checked.returncode == 2
    assert checked.stdout + checked.stderr == f"pgslides: {UNENCODED_AT}\n"


def test_an_encoded_at_in_a_password_is_the_password():
    server = server_from_url("postgresql://alice:hunter%402xyz@db.example:5433/talks")
    assert server.password == "hunter@2xyz"
    assert server.label == "postgresql://alice:***@db.example:5433/talks"
    assert server.params == {"host": "db.example", "port": 5433, "user": "alice", "dbname": "talks"}
