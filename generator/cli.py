"""The `pgslides` command: check decks against PostgreSQL without building a site."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from generator import __version__


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
    args = parser.parse_args(argv)
    os.environ.setdefault("NO_MKDOCS_2_WARNING", "1")
    try:
        return check_decks(Path(args.config_file), args.decks)
    except KeyboardInterrupt:
        print("pgslides: interrupted", file=sys.stderr)
        return 130


def check_decks(config_file: Path, decks: list[Path]) -> int:
    """Run decks as a build would and print their problems; 0 when there are none."""
    from generator.database import DatabaseError
    from generator.deck import DeckError, read_deck
    from generator.fit import fit_problems
    from generator.plugin import display_path, is_deck_path, load_plugin_config, run_settings
    from generator.runner import DeckRunError, Runner, deck_problems

    try:
        docs_dir, config = load_plugin_config(config_file)
        settings = run_settings(config)
    except Exception as error:  # mkdocs' own errors have no common base worth naming
        print(f"pgslides: {error}", file=sys.stderr)
        return 2
    paths = decks or sorted(
        path
        for path in docs_dir.rglob("*.md")
        if is_deck_path(path.relative_to(docs_dir).as_posix())
    )
    runner = Runner(settings)
    problems: list[str] = []
    warnings: list[str] = []  # slides that will not fit: worth fixing, not a failure
    try:
        for path in paths:
            try:
                deck = read_deck(path, display_path(path))
                outcome = runner.run(deck, path)
                problems.extend(deck_problems(deck, outcome))
                warnings.extend(fit_problems(deck, outcome.blocks))
            except (DeckError, DeckRunError) as error:
                problems.append(str(error))
    except DatabaseError as error:
        print(f"pgslides: {error}", file=sys.stderr)
        return 2
    finally:
        runner.close()
    for problem in problems:
        print(problem)
    for warning in warnings:
        print(f"warning: {warning}")
    print(f"pgslides: {len(paths)} deck(s) checked, {len(problems)} problem(s)", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
