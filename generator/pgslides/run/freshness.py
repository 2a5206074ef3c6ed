"""Whether a deck's stored outcome is current: same inputs, same server (or none reachable),
or a failure kept from an earlier build of this process."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

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
)
from pgslides.errors import Problem
from pgslides.outcome import DeckOutcome, DeckResult
from pgslides.parse.deck import Deck
from pgslides.run.database import DatabaseError
from pgslides.run.identity import Unreachable, embedded_version, probe_url, python_libraries
from pgslides.run.setupfiles import SetupFile, read_setup_files
from pgslides.settings import DeckPlan


def deck_inputs(
    deck: Deck, deck_file: Path, plan: DeckPlan
) -> tuple[tuple[SetupFile, ...], dict[str, str]]:
    """The deck's setup files, and the hashed inputs its outcome depends on."""
    setup = read_setup_files(deck, deck_file)
    parts = CacheKeyParts(
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
    return setup, cache_inputs(deck, parts)


@dataclass
class ToRun:
    """A deck whose outcome is not current, and what running it needs."""

    deck: Deck
    setup: tuple[SetupFile, ...]
    inputs: dict[str, str]
    key: str
    reason: str  # why it runs: "blocks changed", "--refresh", ...
    warnings: list[Problem]  # about its cache file
    template: str | None = None  # its setup's template key (run.templates), if any
    leftovers: list[str] = field(default_factory=list)  # what could not be dropped after it

    def said(self) -> tuple[Problem, ...]:
        """What could not be dropped after the deck, as warnings about it."""
        return tuple(Problem(text, self.deck.path, 1, "warning") for text in self.leftovers)


class Freshness:
    """Asks the cache, and the configured server who it is (once per build)."""

    def __init__(
        self, cache: ResultCache | None, database_url: str, refresh: bool, keep_failed: bool
    ) -> None:
        self.cache = cache
        self.database_url = database_url
        self.refresh = refresh
        self.keep_failed = keep_failed
        self._lock = threading.Lock()
        self._here: ServerIdentity | Unreachable | None = None  # this build's server, once asked
        self._embedded_version: str | None = None  # the embedded binaries' version, once read
        # deck path: (key, the failed result or the error the deck ended in)
        self._failed: dict[str, tuple[str, DeckResult | Exception]] = {}

    def decide(self, deck: Deck, deck_file: Path, plan: DeckPlan) -> DeckResult | Exception | ToRun:
        """The deck's result when it need not run (stored and current, or kept failed), else
        what running it needs."""
        started = time.perf_counter()
        setup, inputs = deck_inputs(deck, deck_file, plan)
        key = key_of_inputs(inputs)
        kept = self.kept(deck, key)
        if kept is not None:
            if isinstance(kept, Exception):
                return kept
            return replace(kept, seconds=time.perf_counter() - started)
        warnings: list[Problem] = []
        found = self.stored(deck, inputs, warnings)
        if isinstance(found, DeckResult):
            return replace(found, seconds=time.perf_counter() - started)
        return ToRun(deck, setup, inputs, key, found, warnings)

    def record(
        self,
        todo: ToRun,
        outcome: DeckOutcome,
        server: ServerIdentity | None,
        *,
        failed: bool,
        seconds: float,
        store: bool,
    ) -> DeckResult:
        """The result of a deck that ran; its outcome stored when it ran as expected."""
        deck, warnings = todo.deck, todo.warnings
        if self.cache is not None and store and not failed:
            try:
                self.cache.store(deck, todo.inputs, outcome, server)
            except OSError as error:
                message = f"{self.cache.file_for(deck)}: cannot store the outcome: {error}"
                warnings.append(Problem(message, severity="warning"))
        result = DeckResult(
            outcome,
            cached=False,
            seconds=seconds,
            warnings=tuple(warnings),
            run_reason=todo.reason,
            made_by=server.describe() if server else "",
        )
        self.remember(deck, todo.key, result if failed else None)
        return result

    def new_build(self) -> None:
        with self._lock:
            self._here = None  # a URL's server may have changed between two builds

    def stored(
        self, deck: Deck, inputs: dict[str, str], warnings: list[Problem]
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
        if isinstance(here, Unreachable):
            return replace(cached, frozen=here.label)
        if here == entry.server:
            return cached
        return f"server changed ({here.change_from(entry.server)})"

    def _current_entry(
        self, deck: Deck, inputs: dict[str, str], warnings: list[Problem]
    ) -> CacheEntry | str:
        """The deck's stored entry if its inputs are today's, else why the deck must run."""
        if self.refresh:
            return "--refresh"
        if self.cache is None:
            return "no cache"
        try:
            entry = self.cache.entry(deck)
        except UnreadableCacheError as warning:
            warnings.append(Problem(str(warning), severity="warning"))
            return "unreadable cache file"
        if entry is None:
            return "no stored outcome"
        if entry.key != key_of_inputs(inputs):
            return changed_inputs(entry.inputs, inputs)
        return entry

    def kept(self, deck: Deck, key: str) -> DeckResult | Exception | None:
        """The deck's failed result (or the error it ended in) of an earlier build of this
        runner, if nothing changed; a refresh runs it again all the same."""
        if not self.keep_failed or self.refresh:
            return None
        with self._lock:
            kept = self._failed.get(deck.path)
        if kept is None or kept[0] != key:
            return None
        if isinstance(kept[1], Exception):
            return kept[1]
        return replace(kept[1], cached=True, kept=True, run_reason="", warnings=())

    def remember(self, deck: Deck, key: str, failed: DeckResult | Exception | None) -> None:
        if not self.keep_failed:
            return
        with self._lock:
            if failed is None:
                self._failed.pop(deck.path, None)
            else:
                self._failed[deck.path] = (key, failed)

    def _server_identity(self) -> ServerIdentity | Unreachable:
        """Which server this build is configured for, asked once per build."""
        with self._lock:
            if self._here is None:
                self._here = self._probe()
            return self._here

    def _probe(self) -> ServerIdentity | Unreachable:
        if self.database_url:
            return probe_url(self.database_url, None)
        if self._embedded_version is None:
            try:
                self._embedded_version = embedded_version()
            except DatabaseError:
                return Unreachable("the embedded PostgreSQL")
        return ServerIdentity(kind="embedded", version=self._embedded_version)
