"""The MkDocs adapter: MkDocs' hooks, configuration and logging around the one build core."""

from __future__ import annotations

import atexit
import json
import os
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from mkdocs.config import base
from mkdocs.config.base import ValidationError
from mkdocs.exceptions import PluginError
from mkdocs.plugins import BasePlugin, get_plugin_logger
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page
from mkdocs.utils import get_relative_url

from pgslides.adapters.themecache import ThemeBytecode, default_directory
from pgslides.build import SUPERFENCES, Build, DeckSource, is_deck_path
from pgslides.buildsettings import BuildSettings
from pgslides.errors import Problem, SetupError
from pgslides.interrupt import stop_on_sigterm
from pgslides.parse.deck import PLACEHOLDER
from pgslides.render import deck_index
from pgslides.render.page import placeholder_fence_config
from pgslides.settings import PLUGIN_OPTIONS, Option, SettingError
from pgslides.tryit import PGLITE_DIR, deck_id, pglite_files

PLUGIN_SCHEMA = {option.name: option for option in PLUGIN_OPTIONS}

log = get_plugin_logger("pgslides")

ASSETS = Path(__file__).parent.parent / "assets"
ASSET_DIR = "assets/pgslides"
ASSET_URIS = {"css": f"{ASSET_DIR}/pgslides.css", "js": f"{ASSET_DIR}/pgslides.js"}
# Try it (playground: true): its script and style load with the page; the worker, PGlite and
# a deck's replay file only on a reader's first click.
TRY_URIS = {"css": f"{ASSET_DIR}/pgslides-try.css", "js": f"{ASSET_DIR}/pgslides-try.js"}
TRY_WORKER = "pgslides-try-worker.js"
DECK_LIST_MARKER = "<!-- pgslides:decks -->"
# Material's XHR navigation swaps page content without a load: the presentation script, which
# starts once per page load, would not see a deck reached that way.
INSTANT = "navigation.instant"


class _Setting(base.BaseConfigOption[Any]):
    """A plugin option checked by its kind in pgslides.settings (the one schema), so a bad
    value is MkDocs' configuration error; the value is kept as written (None when unset)
    and BuildSettings.from_options converts it and fills in the default."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.option: Option = PLUGIN_SCHEMA[name]

    def validate(self, value: object, /) -> Any:
        if value is None:
            return None
        try:
            self.option.kind(value)
        except SettingError as error:
            raise ValidationError(f"bad value {value!r}; {error}") from None
        return value


class PgSlidesConfig(base.Config):
    """pgslides' options as MkDocs declares them; pgslides.settings documents each one."""

    enabled = _Setting("enabled")
    database_url = _Setting("database_url")
    isolation = _Setting("isolation")
    statement_timeout = _Setting("statement_timeout")
    max_rows = _Setting("max_rows")
    on_error = _Setting("on_error")
    jobs = _Setting("jobs")
    cache_dir = _Setting("cache_dir")
    refresh = _Setting("refresh")
    playground = _Setting("playground")


class PgSlidesPlugin(BasePlugin[PgSlidesConfig]):
    supports_multiple_instances = False

    def __init__(self) -> None:
        self.build: Build | None = None
        self.serving = False
        self.theme_bytecode: ThemeBytecode | None = None  # made on first use, kept by serve

    # --- lifecycle: one build core (and embedded server) per process, closed on shutdown ---

    def on_startup(self, *, command: str, dirty: bool) -> None:
        self.serving = command == "serve"
        stop_on_sigterm()
        # Ctrl-C skips MkDocs' shutdown hooks: stop the embedded server on the way out anyway.
        atexit.register(self._close)

    def on_shutdown(self) -> None:
        self._close()

    def on_config(self, config: Any) -> Any:
        enabled = self.config["enabled"]
        if enabled is not None and not PLUGIN_SCHEMA["enabled"].kind(enabled):
            self._close()
            self.build = None  # serve reuses the plugin: nothing of an earlier build stays
            return config
        settings = self._settings(config)
        if self.build is None or self.build.settings != settings:
            self._close()
            self.build = Build(settings)
        _use_placeholder_fence(config, self.build)
        self.build.prestart(_deck_uris(config))
        if INSTANT in (config.theme.get("features") or []):
            log.warning(
                f"the theme feature {INSTANT} is not supported: a deck reached by an "
                "instant link would not start presenting; remove it from theme.features"
            )
        config.extra_css.append(ASSET_URIS["css"])
        config.extra_javascript.append(ASSET_URIS["js"])
        if self.build.settings.playground:
            config.extra_css.append(TRY_URIS["css"])
            config.extra_javascript.append(TRY_URIS["js"])
        return config

    def on_files(self, files: Files, *, config: Any) -> Files:
        """Start the decks: they run while MkDocs converts the pages of those already done."""
        if self.build is None:
            return files
        for kind, uri in ASSET_URIS.items():
            files.append(File.generated(config, uri, abs_src_path=str(ASSETS / f"pgslides.{kind}")))
        if self.build.settings.playground:
            _add_try_assets(files, config)
        sources = [
            DeckSource(file.src_uri, Path(file.abs_src_path))
            for file in files.documentation_pages()
            if is_deck_path(file.src_uri) and file.abs_src_path
        ]
        self.build.start(sources)
        return files

    def on_env(self, env: Any, *, config: Any, files: Files) -> Any:
        """Pages converted: decks' results and Try it replays in; the theme compiled once."""
        if self.build is None:
            return env
        for src_uri in self.build.uncollected():  # pages MkDocs did not convert (--dirty)
            self._collect(src_uri)
            if self.build.setup_error is None:
                self._report(self.build.problems(src_uri))  # said on no page: said here
        if self.build.setup_error is not None:
            # Raised here, not in a page's hook, where MkDocs would add a line of its own.
            raise PluginError(str(self.build.setup_error)) from self.build.setup_error
        if self.build.settings.playground:
            _add_replays(files, config, self.build.replays)
        if env.bytecode_cache is None:
            if self.theme_bytecode is None:
                self.theme_bytecode = ThemeBytecode(default_directory())
            env.bytecode_cache = self.theme_bytecode
        return env

    def on_page_markdown(self, markdown: str, *, page: Page, config: Any, files: Files) -> str:
        if self.build is None:
            return markdown
        src_uri = page.file.src_uri
        if not self.build.is_deck(src_uri):
            return self._with_deck_list(markdown, page, files)
        self._collect(src_uri)
        if self.build.setup_error is not None:
            return markdown  # the build stops before any page is written (on_env)
        if src_uri not in self.build.decks:
            # pgslides could not read the deck, maybe a YAML alias bomb that MkDocs' own
            # loader took: the page must not render that front matter (title, subtitle).
            page.meta = {}
        result = self.build.page_markdown(src_uri, markdown)
        self._report(result.problems)
        return result.text

    def on_page_content(self, html: str, *, page: Page, config: Any, files: Files) -> str:
        if self.build is None:
            return html
        result = self.build.page_html(page.file.src_uri, html)
        self._report(result.problems)
        return result.text

    def on_post_build(self, *, config: Any) -> None:
        if self.build is None:
            return
        summary, problems = self.build.finish(Path(config.site_dir))
        if summary:
            log.info(summary)
        for problem in problems:
            # A password in the site fails the build whatever on_error says.
            if problem.severity == "error":
                raise PluginError(f"pgslides: {problem}")
            log.warning(str(problem))
        if not self.serving:
            self._close()

    def on_build_error(self, *, error: Exception) -> None:
        if not self.serving:
            self._close()

    # --- helpers ---

    def _settings(self, config: Any) -> BuildSettings:
        project_dir = Path(config.config_file_path or ".").parent
        given = {name: self.config[name] for name in PLUGIN_SCHEMA if self.config[name] is not None}
        try:
            settings = BuildSettings.from_options(given, project_dir)
        except SetupError as error:
            raise PluginError(str(error)) from error
        # PGSLIDES_REFRESH=1 mkdocs build: a refresh without editing mkdocs.yml.
        if _env_flag("PGSLIDES_REFRESH"):
            settings = replace(settings, run=replace(settings.run, refresh=True))
        return settings.serve() if self.serving else settings

    def _collect(self, src_uri: str) -> None:
        """Wait for the deck's result; log how it was had, and what was said about the build
        meanwhile."""
        assert self.build is not None
        try:
            line = self.build.collect(src_uri)
        except SetupError:
            return  # kept in build.setup_error: on_env stops the build with it
        if line is not None:
            log.info(str(line))
        for note in self.build.new_notes():
            (log.info if note.severity == "info" else log.warning)(str(note))

    def _report(self, problems: list[Problem]) -> None:
        """Log each problem; the first that fails the build stops it (it is on the page too)."""
        assert self.build is not None
        for problem in problems:
            if self.build.fails(problem):
                raise PluginError(str(problem))
            log.warning(str(problem))

    def _with_deck_list(self, markdown: str, page: Page, files: Files) -> str:
        if DECK_LIST_MARKER not in markdown or self.build is None:
            return markdown
        decks: list[Mapping[str, Any]] = []
        for src_uri, deck in sorted(self.build.decks.items()):
            file = files.get_file_from_path(src_uri)
            if file is None:
                continue
            url = get_relative_url(file.url, page.url)
            entry = {"title": deck.title, "subtitle": deck.subtitle, "slides": len(deck.slides)}
            decks.append({**entry, "url": url})
        return markdown.replace(DECK_LIST_MARKER, str(deck_index(decks)))

    def _close(self) -> None:
        if self.build is not None:
            for text in self.build.close():
                log.warning(f"pgslides: {text}")


def _use_placeholder_fence(config: Any, build: Build) -> None:
    """Make SuperFences render live blocks' placeholder fences, as markdown-exec does."""
    if SUPERFENCES not in config.markdown_extensions:
        config.markdown_extensions.append(SUPERFENCES)
    fences = config.mdx_configs.setdefault(SUPERFENCES, {}).setdefault("custom_fences", [])
    fences[:] = [fence for fence in fences if fence.get("name") != PLACEHOLDER]
    fences.append(placeholder_fence_config(build.format_fence))


def _add_try_assets(files: Files, config: Any) -> None:
    """Try it's files: its script, style and worker, and vendored PGlite."""
    for uri in TRY_URIS.values():
        files.append(File.generated(config, uri, abs_src_path=str(ASSETS / Path(uri).name)))
    worker = ASSETS / TRY_WORKER
    files.append(File.generated(config, f"{ASSET_DIR}/{TRY_WORKER}", abs_src_path=str(worker)))
    for name in pglite_files():
        source = str(PGLITE_DIR / name)
        files.append(File.generated(config, f"{ASSET_DIR}/pglite/{name}", abs_src_path=source))


def _add_replays(files: Files, config: Any, replays: Mapping[str, Any]) -> None:
    """Each deck's replay for Try it: what it runs before a block (tryit)."""
    for src_uri, replay in sorted(replays.items()):
        uri = f"{ASSET_DIR}/try/{deck_id(src_uri)}.json"
        content = json.dumps(replay, ensure_ascii=False, separators=(",", ":"))
        files.append(File.generated(config, uri, content=content))


def _deck_uris(config: Any) -> list[str]:
    """The decks MkDocs will list (on_files), as far as can be told ahead: no dot folder or
    file (MkDocs' default), nothing exclude_docs or draft_docs names."""
    docs = Path(config.docs_dir)
    specs = [spec for spec in (config.exclude_docs, config.draft_docs) if spec is not None]
    uris = []
    for path in docs.rglob("*.md"):
        uri = path.relative_to(docs).as_posix()
        hidden = any(part.startswith(".") for part in uri.split("/"))
        if not hidden and is_deck_path(uri) and not any(spec.match_file(uri) for spec in specs):
            uris.append(uri)
    return uris


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "") not in ("", "0")
