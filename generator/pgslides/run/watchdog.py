"""Every statement has an end: past its limit it is cancelled, then its backend terminated,
then its connection given up, each step a bounded time after the one before.

A statement can ignore a cancel (a PL/pgSQL loop that catches query_canceled), and a server
or network that stops answering ignores everything: the cancel request and the terminating
connection get no reply either. So each step runs on a thread of its own, never waiting for
the one before, and the last one needs no answer at all: it shuts down the connection's
socket, which makes the thread blocked in libpq return at once (ctypes and psycopg2 release
the GIL while they wait, so the watching thread runs).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import psycopg2

from pgslides.run import libpq

# How long past a statement's own timeout the client waits before cancelling it itself:
# the server's statement_timeout should fire first and give its own message; this catches a
# deck that turned the server's timeout off (SET statement_timeout = 0).
WATCHDOG_GRACE_S = 1.0
# How long a cancelled statement may take to stop before its backend is terminated. A server
# acts on a cancel at its next check for interrupts, within milliseconds; one that is still
# running a second later is ignoring it (it catches query_canceled).
CANCEL_GRACE_S = 1.0
# How long terminating the backend may take before pgslides gives up on the connection. It
# needs a new connection (connect, authenticate, perhaps TLS), then the backend's exit.
TERMINATE_GRACE_S = 2.0
# The longest a statement keeps its session past its timeout: it has ended, one way or
# another, by then (README: "timeout + 4 s").
ESCALATION_S = WATCHDOG_GRACE_S + CANCEL_GRACE_S + TERMINATE_GRACE_S
# connect_timeout of the connection that terminates a backend: libpq's smallest. A server that
# took a statement is known to answer; one that does not answer within this will not.
SIDE_CONNECT_TIMEOUT_S = 2

CANCEL, TERMINATE, GIVE_UP = "cancel", "terminate", "give up"
_STEPS = ((CANCEL, 0.0), (TERMINATE, CANCEL_GRACE_S), (GIVE_UP, CANCEL_GRACE_S + TERMINATE_GRACE_S))


class StatementStoppedError(Exception):
    """A statement that had to be terminated, or whose connection was given up."""

    def __init__(self, message: str, gave_up: bool) -> None:
        super().__init__(message)
        self.message = message
        self.gave_up = gave_up  # the server never answered: the connection is gone


class Watchdog:
    """Watches one statement (or a few) on one psycopg2 connection, from a thread of its own.

    Used as a context manager around the calls that wait for the server. Leaving it raises
    StatementStoppedError once it had to terminate the backend or give up the connection;
    a statement stopped by its cancel ends as usual, with the server's cancel error."""

    def __init__(
        self,
        conn: Any,
        limit_s: float,
        grace_s: float = WATCHDOG_GRACE_S,
        what: str = "the statement",
    ) -> None:
        self.limit_s, self.what = limit_s, what
        self._started = time.monotonic()
        self._cancel_at = self._started + limit_s + grace_s  # hurry() brings it forward
        self._hurried = False
        self._ended = False
        self._cond = threading.Condition()
        self._reached: tuple[str, float] | None = None  # the last step taken, and when
        self._target = _Target(conn)
        self._thread = threading.Thread(target=self._watch, name="pgslides-watchdog", daemon=True)

    def __enter__(self) -> Watchdog:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        with self._cond:
            self._ended = True
            self._cond.notify_all()
        self._target.release()
        problem = self._problem()
        if problem is not None:
            raise problem

    def hurry(self) -> None:
        """Stop the statement now (an interrupted build): cancel it at once, then go on with
        the steps after it; never later than they were due already."""
        with self._cond:
            self._hurried = True
            self._cancel_at = min(self._cancel_at, time.monotonic())
            self._cond.notify_all()

    def _watch(self) -> None:
        for step, after in _STEPS:
            with self._cond:
                if not self._wait_until(after):
                    return  # the statement ended
                if step == GIVE_UP:
                    self._target.shut_down()  # under the lock: the statement still owns it
                self._reached = (step, time.monotonic() - self._started)
            if step == CANCEL:
                _in_thread(self._target.cancel)
            elif step == TERMINATE:
                _in_thread(self._target.terminate)

    def _wait_until(self, after_cancel_s: float) -> bool:
        """Wait (holding the condition) until that long after the cancel is due (hurry() may
        bring it forward meanwhile): True, or False once the statement ended."""
        while not self._ended:
            remaining = self._cancel_at + after_cancel_s - time.monotonic()
            if remaining <= 0:
                return True
            self._cond.wait(remaining)
        return False

    def _problem(self) -> StatementStoppedError | None:
        if self._reached is None or self._reached[0] == CANCEL:
            return None
        step, after_s = self._reached
        if self._hurried:  # an interrupted build, or a deck that ended on another error
            why = f"{self.what} was stopped early and"
        else:
            why = f"{self.what} ran past its timeout of {self.limit_s:g} s and"
        if step == TERMINATE:
            return StatementStoppedError(
                f"{why} ignored its cancel, so it was terminated after {after_s:.0f} s",
                gave_up=False,
            )
        return StatementStoppedError(
            f"{why} got no answer from the server (nor did its cancel or the terminating of its "
            f"backend), so pgslides gave up on the connection after {after_s:.0f} s",
            gave_up=True,
        )


class Running:
    """What runs on one connection now, for another thread to stop (an interrupted build)."""

    def __init__(self) -> None:
        self._watchdog: Watchdog | None = None
        self._stopping = False

    @contextlib.contextmanager
    def watch(self, watchdog: Watchdog) -> Iterator[Watchdog]:
        """Run under `watchdog`, which stop() hurries from another thread meanwhile."""
        with watchdog:
            self._watchdog = watchdog
            if self._stopping:  # read after _watchdog is set: stop() misses neither
                watchdog.hurry()
            try:
                yield watchdog
            finally:
                self._watchdog = None

    def stop(self) -> None:
        """Stop what runs now, and whatever starts later: cancelled at once, then its backend
        terminated, then its connection given up."""
        self._stopping = True
        watchdog = self._watchdog
        if watchdog is not None:
            watchdog.hurry()


class _Target:
    """What the steps need of the connection, read before the statement starts: the libpq
    connection is the statement's own thread's while it runs."""

    def __init__(self, conn: Any) -> None:
        self.backend_pid = conn.info.backend_pid
        # A descriptor of our own on the connection (a duplicate): libpq may close its own
        # before a late step runs, and the number could by then be another connection's. Only
        # a number until the socket is shut down: a Python socket made of it would turn the
        # shared socket to blocking mode, and libpq would then read a whole result at once.
        self._socket_lock = threading.Lock()
        self._fd: int | None = os.dup(conn.fileno())
        self._lib = libpq.library()
        self._cancel_lock = threading.Lock()
        self._cancel: int | None = self._lib.PQgetCancel(conn.pgconn_ptr)
        # The same server, database, role and password as the session: a role may terminate
        # its own backends without any privilege.
        params = dict(conn.info.dsn_parameters)
        if conn.info.password:
            params["password"] = conn.info.password
        params["connect_timeout"] = str(SIDE_CONNECT_TIMEOUT_S)
        timeout = f"-c statement_timeout={SIDE_CONNECT_TIMEOUT_S * 1000}"
        params["options"] = f"{params.get('options') or ''} {timeout}".strip()
        self._side_params = params

    def cancel(self) -> None:
        """PQcancel with a cancel object of our own: psycopg2 frees its own when the
        connection closes, which may be while a cancel sent into a dead network still waits."""
        with self._cancel_lock:
            handle, self._cancel = self._cancel, None
        if not handle:
            return
        try:
            self._lib.PQcancel(handle, ctypes.create_string_buffer(256), 256)
        finally:
            self._lib.PQfreeCancel(handle)

    def release(self) -> None:
        """Free the cancel object and the duplicate socket: the statement has ended."""
        with self._cancel_lock:
            handle, self._cancel = self._cancel, None
        if handle:
            self._lib.PQfreeCancel(handle)
        with self._socket_lock:
            fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)

    def terminate(self) -> None:
        """pg_terminate_backend from a short-lived connection of its own."""
        side = psycopg2.connect(**self._side_params)
        try:
            side.autocommit = True
            with side.cursor() as cur:
                cur.execute("SELECT pg_terminate_backend(%s)", (self.backend_pid,))
        finally:
            side.close()

    def shut_down(self) -> None:
        """Shut the connection's socket down: libpq's wait for an answer returns at once."""
        with self._socket_lock:
            if self._fd is None:
                return
            # shutdown(2) on the socket itself, through a socket object on a second duplicate
            # (closing that object must leave our descriptor for release()).
            # OSError: the other side closed it already.
            with contextlib.suppress(OSError), socket.socket(fileno=os.dup(self._fd)) as sock:
                sock.shutdown(socket.SHUT_RDWR)


def _in_thread(step: Callable[[], None]) -> None:
    """Run a step on a thread of its own, so that one waiting on a dead network delays none of
    the others; what goes wrong in it is answered by the next step."""

    def run() -> None:
        with contextlib.suppress(Exception):  # the next step is the answer to a failed one
            step()

    threading.Thread(target=run, name="pgslides-watchdog-step", daemon=True).start()
