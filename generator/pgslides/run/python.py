"""A deck's Python blocks, run in one worker process of the deck's own (run.pyworker).

The worker starts at the deck's first Python block and stops at the deck's end, on an error and
on an interrupt; a block that runs past its `timeout` (wall clock) has its worker stopped, and
so does a worker that dies by itself: either way the block fails, and the deck's later Python
blocks, whose namespace is gone, are not run. Everything the worker sends back has the
database password masked before it is kept.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pgslides
from pgslides.outcome import BlockOutcome, Column, PythonError, PythonOutcome, PythonTable
from pgslides.parse.blocks import Block
from pgslides.run.database import DeckDatabase
from pgslides.run.execute import ExecutionError, RunLimits
from pgslides.run.server import mask_password

TERMINATE_GRACE_S = 0.5  # between SIGTERM and SIGKILL
_POLL_S = 0.1  # how often a wait looks at the interrupt flag
_START_TIMEOUT_S = 60.0
# Connections a deck's `engine` may hold at once (two Sessions on a slide, a raw connection):
# counted in the deck's share of the server's connections. One more waits, then fails.
PYTHON_POOL_SIZE = 5


class PythonInterruptedError(Exception):
    """The build was interrupted while a Python block ran; the worker is stopped."""


class PythonWorker:
    """One deck's worker process, started on first use; close() always stops it."""

    def __init__(self, db: DeckDatabase, path: str, max_rows: int) -> None:
        self.db = db
        self.path = path
        self.max_rows = max_rows
        self.process: subprocess.Popen[bytes] | None = None
        self.gone: str | None = None  # why later blocks cannot run: the worker was stopped
        self._buffer = b""
        self.start_seconds: float | None = None  # how long the worker took to be ready

    # --- the process ---

    def _start(self, stop: threading.Event) -> str | None:
        """Start the worker; a message when it could not be made ready."""
        started = time.monotonic()
        env = dict(os.environ)
        package_root = str(Path(pgslides.__file__).resolve().parent.parent)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
        env["PGSLIDES_PARENT"] = str(os.getpid())
        self.process = subprocess.Popen(
            [sys.executable, "-m", "pgslides.run.pyworker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            start_new_session=True,  # the terminal's Ctrl-C is the build's; the build stops it
        )
        connect = self.db.session_keywords()
        # Named after the process: its backends can be ended once it is stopped mid-block.
        connect["application_name"] = _application_name(self.process.pid)
        config = {
            "path": self.path,
            "max_rows": self.max_rows,
            "connect": connect,
            "pool_size": PYTHON_POOL_SIZE,
        }
        self._send(config)
        ready = self._receive(_START_TIMEOUT_S, stop)
        if isinstance(ready, str):
            return ready
        self.start_seconds = time.monotonic() - started
        if not ready.get("ready"):
            self.stop()
            return "the Python worker could not start: " + self._mask(ready.get("message", ""))
        return None

    def _send(self, message: dict[str, Any]) -> None:
        assert self.process is not None
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(message).encode() + b"\n")
        self.process.stdin.flush()

    def _receive(self, timeout_s: float, stop: threading.Event) -> dict[str, Any] | str:
        """The worker's next message; a string saying why there is none (timeout, death)."""
        assert self.process is not None
        assert self.process.stdout is not None
        out = self.process.stdout
        deadline = time.monotonic() + timeout_s
        with selectors.DefaultSelector() as selector:
            selector.register(out, selectors.EVENT_READ)
            while b"\n" not in self._buffer:
                if stop.is_set():
                    self.stop()
                    raise PythonInterruptedError
                left = deadline - time.monotonic()
                if left <= 0:
                    self.stop()
                    return "timeout"
                if not selector.select(min(left, _POLL_S)):
                    continue
                chunk = os.read(out.fileno(), 1 << 16)
                if not chunk:
                    return self._died()
                self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        message: dict[str, Any] = json.loads(line)
        return message

    def _died(self) -> str:
        assert self.process is not None
        process, self.process = self.process, None
        status = process.wait()
        _close_pipes(process)
        self._end_backends(process.pid)
        if status < 0:
            return f"the Python worker was killed by {signal.Signals(-status).name}"
        return f"the Python worker exited with status {status}"

    def stop(self) -> None:
        """Stop the worker: SIGTERM, then SIGKILL after a short grace; safe to call twice."""
        process, self.process = self.process, None
        if process is None:
            return
        with contextlib.suppress(OSError):
            if process.stdin is not None:
                process.stdin.close()  # a worker between blocks ends by itself at this
        process.stdin = None
        try:
            process.wait(TERMINATE_GRACE_S)
        except subprocess.TimeoutExpired:
            process.terminate()
            try:
                process.wait(TERMINATE_GRACE_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            self._end_backends(process.pid)
        _close_pipes(process)

    def _end_backends(self, pid: int) -> None:
        """End what a worker stopped mid-block still runs on the server (a statement or a lock
        wait goes on after its client is gone, until its own timeout)."""
        with contextlib.suppress(Exception), self.db.monitor().cursor() as cur:
            cur.execute(
                "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity"
                " WHERE application_name = %s AND pid <> pg_backend_pid()",
                (_application_name(pid),),
            )

    close = stop

    # --- a block ---

    def run(self, block: Block, timeout_ms: int, stop: threading.Event) -> PythonOutcome:
        if self.gone is not None:
            return PythonOutcome(stopped=f"not run: {self.gone}")
        if self.process is None:
            problem = self._start(stop)
            if problem is not None:
                self.gone = problem
                return PythonOutcome(stopped=problem)
        self._send({"source": block.sql, "first_line": block.sql_line})
        reply = self._receive(timeout_ms / 1000, stop)
        if reply == "timeout":
            seconds = f"{timeout_ms / 1000:g}"
            why = f"the Python block ran past its timeout of {seconds} s and was stopped"
            self.gone = f"the deck's Python worker was stopped at {self.path}:{block.line}"
            return PythonOutcome(stopped=why)
        if isinstance(reply, str):
            self.gone = f"the deck's Python worker died at {self.path}:{block.line}"
            return PythonOutcome(stopped=reply)
        return self._outcome(reply, block)

    def _mask(self, text: str) -> str:
        return mask_password(text, self.db.server)

    def _table(self, data: dict[str, Any] | None) -> PythonTable | None:
        if data is None:
            return None
        return PythonTable(
            columns=tuple(
                Column(self._mask(c["name"]), c["type_oid"], c["numeric"]) for c in data["columns"]
            ),
            rows=tuple(
                tuple(None if value is None else self._mask(value) for value in row)
                for row in data["rows"]
            ),
            row_count=data["row_count"],
        )

    def _outcome(self, reply: dict[str, Any], block: Block) -> PythonOutcome:
        mask = self._mask
        error = reply.get("error")
        found = None
        if error is not None:
            found = PythonError(
                exception=error["exception"],
                message=mask(error["message"]),
                traceback=mask(error["traceback"]),
                line=error["line"],
                sqlstate=error["sqlstate"],
                detail=None if error["detail"] is None else mask(error["detail"]),
                hint=None if error["hint"] is None else mask(error["hint"]),
                expected=expected(block.options.expect, error["names"], error["sqlstate"]),
            )
        return PythonOutcome(
            output=tuple((stream, mask(text)) for stream, text in reply["output"]),
            shown=tuple(filter(None, (self._table(item) for item in reply["shown"]))),
            value=None if reply["value"] is None else mask(reply["value"]),
            value_table=self._table(reply["value_table"]),
            sql=tuple(
                (mask(text), None if params is None else mask(params))
                for text, params in reply["sql"]
            ),
            error=found,
        )


def _application_name(pid: int) -> str:
    return f"pgslides python {pid}"


def _close_pipes(process: subprocess.Popen[bytes]) -> None:
    for pipe in (process.stdin, process.stdout):
        with contextlib.suppress(OSError):
            if pipe is not None:
                pipe.close()


def expected(expect: str, names: list[str], sqlstate: str | None) -> bool:
    """Whether an exception (its classes' names, its SQLSTATE) is what `expect` asks for."""
    if expect == "error":
        return True
    return expect in names or (sqlstate is not None and expect == sqlstate)


def python_problem(path: str, expect: str, outcome: PythonOutcome) -> str | None:
    """Why a Python block's end differs from its `expect`, or None when it matches."""
    if outcome.stopped is not None:
        return outcome.stopped
    error = outcome.error
    if error is None:
        if expect == "ok":
            return None
        wanted = "an exception" if expect == "error" else expect
        return f"expected {wanted}, but the block ran without an exception"
    if error.expected:
        return None
    said = f"{error.exception}: {error.message}".splitlines()[0]
    if expect != "ok":
        said = f"expected {expect}, got {said}"
    return said


class PythonBlocks:
    """A deck's Python blocks as its timeline meets them: their worker and their outcomes."""

    def __init__(self, db: DeckDatabase, path: str, limits: RunLimits) -> None:
        self.worker = PythonWorker(db, path, limits.max_rows)
        self.path = path
        self.statement_timeout_ms = limits.statement_timeout_ms
        self.outcomes: dict[int, PythonOutcome] = {}

    def run(self, block: Block, stop: threading.Event) -> None:
        """Run one block; ExecutionError when the build is interrupted meanwhile."""
        timeout_ms = block.options.timeout_ms or self.statement_timeout_ms * 3
        try:
            self.outcomes[block.index] = self.worker.run(block, timeout_ms, stop)
        except PythonInterruptedError:
            raise ExecutionError(self.path, block.line, "interrupted") from None

    def block_outcome(self, block: Block) -> BlockOutcome:
        outcome = self.outcomes.get(block.index, PythonOutcome(stopped="not run"))
        return BlockOutcome(
            index=block.index,
            line=block.line,
            session=block.options.session,
            statements=(),
            problem=python_problem(self.path, block.options.expect, outcome),
            python=outcome,
        )

    def close(self) -> None:
        self.worker.stop()
