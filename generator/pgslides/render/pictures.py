"""Which picture a block's outcome is drawn as (a plan, a chart, a schema), and why one cannot be.

The renderers (render/plan.py, chart.py, erd.py) draw; this decides what to give them, from
the block's options and the statement's outcome, and turns what they refuse into one
PictureError whose message a slide and the build log both show.
"""

from __future__ import annotations

import json

from markupsafe import Markup

from pgslides.errors import Problem
from pgslides.outcome import DeckOutcome, StatementOutcome
from pgslides.parse.blocks import BlockOptions
from pgslides.parse.deck import Deck
from pgslides.render.chart import ChartError, render_chart
from pgslides.render.erd import render_erd
from pgslides.render.plan import PlanError, render_plan

# What EXPLAIN (FORMAT JSON) answers: one row, one json column of this name.
PLAN_COLUMN = "QUERY PLAN"
JSON_OID = 114


class PictureError(ValueError):
    """A picture that cannot be drawn from this outcome; the message says why and what to do."""


def plan_value(statement: StatementOutcome) -> str | None:
    """The JSON text an EXPLAIN (FORMAT JSON) statement answered, or None for any other."""
    columns = statement.columns
    if statement.error is not None or columns is None or len(columns) != 1:
        return None
    if columns[0].name != PLAN_COLUMN or columns[0].type_oid != JSON_OID:
        return None
    return statement.rows[0][0] if len(statement.rows) == 1 else None


def statement_picture(statement: StatementOutcome, options: BlockOptions) -> Markup | None:
    """The picture a statement's rows are drawn as, or None: format=plan draws an EXPLAIN's
    plan (other statements of the block show as usual), chart= draws any rows."""
    if statement.error is not None or not statement.ran or statement.columns is None:
        return None
    if options.format == "plan":
        value = plan_value(statement)
        if value is None:
            return None
        try:
            return render_plan(value)
        except PlanError as error:
            raise PictureError(f"cannot draw the plan: {error}") from None
    if options.chart and options.x is not None and options.y is not None:
        try:
            return render_chart(
                options.chart,
                statement.columns,
                statement.rows,
                options.x,
                options.y,
                statement.row_count,
            )
        except ChartError as error:
            raise PictureError(f"cannot draw the chart: {error}") from None
    return None


def schema_picture(statement: StatementOutcome) -> Markup | None:
    """An erd block's diagram from its catalog query's answer; None when that failed."""
    if statement.error is not None or not statement.rows:
        return None
    value = statement.rows[0][0]
    try:
        schema = json.loads(value or "")
    except ValueError:
        raise PictureError("cannot draw the schema: the catalog query's answer was cut") from None
    if not schema["tables"]:
        raise PictureError("no tables to draw: the schema has none yet at this point of the deck")
    return render_erd(schema)


def picture_problems(deck: Deck, outcome: DeckOutcome) -> list[Problem]:
    """A Problem at the block's line for each picture that cannot be drawn."""
    problems = []
    for block in deck.blocks:
        statements = outcome.blocks[block.index].statements
        try:
            for statement in statements:
                if block.language == "erd":
                    schema_picture(statement)
                elif block.language == "sql":
                    statement_picture(statement, block.options)
        except PictureError as error:
            problems.append(Problem(str(error), deck.path, block.line))
    return problems
