"""Build-time warnings for slides the browser would present below a readable scale."""

from __future__ import annotations

from pathlib import Path

from pgslides.outcome import BlockOutcome, Column, SqlError, StatementOutcome
from pgslides.parse.deck import parse_deck
from pgslides.render.fit import fit_problems, slide_extent
from pgslides.run.server import Server
from sites import database_url, make_site, mkdocs_build


def outcome_with_rows(rows: int, width: int = 5) -> tuple[BlockOutcome, ...]:
    statement = StatementOutcome(
        sql="SELECT",
        line=4,
        status=f"SELECT {rows}",
        columns=(Column("v", 25, numeric=False),),
        rows=tuple(("x" * width,) for _ in range(rows)),
        row_count=rows,
    )
    return (BlockOutcome(index=0, line=3, session="main", statements=(statement,)),)


DECK = "# Intro\n\n---\n\n## Many rows\n\n```sql exec rows=100\nSELECT v FROM t;\n```\n"

EXPLAIN_JSON = """\
# Intro

---

## EXPLAIN and JSON

```sql exec format=text
EXPLAIN SELECT * FROM generate_series(1, 10) g JOIN generate_series(1, 5) h ON g = h
  JOIN generate_series(1, 3) k ON k = h;
```

```sql exec format=json
SELECT g AS id, 'user ' || g AS name, now()::date AS day FROM generate_series(1, 3) g;
```
"""


def test_a_slide_with_too_many_rows_is_flagged_with_its_line_and_scale():
    deck = parse_deck(DECK, "slides/d.md")
    [problem] = fit_problems(deck, outcome_with_rows(30))
    assert str(problem).startswith("slides/d.md:5: slide 2 will be presented at about 0.")
    assert "too small to read below 0.7; show fewer rows (rows=) or columns, split the " in str(
        problem
    )
    assert str(problem).endswith("or unfold it in steps")


def test_a_slide_that_fits_is_not_flagged():
    deck = parse_deck(DECK, "slides/d.md")
    assert [str(p) for p in fit_problems(deck, outcome_with_rows(8))] == []


def test_a_too_wide_result_is_flagged():
    deck = parse_deck(DECK, "slides/d.md")
    wide = StatementOutcome(
        sql="SELECT",
        line=8,
        status="SELECT 1",
        columns=tuple(Column(f"long_column_name_{i}", 25, numeric=False) for i in range(12)),
        rows=(tuple("a value" for _ in range(12)),),
        row_count=1,
    )
    outcomes = (BlockOutcome(index=0, line=7, session="main", statements=(wide,)),)
    extent = slide_extent(deck.slides[1], outcomes)
    assert extent.width > extent.height
    assert [p.line for p in fit_problems(deck, outcomes)] == [5]


def test_hidden_blocks_take_no_room():
    deck = parse_deck(DECK.replace("rows=100", "rows=100 show=none"), "slides/d.md")
    assert [str(p) for p in fit_problems(deck, outcome_with_rows(200))] == []


def test_steps_statements_needs_only_one_step_to_fit():
    deck = parse_deck(DECK.replace("rows=100", "rows=100 steps=statements"), "slides/d.md")
    one = outcome_with_rows(8)[0]
    many = (BlockOutcome(index=0, line=7, session="main", statements=one.statements * 6),)
    assert fit_problems(deck, many) == []
    plain = parse_deck(DECK, "slides/d.md")
    assert [p.line for p in fit_problems(plain, many)] == [5]


def test_the_explain_and_json_slide_warns_and_strict_fails(tmp_path: Path, pg_server: Server):
    make_site(tmp_path, {"deck.md": EXPLAIN_JSON}, database_url=database_url(pg_server))
    completed = mkdocs_build(tmp_path)
    assert completed.returncode == 1, completed.stderr
    assert "slides/deck.md:5: slide 2 will be presented at about 0." in completed.stderr


def test_a_deck_that_fits_builds_strict(tmp_path: Path, pg_server: Server):
    text = EXPLAIN_JSON.split("```sql exec format=json", maxsplit=1)[0]
    make_site(tmp_path, {"deck.md": text}, database_url=database_url(pg_server))
    completed = mkdocs_build(tmp_path)
    assert completed.returncode == 0, completed.stderr
    assert "will be presented" not in completed.stderr


COLUMNS_DECK = """\
## Two sessions

<!-- columns -->

```sql exec session=alice
SELECT 1;
```

```sql exec session=bob expect=40001
UPDATE t SET v = 1;
```
"""


def test_an_error_in_a_columns_grid_wraps_at_its_column_instead_of_widening_the_slide():
    deck = parse_deck(COLUMNS_DECK, "slides/d.md")
    error = SqlError(
        sqlstate="40001",
        severity="ERROR",
        message="could not serialize access due to read/write dependencies among transactions",
        detail="Reason code: Canceled on identification as a pivot, during write.",
        hint="The transaction might succeed if retried.",
    )
    failed = StatementOutcome(sql="UPDATE t SET v = 1;", line=10, status="", error=error)
    outcomes = (
        outcome_with_rows(1)[0],
        BlockOutcome(index=1, line=9, session="bob", statements=(failed,)),
    )
    in_grid = slide_extent(deck.slides[0], outcomes)
    stacked = slide_extent(
        parse_deck(COLUMNS_DECK.replace("<!-- columns -->", ""), "d.md").slides[0], outcomes
    )
    assert stacked.width > 1136 / 2  # unwrapped, the error's longest line is wider than a column
    assert in_grid.width < 1136
    assert in_grid.height > stacked.height - 1  # wrapped lines take room below instead
