"""What pgslides keeps on disk: files written whole or not at all, and the user's cache
directory for what it can make again (compiled theme templates, rendered HTML)."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

import platformdirs

_OFF = ("0", "no", "false", "off")


def write_whole(path: Path, text: str) -> None:
    """Write `text` to `path` (its folder made if need be) through a temporary file in the same
    folder and a rename: a reader sees the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        Path(temp_name).replace(path)
    except BaseException:
        with contextlib.suppress(OSError):
            Path(temp_name).unlink()
        raise


def user_cache_directory(folder: str, switch: str) -> Path | None:
    """`folder` in the user's cache directory for pgslides, or None when the environment
    variable `switch` turns it off (0, no, false, off)."""
    if os.environ.get(switch, "").strip().lower() in _OFF:
        return None
    return platformdirs.user_cache_path("pgslides") / folder
