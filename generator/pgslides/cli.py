"""The `pgslides` command: check decks, build the site, print a deck; thin over the build core.

Exit codes: 0 fine, 1 problems in decks (or a failed build), 2 a setup problem (the
configuration, no server), 130 interrupted.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from pgslides import __version__
from pgslides.errors import DeckError, PgSlidesError, Problem, SetupError


@dataclass(frozen=True)
class Project:
    """What the command line needs from mkdocs.yml."""

    config_file: Path
    docs_dir: Path
    options: dict[str, Any]  # the pgslides plugin's options as written
    markdown_extensions: list[str]  # the site's, by name
    markdown_configs: dict[str, Any]  # their configurations, by name


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    os.environ.setdefault("NO_MKDOCS_2_WARNING", "1")
    from pgslides.interrupt import stop_on_sigterm

    stop_on_sigterm()
    try:
        if args.command == "build":
            return build_site(Path(args.config_file), args.refresh)
        if args.command == "pdf":
            return print_pdf(Path(args.config_file), args.deck, args.output, args.notes, args.steps)
        return check_decks(Path(args.config_file), args.decks, args.against_cache)
    except SetupError as error:
        print(f"pgslides: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("pgslides: interrupted", file=sys.stderr)
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pgslides", description="Markdown slide decks whose SQL runs for real."
    )
    parser.add_argument("--version", action="version", version=f"pgslides {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser(
        "check", help="run every deck's blocks and print each problem as file:line: message"
    )
    check.add_argument("-f", "--config-file", default="mkdocs.yml", help="default: mkdocs.yml")
    check.add_argument("decks", nargs="*", type=Path, help="deck files (default: every deck)")
    check.add_argument(
        "--against-cache",
        action="store_true",
        help="run the decks again and report where the output differs from the stored one",
    )
    build = commands.add_parser("build", help="build the site (mkdocs build), using the cache")
    build.add_argument("--refresh", action="store_true", help="run every deck, cached or not")
    build.add_argument("-f", "--config-file", default="mkdocs.yml", help="default: mkdocs.yml")
    pdf = commands.add_parser("pdf", help="print a deck to PDF, one 16:9 page per slide")
    pdf.add_argument("deck", type=Path, help="the deck's Markdown file, e.g. slides/talk.md")
    pdf.add_argument("-o", "--output", type=Path, help="default: the deck's name with .pdf")
    pdf.add_argument("--notes", action="store_true", help="print speaker notes under each slide")
    pdf.add_argument("--steps", action="store_true", help="a page per step of each slide")
    pdf.add_argument("-f", "--config-file", default="mkdocs.yml", help="default: mkdocs.yml")
    return parser


def read_project(config_file: Path) -> Project:
    """docs_dir and the pgslides options from mkdocs.yml, read as MkDocs reads YAML (!ENV,
    INHERIT) but without loading MkDocs' plugins."""
    from mkdocs.utils.yaml import yaml_load

    try:
        with config_file.open(encoding="utf-8") as handle:
            data = yaml_load(handle) or {}
    except OSError as error:
        raise SetupError(f"cannot read {config_file}: {error.strerror}") from None
    except Exception as error:  # YAML's errors have no common base worth naming
        raise SetupError(f"{config_file} is not valid YAML: {error}") from None
    options = _plugin_options(data.get("plugins") or [])
    if options is None:
        raise SetupError(f"{config_file} does not use the pgslides plugin; add it under plugins:")
    docs_dir = config_file.resolve().parent / str(data.get("docs_dir", "docs"))
    names, configs = _extensions(data.get("markdown_extensions") or [])
    return Project(config_file, docs_dir, options, names, configs)


def _extensions(entries: Any) -> tuple[list[str], dict[str, Any]]:
    """markdown_extensions as MkDocs reads them: names, or {name: config} entries."""
    names: list[str] = []
    configs: dict[str, Any] = {}
    for entry in entries if isinstance(entries, list) else [entries]:
        items = entry.items() if isinstance(entry, dict) else [(entry, None)]
        for name, config in items:
            names.append(str(name))
            if config:
                configs[str(name)] = config
    return names, configs


def _plugin_options(plugins: Any) -> dict[str, Any] | None:
    entries = plugins.items() if isinstance(plugins, dict) else plugins
    for entry in entries:
        if entry == "pgslides":
            return {}
        if isinstance(entry, tuple) and entry[0] == "pgslides":
            return dict(entry[1] or {})
        if isinstance(entry, dict) and "pgslides" in entry:
            return dict(entry["pgslides"] or {})
    return None


def check_decks(config_file: Path, decks: list[Path], against_cache: bool = False) -> int:
    """Run decks as a build would and print their problems; 0 when there are none.

    With against_cache, every deck runs afresh and its output is compared with the stored
    one, which is never overwritten."""
    from pgslides.build import Build, BuildSettings, count_of
    from pgslides.settings import PLUGIN_OPTION_NAMES

    project = read_project(config_file)
    known = {name: value for name, value in project.options.items() if name in PLUGIN_OPTION_NAMES}
    for name in sorted(set(project.options) - set(known)):
        # As MkDocs does: an option this version does not know is a warning, not a stop.
        print(f"warning: {config_file}: unknown pgslides option {name!r}, ignored")
    settings = BuildSettings.from_options(known, config_file.resolve().parent)
    if against_cache:
        settings = replace(settings, run=replace(settings.run, refresh=True, store=False))
    sources = _sources(project, decks)
    build = Build(settings)
    try:
        stored = _stored(build, sources) if against_cache else {}
        build.prepare(sources)
        for note in (note for note in build.notes if note.severity == "info"):
            print(f"pgslides: {note}", file=sys.stderr)  # about the build: not a problem
        problems = [note for note in build.notes if note.severity != "info"]
        problems += build.settle()
        for source in sources:
            problems += build.problems(source.src_uri)
            extensions = (project.markdown_extensions, project.markdown_configs)
            problems += build.page_problems(source.src_uri, *extensions)
        if against_cache:
            problems += _drift(build, stored)
    finally:
        build.close()
    for problem in problems:
        prefix = "warning: " if problem.severity == "warning" else ""
        print(f"{prefix}{problem}")
    errors = sum(problem.severity == "error" for problem in problems)
    print(
        f"pgslides: {count_of(len(sources), 'deck')} checked, {count_of(errors, 'problem')}",
        file=sys.stderr,
    )
    return 1 if errors else 0


def _sources(project: Project, decks: list[Path]) -> list[Any]:
    from pgslides.build import DeckSource, is_deck_path

    docs = project.docs_dir.resolve()
    paths = decks or sorted(
        path for path in docs.rglob("*.md") if is_deck_path(path.relative_to(docs).as_posix())
    )
    sources = []
    for path in paths:
        try:
            src_uri = path.resolve().relative_to(docs).as_posix()
        except ValueError:
            src_uri = ""  # a deck outside docs_dir: checked, but it has no page
        sources.append(DeckSource(src_uri or str(path), path))
    return sources


def _stored(build: Any, sources: list[Any]) -> dict[str, Any]:
    """The stored outcome of each deck as it is now, read before anything runs."""
    from pgslides.build import display_path
    from pgslides.cache import UnreadableCacheError
    from pgslides.parse.deck import read_deck

    stored = {}
    for source in sources:
        try:
            deck = read_deck(source.path, display_path(source.path), source.src_uri)
            stored[source.src_uri] = build.runner.stored(deck, source.path)
        except (DeckError, UnreadableCacheError):
            continue  # the run reports it
    return stored


def _drift(build: Any, stored: dict[str, Any]) -> list[Problem]:
    from pgslides.drift import outcome_drift, unordered_results

    problems = []
    for src_uri, deck in build.decks.items():
        fresh = build.outcome(src_uri)
        if fresh is None:
            continue
        before = stored.get(src_uri)
        if before is None:
            message = "nothing stored for the deck as it is now; build it once first"
            problems.append(Problem(message, deck.path, 1))
            continue
        # Drift quotes server messages, which may quote the URL's password.
        problems += [Problem(build.mask(text)) for text in outcome_drift(deck, before, fresh)]
        problems += [
            Problem(build.mask(text), severity="warning") for text in unordered_results(deck, fresh)
        ]
    return problems


def build_site(config_file: Path, refresh: bool) -> int:
    """`mkdocs build` in this process, with the plugin's `refresh` setting when asked."""
    from mkdocs.commands.build import build
    from mkdocs.config import load_config
    from mkdocs.exceptions import MkDocsException

    _log_as_mkdocs_does()
    try:
        config = load_config(str(config_file))
    except MkDocsException as error:  # mkdocs.yml cannot be used as it is: a setup problem
        print(f"pgslides: {error}", file=sys.stderr)
        return 2
    try:
        plugin = config.plugins.get("pgslides")
        if plugin is None:
            raise SetupError(f"{config_file} does not use the pgslides plugin")
        if refresh:
            plugin.config["refresh"] = True
        config.plugins.on_startup(command="build", dirty=False)
        try:
            build(config)
        finally:
            config.plugins.on_shutdown()
    except MkDocsException as error:
        print(f"pgslides: {error}", file=sys.stderr)
        return 2 if _caused_by_setup(error) else 1
    return 0


def _caused_by_setup(error: BaseException | None) -> bool:
    """Whether a SetupError is anywhere under MkDocs' Abort (Abort ← PluginError ← it)."""
    seen = 0
    while error is not None and seen < 10:
        if isinstance(error, SetupError):
            return True
        error = error.__cause__ or error.__context__
        seen += 1
    return False


def _log_as_mkdocs_does() -> None:
    """MkDocs' own command line sets up its log; building in this process, so do we."""
    import logging

    from mkdocs.__main__ import ColorFormatter

    logger = logging.getLogger("mkdocs")
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(ColorFormatter())
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)


def print_pdf(
    config_file: Path, deck: Path, output: Path | None, notes: bool, steps: bool = False
) -> int:
    """Build the site and print one deck's page with the system Chromium."""
    from pgslides.build import count_of
    from pgslides.pdf import PdfError, print_deck

    if not deck.is_file():
        raise SetupError(f"{deck}: no such deck file")
    output = output or Path(deck.stem + ".pdf")
    project = read_project(config_file)
    try:
        pages = print_deck(config_file, project.docs_dir, deck, output, notes, steps=steps)
    except PdfError as error:
        print(f"pgslides: {error}", file=sys.stderr)
        return 1
    print(f"wrote {output}: {count_of(pages, 'page')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

__all__ = ["PgSlidesError", "main"]
