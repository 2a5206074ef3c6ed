"""Steps in a real browser: slides that unfold, their keys and URLs, windows, presenter view,
print, layouts and theme.

The decks' step HTML is written by hand here, as the build emits it (data-step, data-steps,
pre[data-hl] with its markers; steps/contract), or left for the script to number (class
`step` only), so these tests hold the browser side to the contract on their own. Served over
http from 127.0.0.1 (BroadcastChannel between tabs needs a real origin).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from browsing import Context, http_server
from presented import presented_scales, smallest, table
from sites import build_site, database_url, make_site
from test_browser import pdf_pages

META = '<div class="pgslides-deck-meta" hidden data-duration-s="600" data-theme="dark"></div>'

HL_CODE = (
    '<div class="highlight"><pre data-hl="1|2-3|4" data-hl-first="1"><code>'
    '<span class="pgslides-line">SELECT 1;</span>\n'
    '<span class="pgslides-line">SELECT 2;</span>\n'
    '<span class="pgslides-line">SELECT 3;</span>\n'
    '<span class="pgslides-line">SELECT 4;</span></code></pre>'
    '<span class="pgslides-hl-step step" data-step="1" data-hl-lines="2-3"></span>'
    '<span class="pgslides-hl-step step" data-step="2" data-hl-lines="4"></span></div>'
)

TALL = "\n\n".join(
    f'<p class="step" data-step="{k}" markdown>Step number {k} of the long timeline</p>'
    for k in range(1, 17)
)

STEPS_DECK = f"""\
# Steps

---

## Numbered by the build

<div class="step" data-step="1" markdown>First **one**</div>

<div class="step" data-step="2" markdown>Second one</div>

<div class="step" data-step="3" markdown>Third one</div>

???
Notes of the numbered slide.

---

## Numbered by the script

Always here.

<p class="step">alpha</p>

<p class="step">beta</p>

---

## Highlighted lines

{HL_CODE}

---

## A long timeline

{TALL}

---

## Columns

<div class="slide-columns"><div class="slide-column" markdown>

Left side

</div><div class="slide-column" markdown>

Right side

</div></div>

---

## The end
"""

DARK_DECK = f"""\
# Dark

{META}

---

## Second
"""

SLIDES = 7


def build(root: Path, pages: dict[str, str], pg_server: Any) -> Path:
    site = make_site(root, pages, database_url=database_url(pg_server))
    config = yaml.safe_load(site.config_file.read_text(encoding="utf-8"))
    config["markdown_extensions"] = [
        "attr_list",
        "md_in_html",
        "pymdownx.highlight",
        "pymdownx.superfences",
    ]
    site.config_file.write_text(yaml.safe_dump(config), encoding="utf-8")
    build_site(site)
    return site.site_dir


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, pg_server: Any) -> Iterator[str]:
    """The steps site under /deck/ of python -m http.server on 127.0.0.1."""
    root = tmp_path_factory.mktemp("steps")
    # built.md: the golden deck of every step source, as the build marks its steps.
    built = (Path(__file__).parent / "golden" / "steps.md").read_text(encoding="utf-8")
    pages = {"steps.md": STEPS_DECK, "dark.md": DARK_DECK, "built.md": built}
    site_dir = build(root, pages, pg_server)
    with http_server(site_dir) as url:
        yield url


def where(page: Any) -> tuple[int, int]:
    """(slide, step) on the stage; the URL hash says the same."""
    pos = page.evaluate("window.pgslides.position()")
    slide, step = pos["slide"], pos["step"]
    assert page.evaluate("location.hash") == (f"#/{slide}/{step}" if step else f"#/{slide}")
    shown = page.evaluate(
        "[...document.querySelectorAll('article section.slide.pgslides-current')].map(s => s.id)"
    )
    assert shown == [f"slide-{slide}"]
    return slide, step


def hidden_steps(page: Any, n: int) -> list[str]:
    """The data-step values of slide n's steps that are not drawn (but keep their place)."""
    return page.evaluate(
        """n => [...document.querySelectorAll('#slide-' + n + ' .slide-body [data-step]')]
                 .filter(el => getComputedStyle(el).visibility === 'hidden')
                 .map(el => { if (!el.getClientRects().length) throw new Error('no box');
                              return el.dataset.step; })""",
        n,
    )


def test_each_key_moves_by_step_and_back_shows_all_steps(ctx: Context, served: str):
    page = ctx.open_deck(f"{served}/steps.html#/2")
    assert page.get_attribute("#slide-2", "data-steps") == "3"
    assert where(page) == (2, 0)
    assert hidden_steps(page, 2) == ["1", "2", "3"]
    moves = [
        ("ArrowRight", (2, 1)),
        ("ArrowDown", (2, 2)),
        ("Space", (2, 3)),
        ("PageDown", (3, 0)),  # onto a slide: before its first step
        ("n", (3, 1)),
        ("Backspace", (3, 0)),
        ("PageUp", (2, 3)),  # back onto a slide: all its steps
        ("ArrowUp", (2, 2)),
        ("ArrowLeft", (2, 1)),
        ("Shift+Space", (2, 0)),
        ("ArrowLeft", (1, 0)),
        ("Alt+ArrowRight", (2, 0)),  # a whole slide, skipping steps
        ("Alt+ArrowRight", (3, 0)),
        ("Alt+ArrowLeft", (2, 3)),
        ("End", (SLIDES, 0)),
        ("Alt+ArrowRight", (SLIDES, 0)),  # the ends of the deck stay as they are
        ("Home", (1, 0)),
        ("Alt+ArrowLeft", (1, 0)),
    ]
    for key, expected in moves:
        page.keyboard.press(key)
        assert where(page) == expected, key
    page.keyboard.press("2")
    page.keyboard.press("Enter")
    assert where(page) == (2, 0)
    page.keyboard.press("ArrowRight")
    assert hidden_steps(page, 2) == ["2", "3"]
    assert page.text_content(".pgslides-live") == "Step 1 of 3"
    # A step within a slide replaces the history entry; a slide pushes one.
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    assert where(page) == (3, 0)
    page.go_back()
    page.wait_for_function("location.hash === '#/2/3'")
    assert where(page) == (2, 3)
    assert hidden_steps(page, 2) == []


def test_steps_the_build_did_not_number_are_numbered_by_the_script(ctx: Context, served: str):
    page = ctx.open_deck(f"{served}/steps.html#/3")
    assert page.get_attribute("#slide-3", "data-steps") == "2"
    assert page.evaluate(
        "[...document.querySelectorAll('#slide-3 .step')].map(e => e.dataset.step)"
    ) == [
        "1",
        "2",
    ]
    assert hidden_steps(page, 3) == ["1", "2"]
    page.keyboard.press("ArrowRight")
    assert hidden_steps(page, 3) == ["2"]


def test_a_step_deep_link_opens_after_that_step(ctx: Context, served: str):
    page = ctx.open_deck(f"{served}/steps.html#/2/2")
    assert where(page) == (2, 2)
    assert hidden_steps(page, 2) == ["3"]
    page.evaluate("location.hash = '#/2'")
    page.wait_for_function("window.pgslides.position().step === 0")
    assert where(page) == (2, 0)
    page.evaluate("location.hash = '#/2/9'")  # past the last step: the last
    page.wait_for_function("location.hash === '#/2/3'")
    assert where(page) == (2, 3)


def test_line_highlight_steps(ctx: Context, served: str):
    page = ctx.open_deck(f"{served}/steps.html#/4")
    lit = "[...document.querySelectorAll('#slide-4 .pgslides-line')].map(l => l.classList.contains('pgslides-hl'))"
    dim = "getComputedStyle(document.querySelectorAll('#slide-4 .pgslides-line')[1]).opacity"
    assert page.evaluate(lit) == [True, False, False, False]
    assert page.evaluate(
        "document.querySelector('#slide-4 pre').classList.contains('pgslides-hl-active')"
    )
    assert float(page.evaluate(dim)) < 1
    page.keyboard.press("ArrowRight")
    assert page.evaluate(lit) == [False, True, True, False]
    page.keyboard.press("ArrowRight")
    assert page.evaluate(lit) == [False, False, False, True]
    page.keyboard.press("ArrowRight")
    assert where(page) == (5, 0)
    page.keyboard.press("ArrowLeft")
    assert page.evaluate(lit) == [False, False, False, True]
    # Leaving the stage: the handout's code is plain again.
    page.keyboard.press("Escape")
    assert page.evaluate(lit) == [False, False, False, False]
    assert float(page.evaluate(dim)) == 1


def test_every_step_source_as_the_build_marks_it_unfolds_on_the_stage(ctx: Context, served: str):
    page = ctx.open_deck(f"{served}/built.html#/1")
    # <!-- steps --> list items, then a { .step } paragraph; the nested list is no step.
    assert hidden_steps(page, 1) == ["1", "2", "3", "4"]
    for key, hidden in (("ArrowRight", ["2", "3", "4"]), ("n", ["3", "4"])):
        page.keyboard.press(key)
        assert hidden_steps(page, 1) == hidden
    assert page.locator("#slide-1 li li").first.is_visible()  # the nested item came with #2
    # steps=statements: each statement with its own output, one press each.
    page.keyboard.press("Alt+ArrowRight")
    assert where(page) == (2, 0)
    assert hidden_steps(page, 2) == ["1", "2", "3"]
    page.keyboard.press("ArrowRight")
    assert hidden_steps(page, 2) == ["2", "3"]
    assert page.locator("#slide-2 .sql-step").first.inner_text().endswith("CREATE TABLE")
    # hl= on a live block, then on a plain fence: the markers are steps of the slide.
    page.keyboard.press("Alt+ArrowRight")
    lit = "[...document.querySelectorAll('#slide-3 pre')].map(p => [...p.querySelectorAll('.pgslides-line')].map(l => l.classList.contains('pgslides-hl')))"
    assert page.evaluate(lit) == [[True, False, False, False], [True, False]]
    page.keyboard.press("ArrowRight")
    assert page.evaluate(lit) == [[False, True, True, False], [True, False]]
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    assert page.evaluate(lit) == [[False, False, False, True], [False, True]]
    # <!-- columns steps -->: bob's wait shows at his step, his late result at alice's COMMIT.
    page.keyboard.press("Alt+ArrowRight")
    assert where(page) == (4, 0)
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    assert hidden_steps(page, 4) == ["3"]
    assert page.locator("#slide-4 .sql-waiting-note").is_visible()
    assert not page.locator("#slide-4 .sql-late").is_visible()
    page.keyboard.press("ArrowRight")
    assert page.locator("#slide-4 .sql-late").is_visible()


def test_handout_overview_and_print_show_every_step(ctx: Context, served: str):
    page = ctx.open_deck(f"{served}/steps.html")
    assert page.locator(".pgslides-step-hidden").count() == 0
    page.keyboard.press("p")
    page.keyboard.press("o")
    assert page.locator(".pgslides-overview .pgslides-step-hidden").count() == 0
    page.keyboard.press("Escape")
    assert page.locator(".pgslides-print .pgslides-step-hidden").count() == 0
    assert page.locator(".pgslides-print-page").count() == SLIDES
    pdf = page.pdf(width="13.333in", height="7.5in", print_background=True)
    assert pdf_pages(pdf) == SLIDES


@pytest.mark.parametrize("fragment", ["#print-steps", "#print-notes-steps"])
def test_print_steps_gives_a_page_per_step_state(ctx: Context, served: str, fragment: str):
    page = ctx.open_deck(f"{served}/steps.html{fragment}")
    # 1 + (3+1) + (2+1) + (2+1) + (16+1) + 1 + 1
    expected = 1 + 4 + 3 + 3 + 17 + 1 + 1
    pages = page.evaluate(
        """() => [...document.querySelectorAll('.pgslides-print-page')].map(p => ({
             slide: p.dataset.slide, step: p.dataset.step ?? null,
             hidden: p.querySelectorAll('.pgslides-step-hidden').length,
             number: p.querySelector('.pgslides-print-number').textContent}))"""
    )
    assert len(pages) == expected
    numbered = [p for p in pages if p["slide"] == "2"]
    assert [(p["step"], p["hidden"]) for p in numbered] == [("0", 3), ("1", 2), ("2", 1), ("3", 0)]
    assert numbered[1]["number"] == f"2 / {SLIDES} · step 1 of 3"
    assert pages[0]["step"] is None
    assert page.evaluate("document.documentElement.classList.contains('pgslides-print-notes')") == (
        "notes" in fragment
    )
    pdf = page.pdf(width="13.333in", height="7.5in", print_background=True)
    assert pdf_pages(pdf) == expected


def test_an_explicit_deep_link_keeps_its_position_and_drives_the_other_tabs(
    ctx: Context, served: str
):
    first = ctx.open_deck(f"{served}/steps.html#/2")
    first.keyboard.press("ArrowRight")
    assert where(first) == (2, 1)
    # A new tab at #/4 stays at 4 (it used to jump to the presenting tab's slide) ...
    second = ctx.open_deck(f"{served}/steps.html#/4")
    second.wait_for_timeout(300)
    assert where(second) == (4, 0)
    # ... and the tab already presenting follows it.
    first.wait_for_function("location.hash === '#/4'")
    second.keyboard.press("ArrowRight")
    first.wait_for_function("location.hash === '#/4/1'")
    # A step deep link too.
    third = ctx.open_deck(f"{served}/steps.html#/2/2")
    third.wait_for_timeout(300)
    assert where(third) == (2, 2)
    first.wait_for_function("location.hash === '#/2/2'")
    second.wait_for_function("location.hash === '#/2/2'")
    # A tab opened without a position is the handout; it does not move the others.
    handout = ctx.open_deck(f"{served}/steps.html")
    handout.wait_for_timeout(300)
    assert not handout.evaluate("window.pgslides.position().presenting")
    assert where(first) == (2, 2)
    # Presenting it adopts the position of the window already presenting.
    handout.keyboard.press("p")
    assert where(handout) == (2, 2)


def test_presenter_view_shows_the_step_and_previews_the_next_press(ctx: Context, served: str):
    page = ctx.open_deck(f"{served}/steps.html#/2/1")
    with ctx.raw.expect_page() as popup_info:
        page.keyboard.press("s")
    popup = popup_info.value
    popup.wait_for_selector("html[data-pgslides=ready]", state="attached")
    # The popup adopts the audience's position.
    popup.wait_for_function("location.hash === '#presenter/2/1'")
    assert popup.text_content(".pgslides-pv-step") == "step 1 of 3"
    assert popup.text_content(".pgslides-pv-heading") == "Next: step 2 of 3"
    next_hidden = "[...document.querySelectorAll('.pgslides-pv-next .pgslides-step-hidden')].map(e => e.dataset.step)"
    current_hidden = next_hidden.replace("pv-next", "pv-current")
    assert popup.evaluate(current_hidden) == ["2", "3"]
    assert popup.evaluate(next_hidden) == ["3"]
    popup.keyboard.press("ArrowRight")
    page.wait_for_function("location.hash === '#/2/2'")
    popup.keyboard.press("ArrowRight")
    page.wait_for_function("location.hash === '#/2/3'")
    # At the last step the preview is the next slide, before its first step.
    assert popup.text_content(".pgslides-pv-step") == "step 3 of 3"
    assert popup.text_content(".pgslides-pv-next .pgslides-pv-heading") == "Next: slide 3"
    assert "Numbered by the script" in popup.text_content(".pgslides-pv-next .slide")
    assert popup.evaluate(next_hidden) == ["1", "2"]
    page.keyboard.press("ArrowRight")
    popup.wait_for_function("location.hash === '#presenter/3'")
    assert popup.text_content(".pgslides-pv-step") == "step 0 of 2"
    # No duration in this deck: no countdown.
    assert not popup.locator(".pgslides-pv-remaining").is_visible()


def test_a_tall_slide_with_steps_stays_readable_and_keeps_its_step_in_view(
    ctx: Context, served: str
):
    page = ctx.open_deck(f"{served}/steps.html#/5")
    pos = page.evaluate("window.pgslides.position()")
    assert pos["steps"] == 16
    assert pos["scale"] == pytest.approx(0.8)
    assert pos["shift"] == 0
    in_view = """k => { const s = document.getElementById('slide-5').getBoundingClientRect();
                        const e = document.querySelector('#slide-5 [data-step="' + k + '"]').getBoundingClientRect();
                        return e.top >= s.top - 1 && e.bottom <= s.bottom + 1; }"""
    for _ in range(16):
        page.keyboard.press("ArrowRight")
        step = page.evaluate("window.pgslides.position().step")
        assert page.evaluate(in_view, step), step
    assert page.evaluate("window.pgslides.position().shift") > 0
    # Print and overview show it whole, scaled to fit.
    whole = page.evaluate(
        "parseFloat(document.querySelector('.pgslides-print-page[data-slide=\"5\"] .slide').style.getPropertyValue('--pgslides-fit'))"
    )
    assert whole < 0.8
    # The helper for the talk: every slide at every step.
    rows = presented_scales(page.context.browser, f"{served}/steps.html")
    assert len(rows) == 1 + 4 + 3 + 3 + 17 + 1 + 1
    print(table(rows))
    assert smallest(rows).scale >= 0.8
    assert all(row.smallest_px is None or row.smallest_px >= 16 for row in rows)


def test_two_columns_layout_sits_side_by_side(ctx: Context, served: str):
    page = ctx.open_deck(f"{served}/steps.html#/6")
    page.evaluate("document.getElementById('slide-6').dataset.layout = 'two-columns'")
    boxes = page.evaluate(
        "[...document.querySelectorAll('#slide-6 .slide-column')].map(c => c.getBoundingClientRect())"
        ".map(r => ({x: r.x, y: r.y, w: r.width}))"
    )
    assert len(boxes) == 2
    assert boxes[0]["x"] + boxes[0]["w"] <= boxes[1]["x"]
    assert boxes[0]["y"] == pytest.approx(boxes[1]["y"], abs=1)
    assert boxes[0]["w"] == pytest.approx(boxes[1]["w"], abs=1)


def test_deck_theme_dark_and_the_countdown(ctx: Context, served: str):
    page = ctx.open_deck(f"{served}/dark.html")
    light = page.evaluate("getComputedStyle(document.getElementById('slide-1')).backgroundColor")
    page.keyboard.press("p")
    dark = page.evaluate("getComputedStyle(document.getElementById('slide-1')).backgroundColor")
    assert light != dark
    rgb = [int(v) for v in re.findall(r"\d+", dark)[:3]]
    assert sum(rgb) < 3 * 80, dark
    with ctx.raw.expect_page() as popup_info:
        page.keyboard.press("s")
    popup = popup_info.value
    popup.wait_for_selector("html[data-pgslides=ready]", state="attached")
    remaining = popup.locator(".pgslides-pv-remaining")
    assert remaining.is_visible()
    assert re.fullmatch(r"00:(10:00|09:5\d) left", remaining.text_content())
    # On the first slide with no time used: on time; a minute past a 10-minute talk's
    # first slide: behind; on the last slide early: ahead.
    assert remaining.get_attribute("data-pace") == "on-time"
    popup.evaluate(
        "sessionStorage.setItem('pgslides-timer:' + location.pathname,"
        " JSON.stringify({running: false, started: Date.now(), elapsed: 120000}))"
    )
    popup.reload()
    popup.wait_for_selector("html[data-pgslides=ready]", state="attached")
    popup.wait_for_function(
        "document.querySelector('.pgslides-pv-remaining').dataset.pace === 'behind'"
    )
    popup.keyboard.press("End")
    popup.wait_for_function(
        "document.querySelector('.pgslides-pv-remaining').dataset.pace === 'ahead'"
    )
    page.keyboard.press("Escape")
    assert (
        page.evaluate("getComputedStyle(document.getElementById('slide-1')).backgroundColor")
        == light
    )
