"""Setup templates (issue 15, item 2): the decks of a build that share their setup start from
a clone of one database the setup ran in once, and their pages are the pages of decks that ran
the setup themselves.

Real builds (`mkdocs build` as a subprocess) on a private embedded server (decks run as roles of
their own: what the setup made is handed to each deck's role) and through a `database_url` on
the test server (PostgreSQL 15 with DATABASE_URL set: decks run as the URL's role). Whether a
setup ran once is read from the server itself: a row the setup inserted has the same xmin in
every deck cloned from one template, and another in each deck that ran the setup itself.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg2
import pytest

from test_hardening_faults import (
    active_statement,
    check,
    embedded_env,
    finish,
    initialise,
    kill_if_running,
    leftover_databases,
    own_pattern,
    postmaster,
    start_build,
    wait_for,
)
from test_privilege import (
    base_env,
    built,
    deck_roles,
    page_of,
    rows,
    running,
    site_with,
)

# A setup that leaves only what is inside its database, with what a deck could notice if the
# clone were not its own: identity values, an index and its statistics, a view, a function,
# row-level security (which the table's owner is not subject to), a comment.
SHARED = """\
CREATE TABLE people (
    id   integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text NOT NULL,
    team text NOT NULL
);
INSERT INTO people (name, team)
SELECT 'person ' || g, 'team ' || (g % 3) FROM generate_series(1, 500) AS g;
CREATE INDEX people_team ON people (team);
ANALYZE people;
CREATE VIEW teams AS SELECT team, count(*) AS members FROM people GROUP BY team;
CREATE FUNCTION shout(text) RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT upper($1) || '!' $$;
ALTER TABLE people ENABLE ROW LEVEL SECURITY;
CREATE POLICY team_one ON people USING (team = 'team 1');
COMMENT ON TABLE people IS 'made by the setup';
"""

RICH = """\
---
title: Rich {n}
sql:
  setup: [{setup}]
---
# Rich {n}

```sql exec
SELECT * FROM people ORDER BY id LIMIT 3;
SELECT * FROM teams ORDER BY team;
SELECT shout('hello'), obj_description('people'::regclass) AS comment;
```

---

```sql exec
SELECT tableowner = current_user AS mine FROM pg_tables WHERE tablename = 'people';
SELECT relpages > 0 AS has_pages, reltuples FROM pg_class WHERE relname = 'people';
INSERT INTO people (name, team) VALUES ('newcomer', 'team 9') RETURNING id;
EXPLAIN (COSTS OFF) SELECT * FROM people WHERE team = 'team 2';
```

---

```sql exec
ALTER TABLE people ADD COLUMN age integer;
DROP POLICY team_one ON people;
SELECT count(*) FROM people;
DROP TABLE people CASCADE;
```
"""

PROBE = """\
---
title: Probe {n}
sql:
  setup: [{setup}]
---
# Probe {n}

```sql exec
SELECT xmin AS made_in FROM people WHERE id = 1;
```
"""


@pytest.fixture
def conn(pg_server: Any) -> Iterator[Any]:
    conn = psycopg2.connect(**pg_server.connect_params())
    conn.autocommit = True
    try:
        yield conn
    finally:
        conn.close()


def deck(template: str, n: int, setup: str) -> str:
    return template.format(n=n, setup=setup)


def made_in(root: Path, name: str) -> str:
    """The xmin of the first row the deck's setup inserted, as the deck's page shows it."""
    cells = [node.text for node in page_of(root, name).find_all("td")]
    assert len(cells) == 1, cells
    return cells[0]


def where_builds(where: str, private_dir: Path, url: str) -> tuple[dict[str, str], str]:
    """(environment, database_url) of builds on the private embedded server, or on `url`."""
    if where == "embedded":
        initialise(private_dir)
        return embedded_env(private_dir), ""
    return base_env(), url


@contextlib.contextmanager
def server_of(where: str, private_dir: Path, conn: Any) -> Any:
    """A connection to the server the builds ran on (the private one started for the look)."""
    if where == "embedded":
        with running(private_dir) as (_server, private):
            yield private
    else:
        yield conn


def templates_left(look: Any, pid: int) -> list[str]:
    pattern = f"pgslides\\_tpl\\_%\\_{pid}\\_%"
    found = rows(look, "SELECT datname FROM pg_database WHERE datname LIKE %s", pattern)
    found += rows(look, "SELECT rolname FROM pg_roles WHERE rolname LIKE %s", pattern)
    return [row[0] for row in found]


@pytest.mark.parametrize("where", ["embedded", "url"])
def test_decks_that_share_a_setup_run_it_once_and_show_what_running_it_shows(
    tmp_path: Path, private_dir: Path, url: str, conn: Any, where: str
):
    env, target = where_builds(where, private_dir, url)
    names = ["rich-1", "rich-2", "probe-1", "probe-2"]
    # One build where four decks share one setup file; one where each has a copy of its own
    # (same text, another file: no two decks share a setup, so each deck runs it).
    shared = {"sql/shared.sql": SHARED, "sql/other.sql": SHARED + "SELECT 1;\n"}
    for name in names:
        template = RICH if name.startswith("rich") else PROBE
        shared[f"{name}.md"] = deck(template, int(name[-1]), "sql/shared.sql")
    shared["probe-other.md"] = deck(PROBE, 3, "sql/other.sql")
    alone = {f"sql/{name}.sql": SHARED for name in names}
    alone |= {name: shared[name] for name in ("sql/other.sql", "probe-other.md")}
    alone |= {
        f"{name}.md": shared[f"{name}.md"].replace("shared.sql", f"{name}.sql") for name in names
    }
    one = built(site_with(tmp_path / "shared", shared, target), env)
    each = built(site_with(tmp_path / "alone", alone, target), env)

    for name in ("rich-1.md", "rich-2.md"):
        with_template = (tmp_path / "shared" / "site" / name.replace(".md", ".html")).read_bytes()
        without = (tmp_path / "alone" / "site" / name.replace(".md", ".html")).read_bytes()
        assert with_template == without, name
        assert "sql-error" not in with_template.decode()
    # The same row, made once: both probes were cloned from one template. The only deck with
    # another setup ran it itself.
    assert made_in(tmp_path / "shared", "probe-1.md") == made_in(tmp_path / "shared", "probe-2.md")
    assert made_in(tmp_path / "shared", "probe-other.md") != made_in(
        tmp_path / "shared", "probe-1.md"
    )
    assert made_in(tmp_path / "alone", "probe-1.md") != made_in(tmp_path / "alone", "probe-2.md")

    with server_of(where, private_dir, conn) as look:
        for result in (one, each):
            assert templates_left(look, result.pid) == []
            assert leftover_databases(look, result.pid) == []
            assert deck_roles(look, result.pid) == []


STATEFUL = """\
CREATE SCHEMA app;
CREATE TABLE app.notes (id integer GENERATED ALWAYS AS IDENTITY, body text);
INSERT INTO app.notes (body) VALUES ('left in the session');
SET search_path = app, public;
"""


def one_block_deck(setup: str, heading: str, sql: str) -> str:
    """A deck with one setup file and one SQL block."""
    return f"---\nsql:\n  setup: [{setup}]\n---\n# {heading}\n\n```sql exec\n{sql}\n```\n"


def test_a_setup_that_leaves_its_session_changed_is_run_by_each_deck(
    tmp_path: Path, pg_server: Any, url: str
):
    """What a setup leaves in its session (a SET, the sequence values it drew) is not in a
    clone: such decks run their setup themselves, and see what it left, as without templates."""
    plain = STATEFUL.replace("SET search_path = app, public;\n", "")
    pages = {"sql/stateful.sql": STATEFUL, "sql/plain.sql": plain}
    for n in (1, 2):
        pages[f"state-{n}.md"] = one_block_deck(
            "sql/stateful.sql", f"State {n}", "SELECT body, xmin AS made_in FROM notes;"
        )
        pages[f"sequence-{n}.md"] = one_block_deck(
            "sql/plain.sql",
            f"Sequence {n}",
            "SELECT currval('app.notes_id_seq') AS current, xmin AS made_in FROM app.notes;",
        )
    root = site_with(tmp_path / "site", pages, url)
    built(root)
    for kind in ("state", "sequence"):
        first, second = (page_of(root, f"{kind}-{n}.md") for n in (1, 2))
        assert first.find_all(class_="sql-error") == []
        made = [[node.text for node in page.find_all("td")][-1] for page in (first, second)]
        assert made[0] != made[1], kind  # each deck's own row


def test_a_setup_that_fails_fails_each_deck_as_it_would_alone(tmp_path: Path, url: str):
    pages = {"sql/broken.sql": "CREATE TABLE t (id int);\nSELECT * FROM nowhere;\n"}
    pages |= {
        f"broken-{n}.md": one_block_deck("sql/broken.sql", f"Broken {n}", "SELECT 1;")
        for n in (1, 2)
    }
    result = check(site_with(tmp_path / "site", pages, url))
    assert result.returncode == 1
    assert "Traceback" not in result.output
    said = [line for line in result.stdout.splitlines() if "sql/broken.sql:2:" in line]
    assert len(said) == 2, result.output
    assert all('relation "nowhere" does not exist' in line for line in said)


SLEEPER = one_block_deck("sql/shared.sql", "Asleep", "SELECT pg_sleep(60);")


@pytest.mark.parametrize("where", ["embedded", "url"])
def test_what_a_killed_build_left_of_a_template_is_dropped_by_the_next(
    tmp_path: Path, private_dir: Path, url: str, conn: Any, where: str
):
    env, target = where_builds(where, private_dir, url)
    pages = {
        "sql/shared.sql": SHARED,
        "asleep.md": SLEEPER,
        "awake.md": deck(PROBE, 1, "sql/shared.sql"),
    }
    site = site_with(tmp_path / "killed", pages, target, statement_timeout="120s")
    killed = start_build(site, env)
    try:
        if where == "embedded":
            info = wait_for(lambda: postmaster(private_dir), "the server", killed)
            watch = info.connect()
        else:
            watch = conn
        sleeper = wait_for(
            lambda: active_statement(watch, "pg_sleep(60)", killed.pid), "pg_sleep", killed
        )
        assert templates_left(watch, killed.pid) != []  # the sleeper was cloned from it
        killed.send_signal(signal.SIGKILL)
        finish(killed, 30)
        # Its statement runs on until it is ended: the next build leaves what someone uses.
        rows(watch, "SELECT pg_terminate_backend(%s, 5000)", sleeper[0])
        wait_for(
            lambda: (
                not rows(
                    watch,
                    "SELECT pid FROM pg_stat_activity WHERE datname LIKE %s",
                    own_pattern(killed.pid),
                )
            ),
            "the killed build's connections to end",
        )
        quick = {"quick.md": "# Quick\n\n```sql exec\nSELECT 'again' AS said;\n```\n"}
        after = built(site_with(tmp_path / "after", quick, target), env)
        assert "dropped what builds killed before their end left" in after.stderr
        if where == "embedded":
            watch.close()  # the last build stopped the private server: look with it started
        with server_of(where, private_dir, conn) as look:
            assert templates_left(look, killed.pid) == []
            assert leftover_databases(look, killed.pid) == []
            assert deck_roles(look, killed.pid) == []
    finally:
        kill_if_running(killed)
