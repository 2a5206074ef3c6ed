"""Golden files: what a renderer made, compared with the file a person has read.

After a deliberate change, `PGSLIDES_REGENERATE_GOLDEN=1 pytest tests/...` writes the files
anew; read `git diff tests/golden` before committing them.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path

import pytest

GOLDEN = Path(__file__).parent / "golden"
REGENERATE = os.environ.get("PGSLIDES_REGENERATE_GOLDEN") == "1"


def assert_golden(expected_file: Path, actual: str) -> None:
    """Fail with a unified diff when actual differs from the golden file (or rewrite it)."""
    if REGENERATE:
        expected_file.write_text(actual, encoding="utf-8")
    expected = expected_file.read_text(encoding="utf-8")
    if actual != expected:
        diff = difflib.unified_diff(
            expected.splitlines(keepends=True),
            actual.splitlines(keepends=True),
            fromfile=str(expected_file),
            tofile="rendered",
        )
        pytest.fail(f"{expected_file.name}: rendered output differs:\n" + "".join(diff))
