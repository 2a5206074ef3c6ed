"""The one Chromium of a test session: where it is, how it is launched and the context each
test gets (the fixtures are in conftest); and the local http server that pages which need one
are served from."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def chromium_path() -> str:
    """Debian's Chromium (or $PGSLIDES_CHROMIUM); missing: a failure in CI, else a skip."""
    path = os.environ.get("PGSLIDES_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        message = f"Chromium not found at {path}: install it (apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


# Material's search cannot start its worker from file:// and says so; not ours to fix.
MATERIAL_FILE_ERRORS = ("search_index",)


class Context:
    """A browser context with the requests and page errors of all its pages."""

    def __init__(self, browser: Any, **options: Any) -> None:
        options.setdefault("viewport", {"width": 1280, "height": 720})
        options.setdefault("reduced_motion", "reduce")  # no fades: states are final at once
        self.raw = browser.new_context(**options)
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.raw.on("request", lambda request: self.requests.append(request.url))
        self.raw.on("page", self._watch)

    def _watch(self, page: Any) -> None:
        page.on("pageerror", lambda error: self.errors.append(str(error)))

    def open(self, url: str) -> Any:
        page = self.raw.new_page()
        page.goto(url)
        return page

    def open_deck(self, url: str) -> Any:
        """A deck page, once its script is ready (presenting already when url has #/N)."""
        page = self.open(url)
        page.wait_for_selector("html[data-pgslides=ready]", state="attached")
        return page

    def script_errors(self) -> list[str]:
        return [e for e in self.errors if not any(m in e for m in MATERIAL_FILE_ERRORS)]


def launch() -> Iterator[Any]:
    """One browser for the session, closed at its end."""
    from playwright.sync_api import sync_playwright

    executable = chromium_path()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@contextlib.contextmanager
def http_server(directory: Path) -> Iterator[str]:
    """python -m http.server on 127.0.0.1, on a free port, serving directory: its base URL."""
    command = [sys.executable, "-u", "-m", "http.server", "0", "--bind", "127.0.0.1"]
    server = subprocess.Popen(
        [*command, "--directory", str(directory)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert server.stdout is not None
        line = server.stdout.readline()
        match = re.search(r"port (\d+)", line)
        assert match, f"http.server said: {line!r}"
        yield f"http://127.0.0.1:{match[1]}"
    finally:
        server.terminate()
        server.wait(timeout=10)
        if server.stdout:
            server.stdout.close()
