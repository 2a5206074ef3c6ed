"""The server a build runs on: started (or parsed from its URL) on first use, with the build's
Housekeeper and as many deck slots as the server has free connections for."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

import psycopg2

from pgslides.errors import DeckError, Problem
from pgslides.parse.deck import Deck
from pgslides.run.embedded import EmbeddedServer
from pgslides.run.execute import ExecutionError
from pgslides.run.housekeeping import Housekeeper
from pgslides.run.python import PYTHON_POOL_SIZE
from pgslides.run.server import DatabaseError, Server, mask_password, server_from_url

# Besides its sessions, a deck holds the lock monitor, the setup session, the watchdog's
# terminating connection and pgslides' own (Admin).
_CONNECTIONS_BESIDES_SESSIONS = 4


def connections_per_deck(decks: list[Deck]) -> int:
    """The most connections one of `decks` can hold at once: one per session, its Python
    blocks' pool, and pgslides' own."""
    return max(
        (
            len({block.options.session for block in deck.blocks if block.language != "python"})
            + (PYTHON_POOL_SIZE if deck.has_python else 0)
            + _CONNECTIONS_BESIDES_SESSIONS
            for deck in decks
        ),
        default=_CONNECTIONS_BESIDES_SESSIONS,
    )


class BuildServer:
    """One per Runner; under `mkdocs serve` it outlives builds, and so does the server."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self.server: Server | None = None
        self._embedded: EmbeddedServer | None = None
        self._housekeeper: Housekeeper | None = None
        self._slots: threading.Semaphore | None = None
        self._lock = threading.Lock()  # decks run in threads: start the server once
        self._url_server: Server | None = None  # the URL parsed, for masking its password
        self._starting: threading.Thread | None = None  # start_in_background's

    def start(self) -> Server:
        with self._lock:
            return self._start()

    def start_in_background(self) -> None:
        """Start the embedded server ahead of the first deck that needs it (MkDocs reads the
        site's files meanwhile); a failure is met, and said, by that deck. A URL's is up."""
        if not self.database_url:
            self._starting = threading.Thread(target=self._start_quietly, name="pgslides-prestart")
            self._starting.start()

    def _start_quietly(self) -> None:
        with contextlib.suppress(Exception):
            self.start()

    def housekeeping(
        self, jobs: int, connections_per_deck: int, notes: list[Problem]
    ) -> tuple[Housekeeper, threading.Semaphore]:
        """The Housekeeper and the deck slots, made with the server's first use: what killed
        builds left is dropped then, and `jobs` bounded by the free connections (said in notes)."""
        with self._lock:
            server = self._start()
            if self._housekeeper is None or self._slots is None:
                self._housekeeper = Housekeeper(server)
                fits = self._housekeeper.jobs(jobs, connections_per_deck)
                self._slots = threading.Semaphore(fits)
                notes.extend(self._housekeeper.notes)
            return self._housekeeper, self._slots

    def decks_running(self, running: bool) -> None:
        """While decks run, pgslides' own connections are bounded to what theirs leave."""
        if self._housekeeper is not None:
            self._housekeeper.decks_running(running)

    def mask(self, text: str) -> str:
        """text with the URL's password masked: server messages may quote what a deck sent."""
        if not self.database_url:
            return text
        if self._url_server is None:
            try:
                self._url_server = server_from_url(self.database_url)
            except DatabaseError:
                return text  # a URL that does not parse has no password to hide; its error says so
        return mask_password(text, self.server or self._url_server)

    def spare_connections(self) -> int:
        """Connections the build may open besides its decks' (0 before the first deck)."""
        return 0 if self._housekeeper is None else self._housekeeper.spare

    def close(self) -> None:
        """Stop the embedded server if this started it; safe to call twice, and from another
        thread than the one that started it."""
        starting, self._starting = self._starting, None
        if starting is not None:
            starting.join()  # a server it is starting now is stopped here, not left running
        with self._lock:
            self._close()

    def _close(self) -> None:
        if self._housekeeper is not None:
            self._housekeeper.close()
        self._housekeeper = self._slots = None
        if self._embedded is not None:
            with contextlib.suppress(Exception):
                self._embedded.stop()
        self._embedded = None
        self.server = None

    def _start(self) -> Server:
        if self.server is None:
            if self.database_url:
                self.server = server_from_url(self.database_url)
            else:
                self._embedded = EmbeddedServer()
                self.server = self._embedded.start()
        return self.server


_BAD_TIMEZONE = 'invalid value for parameter "TimeZone"'


class DeckRunError(DeckError):
    """A deck could not run to its end: its ExecutionError, the password masked."""


@contextlib.contextmanager
def deck_errors(deck: Deck, timezone: str, place: BuildServer) -> Iterator[None]:
    """What goes wrong while a deck runs, as the build says it: a setup problem (DatabaseError,
    one sentence), the deck's (DeckError at its time zone's line) or DeckRunError (file:line),
    the password masked."""
    try:
        yield
    except psycopg2.Error as error:
        # pgslides' own statements (a catalog read, a CREATE) failed: the server's trouble.
        reason = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
        message = mask_password(reason, place.server)
        raise DatabaseError(f"the server refused what pgslides asked: {message}") from None
    except DatabaseError as error:
        message = mask_password(str(error), place.server)
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
        message = mask_password(error.message, place.server)
        # Keeps the ExecutionError as its cause, so a caller can tell a lost connection.
        raise DeckRunError(error.path, error.line, message) from error
