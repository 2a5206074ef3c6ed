"""Time a deck's Python worker start and the cost per Python block, next to an SQL block's.

    python bench/python_blocks.py [--runs 5] [--blocks 200] [--database-url URL]

Decks run in this process through pgslides' own run API (parse_deck, Admin, DeckDatabase,
run_deck), without MkDocs, each in a fresh database of its own as a build runs it; only the
run is timed, not making and dropping the database. Figures, each the median, min and max of
--runs runs after one untimed warm-up:

- worker start: from starting a deck's Python worker process to it being ready (interpreter
  start, SQLAlchemy import, engine creation and first connect), as PythonWorker measures it;
- per block: a deck of 1 block and a deck of 1 + --blocks blocks are run back to back, and each
  run gives (big - small) / --blocks, so the worker's start and the deck's set-up cancel out.
  Python blocks that each send one small query through `engine`, empty Python blocks (the
  worker protocol's round trip alone), and ```sql exec``` `SELECT 1;` blocks for comparison.
  Each deck's worker start and stop vary by tens of ms, which this spreads over --blocks;
- worker round trip: the same Python blocks sent to a PythonWorker directly, once its first
  block has started it: the mean per block, without the start's and the stop's noise.

With --database-url (default $DATABASE_URL) the decks run on that server; without one, on the
embedded server, started here on a private data directory (PGSLIDES_EMBEDDED_DIR) in a
temporary directory and stopped and removed at the end. Timings are wall-clock: run it on an
idle machine.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from bench import machine  # bench/bench.py: this script's directory is on sys.path

from pgslides.parse.deck import Block, Deck, parse_deck
from pgslides.report import deck_problems
from pgslides.run.admin import Admin
from pgslides.run.database import DeckDatabase, SessionSettings
from pgslides.run.embedded import EmbeddedServer
from pgslides.run.execute import RunLimits
from pgslides.run.python import PythonWorker
from pgslides.run.server import Server, server_from_url
from pgslides.run.timeline import run_deck

PATH = "slides/deck.md"  # the decks' path, as messages would name it
DECK_NAME = "bench python"  # the slug of the decks' databases (and roles, when embedded)
BLOCK_TIMEOUT_MS = 60_000  # for a Python block sent to a worker directly


class BenchError(Exception):
    """A case that could not run or whose result is wrong: one line for the user."""


# --- the decks -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Kind:
    """A kind of block: its fence's info string, the deck's first block, and block `i` after."""

    label: str
    info: str
    first: str
    body: Callable[[int], str]


def query_body(i: int) -> str:
    return f'with engine.connect() as c:\n    c.execute(text("SELECT :i"), {{"i": {i}}})'


QUERY = Kind(
    "one query",
    "python exec",
    "from sqlalchemy import text\n\n" + query_body(0),
    query_body,
)
EMPTY = Kind("empty (x = 1)", "python exec", "x = 1", lambda _i: "x = 1")
SQL = Kind("SELECT 1;", "sql exec", "SELECT 1;", lambda _i: "SELECT 1;")


def deck(kind: Kind, blocks: int) -> Deck:
    """A one-slide deck of `kind`'s first block and `blocks` more."""
    bodies = [kind.first] + [kind.body(i) for i in range(1, blocks + 1)]
    fences = "\n\n".join(f"```{kind.info}\n{body}\n```" for body in bodies)
    return parse_deck(f"# Bench\n\n{fences}\n", PATH)


# --- timing ----------------------------------------------------------------------------------


@dataclass
class Figure:
    label: str
    ms: list[float]


def progress(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def repeat(runs: int, action: Callable[[], float]) -> list[float]:
    """`runs` results of action, after one warm-up whose result is dropped."""
    action()
    return [action() for _ in range(runs)]


def fresh_database(admin: Admin) -> DeckDatabase:
    return DeckDatabase(admin, DECK_NAME, "database", SessionSettings())


def run_seconds(admin: Admin, the_deck: Deck) -> float:
    """Wall-clock seconds of run_deck on a fresh database; BenchError if a block failed."""
    with fresh_database(admin) as db:
        started = time.perf_counter()
        outcome = run_deck(the_deck, db, RunLimits())
        seconds = time.perf_counter() - started
    problems = deck_problems(the_deck, outcome)
    if problems:
        raise BenchError(f"a block failed: {problems[0].message}")
    return seconds


@contextlib.contextmanager
def python_worker(admin: Admin) -> Iterator[PythonWorker]:
    """A deck's Python worker on a fresh database (started by its first block), then stopped."""
    with fresh_database(admin) as db:
        worker = PythonWorker(db, PATH, RunLimits().max_rows)
        try:
            yield worker
        finally:
            worker.stop()


def run_block(worker: PythonWorker, block: Block) -> None:
    outcome = worker.run(block, BLOCK_TIMEOUT_MS, threading.Event())
    if outcome.stopped is not None or outcome.error is not None:
        raise BenchError(f"a Python block failed: {outcome.stopped or outcome.error}")


def worker_start_ms() -> Callable[[Admin], float]:
    """How long a worker took to be ready, as it measured it, on its first (empty) block."""
    block = deck(EMPTY, 0).blocks[0]

    def once(admin: Admin) -> float:
        with python_worker(admin) as worker:
            run_block(worker, block)
        assert worker.start_seconds is not None
        return worker.start_seconds * 1000

    return once


def per_block_ms(kind: Kind, blocks: int) -> Callable[[Admin], float]:
    """Its 1-block and its (1 + blocks)-block deck through run_deck: ms per extra block."""
    small, big = deck(kind, 0), deck(kind, blocks)

    def once(admin: Admin) -> float:
        return (run_seconds(admin, big) - run_seconds(admin, small)) / blocks * 1000

    return once


def round_trip_ms(kind: Kind, blocks: int) -> Callable[[Admin], float]:
    """The mean of `blocks` Python blocks sent to a worker already started by a first block."""
    first, *rest = deck(kind, blocks).blocks

    def once(admin: Admin) -> float:
        with python_worker(admin) as worker:
            run_block(worker, first)
            started = time.perf_counter()
            for block in rest:
                run_block(worker, block)
            return (time.perf_counter() - started) / blocks * 1000

    return once


def measure(admin: Admin, args: argparse.Namespace) -> list[Figure]:
    """Each figure: its label and what one run of it measures, in ms."""
    n = args.blocks
    cases = [
        ("Python worker start", worker_start_ms()),
        (f"per Python block, {QUERY.label}", per_block_ms(QUERY, n)),
        (f"per Python block, {EMPTY.label}", per_block_ms(EMPTY, n)),
        (f"per SQL block, {SQL.label}", per_block_ms(SQL, n)),
        (f"worker round trip, {QUERY.label}", round_trip_ms(QUERY, n)),
        (f"worker round trip, {EMPTY.label}", round_trip_ms(EMPTY, n)),
    ]
    figures = []
    for label, once in cases:
        progress(f"{label}: warm-up + {args.runs} runs")
        figures.append(Figure(label, repeat(args.runs, functools.partial(once, admin))))
    return figures


def leftovers(admin: Admin) -> list[str]:
    """Databases and roles this run made that are still there (there should be none)."""
    mark = f"%\\_{os.getpid()}\\_{admin.build_id}\\_%"
    rows = admin.rows(
        "SELECT datname FROM pg_database WHERE datname LIKE %s"
        " UNION ALL SELECT rolname FROM pg_roles WHERE rolname LIKE %s",
        (mark, mark),
    )
    return [row[0] for row in rows]


# --- the server ------------------------------------------------------------------------------


@contextlib.contextmanager
def bench_server(database_url: str) -> Iterator[Server]:
    """The server at database_url; else the embedded one on a private, temporary data dir."""
    if database_url:
        yield server_from_url(database_url)
        return
    root = Path(tempfile.mkdtemp(prefix="pgslides-bench-python-"))
    data_dir = root / "pg"
    os.environ["PGSLIDES_EMBEDDED_DIR"] = str(data_dir)
    embedded = EmbeddedServer(data_dir)
    try:
        progress("starting the embedded server on a private data directory")
        yield embedded.start()
    finally:
        embedded.stop()
        shutil.rmtree(root, ignore_errors=True)


# --- the report ------------------------------------------------------------------------------


def report(args: argparse.Namespace, server: Server, version: str, figures: list[Figure]) -> None:
    for line in machine(version, ("SQLAlchemy", "psycopg2-binary")):
        print(line)
    print(
        f"server: {server.label}; decks of 1 vs {1 + args.blocks} blocks, run in-process "
        f"(run_deck), {args.runs} runs after one warm-up"
    )
    print(
        "per block = (big deck - small deck) / extra blocks; worker round trip = blocks sent "
        "to a started PythonWorker directly"
    )
    print()
    print(f"{'figure':<36}{'median ms':>11}{'min ms':>9}{'max ms':>9}")
    for figure in figures:
        low, high = min(figure.ms), max(figure.ms)
        print(f"{figure.label:<36}{statistics.median(figure.ms):>11.3f}{low:>9.3f}{high:>9.3f}")


# --- main ------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--blocks", type=int, default=200, help="extra blocks of the big deck")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL", ""),
        help="run on this server (default: $DATABASE_URL, else the embedded server)",
    )
    args = parser.parse_args(argv)
    if args.runs < 1 or args.blocks < 1:
        parser.error("need --runs >= 1 and --blocks >= 1")
    return args


def run(args: argparse.Namespace) -> None:
    with bench_server(args.database_url) as server, Admin(server) as admin:
        version = admin.rows("SHOW server_version")[0][0]
        figures = measure(admin, args)
        left = leftovers(admin)
    if left:
        raise BenchError(f"left behind: {', '.join(left)}")
    report(args, server, version, figures)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ.pop("PGSLIDES_REFRESH", None)
    try:
        run(args)
    except Exception as error:
        print(f"bench: failed: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
