"""The core both adapters share: a server kept for the process, decks run on it, their problems."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from pgslides import __version__
from pgslides.cache import CacheKeyParts, ResultCache, UnreadableCacheError, cache_key
from pgslides.outcome import DeckOutcome
from pgslides.parse.deck import Deck, DeckError
from pgslides.render.fit import fit_problems
from pgslides.run.database import (
    DatabaseError,
    DeckDatabase,
    EmbeddedServer,
    Server,
    SessionSettings,
    mask_password,
    server_from_url,
)
from pgslides.run.execute import ExecutionError, RunLimits, SetupFile
from pgslides.run.timeline import run_deck


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


@dataclass(frozen=True)
class DeckResult:
    """A deck's outcome and how it was had."""

    outcome: DeckOutcome
    cached: bool
    seconds: float
    warnings: tuple[str, ...] = field(default=())


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

    def outcomes(self, decks: list[tuple[Deck, Path]]) -> dict[str, DeckResult | Exception]:
        """Every deck's result (or the DeckRunError, DeckError or DatabaseError it ended in),
        decks running concurrently.

        Each deck has its own database and connections, so running them at once gives the
        same outcomes as running them one by one; psycopg2 lets other threads run while one
        waits for the server.
        """
        self._stop.clear()  # a runner outlives builds under `mkdocs serve`
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

        A cached outcome needs no server: a build whose decks are all cached contacts none.
        Outcomes with problems are not stored, so a failing deck runs again next time.
        """
        started = time.perf_counter()
        setup = read_setup_files(deck, deck_file)
        key = self._key(deck, setup)
        warnings: list[str] = []
        if self.cache is not None and not self.settings.refresh:
            try:
                cached = self.cache.load(deck, key)
            except UnreadableCacheError as warning:
                cached = None
                warnings.append(str(warning))
            if cached is not None:
                return DeckResult(cached, True, time.perf_counter() - started, tuple(warnings))
        outcome = self.run(deck, setup)
        if self.cache is not None and self.settings.store and not deck_problems(deck, outcome):
            try:
                self.cache.store(deck, key, outcome)
            except OSError as error:
                warnings.append(f"{self.cache.file_for(deck)}: cannot store the outcome: {error}")
        return DeckResult(outcome, False, time.perf_counter() - started, tuple(warnings))

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
        return self.cache.load(deck, self._key(deck, setup))

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

    def _key(self, deck: Deck, setup: tuple[SetupFile, ...]) -> str:
        return cache_key(deck, self._key_parts(deck, setup))

    def _key_parts(self, deck: Deck, setup: tuple[SetupFile, ...]) -> CacheKeyParts:
        isolation, limits, timezone = self._effective(deck)
        database = None
        if isolation == "none":
            # Decks that read existing data depend on which database it is (never its password).
            url = self.settings.database_url
            database = server_from_url(url).identity() if url else "embedded"
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
            database=database,
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
