"""Whether a deck's stored outcome is current: same inputs, same server (or none reachable),
or a failure kept from an earlier build of this process."""

from __future__ import annotations

import threading
from dataclasses import replace

from pgslides.cache import (
    CacheEntry,
    ResultCache,
    ServerIdentity,
    UnreadableCacheError,
    changed_inputs,
    key_of_inputs,
)
from pgslides.errors import Problem
from pgslides.outcome import DeckResult
from pgslides.parse.deck import Deck
from pgslides.run.database import DatabaseError
from pgslides.run.identity import Unreachable, embedded_version, probe_url


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
