"""Errors as data, in two tiers: a setup problem stops the build; a deck's problem has a line.

- `SetupError`: nothing can be built as configured (no server reachable, an option that
  cannot work). One sentence that names the fix, no file:line; the build stops before any
  page and the command line exits 2.
- `DeckError`: bad input in one deck (a bad option, a block that did not end as expected).
  It carries the file and line; the page shows it, and `on_error` decides whether the build
  fails.
- `Problem`: how both travel between stages and to the adapters, as a plain record whose tier
  is a field, never recovered from its text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning", "info"]  # info: a line in the log, never a failure


@dataclass(frozen=True)
class Problem:
    """Something a build reports: an error fails it (per `on_error`), a warning is logged."""

    message: str
    path: str | None = None  # the deck as messages name it, e.g. slides/talk.md
    line: int | None = None  # 1-based line in that file
    severity: Severity = "error"

    def __str__(self) -> str:
        if self.path is None:
            return self.message
        return f"{self.path}:{self.line or 1}: {self.message}"


class PgSlidesError(Exception):
    """The base of every error pgslides raises on purpose; anything else is a bug."""


class SetupError(PgSlidesError):
    """The build cannot work as configured: one sentence naming the fix."""


class DeckError(PgSlidesError):
    """Bad input in a deck: carries the file and 1-based line it is about."""

    def __init__(self, path: str, line: int, message: str) -> None:
        super().__init__(f"{path}:{line}: {message}")
        self.path = path
        self.line = line
        self.message = message

    @property
    def problem(self) -> Problem:
        return Problem(self.message, self.path, self.line)
