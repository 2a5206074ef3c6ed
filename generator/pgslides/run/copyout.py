"""COPY on a slide: TO STDOUT shown as its text lines (the first few kept, all counted);
FROM STDIN refused, since a live block has no data stream to send."""

from __future__ import annotations

import re
from typing import Any

_COPY = re.compile(r"^\s*(?:--[^\n]*\n\s*|/\*.*?\*/\s*)*copy\b", re.IGNORECASE | re.DOTALL)
_FROM_STDIN = re.compile(r"\bfrom\s+stdin\b", re.IGNORECASE)

FROM_STDIN_PROBLEM = (
    "COPY ... FROM STDIN needs data from the client, which a live block cannot send; "
    "use INSERT ... VALUES, or COPY FROM a file on the server"
)


def is_copy_from_stdin(sql: str) -> bool:
    return _COPY.match(sql) is not None and _FROM_STDIN.search(sql) is not None


class LineCapture:
    """Keeps the first `keep` lines written to it and counts the rest, so a COPY of millions
    of rows costs no memory (run.rows writes libpq's copy data to it)."""

    def __init__(self, keep: int) -> None:
        self.keep = keep
        self.lines: list[str] = []
        self.count = 0
        self._partial = ""

    def write(self, data: Any) -> int:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
        pieces = (self._partial + text).split("\n")
        self._partial = pieces.pop()
        for line in pieces:
            if len(self.lines) < self.keep:
                self.lines.append(line)
            self.count += 1
        return len(data)

    def text(self) -> str:
        return "\n".join(self.lines)
