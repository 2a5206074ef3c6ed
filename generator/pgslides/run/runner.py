"""Decks run on a server kept for the process, or found current in the cache."""

from __future__ import annotations

import concurrent.futures
import contextlib
import os
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeAlias

from pgslides.cache import ResultCache, key_of_inputs
from pgslides.errors import DeckError, Problem
from pgslides.outcome import DeckOutcome, DeckResult
from pgslides.parse.deck import Deck
from pgslides.report import deck_problems
from pgslides.run.aftercare import Aftercare, drop_places
from pgslides.run.buildserver import BuildServer, DeckRunError, connections_per_deck, deck_errors
from pgslides.run.database import DatabaseError, Server, SessionSettings
from pgslides.run.execute import ConnectionLostError, RunLimits
from pgslides.run.freshness import Freshness, ToRun, deck_inputs
from pgslides.run.housekeeping import Dropper
from pgslides.run.identity import identity_of
from pgslides.run.runsettings import RunSettings, limits_of
from pgslides.run.setupfiles import SetupFile
from pgslides.run.setuptemplates import SetupTemplates, TemplateMaker
from pgslides.run.templates import template_key
from pgslides.run.timeline import run_deck
from pgslides.run.watchdog import RunningPlaces
from pgslides.settings import DeckPlan, deck_plan

# What begin() hands back for a deck: its result or error at once, or the future of its run.
Begun: TypeAlias = "DeckResult | Exception | ToRun | Future[DeckResult | Exception]"


class Runner:
    """Runs decks; starts the server on the first deck that needs it and keeps it until close()."""

    def __init__(self, settings: RunSettings) -> None:
        self.settings = settings
        self.place = BuildServer(settings.database_url)
        self._connections_per_deck = 2
        self.notes: list[Problem] = []  # about the build, not one deck: for its log
        self.cache = ResultCache(settings.cache_dir) if settings.cache_dir else None
        self._stop = threading.Event()  # set while an interrupted build winds down
        self._running = RunningPlaces()  # decks running now, to cancel on interrupt
        self.templates = SetupTemplates(settings.keep_templates)
        self._dropper: Dropper | None = None  # while begin()'s decks run
        self._futures: list[Future[DeckResult | Exception]] = []  # begin()'s runs
        self._making = threading.Semaphore(self.jobs)  # decks' places made at once
        self.aftercare = Aftercare()  # the decks' places dropped while the pages render
        self.freshness = Freshness(
            self.cache, settings.database_url, settings.refresh, settings.keep_failed
        )

    def outcomes(self, decks: list[tuple[Deck, Path]]) -> dict[str, DeckResult | Exception]:
        """Every deck's result (or the DeckRunError, DeckError or DatabaseError it ended in),
        decks running concurrently; begin(), then each result waited for."""
        begun = self.begin(decks)
        try:
            return {path: self.wait(item) for path, item in begun.items()}
        except BaseException:  # Ctrl-C or SIGTERM: stop the decks, their places dropped
            self.interrupt()
            self.notes.extend(self.settle())
            raise

    def begin(self, decks: list[tuple[Deck, Path]]) -> dict[str, Begun]:
        """Each deck's result when it need not run (or the error that stops it), else the
        future of its run: the decks run in threads while the caller renders the pages of
        those already done (wait() for one).

        Each deck has its own database and connections, so running them at once gives the
        same outcomes as running them one by one; psycopg2 lets other threads run while one
        waits for the server. Decks that share a setup start from one template of it
        (run.templates); once all have run, their places are dropped together in the
        background (Aftercare), and settle() waits for that.
        """
        self.notes.extend(self.settle())  # a build that ended early never waited for its drops
        self._stop.clear()  # a runner outlives builds under `mkdocs serve`; its decks are done
        self.freshness.new_build()
        self._connections_per_deck = connections_per_deck([deck for deck, _file in decks])
        begun: dict[str, Begun] = {}
        for deck, deck_file in decks:
            try:
                begun[deck.path] = self._decide(deck, deck_file)
            except (DeckError, DatabaseError) as error:
                begun[deck.path] = error
        todo = [item for item in begun.values() if isinstance(item, ToRun)]
        if not todo:
            return begun  # a server started early (prestart) is stopped by close()
        self.templates.plan(item.template for item in todo)
        self._dropper = Dropper(self.jobs * 2)
        self.place.decks_running(True)
        # Twice `jobs` threads: half make their deck's place while the others run.
        pool = ThreadPoolExecutor(max_workers=max(1, min(2 * self.jobs, len(todo))))
        self._futures = futures = []
        try:
            for item in todo:
                futures.append(pool.submit(self._run_caught, item))
                begun[item.deck.path] = futures[-1]
        finally:  # also on Ctrl-C meanwhile: the decks handed over stop, their places dropped
            pool.shutdown(wait=False)  # its threads end with the last deck
            if len(futures) < len(todo):
                self.interrupt()
            self.aftercare.start(lambda: self._after_decks(todo[: len(futures)], futures))
        return begun

    @staticmethod
    def wait(begun: Begun) -> DeckResult | Exception:
        """A deck's result, once its run (if it had to run) has ended."""
        if isinstance(begun, Future):
            return begun.result()
        assert not isinstance(begun, ToRun)  # begin() hands every one to the pool
        return begun

    def _after_decks(self, todo: list[ToRun], futures: list[Future[Any]]) -> list[Problem]:
        """Once every deck has run (or was cancelled): drop their places, then stop the server
        when nothing after this build needs it."""
        concurrent.futures.wait(futures)
        # A deck run after these (Runner.outcome) drops its own place at once.
        dropper, self._dropper = self._dropper, None
        found = drop_places(self.place, self.templates, todo, dropper)
        if self.settings.stop_when_done:
            self.place.close()  # a later deck (a CLI's) starts it again
        return found

    def settle(self) -> list[Problem]:
        """Wait for the last build's drops; what could not be dropped, one warning each."""
        return self.aftercare.settle()

    @property
    def jobs(self) -> int:
        """Decks run at once, as configured (0: one per CPU), before the server bounds it."""
        return self.settings.jobs or os.cpu_count() or 1

    def interrupt(self) -> None:
        """Cancel every running statement; the decks stop at once and drop their databases."""
        self._stop.set()
        for future in self._futures:
            future.cancel()  # decks not begun yet never begin
        self._running.cancel_all()

    def outcome(self, deck: Deck, deck_file: Path) -> DeckResult:
        """The deck's outcome from the cache when it is current, else from running it.

        A stored outcome is current when nothing it depends on changed and it was made by the
        configured server, or that server cannot be reached (a frozen build). Learning which
        server is configured costs no server start: the embedded one's version is its binary's,
        a URL's one short connection per build (and none when no stored outcome could be used).
        Outcomes with problems are not stored, so a failing deck runs again next time (within a
        process with keep_failed, not before something it depends on changes).
        """
        self.notes.extend(self.settle())  # the server a build let go is started again
        decided = self._decide(deck, deck_file)
        if isinstance(decided, Exception):
            raise decided
        if isinstance(decided, DeckResult):
            return decided
        try:
            result = self._run_todo(decided)
        except BaseException:
            self.notes.extend(decided.said())
            raise
        return replace(result, warnings=result.warnings + decided.said())

    def _decide(self, deck: Deck, deck_file: Path) -> DeckResult | Exception | ToRun:
        """The deck's result when it need not run, else what running it needs."""
        plan = self._plan(deck)
        decided = self.freshness.decide(deck, deck_file, plan)
        if isinstance(decided, ToRun) and plan.isolation == "database":
            sqls = (block.sql for block in deck.blocks if block.language == "sql")
            if not deck.settings.superuser:
                decided.template = template_key(decided.setup, *self._limits(deck), sqls)
        return decided

    def _run_caught(self, todo: ToRun) -> DeckResult | Exception:
        try:
            return self._run_todo(todo)
        except (DeckRunError, DeckError, DatabaseError) as error:
            return error

    def _run_todo(self, todo: ToRun) -> DeckResult:
        """Run a deck that must run; store its outcome when it ran as expected."""
        started = time.perf_counter()
        try:
            outcome = self.run(todo.deck, todo.setup, todo.leftovers, todo.template)
        except (DeckRunError, DeckError) as error:
            # A setup file that times out must not cost every serve rebuild its time again;
            # a lost connection or an interrupt is worth another try.
            if not (self._stop.is_set() or isinstance(error.__cause__, ConnectionLostError)):
                self.freshness.remember(todo.deck, todo.key, error)
            raise
        server = identity_of(self.settings.database_url, outcome)
        failed = bool(deck_problems(todo.deck, outcome))
        seconds = time.perf_counter() - started
        return self.freshness.record(
            todo, outcome, server, failed=failed, seconds=seconds, store=self.settings.store
        )

    def mask(self, text: str) -> str:
        """text with the database password masked: server messages may quote what a deck sent."""
        return self.place.mask(text)

    def stored(self, deck: Deck, deck_file: Path) -> DeckOutcome | None:
        """The cached outcome for the deck as it is now, without running anything."""
        if self.cache is None:
            return None
        _setup, inputs = self._inputs(deck, deck_file)
        return self.cache.load(deck, key_of_inputs(inputs))

    def _inputs(self, deck: Deck, deck_file: Path) -> tuple[tuple[SetupFile, ...], dict[str, str]]:
        return deck_inputs(deck, deck_file, self._plan(deck))

    def _plan(self, deck: Deck) -> DeckPlan:
        s = self.settings
        return deck_plan(deck.settings, s.isolation, s.max_rows, s.statement_timeout_ms)

    def _limits(self, deck: Deck) -> tuple[SessionSettings, RunLimits]:
        return limits_of(self._plan(deck))

    def server(self) -> Server:
        return self.place.start()

    def run(
        self,
        deck: Deck,
        setup: tuple[SetupFile, ...],
        leftovers: list[str] | None = None,
        template_key: str | None = None,
    ) -> DeckOutcome:
        """Run one deck in its own database (or schema); raises DeckRunError, never a traceback.

        What the deck left that could not be dropped is added to `leftovers`, one warning each
        (when the build's decks are done: begin()'s aftercare). With a `template_key` two decks
        of the build share, the deck starts from a clone of its setup's template (run.templates).
        """
        leftovers = [] if leftovers is None else leftovers
        if not deck.blocks and not setup:
            return DeckOutcome(blocks=())  # nothing to run: no server needed
        plan = self._plan(deck)
        session, limits = self._limits(deck)
        with deck_errors(deck, plan.timezone, self.place):
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
            made = TemplateMaker(
                admin,
                template_key or "",
                setup=setup,
                pinned=(session, limits),
                running=self._running,
                slots=slots,
            )
            template = self.templates.source(template_key, made)
            place = housekeeper.deck(
                Path(deck.path).stem,
                plan.isolation,
                session,
                superuser=deck.settings.superuser,
                warnings=leftovers,
                sql_text="\n".join(
                    [*(block.sql for block in deck.blocks), *(s.sql for s in setup)]
                ),
                template=template,
                later=self._dropper,
            )
            # The place is made before a slot is free: making it (I/O, mostly) overlaps the
            # decks that run; only running takes one of the `jobs` slots. At most `jobs` are
            # made at once, so the first decks' places (the first pages) come first.
            with contextlib.ExitStack() as stack:
                with self._making:
                    db = stack.enter_context(place)
                stack.enter_context(slots)
                stack.enter_context(self._running(db))
                return run_deck(deck, db, limits, () if template else setup, stop=self._stop)

    def close(self) -> list[str]:
        """Drop the setup templates kept between builds, then stop the embedded server if this
        runner started it; safe to call twice. What could not be dropped, one warning each."""
        said: list[str] = []
        try:
            if not self.aftercare.idle():
                self.interrupt()  # a build stopped by an error: its other decks end now
            said += [str(problem) for problem in self.settle()]
            for drop in self.templates.close():
                said.extend(drop())
        finally:
            self.place.close()  # whatever happened above: no server left running
        return said
