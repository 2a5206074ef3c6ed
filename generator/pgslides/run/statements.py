"""Split a block of SQL into statements at the semicolons where psql would end them."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from pgslides.run.psqllex import (
    DIGITS,
    SPACE,
    block_comment_end,
    dollar_end,
    identifier_end,
    is_letter,
    line_comment_end,
    meta_command,
    number_end,
    quoted_end,
    string_opening,
)

# The words psql remembers among the first four identifiers of a statement, to notice
# CREATE [OR REPLACE] {FUNCTION|PROCEDURE}; it keeps only their first letter.
_ROUTINE_WORDS = {"create": "c", "or": "o", "replace": "r", "function": "f", "procedure": "p"}

# psql meta-commands whose job is to describe objects: the catalog can answer the same question.
_DESCRIBE_COMMANDS = ("\\d", "\\l", "\\z", "\\sf", "\\sv")


@dataclass(frozen=True)
class Statement:
    """One statement of a block, as it will be sent to the server."""

    text: str  # as psql sends it: from its first character through its terminating semicolon
    line: int  # 0-based line, within the block, of the statement's first character


class MetaCommandError(ValueError):
    """A psql backslash command in a live block: psql runs it itself, the server cannot."""

    def __init__(self, command: str, line: int) -> None:
        self.command = command
        self.line = line
        super().__init__(_meta_command_message(command))


def _meta_command_message(command: str) -> str:
    if command in ("\\;", "\\:"):
        return (
            f"psql's {command} escape is not SQL and cannot run in a live block; "
            f"write a plain {command[1]} instead"
        )
    stem = f"psql meta-command {command} is not SQL and cannot run in a live block; "
    if command.startswith(_DESCRIBE_COMMANDS):
        return stem + (
            "query the catalog instead (e.g. SELECT ... FROM information_schema.columns) "
            "or use a plain ```sql fence to show it"
        )
    return stem + "remove it, or use a plain ```sql fence to show it"


def split_statements(sql: str, standard_strings: bool = True) -> list[Statement]:
    """Split `sql` into statements exactly where psql (18) would end them.

    A `;` ends a statement unless it is inside a string ('', E'' with backslash escapes, U&'',
    B'', X'', N''), a quoted identifier (""), a dollar quote ($$ or $tag$), a comment (`--` or
    nested `/* */`), parentheses, or the BEGIN ... END body of CREATE [OR REPLACE]
    {FUNCTION|PROCEDURE} (psql 14+'s SQL-standard function bodies). The rest of psql's lexer is
    followed where it moves a token boundary: `$1` is a parameter, not a dollar quote; `a$b$` is
    one identifier; `1e-` swallows its sign and `1_0$a$` is one (bad) number; and, as psql reads a
    line at a time, 'a'<newline>'b' stays two strings. With `standard_strings` false (the
    server's standard_conforming_strings off), backslashes escape in '' and N'' strings too.

    Each statement's text is what psql sends: from its first character that is neither
    whitespace nor part of a `--` comment (psql drops leading `--` comments but sends `/* */`
    ones) through its terminating semicolon, whitespace before the semicolon included. A final
    statement without a semicolon is still a statement; it runs to the end of the block, less
    the line breaks that end it (psql joins the lines it read without their CR LF, and reads
    no empty ones).
    Unlike psql, statements holding only whitespace and comments produce nothing, blank lines
    inside a statement are kept (psql drops them; keeping them keeps the text a slice of the
    block, so error lines match the slide's source), and `:name` is never interpolated.

    An unterminated string, quoted identifier, dollar quote, comment, parenthesis or BEGIN at the
    end of the block (where psql would wait for more input) makes the rest of the block one
    final statement, so the server reports what is missing.

    A backslash outside strings and comments is a psql meta-command (psql would run it itself,
    never send it): MetaCommandError, carrying the command and its line.
    """
    return list(iter_statements(sql, lambda: standard_strings))


def iter_statements(sql: str, standard_strings: Callable[[], bool]) -> Iterator[Statement]:
    """split_statements, one statement at a time, for a session whose statements may change
    standard_conforming_strings (SET standard_conforming_strings = off) as they run.

    psql reads the server's setting each time it reads a line, so a statement's SET applies
    from the line after the one it ends on. `standard_strings()` is asked at the start and
    again each time the next statement is asked for, the previous one having run by then.
    """
    line, counted_to = 0, 0
    for start, end in _iter_spans(sql, standard_strings):
        line += sql.count("\n", counted_to, start)
        counted_to = start
        yield Statement(sql[start:end], line)


class _LineSettings:
    """standard_conforming_strings for each line of the block, as psql reads it per line."""

    def __init__(self, sql: str, first: bool) -> None:
        self.sql = sql
        self.starts = [0]  # offsets where a value starts to apply, ascending
        self.values = [first]

    def after(self, offset: int, value: bool) -> None:
        """`value` applies from the line after the one holding `offset`."""
        newline = self.sql.find("\n", offset)
        start = len(self.sql) if newline < 0 else newline + 1
        if self.starts[-1] == start:
            self.values[-1] = value
        elif self.values[-1] != value:
            self.starts.append(start)
            self.values.append(value)

    def at(self, offset: int) -> bool:
        return self.values[bisect_right(self.starts, offset) - 1]


class _Statement:
    """What psql's lexer tracks about the statement being collected."""

    def __init__(self) -> None:
        self.start: int | None = None  # offset of its first character, once one is seen
        self.has_content = False  # something besides whitespace and finished comments
        self.paren_depth = 0
        self.begin_depth = 0  # open BEGIN (and CASE inside BEGIN) of a CREATE FUNCTION body
        self.first_words: list[str] = []  # for its first four identifiers, see _ROUTINE_WORDS

    def span(self, sql: str, end: int | None = None) -> tuple[int, int] | None:
        """Where its text lies: up to `end` (just after its semicolon), or without one, to the
        end of the block less its final line breaks; None if there is nothing to send."""
        if self.start is None or not self.has_content:
            return None
        if end is None:
            end = self.start + len(sql[self.start :].rstrip("\r\n"))
        return self.start, end

    def note_identifier(self, word: str) -> None:
        # psql folds case in ASCII only (pg_strcasecmp).
        word = word.lower() if word.isascii() else word
        if len(self.first_words) < 4:
            self.first_words.append(_ROUTINE_WORDS.get(word, ""))
        if self.paren_depth > 0 or not self._defines_routine():
            return
        if word == "begin":
            self.begin_depth += 1
        elif word == "case" and self.begin_depth > 0:
            # CASE also closes with END, so it must be counted, but only inside a body.
            self.begin_depth += 1
        elif word == "end" and self.begin_depth > 0:
            self.begin_depth -= 1

    def _defines_routine(self) -> bool:
        first = [*self.first_words, "", "", ""]
        return first[0] == "c" and (
            first[1] in ("f", "p") or (first[1:3] == ["o", "r"] and first[3] in ("f", "p"))
        )


def _spans(sql: str, standard_strings: bool = True) -> list[tuple[int, int]]:
    """The (start, end) offsets of each statement's text in `sql`."""
    return list(_iter_spans(sql, lambda: standard_strings))


def _iter_spans(sql: str, standard_strings: Callable[[], bool]) -> Iterator[tuple[int, int]]:
    """The (start, end) offsets of each statement's text, asking for the setting after each."""
    settings = _LineSettings(sql, standard_strings())
    current = _Statement()
    i, n = 0, len(sql)
    while i < n:
        char = sql[i]
        if char in SPACE:
            i += 1
            continue
        if sql.startswith("--", i):
            i = line_comment_end(sql, i)
            continue
        if char == ";" and current.paren_depth == 0 and current.begin_depth == 0:
            span = current.span(sql, i + 1)
            if span is not None:
                yield span  # and the statement runs before this generator goes on
                settings.after(i, standard_strings())
            current = _Statement()
            i += 1
            continue
        if current.start is None:
            current.start = i
        if sql.startswith("/*", i):
            i, closed = block_comment_end(sql, i)
            # An unclosed comment is sent all the same, so the server can say it is unclosed.
            current.has_content = current.has_content or not closed
            continue
        current.has_content = True
        if char == "\\":
            raise MetaCommandError(meta_command(sql, i), sql.count("\n", 0, i))
        if char == "(":
            current.paren_depth += 1
            i += 1
        elif char == ")":
            current.paren_depth = max(current.paren_depth - 1, 0)
            i += 1
        else:
            i = _token_end(sql, i, current, settings.at(i))
    span = current.span(sql)
    if span is not None:
        yield span


def _token_end(sql: str, i: int, current: _Statement, standard: bool) -> int:
    """Skip the token at `i`, one that cannot end a statement, noting identifiers."""
    char, after = sql[i], sql[i + 1 : i + 2]
    opening = string_opening(sql, i, standard)
    if opening is not None:
        body, quote, escapes = opening
        end = quoted_end(sql, body, quote, escapes)
    elif char in "uU" and after == "&":
        end = i + 1  # psql's lexer sets this U aside without counting it as an identifier
    elif is_letter(char):
        end = identifier_end(sql, i)
        current.note_identifier(sql[i:end])
    elif char == "$":
        end = dollar_end(sql, i)
    elif char in DIGITS or (char == "." and after in DIGITS):
        end = number_end(sql, i)
    elif char == ":" and after == ":":
        end = i + 2  # a cast; the name after it is an identifier
    elif char == ":":
        # A psql variable (:name): never an identifier to the lexer, even when it is not set.
        end = i + 1
        while is_letter(sql[end : end + 1]) or sql[end : end + 1] in DIGITS:
            end += 1
    else:
        end = i + 1
    return end
