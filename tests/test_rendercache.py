"""What pgslides rendered of a deck, kept between builds (render.rendercache): a warm build
reads it instead of rendering again and writes the same pages; anything the HTML is made from
changing, or a damaged file, is a miss, never a wrong page."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import pgslides
from pgslides.render.rendercache import KEPT_FILES, RenderCache, code_fingerprint, fingerprint_of
from sites import Site, build_site, make_site

DECK = """\
# Kept

```sql exec
SELECT 1 AS one, 'two' AS two;
```

A paragraph of prose.
"""


@pytest.fixture(autouse=True)
def kept_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The user's cache directory, the test's own (platformdirs reads XDG_CACHE_HOME)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "user-cache"))
    monkeypatch.delenv("PGSLIDES_RENDER_CACHE", raising=False)
    return tmp_path / "user-cache" / "pgslides" / "rendered"


def page_bytes(site: Site) -> bytes:
    return site.page_path("deck.md").read_bytes()


def built(tmp_path: Path, url: str) -> Site:
    site = make_site(tmp_path / "project", {"deck.md": DECK}, database_url=url)
    build_site(site)
    return site


def test_a_warm_build_reads_what_it_rendered_and_writes_the_same_page(
    tmp_path: Path, url: str, kept_in: Path
):
    site = built(tmp_path, url)
    cold = page_bytes(site)
    assert sorted(path.suffixes[-2] for path in kept_in.iterdir()) == [".blocks", ".page"]
    # The result cache is meant to be committed: nothing rendered is kept there.
    assert [p.name for p in (site.root / ".pgslides-cache").iterdir()] == ["deck.md.json"]
    build_site(site)
    assert page_bytes(site) == cold


def test_the_kept_html_is_used_until_what_it_was_made_from_changes(
    tmp_path: Path, url: str, kept_in: Path
):
    site = built(tmp_path, url)
    (blocks,) = kept_in.glob("*.blocks.json")
    kept = json.loads(blocks.read_text())
    (index,) = kept["value"]
    kept["value"][index] = kept["value"][index].replace("two", "marked by the test")
    blocks.write_text(json.dumps(kept))
    build_site(site)
    assert "marked by the test" in page_bytes(site).decode()  # read, not rendered again
    deck = site.root / "slides" / "deck.md"
    deck.write_text(DECK.replace("'two' AS two", "'three' AS two"))
    build_site(site)
    page = page_bytes(site).decode()
    assert "marked by the test" not in page
    assert "three" in page


def test_a_damaged_file_is_rendered_again(tmp_path: Path, url: str, kept_in: Path):
    site = built(tmp_path, url)
    cold = page_bytes(site)
    for path in kept_in.glob("*.json"):
        text = json.loads(path.read_text())
        text["value"] = ["not", "what", "was", "kept"]  # the right key, a wrong shape
        path.write_text(json.dumps(text))
    build_site(site)
    assert page_bytes(site) == cold
    for path in kept_in.glob("*.json"):
        path.write_text("{ cut short")
    build_site(site)
    assert page_bytes(site) == cold


def test_without_a_result_cache_or_turned_off_nothing_is_kept(
    tmp_path: Path, url: str, kept_in: Path, monkeypatch: pytest.MonkeyPatch
):
    site = make_site(tmp_path / "project", {"deck.md": DECK}, database_url=url, cache_dir="")
    build_site(site)
    assert not kept_in.exists()
    site = make_site(tmp_path / "other", {"deck.md": DECK}, database_url=url)
    monkeypatch.setenv("PGSLIDES_RENDER_CACHE", "0")
    build_site(site)
    assert not kept_in.exists()


def test_the_most_recently_written_files_are_kept(tmp_path: Path):
    cache = RenderCache(tmp_path)
    for number in range(KEPT_FILES + 1):
        deck_file = tmp_path / f"deck-{number}.md"
        cache.page(deck_file, f"<p>{number}</p>", None, lambda html, deck: (html, []))  # type: ignore[arg-type]
    kept = list(tmp_path.glob("*.json"))
    assert len(kept) == KEPT_FILES * 3 // 4
    newest = tmp_path / f"deck-{KEPT_FILES}.md"
    # The last one written is kept: read back without calling what makes it.
    assert cache.page(newest, f"<p>{KEPT_FILES}</p>", None, None) == (f"<p>{KEPT_FILES}</p>", [])  # type: ignore[arg-type]


def test_the_key_covers_pgslides_code_and_templates(tmp_path: Path):
    package = tmp_path / "pgslides"
    shutil.copytree(
        Path(pgslides.__file__).parent, package, ignore=shutil.ignore_patterns("assets")
    )
    first = fingerprint_of(package)
    assert first == code_fingerprint()  # the installed package, assets aside
    template = package / "render" / "templates" / "block.html"
    template.write_text(template.read_text() + "\n")
    second = fingerprint_of(package)
    assert second != first
    module = package / "render" / "textformat.py"
    module.write_text(module.read_text() + "\n")
    assert fingerprint_of(package) not in (first, second)
