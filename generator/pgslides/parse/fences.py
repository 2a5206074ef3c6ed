"""Code fences as SuperFences sees them, and which of them are live blocks or look like one.

The deck parser only needs fences to know where slide separators and `???` cannot be; the
Markdown parser (SuperFences) decides where a block renders. The two must agree on where a
fence opens and closes, so this follows SuperFences: an opening line is its
RE_NESTED_FENCE_START, and a fence closes only at the same fence string (same character,
same length) with nothing but whitespace after it.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from pymdownx.superfences import RE_NESTED_FENCE_START

LIVE_LANGUAGES = ("sql", "python", "erd")  # `LANGUAGE exec` runs (erd: a schema diagram)
# What an author may write for SQL, and for exec, when they mean a live SQL block.
_SQL_NAMES = frozenset({"sql", "postgresql", "postgres", "pgsql", "psql", "plpgsql", "pg"})
_PYTHON_NAMES = frozenset({"python", "python3", "py", "pycon"})
_EXEC_WORDS = ("exec", "execute", "run")
_JOINED = re.compile(r"^(?P<lang>[a-z0-9]+)[-_.:]?(?P<word>exe[a-z]*|run)$", re.IGNORECASE)
_INDENT = re.compile(r"^[ \t>]*")


@dataclass(frozen=True)
class FenceOpening:
    indent: str  # what precedes the fence on its line (spaces, tabs, blockquote marks)
    fence: str  # e.g. ``` or ~~~~
    info: str  # the info string, stripped

    def closes(self, line: str) -> bool:
        """Whether line closes this fence, as SuperFences decides (NESTED_FENCE_END)."""
        content = line.rstrip("\n").lstrip(" \t>")
        return content.rstrip(" \t") == self.fence

    def dedent(self, line: str) -> str:
        """A line inside the fence without the container's indentation (a list item's or an
        admonition's), as SuperFences takes it off before the code is used."""
        width = len(self.indent)
        cut = 0
        while cut < width and cut < len(line) and line[cut] in " \t>":
            cut += 1
        return line[cut:]

    @property
    def words(self) -> list[str]:
        return self.info.split()

    @property
    def live(self) -> bool:
        """`sql exec [options]`, `python exec [options]` or `erd exec`: a live block (exact
        words, as SPEC writes them)."""
        words = self.words
        return len(words) >= 2 and words[0] in LIVE_LANGUAGES and words[1] == "exec"

    def rewritten(self, info: str) -> str:
        """This opening line with another info string (indentation and fence kept)."""
        return f"{self.indent}{self.fence}{info}\n"


def fence_opening(line: str) -> FenceOpening | None:
    """The fence this line opens, if it opens one."""
    text = line.rstrip("\n")
    indent = _INDENT.match(text)
    start = indent.end() if indent else 0
    match = RE_NESTED_FENCE_START.match(text, start)
    if match is None:
        # A live block's options (key=value, unquoted) are not SuperFences' syntax; its line
        # still opens a fence for us, since the page gets a placeholder fence in its place.
        loose = re.match(r"(`{3,}|~{3,})(.*)$", text[start:])
        if loose is None:
            return None
        opening = FenceOpening(text[:start], loose[1], loose[2].strip())
        return opening if opening.live else None
    fence = match["fence"]
    info = text[start + len(fence) :].strip()
    # CommonMark: a backtick fence's info string may not contain a backtick.
    if fence[0] == "`" and "`" in info:
        return None
    return FenceOpening(text[:start], fence, info)


def live_block_typo(info: str) -> str | None:
    """The live block an info string probably meant (`sql exec`), or None when it looks like
    no mistake: `SQL exec`, `sql exex`, `postgresql exec`, `sqlexec`, `python exex`…"""
    words = info.split()
    if not words:
        return None
    if len(words) == 1:
        joined = _JOINED.match(words[0])
        if joined is None or not _close_to_exec(joined["word"]):
            return None
        return _intended(joined["lang"])
    if not _close_to_exec(words[1]):
        return None
    intended = _intended(words[0])
    if intended is None or (words[0] == intended.split()[0] and words[1] == "exec"):
        return None  # the real thing, not a typo of it
    return intended


def _intended(language: str) -> str | None:
    name = language.lower()
    if name in _SQL_NAMES:
        return "sql exec"
    if name in _PYTHON_NAMES:
        return "python exec"
    if name == "erd":
        return "erd exec"
    return None


def _close_to_exec(word: str) -> bool:
    word = word.lower()
    return word in _EXEC_WORDS or bool(difflib.get_close_matches(word, ["exec"], cutoff=0.7))
