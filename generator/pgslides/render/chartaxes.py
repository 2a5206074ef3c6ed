"""Chart axes: where each row's x stands, both axes' tick labels, and escaped SVG text."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass, replace
from datetime import timedelta
from itertools import pairwise

from markupsafe import escape

from pgslides.outcome import Column
from pgslides.render.chartscale import (
    DATE_OID,
    TIME_OIDS,
    Tick,
    nice_ticks,
    parse_instant,
    parse_number,
    seconds,
    time_ticks,
)
from pgslides.render.textwidth import control_escape, display_width

TICK_SIZE = 20  # tick labels: about 19px on the stage
LABEL_SIZE = 22  # the axes' names and the legend
SMALL_SIZE = 18  # values on bars and the caption: the smallest text of a chart
CHAR_EM = 0.6  # a character's average advance in ems: text is measured without fonts
NULL_LABEL = "∅"  # as the text formats show NULL
ROTATED_CHARS = 14  # a slanted category label is cut at this many characters
_SLANT = math.sqrt(0.5)  # labels slant at 45°: their length shows this much across and down
# XML 1.0 forbids most control characters and U+FFFE/U+FFFF; they are written as psql writes them.
_UNWRITABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffe\uffff]")

Scale = Callable[[float], float]


@dataclass(frozen=True)
class Label:
    at: float  # px along the axis
    text: str


@dataclass(frozen=True)
class XAxis:
    positions: tuple[float | None, ...]  # px of each row's x; None when it has none to draw
    labels: tuple[Label, ...]
    room: float  # px a label may take before it is cut with …
    rotated: bool  # labels slant at 45°, when categories are too many or too long to stand
    ticks: bool  # a tick mark at each label: proportional axes, not categories
    band: float  # px per row for categories (bar widths), 0 for proportional axes
    height: float  # px the labels and the axis name take under the plot
    overhang: float  # px the labels reach left of the plot
    note: str = ""  # after the axis' name: the day, when the labels are clock times of one day


def esc(text: str) -> str:
    """Text for SVG content or a quoted attribute: escaped, and always well-formed XML."""
    return str(escape(_UNWRITABLE.sub(lambda m: control_escape(m.group()), text)))


def number(value: float) -> str:
    """A coordinate, one decimal at most, written the same way on every build."""
    written = f"{value:.1f}".removesuffix(".0") if math.isfinite(value) else "0"
    return "0" if written == "-0" else written


def visible(value: str | None) -> str:
    """A value as a label shows it: NULL as ∅, its lines on one line (SVG text has one)."""
    return NULL_LABEL if value is None else " ".join(value.split())


def text_px(text: str, size: float = TICK_SIZE) -> float:
    return display_width(text) * size * CHAR_EM


def shorten(text: str, room: float, size: float = TICK_SIZE) -> str:
    """Text cut with … to fit `room` px, as far as its width can be told without fonts."""
    if text_px(text, size) <= room:
        return text
    chars = int(room // (size * CHAR_EM)) - 1
    kept = ""
    for char in text:
        if display_width(kept + char) > chars:
            break
        kept += char
    return kept.rstrip() + "…"


def text(
    x: float,
    y: float,
    content: str,
    room: float,
    *,
    attributes: str = "",
    size: float = TICK_SIZE,
    rotate: bool = False,
) -> str:
    """A <text> cut to `room` px; when cut, its whole content is in a <title> readers can hover."""
    shown = shorten(content, room, size)
    title = f"<title>{esc(content)}</title>" if shown != content else ""
    turn = f' transform="rotate(-45 {number(x)} {number(y)})"' if rotate else ""
    font = f' font-size="{size}"' if size != TICK_SIZE else ""
    return (
        f'<text x="{number(x)}" y="{number(y)}"{font}{attributes}{turn}>{title}{esc(shown)}</text>'
    )


def linear(d0: float, d1: float, r0: float, r1: float) -> Scale:
    """Domain d0..d1 onto r0..r1 px; an empty domain maps to the middle, and so does one
    a float cannot scale (1e-320 wide, or ±1e308 across)."""
    ratio = (r1 - r0) / (d1 - d0) if d1 != d0 else math.inf
    if not (math.isfinite(ratio) and math.isfinite(d0) and math.isfinite(d1)):
        return lambda _: (r0 + r1) / 2
    return lambda value: r0 + (value - d0) * ratio


def layout_x(
    categories: bool, column: Column, texts: Sequence[str | None], left: float, right: float
) -> XAxis:
    """The x axis: numbers and dates proportional, anything else (and every bar chart's x) as
    categories in row order."""
    if categories or not (column.numeric or column.type_oid in TIME_OIDS):
        return _categories(texts, left, right)
    if column.numeric:
        return _numbers(texts, left, right)
    return _instants(texts, left, right, dates=column.type_oid == DATE_OID)


def _categories(texts: Sequence[str | None], left: float, right: float) -> XAxis:
    band = (right - left) / max(len(texts), 1)
    shown = [visible(value) for value in texts]
    positions = tuple(left + band * (at + 0.5) for at in range(len(texts)))
    room = band - 12
    rotated = room < 12 * TICK_SIZE * CHAR_EM and any(text_px(s) > room for s in shown)
    every = 1
    if rotated:
        # Slanted labels stand a line apart; with more rows than that, every n-th is labelled.
        every = math.ceil(TICK_SIZE * 1.5 / band)
        room = ROTATED_CHARS * TICK_SIZE * CHAR_EM
    labels = tuple(Label(positions[at], label) for at, label in enumerate(shown) if at % every == 0)
    widths = [text_px(shorten(label.text, room)) for label in labels] or [0.0]
    depth = (max(widths) + TICK_SIZE) * _SLANT if rotated else TICK_SIZE
    overhang = widths[0] * _SLANT - band / 2 if rotated else 0.0
    return XAxis(positions, labels, room, rotated, False, band, _height(depth), overhang)


def _numbers(texts: Sequence[str | None], left: float, right: float) -> XAxis:
    values = [parse_number(value) for value in texts]
    known = [value for value in values if value is not None]
    lo, hi = (min(known), max(known)) if known else (0.0, 1.0)
    # Whole numbers (a count of users) get whole ticks: no 1.5 users between 1 and 2.
    whole = bool(known) and all(value.is_integer() for value in known)
    most = 12
    while True:
        # As many ticks as fit with a gap between labels: fewer for wider labels.
        ticks = nice_ticks(lo, hi, most, whole=whole)
        widest = max(text_px(tick.text) for tick in ticks)
        if len(ticks) <= 2 or (right - left) / (len(ticks) - 1) >= widest + 24:
            break
        most = len(ticks) - 1
    at = linear(ticks[0].value, ticks[-1].value, left, right)
    return _proportional([None if v is None else at(v) for v in values], ticks, at)


def _instants(texts: Sequence[str | None], left: float, right: float, *, dates: bool) -> XAxis:
    instants = [parse_instant(value) for value in texts]
    known = sorted((instant for instant in instants if instant is not None), key=seconds)
    if not known:
        return _proportional([None] * len(texts), [], linear(0, 1, left, right))
    lo, hi = known[0], known[-1]
    if seconds(lo) == seconds(hi):
        pad = timedelta(days=1) if dates else timedelta(hours=1)
        with suppress(OverflowError):  # 0001-01-01 or 9999-12-31 alone: drawn in the middle
            lo, hi = lo - pad, hi + pad
    ticks, day = time_ticks(lo, hi, right - left, TICK_SIZE * CHAR_EM, dates)
    # A little room at both ends, so the first and last points stand clear of the plot's edges.
    margin = (seconds(hi) - seconds(lo)) * 0.03
    at = linear(seconds(lo) - margin, seconds(hi) + margin, left, right)
    positions = [None if i is None else at(seconds(i)) for i in instants]
    return replace(_proportional(positions, ticks, at), note=day)


def _proportional(positions: list[float | None], ticks: list[Tick], at: Scale) -> XAxis:
    labels = tuple(Label(at(tick.value), tick.text) for tick in ticks)
    gaps = [b.at - a.at for a, b in pairwise(labels)]
    return XAxis(
        tuple(positions),
        labels,
        min(gaps, default=400.0) - 8,
        False,
        True,
        0.0,
        _height(TICK_SIZE),
        0.0,
    )


def _height(depth: float) -> float:
    # Tick labels, then the axis name under them.
    return 14 + depth + 16 + LABEL_SIZE + 12


def y_axis(ticks: list[Tick], y_of: Scale, left: float, right: float) -> list[str]:
    """Grid lines at the y ticks, their labels right-aligned left of the plot."""
    rows = [(number(y_of(tick.value)), tick.text) for tick in ticks]
    return [
        '<g class="chart-grid" stroke="currentColor" stroke-opacity="0.15">',
        *(f'<line x1="{number(left)}" x2="{number(right)}" y1="{y}" y2="{y}"/>' for y, _ in rows),
        "</g>",
        '<g class="chart-axis chart-axis-y" text-anchor="end">',
        *(text(left - 12, float(y) + TICK_SIZE * 0.35, label, left) for y, label in rows),
        "</g>",
    ]


def x_axis(axis: XAxis, bottom: float, left: float, right: float) -> list[str]:
    """The x axis' line and labels; slanted labels end under their bar."""
    parts = [
        '<g class="chart-axis chart-axis-x" text-anchor="end">'
        if axis.rotated
        else '<g class="chart-axis chart-axis-x" text-anchor="middle">',
        f'<line class="chart-axis-line" x1="{number(left)}" x2="{number(right)}" '
        f'y1="{number(bottom)}" y2="{number(bottom)}" stroke="currentColor"/>',
    ]
    for label in axis.labels:
        if axis.ticks:
            x = number(label.at)
            parts.append(
                f'<line x1="{x}" x2="{x}" y1="{number(bottom)}" y2="{number(bottom + 8)}" '
                'stroke="currentColor"/>'
            )
        if axis.rotated:
            parts.append(text(label.at + 6, bottom + 18, label.text, axis.room, rotate=True))
        else:
            parts.append(text(label.at, bottom + 10 + TICK_SIZE, label.text, axis.room))
    parts.append("</g>")
    return parts
