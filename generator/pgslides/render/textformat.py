"""psql's own text output, byte for byte: aligned and expanded results and row counts.

Error and notice text are in psqlerror.py, character widths in textwidth.py; both are
re-exported here, where callers have always found them."""

from __future__ import annotations

from pgslides.render.psqlerror import error_text, notice_text, text_lines
from pgslides.render.textwidth import Cell, cell_lines, control_escape, display_width

__all__ = [
    "aligned",
    "control_escape",
    "display_width",
    "error_text",
    "expanded",
    "notice_text",
    "row_count_footer",
]

# psql's border-1 ASCII style (print.c, pg_asciiformat) is the only one reproduced here.


def row_count_footer(n: int) -> str:
    """The footer psql prints under an aligned result: "(1 row)", "(3 rows)"."""
    return f"({n} row)" if n == 1 else f"({n} rows)"


def aligned(
    headers: list[str],
    numeric: list[bool],
    rows: list[list[str | None]],
    null: str = "",
) -> str:
    """A result as psql's default aligned format prints it, up to and excluding the footer.

    psql then prints row_count_footer(len(rows)) and a blank line. A None value prints as
    `null` (psql's \\pset null); numeric columns are right-aligned.
    """
    header_cells, body = _laid_out(headers, rows, null)
    widths = [
        max(width for cell in [header, *(row[i] for row in body)] for _, width in cell)
        for i, header in enumerate(header_cells)
    ]
    lines = _header_lines(header_cells, widths)
    # The rule under the headers: border 1 adds one dash on each side of every column.
    lines.append("-" + "-+-".join("-" * width for width in widths) + "-")
    for row in body if headers else []:  # psql prints no row lines for a result without columns
        lines.extend(_row_lines(row, widths, numeric))
    return text_lines(lines)


def expanded(
    headers: list[str],
    numeric: list[bool],
    rows: list[list[str | None]],
    null: str = "",
) -> str:
    """A result as psql's expanded format (\\x) prints it, without the trailing blank line.

    Expanded output has no row count, except that an empty result (no rows, or no columns)
    prints just the row count. Alignment does not apply: `numeric` is accepted for symmetry.
    """
    del numeric  # psql left-aligns every value in expanded mode
    if not rows or not headers:
        return row_count_footer(len(rows)) + "\n"
    header_cells, body = _laid_out(headers, rows, null)
    name_width = max(width for cell in header_cells for _, width in cell)
    value_width = max(width for row in body for cell in row for _, width in cell)
    lines: list[str] = []
    for number, row in enumerate(body, start=1):
        lines.append(_record_line(number, name_width, value_width))
        for name, value in zip(header_cells, row, strict=True):
            lines.extend(_field_lines(name, value, name_width, value_width))
    return text_lines(lines)


# --- cells --------------------------------------------------------------------------------


def _laid_out(
    headers: list[str], rows: list[list[str | None]], null: str
) -> tuple[list[Cell], list[list[Cell]]]:
    names = [cell_lines(name) for name in headers]
    return names, [[cell_lines(null if value is None else value) for value in row] for row in rows]


def _header_lines(cells: list[Cell], widths: list[int]) -> list[str]:
    """Column names centred (the extra space of an odd remainder goes right), "+" marking a
    name that continues on the next line; every line keeps its trailing space."""
    lines = []
    for index in range(max((len(cell) for cell in cells), default=0)):
        parts = []
        for cell, width in zip(cells, widths, strict=True):
            if index < len(cell):
                text, text_width = cell[index]
                gap = width - text_width
                mark = "+" if index + 1 < len(cell) else " "
                parts.append(" " + " " * (gap // 2) + text + " " * ((gap + 1) // 2) + mark)
            else:
                parts.append(" " * (width + 2))
        lines.append("|".join(parts))
    return lines


def _row_lines(row: list[Cell], widths: list[int], numeric: list[bool]) -> list[str]:
    """One row: as many lines as its tallest value; a value that goes on ends with "+".

    A left-aligned value in the last column is padded only when a "+" follows it; a last
    column whose value has run out still prints its leading space.
    """
    lines = []
    last = len(row) - 1
    for index in range(max(len(cell) for cell in row)):
        line = ""
        for column, (cell, width) in enumerate(zip(row, widths, strict=True)):
            if index >= len(cell):
                line += " " + (" " * width + " |" if column < last else "")
                continue
            text, text_width = cell[index]
            more = index + 1 < len(cell)
            pad = " " * (width - text_width)
            if numeric[column]:
                line += " " + pad + text
            else:
                line += " " + text + (pad if column < last or more else "")
            line += "+" if more else (" " if column < last else "")
            line += "|" if column < last else ""
        lines.append(line)
    return lines


# --- expanded -----------------------------------------------------------------------------


def _record_line(number: int, name_width: int, value_width: int) -> str:
    """The "-[ RECORD n ]---" line as print_aligned_vertical_line draws it for border 1: as
    wide as a field line (or the label), with "+" over the "|" when the names are wider."""
    label = f"[ RECORD {number} ]"
    line = "-" + label + "-" * max(0, name_width - len(label) - 1)
    rest = len(label) + 1 - name_width
    # Under the label's overflow go the " | " columns of a field line, then the value's width.
    line += "".join(mark for step, mark in enumerate("-+-") if rest - step <= 0)
    rest = max(0, rest - 3)
    return line + "-" * max(0, value_width - rest)


def _field_lines(name: Cell, value: Cell, name_width: int, value_width: int) -> list[str]:
    """One "name | value" pair, the name and the value each continuing on following lines."""
    lines = []
    for index in range(max(len(name), len(value))):
        if index < len(name):
            text, width = name[index]
            line = text + " " * (name_width - width) + ("+" if index + 1 < len(name) else " ")
        else:
            line = " " * (name_width + 1)
        line += "|"
        if index < len(value):
            text, width = value[index]
            line += " " + text
            if index + 1 < len(value):
                line += " " * (value_width - width) + "+"
        lines.append(line)
    return lines


# --- errors -------------------------------------------------------------------------------
