"""Run statements on a session → outcomes: rows as PostgreSQL text, tags, notices, errors."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, replace
from typing import Any

import psycopg2
import psycopg2.extensions

from pgslides.outcome import Column, Notice, SqlError, StatementOutcome
from pgslides.parse.deck import Block
from pgslides.run.copyout import (
    FROM_STDIN_PROBLEM,
    LineCapture,
    is_copy_from_stdin,
    is_copy_to_stdout,
)
from pgslides.run.database import Session
from pgslides.run.statements import MetaCommandError, Statement, split_statements

# psql right-aligns exactly these types (print.c, column_type_alignment).
NUMERIC_OIDS = frozenset({20, 21, 23, 26, 28, 29, 700, 701, 790, 1700, 5069})

# How long past a statement's own timeout the client waits before cancelling it itself:
# the server's statement_timeout should fire first and give its own message; this catches a
# deck that turned the server's timeout off (SET statement_timeout = 0).
WATCHDOG_GRACE_S = 1.0

# Characters of one value kept for a slide; a longer value is cut with a note.
MAX_VALUE_CHARS = 2000

# Statements after which the session's statement_timeout may no longer be what pgslides set.
_CHANGES_SETTINGS = re.compile(
    r"\bstatement_timeout\b|^\s*(?:reset|discard)\s+all\b", re.IGNORECASE | re.MULTILINE
)

# psql's prompt shows these as =>, =*> and =!>.
_TRANSACTION_STATES = {
    psycopg2.extensions.TRANSACTION_STATUS_IDLE: "idle",
    psycopg2.extensions.TRANSACTION_STATUS_INTRANS: "open",
    psycopg2.extensions.TRANSACTION_STATUS_INERROR: "failed",
}

# Statements that may return many rows and can be read through a cursor.
_QUERY_WORDS = frozenset({"SELECT", "VALUES", "TABLE", "WITH"})
_FIRST_WORD = re.compile(r"^(?:\s|--[^\n]*\n|/\*.*?\*/|\()*([A-Za-z]+)", re.DOTALL)
_CURSOR = "pgslides_rows"
# Errors that mean "this statement cannot be a cursor" rather than "this statement fails":
# syntax or semantics of DECLARE (class 42) and unsupported features (0A).
_NOT_A_CURSOR_CLASSES = frozenset({"42", "0A"})


class ExecutionError(Exception):
    """A deck could not run to its end (connection lost, bad setup file): `file:line: message`."""


@dataclass(frozen=True)
class RunLimits:
    max_rows: int = 20
    statement_timeout_ms: int = 10_000


@dataclass(frozen=True)
class SetupFile:
    path: str  # as messages show it
    sql: str


def run_setup(
    setup_file: SetupFile, session: Session, limits: RunLimits, done: list[StatementOutcome]
) -> None:
    """Run a setup file's statements, hidden, appending each outcome to `done`; the first
    error stops the deck with file:line."""
    try:
        statements = split_statements(setup_file.sql)
    except MetaCommandError as error:
        raise ExecutionError(f"{setup_file.path}:{error.line + 1}: {error}") from None
    for statement in statements:
        line = statement.line + 1
        outcome = _run_or_explain(
            session,
            statement.text,
            setup_file.path,
            line,
            max_rows=0,
            limits=limits,
            timeout_ms=None,
        )
        done.append(outcome)
        if outcome.error is not None:
            raise ExecutionError(f"{setup_file.path}:{outcome.line}: {outcome.error.summary()}")


def run_block_statements(
    session: Session,
    block: Block,
    statements: list[Statement],
    *,
    path: str,
    limits: RunLimits,
    done: list[StatementOutcome],
) -> None:
    """Run a block's statements in order on its session, appending each outcome to `done` as
    it finishes (another thread watches it); after an error the rest are marked not run."""
    options = block.options
    max_rows = options.rows if options.rows is not None else limits.max_rows
    timeout_ms = options.timeout_ms  # None: the deck's statement_timeout, or its own SET
    failed = False
    for statement in statements:
        line = block.sql_line + statement.line
        if failed:
            done.append(StatementOutcome(sql=statement.text, line=line, ran=False))
            continue
        outcome = _run_or_explain(
            session,
            statement.text,
            path,
            line,
            max_rows=max_rows,
            limits=limits,
            timeout_ms=timeout_ms,
        )
        done.append(outcome)
        failed = outcome.error is not None


def _run_or_explain(
    session: Session,
    text: str,
    path: str,
    line: int,
    *,
    max_rows: int,
    limits: RunLimits,
    timeout_ms: int | None,
) -> StatementOutcome:
    """run_statement, with a lost connection turned into an ExecutionError naming file:line."""
    try:
        return run_statement(
            session, text, line, max_rows=max_rows, limits=limits, timeout_ms=timeout_ms
        )
    except psycopg2.Error as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        message = f"lost the connection to the server: {reason}"
        raise ExecutionError(f"{path}:{line}: {message}") from None


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
) -> StatementOutcome:
    """Run one statement in autocommit and keep what psql would show of it."""
    conn = session.conn
    transaction = _TRANSACTION_STATES.get(conn.info.transaction_status, "idle")
    _set_statement_timeout(session, timeout_ms, limits.statement_timeout_ms)
    conn.notices.clear()
    limit_s = (timeout_ms or limits.statement_timeout_ms) / 1000
    watchdog = threading.Timer(limit_s + WATCHDOG_GRACE_S, conn.cancel)
    watchdog.daemon = True
    try:
        watchdog.start()
        outcome = None
        if max_rows and _may_be_cursor(text, conn):
            outcome = _run_through_cursor(conn, text, line, max_rows)
        if outcome is None:
            outcome = _run_plain(conn, text, line, max_rows)
        if _CHANGES_SETTINGS.search(text):
            # SET, RESET ALL or DISCARD ALL may have changed statement_timeout behind our back.
            session.statement_timeout_ms = None
        return replace(outcome, transaction=transaction)
    finally:
        watchdog.cancel()


def _run_plain(conn: Any, text: str, line: int, max_rows: int) -> StatementOutcome:
    if is_copy_to_stdout(text):
        return _run_copy_out(conn, text, line, max_rows)
    with conn.cursor() as cursor:
        try:
            cursor.execute(text)
        except psycopg2.Error as error:
            return _failed(conn, text, line, error)
        return _result(cursor, text, line, max_rows, _notices(conn))


def _failed(conn: Any, text: str, line: int, error: psycopg2.Error) -> StatementOutcome:
    """The statement's error as its outcome; an error without a SQLSTATE (the connection is
    gone) is not the statement's, and goes up."""
    if error.pgcode is None:
        raise error
    return StatementOutcome(sql=text, line=line, error=sql_error(error), notices=_notices(conn))


def _run_copy_out(conn: Any, text: str, line: int, max_rows: int) -> StatementOutcome:
    capture = LineCapture(keep=max_rows)
    with conn.cursor() as cursor:
        try:
            cursor.copy_expert(text, capture)
        except psycopg2.Error as error:
            return _failed(conn, text, line, error)
        # The server's count of rows: a CSV header or a quoted newline is a line, not a row.
        rows = cursor.rowcount if cursor.rowcount >= 0 else capture.count
    return StatementOutcome(
        sql=text,
        line=line,
        status=f"COPY {rows}",
        copy_output=cut_value(capture.text()),
        copy_more_lines=capture.count - len(capture.lines),
        row_count=rows,
        notices=_notices(conn),
    )


def unsupported_statement(text: str) -> str | None:
    """Why a statement cannot run in a live block at all, or None."""
    return FROM_STDIN_PROBLEM if is_copy_from_stdin(text) else None


def cut_value(value: str | None) -> str | None:
    """A value as long as a slide can show: longer ones are cut, with how much is left out.

    Done here, not when rendering, so the outcome (and the cache file) never holds 50 MB."""
    if value is None or len(value) <= MAX_VALUE_CHARS:
        return value
    return f"{value[:MAX_VALUE_CHARS]}… ({len(value) - MAX_VALUE_CHARS} more characters)"


def _kept_rows(rows: list[tuple[Any, ...]]) -> tuple[tuple[str | None, ...], ...]:
    return tuple(tuple(cut_value(value) for value in row) for row in rows)


def _may_be_cursor(text: str, conn: Any) -> bool:
    """A query that could return many rows, on a session outside any transaction of its own."""
    idle = conn.info.transaction_status == psycopg2.extensions.TRANSACTION_STATUS_IDLE
    match = _FIRST_WORD.match(text)
    return idle and match is not None and match[1].upper() in _QUERY_WORDS


def _run_through_cursor(conn: Any, text: str, line: int, max_rows: int) -> StatementOutcome | None:
    """Fetch only the rows the slide shows and count the rest on the server (MOVE FORWARD ALL),
    so a query of millions of rows costs the build no memory.

    The cursor lives in a transaction of its own, as the statement would have in autocommit.
    None when the statement cannot be a cursor (e.g. SELECT INTO, a data-modifying WITH): the
    caller then runs it plainly, after the failed attempt was rolled back without a trace.
    """
    prefix = f"BEGIN;DECLARE {_CURSOR} NO SCROLL CURSOR FOR "
    query = f"{prefix}{text}\n;FETCH FORWARD {max_rows} FROM {_CURSOR}"
    with conn.cursor() as cursor:
        try:
            cursor.execute(query)
            columns = _columns(cursor)
            rows = _kept_rows(cursor.fetchall())
            total = len(rows)
            if total == max_rows:
                cursor.execute(f"MOVE FORWARD ALL FROM {_CURSOR}")
                total += cursor.rowcount
            cursor.execute(f"CLOSE {_CURSOR};COMMIT")
        except psycopg2.Error as error:
            if error.pgcode is None:
                raise
            cursor.execute("ROLLBACK")
            if error.pgcode[:2] in _NOT_A_CURSOR_CLASSES:
                conn.notices.clear()
                return None
            failure = sql_error(error, position_offset=len(prefix))
            return StatementOutcome(sql=text, line=line, error=failure, notices=_notices(conn))
    return StatementOutcome(
        sql=text,
        line=line,
        status=f"SELECT {total}",
        columns=columns,
        rows=rows,
        row_count=total,
        notices=_notices(conn),
    )


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


def _result(
    cursor: Any, text: str, line: int, max_rows: int, notices: tuple[Notice, ...]
) -> StatementOutcome:
    status = cursor.statusmessage
    if cursor.description is None:
        return StatementOutcome(sql=text, line=line, status=status, notices=notices)
    columns = _columns(cursor)
    rows = _kept_rows(cursor.fetchmany(max_rows)) if max_rows else ()
    return StatementOutcome(
        sql=text,
        line=line,
        status=status,
        columns=columns,
        rows=rows,
        row_count=max(cursor.rowcount, len(rows)),
        notices=notices,
    )


def _columns(cursor: Any) -> tuple[Column, ...]:
    return tuple(
        Column(name=item.name, type_oid=item.type_code, numeric=item.type_code in NUMERIC_OIDS)
        for item in cursor.description
    )


def sql_error(error: psycopg2.Error, position_offset: int = 0) -> SqlError:
    """All of an error's diagnostics, as plain data; positions count from the user's text."""
    diag = error.diag
    position = _int_or_none(diag.statement_position)
    if position is not None and position_offset:
        position = position - position_offset if position > position_offset else None
    return SqlError(
        sqlstate=error.pgcode,
        severity=diag.severity_nonlocalized or diag.severity or "ERROR",
        message=diag.message_primary or str(error).strip(),
        detail=diag.message_detail,
        hint=diag.message_hint,
        context=diag.context,
        position=position,
        internal_query=diag.internal_query,
        internal_position=_int_or_none(diag.internal_position),
    )


def _notices(conn: Any) -> tuple[Notice, ...]:
    found = []
    for raw in conn.notices:
        severity, _, message = raw.partition(":  ")
        found.append(Notice(severity=severity.strip(), message=message.rstrip("\n")))
    conn.notices.clear()
    return tuple(found)


def _int_or_none(value: str | None) -> int | None:
    return int(value) if value else None


__all__ = [
    "ExecutionError",
    "RunLimits",
    "SetupFile",
    "Statement",
    "expectation_problem",
    "run_block_statements",
    "run_setup",
    "run_statement",
]
