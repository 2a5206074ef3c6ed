"""The talk in a real browser: handout, presenting, overview, presenter view, fit, print, offline.

The repository's own site is built once per session (real SQL on the embedded PostgreSQL) and
opened from file://, as a presenter would open it from disk; one test serves it over http from a
sub-path. Chromium is Debian's (/usr/bin/chromium, or $PGSLIDES_CHROMIUM): Playwright cannot
download its own here. In CI (CI set, as .ci/run runs) a missing browser fails the suite; on a
developer's machine without Chromium these tests are skipped with a note saying how to get it,
so README's test command passes on a fresh machine.

PGSLIDES_SCREENSHOTS=1 also writes docs/title-slide.png, docs/result-slide.png and
docs/presenter-view.png (always rendered, only saved when asked, so a test run never dirties
the tree).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from browsing import Context, chromium_path, http_server  # noqa: F401 (chromium_path: re-exported)
from presented import presented_scales, smallest

ROOT = Path(__file__).resolve().parent.parent
DECK = "what-could-possibly-go-wrong.html"
SLIDES = 69

# A slide of the talk with SQL results (an INSERT, then a join) for the screenshot.
RESULT_SLIDE = 28


# --- session: the built site and one browser -------------------------------------------------


def deck_url(site_dir: Path, fragment: str = "") -> str:
    return (site_dir / DECK).as_uri() + fragment


def open_deck(ctx: Context, site_dir: Path, fragment: str = "") -> Any:
    return ctx.open_deck(deck_url(site_dir, fragment))


# --- reading the page -------------------------------------------------------------------------


def presenting(page: Any) -> bool:
    return page.evaluate("document.documentElement.classList.contains('pgslides-presenting')")


def current(page: Any) -> int:
    """The slide on the stage; the URL hash must say the same."""
    shown = page.evaluate(
        """() => [...document.querySelectorAll('article section.slide')]
                 .filter(s => s.classList.contains('pgslides-current')
                              && getComputedStyle(s).visibility === 'visible')
                 .map(s => Number(s.id.replace('slide-', '')))"""
    )
    assert len(shown) == 1, f"slides on stage: {shown}"
    assert page.evaluate("location.hash") == f"#/{shown[0]}"
    return shown[0]


def presenter_current(popup: Any) -> int:
    match = re.fullmatch(r"#presenter/(\d+)", popup.evaluate("location.hash"))
    assert match, popup.evaluate("location.hash")
    count = popup.text_content(".pgslides-pv-count")
    assert count == f"{match[1]} / {SLIDES}"
    return int(match[1])


def visible(page: Any, selector: str) -> bool:
    return page.locator(selector).first.is_visible()


def no_scrollbars(page: Any) -> bool:
    return page.evaluate(
        """() => { const s = document.scrollingElement;
                   return s.scrollWidth <= innerWidth && s.scrollHeight <= innerHeight; }"""
    )


def stage_box(page: Any, n: int) -> dict[str, float]:
    return page.evaluate(
        "n => { const r = document.getElementById('slide-' + n).getBoundingClientRect();"
        " return {x: r.x, y: r.y, width: r.width, height: r.height}; }",
        n,
    )


# Every element of the slide's content, as drawn (transforms included), inside the stage.
OVERFLOW_JS = """n => {
  const slide = document.getElementById('slide-' + n);
  const stage = slide.getBoundingClientRect();
  const out = [];
  // A slide with steps taller than the stage scrolls by design (test_browser_steps checks it).
  if (slide.dataset.stepShift) return out;
  for (const el of slide.querySelectorAll('.slide-body, .slide-body *')) {
    // Steps not shown yet, and what holds them, may reach below the stage; what shows may not.
    if (el.closest('.pgslides-step-hidden') || el.querySelector('.pgslides-step-hidden')) continue;
    const r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue;
    if (r.left < stage.left - 1 || r.top < stage.top - 1
        || r.right > stage.right + 1 || r.bottom > stage.bottom + 1) {
      out.push(el.tagName + '.' + el.className + ' ' + JSON.stringify(
        [r.left - stage.left, r.top - stage.top, r.right - stage.right, r.bottom - stage.bottom]));
    }
  }
  return out;
}"""


# --- handout ----------------------------------------------------------------------------------


def test_handout_cards_present_button_and_material_still_work(ctx: Context, site_dir: Path):
    page = open_deck(ctx, site_dir)
    assert not presenting(page)
    sections = page.locator("article section.slide")
    assert sections.count() == SLIDES
    for n in (1, RESULT_SLIDE, SLIDES):
        slide = page.locator(f"#slide-{n}")
        assert slide.get_attribute("role") == "region"
        assert slide.get_attribute("aria-roledescription") == "slide"
        assert slide.get_attribute("aria-label") == f"{n} of {SLIDES}"
    # A card is 16:9, taller only when its content (or open notes) needs it: never clipped.
    box = stage_box(page, 25)  # "Key-value store: great for caching": a card of its own size
    assert box["width"] / box["height"] == pytest.approx(16 / 9, rel=0.01)
    ratios = page.evaluate(
        "[...document.querySelectorAll('article section.slide')]"
        ".map(s => s.getBoundingClientRect()).map(r => r.width / r.height)"
    )
    assert max(ratios) <= 16 / 9 + 0.01
    # The Present button sits right above the first slide; notes start collapsed.
    assert page.evaluate(
        "document.getElementById('slide-1').previousElementSibling.querySelector('.pgslides-present') !== null"
    )
    assert visible(page, ".pgslides-present")
    assert page.evaluate("[...document.querySelectorAll('.notes details')].every(d => !d.open)")
    assert page.locator(".notes details").count() > 20
    # Material: header, navigation, table of contents, code copy buttons are all there.
    for selector in (".md-header", ".md-sidebar--primary", ".md-sidebar--secondary", ".md-footer"):
        assert visible(page, selector), selector
    assert page.locator("#slide-2 .md-code__button").count() == 1
    # A table-of-contents link still scrolls to a slide without presenting.
    page.locator(".md-sidebar--secondary a[href='#limits-ask-the-server']").click()
    assert page.evaluate("location.hash") == "#limits-ask-the-server"
    assert not presenting(page)


def test_index_page_is_left_alone(ctx: Context, site_dir: Path):
    page = ctx.open((site_dir / "index.html").as_uri())
    page.wait_for_load_state()
    assert page.locator(".pgslides-toolbar, .pgslides-print, .pgslides-hud").count() == 0
    assert not page.evaluate("document.documentElement.classList.contains('pgslides-deck')")


# --- presenting -------------------------------------------------------------------------------


def test_present_button_then_escape_returns_focus(ctx: Context, site_dir: Path):
    page = open_deck(ctx, site_dir)
    page.click(".pgslides-present")
    assert presenting(page)
    assert current(page) == 1
    assert page.evaluate("document.activeElement.matches('article.md-content__inner')")
    for selector in (".md-header", ".md-sidebar--primary", ".md-sidebar--secondary", ".md-footer"):
        assert not visible(page, selector), selector
    assert visible(page, ".pgslides-progress")
    assert page.text_content(".pgslides-counter") == f"1 / {SLIDES}"
    assert not visible(page, "#slide-1 .notes")
    assert no_scrollbars(page)
    page.keyboard.press("ArrowRight")
    page.keyboard.press("Escape")
    assert not presenting(page)
    assert page.evaluate("location.hash") == ""
    assert page.evaluate("document.activeElement.matches('.pgslides-present')")
    assert visible(page, ".md-header")


def test_p_presents_the_slide_in_view(ctx: Context, site_dir: Path):
    page = open_deck(ctx, site_dir)
    page.evaluate("document.getElementById('slide-10').scrollIntoView({block: 'start'})")
    page.keyboard.press("p")
    assert current(page) == 10


def test_every_navigation_key(ctx: Context, site_dir: Path):
    page = open_deck(ctx, site_dir, "#/21")  # slides 21-26 have no steps
    steps = [
        ("ArrowRight", 22),
        ("ArrowDown", 23),
        ("Space", 24),
        ("PageDown", 25),
        ("n", 26),
        ("ArrowLeft", 25),
        ("ArrowUp", 24),
        ("PageUp", 23),
        ("Backspace", 22),
        ("Shift+Space", 21),
        ("End", SLIDES),
        ("ArrowRight", SLIDES),  # the last slide stays
        ("Home", 1),
        ("ArrowLeft", 1),  # and so does the first
    ]
    for key, expected in steps:
        page.keyboard.press(key)
        assert current(page) == expected, key
    # A number then Enter jumps; Backspace edits the number; too big goes to the end.
    for key in ("1", "2"):
        page.keyboard.press(key)
    assert page.text_content(".pgslides-goto") == "Go to slide 12"
    page.keyboard.press("Enter")
    assert current(page) == 12
    for key in ("2", "9", "Backspace", "7", "Enter"):
        page.keyboard.press(key)
    assert current(page) == 27
    for key in ("9", "9", "Enter"):
        page.keyboard.press(key)
    assert current(page) == SLIDES
    assert not visible(page, ".pgslides-goto")
    # Progress and number follow.
    assert page.text_content(".pgslides-counter") == f"{SLIDES} / {SLIDES}"
    width = page.evaluate(
        "document.querySelector('.pgslides-progress-bar').getBoundingClientRect().width"
    )
    assert width == pytest.approx(1280, abs=1)


def test_hash_deep_link_opens_that_slide(ctx: Context, site_dir: Path):
    page = open_deck(ctx, site_dir, "#/5")
    assert presenting(page)
    assert current(page) == 5
    # Only slide 5 is drawn; the rest are hidden, not just covered.
    hidden = page.evaluate(
        "[...document.querySelectorAll('article section.slide:not(#slide-5)')]"
        ".every(s => getComputedStyle(s).visibility === 'hidden')"
    )
    assert hidden
    # Out of range: the last slide, and the URL says so.
    page.goto(deck_url(site_dir, "#/99"))
    assert current(page) == SLIDES
    # Typing a new hash moves there.
    page.evaluate("location.hash = '#/7'")
    page.wait_for_function("location.hash === '#/7'")
    assert current(page) == 7


def test_back_and_forward_follow_the_slides(ctx: Context, site_dir: Path):
    page = open_deck(ctx, site_dir)
    page.keyboard.press("p")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    assert current(page) == 3
    page.go_back()
    assert current(page) == 2
    page.go_back()
    assert current(page) == 1
    page.go_forward()
    assert current(page) == 2
    page.keyboard.press("Escape")
    assert not presenting(page)
    page.go_back()
    assert presenting(page)
    assert current(page) == 2
    page.go_back()
    page.go_back()
    assert not presenting(page)
    assert visible(page, ".md-header")


def test_overview_picks_with_arrows_enter_and_click(ctx: Context, site_dir: Path):
    page = open_deck(ctx, site_dir, "#/4")
    page.keyboard.press("o")
    assert visible(page, ".pgslides-overview")
    thumbs = page.locator(".pgslides-thumb")
    assert thumbs.count() == SLIDES
    assert page.get_attribute(".pgslides-thumb.is-selected", "aria-label") == (
        f"Slide 4 of {SLIDES}: Limits: ask the server"
    )
    columns = page.evaluate(
        "(() => { const t = [...document.querySelectorAll('.pgslides-thumb')];"
        " return t.filter(b => b.offsetTop === t[0].offsetTop).length; })()"
    )
    assert columns > 1
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowLeft")
    selected = 4 + 1 + columns - 2
    assert page.evaluate("document.activeElement.classList.contains('is-selected')")
    page.keyboard.press("Enter")
    assert not visible(page, ".pgslides-overview")
    assert current(page) == selected
    # Click a thumbnail.
    page.keyboard.press("o")
    page.locator(".pgslides-thumb").nth(19).click()
    assert current(page) == 20
    # Esc closes the overview without moving, a second Esc leaves presenting.
    page.keyboard.press("o")
    page.keyboard.press("End")
    page.keyboard.press("Escape")
    assert not visible(page, ".pgslides-overview")
    assert current(page) == 20
    page.keyboard.press("Escape")
    assert not presenting(page)


def test_blank_screen_help_and_escape_order(ctx: Context, site_dir: Path):
    page = open_deck(ctx, site_dir, "#/3")
    for key in ("b", "."):
        page.keyboard.press(key)
        assert visible(page, ".pgslides-blank-screen")
        box = page.locator(".pgslides-blank-screen").bounding_box()
        assert (box["width"], box["height"]) == (1280, 720)
        page.keyboard.press(key)
        assert not visible(page, ".pgslides-blank-screen")
    page.keyboard.press("?")
    assert visible(page, "dialog.pgslides-help")
    assert "overview" in page.text_content("dialog.pgslides-help")
    page.keyboard.press("ArrowRight")  # keys do not reach the deck under the help
    assert current(page) == 3
    page.keyboard.press("Escape")
    assert not visible(page, "dialog.pgslides-help")
    page.keyboard.press("b")
    page.keyboard.press("Escape")  # first the blank screen goes
    assert presenting(page)
    assert not visible(page, ".pgslides-blank-screen")
    page.keyboard.press("Escape")
    assert not presenting(page)
    # ? works on the handout too.
    page.keyboard.press("?")
    assert visible(page, "dialog.pgslides-help")
    page.keyboard.press("Escape")
    assert not visible(page, "dialog.pgslides-help")


def test_f_toggles_full_screen(ctx: Context, site_dir: Path):
    page = open_deck(ctx, site_dir, "#/2")
    page.keyboard.press("f")
    page.wait_for_function("document.fullscreenElement === document.documentElement")
    page.keyboard.press("f")
    page.wait_for_function("document.fullscreenElement === null")
    assert presenting(page)


def test_swipes_change_slides(browser: Any, site_dir: Path):
    context = Context(browser, has_touch=True)
    try:
        page = open_deck(context, site_dir, "#/5")
        cdp = context.raw.new_cdp_session(page)

        def swipe(x0: int, x1: int, y: int = 360) -> None:
            cdp.send(
                "Input.dispatchTouchEvent",
                {"type": "touchStart", "touchPoints": [{"x": x0, "y": y}]},
            )
            cdp.send(
                "Input.dispatchTouchEvent",
                {"type": "touchMove", "touchPoints": [{"x": (x0 + x1) // 2, "y": y}]},
            )
            cdp.send(
                "Input.dispatchTouchEvent",
                {"type": "touchMove", "touchPoints": [{"x": x1, "y": y}]},
            )
            cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})

        swipe(900, 300)
        assert current(page) == 6
        swipe(900, 300)
        assert current(page) == 7
        swipe(300, 900)
        assert current(page) == 6
        swipe(600, 620)  # a tap, not a swipe
        assert current(page) == 6
    finally:
        context.raw.close()
    assert context.script_errors() == []


# --- the stage: scaling and fit ---------------------------------------------------------------


def test_stage_scales_to_the_window_without_scrollbars(ctx: Context, site_dir: Path):
    page = open_deck(ctx, site_dir, "#/4")
    for width, height in ((1280, 720), (1024, 768), (800, 600), (1920, 1080), (700, 900)):
        page.set_viewport_size({"width": width, "height": height})
        page.wait_for_function(
            "w => Math.abs(document.getElementById('slide-4').getBoundingClientRect().width - w) < 1",
            arg=min(width, height * 16 / 9),
        )
        box = stage_box(page, 4)
        scale = min(width / 1280, height / 720)
        assert box["width"] == pytest.approx(1280 * scale, abs=1)
        assert box["height"] == pytest.approx(720 * scale, abs=1)
        # Letterboxed: centred both ways.
        assert box["x"] == pytest.approx((width - box["width"]) / 2, abs=1)
        assert box["y"] == pytest.approx((height - box["height"]) / 2, abs=1)
        assert no_scrollbars(page), (width, height)
        assert page.evaluate(OVERFLOW_JS, 4) == []


@pytest.mark.parametrize(("width", "height"), [(1280, 720), (1024, 768)])
def test_every_slide_fits_the_stage(browser: Any, site_dir: Path, width: int, height: int):
    context = Context(browser, viewport={"width": width, "height": height})
    try:
        page = open_deck(context, site_dir, "#/1")
        scaled = []
        for n in range(1, SLIDES + 1):
            assert current(page) == n
            assert page.evaluate(OVERFLOW_JS, n) == [], f"slide {n} overflows"
            fit = page.get_attribute(f"#slide-{n}", "data-fit-scale")
            if fit is not None:
                assert 0.3 < float(fit) < 1
                scaled.append(n)
            page.keyboard.press("Alt+ArrowRight")  # a whole slide: its steps are another test's
        # The talk has slides that only fit scaled (the deadlock's timeline, long code).
        assert 13 in scaled
        assert no_scrollbars(page)
    finally:
        context.raw.close()
    assert context.script_errors() == []


def test_every_slide_of_the_talk_is_readable_at_every_step(browser: Any, site_dir: Path):
    """At 1280×720 every slide, at every step, is presented at scale >= 0.8, or its smallest
    text is >= 16 px (issue 12); the smallest is printed for the record."""
    rows = presented_scales(browser, deck_url(site_dir, "#/1"))
    assert len({row.slide for row in rows}) == SLIDES
    print(f"\nthe talk at 1280x720, {len(rows)} slide steps; smallest: {smallest(rows)}")
    unreadable = [
        row for row in rows if row.scale < 0.8 and (row.smallest_px is None or row.smallest_px < 16)
    ]
    assert unreadable == []


def test_a_wide_table_is_shrunk_not_clipped_and_refit_on_resize(ctx: Context, site_dir: Path):
    page = open_deck(ctx, site_dir, "#/26")
    assert page.get_attribute("#slide-26", "data-fit-scale") is None
    # Widen the result table far past the stage: 40 more columns.
    page.evaluate(
        """() => {
          const table = document.querySelector('#slide-26 table.sql-result');
          for (const row of table.rows) {
            for (let i = 0; i < 40; i++) {
              const cell = document.createElement(row.parentNode.tagName === 'THEAD' ? 'th' : 'td');
              cell.textContent = 'column_' + i;
              row.appendChild(cell);
            }
          }
          window.dispatchEvent(new Event('resize'));
        }"""
    )
    page.wait_for_function("document.getElementById('slide-26').dataset.fitScale !== undefined")
    assert float(page.get_attribute("#slide-26", "data-fit-scale")) < 0.5
    assert page.evaluate(OVERFLOW_JS, 15) == []
    last = page.evaluate(
        "(() => { const c = document.querySelector('#slide-26 tbody tr').lastElementChild;"
        " return c.textContent; })()"
    )
    assert last == "column_39"
    # The header cells are still header cells.
    assert page.locator("#slide-26 table.sql-result thead th").count() == 4 + 40


# --- presenter view -----------------------------------------------------------------------------


def open_presenter(ctx: Context, page: Any) -> Any:
    with ctx.raw.expect_page() as popup_info:
        page.keyboard.press("s")
    popup = popup_info.value
    popup.wait_for_selector("html[data-pgslides=ready]", state="attached")
    return popup


def check_windows_drive_each_other(ctx: Context, page: Any, popup: Any) -> None:
    assert presenter_current(popup) == 4
    popup.keyboard.press("ArrowRight")
    page.wait_for_function("location.hash === '#/5'")
    assert current(page) == 5
    page.keyboard.press("ArrowRight")
    popup.wait_for_function("location.hash === '#presenter/6'")
    assert presenter_current(popup) == 6
    popup.keyboard.press("End")
    page.wait_for_function(f"location.hash === '#/{SLIDES}'")
    page.keyboard.press("Home")
    popup.wait_for_function("location.hash === '#presenter/1'")
    for key in ("3", "Enter"):
        popup.keyboard.press(key)
    page.wait_for_function("location.hash === '#/3'")
    # Blank from the presenter view blanks the audience; b on the audience shows it again.
    popup.keyboard.press("b")
    page.wait_for_selector(".pgslides-blank-screen", state="visible")
    assert "blanked" in popup.text_content(".pgslides-pv-status")
    page.keyboard.press("b")
    popup.wait_for_function("document.querySelector('.pgslides-pv-status').textContent === ''")


def test_presenter_view_shows_current_next_notes_and_timer(ctx: Context, site_dir: Path):
    page = open_deck(ctx, site_dir, "#/4")
    popup = open_presenter(ctx, page)
    assert popup.evaluate("location.hash") == "#presenter/4"
    assert popup.title().startswith("Presenter: ")
    assert presenter_current(popup) == 4
    current_text = popup.text_content(".pgslides-pv-current .slide")
    assert "Limits: ask the server" in current_text
    assert "max_identifier_length" in current_text  # its results too
    assert "Maximum Field Size: 1 GB" in popup.text_content(".pgslides-pv-next .slide")
    notes = popup.text_content(".pgslides-pv-notes")
    assert "fixed when PostgreSQL is compiled" in notes
    # Material's chrome is gone; the frames hold clones, never a second section.slide.
    assert not visible(popup, ".md-header")
    assert popup.locator("section.slide:visible").count() == 0
    assert no_scrollbars(popup)
    # The clock, and the timer that pauses and resets.
    assert re.fullmatch(r"\d\d:\d\d", popup.text_content(".pgslides-pv-clock"))
    assert re.fullmatch(r"\d\d:\d\d:\d\d", popup.text_content(".pgslides-pv-elapsed"))
    popup.keyboard.press("t")
    assert popup.text_content(".pgslides-pv-timer button") == "Resume"
    frozen = popup.text_content(".pgslides-pv-elapsed")
    popup.wait_for_timeout(1100)
    assert popup.text_content(".pgslides-pv-elapsed") == frozen
    popup.click(".pgslides-pv-timer button:text('Resume')")
    popup.wait_for_function(
        "document.querySelector('.pgslides-pv-elapsed').textContent !== '00:00:00'"
    )
    popup.keyboard.press("r")
    assert popup.text_content(".pgslides-pv-elapsed") in ("00:00:00", "00:00:01")
    # The last slide has nothing next.
    popup.keyboard.press("End")
    assert "End of the deck" in popup.text_content(".pgslides-pv-next")
    # Notes grow and shrink.
    size_js = "getComputedStyle(document.querySelector('.pgslides-pv-notes .pgslides-notes-body')).fontSize"
    size = popup.evaluate(size_js)
    popup.keyboard.press("+")
    bigger = popup.evaluate(size_js)
    assert float(bigger.removesuffix("px")) > float(size.removesuffix("px"))


def test_presenter_and_audience_drive_each_other(ctx: Context, site_dir: Path):
    page = open_deck(ctx, site_dir, "#/4")
    popup = open_presenter(ctx, page)
    check_windows_drive_each_other(ctx, page, popup)
    # The overview in the presenter view moves the audience too.
    popup.keyboard.press("o")
    popup.keyboard.press("ArrowRight")
    popup.keyboard.press("Enter")
    page.wait_for_function("location.hash === '#/4'")
    # s again focuses the same presenter window, it does not open a second one.
    page.keyboard.press("s")
    page.wait_for_timeout(200)
    assert len(ctx.raw.pages) == 2


def test_presenter_view_without_broadcastchannel(browser: Any, site_dir: Path):
    """Where BroadcastChannel is missing, opener and popup still keep in step (postMessage)."""
    context = Context(browser)
    context.raw.add_init_script("delete window.BroadcastChannel;")
    try:
        page = open_deck(context, site_dir, "#/4")
        assert page.evaluate("typeof BroadcastChannel") == "undefined"
        popup = open_presenter(context, page)
        check_windows_drive_each_other(context, page, popup)
        # A reloaded presenter view finds the audience again (through window.opener).
        popup.reload()
        popup.wait_for_selector("html[data-pgslides=ready]", state="attached")
        page.keyboard.press("ArrowRight")
        popup.wait_for_function("location.hash === '#presenter/4'")
    finally:
        context.raw.close()
    assert context.script_errors() == []


# --- accessibility ------------------------------------------------------------------------------


def test_announcements_focus_and_reduced_motion(browser: Any, site_dir: Path):
    context = Context(browser, reduced_motion="no-preference")
    try:
        page = open_deck(context, site_dir, "#/2")
        live = page.locator(".pgslides-live")
        assert live.get_attribute("aria-live") == "polite"
        page.keyboard.press("ArrowRight")
        assert live.text_content() == f"Slide 3 of {SLIDES}: What is PostgreSQL?"
        moving = page.evaluate(
            "getComputedStyle(document.getElementById('slide-3')).transitionDuration"
        )
        assert moving != "0s"
        # A link on the stage takes focus; moving on puts focus back on the stage.
        page.goto(deck_url(site_dir, "#/2"))
        page.focus("#slide-2 .slide-body a")
        page.keyboard.press("ArrowRight")
        assert page.evaluate("document.activeElement.matches('article.md-content__inner')")
    finally:
        context.raw.close()
    context = Context(browser, reduced_motion="reduce")
    try:
        page = open_deck(context, site_dir, "#/2")
        still = page.evaluate(
            "[getComputedStyle(document.getElementById('slide-2')).transitionDuration,"
            " getComputedStyle(document.querySelector('.pgslides-progress-bar')).transitionDuration]"
        )
        assert still == ["0s", "0s"]
        # Result tables keep their header cells on the stage.
        page.keyboard.press("End")
        page.keyboard.press("Home")
        for key in ("2", "5", "Enter"):
            page.keyboard.press(key)
        assert page.locator("#slide-26 table.sql-result thead th").count() == 4
        assert page.locator("#slide-26").get_attribute("aria-label") == f"26 of {SLIDES}"
    finally:
        context.raw.close()


# --- print --------------------------------------------------------------------------------------

PAGE_OBJECT = re.compile(rb"/Type\s*/Page(?![a-zA-Z])")
MEDIA_BOX = re.compile(rb"/MediaBox\s*\[\s*0\s+0\s+([\d.]+)\s+([\d.]+)\s*\]")


def pdf_pages(pdf: bytes) -> int:
    return len(PAGE_OBJECT.findall(pdf))


def test_print_gives_one_landscape_page_per_slide(ctx: Context, site_dir: Path):
    page = open_deck(ctx, site_dir)
    pdf = page.pdf(width="13.333in", height="7.5in", print_background=True)
    assert pdf_pages(pdf) == SLIDES
    # The page size comes from the stylesheet when asked: 13.333in × 7.5in = 960 × 540 pt.
    pdf = page.pdf(prefer_css_page_size=True, print_background=True)
    assert pdf_pages(pdf) == SLIDES
    boxes = {(round(float(w)), round(float(h))) for w, h in MEDIA_BOX.findall(pdf)}
    assert boxes == {(960, 540)}
    # Printed while presenting, at another window size, with the overview open: the same.
    page.goto(deck_url(site_dir, "#/9"))
    page.set_viewport_size({"width": 1024, "height": 768})
    page.keyboard.press("o")
    pdf = page.pdf(width="13.333in", height="7.5in", print_background=True)
    assert pdf_pages(pdf) == SLIDES


def test_print_layout_in_order_with_results_and_notes_only_when_asked(ctx: Context, site_dir: Path):
    page = open_deck(ctx, site_dir)
    page.emulate_media(media="print")
    layout = page.evaluate(
        """() => [...document.querySelectorAll('.pgslides-print-page')].map(p => {
             const r = p.getBoundingClientRect();
             const notes = p.querySelector('.pgslides-print-notes-box');
             return {top: r.top + scrollY, width: r.width, height: r.height,
                     number: p.querySelector('.pgslides-print-number').textContent,
                     text: p.querySelector('.slide').textContent,
                     notes: notes.getBoundingClientRect().height > 0};
           })"""
    )
    assert len(layout) == SLIDES
    for n, sheet in enumerate(layout, start=1):
        assert sheet["number"] == f"{n} / {SLIDES}"
        assert sheet["top"] == pytest.approx((n - 1) * 720, abs=1)
        assert sheet["height"] == pytest.approx(720, abs=0.5)
        assert not sheet["notes"]
    assert "max_identifier_length" in layout[3]["text"]  # results are printed
    assert "Kurt" in layout[RESULT_SLIDE - 1]["text"]
    assert not visible(page, ".md-header")
    assert not visible(page, "article")

    notes_page = open_deck(ctx, site_dir, "#print-notes")
    assert notes_page.evaluate(
        "document.documentElement.classList.contains('pgslides-print-notes')"
    )
    notes_page.emulate_media(media="print")
    boxes = notes_page.locator(".pgslides-print-notes-box")
    assert boxes.count() == SLIDES
    assert "fixed when PostgreSQL is compiled" in boxes.nth(3).text_content()
    assert boxes.nth(3).is_visible()
    # Each page's notes fit their box.
    overflowing = notes_page.evaluate(
        """() => [...document.querySelectorAll('.pgslides-print-notes-box')].filter(b => {
             const box = b.getBoundingClientRect(), body = b.firstElementChild.getBoundingClientRect();
             return body.bottom > box.bottom + 1 || body.right > box.right + 1;
           }).length"""
    )
    assert overflowing == 0
    pdf = notes_page.pdf(width="13.333in", height="7.5in", print_background=True)
    assert pdf_pages(pdf) == SLIDES
    # A PDF tool may instead set the class itself, after loading.
    page.emulate_media(media="screen")
    page.evaluate("document.documentElement.classList.add('pgslides-print-notes')")
    page.emulate_media(media="print")
    assert page.locator(".pgslides-print-notes-box").nth(3).is_visible()


# --- offline: nothing from the network ---------------------------------------------------------


def test_nothing_is_loaded_from_the_network(ctx: Context, site_dir: Path):
    page = open_deck(ctx, site_dir)
    page.keyboard.press("p")
    page.keyboard.press("o")
    page.keyboard.press("Escape")
    popup = open_presenter(ctx, page)
    popup.keyboard.press("ArrowRight")
    page.wait_for_function("location.hash === '#/2'")
    page.pdf(width="13.333in", height="7.5in")
    ctx.open((site_dir / "index.html").as_uri()).wait_for_load_state()
    assert ctx.requests, "no requests recorded at all"
    assert [url for url in ctx.requests if not url.startswith("file:")] == []


@pytest.fixture
def served(site_dir: Path, tmp_path: Path) -> Iterator[str]:
    """The site under /talks/ of python -m http.server on 127.0.0.1, on a free port."""
    shutil.copytree(site_dir, tmp_path / "talks")
    with http_server(tmp_path) as url:
        yield url


def test_presenting_from_a_sub_path_over_http(ctx: Context, served: str):
    page = ctx.open(f"{served}/talks/{DECK}#/3")
    page.wait_for_selector("html[data-pgslides=ready]", state="attached")
    assert presenting(page)
    assert current(page) == 3
    page.keyboard.press("ArrowRight")
    assert current(page) == 4
    assert page.url == f"{served}/talks/{DECK}#/4"
    popup = open_presenter(ctx, page)
    assert popup.url == f"{served}/talks/{DECK}#presenter/4"
    popup.keyboard.press("ArrowRight")
    page.wait_for_function("location.hash === '#/5'")
    assert page.evaluate(OVERFLOW_JS, 5) == []
    # Dark mode (Material's palette toggle; it needs http: on file:// Material's search worker
    # fails and takes the palette with it): the stage follows the scheme.
    page.keyboard.press("Escape")
    page.locator("label[for=__palette_1]").click()
    page.wait_for_function("document.body.dataset.mdColorScheme === 'slate'")
    # Material's search opens from its own keys (f and /) on a deck page too.
    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.matches('.md-search__input')")
    page.keyboard.press("p")  # typed into the search box: text, not a command
    assert not presenting(page)
    assert page.input_value(".md-search__input") == "p"
    page.keyboard.press("Escape")
    page.focus("#__palette_1")  # a focused palette radio does not eat keys
    page.keyboard.press("p")
    background = page.evaluate(
        "getComputedStyle(document.querySelector('.pgslides-current')).backgroundColor"
    )
    assert background not in ("rgb(255, 255, 255)", "rgba(0, 0, 0, 0)")
    assert [url for url in ctx.requests if not url.startswith(f"{served}/talks/")] == []


# --- screenshots for the README -----------------------------------------------------------------


def test_screenshots(browser: Any, site_dir: Path, tmp_path: Path):
    """Render the three documentation screenshots; save them to docs/ only when asked."""
    save = os.environ.get("PGSLIDES_SCREENSHOTS") == "1"
    out = ROOT / "docs" if save else tmp_path
    context = Context(browser)
    try:
        page = open_deck(context, site_dir, "#/1")
        page.screenshot(path=str(out / "title-slide.png"))
        page.goto(deck_url(site_dir, f"#/{RESULT_SLIDE}"))
        assert current(page) == RESULT_SLIDE
        page.screenshot(path=str(out / "result-slide.png"))
        popup = open_presenter(context, page)
        popup.set_viewport_size({"width": 1280, "height": 800})
        popup.wait_for_timeout(300)  # the frames rescale on resize
        popup.screenshot(path=str(out / "presenter-view.png"))
    finally:
        context.raw.close()
    for name in ("title-slide.png", "result-slide.png", "presenter-view.png"):
        assert (out / name).read_bytes().startswith(b"\x89PNG")


CONTAINERS_DECK = """\
# Containers

!!! note "In an admonition"

    ```sql exec
    SELECT 1 AS in_admonition;
    ```

=== "First tab"

    ```sql exec
    SELECT 2 AS in_tab;
    ```

=== "Second tab"

    Nothing here.
"""


def test_blocks_in_containers_are_shown_and_readable_when_presenting(
    ctx: Context, tmp_path: Path, pg_server: Any
):
    from sites import database_url, make_site

    site = make_site(tmp_path, {"deck.md": CONTAINERS_DECK}, database_url=database_url(pg_server))
    config = yaml.safe_load(site.config_file.read_text(encoding="utf-8"))
    config["markdown_extensions"] = [
        "admonition",
        "pymdownx.superfences",
        {"pymdownx.tabbed": {"alternate_style": True}},
    ]
    site.config_file.write_text(yaml.safe_dump(config), encoding="utf-8")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    mkdocs = Path(sys.executable).with_name("mkdocs")
    subprocess.run([str(mkdocs), "build", "-q", "--strict"], cwd=tmp_path, check=True, env=env)
    page = ctx.open((site.site_dir / "deck.html").as_uri() + "#/1")
    page.wait_for_selector("html[data-pgslides=ready]", state="attached")
    assert presenting(page)
    # The overview and presenter frames copy the slide; their copies of the tabs' radio
    # inputs must not uncheck the original's, which would hide the tab's block.
    shown = page.evaluate(
        """() => [...document.querySelectorAll('section.slide [data-sql-block]')].map(b => ({
               line: b.dataset.line,
               visible: b.getClientRects().length > 0,
               px: parseFloat(getComputedStyle(b.querySelector('td')).fontSize)}))"""
    )
    assert [item["line"] for item in shown] == ["5", "11"]
    assert all(item["visible"] for item in shown), shown
    # Stage pixels (1280×720): Material's rem-sized containers follow the slide's type.
    assert all(item["px"] >= 16 for item in shown), shown
