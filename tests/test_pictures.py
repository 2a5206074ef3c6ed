"""Pictures from the live database, end to end on a real server: plans (format=plan), schema
diagrams (```erd exec```) and charts (chart=), what the server is sent for them, their hooks,
their errors at file:line, and the same bytes on every build.

The renderers' own cases (layouts, escaping, ticks, collapsing) are test_plan, test_erd and
test_chart, on fixed inputs; here the inputs come from PostgreSQL."""

from __future__ import annotations

import json
import textwrap
from dataclasses import replace
from pathlib import Path

import pytest

from pgslides.drift import statement_difference
from pgslides.errors import DeckError
from pgslides.outcome import DeckOutcome
from pgslides.parse.deck import Deck, parse_deck
from pgslides.render import render_deck_blocks
from pgslides.report import deck_problems
from pgslides.run.admin import Admin
from pgslides.run.database import DeckDatabase, SessionSettings
from pgslides.run.execute import RunLimits
from pgslides.run.server import Server
from pgslides.run.timeline import run_deck
from sites import Node, database_url, log_messages, make_site, mkdocs_build, parse_html

PATH = "slides/deck.md"

USERS = """
```sql exec
CREATE TABLE users (id int PRIMARY KEY, first_name text NOT NULL);
CREATE TABLE comments (id int PRIMARY KEY, user_id int NOT NULL REFERENCES users, body text);
INSERT INTO users VALUES (1, 'David'), (2, 'Kurt'), (3, 'Mike');
ANALYZE users;
```
"""


def run(pg_server: Server, source: str) -> tuple[Deck, DeckOutcome]:
    deck = parse_deck(textwrap.dedent(source).lstrip("\n"), PATH)
    with (
        Admin(pg_server) as admin,
        DeckDatabase(admin, "pictures", "database", SessionSettings()) as db,
    ):
        outcome = run_deck(deck, db, RunLimits())
    assert DeckOutcome.from_dict(json.loads(json.dumps(outcome.to_dict()))) == outcome
    return deck, outcome


def block_html(deck: Deck, outcome: DeckOutcome, index: int) -> Node:
    return parse_html(str(render_deck_blocks(deck, outcome)[index]))


def problems(deck: Deck, outcome: DeckOutcome) -> list[str]:
    return [str(problem) for problem in deck_problems(deck, outcome)]


# --- plans ------------------------------------------------------------------------------------


def test_a_plan_is_asked_for_in_json_and_drawn_as_a_tree_of_nodes(pg_server: Server):
    deck, outcome = run(
        pg_server,
        USERS
        + """
```sql exec format=plan
EXPLAIN SELECT * FROM users WHERE first_name = 'Kurt';
```
""",
    )
    assert problems(deck, outcome) == []
    sent = outcome.blocks[1].statements[0].sql
    assert sent == "EXPLAIN (FORMAT JSON) SELECT * FROM users WHERE first_name = 'Kurt';"
    page = block_html(deck, outcome, 1)
    plan = page.find(class_="sql-plan")
    node = plan.find(class_="plan-node")
    assert node.attrs["data-node-type"] == "Seq Scan"
    assert node.attrs["data-rows-estimated"] == "1"
    assert "data-rows-actual" not in node.attrs  # no ANALYZE, no actual rows
    assert "users" in node.text
    assert "Kurt" in node.text
    # The source on the slide is what the author wrote; no JSON text, no result table.
    assert "FORMAT JSON" not in page.find(class_="sql-source").text
    assert page.find_all("table") == []


@pytest.mark.parametrize(
    "explain",
    [
        "EXPLAIN ANALYZE",
        "explain analyze verbose",
        "EXPLAIN (ANALYZE, FORMAT TEXT)",
        "EXPLAIN (ANALYZE true, COSTS false)",
    ],
)
def test_every_way_of_writing_explain_analyze_gives_actual_rows(pg_server: Server, explain: str):
    deck, outcome = run(
        pg_server,
        USERS
        + f"""
```sql exec format=plan
{explain} SELECT * FROM users WHERE first_name = 'Kurt';
```
""",
    )
    assert problems(deck, outcome) == []
    node = block_html(deck, outcome, 1).find(class_="plan-node")
    assert node.attrs["data-node-type"] == "Seq Scan"
    assert node.attrs["data-rows-actual"] == "1"


def test_a_plan_blocks_other_statements_show_as_usual(pg_server: Server):
    deck, outcome = run(
        pg_server,
        USERS
        + """
```sql exec format=plan
CREATE INDEX users_first_name ON users (first_name);
SET enable_seqscan = off;
EXPLAIN SELECT * FROM users WHERE first_name = 'Kurt';
SELECT count(*) FROM users;
```
""",
    )
    assert problems(deck, outcome) == []
    page = block_html(deck, outcome, 1)
    assert [tag.text for tag in page.find_all(class_="sql-status")] == ["CREATE INDEX", "SET"]
    types = [node.attrs["data-node-type"] for node in page.find_all(class_="plan-node")]
    assert "Seq Scan" not in types
    assert any("Index" in kind for kind in types)
    assert len(page.find_all("table", class_="sql-result")) == 1  # the count, as a table


def test_an_explain_that_fails_shows_its_error_where_the_author_wrote_it(pg_server: Server):
    deck, outcome = run(
        pg_server,
        USERS
        + """
```sql exec format=plan expect=42P01
EXPLAIN SELECT * FROM userz;
```
""",
    )
    assert problems(deck, outcome) == []
    error = block_html(deck, outcome, 1).find(class_="sql-error")
    assert error.attrs["data-sqlstate"] == "42P01"
    assert 'relation "userz" does not exist' in error.text


def test_analyze_timings_are_no_drift_but_a_new_plan_shape_is(pg_server: Server):
    query = "SELECT * FROM users u JOIN comments c ON c.user_id = u.id"
    source = USERS + f"\n```sql exec format=plan\nEXPLAIN ANALYZE {query};\n```\n"
    deck, first = run(pg_server, source)
    _deck, second = run(pg_server, source)
    old = first.blocks[1].statements[0]
    # Timings differ from run to run; make sure they do here, whatever the clock said.
    plan = json.loads(second.blocks[1].statements[0].rows[0][0] or "")
    plan[0]["Execution Time"] += 1.5
    plan[0]["Plan"]["Actual Total Time"] += 1.5
    new = replace(second.blocks[1].statements[0], rows=((json.dumps(plan),),))
    assert statement_difference(old, new, plan=True) is None
    assert statement_difference(old, new) == "the rows shown changed"
    _deck, indexed = run(
        pg_server,
        source.replace(
            "EXPLAIN", "SET enable_hashjoin = off;\nSET enable_mergejoin = off;\nEXPLAIN"
        ),
    )
    other = indexed.blocks[1].statements[2]
    assert statement_difference(old, other, plan=True) == "the plan's shape changed"
    assert deck.blocks[1].options.format == "plan"


FORTY_NODES = "\nUNION ALL\n".join(
    f"SELECT a.id FROM t{n} a JOIN t{n + 1} b ON b.id = a.id JOIN t{n + 2} c ON c.id = b.id "
    f"WHERE a.v > {n}"
    for n in range(8)
)


def test_a_forty_node_plan_is_all_there_and_folded_to_fit(pg_server: Server):
    tables = "\n".join(f"CREATE TABLE t{n} (id int PRIMARY KEY, v int);" for n in range(10))
    deck, outcome = run(
        pg_server,
        f"""
```sql exec
{tables}
```

```sql exec format=plan
EXPLAIN {FORTY_NODES};
```
""",
    )
    assert problems(deck, outcome) == []
    value = outcome.blocks[1].statements[0].rows[0][0]
    assert value is not None
    assert len(value) > 2000
    nodes = _count_nodes(json.loads(value)[0]["Plan"])
    assert nodes >= 40
    page = block_html(deck, outcome, 1)
    drawn = page.find_all(class_="plan-node")
    assert len(drawn) == nodes
    folded = [node for more in page.find_all(class_="plan-more") for node in more.iter()]
    visible = [node for node in drawn if not any(node is inner for inner in folded)]
    assert len(visible) <= 15


def _count_nodes(plan: dict) -> int:
    return 1 + sum(_count_nodes(child) for child in plan.get("Plans", ()))


# --- schema diagrams --------------------------------------------------------------------------


def test_an_erd_block_draws_the_tables_and_keys_as_they_are_at_that_point(pg_server: Server):
    deck, outcome = run(
        pg_server,
        USERS
        + """
```erd exec
users
comments
```

```sql exec
BEGIN;
CREATE TABLE likes (user_id int REFERENCES users, comment_id int REFERENCES comments);
```

```erd exec
*
```

```sql exec
ROLLBACK;
```
""",
    )
    assert problems(deck, outcome) == []
    first = block_html(deck, outcome, 1)
    svg = first.find("svg", class_="sql-erd")
    assert [g.attrs["data-table"] for g in svg.find_all(class_="erd-table")] == [
        "users",
        "comments",
    ]
    edge = svg.find(class_="erd-edge")
    assert (edge.attrs["data-from"], edge.attrs["data-to"]) == ("comments.user_id", "users.id")
    assert first.find(data_erd_block=True).attrs["data-line"] == "8"
    # Inside the deck's open transaction, the table it has not committed is there.
    everything = block_html(deck, outcome, 3).find("svg", class_="sql-erd")
    tables = [g.attrs["data-table"] for g in everything.find_all(class_="erd-table")]
    assert tables == ["comments", "likes", "users"]
    assert len(everything.find_all(class_="erd-edge")) == 3


def test_an_erd_of_a_table_that_does_not_exist_fails_at_its_line(pg_server: Server):
    deck, outcome = run(pg_server, USERS + "\n```erd exec\nusers\nuserz\n```\n")
    assert problems(deck, outcome) == [f'{PATH}:8: ERROR:  relation "userz" does not exist (42P01)']
    page = block_html(deck, outcome, 1)
    assert page.find(class_="sql-error").attrs["data-sqlstate"] == "42P01"
    assert "regclass" not in page.text  # pgslides' catalog query is not the author's text


def test_hostile_table_and_column_names_stay_text_in_the_diagram(pg_server: Server):
    deck, outcome = run(
        pg_server,
        """
```sql exec
CREATE TABLE "<script>alert(1)</script>" ("a""b & <i>" int PRIMARY KEY);
CREATE TABLE "]]>" (x int REFERENCES "<script>alert(1)</script>");
```

```erd exec
*
```
""",
    )
    assert problems(deck, outcome) == []
    html = str(render_deck_blocks(deck, outcome)[1])
    assert "<script>" not in html
    assert "<i>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    tables = parse_html(html).find_all(class_="erd-table")
    assert sorted(g.attrs["data-table"] for g in tables) == ["<script>alert(1)</script>", "]]>"]


@pytest.mark.parametrize(
    ("body", "line", "message"),
    [
        ("users; DROP TABLE users", 2, "'users;' is not a table name"),
        ("", 1, "an erd block lists the tables to draw, or * for all"),
    ],
)
def test_an_erd_block_that_names_no_table_is_refused_at_its_line(
    body: str, line: int, message: str
):
    with pytest.raises(DeckError) as caught:
        parse_deck(f"```erd exec\n{body}\n```\n" if body else "```erd exec\n```\n", PATH)
    assert caught.value.problem.line == line
    assert message in caught.value.problem.message


# --- charts -----------------------------------------------------------------------------------

COUNTS = """
```sql exec chart=bar x=author y=comments
SELECT u.first_name AS author, count(c.id) AS comments
FROM users u LEFT JOIN comments c ON c.user_id = u.id
GROUP BY u.first_name ORDER BY u.first_name;
```
"""


def test_a_chart_is_drawn_from_the_rows_and_the_rows_stay_in_the_handout(pg_server: Server):
    deck, outcome = run(
        pg_server,
        USERS
        + "\n```sql exec show=none\nINSERT INTO comments VALUES (1, 2, 'Nice!');\n```\n"
        + COUNTS,
    )
    assert problems(deck, outcome) == []
    page = block_html(deck, outcome, 2)
    svg = page.find("svg", class_="sql-chart")
    assert svg.attrs["data-chart"] == "bar"
    marks = [(mark.attrs["data-x"], mark.attrs["data-y"]) for mark in svg.find_all(data_y=True)]
    assert marks == [("David", "0"), ("Kurt", "1"), ("Mike", "0")]
    rows = page.find("details", class_="sql-chart-rows")
    assert len(rows.find("table", class_="sql-result").find_all("tr")) == 4


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ("x=nobody y=comments", "cannot draw the chart: "),
        ("x=author y=author", "cannot draw the chart: "),
    ],
)
def test_a_chart_of_columns_the_result_lacks_fails_at_the_blocks_line(
    pg_server: Server, options: str, message: str
):
    source = USERS + COUNTS.replace("x=author y=comments", options)
    deck, outcome = run(pg_server, source)
    found = problems(deck, outcome)
    assert len(found) == 1
    assert found[0].startswith(f"{PATH}:8: {message}")
    assert message in block_html(deck, outcome, 1).find(class_="sql-problem").text


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            "chart=bar x=a",
            "chart=bar needs the columns to draw: add x=COLUMN and y=COLUMN[,COLUMN…]",
        ),
        ("x=a y=b", "x= and y= name a chart's columns: add chart=bar, line, scatter or area"),
        (
            "chart=line x=a y=b format=json",
            "chart= draws the rows, format=json lays them out: use one or the other",
        ),
        (
            "chart=pie x=a y=b",
            "bad value 'pie' for option chart; valid choices: bar, line, scatter, area",
        ),
    ],
)
def test_chart_options_that_cannot_work_are_refused_at_the_fence(options: str, message: str):
    with pytest.raises(DeckError) as caught:
        parse_deck(f"# Chart\n\n```sql exec {options}\nSELECT 1 AS a, 2 AS b;\n```\n", PATH)
    assert (caught.value.problem.line, caught.value.problem.message) == (3, message)


# --- a whole site -----------------------------------------------------------------------------

SITE_DECK = (
    "# Pictures\n\n"
    + USERS
    + """
```erd exec
users
comments
```

---

## How did it find Kurt?

```sql exec format=plan
EXPLAIN SELECT * FROM users WHERE first_name = 'Kurt';
```

---

## Who wrote

"""
    + COUNTS
)


def test_a_site_with_every_picture_builds_strict_and_the_same_bytes_twice(
    tmp_path: Path, pg_server: Server
):
    site = make_site(tmp_path, {"deck.md": SITE_DECK}, database_url=database_url(pg_server))
    first = mkdocs_build(site.root)
    assert first.returncode == 0, first.stderr
    assert log_messages(first.stderr, "WARNING") == []
    page = site.page_path("deck.md").read_text(encoding="utf-8")
    for hook in ('class="sql-erd"', 'class="sql-plan"', 'class="sql-chart"'):
        assert hook in page
    again = mkdocs_build(site.root, env={"PGSLIDES_REFRESH": "1"})
    assert again.returncode == 0, again.stderr
    assert "deck.md: 4 blocks" in again.stderr
    assert "run" in again.stderr
    assert site.page_path("deck.md").read_text(encoding="utf-8") == page
