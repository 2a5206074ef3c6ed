"""Steps, layouts and deck-level settings as the build emits them (the issue 12 contract)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from pgslides.errors import DeckError
from pgslides.parse.deck import parse_deck
from pgslides.run.server import Server
from sites import build_site, database_url, make_site

EXTENSIONS = ["admonition", "attr_list", "md_in_html", "pymdownx.highlight", "pymdownx.superfences"]

DECK = """\
---
title: Steps
duration: 30min
theme: dark
---

# Steps

---

## List

<!-- steps -->
- one
    - nested
- two

A paragraph
{ .step }

---

## Statements

```sql exec steps=statements
SELECT 1 AS a;
SELECT 2 AS b;
```

---

## Highlight

```sql hl="1|2-3"
SELECT 1
FROM t
WHERE x;
```

```sql exec hl="1|2"
SELECT 1
  AS one;
```

---

<!-- layout: two-columns -->

## Two

left text

<!-- column -->

right text

---

## Timeline

<!-- columns steps -->

```sql exec session=alice
BEGIN;
```

```sql exec session=bob
SELECT 1;
```

```sql exec session=alice
COMMIT;
```
"""


def built(tmp_path: Path, server: Server, text: str = DECK) -> str:
    site = make_site(tmp_path, {"deck.md": text}, database_url=database_url(server))
    config = yaml.safe_load(site.config_file.read_text())
    config["markdown_extensions"] = EXTENSIONS
    site.config_file.write_text(yaml.safe_dump(config, sort_keys=False))
    build_site(site)
    return (site.site_dir / "deck.html").read_text()


def section(html: str, number: int) -> str:
    match = re.search(rf'<section class="slide" id="slide-{number}".*?</section>', html, re.S)
    assert match
    return match[0]


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory, pg_server: Server) -> str:
    return built(tmp_path_factory.mktemp("steps"), pg_server)


def test_deck_meta_is_emitted_once_before_the_first_slide(page: str):
    meta = '<div class="pgslides-deck-meta" hidden data-duration-s="1800" data-theme="dark"></div>'
    assert page.count(meta) == 1
    assert page.index(meta) < page.index('id="slide-1"')


def test_a_slide_without_steps_has_no_data_steps(page: str):
    assert "data-steps" not in section(page, 1)


def test_step_lists_and_step_elements_are_numbered_in_order(page: str):
    html = section(page, 2)
    assert 'data-steps="3"' in html
    assert '<li class="step" data-step="1">one<ul>\n<li>nested</li>' in html
    assert '<li class="step" data-step="2">two</li>' in html
    assert '<p class="step" data-step="3">A paragraph</p>' in html


def test_steps_statements_wraps_each_statement_with_its_output(page: str):
    html = section(page, 3)
    assert 'data-steps="2"' in html
    steps = re.findall(r'<div class="sql-step step" data-step="(\d)">', html)
    assert steps == ["1", "2"]
    first = html[html.index('data-step="1"') : html.index('data-step="2"')]
    assert "sql-result" in first
    assert ">a<" in first
    assert "sql-prompt" not in first


def test_hl_wraps_lines_and_places_a_marker_per_later_segment(page: str):
    html = section(page, 4)
    assert 'data-steps="2"' in html
    assert '<pre data-hl="1|2-3" data-hl-first="1">' in html
    assert (
        '</pre><span class="pgslides-hl-step step" data-hl-lines="2-3" data-step="1"></span>'
        in html
    )
    assert '<pre data-hl="1|2" data-hl-first="1">' in html
    assert (
        '</pre><span class="pgslides-hl-step step" data-hl-lines="2" data-step="2"></span>' in html
    )
    assert html.count('<span class="pgslides-line">') == 5
    assert "data-pgslides-hl" not in html


def test_two_columns_layout_splits_at_the_column_comment(page: str):
    html = section(page, 5)
    assert 'data-layout="two-columns"' in html
    assert (
        '<div class="slide-columns"><div class="slide-column">\n<p>left text</p>\n</div>'
        '<div class="slide-column">\n<p>right text</p>\n</div></div>'
    ) in html


def test_columns_steps_makes_each_block_a_step_in_time_order(page: str):
    html = section(page, 6)
    assert 'data-steps="3"' in html
    found = re.findall(
        r'<div class="sql-block step"[^>]*data-session="(\w+)"[^>]*data-step="(\d)"', html
    )
    assert found == [("alice", "1"), ("bob", "2"), ("alice", "3")]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "# A\n\n```sql exec steps=lines\nSELECT 1;\n```\n",
            "d.md:3: bad value 'lines' for option steps; valid choices: statements",
        ),
        (
            '# A\n\n```sql exec hl="0-2"\nSELECT 1;\n```\n',
            "d.md:3: bad value '0-2' for option hl; expected line steps like 1-2|3|4,6",
        ),
        (
            '# A\n\n```sql hl="2-1"\nSELECT 1;\n```\n',
            "d.md:3: bad value '2-1' for option hl; expected line steps like 1-2|3|4,6",
        ),
        (
            "# A\n\n```python exec steps=statements\nx = 1\n```\n",
            "d.md:3: option 'steps' is for SQL blocks, not Python blocks",
        ),
        (
            "# A\n\n<!-- layout: three -->\n",
            "d.md:3: unknown layout 'three'; valid layouts: title, section, two-columns, image-text",
        ),
        ("---\nduration: soon\n---\n\n# A\n", "d.md:2: bad value 'soon' for duration; expected a"),
        ("---\ntheme: blue\n---\n\n# A\n", "d.md:2: bad value 'blue' for theme; valid choices"),
    ],
)
def test_bad_step_options_are_errors_with_file_and_line(text: str, message: str):
    with pytest.raises(DeckError) as raised:
        parse_deck(text, "d.md")
    assert str(raised.value).startswith(message)


def test_duration_and_theme_are_read():
    deck = parse_deck("---\nduration: 90s\ntheme: light\n---\n\n# A\n", "d.md")
    assert (deck.duration_s, deck.theme) == (90, "light")
    assert parse_deck("# A\n", "d.md").duration_s is None


PDF_STEPS_DECK = "# One\n\n<!-- steps -->\n- a\n- b\n\n---\n\n# Two\n"


def test_pdf_steps_prints_a_page_per_step(tmp_path: Path, pg_server: Server):
    from pgslides.pdf import count_pdf_pages
    from sites import BIN, run

    make_site(tmp_path, {"deck.md": PDF_STEPS_DECK}, database_url=database_url(pg_server))
    completed = run(
        [str(BIN / "pgslides"), "pdf", "slides/deck.md", "-o", "d.pdf", "--steps"], tmp_path
    )
    assert completed.returncode == 0, completed.stderr
    # slide 1 has 2 steps: 3 pages (before its first step, after each); slide 2: 1 page
    assert count_pdf_pages((tmp_path / "d.pdf").read_bytes()) == 4


@pytest.mark.parametrize(
    "text",
    [
        "# A\n\n???\nIn the notes: <!-- layout: three -->\n",  # notes are not the slide
        "# A\n\nIndented code shows the comment:\n\n    <!-- layout: three -->\n",
        '# A\n\n```sql title="hl=1 demo"\nSELECT 1;\n```\n',  # hl= inside another value
    ],
)
def test_what_only_looks_like_a_layout_or_hl_is_left_alone(text: str):
    deck = parse_deck(text, "d.md")
    assert (deck.slides[0].layout, deck.slides[0].hl_fences) == (None, 0)


WAITING_STEPS = """# Waits

```sql exec
CREATE TABLE t (id int PRIMARY KEY, v int);
INSERT INTO t VALUES (1, 0);
```

```sql exec session=alice
BEGIN;
UPDATE t SET v = 1 WHERE id = 1;
```

```sql exec session=bob steps=statements
SELECT v FROM t;
UPDATE t SET v = 2 WHERE id = 1;
```

```sql exec session=alice
COMMIT;
```
"""


def test_a_statement_step_that_waits_shows_its_wait_at_its_own_step(
    tmp_path: Path, pg_server: Server
):
    page = built(tmp_path, pg_server, WAITING_STEPS)
    bob = page[page.index('data-session="bob"') :]
    bob = bob[: bob.index('data-session="alice"')]
    waiting = bob[bob.index('data-step="2"') :]
    # Inside the step of the statement that waited: right under its source, before the step ends.
    assert waiting.index('<div class="sql-waiting-note"') < waiting.index("</div>\n</div>")
