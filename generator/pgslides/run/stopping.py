"""What stopping a statement needs of its connection, read while the connection is idle (the
libpq connection is the statement's own thread's while it runs): a cancel object of its own, a
duplicate of its socket to shut down, and how to connect to terminate its backend. One serves
every statement of a session; each step acts only for the statement that runs now."""

from __future__ import annotations

import contextlib
import ctypes
import os
import socket
import threading
from typing import Any

import psycopg2

from pgslides.run import libpq

# connect_timeout of the connection that terminates a backend: libpq's smallest. A server that
# took a statement is known to answer; one that does not answer within this will not.
SIDE_CONNECT_TIMEOUT_S = 2

Owner = Any  # the watchdog of the statement that runs now (run.watchdog)


class StopTarget:
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
        self._conn = conn
        self._cancel_lock = threading.Lock()
        self._cancel: int | None = None  # made by begin(), before each statement if needed
        self._owner: Owner | None = None  # the watchdog whose statement runs now
        # The same server, database, role and password as the session: a role may terminate
        # its own backends without any privilege.
        params = dict(conn.info.dsn_parameters)
        if conn.info.password:
            params["password"] = conn.info.password
        params["connect_timeout"] = str(SIDE_CONNECT_TIMEOUT_S)
        timeout = f"-c statement_timeout={SIDE_CONNECT_TIMEOUT_S * 1000}"
        params["options"] = f"{params.get('options') or ''} {timeout}".strip()
        self._side_params = params

    def begin(self, owner: Owner) -> None:
        """A statement starts (on the connection's own thread): the steps act for `owner`."""
        with self._cancel_lock:
            self._owner = owner
            if not self._cancel and self._fd is not None:
                self._cancel = self._lib.PQgetCancel(self._conn.pgconn_ptr)

    def end(self, owner: Owner) -> None:
        """The statement ended: a late step of its watchdog does nothing to the next one."""
        with self._cancel_lock:
            if self._owner is owner:
                self._owner = None

    def cancel(self, owner: Owner) -> None:
        """PQcancel with a cancel object of our own: psycopg2 frees its own when the
        connection closes, which may be while a cancel sent into a dead network still waits."""
        with self._cancel_lock:
            if self._owner is not owner:
                return
            handle, self._cancel = self._cancel, None
        if not handle:
            return
        try:
            self._lib.PQcancel(handle, ctypes.create_string_buffer(256), 256)
        finally:
            self._lib.PQfreeCancel(handle)

    def release(self) -> None:
        """Free the cancel object and the duplicate socket: the connection is done with."""
        with self._cancel_lock:
            handle, self._cancel = self._cancel, None
        if handle:
            self._lib.PQfreeCancel(handle)
        with self._socket_lock:
            fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)

    def terminate(self, owner: Owner) -> None:
        """pg_terminate_backend from a short-lived connection of its own."""
        if self._owner is not owner:
            return
        side = psycopg2.connect(**self._side_params)
        try:
            side.autocommit = True
            with side.cursor() as cur:
                cur.execute("SELECT pg_terminate_backend(%s)", (self.backend_pid,))
        finally:
            side.close()

    def shut_down(self, owner: Owner) -> None:
        """Shut the connection's socket down: libpq's wait for an answer returns at once."""
        with self._socket_lock:
            if self._fd is None or self._owner is not owner:
                return
            # shutdown(2) on the socket itself, through a socket object on a second duplicate
            # (closing that object must leave our descriptor for release()).
            # OSError: the other side closed it already.
            with contextlib.suppress(OSError), socket.socket(fileno=os.dup(self._fd)) as sock:
                sock.shutdown(socket.SHUT_RDWR)
