"""README's key table is the script's: both come from KEYS in pgslides.js."""

from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).parent.parent
SCRIPT = ROOT / "generator" / "pgslides" / "assets" / "pgslides.js"
README = ROOT / "README.md"


def script_keys() -> list[dict[str, object]]:
    text = SCRIPT.read_text(encoding="utf-8")
    match = re.search(
        r"/\* pgslides-keys: begin \*/(.*?)/\* pgslides-keys: end \*/", text, re.DOTALL
    )
    assert match, "KEYS is marked in pgslides.js"
    rows: list[dict[str, object]] = json.loads(match[1])
    return rows


def markdown_table(rows: list[dict[str, object]]) -> str:
    """README's key table as it must read (paste it under ### Presenting)."""
    lines = ["| key | action |", "|-----|--------|"]
    lines += [f"| {row['keys']} | {row['action']} |" for row in rows]
    return "\n".join(lines)


def readme_table() -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index("### Presenting")
    head = text.index("| key | action |", start)
    end = text.index("\n\n", head)
    return text[head:end]


def test_readme_key_table_is_the_scripts():
    assert readme_table() == markdown_table(script_keys())


def test_every_key_row_matches_keys_and_names_what_it_does():
    for row in script_keys():
        assert row["keys"], row
        assert row["action"], row
        assert row["match"], row
