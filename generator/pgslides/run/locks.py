"""Who waits for whom among a deck's sessions, from the server's lock graph, and the messages
about it made the same on every build: backend pids named by session, transaction ids numbered.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

import psycopg2

from pgslides.outcome import StatementOutcome
from pgslides.run.watchdog import StatementStoppedError, Watchdog

OTHER_CONNECTION = "another connection"  # a blocker that is none of the deck's sessions
# How long one look at the lock graph may take before it is stopped as a statement past its
# timeout is (then within ESCALATION_S - WATCHDOG_GRACE_S more): a catalog query answered in
# milliseconds, with room for a machine under heavy load; the monitor has no statement_timeout.
LOOK_LIMIT_S = 3.0
_LOOK = "pgslides' look at the lock graph"
_PROCESS = re.compile(r"\b([Pp]rocess) (\d+)")
_TRANSACTION = re.compile(r"\btransaction (\d+)")


def lock_graph(monitor: Any, pids: list[int]) -> dict[int, list[int]]:
    """For each backend in `pids`, the backends it waits for: one query, one moment.

    `monitor` is a connection of pgslides' own; psycopg2.Error goes up, also when the server
    stops answering (the look is stopped as a statement would be, run.watchdog)."""
    try:
        with Watchdog(monitor, LOOK_LIMIT_S, grace_s=0.0, what=_LOOK), monitor.cursor() as cur:
            cur.execute("SELECT pid, pg_blocking_pids(pid) FROM unnest(%s::int[]) AS pid", (pids,))
            rows = cur.fetchall()
    except StatementStoppedError as stopped:
        raise psycopg2.OperationalError(stopped.message) from None
    # Raw text, as every value here: '{123,456}'.
    return {
        int(pid): [int(other) for other in found.strip("{}").split(",") if other]
        for pid, found in rows
    }


def waiting_on(
    graph: dict[int, list[int]], pid: int, names: dict[int, str]
) -> tuple[str, ...] | None:
    """The names of the sessions `pid` waits for, if it waits outside any deadlock."""
    blockers = graph.get(pid, [])
    if not blockers or in_cycle(pid, graph):
        return None
    return tuple(sorted({names.get(other, OTHER_CONNECTION) for other in blockers}))


def in_cycle(start: int, graph: dict[int, list[int]]) -> bool:
    """Whether following who-waits-for-whom from `start` leads back to it (a deadlock)."""
    seen: set[int] = set()
    frontier = list(graph.get(start, []))
    while frontier:
        pid = frontier.pop()
        if pid == start:
            return True
        if pid not in seen:
            seen.add(pid)
            frontier.extend(graph.get(pid, []))
    return False


class StableNaming:
    """Errors with our backends' pids named and transaction ids numbered, one numbering a deck.

    A deadlock's DETAIL names processes and transaction ids, which change on every build;
    the slide says which session it was and keeps the ids apart, the same every time.
    """

    def __init__(self) -> None:
        self._xids: dict[str, int] = {}

    def statements(
        self, statements: Iterable[StatementOutcome], names: dict[str, str]
    ) -> tuple[StatementOutcome, ...]:
        """`statements` with messages made stable; `names` maps a backend pid to its session."""

        def stable(text: str | None) -> str | None:
            if not text:
                return text
            text = _PROCESS.sub(lambda m: f"{m[1]} {names.get(m[2], m[2])}", text)
            return _TRANSACTION.sub(lambda m: f"transaction {self._number(m[1])}", text)

        def stable_statement(statement: StatementOutcome) -> StatementOutcome:
            error = statement.error
            if error is None:
                return statement
            message = stable(error.message) or error.message
            error = replace(error, message=message, detail=stable(error.detail))
            return replace(statement, error=error)

        return tuple(stable_statement(statement) for statement in statements)

    def _number(self, xid: str) -> int:
        return self._xids.setdefault(xid, len(self._xids) + 1)
