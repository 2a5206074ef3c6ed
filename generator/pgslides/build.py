"""The build façade both adapters call: start (parse every deck, run those the cache cannot
answer for in the background), then per page (collect the deck's result; Markdown in, HTML
out), then finish and close; or prepare (start, then collect all). It imports no MkDocs module.

A Build lives as long as its settings: under `mkdocs serve` one Build (and its embedded
server) serves every rebuild, and `start` begins each rebuild from a clean slate.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any

from pgslides.buildsettings import BuildSettings
from pgslides.errors import DeckError, Problem, SetupError
from pgslides.outcome import DeckOutcome, DeckResult
from pgslides.parse.deck import Deck, read_deck
from pgslides.render import deck_markdown, deck_page, problem_box, render_deck_blocks
from pgslides.render.page import PageBlocks, placeholder_fence, placeholder_fence_config
from pgslides.render.rendercache import RenderCache, default_directory
from pgslides.report import deck_report
from pgslides.run.database import DatabaseError
from pgslides.run.runner import Begun, Runner
from pgslides.sitecheck import password_problem
from pgslides.tryit import TryButtons, deck_try, masked

SUPERFENCES = "pymdownx.superfences"


@dataclass(frozen=True)
class DeckSource:
    src_uri: str  # its path in the docs directory, e.g. talk.md
    path: Path  # the file on disk


@dataclass(frozen=True)
class DeckLog:
    """How one deck was had, for one log line."""

    path: str
    blocks: int
    seconds: float
    how: str  # `cached`, `run: server changed (18.6 → 15.20)`, ...

    def __str__(self) -> str:
        return f"{self.path}: {count_of(self.blocks, 'block')}, {self.seconds:.2f} s, {self.how}"


@dataclass
class Page:
    """What a page hook hands back: the new text, and what to report about it."""

    text: str
    problems: list[Problem] = field(default_factory=list)


class Build:
    def __init__(self, settings: BuildSettings) -> None:
        self.settings = settings
        self.runner = Runner(settings.run)
        kept = settings.run.cache_dir is not None  # a deck found cached is not rendered either
        self.rendered = RenderCache(default_directory() if kept else None)
        self.decks: dict[str, Deck] = {}  # by src_uri, parsed this build
        self.failed: dict[str, Problem] = {}  # decks that cannot be shown at all
        self.results: dict[str, DeckResult] = {}
        self.replays: dict[str, dict[str, Any]] = {}  # by src_uri, with the playground on
        self._tries: dict[str, TryButtons] = {}
        self._page: PageBlocks | None = None  # the deck page being converted now
        self.notes: list[Problem] = []  # about the build, not one deck (jobs lowered, ...)
        self._files: dict[str, Path] = {}  # by src_uri: the deck files
        self._begun: dict[str, Begun] = {}  # by src_uri: decks not collected yet
        self.setup_error: SetupError | None = None  # no server could be had: the build stops
        self._started = time.perf_counter()

    # --- prepare ---------------------------------------------------------------------------

    def prepare(self, sources: list[DeckSource]) -> list[DeckLog]:
        """Parse and run (or find in the cache) every deck at once, before any page.

        Raises SetupError when no server can be had: nothing can be built then."""
        self.start(sources)
        logs = self.collect_all()
        self.new_notes()
        return logs

    def start(self, sources: list[DeckSource]) -> None:
        """Parse every deck and start running those the cache cannot answer for: they run in
        the background while MkDocs converts the pages of those already done (collect)."""
        self._started = time.perf_counter()
        self._page = None  # a page cut short by an error last build must not linger
        for kept in (self.decks, self.failed, self.results, self.replays, self._tries):
            kept.clear()
        self._files.clear()
        self.notes = []
        self.setup_error = None
        items = []
        for source in sources:
            try:
                deck = read_deck(source.path, display_path(source.path), source.src_uri)
            except DeckError as error:
                self.failed[source.src_uri] = error.problem
                continue
            self.decks[source.src_uri] = deck
            self._files[source.src_uri] = source.path
            items.append((deck, source.path))
        begun = self.runner.begin(items)
        self._begun = {src_uri: begun[deck.path] for src_uri, deck in self.decks.items()}

    def prestart(self, src_uris: list[str]) -> None:
        """Start the server early when a deck will run for sure: one with no stored outcome."""
        cache, refresh = self.runner.cache, self.settings.run.refresh
        stored = cache is not None and all(cache.file_for(n).exists() for n in src_uris)
        if src_uris and (refresh or not stored):
            self.runner.place.start_in_background()

    def collect(self, src_uri: str) -> DeckLog | None:
        """Wait for the deck's result (the first time); the log line of how it was had.

        Raises SetupError when no server can be had: nothing can be built then, so the other
        decks are stopped, and not waited for."""
        begun = self._begun.pop(src_uri, None)
        if begun is None or self.setup_error is not None:
            return None
        result = self.runner.wait(begun)
        if isinstance(result, DatabaseError):
            self.setup_error = SetupError(self.mask(str(result)))
            self.runner.interrupt()
            raise self.setup_error
        if isinstance(result, Exception):
            # A DeckError, or a DeckRunError (one of them) with its file and line.
            problem = result.problem if isinstance(result, DeckError) else Problem(str(result))
            self.failed[src_uri] = replace(problem, message=self.mask(problem.message))
            return None
        self.results[src_uri] = result
        deck = self.decks[src_uri]
        if self.settings.playground:
            file, run = self._files[src_uri], self.settings.run
            replay, self._tries[src_uri] = deck_try(deck, file, result.outcome, run)
            # The replay holds what the deck sent, which may quote the URL's password.
            self.replays[src_uri] = masked(replay, self.mask)
        return DeckLog(deck.path, len(deck.blocks), result.seconds, result.how)

    def uncollected(self) -> list[str]:
        return list(self._begun)

    def collect_all(self) -> list[DeckLog]:
        """collect() every deck not collected yet, in order."""
        logs = [self.collect(src_uri) for src_uri in list(self._begun)]
        return [log for log in logs if log is not None]

    def new_notes(self) -> list[Problem]:
        """The notes about the build (jobs lowered, ...) since the last call, masked, for its
        log; `notes` keeps them all."""
        taken = []
        while self.runner.notes:  # decks running in threads may add one meanwhile
            taken.append(self.runner.notes.pop(0))
        new = [replace(note, message=self.mask(note.message)) for note in taken]
        self.notes += new
        return new

    def is_deck(self, src_uri: str) -> bool:
        return src_uri in self.decks or src_uri in self.failed

    def outcome(self, src_uri: str) -> DeckOutcome | None:
        result = self.results.get(src_uri)
        return None if result is None else result.outcome

    # --- per page ----------------------------------------------------------------------------

    def problems(self, src_uri: str) -> list[Problem]:
        """A deck's problems (what fails a build) and warnings (what is worth fixing)."""
        failed = self.failed.get(src_uri)
        if failed is not None:
            return [failed]
        deck = self.decks[src_uri]
        result = self.results[src_uri]
        found = [*deck_report(deck, result.outcome), *deck.warnings, *result.warnings]
        # Server messages may quote what a deck sent, the URL's password included.
        return [replace(problem, message=self.mask(problem.message)) for problem in found]

    def page_markdown(self, src_uri: str, markdown: str) -> Page:
        """A deck page's Markdown for the parser, and the deck's problems and warnings."""
        failed = self.failed.get(src_uri)
        self._page = None
        if failed is not None:
            box = problem_box("pgslides could not build this deck", str(failed))
            return Page(f"{box}\n\n{markdown}", [failed])
        deck = self.decks[src_uri]
        outcome = self.results[src_uri].outcome
        tries = self._tries.get(src_uri)
        blocks = self.rendered.blocks(
            self._files[src_uri], deck, outcome, tries, render_deck_blocks
        )
        self._page = PageBlocks(deck, blocks)
        return Page(deck_markdown(deck), self.problems(src_uri))

    def format_fence(
        self, src: str, language: str, class_name: str, options: Any, md: Any, **kwargs: Any
    ) -> str:
        """SuperFences formatter for the placeholder fences of live blocks."""
        return placeholder_fence(self._page, src, options)

    def page_problems(
        self, src_uri: str, extensions: list[Any], configs: Mapping[str, Any]
    ) -> list[Problem]:
        """What converting the deck's page finds (a block Markdown shows as text or twice, a
        slide torn through an HTML element), with the site's Markdown extensions, as a build
        would: for `pgslides check`, which makes no site."""
        import markdown  # only the command line needs it here; MkDocs converts its pages

        if src_uri not in self.results:
            return []
        fence = placeholder_fence_config(self.format_fence)
        superfences = dict(configs.get(SUPERFENCES, {}))
        superfences["custom_fences"] = [*superfences.get("custom_fences", []), fence]
        names = list(dict.fromkeys([*extensions, "toc", "tables", SUPERFENCES]))
        parser = markdown.Markdown(
            extensions=names, extension_configs={**configs, SUPERFENCES: superfences}
        )
        html = parser.convert(self.page_markdown(src_uri, "").text)
        return self.page_html(src_uri, html).problems

    def page_html(self, src_uri: str, html: str) -> Page:
        """The parser's HTML of a deck page, cut into slides."""
        deck = self.decks.get(src_uri)
        page, self._page = self._page, None
        if deck is None or page is None or src_uri not in self.results:
            return Page(html)
        text, problems = self.rendered.page(self._files[src_uri], html, deck, deck_page)
        return Page(text, page.problems() + problems)

    # --- finish --------------------------------------------------------------------------------

    def fails(self, problem: Problem) -> bool:
        """Whether a problem stops the build (it is always shown on the page)."""
        return (
            problem.severity == "error"
            and self.settings.on_error == "fail"
            and not self.settings.serving
        )

    def finish(self, site_dir: Path | None) -> tuple[str | None, list[Problem]]:
        """The summary line, and problems of the built site (a password in it) and of what
        the decks left on the server (dropped while the pages rendered)."""
        problems = self.settle()
        url = self.settings.run.database_url
        if site_dir is not None and url:
            found = password_problem(site_dir, url)
            if found is not None:
                problems.append(found)
        if not self.results:
            return None, problems
        ran = sum(not result.cached for result in self.results.values())
        cached = len(self.results) - ran
        seconds = time.perf_counter() - self._started
        summary = (
            f"{count_of(len(self.results), 'deck')}: {ran} run, {cached} cached, {seconds:.2f} s"
        )
        return summary, problems

    def settle(self) -> list[Problem]:
        """Wait for the decks' places to be dropped; what could not be, one warning each."""
        found = self.runner.settle()
        return [replace(problem, message=self.mask(problem.message)) for problem in found]

    def mask(self, text: str) -> str:
        return self.runner.mask(text)

    def close(self) -> list[str]:
        """Stop the embedded server if this build started it; safe to call twice. What the
        build kept on the server and could not drop, one warning each."""
        return [self.mask(text) for text in self.runner.close()]


def count_of(n: int, noun: str) -> str:
    """'1 deck', '2 decks'."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def display_path(path: Path) -> str:
    """How messages name a deck: relative to the working directory when possible."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def is_deck_path(src_uri: str) -> bool:
    """Every Markdown page is a deck, except index pages (they list the decks)."""
    return PurePosixPath(src_uri).name not in ("index.md", "README.md")
