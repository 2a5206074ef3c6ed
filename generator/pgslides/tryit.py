"""Try it: what a reader's browser needs to re-run a deck's SQL in PGlite, as plain data.

For each deck the build emits a replay: the settings its sessions were pinned to, its setup
files' statements, and every block's main-session statements as the server received them.
Replaying the blocks before block N rebuilds the state block N saw at build time; the
browser (assets/pgslides-try.js) runs the reader's edited SQL on top of that.

A block the browser cannot reproduce says why (`data-try="no"`): PGlite is one session, so
another session's block, or a main-session block that waited for another's lock, cannot run
there; nor can a deck that reads an existing database, or SQL after an extension PGlite does
not have. Earlier blocks that changed data but are not replayed (other sessions, Python) are
named, so a reader knows what the browser's state lacks.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pgslides.outcome import BlockOutcome, DeckOutcome, StatementOutcome
from pgslides.parse.blocks import Block
from pgslides.parse.deck import Deck
from pgslides.run.runsettings import RunSettings
from pgslides.run.setupfiles import read_setup_files
from pgslides.run.statements import MetaCommandError, iter_statements
from pgslides.settings import DeckPlan, deck_plan

REPLAY_FORMAT = 1
# PGlite as vendored by tools/refresh_pglite.py: its manifest names the files a browser loads.
PGLITE_DIR = Path(__file__).parent / "assets" / "pglite"
PGLITE_MANIFEST = PGLITE_DIR / "pglite.json"
MAIN = "main"
QUERY_CANCELED = "57014"  # what statement_timeout raises

# Command tags of statements that change nothing another session could see.
_READING_TAGS = frozenset({"SELECT", "SHOW", "EXPLAIN", "BEGIN", "ROLLBACK", "SET", "RESET"})
_READING_SQL = re.compile(r"^\s*(?:SELECT|SHOW|EXPLAIN|BEGIN|ROLLBACK|SET|RESET|WITH)\b", re.I)
_EXTENSION = re.compile(
    r"^\s*CREATE\s+EXTENSION\s+(?:IF\s+NOT\s+EXISTS\s+)?(\"(?:[^\"]|\"\")+\"|[\w$]+)", re.I
)
# PGlite's own build holds plpgsql; its other extensions would have to be vendored as well.
PGLITE_EXTENSIONS = frozenset({"plpgsql"})


@dataclass(frozen=True)
class TryState:
    """Whether a block's Try it button runs in the browser, and if not, why."""

    runnable: bool
    why: str | None = None


@dataclass(frozen=True)
class TryButtons:
    """A deck's Try it states, as the renderer asks for them block by block."""

    deck: str  # deck_id: names the replay file the button loads
    states: Mapping[int, TryState]

    def view(self, block: Block) -> dict[str, Any] | None:
        """What block.html needs for the block's Try it bar; None: the block has none."""
        state = self.states.get(block.index)
        if state is None:
            return None
        return {
            "runnable": state.runnable,
            "why": state.why,
            "deck": self.deck,
            "sql": block.sql.rstrip(),
        }


def deck_try(
    deck: Deck, deck_file: Path, outcome: DeckOutcome, run: RunSettings
) -> tuple[dict[str, Any], TryButtons]:
    """A deck's replay file (JSON-ready) and its blocks' Try it buttons."""
    plan = deck_plan(deck.settings, run.isolation, run.max_rows, run.statement_timeout_ms)
    setup = split_setup(file.sql for file in read_setup_files(deck, deck_file))
    states = try_states(deck, outcome, plan, setup)
    replay = deck_replay(deck, outcome, plan, setup, states)
    return replay, TryButtons(deck_id(deck.source or deck.path), states)


def masked(value: Any, mask: Callable[[str], str]) -> Any:
    """A JSON-ready value with mask applied to every string in it (a password hidden)."""
    if isinstance(value, str):
        return mask(value)
    if isinstance(value, list):
        return [masked(item, mask) for item in value]
    if isinstance(value, dict):
        return {key: masked(item, mask) for key, item in value.items()}
    return value


def pglite_files() -> list[str]:
    """The vendored PGlite files a site carries: what the manifest lists, and the licence."""
    manifest = json.loads(PGLITE_MANIFEST.read_text(encoding="utf-8"))
    return [*sorted(manifest["files"]), "LICENSE", PGLITE_MANIFEST.name]


def deck_id(src_uri: str) -> str:
    """The name a deck's replay file and buttons go by: its docs path without `.md`."""
    return src_uri.removesuffix(".md")


def session_settings(plan: DeckPlan) -> list[str]:
    """The SET statements that pin a fresh browser session as the build pinned its own
    (run/database.py's session options), so dates, intervals and floats read the same."""
    return [
        f"SET TimeZone = {_literal(plan.timezone)}",
        "SET DateStyle = 'ISO, MDY'",
        "SET IntervalStyle = 'postgres'",
        "SET extra_float_digits = 1",
        "SET client_min_messages = notice",
    ]


def split_setup(sqls: Iterable[str]) -> tuple[str, ...]:
    """Setup files' statements, split as the build split them (psql's rules)."""
    statements: list[str] = []
    for sql in sqls:
        try:
            statements.extend(statement.text for statement in iter_statements(sql, lambda: True))
        except MetaCommandError:
            break  # the build failed on it: such a deck has no page to try
    return tuple(statements)


def try_states(
    deck: Deck, outcome: DeckOutcome, plan: DeckPlan, setup: tuple[str, ...]
) -> dict[int, TryState]:
    """Every SQL block's TryState, by block index."""
    if plan.isolation == "none":
        reason = "the deck reads an existing database, which the browser does not have"
        return {block.index: TryState(False, reason) for block in _sql_blocks(deck)}
    lacking = _missing_extension(setup)
    states = {}
    for block in _sql_blocks(deck):
        block_outcome = outcome.blocks[block.index]
        # An extension the block itself makes counts from this block on.
        if lacking is None and block.options.session == MAIN:
            lacking = _missing_extension(_replayed(block, block_outcome))
        why = _why_not(block, block_outcome, lacking)
        states[block.index] = TryState(why is None, why)
    return states


def deck_replay(
    deck: Deck,
    outcome: DeckOutcome,
    plan: DeckPlan,
    setup: tuple[str, ...],
    states: Mapping[int, TryState],
) -> dict[str, Any]:
    """The replay file of a deck (JSON-ready): see the module's docstring."""
    blocks = []
    unreplayed: list[tuple[str, int]] = []  # (who, line) of earlier blocks the replay lacks
    for block in deck.blocks:
        block_outcome = outcome.blocks[block.index]
        state = states.get(block.index)
        blocks.append(
            {
                "line": block.line,
                "session": block.options.session if block.language == "sql" else block.language,
                "try": None if state is None else ("yes" if state.runnable else "no"),
                "why": None if state is None else state.why,
                "rows": plan.max_rows if block.options.rows is None else block.options.rows,
                "replay": list(_replayed(block, block_outcome)),
                "missing": missing_summary(unreplayed),
            }
        )
        who = _unreplayed_change(block, block_outcome)
        if who is not None:
            unreplayed.append((who, block.line))
    return {
        "format": REPLAY_FORMAT,
        "deck": deck.path,
        "server_version": outcome.server_version,
        "settings": session_settings(plan),
        "setup": list(setup),
        "blocks": blocks,
    }


def _sql_blocks(deck: Deck) -> list[Block]:
    return [block for block in deck.blocks if block.language == "sql"]


def _why_not(block: Block, outcome: BlockOutcome, lacking: str | None) -> str | None:
    session = block.options.session
    if session != MAIN:
        return f"session {session}; the browser has one session"
    if outcome.waiting_for:
        holders = " and ".join(outcome.waiting_for)
        return f"it waited for {holders}'s lock; the browser has one session"
    if lacking is not None:
        return f"needs the extension {lacking}, which PGlite lacks"
    return None


def _replayed(block: Block, outcome: BlockOutcome) -> tuple[str, ...]:
    """What ran on the main session during the block, as sent, for later blocks to replay:
    its own statements, then a waiting main-session statement that finished meanwhile."""
    own: list[StatementOutcome] = []
    if block.language == "sql" and block.options.session == MAIN:
        own = [statement for statement in outcome.statements if statement.ran]
    late = [
        statement
        for finished in outcome.late
        if finished.session == MAIN
        for statement in finished.statements
        if statement.ran
    ]
    return tuple(_as_replayed(statement) for statement in (*own, *late))


def _as_replayed(statement: StatementOutcome) -> str:
    """A statement as the replay sends it. One the build's statement_timeout cancelled is sent
    as the same error at once: PGlite has no timeout, and the statement's only effect was
    its error (a transaction around it is aborted, in the browser too)."""
    error = statement.error
    if error is not None and error.sqlstate == QUERY_CANCELED:
        message = error.message.replace("'", "''")
        return (
            f"DO $pgslides$ BEGIN RAISE EXCEPTION '{message}' "
            f"USING ERRCODE = '{QUERY_CANCELED}'; END $pgslides$;"
        )
    return statement.sql


def _unreplayed_change(block: Block, outcome: BlockOutcome) -> str | None:
    """Who ran a block that changed data the replay does not redo ("Python", "session bob");
    None if it changed nothing or is replayed."""
    if block.language == "python" and outcome.python is not None:
        sent = [sql for sql, _ in outcome.python.sql]
        return "Python" if any(not _READING_SQL.match(sql) for sql in sent) else None
    if block.language == "sql" and block.options.session != MAIN:
        tags = [(s.status or "SELECT").split(" ")[0].upper() for s in outcome.statements if s.ran]
        changed = any(tag not in _READING_TAGS for tag in tags)
        return f"session {block.options.session}" if changed else None
    return None


def missing_summary(unreplayed: list[tuple[str, int]]) -> list[str]:
    """Earlier blocks the browser's state lacks, one phrase per kind: "the 15 blocks of
    sessions alice and bob at lines 132-417", "the Python block at line 1060"."""
    phrases = []
    sessions = [(who, line) for who, line in unreplayed if who != "Python"]
    python = [line for who, line in unreplayed if who == "Python"]
    if sessions:
        names = list(dict.fromkeys(who.removeprefix("session ") for who, _ in sessions))
        owner = f"session {names[0]}" if len(names) == 1 else f"sessions {_and(names)}"
        lines = [line for _, line in sessions]
        if len(lines) == 1:
            phrases.append(f"the block of {owner} at line {lines[0]}")
        else:
            phrases.append(f"the {len(lines)} blocks of {owner} at lines {lines[0]}-{lines[-1]}")
    if len(python) == 1:
        phrases.append(f"the Python block at line {python[0]}")
    elif python:
        phrases.append(f"the {len(python)} Python blocks at lines {python[0]}-{python[-1]}")
    return phrases


def _and(names: list[str]) -> str:
    return ", ".join(names[:-1]) + f" and {names[-1]}"


def _missing_extension(statements: Iterable[str]) -> str | None:
    for sql in statements:
        match = _EXTENSION.match(sql)
        if match is not None:
            name = match[1].strip('"').lower()
            if name not in PGLITE_EXTENSIONS:
                return name
    return None


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"
