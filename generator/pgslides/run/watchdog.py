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
import functools
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from pgslides.run.stopping import StopTarget

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
        target: StopTarget | None = None,
    ) -> None:
        self.limit_s, self.what = limit_s, what
        self._started = time.monotonic()
        self._cancel_at = self._started + limit_s + grace_s  # hurry() brings it forward
        self._hurried = False
        self._ended = False
        self._cond = threading.Condition()
        self._reached: tuple[str, float] | None = None  # the last step taken, and when
        # A session's own target (and watching thread, see Running) serves all its statements.
        self._shared = target is not None
        self._target = target if target is not None else StopTarget(conn)
        self._target.begin(self)

    def __enter__(self) -> Watchdog:
        if not self._shared:
            threading.Thread(target=self._watch, name="pgslides-watchdog", daemon=True).start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        with self._cond:
            self._ended = True
            self._cond.notify_all()
        self._target.end(self)
        if not self._shared:
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
                    self._target.shut_down(self)  # under the lock: the statement owns it
                self._reached = (step, time.monotonic() - self._started)
            if step == CANCEL:
                _in_thread(functools.partial(self._target.cancel, self))
            elif step == TERMINATE:
                _in_thread(functools.partial(self._target.terminate, self))

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
    """What runs on one connection now, for another thread to stop (an interrupted build).

    Its statements are watched by one thread of the session's own, with what the steps need
    of the connection read once (watch_statement): a thread started, a socket duplicated and a
    cancel object made per statement cost more than a short statement itself."""

    def __init__(self) -> None:
        self._watchdog: Watchdog | None = None
        self._stopping = False
        self._target: StopTarget | None = None
        self._cond = threading.Condition()
        self._next: Watchdog | None = None  # for the watching thread to take
        self._thread: threading.Thread | None = None
        self._closed = False

    @contextlib.contextmanager
    def watch_statement(self, conn: Any, limit_s: float) -> Iterator[Watchdog]:
        """Run one statement of the session's connection `conn` under a watchdog."""
        if self._closed:  # not the session's any more: a watchdog of its own, as before
            with self.watch(Watchdog(conn, limit_s)) as alone:
                yield alone
            return
        with self._cond:
            if self._target is None:
                self._target = StopTarget(conn)
            watchdog = Watchdog(conn, limit_s, target=self._target)
            self._next = watchdog
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._watch_all, name="pgslides-watchdog", daemon=True
                )
                self._thread.start()
            self._cond.notify_all()
        with self.watch(watchdog):
            yield watchdog

    def _watch_all(self) -> None:
        while True:
            with self._cond:
                while self._next is None and not self._closed:
                    self._cond.wait()
                watchdog, self._next = self._next, None
            if watchdog is None:
                return  # closed
            watchdog._watch()  # the watchdog's own steps, on this thread

    def close(self) -> None:
        """The session's connection is closed: let the watching thread go, free the target."""
        with self._cond:
            self._closed = True
            target, self._target = self._target, None
            self._cond.notify_all()
        if target is not None:
            target.release()

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


def _in_thread(step: Callable[[], None]) -> None:
    """Run a step on a thread of its own, so that one waiting on a dead network delays none of
    the others; what goes wrong in it is answered by the next step."""

    def run() -> None:
        with contextlib.suppress(Exception):  # the next step is the answer to a failed one
            step()

    threading.Thread(target=run, name="pgslides-watchdog-step", daemon=True).start()


class RunningPlaces:
    """What runs now (decks' places, whatever has a cancel()), so an interrupted build can
    cancel it all from another thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._now: set[Any] = set()

    @contextlib.contextmanager
    def __call__(self, place: Any) -> Iterator[None]:
        """While the block runs, cancel_all() cancels what `place` runs."""
        with self._lock:
            self._now.add(place)
        try:
            yield
        finally:
            with self._lock:
                self._now.discard(place)

    def cancel_all(self) -> None:
        with self._lock:
            now = list(self._now)
        for place in now:
            place.cancel()
