"""A chart's marks: bars, lines, areas and points, each carrying the values PostgreSQL wrote."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pgslides.render.chartaxes import (
    NULL_LABEL,
    SMALL_SIZE,
    Scale,
    XAxis,
    esc,
    number,
    text,
    text_px,
    visible,
)
from pgslides.render.chartscale import parse_number

PALETTE = 8  # chart-series-1 … chart-series-8 in the CSS; more series reuse them
MAX_VALUE_LABELS = 12  # more bars than this and their values would crowd each other
_VALUE = ' class="chart-value" text-anchor="middle"'


@dataclass(frozen=True)
class Series:
    name: str
    index: int  # 1-based: its colour class
    texts: tuple[str | None, ...]  # each row's value as PostgreSQL wrote it
    values: tuple[float | None, ...]  # None: NULL, NaN or ±Infinity, which are not drawn


def series(name: str, order: int, texts: tuple[str | None, ...]) -> Series:
    """The `order`-th (from 0) y column's values, as written and as numbers."""
    return Series(name, order % PALETTE + 1, texts, tuple(parse_number(t) for t in texts))


def marks(
    kind: str, all_series: Sequence[Series], axis: XAxis, x_texts: Sequence[str | None], y_of: Scale
) -> list[str]:
    """Every series' marks, the first series drawn first (underneath)."""
    if kind == "bar":
        return _bars(all_series, axis, x_texts, y_of)
    return [part for one in all_series for part in _points(kind, one, axis, x_texts, y_of)]


def dropped(
    all_series: Sequence[Series], axis: XAxis, x_texts: Sequence[str | None]
) -> dict[str, int]:
    """How many values are not drawn, by why: NULL, or NaN and infinities (x's or y's)."""
    counts = {"NULL": 0, "NaN/Infinity": 0}
    for one in all_series:
        for at, value in enumerate(one.values):
            if value is None or axis.positions[at] is None:
                # A category axis draws a NULL x (as ∅); a proportional one cannot place it.
                null = one.texts[at] is None or (x_texts[at] is None and not axis.band)
                counts["NULL" if null else "NaN/Infinity"] += 1
    return counts


def _bars(
    all_series: Sequence[Series], axis: XAxis, x_texts: Sequence[str | None], y_of: Scale
) -> list[str]:
    """A bar per row and y column, grouped by row, from zero; values over them when few."""
    group = axis.band * (0.7 if len(all_series) == 1 else 0.8)
    width = group / len(all_series)
    gap = min(4.0, width / 4) if len(all_series) > 1 else 0.0
    zero = y_of(0.0)
    labelled = sum(v is not None for one in all_series for v in one.values) <= MAX_VALUE_LABELS
    parts = []
    for order, one in enumerate(all_series):
        parts.append(_group(one))
        for at, value in enumerate(one.values):
            center, written = axis.positions[at], one.texts[at]
            if value is None or written is None or center is None:
                continue
            x = center - group / 2 + order * width + gap / 2
            top, end = sorted((zero, y_of(value)))
            parts.append(
                f'<rect class="chart-bar" x="{number(x)}" y="{number(top)}" '
                f'width="{number(width - gap)}" height="{number(end - top)}"'
                f"{_data(one, x_texts[at], written)}</rect>"
            )
            # A value that does not fit over its bar is left to the table and the hover text.
            if labelled and text_px(written, SMALL_SIZE) <= axis.band / len(all_series):
                y = top - 8 if value >= 0 else end + SMALL_SIZE + 2  # under a bar below zero
                parts.append(
                    text(x + (width - gap) / 2, y, written, 1e9, attributes=_VALUE, size=SMALL_SIZE)
                )
        parts.append("</g>")
    return parts


def _points(
    kind: str, one: Series, axis: XAxis, x_texts: Sequence[str | None], y_of: Scale
) -> list[str]:
    """A series as a line (broken where a value is missing), an area under it, or points."""
    points = [
        None if at is None or value is None else (at, y_of(value))
        for at, value in zip(axis.positions, one.values, strict=True)
    ]
    runs = _runs(points)
    parts = [_group(one)]
    if kind == "area":
        base = number(y_of(0.0))
        parts.extend(
            f'<path class="chart-area" d="M{number(run[0][0])},{base} L{_polyline(run)} '
            f'L{number(run[-1][0])},{base} Z" fill-opacity="0.25"/>'
            for run in runs
        )
    if kind in ("line", "area") and runs:
        path = " ".join(f"M{_polyline(run)}" for run in runs)
        parts.append(
            f'<path class="chart-line" d="{path}" fill="none" stroke="currentColor" '
            'stroke-width="4" stroke-linejoin="round" stroke-linecap="round"/>'
        )
    count = sum(point is not None for point in points)
    radius = (7 if count <= 200 else 4) if kind == "scatter" else (6 if count <= 60 else 3)
    for at, point in enumerate(points):
        if point is not None:
            parts.append(
                f'<circle class="chart-point" cx="{number(point[0])}" cy="{number(point[1])}" '
                f'r="{radius}"{_data(one, x_texts[at], one.texts[at] or "")}</circle>'
            )
    parts.append("</g>")
    return parts


def _runs(points: list[tuple[float, float] | None]) -> list[list[tuple[float, float]]]:
    """The points between missing ones: each a piece of the line."""
    runs: list[list[tuple[float, float]]] = [[]]
    for point in points:
        if point is None:
            runs.append([])
        else:
            runs[-1].append(point)
    return [run for run in runs if run]


def _polyline(run: list[tuple[float, float]]) -> str:
    return " L".join(f"{number(x)},{number(y)}" for x, y in run)


def _group(one: Series) -> str:
    return f'<g class="chart-series chart-series-{one.index}" data-series="{esc(one.name)}">'


def _data(one: Series, x: str | None, y: str) -> str:
    """A mark's data-x and data-y (the values as PostgreSQL wrote them) and its hover text."""
    hover = esc(f"{one.name} at {visible(x)}: {y}")
    return (
        f' data-x="{esc(NULL_LABEL if x is None else x)}" data-y="{esc(y)}"><title>{hover}</title>'
    )
