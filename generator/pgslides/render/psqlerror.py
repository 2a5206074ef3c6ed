"""An error or notice as psql prints it: severity, message, DETAIL/HINT/CONTEXT, and the
LINE excerpt with its caret (libpq's reportErrorPosition)."""

from __future__ import annotations

from pgslides.render.textwidth import char_width

_DISPLAY_SIZE = 60  # libpq cuts an error's LINE excerpt to this many screen columns...
_MIN_RIGHT_CUT = 10  # ...keeping the cursor at least this far from the cut end when it can


def error_text(  # noqa: PLR0917 - the field list psycopg2's diag gives, in libpq's order
    severity: str,
    message: str,
    detail: str | None,
    hint: str | None,
    context: str | None,
    statement: str | None,
    position: int | None,
    *,
    internal_query: str | None = None,
    internal_position: int | None = None,
) -> str:
    """An error as psql prints it at default verbosity (libpq's pqBuildErrorMessage3).

    `position` is 1-based in characters of `statement`; with both, libpq shows the LINE
    excerpt and a caret. An error inside a function may instead carry an internal query and
    position (psycopg2's diag.internal_query / internal_position): libpq shows those alike.
    """
    query, cursor = (statement, position) if position else (internal_query, internal_position)
    first = f"{severity}:  {message}"
    if cursor and query is None:
        # libpq cannot show a statement it did not send: it names the position instead.
        first += f" at character {cursor}"
    excerpt = _position_lines(query, cursor) if cursor and query is not None else []
    fields = (("DETAIL", detail), ("HINT", hint), ("QUERY", internal_query), ("CONTEXT", context))
    return text_lines([first, *excerpt, *_labelled(fields)])


def notice_text(
    severity: str,
    message: str,
    detail: str | None,
    hint: str | None,
    context: str | None,
    *,
    show_context: bool = False,
) -> str:
    """A NOTICE or WARNING as psql prints it: like an error, but psql's default
    SHOW_CONTEXT (errors) leaves out the CONTEXT line unless `show_context` is set."""
    fields = (("DETAIL", detail), ("HINT", hint), ("CONTEXT", context if show_context else None))
    return text_lines([f"{severity}:  {message}", *_labelled(fields)])


def _labelled(fields: tuple[tuple[str, str | None], ...]) -> list[str]:
    # An empty string is a field the server sent, and libpq prints its label.
    return [f"{label}:  {value}" for label, value in fields if value is not None]


def _position_lines(query: str, position: int) -> list[str]:
    """libpq's reportErrorPosition: the line holding the error, cut to 60 columns around the
    cursor with "..." where cut, and a caret under the cursor (empty if out of range)."""
    cursor = position - 1
    columns: list[int] = []  # screen column where each character starts
    line_number, begin, end, column = 1, 0, None, 0
    for index, char in enumerate(query):
        columns.append(column)
        if char in "\r\n":
            if index >= cursor:
                end = index
                break
            # "\r\n" is one line break, a lone "\r" or "\n" is one too.
            if char == "\r" or index == 0 or query[index - 1] != "\r":
                line_number += 1
            begin = index + 1
        # libpq gives every character at least one column: tabs, controls, combining marks.
        column += max(char_width(ord(char)), 1)
    if end is None:
        end = len(query)
        columns.append(column)
    if cursor < 0 or cursor > end:
        return []
    begin, end, cut_left, cut_right = _cut_excerpt(columns, begin, end, cursor)
    prefix = f"LINE {line_number}: " + ("..." if cut_left else "")
    excerpt = query[begin:end].replace("\t", " ")
    caret = " " * (len(prefix) + columns[cursor] - columns[begin]) + "^"
    return [prefix + excerpt + ("..." if cut_right else ""), caret]


def _cut_excerpt(
    columns: list[int], begin: int, end: int, cursor: int
) -> tuple[int, int, bool, bool]:
    """Where libpq cuts a long line: on the right if that keeps the cursor 10 columns from
    the end, else on the right up to 10 columns after the cursor and then on the left."""
    cut_left = cut_right = False
    if columns[end] - columns[begin] <= _DISPLAY_SIZE:
        return begin, end, cut_left, cut_right
    if columns[begin] + _DISPLAY_SIZE >= columns[cursor] + _MIN_RIGHT_CUT:
        while columns[end] - columns[begin] > _DISPLAY_SIZE:
            end -= 1
        return begin, end, cut_left, True
    while columns[cursor] + _MIN_RIGHT_CUT < columns[end]:
        end -= 1
        cut_right = True
    while columns[end] - columns[begin] > _DISPLAY_SIZE:
        begin += 1
        cut_left = True
    return begin, end, cut_left, cut_right


# --- display-width tables -----------------------------------------------------------------


def text_lines(lines: list[str]) -> str:
    return "".join(line + "\n" for line in lines)
