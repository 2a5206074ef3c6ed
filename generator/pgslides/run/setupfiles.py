"""A deck's setup files: read relative to the deck, run hidden before its first block."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pgslides.errors import DeckError
from pgslides.outcome import StatementOutcome
from pgslides.parse.deck import Deck
from pgslides.run.database import Session
from pgslides.run.execute import ExecutionError, RunLimits, run_or_explain
from pgslides.run.statements import MetaCommandError, iter_statements


@dataclass(frozen=True)
class SetupFile:
    path: str  # as messages show it
    sql: str
    source: str = ""  # the file it was read from, resolved: which decks share a setup


def read_setup_files(deck: Deck, deck_file: Path) -> tuple[SetupFile, ...]:
    """The deck's setup files, read relative to the deck; one that cannot be read (missing, a
    directory, not UTF-8) is a DeckError at the front matter line that names it."""
    files = []
    lines = deck.settings.setup_lines
    for number, relative in enumerate(deck.settings.setup):
        path = deck_file.parent / relative
        shown = str(Path(deck.path).parent / relative)
        try:
            text = path.read_text(encoding="utf-8")
            files.append(SetupFile(path=shown, sql=text, source=str(path.resolve())))
        except (OSError, UnicodeDecodeError) as error:
            line = lines[number] if number < len(lines) else 1
            if isinstance(error, UnicodeDecodeError):
                on_line = error.object[: error.start].count(b"\n") + 1
                reason = (
                    f"not UTF-8 text (byte {error.object[error.start]:#04x} on its line {on_line})"
                )
            else:
                reason = error.strerror or str(error)
            message = f"cannot read setup file {relative}: {reason}"
            raise DeckError(deck.path, line, message) from None
    return tuple(files)


def run_setup(
    setup_file: SetupFile, session: Session, limits: RunLimits, done: list[StatementOutcome]
) -> None:
    """Run a setup file's statements, hidden, appending each outcome to `done`; the first
    error stops the deck with file:line."""
    try:
        for statement in iter_statements(setup_file.sql, lambda: session.standard_strings):
            line = statement.line + 1
            outcome = run_or_explain(
                session,
                statement.text,
                setup_file.path,
                line,
                max_rows=0,
                limits=limits,
                timeout_ms=None,
            )
            done.append(outcome)
            if outcome.error is not None:
                message = outcome.error.summary()
                raise ExecutionError(setup_file.path, outcome.line, message)
    except MetaCommandError as error:
        raise ExecutionError(setup_file.path, error.line + 1, str(error)) from None
