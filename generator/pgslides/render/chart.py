"""A query's rows as a chart (chart=bar|line|scatter|area): an inline SVG drawn without a library.

Sizes are for the slide: the viewBox is about the CSS px the chart takes on the 1280×720 stage,
so no text is under 18 units and it reads from the back of the room. Colours come from the CSS
(chart-series-N classes); text and marks use currentColor, so light and dark schemes both work.
The scales are in chartscale.py, the axes in chartaxes.py, the bars, lines and points in
chartmarks.py; this module checks the options against the result and lays the chart out.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from markupsafe import Markup

from pgslides.outcome import Column
from pgslides.render.chartaxes import (
    LABEL_SIZE,
    SMALL_SIZE,
    TICK_SIZE,
    XAxis,
    esc,
    layout_x,
    linear,
    number,
    text,
    text_px,
    x_axis,
    y_axis,
)
from pgslides.render.chartmarks import Series, dropped, marks, series
from pgslides.render.chartscale import TIME_OIDS, Tick, nice_ticks

KINDS = ("bar", "line", "scatter", "area")
WIDTH, HEIGHT = 1180, 480  # about the CSS px the chart takes on the stage
TOP = 80  # the legend's row above the plot, and room for the value over the tallest bar
_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_$]*")
_LABEL_X = ' class="chart-label chart-label-x" text-anchor="middle"'
_LABEL_Y = ' class="chart-label chart-label-y"'
_CAPTION = ' class="chart-caption" text-anchor="end"'
_EMPTY = ' class="chart-empty" text-anchor="middle"'


class ChartError(ValueError):
    """A chart's options do not fit the result; the message names the fix."""


def render_chart(  # noqa: PLR0917 - the order the block's options and the outcome give them
    kind: str,
    columns: tuple[Column, ...],
    rows: tuple[tuple[str | None, ...], ...],
    x: str,
    ys: tuple[str, ...],
    row_count: int,
) -> Markup:
    """The rows as an inline `<svg class="sql-chart">`, or ChartError when these columns cannot
    be drawn so. Every name and value is escaped; the same input gives the same bytes."""
    x_at, y_at = _columns(kind, columns, x, ys)
    x_texts = tuple(row[x_at] for row in rows)
    ys_series = [
        series(columns[at].name, order, tuple(row[at] for row in rows))
        for order, at in enumerate(y_at)
    ]
    axis, y_ticks, left, right, bottom = _frame(kind, columns[x_at], x_texts, ys_series)
    y_of = linear(y_ticks[0].value, y_ticks[-1].value, bottom, TOP)
    caption = _caption(len(rows), row_count, dropped(ys_series, axis, x_texts))
    names = ", ".join(one.name for one in ys_series)
    label = f"{kind.capitalize()} chart of {names} by {columns[x_at].name}, {len(rows)} rows"
    middle = (left + right) / 2
    x_name = f"{columns[x_at].name} ({axis.note})" if axis.note else columns[x_at].name
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="sql-chart" data-chart="{esc(kind)}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{esc(label)}" '
        f'fill="currentColor" font-size="{TICK_SIZE}">',
        f"<title>{esc(label)}</title>",
        *y_axis(y_ticks, y_of, left, right),
        *x_axis(axis, bottom, left, right),
        text(
            middle,
            HEIGHT - 14,
            x_name,
            right - left,
            attributes=_LABEL_X,
            size=LABEL_SIZE,
        ),
        *_header(ys_series, caption, right),
        *marks(kind, ys_series, axis, x_texts, y_of),
    ]
    if y_ticks[0].value < 0 < y_ticks[-1].value or kind in ("bar", "area"):
        # Drawn over the marks: the line bars stand on, and where values turn negative.
        zero = number(y_of(0.0))
        parts.append(
            f'<line class="chart-zero" x1="{number(left)}" x2="{number(right)}" y1="{zero}" '
            f'y2="{zero}" stroke="currentColor" stroke-width="2"/>'
        )
    if not rows:
        parts.append(
            text(middle, (TOP + bottom) / 2, "no rows", right - left, attributes=_EMPTY, size=32)
        )
    return Markup("\n".join([*parts, "</svg>"]))  # noqa: S704 - every text went through esc()


def _columns(
    kind: str, columns: tuple[Column, ...], x: str, ys: tuple[str, ...]
) -> tuple[int, tuple[int, ...]]:
    """Where the x and y columns are in the result, or ChartError saying what to write instead."""
    if kind not in KINDS:
        raise ChartError(
            f"chart={kind} is not a chart pgslides draws: use chart=bar, line, scatter or area"
        )
    numeric = _names(column for column in columns if column.numeric)
    if not ys:
        raise ChartError(f"chart={kind} needs a y column: add y=COLUMN naming one of {numeric}")
    x_at = _find(columns, x, "x")
    y_at = tuple(_find(columns, y, "y") for y in ys)
    for y, at in zip(ys, y_at, strict=True):
        if not columns[at].numeric:
            cast = f"cast it in the query, e.g. {_shown(columns[at].name)}::numeric"
            fix = cast if numeric == "none" else f"use a numeric one ({numeric}) or {cast}"
            raise ChartError(f"y={y} is not a numeric column: {fix}")
    return x_at, y_at


def _find(columns: tuple[Column, ...], name: str, axis: str) -> int:
    # As written, then lower-cased as SQL folds an unquoted name: x=Region finds region.
    for wanted in dict.fromkeys((name, name.lower())):
        found = [at for at, column in enumerate(columns) if column.name == wanted]
        if len(found) > 1:
            raise ChartError(
                f"{axis}={name} names {len(found)} columns of the result: "
                "give them different names with AS"
            )
        if found:
            return found[0]
    if not columns:
        raise ChartError(f"{axis}={name} names no column: the statement returned no columns")
    raise ChartError(f"{axis}={name} names no column of the result: use one of {_names(columns)}")


def _names(columns: Iterable[Column]) -> str:
    return ", ".join(_shown(column.name) for column in columns) or "none"


def _shown(name: str) -> str:
    """A column's name as SQL writes it: quoted unless it is a plain lower-case identifier."""
    return name if _IDENTIFIER.fullmatch(name) else '"' + name.replace('"', '""') + '"'


def _frame(
    kind: str, x_column: Column, x_texts: Sequence[str | None], ys: Sequence[Series]
) -> tuple[XAxis, list[Tick], float, float, float]:
    """The x axis, the y ticks, and the plot's left, right and bottom edges in px."""
    values = [value for one in ys for value in one.values if value is not None]
    if kind in ("bar", "area"):
        values.append(0.0)  # bars and areas stand on zero
    lo, hi = (min(values), max(values)) if values else (0.0, 1.0)
    # Proportional axes centre a label on the last tick, which needs room past the plot.
    categories = kind == "bar" or not (x_column.numeric or x_column.type_oid in TIME_OIDS)
    right = WIDTH - (24 if categories else 48)
    left = 64.0
    # The left edge makes room for the y labels, whose count follows the plot's height, which
    # follows the x labels, whose slant follows the width: settled in a round or two.
    for _ in range(3):
        axis = layout_x(categories, x_column, x_texts, left, right)
        bottom = HEIGHT - axis.height
        ticks = nice_ticks(lo, hi, max(3, int((bottom - TOP) // 48)))
        needed = max(max(text_px(tick.text) for tick in ticks) + 28, axis.overhang + 12)
        if needed <= left:
            break
        left = needed
    return axis, ticks, left, right, bottom


def _caption(shown: int, total: int, missing: dict[str, int]) -> str:
    """What the chart does not show: rows past the first ones, values it cannot draw."""
    parts = [f"first {shown} of {total} rows"] if total > shown else []
    counts = [f"{count} {why}" for why, count in missing.items() if count]
    if counts:
        parts.append("not drawn: " + ", ".join(counts))
    return " · ".join(parts)


def _header(ys: Sequence[Series], caption: str, right: float) -> list[str]:
    """The row above the plot: the y column's name (or a legend of them), and the caption."""
    room = right - 16
    legend = len(ys) > 1
    widths = [text_px(one.name, LABEL_SIZE) + (66 if legend else 0) for one in ys]
    parts = []
    if caption:
        # The caption takes what the names leave, and at least half the row.
        fits = min(text_px(caption, SMALL_SIZE), max(room / 2, room - sum(widths) - 32))
        parts.append(text(right, 36, caption, fits, attributes=_CAPTION, size=SMALL_SIZE))
        room -= fits + 32
    if not legend:
        return [*parts, text(16, 38, ys[0].name, room, attributes=_LABEL_Y, size=LABEL_SIZE)]
    if sum(widths) > room:
        widths = [room / len(ys)] * len(ys)  # names too long for the row: each cut to a share
    parts.append('<g class="chart-legend">')
    x = 16.0
    for one, width in zip(ys, widths, strict=True):
        name = text(x + 30, 38, one.name, width - 65, size=LABEL_SIZE)  # 1px: float rounding
        parts.append(
            f'<g class="chart-legend-entry chart-series-{one.index}">'
            f'<rect x="{number(x)}" y="20" width="22" height="22" rx="3"/>{name}</g>'
        )
        x += width
    parts.append("</g>")
    return parts
