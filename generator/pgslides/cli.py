"""The `pgslides` command: check decks against PostgreSQL without building a site."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pgslides import __version__


def main(argv: Sequence[str] | None = None) -> int:
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
    pdf.add_argument("-f", "--config-file", default="mkdocs.yml", help="default: mkdocs.yml")
    args = parser.parse_args(argv)
    os.environ.setdefault("NO_MKDOCS_2_WARNING", "1")
    from pgslides.run.runner import stop_on_sigterm

    stop_on_sigterm()
    try:
        if args.command == "build":
            return build_site(Path(args.config_file), args.refresh)
        if args.command == "pdf":
            return print_pdf(Path(args.config_file), args.deck, args.output, args.notes)
        return check_decks(Path(args.config_file), args.decks, args.against_cache)
    except KeyboardInterrupt:
        print("pgslides: interrupted", file=sys.stderr)
        return 130


def check_decks(config_file: Path, decks: list[Path], against_cache: bool = False) -> int:
    """Run decks as a build would and print their problems; 0 when there are none.

    With against_cache, every deck runs afresh and its output is compared with the stored one.
    """
    from dataclasses import replace

    from pgslides.adapters.mkdocs import load_plugin_config, run_settings
    from pgslides.run.runner import Runner, display_path, is_deck_path
    from pgslides.run.server import DatabaseError

    try:
        docs_dir, config = load_plugin_config(config_file)
        settings = run_settings(config, config_file.resolve().parent)
    except Exception as error:  # mkdocs' own errors have no common base worth naming
        print(f"pgslides: {error}", file=sys.stderr)
        return 2
    if against_cache:
        # Run afresh and compare; the stored outcome is the reference, so never overwrite it.
        settings = replace(settings, refresh=True, store=False)
    paths = decks or sorted(
        path
        for path in docs_dir.rglob("*.md")
        if is_deck_path(path.relative_to(docs_dir).as_posix())
    )
    runner = Runner(settings)
    try:
        named = [(path, display_path(path), _docs_path(path, docs_dir)) for path in paths]
        problems, warnings = _check(runner, named, against_cache)
    except DatabaseError as error:
        print(f"pgslides: {error}", file=sys.stderr)
        return 2
    finally:
        runner.close()
    for problem in problems:
        print(runner.mask(problem))
    for warning in warnings:
        print(f"warning: {runner.mask(warning)}")
    print(f"pgslides: {len(paths)} deck(s) checked, {len(problems)} problem(s)", file=sys.stderr)
    return 1 if problems else 0


def _docs_path(path: Path, docs_dir: Path) -> str:
    try:
        return path.resolve().relative_to(docs_dir.resolve()).as_posix()
    except ValueError:
        return ""


def _check(
    runner: Any, paths: list[tuple[Path, str, str]], against_cache: bool
) -> tuple[list[str], list[str]]:
    """(problems, warnings) of the decks; raises DatabaseError when no server can be had."""
    from pgslides.cache import UnreadableCacheError
    from pgslides.drift import unordered_results
    from pgslides.parse.deck import DeckError, read_deck
    from pgslides.run.runner import DeckResult, deck_report
    from pgslides.run.server import DatabaseError

    problems: list[str] = []
    warnings: list[str] = []  # worth fixing, not a failure: slides that will not fit, order
    decks = []
    stored = {}
    for path, shown, source in paths:
        try:
            deck = read_deck(path, shown, source)
            decks.append((deck, path))
            if against_cache:
                stored[deck.path] = runner.stored(deck, path)
        except (DeckError, UnreadableCacheError) as error:
            problems.append(str(error))
    results = runner.outcomes(decks)
    for deck, _path in decks:
        result = results[deck.path]
        if isinstance(result, DatabaseError):
            raise result
        if not isinstance(result, DeckResult):
            problems.append(str(result))
            continue
        deck_problems, deck_warnings = deck_report(deck, result)
        problems.extend(deck_problems)
        warnings.extend(deck_warnings)
        if against_cache:
            problems.extend(_drift(deck, stored.get(deck.path), result.outcome))
            warnings.extend(unordered_results(deck, result.outcome))
    return problems, warnings


def build_site(config_file: Path, refresh: bool) -> int:
    """`mkdocs build`, with PGSLIDES_REFRESH set when every deck must run again."""
    import subprocess

    env = dict(os.environ, PGSLIDES_REFRESH="1") if refresh else None
    command = [sys.executable, "-m", "mkdocs", "build", "-f", str(config_file)]
    return subprocess.run(command, env=env, check=False).returncode


def _drift(deck: Any, stored: Any, fresh: Any) -> list[str]:
    from pgslides.drift import outcome_drift

    if stored is None:
        return [f"{deck.path}:1: nothing stored for the deck as it is now; build it once first"]
    return outcome_drift(deck, stored, fresh)


def print_pdf(config_file: Path, deck: Path, output: Path | None, notes: bool) -> int:
    """Build the site and print one deck's page with the system Chromium."""
    from pgslides.adapters.mkdocs import load_plugin_config
    from pgslides.pdf import PdfError, print_deck

    if not deck.is_file():
        print(f"pgslides: {deck}: no such deck file", file=sys.stderr)
        return 2
    output = output or Path(deck.stem + ".pdf")
    try:
        docs_dir, _config = load_plugin_config(config_file)
        pages = print_deck(config_file, docs_dir, deck, output, notes)
    except PdfError as error:
        print(f"pgslides: {error}", file=sys.stderr)
        return 1
    except Exception as error:  # mkdocs' configuration errors have no common base worth naming
        print(f"pgslides: {error}", file=sys.stderr)
        return 2
    print(f"wrote {output}: {pages} page{'s' if pages != 1 else ''}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
