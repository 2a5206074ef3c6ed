"""Build-time warnings for slides too large to read when scaled to the stage."""

from __future__ import annotations

from pgslides.outcome import BlockOutcome, Column, StatementOutcome
from pgslides.parse.deck import parse_deck
from pgslides.render.fit import MAX_LINES, fit_problems


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


def test_a_slide_with_too_many_rows_is_flagged_with_its_line():
    deck = parse_deck(DECK, "slides/d.md")
    assert [str(p) for p in fit_problems(deck, outcome_with_rows(MAX_LINES))] == [
        "slides/d.md:5: slide 2 will not fit: about 45 lines (a slide holds 40); "
        "show fewer rows (rows=) or split the slide"
    ]


def test_a_slide_that_fits_is_not_flagged():
    deck = parse_deck(DECK, "slides/d.md")
    assert [str(p) for p in fit_problems(deck, outcome_with_rows(10))] == []


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
    assert [str(p) for p in fit_problems(deck, outcomes)] == [
        "slides/d.md:5: slide 2 will not fit: a line of about 254 characters (a slide holds 150); "
        "select fewer columns or use format=expanded"
    ]


def test_hidden_blocks_take_no_room():
    deck = parse_deck(DECK.replace("rows=100", "rows=100 show=none"), "slides/d.md")
    assert [str(p) for p in fit_problems(deck, outcome_with_rows(200))] == []
