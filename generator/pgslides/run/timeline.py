"""A deck's blocks on their sessions as concurrent connections: lock waits and late results.

Each session runs its blocks in order on a thread of its own, so a statement that waits for a
lock does not stop the deck. The deck moves on once such a statement has waited `grace` and
the server says it is blocked (pg_blocking_pids); its result is placed in the first later block
after which it is no longer blocked. That is decided by the server's lock state after each
block, never by timing, so the page shows the same timeline on every build.
"""

from __future__ import annotations

import contextlib
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field, replace
from typing import Any

import psycopg2

from pgslides.outcome import BlockOutcome, DeckOutcome, DeckWarning, LateOutcome, StatementOutcome
from pgslides.parse.deck import Block, Deck
from pgslides.run.database import DatabaseError, DeckDatabase, Session
from pgslides.run.erd import run_erd_block
from pgslides.run.execute import (
    WATCHDOG_GRACE_S,
    ConnectionLostError,
    ExecutionError,
    RunLimits,
    block_refusal,
    expectation_problem,
    run_block_statements,
)
from pgslides.run.locks import StableNaming, lock_graph, waiting_on
from pgslides.run.python import PythonBlocks
from pgslides.run.server import server_version
from pgslides.run.setupfiles import SetupFile, run_setup

SETUP_SESSION = "main"
# How long to wait before looking at the lock graph a second time (see _Timeline._await).
_SECOND_LOOK_S = 0.05
# Statement and lock timeouts: when they fire depends on the clock, not on the deck.
_TIMEOUTS = frozenset({"57014", "55P03"})


@dataclass
class _Worker:
    """A session and the one thread that runs its statements, in order."""

    session: Session
    executor: ThreadPoolExecutor
    pid: int  # its backend, read once, before its thread ever uses the connection
    last_block: int = 0  # the last block run on it, for warnings about the state it was left in


@dataclass
class _Run:
    """A block submitted to its session; `done` grows as its statements finish."""

    block: Block
    worker: _Worker
    future: Future[str | None]
    done: list[StatementOutcome] = field(default_factory=list)
    shown: int = 0  # statements shown in the block itself; the rest show where they finished

    @property
    def timed_out(self) -> bool:
        last = self.done[-1] if self.done else None
        return last is not None and last.error is not None and last.error.sqlstate in _TIMEOUTS


@dataclass
class _Record:
    statements: list[StatementOutcome] = field(default_factory=list)
    waiting_for: tuple[str, ...] | None = None
    late: list[LateOutcome] = field(default_factory=list)
    problem: str | None = None


def run_deck(
    deck: Deck,
    db: DeckDatabase,
    limits: RunLimits,
    setup: tuple[SetupFile, ...] = (),
    stop: threading.Event | None = None,
) -> DeckOutcome:
    """Run the setup files, then every block in file order on its session; `stop`, once set
    (an interrupted build), ends the deck before its next block with ExecutionError."""
    version = server_version(db.session(SETUP_SESSION).conn)
    done: list[StatementOutcome] = []
    for setup_file in setup:
        run_setup(setup_file, db.session(SETUP_SESSION), limits, done)
    with contextlib.closing(_Timeline(deck, db, limits, stop or threading.Event())) as timeline:
        timeline.run()
    return timeline.outcome(version)


class _Timeline:
    def __init__(
        self, deck: Deck, db: DeckDatabase, limits: RunLimits, stop: threading.Event
    ) -> None:
        self.stop = stop
        self.deck = deck
        self.db = db
        self.limits = limits
        self.workers: dict[str, _Worker] = {}
        self.runs: dict[int, _Run] = {}
        self.waiting: list[_Run] = []  # in the order they started waiting
        self.records = {block.index: _Record() for block in deck.blocks}
        self.warnings: list[DeckWarning] = []
        self._naming = StableNaming()
        self.python = PythonBlocks(db, deck.path, limits)

    # --- running ---

    def run(self) -> None:
        for block in self.deck.blocks:
            if self.stop.is_set():
                raise self._interrupted(block)
            if block.language == "python":
                self.python.run(block, self.stop)
                continue
            worker = self._worker(block.options.session)
            refusal = block_refusal(block.sql, worker.session.standard_strings)
            if refusal is not None and block.language != "erd":  # its lines are names, not SQL
                self.records[block.index].problem = refusal
                continue
            worker.last_block = block.index
            run = _Run(block, worker, Future())
            run.future = worker.executor.submit(
                run_erd_block if block.language == "erd" else run_block_statements,
                worker.session,
                block,
                path=self.deck.path,
                limits=self.limits,
                done=run.done,
            )
            self.runs[block.index] = run
            blockers = self._await(run)
            record = self.records[block.index]
            # One snapshot: the worker may finish another statement while we look.
            shown = list(run.done)
            run.shown = len(shown)
            record.statements = shown
            if blockers is not None:
                record.waiting_for = blockers
                self.waiting.append(run)
            self._settle(record)
        self._finish()

    def _await(self, run: _Run) -> tuple[str, ...] | None:
        """None once the block has finished; the names of its blockers if it waits for a lock.

        A wait counts only when two looks at the lock graph, a moment apart, agree: while the
        server breaks a deadlock, its victim leaves the wait queue before its locks go, and
        one look could see a plain wait where there is a cycle about to be broken."""
        grace = run.block.options.grace_ms / 1000
        while True:
            try:
                run.future.result(timeout=grace)
            except FutureTimeout:
                if self.stop.is_set():
                    raise self._interrupted(run.block) from None
                first = self._waiting_on(run)
                if first is None:
                    continue  # still running, or in a deadlock the server is about to break
                time.sleep(_SECOND_LOOK_S)
                if run.future.done():
                    return None
                if self._waiting_on(run) == first:
                    return first
                continue
            return None

    def _waiting_on(self, run: _Run) -> tuple[str, ...] | None:
        """The names of the sessions the run waits for, if it waits outside any deadlock."""
        by_pid = {worker.pid: name for name, worker in self.workers.items()}
        return waiting_on(self._lock_graph(run.block), run.worker.pid, by_pid)

    def _settle(self, record: _Record) -> None:
        """Move waiting blocks that have finished into `record` as late results.

        One that ended by running into its timeout is left for the end of the deck: when a
        timer fires is a matter of the clock, and the page must not depend on it."""
        changed = True
        while changed:
            changed = False
            for run in list(self.waiting):
                if run.future.done() and run.timed_out:
                    continue
                if not run.future.done() and self._lock_graph(run.block).get(run.worker.pid):
                    continue
                if self._await(run) is not None:
                    continue
                if run.timed_out:
                    continue
                self.waiting.remove(run)
                record.late.append(self._late(run))
                changed = True

    def _finish(self) -> None:
        """Let what still waits at the end run into its timeout, then close transactions."""
        last = self.records[self.deck.blocks[-1].index] if self.deck.blocks else _Record()
        for run in list(self.waiting):
            timeout_ms = run.block.options.timeout_ms or self.limits.statement_timeout_ms
            with contextlib.suppress(FutureTimeout):
                run.future.result(timeout=timeout_ms / 1000 + WATCHDOG_GRACE_S * 2)
            if self.stop.is_set():
                raise self._interrupted(run.block)
            self.waiting.remove(run)
            last.late.append(self._late(run))
            if expectation_problem(run.block.options.expect, list(run.done)) is not None:
                message = (
                    f"session {run.worker.session.name} was still waiting when the deck ended; "
                    "it ran into its timeout"
                )
                self.warnings.append(DeckWarning(run.block.index, message))
        for name, worker in self.workers.items():
            if worker.session.roll_back_if_open():
                message = (
                    f"session {name} was left inside a transaction at the end of the deck; "
                    "it was rolled back"
                )
                self.warnings.append(DeckWarning(worker.last_block, message))

    def _interrupted(self, block: Block) -> ExecutionError:
        return ExecutionError(self.deck.path, block.line, "interrupted")

    def _late(self, run: _Run) -> LateOutcome:
        return LateOutcome(
            session=run.worker.session.name,
            block_index=run.block.index,
            line=run.block.line,
            statements=tuple(run.done[run.shown :]),
        )

    # --- who waits for whom ---

    def _lock_graph(self, block: Block) -> dict[int, list[int]]:
        """For each of our sessions' backends, the backends it waits for: one query, one moment."""
        try:
            return lock_graph(self.db.monitor(), [worker.pid for worker in self.workers.values()])
        except (psycopg2.Error, DatabaseError) as error:  # a stalled server: no monitor
            raise ConnectionLostError.at(self.deck.path, block.line, error, "closed") from None

    # --- sessions ---

    def _worker(self, name: str) -> _Worker:
        if name not in self.workers:
            executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"pgslides-{name}")
            session = self.db.session(name)
            self.workers[name] = _Worker(session, executor, session.conn.info.backend_pid)
        return self.workers[name]

    def close(self) -> None:
        """Stop whatever still runs (an error left it so), and let the threads go."""
        self.python.close()
        for worker in self.workers.values():
            worker.session.running.stop()
            worker.executor.shutdown(wait=True, cancel_futures=True)

    # --- the result ---

    def _stable(self, statements: Any) -> tuple[StatementOutcome, ...]:
        names = {str(worker.pid): name for name, worker in self.workers.items()}
        return self._naming.statements(statements, names)

    def outcome(self, version: str) -> DeckOutcome:
        blocks = []
        for block in self.deck.blocks:
            if block.language == "python":
                blocks.append(self.python.block_outcome(block))
                continue
            record = self.records[block.index]
            run = self.runs.get(block.index)
            problem = record.problem
            if problem is None and run is not None and run.future.done():
                problem = run.future.result()  # a meta-command found as the block ran
            if problem is None and run is not None:
                problem = expectation_problem(block.options.expect, list(self._stable(run.done)))
            blocks.append(
                BlockOutcome(
                    index=block.index,
                    line=block.line,
                    session=block.options.session,
                    statements=self._stable(record.statements),
                    problem=problem,
                    waiting_for=record.waiting_for,
                    late=tuple(
                        replace(late, statements=self._stable(late.statements))
                        for late in record.late
                    ),
                )
            )
        return DeckOutcome(
            blocks=tuple(blocks), server_version=version, warnings=tuple(self.warnings)
        )
