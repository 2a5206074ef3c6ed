"""Run statements on a session → outcomes: rows as PostgreSQL text, tags, notices, errors."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

import psycopg2
import psycopg2.extensions

from pgslides.errors import DeckError
from pgslides.outcome import StatementOutcome
from pgslides.parse.deck import Block
from pgslides.run.copyout import FROM_STDIN_PROBLEM, is_copy_from_stdin
from pgslides.run.database import Session
from pgslides.run.explain import as_json_explain
from pgslides.run.rows import (
    MAX_VALUE_CHARS,
    NUMERIC_OIDS,
    PICTURE_VALUE_CHARS,
    cut_value,
    run_streamed,
)
from pgslides.run.statements import (
    MetaCommandError,
    Statement,
    iter_statements,
    split_statements,
)
from pgslides.run.watchdog import WATCHDOG_GRACE_S, StatementStoppedError

# Statements after which the session's statement_timeout may no longer be what pgslides set.
_CHANGES_SETTINGS = re.compile(
    r"\bstatement_timeout\b|^\s*(?:reset|discard)\s+all\b", re.IGNORECASE | re.MULTILINE
)

_SETS_STRINGS = re.compile(r"standard_conforming_strings", re.IGNORECASE)

# psql's prompt shows these as =>, =*> and =!>.
_TRANSACTION_STATES = {
    psycopg2.extensions.TRANSACTION_STATUS_IDLE: "idle",
    psycopg2.extensions.TRANSACTION_STATUS_INTRANS: "open",
    psycopg2.extensions.TRANSACTION_STATUS_INERROR: "failed",
}


class ExecutionError(DeckError):
    """A deck could not run to its end (connection lost, bad setup file), at a file and line."""


class ConnectionLostError(ExecutionError):
    """The server went away mid-deck: worth trying again, unlike a bad setup file."""

    @classmethod
    def at(cls, path: str, line: int, error: Exception, fallback: str) -> ConnectionLostError:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else fallback
        return cls(path, line, f"lost the connection to the server: {reason}")


@dataclass(frozen=True)
class RunLimits:
    max_rows: int = 20
    statement_timeout_ms: int = 10_000


def run_block_statements(
    session: Session,
    block: Block,
    *,
    path: str,
    limits: RunLimits,
    done: list[StatementOutcome],
) -> str | None:
    """Run a block's statements in order on its session, appending each outcome to `done` as
    it finishes (another thread watches it); after an error the rest are marked not run.

    The block is split as it runs, each line lexed with the session's setting of the moment,
    as psql does. Returns the block's problem when a statement's SET
    standard_conforming_strings turns what follows into a psql meta-command, else None."""
    options = block.options
    max_rows = options.rows if options.rows is not None else limits.max_rows
    timeout_ms = options.timeout_ms  # None: the deck's statement_timeout, or its own SET
    plan = options.format == "plan"
    failed = False
    try:
        for statement in iter_statements(block.sql, lambda: session.standard_strings):
            line = block.sql_line + statement.line
            if failed:
                done.append(StatementOutcome(sql=statement.text, line=line, ran=False))
                continue
            text = (as_json_explain(statement.text) if plan else None) or statement.text
            outcome = run_or_explain(
                session,
                text,
                path,
                line,
                max_rows=max_rows,
                limits=limits,
                timeout_ms=timeout_ms,
                value_chars=PICTURE_VALUE_CHARS if text is not statement.text else MAX_VALUE_CHARS,
            )
            if outcome.error is not None and options.expect in ("error", outcome.error.sqlstate):
                outcome = replace(outcome, expected=True)  # decided here, once, for the page
            done.append(outcome)
            failed = outcome.error is not None
    except MetaCommandError as error:
        return str(error)
    return None


def run_or_explain(
    session: Session,
    text: str,
    path: str,
    line: int,
    *,
    max_rows: int,
    limits: RunLimits,
    timeout_ms: int | None,
    value_chars: int = MAX_VALUE_CHARS,
) -> StatementOutcome:
    """run_statement, with a lost connection or a statement that had to be stopped turned
    into an ExecutionError naming file:line."""
    try:
        return run_statement(
            session,
            text,
            line,
            max_rows=max_rows,
            limits=limits,
            timeout_ms=timeout_ms,
            value_chars=value_chars,
        )
    except psycopg2.Error as error:
        raise ConnectionLostError.at(path, line, error, type(error).__name__) from None
    except StatementStoppedError as stopped:
        # Terminated, it would be again: the deck's own doing. Given up: the server's.
        kind = ConnectionLostError if stopped.gave_up else ExecutionError
        raise kind(path, line, stopped.message) from None


def expectation_problem(expect: str, results: list[StatementOutcome]) -> str | None:
    """Why a block's end differs from its `expect` option, or None when it matches."""
    error = next((result.error for result in results if result.error is not None), None)
    if expect == "ok":
        return None if error is None else error.summary()
    if error is None:
        wanted = "an error" if expect == "error" else f"error {expect}"
        return f"expected {wanted}, but the block ran without error"
    if expect not in ("error", error.sqlstate):
        return f"expected error {expect}, got {error.summary()}"
    return None


def run_statement(
    session: Session,
    text: str,
    line: int,
    *,
    max_rows: int,
    limits: RunLimits,
    timeout_ms: int | None = None,
    value_chars: int = MAX_VALUE_CHARS,
) -> StatementOutcome:
    """Run one statement in autocommit, sent exactly as written, and keep what psql would
    show of it: the first `max_rows` rows, the count of all of them, the tag, notices.

    A watchdog sees that it ends (run.watchdog): StatementStoppedError when it had to be
    terminated or its connection given up."""
    conn = session.conn
    transaction = _TRANSACTION_STATES.get(conn.info.transaction_status, "idle")
    limit_s = (timeout_ms or limits.statement_timeout_ms) / 1000
    with session.running.watch_statement(conn, limit_s):
        _set_statement_timeout(session, timeout_ms, limits.statement_timeout_ms)
        answer = run_streamed(conn, text, keep=max_rows, value_chars=value_chars)
    if _CHANGES_SETTINGS.search(text):
        # SET, RESET ALL or DISCARD ALL may have changed statement_timeout behind our back.
        session.statement_timeout_ms = None
    session.note_settings()
    copy = answer.copy
    return StatementOutcome(
        sql=text,
        line=line,
        status=answer.status,
        columns=answer.columns,
        rows=tuple(answer.rows),
        row_count=answer.row_count,
        notices=tuple(answer.notices),
        more_notices=answer.more_notices,
        error=answer.error,
        transaction=transaction,
        copy_output=None if copy is None else cut_value(copy.text()),
        copy_more_lines=0 if copy is None else copy.count - len(copy.lines),
    )


def block_refusal(sql: str, standard_strings: bool) -> str | None:
    """Why a block cannot run at all, decided before any of it runs (a psql meta-command,
    COPY FROM STDIN), or None.

    A block that sets standard_conforming_strings itself can only be split as it runs
    (run_block_statements does), so a meta-command found here does not refuse it."""
    try:
        statements = split_statements(sql, standard_strings)
    except MetaCommandError as error:
        if _SETS_STRINGS.search(sql) is None:
            return str(error)
        statements = []
    return next(filter(None, (unsupported_statement(s.text) for s in statements)), None)


def unsupported_statement(text: str) -> str | None:
    """Why a statement cannot run in a live block at all, or None."""
    return FROM_STDIN_PROBLEM if is_copy_from_stdin(text) else None


def _set_statement_timeout(session: Session, timeout_ms: int | None, default_ms: int) -> None:
    """Give the statement its block's timeout, or put the deck's back after such a block.

    A deck's own SET statement_timeout is left alone (a slide may SHOW it); the watchdog
    still stops a statement that runs far past the limit. Only when the value changes, and
    only outside the deck's transactions: there a SET would be undone by its ROLLBACK, and a
    hidden statement would break a following SET TRANSACTION."""
    if timeout_ms is None:
        if session.statement_timeout_ms is None:
            return  # the deck set it itself, or RESET it to the deck's default
        timeout_ms = default_ms
    if session.statement_timeout_ms == timeout_ms:
        return
    conn = session.conn
    if conn.info.transaction_status != psycopg2.extensions.TRANSACTION_STATUS_IDLE:
        return
    with conn.cursor() as cursor:
        cursor.execute("SELECT set_config('statement_timeout', %s, false)", (f"{timeout_ms}ms",))
    session.statement_timeout_ms = timeout_ms


__all__ = [
    "MAX_VALUE_CHARS",
    "NUMERIC_OIDS",
    "WATCHDOG_GRACE_S",
    "ExecutionError",
    "RunLimits",
    "Statement",
    "block_refusal",
    "cut_value",
    "expectation_problem",
    "run_block_statements",
    "run_statement",
]
