"""README says what the code does: every option documented, every failure case backed by a test."""

from __future__ import annotations

import re
from pathlib import Path

from pgslides.adapters.mkdocs import PgSlidesConfig
from pgslides.parse.deck import BLOCK_OPTIONS, DECK_SQL_KEYS

ROOT = Path(__file__).parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def section(title: str) -> str:
    start = README.index(f"## {title}")
    end = README.find("\n## ", start + 1)
    return README[start : end if end != -1 else None]


def test_every_plugin_option_is_in_the_configuration_table():
    table = section("Configuration")
    documented = set(re.findall(r"^\| `(\w+)` \|", table, re.MULTILINE))
    assert documented == {name for name, _option in PgSlidesConfig._schema}


def test_every_block_option_is_in_the_block_options_table():
    # The whole README: the deck example's own `## SQL READ` heading splits that section.
    documented = set(re.findall(r"^\| (\w+)\s+\|", README, re.MULTILINE))
    assert set(BLOCK_OPTIONS) <= documented


def test_every_deck_setting_is_named():
    text = section("Configuration")
    assert all(key in text for key in DECK_SQL_KEYS)


def test_every_failure_case_names_a_test_that_exists():
    table = section("What happens when things go wrong")
    named = set(re.findall(r"`(test_\w+)`", table))
    sources = "".join(
        path.read_text(encoding="utf-8") for path in (ROOT / "tests").glob("test_*.py")
    )
    defined = set(re.findall(r"^def (test_\w+)", sources, re.MULTILINE))
    assert len(named) >= 30
    assert named - defined == set()
