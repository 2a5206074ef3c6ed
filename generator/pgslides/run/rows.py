"""One statement sent exactly as written, its result read in pieces: the first rows kept as
PostgreSQL text, the rest counted and dropped, so a query of millions of rows costs no memory.

The server sees the author's text and nothing else (no cursor, no transaction around it), as
from psql: current_query(), pg_stat_activity and an error's position all show that text.
libpq's chunked (or single-row) mode gives the bounded memory that a cursor gave before;
the price is that every row crosses the wire, as it does for psql.
"""

from __future__ import annotations

import codecs
import ctypes
import functools
from dataclasses import dataclass, field
from typing import Any

import psycopg2
import psycopg2.extensions

from pgslides.outcome import Column, Notice, SqlError
from pgslides.run import libpq
from pgslides.run.copyout import LineCapture

# psql right-aligns exactly these types (print.c, column_type_alignment).
NUMERIC_OIDS = frozenset({20, 21, 23, 26, 28, 29, 700, 701, 790, 1700, 5069})

# Characters of one value kept for a slide; a longer value is cut with a note. Messages
# (an error's or a notice's text, DETAIL, HINT, CONTEXT, QUERY) are cut alike.
MAX_VALUE_CHARS = 2000

# Notices of one statement kept for a slide: the first ones, as rows are; the rest are only
# counted, so a loop that raises a million of them costs no memory.
MAX_NOTICES = 100

# Rows per piece libpq hands over: few calls per row, and little memory even for wide rows.
CHUNK_ROWS = 256

# The fields of a notice that can be long: its message, DETAIL, HINT, CONTEXT and QUERY.
_CUT_FIELDS = (
    libpq.MESSAGE_PRIMARY,
    libpq.MESSAGE_DETAIL,
    libpq.MESSAGE_HINT,
    libpq.CONTEXT,
    libpq.INTERNAL_QUERY,
)

_COPY_REFUSED = b"a live block has no data to send to COPY FROM STDIN"


@dataclass
class Streamed:
    """What the server answered to one statement, as plain data."""

    status: str | None = None  # the command tag
    columns: tuple[Column, ...] | None = None
    rows: list[tuple[str | None, ...]] = field(default_factory=list)
    row_count: int = 0
    error: SqlError | None = None
    notices: list[Notice] = field(default_factory=list)
    more_notices: int = 0  # notices past MAX_NOTICES, counted and dropped
    copy: LineCapture | None = None  # the lines of a COPY ... TO STDOUT


# A picture's one value (a JSON plan, a schema): read whole, since a cut one cannot be drawn.
# A 40-node EXPLAIN (ANALYZE, VERBOSE, BUFFERS) is about 60 kB; past this it is cut all the same.
PICTURE_VALUE_CHARS = 2_000_000


def cut_value(value: str | None, limit: int = MAX_VALUE_CHARS) -> str | None:
    """A value as long as a slide can show: longer ones are cut, with how much is left out.

    Done here, not when rendering, so the outcome (and the cache file) never holds 50 MB."""
    return None if value is None else cut_text(value, limit)


def cut_text(value: str, limit: int = MAX_VALUE_CHARS) -> str:
    if len(value) <= limit:
        return value
    return f"{value[:limit]}… ({len(value) - limit} more characters)"


def notice_from_text(raw: str) -> Notice:
    """A notice as libpq formats it ("WARNING:  message\\nDETAIL:  ...\\n")."""
    severity, _, message = raw.partition(":  ")
    return Notice(severity=severity.strip(), message=message.rstrip("\n"))


def run_streamed(conn: Any, text: str, keep: int, value_chars: int = MAX_VALUE_CHARS) -> Streamed:
    """Send `text` as one simple query on psycopg2's connection `conn` and read its answer.

    Costs one round trip. A lost connection raises psycopg2.OperationalError, as psycopg2
    would; the statement's own error is returned. conn.cancel() interrupts it (the server
    answers with its cancel error). Notices go to the result, not to conn.notices.
    """
    lib = libpq.library()
    pgconn = conn.pgconn_ptr
    codec = _codec(lib, pgconn)
    reader = _Reader(lib, pgconn, codec, keep, value_chars)

    def receive(_arg: Any, result: Any) -> None:
        reader.notice(result)

    receiver = libpq.NoticeReceiver(receive)
    previous = lib.PQsetNoticeReceiver(pgconn, ctypes.cast(receiver, ctypes.c_void_p), None)
    try:
        if not lib.PQsendQuery(pgconn, text.encode(codec)):
            raise psycopg2.OperationalError(_connection_error(lib, pgconn, codec))
        libpq.set_rows_mode(lib, pgconn, CHUNK_ROWS)
        # Every result is read, to the end: the connection is ready for the next statement.
        while result := lib.PQgetResult(pgconn):
            try:
                reader.take(result)
            finally:
                lib.PQclear(result)
    finally:
        # libpq's default receiver takes no argument: it hands notices to psycopg2's processor.
        lib.PQsetNoticeReceiver(pgconn, previous, None)
    if reader.lost is not None or lib.PQstatus(pgconn) != libpq.CONNECTION_OK:
        raise psycopg2.OperationalError(reader.lost or _connection_error(lib, pgconn, codec))
    return reader.answer()


class _Reader:
    """The results of one query as they arrive, piece by piece."""

    def __init__(self, lib: Any, pgconn: int, codec: str, keep: int, value_chars: int) -> None:
        self.lib, self.pgconn, self.codec, self.keep = lib, pgconn, codec, keep
        self.value_chars = value_chars
        self.out = Streamed()
        self.lost: str | None = None
        self._complete = False  # the last result ended; rows after it start another

    def take(self, result: int) -> None:
        lib = self.lib
        status = lib.PQresultStatus(result)
        if status in (libpq.TUPLES_CHUNK, libpq.SINGLE_TUPLE, libpq.TUPLES_OK):
            self._rows(result)
            if status == libpq.TUPLES_OK:
                self._end(result)
        elif status == libpq.COMMAND_OK:
            self._end(result)
            if self.out.copy is None:
                self.out.columns = None
        elif status == libpq.COPY_OUT:
            self._copy_out()
        elif status in (libpq.COPY_IN, libpq.COPY_BOTH):
            lib.PQputCopyEnd(self.pgconn, _COPY_REFUSED)  # the server then fails the COPY
        elif status in (libpq.FATAL_ERROR, libpq.NONFATAL_ERROR, libpq.BAD_RESPONSE):
            self._error(result)

    def notice(self, result: int) -> None:
        """A notice the server raised: kept while there are few, else only counted."""
        out = self.out
        if len(out.notices) >= MAX_NOTICES:
            out.more_notices += 1
            return
        text = (self.lib.PQresultErrorMessage(result) or b"").decode(self.codec, "replace")
        # libpq's text holds each field as sent: a long one is cut where it stands, so the
        # layout (DETAIL:, HINT:, CONTEXT: lines) stays libpq's.
        for code in _CUT_FIELDS:
            value = self._field(result, code)
            if value is not None and len(value) > MAX_VALUE_CHARS:
                text = text.replace(value, cut_text(value), 1)
        out.notices.append(notice_from_text(text))

    def _field(self, result: int, code: int) -> str | None:
        value = self.lib.PQresultErrorField(result, code)
        return None if value is None else value.decode(self.codec, "replace")

    def answer(self) -> Streamed:
        out = self.out
        if out.error is not None:
            # psql shows a failed query's error and none of the rows that came before it.
            out.columns, out.rows, out.row_count, out.status, out.copy = None, [], 0, None, None
        return out

    def _rows(self, result: int) -> None:
        lib, out = self.lib, self.out
        if self._complete or out.columns is None:
            self._complete = False
            out.rows, out.row_count, out.copy, out.status = [], 0, None, None
            names = [lib.PQfname(result, i) for i in range(lib.PQnfields(result))]
            out.columns = tuple(
                _column(name.decode(self.codec, "replace"), lib.PQftype(result, i))
                for i, name in enumerate(names)
            )
        count = lib.PQntuples(result)
        wanted = min(count, self.keep - len(out.rows))
        if wanted > 0:
            width = len(out.columns)
            out.rows.extend(
                tuple(self._value(result, row, col) for col in range(width))
                for row in range(wanted)
            )
        out.row_count += count
        self._tag(result)

    def _value(self, result: int, row: int, col: int) -> str | None:
        lib = self.lib
        if lib.PQgetisnull(result, row, col):
            return None
        raw = ctypes.string_at(lib.PQgetvalue(result, row, col), lib.PQgetlength(result, row, col))
        return cut_value(raw.decode(self.codec, "replace"), self.value_chars)

    def _tag(self, result: int) -> None:
        # libpq 17's chunked mode hands the command tag over with the last chunk, and an
        # empty tag with the empty result that ends the set.
        tag = self.lib.PQcmdStatus(result)
        if tag:
            self.out.status = tag.decode(self.codec, "replace")

    def _end(self, result: int) -> None:
        self._complete = True
        self._tag(result)
        if self.out.copy is not None and self.out.status and self.out.status.startswith("COPY"):
            # The server's count of rows: a CSV header or a quoted newline is a line, not a row.
            self.out.row_count = int(self.out.status.split()[-1])

    def _copy_out(self) -> None:
        lib = self.lib
        capture = LineCapture(keep=self.keep)
        buffer = ctypes.c_void_p()
        while (size := lib.PQgetCopyData(self.pgconn, ctypes.byref(buffer), 0)) > 0:
            try:
                capture.write(ctypes.string_at(buffer, size).decode(self.codec, "replace"))
            finally:
                lib.PQfreemem(buffer)
        # size -1: the copy is done; -2: it failed, and the next result says why.
        self.out.columns, self.out.copy = None, capture

    def _error(self, result: int) -> None:
        field_ = functools.partial(self._field, result)
        sqlstate = field_(libpq.SQLSTATE)
        if sqlstate is None:
            # libpq's own error (the connection is gone): not the statement's.
            message = self.lib.PQresultErrorMessage(result) or b""
            self.lost = message.decode(self.codec, "replace").strip() or "connection lost"
            return
        if self.out.error is not None:
            return  # the first error is the statement's; psql stops there too
        internal_query = field_(libpq.INTERNAL_QUERY)
        internal_position = _int_or_none(field_(libpq.INTERNAL_POSITION))
        if internal_position is not None and internal_position > MAX_VALUE_CHARS:
            # Past the part of the query that is kept: no LINE excerpt can point there.
            internal_position = None
        self.out.error = SqlError(
            sqlstate=sqlstate,
            severity=field_(libpq.SEVERITY_NONLOCALIZED) or field_(libpq.SEVERITY) or "ERROR",
            message=cut_value(field_(libpq.MESSAGE_PRIMARY)) or "",
            detail=cut_value(field_(libpq.MESSAGE_DETAIL)),
            hint=cut_value(field_(libpq.MESSAGE_HINT)),
            context=cut_value(field_(libpq.CONTEXT)),
            position=_int_or_none(field_(libpq.STATEMENT_POSITION)),
            internal_query=cut_value(internal_query),
            internal_position=internal_position,
        )


def _column(name: str, type_oid: int) -> Column:
    return Column(name=name, type_oid=type_oid, numeric=type_oid in NUMERIC_OIDS)


def _codec(lib: Any, pgconn: int) -> str:
    """The Python codec of the session's client_encoding now (a deck may SET it)."""
    name = (lib.PQparameterStatus(pgconn, b"client_encoding") or b"UTF8").decode("ascii")
    codec = psycopg2.extensions.encodings.get(name.upper().replace("-", "").replace("_", ""))
    try:
        return codecs.lookup(codec or name).name
    except LookupError:
        return "utf-8"


def _connection_error(lib: Any, pgconn: int, codec: str) -> str:
    message = lib.PQerrorMessage(pgconn) or b""
    return message.decode(codec, "replace").strip() or "connection lost"


def _int_or_none(value: str | None) -> int | None:
    return int(value) if value else None
