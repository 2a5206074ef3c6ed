"""The sites bench/bench.py builds: synthetic decks (and what psql and markdown-exec run of
them), a site of decks sharing one large setup file, and a copy of the repository's talk."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any

import yaml

ROWS_PER_DECK = 1000  # rows each deck inserts before updating, deleting and selecting them
DB_PREFIX = f"bench_{os.getpid()}_"  # databases the psql and markdown-exec cases create
REPOSITORY = Path(__file__).resolve().parent.parent
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
SETUP_FILE = "setup.sql"


# --- the synthetic decks ---------------------------------------------------------------------


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


def deck_page(deck: int, bodies: list[str], front: str = "") -> str:
    """A deck: front matter, a title slide, then one slide per block body."""
    slides = [f"# Deck {deck}\n\nA synthetic deck of {len(bodies)} blocks.\n"]
    slides += [f"## Block {index + 1}\n\n{body}\n" for index, body in enumerate(bodies)]
    return f"---\ntitle: Deck {deck}\n{front}---\n\n" + "\n---\n\n".join(slides)


def sql_fence(sql: str, info: str) -> str:
    return f"```{info}\n{sql}\n```"


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


def floor_decks(decks: int, blocks: int) -> dict[str, list[str]]:
    """What psql runs for the synthetic site: each deck's blocks, by deck file."""
    return {deck_name(d): deck_sql(d, blocks) for d in range(decks)}


# --- decks that share one large setup file (issue 15, item 2) ----------------------------------


def setup_sql(rows: int) -> str:
    """A setup file of `rows` readings, indexed and analysed: what decks of a talk share."""
    return (
        "CREATE TABLE readings (\n"
        "    id       bigint PRIMARY KEY,\n"
        "    sensor   integer NOT NULL,\n"
        "    taken_at timestamptz NOT NULL,\n"
        "    value    numeric(8,2) NOT NULL\n"
        ");\n\n"
        "INSERT INTO readings\n"
        "SELECT g, g % 50, timestamptz '2024-01-01 00:00+00' + g * interval '1 minute',\n"
        "       (g * 7919 % 10000) / 100.0\n"
        f"FROM generate_series(1, {rows}) AS g;\n\n"
        "CREATE INDEX readings_sensor ON readings (sensor);\n"
        "ANALYZE readings;\n"
    )


def setup_deck_sql(deck: int, edit: int | None = None) -> list[str]:
    """A deck about the shared readings: a few queries, an update and a new table."""
    sensor = deck % 50
    sqls = [
        "SELECT count(*) AS readings, min(taken_at) AS first, max(taken_at) AS last\n"
        "FROM readings;",
        f"SELECT sensor, count(*) AS n, round(avg(value), 2) AS mean\nFROM readings\n"
        f"WHERE sensor IN ({sensor}, {(sensor + 1) % 50}) GROUP BY sensor ORDER BY sensor;",
        f"UPDATE readings SET value = value + 1 WHERE sensor = {sensor};",
        "CREATE TABLE daily AS\nSELECT sensor, taken_at::date AS day, max(value) AS top\n"
        "FROM readings GROUP BY 1, 2;",
        f"SELECT day, top FROM daily WHERE sensor = {sensor} ORDER BY day LIMIT 5;",
        "SELECT count(*) AS days FROM daily;",
    ]
    if edit is not None:
        sqls[len(sqls) // 2] += f"\n-- edit {edit}"
    return sqls


def setup_pages(decks: int, *, live: bool, edited: dict[int, int] | None = None) -> dict[str, str]:
    front = f"sql:\n  setup: [{SETUP_FILE}]\n" if live else ""
    info = "sql exec" if live else "sql"
    edited = edited or {}
    return {
        deck_name(d): deck_page(
            d, [sql_fence(s, info) for s in setup_deck_sql(d, edited.get(d))], front
        )
        for d in range(decks)
    }


def setup_floor_decks(decks: int, rows: int) -> dict[str, list[str]]:
    """What psql runs for the setup site: the setup file, then the deck's blocks."""
    return {deck_name(d): [setup_sql(rows), *setup_deck_sql(d)] for d in range(decks)}


# --- writing sites ---------------------------------------------------------------------------


def write_site(
    root: Path, pages: dict[str, str], plugins: list[Any], files: dict[str, str] | None = None
) -> Path:
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
    write_pages(root, {"index.md": "# Benchmark decks\n", **pages, **(files or {})})
    return config_file


def write_pages(root: Path, pages: dict[str, str]) -> None:
    for name, text in pages.items():
        (root / "docs" / name).write_text(text, encoding="utf-8")


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


def copy_talk(root: Path, database_url: str) -> tuple[Path, Path]:
    """The repository's site (mkdocs.yml, slides/) copied to root, on `database_url`; returns
    its mkdocs.yml and the talk's deck file."""
    shutil.copytree(REPOSITORY / "slides", root / "slides")
    text = (REPOSITORY / "mkdocs.yml").read_text(encoding="utf-8")
    text = re.sub(r"database_url: .*", f"database_url: {database_url!r}", text)
    config_file = root / "mkdocs.yml"
    config_file.write_text(text, encoding="utf-8")
    return config_file, root / "slides" / "what-could-possibly-go-wrong.md"


def edit_first_plain_block(text: str, mark: str) -> str:
    """The deck with a comment line `mark` added to its first `sql exec` block that runs on the
    main session without waiting for a lock (one with no options at all)."""
    found = re.search(r"^```sql exec\n(.*?)^```$", text, re.MULTILINE | re.DOTALL)
    if found is None:
        raise ValueError("no plain ```sql exec block to edit")
    inside = re.sub(r"\n-- edit \d+\n$", "\n", found.group(1))
    return text[: found.start(1)] + inside + f"-- {mark}\n" + text[found.end(1) :]
