"""Under `mkdocs serve`, an edited deck starts from its setup's template (issue 15, item 3): the
setup ran once, into a template kept between rebuilds, and the edited deck is a clone of it,
not a fresh database the setup runs in again. Whether the setup ran again is read from the
server itself: a row the setup inserted keeps its xmin in every clone of one template.

Builds run in this process as `mkdocs serve` runs them (one plugin across rebuilds, a fresh
config each time), on the test server through a database_url."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from mkdocs.commands.build import build

from pgslides.run.setuptemplates import SetupTemplates
from pgslides.run.templates import Template
from sites import Site, build_site, load, make_site
from test_privilege import NOTHING, ours, rows

SETUP = """\
CREATE TABLE items (id integer PRIMARY KEY, name text NOT NULL);
INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 1000) AS g;
"""

DECK = """\
---
title: Items
sql:
  setup: [setup.sql]
---
# Items

```sql exec
SELECT xmin::text AS setup_xmin FROM items WHERE id = 1;
```

---

## Changed

```sql exec
UPDATE items SET name = upper(name) WHERE id <= 3 RETURNING *;
```

```sql exec
SELECT count(*), min(name), max(name) FROM items;
```
"""


def served(site: Site) -> tuple[Any, Callable[[], None]]:
    """The plugin of a `mkdocs serve` session whose first build ran, and a rebuild."""
    config, plugin = load(site)
    config.plugins.on_startup(command="serve", dirty=False)

    def rebuild() -> None:
        again, same = load(site)  # what serve does on each rebuild
        assert same is plugin
        build(again)

    rebuild()
    return config, rebuild


def setup_xmin(site: Site) -> str:
    return site.page("deck.md").find_all("td")[0].text


def templates_on(db: Any) -> list[str]:
    found = rows(db, "SELECT datname FROM pg_database WHERE datname LIKE %s", "pgslides\\_tpl\\_%")
    return [row[0] for row in found]


def edit(site: Site, mark: str) -> None:
    deck = site.root / "slides" / "deck.md"
    text = deck.read_text(encoding="utf-8")
    deck.write_text(text.replace("RETURNING *;\n", f"RETURNING *;\n-- {mark}\n"), "utf-8")


def test_an_edited_deck_starts_from_its_setup_kept_as_a_template(
    tmp_path: Path,
    url: str,
    pg_conn: Any,
    monkeypatch: pytest.MonkeyPatch,
):
    site = make_site(tmp_path, {"deck.md": DECK, "setup.sql": SETUP}, database_url=url)
    monkeypatch.chdir(tmp_path)
    before = set(templates_on(pg_conn))
    config, rebuild = served(site)
    try:
        first = setup_xmin(site)
        kept = set(templates_on(pg_conn)) - before
        assert len(kept) == 1  # one deck, and still its setup has a template under serve
        for run in range(2):
            edit(site, f"edit {run}")
            rebuild()
            page = site.page_path("deck.md").read_text(encoding="utf-8")
            assert f"-- edit {run}" in page
            assert setup_xmin(site) == first  # a clone of the same template: setup not re-run
            assert set(templates_on(pg_conn)) - before == kept
        # Someone drops the kept template between rebuilds: the next one makes it again.
        (gone,) = kept
        with pg_conn.cursor() as cur:
            cur.execute(f'DROP DATABASE "{gone}"')
        edit(site, "after the drop")
        rebuild()
        assert "-- after the drop" in site.page_path("deck.md").read_text(encoding="utf-8")
        remade = set(templates_on(pg_conn)) - before
        assert len(remade) == 1
        assert remade != kept
        served_page, served_xmin = site.page_path("deck.md").read_text("utf-8"), setup_xmin(site)
        assert served_xmin != first  # the setup ran again, into the new template
    finally:
        config.plugins.on_shutdown()
    assert set(templates_on(pg_conn)) - before == set()  # serve's end drops what it kept
    assert ours(pg_conn, "pgslides_tpl_") == NOTHING
    # A cold build of the same source shows the same page, but for the setup's xmin.
    monkeypatch.setenv("PGSLIDES_REFRESH", "1")
    build_site(site)
    cold_page = site.page_path("deck.md").read_text(encoding="utf-8")
    assert setup_xmin(site) != served_xmin  # it ran the setup itself
    assert _masked(served_page, served_xmin) == _masked(cold_page, setup_xmin(site))


def _masked(page: str, xmin: str) -> str:
    return page.replace(f">{xmin}<", ">XMIN<")


# --- which templates stay between builds: the bookkeeping alone --------------------------------


class Made:
    """A Maker of template `name` (no server: the bookkeeping alone); whether it is still there
    is `there`, and what it drops goes to `dropped`."""

    def __init__(self, name: str, dropped: list[str], there: bool = True) -> None:
        self.name, self.dropped, self.there, self.calls = name, dropped, there, 0

    def __call__(self) -> tuple[Template, Callable[[], list[str]]]:
        self.calls += 1
        return Template(self.name, None), lambda: self.dropped.append(self.name) or []

    def still_there(self, template: Template) -> bool:
        return self.there


def made(name: str, dropped: list[str]) -> Made:
    return Made(name, dropped)


def one_build(templates: SetupTemplates, keys: list[str], dropped: list[str]) -> list[str]:
    """A build whose decks use `keys`; the names of the templates dropped at its end."""
    templates.plan(keys)
    for key in keys:
        assert templates.source(key, made(key, dropped)) == Template(key, None)
    for drop in templates.finish():
        drop()
    return dropped


def test_a_build_drops_its_templates_unless_they_are_kept():
    dropped: list[str] = []
    templates = SetupTemplates()
    templates.plan(["a"])
    assert templates.source("a", made("a", dropped)) is None  # one deck: no template
    templates.finish()
    assert sorted(one_build(templates, ["a", "a", "b", "b"], dropped)) == ["a", "b"]
    assert templates.close() == []


def test_kept_templates_are_the_most_recently_used_and_close_drops_them():
    dropped: list[str] = []
    templates = SetupTemplates(keep=2)
    assert one_build(templates, ["a"], dropped) == []  # one deck: kept for its next edit
    assert one_build(templates, ["b"], dropped) == []
    assert one_build(templates, ["a"], dropped) == []  # made once, reused
    assert one_build(templates, ["c"], dropped) == ["b"]  # the least recently used goes
    for drop in templates.close():
        drop()
    assert sorted(dropped) == ["a", "b", "c"]


def test_a_kept_template_someone_dropped_is_made_again():
    dropped: list[str] = []
    templates = SetupTemplates(keep=2)
    templates.plan(["a"])
    first = Made("a", dropped)
    templates.source("a", first)
    templates.finish()
    templates.plan(["a"])
    gone = Made("a", dropped, there=False)
    assert templates.source("a", gone) == Template("a", None)
    assert (first.calls, gone.calls) == (1, 1)  # made again, by the deck that found it gone
    templates.finish()
    templates.plan(["a", "a"])  # two decks of one build: looked for once, made by none
    again = Made("a", dropped)
    assert templates.source("a", again) == templates.source("a", again) == Template("a", None)
    assert again.calls == 0
    for drop in templates.close():
        drop()
    assert dropped == ["a"]  # only the one still kept: the first was gone already
