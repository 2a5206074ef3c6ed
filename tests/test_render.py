"""The renderer: golden HTML for real outcomes, and the HTML hooks of SPEC.

Golden files live in tests/golden/: NAME.md is a deck run against the test server, NAME.html
the HTML its blocks render to. After a deliberate change, regenerate them with

    PGSLIDES_REGENERATE_GOLDEN=1 pytest tests/test_render.py

and read the diff (`git diff tests/golden`) before committing it.
"""

from __future__ import annotations

import re
from html import unescape
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml
from markupsafe import Markup

from goldens import GOLDEN, assert_golden
from pages import convert
from pgslides import render
from pgslides.outcome import BlockOutcome, Column, StatementOutcome
from pgslides.parse.deck import parse_deck, read_deck
from pgslides.render.python import highlight_python
from pgslides.run.admin import Admin
from pgslides.run.database import DeckDatabase, SessionSettings
from pgslides.run.execute import RunLimits
from pgslides.run.server import Server
from pgslides.run.timeline import run_deck
from sites import database_url, make_site, mkdocs_build


def rendered_blocks(pg_server: Server, deck_file: Path) -> str:
    deck = read_deck(deck_file, f"tests/golden/{deck_file.name}")
    with (
        Admin(pg_server) as admin,
        DeckDatabase(admin, "golden", "database", SessionSettings()) as db,
    ):
        outcome = run_deck(deck, db, RunLimits(max_rows=20))
    rendered = render.render_deck_blocks(deck, outcome)
    pieces = []
    for slide in deck.slides:
        if slide.columns:
            pieces.append(f"<!-- slide {slide.number}: columns -->")
            pieces.append(str(render.columns_html(list(slide.blocks), rendered)))
            continue
        for block in slide.blocks:
            pieces.append(f"<!-- block {block.index}, line {block.line} -->")
            pieces.append(str(rendered[block.index]))
    return "\n".join(pieces) + "\n"


@pytest.mark.parametrize("name", ["results", "formats", "errors", "hostile", "sessions"])
def test_golden_html(pg_server: Server, name: str):
    actual = rendered_blocks(pg_server, GOLDEN / f"{name}.md")
    expected_file = GOLDEN / f"{name}.html"
    assert_golden(expected_file, actual)


SECTIONS = re.compile(r'<div class="pgslides-deck-meta".*</section>', re.DOTALL)


@pytest.mark.parametrize("name", ["steps"])
def test_golden_slides(tmp_path: Path, pg_server: Server, name: str):
    """Whole slides as the page carries them: step numbering, layouts and the deck's meta are
    made on the page's HTML, after the blocks are rendered."""
    source = (GOLDEN / f"{name}.md").read_text(encoding="utf-8")
    site = make_site(tmp_path, {"deck.md": source}, database_url=database_url(pg_server))
    config = yaml.safe_load((site.root / "mkdocs.yml").read_text(encoding="utf-8"))
    # As the repository's own mkdocs.yml: attr_list for { .step } and hl= on a plain fence.
    config["markdown_extensions"] = [
        "admonition",
        "attr_list",
        "md_in_html",
        "pymdownx.details",
        "pymdownx.highlight",
        "pymdownx.superfences",
        "tables",
        {"toc": {"permalink": False}},
    ]
    (site.root / "mkdocs.yml").write_text(yaml.safe_dump(config), encoding="utf-8")
    completed = mkdocs_build(site.root)
    assert completed.returncode == 0, completed.stderr
    page = (site.root / "site" / "deck.html").read_text(encoding="utf-8")
    (actual,) = SECTIONS.findall(page)
    assert_golden(GOLDEN / f"{name}.html", actual + "\n")


class _Balance(HTMLParser):
    """Counts open elements, to show the rendered HTML is well formed."""

    VOID = frozenset({"br", "img", "hr", "meta", "link", "input", "wbr"})

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.script = False

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.script = self.script or tag in ("script", "img")
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack, f"</{tag}> closes nothing"
        assert self.stack.pop() == tag, f"</{tag}> closes the wrong element"


@pytest.mark.parametrize("name", ["results", "formats", "errors", "hostile", "sessions", "steps"])
def test_golden_html_is_balanced_and_injects_nothing(name: str):
    parser = _Balance()
    parser.feed((GOLDEN / f"{name}.html").read_text(encoding="utf-8"))
    parser.close()
    assert parser.stack == []
    assert parser.script is False


def _statement(**fields) -> StatementOutcome:
    return StatementOutcome(sql="SELECT 1", line=2, **fields)


def _block(*statements: StatementOutcome, options: str = "") -> str:
    deck = parse_deck(f"```sql exec {options}\nSELECT 1\n```\n", "d.md")
    (block,) = deck.blocks
    outcome = BlockOutcome(index=0, line=1, session="main", statements=statements)
    return str(render.render_block(block, outcome))


def test_highlighted_code_keeps_every_character_and_leaves_whitespace_unwrapped():
    sql = "SELECT a,\n       'x  y' AS b\n  FROM t\t-- note\n WHERE a <> 1;"
    python = "def f(x):\n    return {'a':  x}  # note\n"
    for html, source in (
        (render.highlight_sql(sql), sql),
        (highlight_python(python), python.rstrip("\n")),
    ):
        assert 'class="w"' not in html
        assert re.search(r'<span class="k">', html)
        assert unescape(re.sub(r"<[^>]+>", "", html)) == source


def test_null_is_a_null_cell_and_text_null_is_text():
    html = _block(
        _statement(
            status="SELECT 2",
            columns=(Column("v", 25, numeric=False), Column("n", 23, numeric=True)),
            rows=((None, "1"), ("NULL", None)),
            row_count=2,
        )
    )
    assert '<tr><td class="null"></td><td class="num">1</td></tr>' in html
    assert '<tr><td>NULL</td><td class="null num"></td></tr>' in html
    assert '<th>v</th><th class="num">n</th>' in html


def test_cut_rows_say_how_many_more():
    html = _block(
        _statement(
            status="SELECT 50",
            columns=(Column("g", 23, numeric=True),),
            rows=(("1",), ("2",)),
            row_count=50,
        )
    )
    assert (
        '<div class="sql-rows">(50 rows) <span class="sql-more">… 48 more rows</span></div>' in html
    )


def test_a_huge_value_is_cut_with_a_note():
    from pgslides.run.execute import MAX_VALUE_CHARS, cut_value

    assert cut_value("x" * 5000) == "x" * MAX_VALUE_CHARS + "… (3000 more characters)"
    assert cut_value("x" * MAX_VALUE_CHARS) == "x" * MAX_VALUE_CHARS
    assert cut_value(None) is None


def test_show_none_renders_nothing_unless_it_failed():
    assert _block(_statement(status="CREATE TABLE"), options="show=none") == ""


def test_deck_page_wraps_slides_and_notes_and_places_blocks():
    deck = parse_deck(
        "# One\n\n```sql exec\nSELECT 1;\n```\n\n???\nSay it.\n\n---\n\n# Two & more\n", "d.md"
    )
    markdown = render.deck_markdown(deck)
    assert markdown.count("<!--pgslides:slide ") == 2
    page, problems = convert(deck, {0: Markup("<div data-sql-block>B</div>")})
    assert problems == []
    assert page == (
        '<section class="slide" id="slide-1" data-line="1" role="region" aria-roledescription="slide" aria-label="1 of 2">\n'
        '<div class="slide-body">\n<h1>One</h1>\n<div data-sql-block>B</div>\n</div>\n'
        '<aside class="notes"><details><summary>Speaker notes</summary>\n<p>Say it.</p>\n</details></aside>\n'
        "</section>\n"
        '<section class="slide" id="slide-2" data-line="12" role="region" aria-roledescription="slide" aria-label="2 of 2">\n'
        '<div class="slide-body">\n<h1>Two &amp; more</h1>\n</div>\n</section>\n'
    )


def test_json_format_keeps_types():
    text = render.format_rows(
        "json",
        (
            Column("n", 1700, True),
            Column("b", 16, False),
            Column("j", 3802, False),
            Column("f", 701, True),
        ),
        [["1.50", "t", '{"a": 1}', "NaN"], [None, "f", None, "-1e+30"]],
    )
    assert text == (
        '[\n  {\n    "n": 1.50,\n    "b": true,\n    "j": {"a": 1},\n    "f": "NaN"\n  },\n'
        '  {\n    "n": null,\n    "b": false,\n    "j": null,\n    "f": -1e+30\n  }\n]'
    )
