"""Where today's outcomes differ from the stored ones, and results whose row order is luck."""

from __future__ import annotations

import re

from pgslides.outcome import BlockOutcome, DeckOutcome, PythonOutcome, StatementOutcome
from pgslides.parse.deck import Deck
from pgslides.render.pictures import plan_value
from pgslides.render.plan import PlanError, plan_shape

_ORDER_BY = re.compile(r"\border\s+by\b", re.IGNORECASE)


def outcome_drift(deck: Deck, stored: DeckOutcome, fresh: DeckOutcome) -> list[str]:
    """`file:line: …` for each statement whose output is not what the cache holds."""
    problems = []
    for old_block, new_block in zip(stored.blocks, fresh.blocks, strict=True):
        plan = deck.blocks[new_block.index].options.format == "plan"
        for old, new in zip(old_block.statements, new_block.statements, strict=False):
            difference = statement_difference(old, new, plan=plan)
            if difference:
                problems.append(
                    f"{deck.path}:{new.line}: output differs from the cache: {difference}"
                )
        if old_block.waiting_for != new_block.waiting_for:
            problems.append(
                f"{deck.path}:{new_block.line}: it waited for {old_block.waiting_for} before, "
                f"now for {new_block.waiting_for}"
            )
        if _late_output(old_block) != _late_output(new_block):
            problems.append(
                f"{deck.path}:{new_block.line}: what other sessions finished during it differs"
            )
        if len(old_block.statements) != len(new_block.statements):
            problems.append(
                f"{deck.path}:{new_block.line}: the block ran a different number of statements"
            )
        if old_block.python is not None or new_block.python is not None:
            difference = python_difference(old_block.python, new_block.python)
            if difference:
                problems.append(
                    f"{deck.path}:{new_block.line}: output differs from the cache: {difference}"
                )
    return problems


def python_difference(old: PythonOutcome | None, new: PythonOutcome | None) -> str | None:
    """What changed between two outcomes of one Python block, in a few words; None if nothing.

    The traceback's text is left out: its line numbers move with the prose, its frames with
    the code, and the exception's class and message already say what matters."""
    old, new = old or PythonOutcome(), new or PythonOutcome()
    old_error = _python_error(old)
    new_error = _python_error(new)
    checks = (
        (old_error != new_error, f"was {old_error!r}, now {new_error!r}"),
        (old.output != new.output, "what it printed changed"),
        ((old.value, old.value_table) != (new.value, new.value_table), "its value changed"),
        (old.shown != new.shown, "the tables it showed changed"),
        (
            len(old.sql) != len(new.sql),
            f"it sent {len(old.sql)} statements before, {len(new.sql)} now",
        ),
        (old.sql != new.sql, "the SQL it sent changed"),
    )
    return next((message for differs, message in checks if differs), None)


def _python_error(outcome: PythonOutcome) -> str:
    if outcome.stopped is not None:
        return outcome.stopped
    error = outcome.error
    if error is None:
        return "no exception"
    said = f"{error.exception}: {error.message}".splitlines()[0]
    return f"{said} ({error.sqlstate})" if error.sqlstate else said


def statement_difference(
    old: StatementOutcome, new: StatementOutcome, *, plan: bool = False
) -> str | None:
    """What changed between two outcomes of one statement, in a few words; None if nothing.

    A plan (format=plan) is compared by its shape: an EXPLAIN ANALYZE's timings, and the
    buffers and row counts they go with, change on every run."""
    old_error = old.error.summary() if old.error else "no error"
    new_error = new.error.summary() if new.error else "no error"
    checks = (
        (old_error != new_error, f"was {old_error!r}, now {new_error!r}"),
        (old.columns != new.columns, "the columns changed"),
        (old.row_count != new.row_count, f"{old.row_count} rows before, {new.row_count} now"),
        (_shown(old, plan) != _shown(new, plan), _rows_changed(old, plan)),
        (old.status != new.status, f"status was {old.status!r}, now {new.status!r}"),
        (
            (old.notices, old.more_notices) != (new.notices, new.more_notices),
            "the notices changed",
        ),
        (old.copy_output != new.copy_output, "the COPY output changed"),
    )
    return next((message for differs, message in checks if differs), None)


def _rows_changed(statement: StatementOutcome, plan: bool) -> str:
    drawn = plan and plan_value(statement) is not None
    return "the plan's shape changed" if drawn else "the rows shown changed"


def _shown(statement: StatementOutcome, plan: bool) -> object:
    """The rows, or for a drawn plan its shape (what stays put between two ANALYZE runs)."""
    value = plan_value(statement) if plan else None
    if value is None:
        return statement.rows
    try:
        return plan_shape(value)
    except PlanError:
        return statement.rows


def _late_output(block: BlockOutcome) -> list[tuple[str, list[tuple[object, ...]]]]:
    return [(late.session, [_comparable(s) for s in late.statements]) for late in block.late]


def _comparable(statement: StatementOutcome) -> tuple[object, ...]:
    """What of a statement's outcome is output (its line moves with prose)."""
    return (statement.status, statement.columns, statement.rows, statement.row_count,
            statement.error, statement.notices, statement.more_notices,
            statement.copy_output)  # fmt: skip


def unordered_results(deck: Deck, outcome: DeckOutcome) -> list[str]:
    """Queries that returned several rows without ORDER BY: their order may change any day."""
    return [
        f"{deck.path}:{statement.line}: {statement.row_count} rows from a query without "
        "ORDER BY: their order is not guaranteed; add ORDER BY"
        for block in outcome.blocks
        for statement in block.statements
        if statement.columns is not None
        and statement.row_count > 1
        and not _ORDER_BY.search(statement.sql)
    ]
