"""The MkDocs adapter: configuration, hooks and assets around the parse → execute → render core."""

from __future__ import annotations

import atexit
import os
from pathlib import Path
from typing import Any

from mkdocs.config import base
from mkdocs.config import config_options as c
from mkdocs.exceptions import PluginError
from mkdocs.plugins import BasePlugin, get_plugin_logger
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page
from mkdocs.utils import get_relative_url

from pgslides.outcome import DeckOutcome
from pgslides.parse.deck import Deck, DeckError, parse_duration, read_deck
from pgslides.render import html as render
from pgslides.run.database import ISOLATIONS
from pgslides.run.runner import (
    DeckResult,
    Runner,
    RunSettings,
    deck_report,
    display_path,
    is_deck_path,
    stop_on_sigterm,
)
from pgslides.run.server import DatabaseError, secret_forms, server_from_url

log = get_plugin_logger("pgslides")

ASSETS = Path(__file__).parent.parent / "assets"
ASSET_URIS = {"css": "assets/pgslides/pgslides.css", "js": "assets/pgslides/pgslides.js"}
DECK_LIST_MARKER = "<!-- pgslides:decks -->"
SHORT_PASSWORD = 8  # below this, a password found in the site is a warning, not a failure


class PgSlidesConfig(base.Config):
    enabled = c.Type(bool, default=True)
    """Run live SQL blocks and lay out decks as slides; false leaves pages as plain Markdown."""
    database_url = c.Type(str, default="")
    """PostgreSQL URL to run decks on; empty starts the embedded PostgreSQL."""
    isolation = c.Choice(ISOLATIONS, default="database")
    """database: a fresh database per deck; schema: a fresh schema; none: read-only, as is."""
    statement_timeout = c.Type(str, default="10s")
    """Longest any statement may run (a duration: 500ms, 10s, 1min); a block's timeout overrides."""
    max_rows = c.Type(int, default=20)
    """Rows shown per result; a footer counts the rest. A block's rows= overrides."""
    on_error = c.Choice(("fail", "warn"), default="fail")
    """fail: an unexpected SQL error stops `mkdocs build`; warn: it shows on the slide."""
    jobs = c.Type(int, default=0)
    """Decks run at once, each in its own database; 0: one per CPU."""
    cache_dir = c.Type(str, default=".pgslides-cache")
    """Where decks' outcomes are kept (relative to mkdocs.yml), to commit; empty: no cache."""


class PgSlidesPlugin(BasePlugin[PgSlidesConfig]):
    supports_multiple_instances = False

    def __init__(self) -> None:
        self.runner: Runner | None = None
        self.serving = False
        self.decks: dict[str, Deck] = {}  # by src_uri, parsed this build
        self.deck_errors: dict[str, DeckError] = {}
        self.outcomes: dict[str, DeckOutcome] = {}  # by src_uri, run this build
        self.results: dict[str, DeckResult | Exception] = {}  # by src_uri, this build

    # --- lifecycle: one runner (and embedded server) per process, closed on shutdown ---

    def on_startup(self, *, command: str, dirty: bool) -> None:
        self.serving = command == "serve"
        stop_on_sigterm()
        # Ctrl-C skips MkDocs' shutdown hooks: stop the embedded server on the way out anyway.
        atexit.register(self._close_runner)

    def on_shutdown(self) -> None:
        self._close_runner()

    def on_config(self, config: Any) -> Any:
        if not self.config.enabled:
            return config
        settings = run_settings(self.config, Path(config.config_file_path or ".").parent)
        if self.runner is None or self.runner.settings != settings:
            self._close_runner()
            self.runner = Runner(settings)
        config.extra_css.append(ASSET_URIS["css"])
        config.extra_javascript.append(ASSET_URIS["js"])
        return config

    def on_files(self, files: Files, *, config: Any) -> Files:
        if not self.config.enabled:
            return files
        for kind, uri in ASSET_URIS.items():
            source = ASSETS / f"pgslides.{kind}"
            files.append(File.generated(config, uri, abs_src_path=str(source)))
        self.decks.clear()
        self.deck_errors.clear()
        self.outcomes.clear()
        self.results.clear()
        for file in files.documentation_pages():
            if not is_deck_file(file):
                continue
            try:
                path = Path(file.abs_src_path)
                self.decks[file.src_uri] = read_deck(path, display_path(path), file.src_uri)
            except DeckError as error:
                self.deck_errors[file.src_uri] = error
        self._run_decks(files)
        return files

    def on_post_build(self, *, config: Any) -> None:
        self._check_no_password(Path(config.site_dir))
        done = [result for result in self.results.values() if isinstance(result, DeckResult)]
        if done:
            ran = sum(not result.cached for result in done)
            seconds = sum(result.seconds for result in done)
            log.info(f"{len(done)} decks: {ran} run, {len(done) - ran} cached, {seconds:.2f} s")
        if not self.serving:
            self._close_runner()

    def on_build_error(self, *, error: Exception) -> None:
        if not self.serving:
            self._close_runner()

    # --- pages ---

    def on_page_markdown(self, markdown: str, *, page: Page, config: Any, files: Files) -> str:
        if not self.config.enabled:
            return markdown
        src_uri = page.file.src_uri
        if src_uri in self.deck_errors:
            return self._report(self.deck_errors[src_uri].args[0], markdown)
        deck = self.decks.get(src_uri)
        if deck is None:
            return self._with_deck_list(markdown, page, files)
        result = self.results[src_uri]
        if not isinstance(result, DeckResult):
            return self._report(str(result), markdown)
        problems, warnings = deck_report(deck, result)
        for problem in problems:
            self._problem(problem)
        for warning in warnings:
            log.warning(self._mask(warning))
        self.outcomes[src_uri] = result.outcome
        return render.deck_markdown(deck)

    def on_page_content(self, html: str, *, page: Page, config: Any, files: Files) -> str:
        outcome = self.outcomes.get(page.file.src_uri)
        if outcome is None:
            return html
        deck = self.decks[page.file.src_uri]
        return render.deck_page(html, deck, render.render_deck_blocks(deck, outcome))

    # --- helpers ---

    def _run_decks(self, files: Files) -> None:
        """Run (or find in the cache) every deck at once, before any page is rendered."""
        assert self.runner is not None
        by_path = {deck.path: src_uri for src_uri, deck in self.decks.items()}
        items = [
            (deck, Path(files.get_file_from_path(src_uri).abs_src_path))
            for src_uri, deck in self.decks.items()
        ]
        for path, result in self.runner.outcomes(items).items():
            self.results[by_path[path]] = result
            if isinstance(result, DeckResult):
                how = "cached" if result.cached else "run"
                blocks = len(self.decks[by_path[path]].blocks)
                log.info(f"{path}: {blocks} blocks, {result.seconds:.2f} s, {how}")

    def _mask(self, message: str) -> str:
        return self.runner.mask(message) if self.runner is not None else message

    def _problem(self, message: str) -> None:
        """A block that did not end as expected: fail the build, or warn and show it."""
        message = self._mask(message)
        if self.config.on_error == "fail" and not self.serving:
            raise PluginError(message)
        log.warning(message)

    def _report(self, message: str, markdown: str) -> str:
        """A deck that cannot be shown at all: fail the build, or show why on its page."""
        self._problem(message)
        box = render.problem_box("pgslides could not build this deck", message)
        return f"{box}\n\n{markdown}"

    def _with_deck_list(self, markdown: str, page: Page, files: Files) -> str:
        if DECK_LIST_MARKER not in markdown:
            return markdown
        decks = [
            {
                "title": deck.title,
                "subtitle": deck.subtitle,
                "slides": len(deck.slides),
                "url": get_relative_url(files.get_file_from_path(src_uri).url, page.url),
            }
            for src_uri, deck in sorted(self.decks.items())
        ]
        return markdown.replace(DECK_LIST_MARKER, str(render.deck_index(decks)))

    def _check_no_password(self, site_dir: Path) -> None:
        """Fail the build if the database password made it into the site (a result, a page).

        A short password (say, "postgres") may well be on a slide for other reasons: then
        only a warning, so a build is not failed by the word."""
        if self.runner is None or not self.config.database_url:
            return
        try:
            password = server_from_url(self.config.database_url).password
        except DatabaseError:
            return
        if not password:
            return
        found = find_secret(site_dir, password)
        if found is None:
            return
        message = f"pgslides: the database password was found in {found}"
        if len(password) < SHORT_PASSWORD:
            log.warning(f"{message}; it is short enough to be a word on a slide")
            return
        raise PluginError(f"{message}; the site must not be published (a slide shows it?)")

    def _close_runner(self) -> None:
        if self.runner is not None:
            self.runner.close()


def load_plugin_config(config_file: Path) -> tuple[Path, PgSlidesConfig]:
    """docs_dir and this plugin's validated options from an mkdocs.yml (for the command line)."""
    from mkdocs.config import load_config

    config = load_config(str(config_file))
    plugin = config.plugins.get("pgslides")
    if not isinstance(plugin, PgSlidesPlugin):
        raise PluginError(f"{config_file} does not use the pgslides plugin")
    return Path(config.docs_dir), plugin.config


def run_settings(config: PgSlidesConfig, project_dir: Path) -> RunSettings:
    """The plugin's configuration as the core's settings; PluginError names what is wrong."""
    timeout_ms = parse_duration(config.statement_timeout)
    if not timeout_ms:
        raise PluginError(
            f"pgslides: statement_timeout {config.statement_timeout!r} is not a duration; "
            "write it like 500ms, 10s or 1min"
        )
    if config.max_rows < 0:
        raise PluginError("pgslides: max_rows must be 0 or more")
    if config.jobs < 0:
        raise PluginError("pgslides: jobs must be 0 (one per CPU) or more")
    return RunSettings(
        database_url=config.database_url,
        isolation=config.isolation,
        statement_timeout_ms=timeout_ms,
        max_rows=config.max_rows,
        cache_dir=project_dir / config.cache_dir if config.cache_dir else None,
        refresh=os.environ.get("PGSLIDES_REFRESH", "") not in ("", "0"),
        jobs=config.jobs,
    )


def find_secret(site_dir: Path, secret: str) -> Path | None:
    """The first file under site_dir that holds secret, in any form it may take."""
    needles = [form.encode("utf-8") for form in secret_forms(secret)]
    for path in sorted(site_dir.rglob("*")):
        if path.is_file():
            data = path.read_bytes()
            if any(needle in data for needle in needles):
                return path.relative_to(site_dir.parent)
    return None


def is_deck_file(file: File) -> bool:
    return is_deck_path(file.src_uri)
