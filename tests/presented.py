"""The scale every slide of a built deck is presented at, at every step, in real Chromium.

For the lead's check of the talk ("every slide at every step at 1280×720 is presented at
scale >= 0.8, or its smallest text >= 16 px"): `presented_scales(browser, url)` opens the deck
page at `url` (file:// or http), presents it, visits every slide at every step through
`window.pgslides.go` and reads `window.pgslides.position()`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# The smallest text of a slide as drawn on a 1280×720 stage: each visible text element's
# font size times the slide's fit scale (steps not yet shown do not count).
SMALLEST_PX_JS = """() => {
  const p = window.pgslides.position();
  const section = document.getElementById('slide-' + p.slide);
  let px = Infinity;
  for (const el of section.querySelectorAll('.slide-body *')) {
    if (el.closest('.pgslides-step-hidden')) continue;
    const own = [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
    if (!own || !el.getClientRects().length) continue;
    px = Math.min(px, parseFloat(getComputedStyle(el).fontSize));
  }
  return px === Infinity ? null : px * p.scale;
}"""


@dataclass(frozen=True)
class Presented:
    slide: int
    step: int
    steps: int
    scale: float
    smallest_px: float | None  # stage px, fit included


def presented_scales(
    browser: Any, url: str, *, width: int = 1280, height: int = 720
) -> list[Presented]:
    """Every (slide, step) of the deck at url as presented in a width×height window."""
    context = browser.new_context(
        viewport={"width": width, "height": height}, reduced_motion="reduce"
    )
    try:
        page = context.new_page()
        page.goto(url.split("#", maxsplit=1)[0] + "#/1")
        page.wait_for_selector("html[data-pgslides=ready]", state="attached")
        count = page.evaluate("document.querySelectorAll('article section.slide').length")
        out = []
        for slide in range(1, count + 1):
            page.evaluate("n => window.pgslides.go(n, 0)", slide)
            total = page.evaluate("window.pgslides.position().steps")
            for step in range(total + 1):
                page.evaluate("([n, s]) => window.pgslides.go(n, s)", [slide, step])
                pos = page.evaluate("window.pgslides.position()")
                assert (pos["slide"], pos["step"]) == (slide, step), pos
                out.append(
                    Presented(
                        slide, step, total, float(pos["scale"]), page.evaluate(SMALLEST_PX_JS)
                    )
                )
        return out
    finally:
        context.close()


def smallest(rows: list[Presented]) -> Presented:
    """The row presented smallest (by scale)."""
    return min(rows, key=lambda row: row.scale)


def table(rows: list[Presented]) -> str:
    """A Markdown table of the rows, for an issue or a test's output."""
    lines = ["| slide | step | scale | smallest px |", "|------:|-----:|------:|------------:|"]
    for row in rows:
        px = "" if row.smallest_px is None else f"{row.smallest_px:.1f}"
        lines.append(f"| {row.slide} | {row.step}/{row.steps} | {row.scale:.3f} | {px} |")
    return "\n".join(lines)
