"""pgslides' own connections to a server: a few at once, and never more than the decks leave.

Decks run in threads, and CREATE and DROP DATABASE take long enough that one shared connection
would run the decks one after another; so the build's Admin opens one connection per statement
running at once, and keeps a few open (idle) for the next. The server has room for so many
connections: while decks run, the Admin may open only what the decks' own connections leave
(`bound`), and a statement waits for one of its connections rather than taking a deck's.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import Any

_IDLE_KEPT = 4  # idle connections kept open for the next statements


class Pool:
    """Connections to `home` (kept open between statements) and, one statement at a time, to
    other databases; at most `bound` of them open at once (0: no bound). One to `home` stays
    open from the first moment to close(): the build's sign of life (cluster.dead_builds)."""

    def __init__(self, connect: Callable[[str], Any], home: str) -> None:
        self._connect = connect
        self.home = home
        self._room = threading.Condition()
        self._idle: list[Any] = []
        self._opened: list[Any] = []  # to `home`, idle or in use
        self._open = 0  # every connection open now, to `home` or elsewhere
        self._most = 0
        self._closed = False
        # The first is the build's sign of life from its first moment (cluster.dead_builds).
        self._release(self._checkout(), kept=True)

    def bound(self, most: int) -> None:
        """At most `most` connections open at once from now on (0: no bound; else at least 2:
        the sign of life and one for a statement elsewhere); idle ones past it are closed now,
        ones in use when their statement ends."""
        with self._room:
            self._most = max(2, most) if most > 0 else 0
            spare = self._idle[: max(0, len(self._opened) - 1)]  # never the last one
            extra = spare[: max(0, self._open - self._most)] if self._most else []
            for conn in extra:
                self._forget(conn)
            self._room.notify_all()
        for conn in extra:
            conn.close()

    @contextlib.contextmanager
    def connection(self, dbname: str | None = None) -> Iterator[Any]:
        """A connection to `dbname` (`home` if None) for one statement."""
        if dbname is None or dbname == self.home:
            conn = self._checkout()
            try:
                yield conn
            finally:
                self._release(conn)
            return
        self._reserve()
        try:
            conn = self._connect(dbname)
        except BaseException:
            self._unreserve()
            raise
        try:
            yield conn
        finally:
            conn.close()
            self._unreserve()

    def close(self) -> None:
        """Close every connection to `home` (one in use, when its statement ends)."""
        with self._room:
            self._closed = True
            idle, self._idle = self._idle, []
            for conn in idle:
                self._forget(conn)
            self._room.notify_all()
        for conn in idle:
            conn.close()

    def _checkout(self) -> Any:
        """An idle connection (a closed one replaced), or a new one when there is room."""
        with self._room:
            self._room.wait_for(lambda: bool(self._idle) or self._has_room())
            if self._idle:
                conn = self._idle.pop()
                if not conn.closed:
                    return conn
                self._forget(conn)
            self._open += 1
        try:
            conn = self._connect(self.home)
        except BaseException:
            self._unreserve()
            raise
        with self._room:
            self._opened.append(conn)
        return conn

    def _release(self, conn: Any, kept: bool = False) -> None:
        with self._room:
            # A burst (decks' places dropped all at once) leaves a few open, not all; and
            # always the last one, the build's sign of life, until close().
            over = bool(self._most) and self._open > self._most
            last = len(self._opened) == 1
            kept = not self._closed and (
                kept or last or (len(self._idle) < _IDLE_KEPT and not over)
            )
            if kept:
                self._idle.append(conn)
            else:
                self._forget(conn)
            self._room.notify_all()
        if not kept:
            conn.close()

    def _reserve(self) -> None:
        """Room for one connection elsewhere: an idle one is closed for it if need be (never
        the last one to `home`)."""
        with self._room:
            self._room.wait_for(lambda: self._has_room() or self._spare_idle())
            idle = None if self._has_room() else self._idle.pop()
            if idle is not None:
                self._forget(idle)
            self._open += 1
        if idle is not None:
            idle.close()

    def _unreserve(self) -> None:
        with self._room:
            self._open -= 1
            self._room.notify_all()

    def _has_room(self) -> bool:
        return not self._most or self._open < self._most

    def _spare_idle(self) -> bool:
        """An idle connection to `home` that is not the last one open."""
        return bool(self._idle) and len(self._opened) > 1

    def _forget(self, conn: Any) -> None:
        """Under the lock: `conn` is no longer the pool's (it is closed, or about to be)."""
        with contextlib.suppress(ValueError):
            self._idle.remove(conn)
        self._opened.remove(conn)
        self._open -= 1
