"""Print a deck to PDF, one 16:9 page per slide, with the system's headless Chromium."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")

# What the page's script reads to lay speaker notes under each printed slide.
NOTES_HASH = "#print-notes"
# ...and to print one page per step state (SPEC "Steps"), with or without the notes.
STEPS_HASH = "#print-steps"
NOTES_STEPS_HASH = "#print-notes-steps"

# Chromium flags for a machine that may be offline and may be root: no sandbox (root), no
# background traffic (a closed network makes each attempt wait), a throwaway profile.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-pdf-header-footer",
    "--run-all-compositor-stages-before-draw",
    "--virtual-time-budget=10000",
)


_PAGE_OBJECT = re.compile(rb"/Type\s*/Page(?![A-Za-z])")


class PdfError(Exception):
    """Why no PDF could be made, as one sentence that says what to do."""


def find_chromium() -> str | None:
    override = os.environ.get("PGSLIDES_CHROMIUM")
    if override:
        return shutil.which(override)
    return next((found for name in CHROMIUM_NAMES if (found := shutil.which(name))), None)


def deck_page_path(site_dir: Path, docs_dir: Path, deck_file: Path) -> Path:
    """Where `mkdocs build` wrote a deck's page (directory URLs or not)."""
    relative = deck_file.resolve().relative_to(docs_dir.resolve()).with_suffix("")
    for candidate in (site_dir / f"{relative}.html", site_dir / relative / "index.html"):
        if candidate.exists():
            return candidate
    raise PdfError(f"the build wrote no page for {deck_file}; is it a deck in {docs_dir}?")


def print_deck(
    config_file: Path,
    docs_dir: Path,
    deck_file: Path,
    output: Path,
    notes: bool,
    *,
    steps: bool = False,
) -> int:
    """Build the site into a temporary directory and print the deck's page to `output`."""
    chromium = find_chromium()
    if chromium is None:
        raise PdfError(
            "no Chromium found to print with (looked for chromium, chromium-browser, "
            "google-chrome; or set PGSLIDES_CHROMIUM); install one, e.g. "
            "`apt-get install chromium`, or open the deck in a browser and print it"
        )
    with tempfile.TemporaryDirectory(prefix="pgslides-pdf-") as temp:
        site_dir = Path(temp) / "site"
        mkdocs = [sys.executable, "-m", "mkdocs", "build", "-q", "-f", str(config_file)]
        build = subprocess.run([*mkdocs, "-d", str(site_dir)], check=False)
        if build.returncode != 0:
            raise PdfError("the site did not build; fix the problems above and try again")
        page = deck_page_path(site_dir, docs_dir, deck_file)
        url = page.as_uri() + print_hash(notes=notes, steps=steps)
        profile = Path(temp) / "profile"
        target = f"--print-to-pdf={output.resolve()}"
        printed = subprocess.run(
            [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", target, url],
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
    if printed.returncode != 0 or not output.exists():
        last = (printed.stderr.strip().splitlines() or ["no output"])[-1]
        raise PdfError(f"Chromium could not print {page.name}: {last}")
    return count_pdf_pages(output.read_bytes())


def print_hash(*, notes: bool, steps: bool) -> str:
    """The hash the page's script prints by: notes under slides, a page per step."""
    if steps:
        return NOTES_STEPS_HASH if notes else STEPS_HASH
    return NOTES_HASH if notes else ""


def count_pdf_pages(data: bytes) -> int:
    """Pages in a PDF: its /Type /Page objects, not the /Pages nodes of the page tree."""
    return len(_PAGE_OBJECT.findall(data))
