"""psql's lexer where it moves a token boundary (psqlscan.l): where a string, quoted
identifier, dollar quote, comment, number or identifier that starts at an offset ends.

Each function takes the text and an offset and returns the offset just past the token;
statements.py decides from these where statements end.
"""

from __future__ import annotations

# psql's {space}: only these separate tokens; anything else (even \v or a no-break space) is text.
SPACE = " \t\n\r\f"
NEWLINE = "\n\r"
DIGITS = frozenset("0123456789")


def string_opening(sql: str, i: int, standard: bool) -> tuple[int, str, bool] | None:
    """For a string or quoted identifier opening at `i`: where its body starts, its quote
    character, and whether backslashes escape in it (E'' strings; '' and N'' strings too
    when standard_conforming_strings is off, as psql's lexer picks its xe state then)."""
    char, after = sql[i], sql[i + 1 : i + 2]
    if char in "'\"":
        return i + 1, char, char == "'" and not standard
    if char in "eEnNbBxX" and after == "'":
        # psql lexes the N of N'' alone, then a plain string; bit and hex strings never escape.
        return i + 2, "'", char in "eE" or (char in "nN" and not standard)
    if char in "uU" and after == "&" and sql[i + 2 : i + 3] in ("'", '"'):
        return i + 3, sql[i + 2], False  # U&'' strings and U&"" identifiers
    return None


def is_letter(char: str) -> bool:
    """psql's [A-Za-z\\200-\\377_]: any byte of a multibyte UTF-8 character is a letter."""
    return (char.isascii() and char.isalpha()) or char == "_" or char > "\x7f"


def identifier_end(sql: str, i: int) -> int:
    """End of the identifier whose first letter is at `i`."""
    return word_end(sql, i + 1)


def word_end(sql: str, i: int, dollar: bool = True) -> int:
    """End of the letters, digits and (unless in a dollar tag) dollar signs from `i` on."""
    n = len(sql)
    while i < n and (is_letter(sql[i]) or sql[i] in DIGITS or (dollar and sql[i] == "$")):
        i += 1
    return i


def line_comment_end(sql: str, i: int) -> int:
    n = len(sql)
    while i < n and sql[i] not in NEWLINE:
        i += 1
    return i


def block_comment_end(sql: str, i: int) -> tuple[int, bool]:
    """End of the /* comment at `i`, and whether it was closed; comments nest in PostgreSQL."""
    depth, i, n = 0, i + 2, len(sql)
    while i < n:
        if sql.startswith("/*", i):
            depth += 1
            i += 2
        elif sql.startswith("*/", i):
            if depth == 0:
                return i + 2, True
            depth -= 1
            i += 2
        else:
            i += 1
    return n, False


def quoted_end(sql: str, i: int, quote: str, escapes: bool) -> int:
    """End of a quoted string or identifier whose body starts at `i`.

    A doubled quote stands for itself; in E'' strings a backslash escapes the next character.
    No quote continuation across lines ('a'<newline>'b'): psql lexes one input line at a time,
    so it never sees one, and an E'' string's escapes do not carry over to the next string.
    """
    n = len(sql)
    while i < n:
        char = sql[i]
        if escapes and char == "\\":
            i += 2
        elif char != quote:
            i += 1
        elif sql.startswith(quote, i + 1):
            i += 2
        else:
            return i + 1
    return n


def dollar_end(sql: str, i: int) -> int:
    """End of what starts with `$` at `i`: a dollar quote, a parameter, or a lone `$`."""
    n = len(sql)
    j = i + 1
    if j < n and sql[j] in DIGITS:
        # $1 is a parameter; letters glued to it ($1abc) are junk in the same token.
        while j < n and sql[j] in DIGITS:
            j += 1
        return word_end(sql, j) if is_letter(sql[j : j + 1]) else j
    if j < n and is_letter(sql[j]):
        j = word_end(sql, j, dollar=False)
    if not sql.startswith("$", j):
        # $tag without a closing $: psql keeps the $ alone and lexes the tag as an identifier.
        return i + 1
    delimiter = sql[i : j + 1]
    close = sql.find(delimiter, j + 1)
    return n if close < 0 else close + len(delimiter)


def number_end(sql: str, i: int) -> int:
    """End of the number at `i`, as psql 15+ lexes it (junk glued to a number is part of it).

    It matters in two places: an exponent's sign belongs to the number, so `1e--` is not a
    comment; letters glued to a number are junk, not an identifier (`1e'x'` is no E'' string).
    """
    j = digits_end(sql, i)
    if sql.startswith(".", j) and not sql.startswith("..", j):
        j = digits_end(sql, j + 1)
    if sql[j : j + 1] in ("e", "E"):
        k = j + 1
        signed = sql[k : k + 1] in ("+", "-")
        if signed:
            k += 1
        if sql[k : k + 1] in DIGITS:
            j = digits_end(sql, k)
        elif signed:
            return k  # "1e-": the lexer's realfail token takes the sign, and no junk after it
    if is_letter(sql[j : j + 1]):
        j = word_end(sql, j)
    # The lexer takes the longest match, and junk may start at an underscore between digits:
    # "1_0$a$" is 1 followed by the junk _0$a$, not 1_0 followed by a dollar quote.
    underscore = sql.rfind("_", i, j)
    return j if underscore < 0 else max(j, word_end(sql, underscore))


def digits_end(sql: str, i: int) -> int:
    """End of the digits at `i`, single underscores allowed between digits (1_000)."""
    while sql[i : i + 1] in DIGITS:
        i += 1
        if sql[i : i + 1] == "_" and sql[i + 1 : i + 2] in DIGITS:
            i += 1
    return i


def meta_command(sql: str, i: int) -> str:
    """The psql command starting with the backslash at `i`: up to whitespace or a backslash."""
    if sql[i + 1 : i + 2] in (";", ":"):
        return sql[i : i + 2]
    j, n = i + 1, len(sql)
    while j < n and sql[j] not in SPACE and sql[j] != "\\":
        j += 1
    return sql[i:j]
