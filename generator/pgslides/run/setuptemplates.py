"""Setup templates a build keeps track of: which decks get one, who makes it (in one of the
decks' slots), and which stay between `mkdocs serve` rebuilds (run.templates makes them).

In one build, a template is made for a setup that two decks or more run with; under
`mkdocs serve` (`keep`), for every deck's setup, and the most recently used stay between
rebuilds, so an edited deck starts from its setup's clone. A kept template is looked for on
the server once per build before it is used: one dropped meanwhile is made again.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from contextlib import AbstractContextManager
from typing import Any, Protocol

import psycopg2

from pgslides.run.admin import Admin
from pgslides.run.database import DatabaseError, DeckDatabase, SessionSettings
from pgslides.run.execute import RunLimits
from pgslides.run.setupfiles import SetupFile
from pgslides.run.templates import Drop, Template, make_template


class Maker(Protocol):
    """How a deck makes its setup's template, and tells whether a kept one is still there."""

    def __call__(self) -> tuple[Template, Drop] | None: ...

    def still_there(self, template: Template) -> bool: ...


class TemplateMaker:
    """A Maker for one deck: the setup runs in one of the decks' slots (it holds a connection
    as a deck does, which `jobs` was bounded by), as the deck's setup would."""

    def __init__(
        self,
        admin: Admin,
        key: str,
        *,
        setup: tuple[SetupFile, ...],
        pinned: tuple[SessionSettings, RunLimits],
        running: Callable[[DeckDatabase], AbstractContextManager[Any]],
        slots: AbstractContextManager[Any],
    ) -> None:
        self.admin, self.key, self.setup, self.pinned = admin, key, setup, pinned
        self.running, self.slots = running, slots

    def __call__(self) -> tuple[Template, Drop] | None:
        with self.slots:
            return make_template(self.admin, self.key, self.setup, self.pinned, self.running)

    def still_there(self, template: Template) -> bool:
        try:
            found = self.admin.rows(
                "SELECT 1 FROM pg_database WHERE datname = %s", (template.name,)
            )
        except (DatabaseError, psycopg2.Error):
            return False
        return bool(found)


class SetupTemplates:
    """One build's templates: one per setup that two decks or more of the build run with, made
    by the first deck that needs it while the others wait, dropped when the decks are done.

    With `keep` (`mkdocs serve`), every deck's setup gets a template, and the `keep` most
    recently used stay between builds: a rebuild after an edit starts the edited deck from a
    clone, not from running its setup again. A setup that could not make one is not tried again
    (an edit of it is another key). What stays is dropped by close()."""

    def __init__(self, keep: int = 0) -> None:
        self.keep = keep
        self._lock = threading.Lock()
        self._shared: set[str] = set()
        self._made: dict[str, Future[Template | None]] = {}
        self._drops: dict[str, Drop] = {}
        self._used: dict[str, int] = {}  # key: the last build that used it
        self._build = 0
        self._current: set[str] = set()  # keys made, or kept ones found still there, this build

    def plan(self, keys: Iterable[str | None]) -> None:
        """The template keys of the decks this build runs: only shared ones get a template,
        unless templates are kept (then every one does)."""
        counts = Counter(key for key in keys if key is not None)
        with self._lock:
            self._build += 1
            self._current = set()
            least = 1 if self.keep else 2
            self._shared = {key for key, count in counts.items() if count >= least}

    def source(self, key: str | None, make: Maker) -> Template | None:
        """The template for `key`, made now by `make` if no deck made it yet; None: the deck
        runs its setup itself."""
        if key is None:
            return None
        with self._lock:
            if key not in self._shared:
                return None
            self._used[key] = self._build
            future = self._made.get(key)
            if future is not None and key not in self._current:  # kept from an earlier build
                self._current.add(key)
                kept = future.result()  # done: that build waited for it
                if kept is not None and not make.still_there(kept):
                    self._drops.pop(key, None)  # dropped by someone else: made again, below
                    future = None
            if future is not None:
                mine = False
            else:
                mine, future = True, Future()
                self._made[key] = future
                self._current.add(key)
        if not mine:
            return future.result()
        made = None
        try:
            made = make()
        finally:
            if made is not None:
                with self._lock:
                    self._drops[key] = made[1]
            future.set_result(None if made is None else made[0])
        return None if made is None else made[0]

    def finish(self) -> list[Drop]:
        """The drops of the templates the build's decks are done with: all of them, or, when
        templates are kept, those past the `keep` most recently used."""
        with self._lock:
            self._shared = set()
            if not self.keep:
                return self._forget(list(self._made))
            ranked = sorted(self._drops, key=lambda key: self._used.get(key, 0), reverse=True)
            return self._forget(ranked[self.keep :])

    def close(self) -> list[Drop]:
        """The drops of every template still kept: nothing will use them again."""
        with self._lock:
            return self._forget(list(self._made))

    def _forget(self, keys: list[str]) -> list[Drop]:
        drops = []
        for key in keys:
            self._made.pop(key, None)
            self._used.pop(key, None)
            drop = self._drops.pop(key, None)
            if drop is not None:
                drops.append(drop)
        return drops
