"""Decks run on a server kept for the process, or found current in the cache."""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import psycopg2

from pgslides import __version__
from pgslides.cache import (
    CacheKeyParts,
    ResultCache,
    cache_inputs,
    key_of_inputs,
)
from pgslides.errors import DeckError, Problem
from pgslides.outcome import DeckOutcome, DeckResult
from pgslides.parse.deck import Deck
from pgslides.report import deck_problems
from pgslides.run.buildserver import BuildServer, connections_per_deck
from pgslides.run.database import (
    DatabaseError,
    DeckDatabase,
    Server,
    SessionSettings,
    mask_password,
    server_from_url,
)
from pgslides.run.execute import (
    ConnectionLostError,
    ExecutionError,
    RunLimits,
)
from pgslides.run.freshness import Freshness
from pgslides.run.identity import identity_of, python_libraries
from pgslides.run.setupfiles import SetupFile, read_setup_files
from pgslides.run.timeline import run_deck
from pgslides.settings import PLUGIN_DEFAULTS, DeckPlan, deck_plan


@dataclass(frozen=True)
class RunSettings:
    """What the configuration says about running decks (mkdocs.yml or the command line)."""

    database_url: str = PLUGIN_DEFAULTS["database_url"]
    isolation: str = PLUGIN_DEFAULTS["isolation"]
    statement_timeout_ms: int = PLUGIN_DEFAULTS["statement_timeout"]
    max_rows: int = PLUGIN_DEFAULTS["max_rows"]
    cache_dir: Path | None = None  # None: no result cache
    refresh: bool = False  # run every deck even when its cached outcome is current
    store: bool = True  # write outcomes to the cache (a drift check must not)
    jobs: int = 0  # decks run at once; 0: one per CPU
    # Keep a failed outcome in memory (never in the cache) until something it depends on
    # changes: under `mkdocs serve`, so a prose edit elsewhere does not run it again.
    keep_failed: bool = False


_BAD_TIMEZONE = 'invalid value for parameter "TimeZone"'


class DeckRunError(DeckError):
    """A deck could not run to its end: its ExecutionError, the password masked."""


class Runner:
    """Runs decks; starts the server on the first deck that needs it and keeps it until close()."""

    def __init__(self, settings: RunSettings) -> None:
        self.settings = settings
        self.place = BuildServer(settings.database_url)
        self._connections_per_deck = 2
        self.notes: list[Problem] = []  # about the build, not one deck: for its log
        self.cache = ResultCache(settings.cache_dir) if settings.cache_dir else None
        self._stop = threading.Event()  # set while an interrupted build winds down
        self._active: set[DeckDatabase] = set()  # decks running now, to cancel on interrupt
        self._active_lock = threading.Lock()
        self.freshness = Freshness(
            self.cache, settings.database_url, settings.refresh, settings.keep_failed
        )

    def outcomes(self, decks: list[tuple[Deck, Path]]) -> dict[str, DeckResult | Exception]:
        """Every deck's result (or the DeckRunError, DeckError or DatabaseError it ended in),
        decks running concurrently.

        Each deck has its own database and connections, so running them at once gives the
        same outcomes as running them one by one; psycopg2 lets other threads run while one
        waits for the server.
        """
        self._stop.clear()  # a runner outlives builds under `mkdocs serve`
        self.freshness.new_build()
        self._connections_per_deck = connections_per_deck([deck for deck, _file in decks])

        def one(item: tuple[Deck, Path]) -> DeckResult | Exception:
            try:
                return self.outcome(*item)
            except (DeckRunError, DeckError, DatabaseError) as error:
                return error

        with ThreadPoolExecutor(max_workers=max(1, min(self.jobs, len(decks)))) as pool:
            futures = [pool.submit(one, item) for item in decks]
            try:
                results = [future.result() for future in futures]
            except BaseException:  # Ctrl-C or SIGTERM: stop the decks before the pool waits
                for future in futures:
                    future.cancel()
                self.interrupt()
                raise
        return {deck.path: result for (deck, _file), result in zip(decks, results, strict=True)}

    @property
    def jobs(self) -> int:
        """Decks run at once, as configured (0: one per CPU), before the server bounds it."""
        return self.settings.jobs or os.cpu_count() or 1

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
        setup, inputs = self._inputs(deck, deck_file)
        key = key_of_inputs(inputs)
        kept = self.freshness.kept(deck, key)
        if isinstance(kept, Exception):
            raise kept
        if kept is not None:
            return replace(kept, seconds=time.perf_counter() - started)
        warnings: list[Problem] = []
        found = self.freshness.stored(deck, inputs, warnings)
        if isinstance(found, DeckResult):
            return replace(found, seconds=time.perf_counter() - started)
        leftovers: list[str] = []
        try:
            outcome = self.run(deck, setup, leftovers)
        except (DeckRunError, DeckError) as error:
            self.notes.extend(Problem(text, deck.path, 1, "warning") for text in leftovers)
            # A setup file that times out must not cost every serve rebuild its time again;
            # a lost connection or an interrupt is worth another try.
            if not (self._stop.is_set() or isinstance(error.__cause__, ConnectionLostError)):
                self.freshness.remember(deck, key, error)
            raise
        warnings.extend(Problem(text, deck.path, 1, "warning") for text in leftovers)
        server = identity_of(self.settings.database_url, outcome)
        failed = bool(deck_problems(deck, outcome))
        if self.cache is not None and self.settings.store and not failed:
            try:
                self.cache.store(deck, inputs, outcome, server)
            except OSError as error:
                message = f"{self.cache.file_for(deck)}: cannot store the outcome: {error}"
                warnings.append(Problem(message, severity="warning"))
        result = DeckResult(
            outcome,
            cached=False,
            seconds=time.perf_counter() - started,
            warnings=tuple(warnings),
            run_reason=found,
            made_by=server.describe() if server else "",
        )
        self.freshness.remember(deck, key, result if failed else None)
        return result

    def mask(self, text: str) -> str:
        """text with the database password masked: server messages may quote what a deck sent."""
        if not self.settings.database_url:
            return text
        try:
            server = self.place.server or server_from_url(self.settings.database_url)
            return mask_password(text, server)
        except DatabaseError:
            return text  # a URL that does not parse has no password to hide; its error says so

    def stored(self, deck: Deck, deck_file: Path) -> DeckOutcome | None:
        """The cached outcome for the deck as it is now, without running anything."""
        if self.cache is None:
            return None
        _setup, inputs = self._inputs(deck, deck_file)
        return self.cache.load(deck, key_of_inputs(inputs))

    def _inputs(self, deck: Deck, deck_file: Path) -> tuple[tuple[SetupFile, ...], dict[str, str]]:
        """The deck's setup files, and the hashed inputs its outcome depends on."""
        setup = read_setup_files(deck, deck_file)
        return setup, cache_inputs(deck, self._key_parts(deck, setup))

    def _plan(self, deck: Deck) -> DeckPlan:
        s = self.settings
        return deck_plan(deck.settings, s.isolation, s.max_rows, s.statement_timeout_ms)

    def _key_parts(self, deck: Deck, setup: tuple[SetupFile, ...]) -> CacheKeyParts:
        plan = self._plan(deck)
        return CacheKeyParts(
            package_version=__version__,
            isolation=plan.isolation,
            timezone=plan.timezone,
            max_rows=plan.max_rows,
            statement_timeout_ms=plan.statement_timeout_ms,
            superuser=deck.settings.superuser,
            python_libraries=python_libraries() if deck.has_python else "",
            # Named as the deck names them, so the key is the same wherever the build runs.
            setup=tuple(
                (name, item.sql) for name, item in zip(deck.settings.setup, setup, strict=True)
            ),
        )

    def server(self) -> Server:
        return self.place.start()

    def run(
        self, deck: Deck, setup: tuple[SetupFile, ...], leftovers: list[str] | None = None
    ) -> DeckOutcome:
        """Run one deck in its own database (or schema); raises DeckRunError, never a traceback.

        What the deck left that could not be dropped is added to `leftovers`, one warning each."""
        leftovers = [] if leftovers is None else leftovers
        if not deck.blocks and not setup:
            return DeckOutcome(blocks=())  # nothing to run: no server needed
        plan = self._plan(deck)
        limits = RunLimits(max_rows=plan.max_rows, statement_timeout_ms=plan.statement_timeout_ms)
        session = SessionSettings(
            statement_timeout_ms=plan.statement_timeout_ms,
            lock_timeout_ms=plan.statement_timeout_ms,
            timezone=plan.timezone,
        )
        try:
            housekeeper, slots = self.place.housekeeping(
                self.jobs, self._connections_per_deck, self.notes
            )
            admin = housekeeper.admin
            if deck.settings.superuser and not (admin.server.private or admin.superuser):
                raise DeckError(
                    deck.path,
                    deck.settings.superuser_line,
                    f"the deck needs a superuser (superuser: true), and {admin.role} "
                    f"on {admin.server.label} is not one",
                )
            place = housekeeper.deck(
                Path(deck.path).stem,
                plan.isolation,
                session,
                superuser=deck.settings.superuser,
                warnings=leftovers,
                sql_text="\n".join(
                    [*(block.sql for block in deck.blocks), *(s.sql for s in setup)]
                ),
            )
            with slots, place as db:
                with self._active_lock:
                    self._active.add(db)
                try:
                    return run_deck(deck, db, limits, setup, stop=self._stop)
                finally:
                    with self._active_lock:
                        self._active.discard(db)
        except psycopg2.Error as error:
            # pgslides' own statements (a catalog read, a CREATE) failed: the server's trouble.
            reason = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
            message = mask_password(reason, self.place.server)
            raise DatabaseError(f"the server refused what pgslides asked: {message}") from None
        except DatabaseError as error:
            message = mask_password(str(error), self.place.server)
            if _BAD_TIMEZONE in message:
                # The server is fine; the deck named a zone it does not know.
                raise DeckError(
                    deck.path,
                    deck.settings.timezone_line,
                    f"unknown time zone {plan.timezone!r}; use a name from pg_timezone_names, "
                    "e.g. Europe/Paris",
                ) from None
            # A setup problem, not the deck's: say it as one sentence without a file:line.
            raise DatabaseError(message) from None
        except ExecutionError as error:
            message = mask_password(error.message, self.place.server)
            # Keeps the ExecutionError as its cause, so a caller can tell a lost connection.
            raise DeckRunError(error.path, error.line, message) from error

    def close(self) -> None:
        """Stop the embedded server if this runner started it; safe to call twice."""
        self.place.close()
