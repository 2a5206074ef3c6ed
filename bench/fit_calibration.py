"""Build-time fit estimate (render/fit.py) against the scale Chromium presents each slide at.

    DATABASE_URL=postgresql://… PYTHONPATH=generator python bench/fit_calibration.py

Builds the repository's talk and a few synthetic decks, reads each section's data-fit-scale
(pgslides.js sets it once it has fitted every slide) after pressing p, and prints the table.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

from pgslides.parse.deck import read_deck
from pgslides.render.fit import slide_extent

ROOT = Path(__file__).resolve().parent.parent
SYNTHETIC = {
    "explain-json.md": """---
title: Synthetic
---

## EXPLAIN and JSON

```sql exec format=text
EXPLAIN SELECT * FROM generate_series(1, 10) g JOIN generate_series(1, 5) h ON g = h;
```

```sql exec format=json
SELECT g AS id, 'user ' || g AS name, now()::date AS day FROM generate_series(1, 3) g;
```

---

## Wide table

```sql exec
SELECT g AS id, repeat('x', 30) AS a_long_column, repeat('y', 30) AS another_one,
       repeat('z', 25) AS third FROM generate_series(1, 4) g;
```

---

## Long code

```sql
SELECT 1;
SELECT 2;
SELECT 3;
SELECT 4;
SELECT 5;
SELECT 6;
SELECT 7;
SELECT 8;
SELECT 9;
SELECT 10;
SELECT 11;
SELECT 12;
SELECT 13;
SELECT 14;
SELECT 15;
SELECT 16;
```

---

## Many rows

```sql exec
SELECT g FROM generate_series(1, 18) g;
```

---

## Fits

A short sentence.

```sql exec
SELECT 1 AS one;
```
""",
}


def build(root: Path, docs: Path) -> None:
    (root / "mkdocs.yml").write_text(
        (ROOT / "mkdocs.yml").read_text().replace("docs_dir: slides", f"docs_dir: {docs}"),
        encoding="utf-8",
    )
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "PYTHONPATH": str(ROOT / "generator")}
    subprocess.run(
        [str(Path(sys.executable).parent / "mkdocs"), "build", "-q"], cwd=root, env=env, check=True
    )


def browser_scales(site: Path, page: str) -> list[float]:
    server = subprocess.Popen(
        [sys.executable, "-m", "http.server", "8765", "-d", str(site)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(1)
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"]
            )
            tab = browser.new_page(viewport={"width": 1280, "height": 720})
            tab.goto(f"http://127.0.0.1:8765/{page}")
            tab.keyboard.press("p")
            tab.wait_for_timeout(1500)
            scales = tab.eval_on_selector_all(
                "section.slide", "s => s.map(e => parseFloat(e.dataset.fitScale || '1'))"
            )
            browser.close()
            return scales
    finally:
        server.terminate()
        server.wait()


def main() -> None:
    work = Path(tempfile.mkdtemp())
    try:
        docs = work / "docs"
        shutil.copytree(ROOT / "slides", docs)
        for name, text in SYNTHETIC.items():
            (docs / name).write_text(text, encoding="utf-8")
        build(work, docs)
        for name in ["what-could-possibly-go-wrong.md", *SYNTHETIC]:
            deck = read_deck(docs / name, f"slides/{name}", source=name)
            outcome = outcomes_of(work, deck)
            scales = browser_scales(work / "site", name.replace(".md", ".html"))
            print(f"{name}\n  slide  estimate  browser  steps")
            for slide, browser in zip(deck.slides, scales, strict=False):
                extent = slide_extent(slide, outcome)
                print(f"  {slide.number:5}  {extent.scale():8.2f}  {browser:7.2f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def outcomes_of(work: Path, deck):  # type: ignore[no-untyped-def]
    """The deck's outcomes as the build stored them in its cache."""
    from pgslides.cache import ResultCache

    entry = ResultCache(work / ".pgslides-cache").entry(deck)
    assert entry is not None
    return entry.outcome.blocks


if __name__ == "__main__":
    main()
