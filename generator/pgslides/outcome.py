"""What running a deck produced, as plain data that round-trips through JSON."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from pgslides.errors import Problem


@dataclass(frozen=True)
class Column:
    name: str
    type_oid: int
    numeric: bool  # right-aligned, as psql aligns numbers


@dataclass(frozen=True)
class Notice:
    severity: str  # NOTICE, WARNING, INFO, ...
    message: str  # as the server sent it, DETAIL/HINT lines included


@dataclass(frozen=True)
class SqlError:
    """An error with every diagnostic field the server sent."""

    sqlstate: str
    severity: str
    message: str
    detail: str | None = None
    hint: str | None = None
    context: str | None = None
    position: int | None = None  # 1-based, in characters of the statement
    internal_query: str | None = None
    internal_position: int | None = None

    def summary(self) -> str:
        """One line as a log shows it: `ERROR:  message (SQLSTATE)`, then DETAIL and HINT lines."""
        lines = [f"{self.severity}:  {self.message} ({self.sqlstate})"]
        if self.detail:
            lines.append(f"DETAIL:  {self.detail}")
        if self.hint:
            lines.append(f"HINT:  {self.hint}")
        return "\n".join(lines)


@dataclass(frozen=True)
class StatementOutcome:
    sql: str  # the statement as sent
    line: int  # 1-based file line where it starts
    status: str | None = None  # the command tag, e.g. INSERT 0 1
    columns: tuple[Column, ...] | None = None  # None: the statement returned no rows
    rows: tuple[tuple[str | None, ...], ...] = ()  # the rows kept for the slide, as text
    row_count: int = 0  # rows the statement returned in all
    notices: tuple[Notice, ...] = ()  # the first few (run/rows.py's MAX_NOTICES)
    more_notices: int = 0  # notices left out after those
    error: SqlError | None = None
    expected: bool = False  # its error is what the block's `expect` asks for (the slide's point)
    ran: bool = True  # False: skipped because an earlier statement of the block failed
    transaction: str = "idle"  # the session before it ran: idle, open or failed (psql's prompt)
    copy_output: str | None = None  # the lines COPY ... TO STDOUT wrote (the first few)
    copy_more_lines: int = 0  # lines of COPY output left out


@dataclass(frozen=True)
class LateOutcome:
    """Statements of a block that was left waiting, finished while a later block ran."""

    session: str
    block_index: int  # the block they belong to
    line: int  # that block's line
    statements: tuple[StatementOutcome, ...]


@dataclass(frozen=True)
class PythonTable:
    """Rows a Python block showed or returned, as a SQL result's table shows them."""

    columns: tuple[Column, ...]
    rows: tuple[tuple[str | None, ...], ...]
    row_count: int


@dataclass(frozen=True)
class PythonError:
    """An exception a Python block raised, its traceback trimmed to the deck's lines."""

    exception: str  # the class name, e.g. IntegrityError
    message: str
    traceback: str
    line: int  # the deck line of the Python line that raised it
    sqlstate: str | None = None  # from PostgreSQL, when the exception wraps its error
    detail: str | None = None
    hint: str | None = None
    expected: bool = False  # what the block's `expect` asks for


@dataclass(frozen=True)
class PythonOutcome:
    output: tuple[tuple[str, str], ...] = ()  # (stdout|stderr, text), in the order written
    shown: tuple[PythonTable, ...] = ()  # show(value) calls, in order
    value: str | None = None  # repr of the last bare expression
    value_table: PythonTable | None = None  # ... when it was a Result or rows
    sql: tuple[tuple[str, str | None], ...] = ()  # (statement, repr of its parameters)
    error: PythonError | None = None
    stopped: str | None = None  # why the worker was stopped or died during the block


@dataclass(frozen=True)
class BlockOutcome:
    index: int
    line: int
    session: str
    statements: tuple[StatementOutcome, ...]
    problem: str | None = None  # why the block did not end as its `expect` says
    waiting_for: tuple[str, ...] | None = None  # sessions its next statement waited for
    late: tuple[LateOutcome, ...] = ()  # other blocks' statements that finished during this one
    python: PythonOutcome | None = None  # a Python block's outcome

    @property
    def error(self) -> SqlError | None:
        return next((s.error for s in self.statements if s.error is not None), None)


@dataclass(frozen=True)
class DeckWarning:
    """Something worth fixing about a deck that is not an error, tied to one of its blocks."""

    block_index: int
    message: str


@dataclass(frozen=True)
class DeckOutcome:
    blocks: tuple[BlockOutcome, ...]
    server_version: str | None = None
    warnings: tuple[DeckWarning, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DeckOutcome:
        return cls(
            blocks=tuple(_block_from_dict(block) for block in data["blocks"]),
            server_version=data.get("server_version"),
            warnings=tuple(DeckWarning(**item) for item in data.get("warnings", ())),
        )


def _block_from_dict(data: dict[str, Any]) -> BlockOutcome:
    return BlockOutcome(
        index=data["index"],
        line=data["line"],
        session=data["session"],
        statements=tuple(_statement_from_dict(item) for item in data["statements"]),
        problem=data.get("problem"),
        waiting_for=None if data.get("waiting_for") is None else tuple(data["waiting_for"]),
        late=tuple(_late_from_dict(item) for item in data.get("late", ())),
        python=None if data.get("python") is None else _python_from_dict(data["python"]),
    )


def _table_from_dict(data: dict[str, Any]) -> PythonTable:
    return PythonTable(
        columns=tuple(Column(**column) for column in data["columns"]),
        rows=tuple(tuple(row) for row in data["rows"]),
        row_count=data["row_count"],
    )


def _python_from_dict(data: dict[str, Any]) -> PythonOutcome:
    table = data.get("value_table")
    error = data.get("error")
    return PythonOutcome(
        output=tuple((stream, text) for stream, text in data.get("output", ())),
        shown=tuple(_table_from_dict(item) for item in data.get("shown", ())),
        value=data.get("value"),
        value_table=None if table is None else _table_from_dict(table),
        sql=tuple((statement, parameters) for statement, parameters in data.get("sql", ())),
        error=None if error is None else PythonError(**error),
        stopped=data.get("stopped"),
    )


def _late_from_dict(data: dict[str, Any]) -> LateOutcome:
    return LateOutcome(
        session=data["session"],
        block_index=data["block_index"],
        line=data["line"],
        statements=tuple(_statement_from_dict(item) for item in data["statements"]),
    )


def _statement_from_dict(data: dict[str, Any]) -> StatementOutcome:
    columns = data.get("columns")
    error = data.get("error")
    return StatementOutcome(
        sql=data["sql"],
        line=data["line"],
        status=data.get("status"),
        columns=None if columns is None else tuple(Column(**column) for column in columns),
        rows=tuple(tuple(row) for row in data.get("rows", ())),
        row_count=data.get("row_count", 0),
        notices=tuple(Notice(**notice) for notice in data.get("notices", ())),
        more_notices=data.get("more_notices", 0),
        error=None if error is None else SqlError(**error),
        expected=data.get("expected", False),
        ran=data.get("ran", True),
        transaction=data.get("transaction", "idle"),
        copy_output=data.get("copy_output"),
        copy_more_lines=data.get("copy_more_lines", 0),
    )


@dataclass(frozen=True)
class DeckResult:
    """A deck's outcome and how it was had."""

    outcome: DeckOutcome
    cached: bool  # not run now: from the cache, or kept from an earlier run
    seconds: float
    warnings: tuple[Problem, ...] = field(default=())  # about the cache, not the deck
    run_reason: str = ""  # why it ran: "server changed (18.6 → 15.20)", "blocks changed", ...
    made_by: str = ""  # the server that produced the outcome: "PostgreSQL 18.6, embedded"
    frozen: str = ""  # when the configured server could not be reached: what it is
    kept: bool = False  # a failed outcome of an earlier run of this process, kept as it was

    @property
    def how(self) -> str:
        """How the outcome was had, for the log: `run: blocks changed`, `cached`, ..."""
        if self.kept:
            return "failed before, kept: nothing it depends on changed"
        if self.frozen:
            return (
                f"cached (frozen: {self.frozen} cannot be reached; "
                f"outcomes made by {self.made_by or 'no server'})"
            )
        if self.cached:
            return "cached"
        return f"run: {self.run_reason}" if self.run_reason else "run"
