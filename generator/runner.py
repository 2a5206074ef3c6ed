"""The core both adapters share: a server kept for the process, decks run on it, their problems."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

from generator.database import (
    DatabaseError,
    DeckDatabase,
    EmbeddedServer,
    Server,
    SessionSettings,
    mask_password,
    server_from_url,
)
from generator.deck import Deck, DeckError
from generator.execute import ExecutionError, RunLimits, SetupFile, run_deck
from generator.outcome import DeckOutcome


@dataclass(frozen=True)
class RunSettings:
    """What the configuration says about running decks (mkdocs.yml or the command line)."""

    database_url: str = ""
    isolation: str = "database"
    statement_timeout_ms: int = 10_000
    max_rows: int = 20


class DeckRunError(Exception):
    """A deck could not run at all or not to its end: one `file:line: message` line."""


class Runner:
    """Runs decks; starts the server on the first deck that needs it and keeps it until close()."""

    def __init__(self, settings: RunSettings) -> None:
        self.settings = settings
        self._server: Server | None = None
        self._embedded: EmbeddedServer | None = None

    def server(self) -> Server:
        if self._server is None:
            if self.settings.database_url:
                self._server = server_from_url(self.settings.database_url)
            else:
                self._embedded = EmbeddedServer()
                self._server = self._embedded.start()
        return self._server

    def run(self, deck: Deck, deck_file: Path) -> DeckOutcome:
        """Run one deck in its own database (or schema); raises DeckRunError, never a traceback."""
        setup = read_setup_files(deck, deck_file)
        isolation = deck.settings.isolation or self.settings.isolation
        limits = RunLimits(
            max_rows=_first_set(deck.settings.max_rows, self.settings.max_rows),
            statement_timeout_ms=_first_set(
                deck.settings.statement_timeout_ms, self.settings.statement_timeout_ms
            ),
        )
        session = SessionSettings(
            statement_timeout_ms=limits.statement_timeout_ms,
            lock_timeout_ms=limits.statement_timeout_ms,
            timezone=deck.settings.timezone or "UTC",
        )
        try:
            server = self.server()
            with DeckDatabase(server, Path(deck.path).stem, isolation, session) as db:
                return run_deck(deck, db, limits, setup)
        except DatabaseError as error:
            # A setup problem, not the deck's: say it as one sentence without a file:line.
            raise DatabaseError(mask_password(str(error), self._server)) from None
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


def deck_problems(deck: Deck, outcome: DeckOutcome) -> list[str]:
    """Every `file:line: message` problem of a run, in file order."""
    problems = list(outcome.problems)
    problems.extend(
        f"{deck.path}:{block.line}: {block.problem}" for block in outcome.blocks if block.problem
    )
    return problems


def _first_set(value: int | None, default: int) -> int:
    return default if value is None else value
