"""Chart scales: PostgreSQL's text values as numbers and instants, and "nice" ticks for axes."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal

DATE_OID = 1082
TIME_OIDS = frozenset({1082, 1114, 1184})  # date, timestamp, timestamptz

# PostgreSQL's ISO DateStyle (its default). BC dates, years past 9999 and ±infinity do not
# match: they are not drawn, as NaN is not.
_INSTANT = re.compile(
    r"(\d{4})-(\d\d)-(\d\d)"
    r"(?:[ T](\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?)?"
    r"(?:([+-])(\d\d)(?::(\d\d))?(?::(\d\d))?)?"
)
# money as lc_monetary writes it, e.g. -$1,234.56: psql right-aligns it, so it counts as numeric.
_MONEY = re.compile(r"(-?)[^\d.-]*((?:\d+,)*\d+(?:\.\d+)?)\D*")
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)

# Calendar steps for time axes, finest first; a step is a count of one unit.
_UNIT_SECONDS = {
    "second": 1,
    "minute": 60,
    "hour": 3600,
    "day": 86400,
    "month": 2629746,  # the Gregorian average, only to choose a step
    "year": 31556952,
}
_TIME_STEPS = (
    *(("second", n) for n in (1, 5, 15, 30)),
    *(("minute", n) for n in (1, 5, 15, 30)),
    *(("hour", n) for n in (1, 3, 6, 12)),
    *(("day", n) for n in (1, 2, 7, 14)),
    *(("month", n) for n in (1, 3, 6)),
    *(("year", n) for n in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)),
)
_LABEL_CHARS = {"second": 8, "minute": 11, "hour": 11, "day": 10, "month": 7, "year": 4}
_SI = {6: "M", 9: "G", 12: "T"}


@dataclass(frozen=True)
class Tick:
    value: float  # where it stands on the axis: a number, or seconds since 1970 for an instant
    text: str


def parse_number(text: str | None) -> float | None:
    """A number as PostgreSQL writes one; None for NULL, NaN, ±Infinity and what is no number."""
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        money = _MONEY.fullmatch(text)
        if money is None:
            return None
        value = float(money[1] + money[2].replace(",", ""))
    return value if math.isfinite(value) else None


def parse_instant(text: str | None) -> datetime | None:
    """A date, timestamp or timestamptz as PostgreSQL's ISO style writes it, as an aware
    datetime (UTC when the text has no zone); None for NULL, infinity and BC."""
    match = _INSTANT.fullmatch(text) if text is not None else None
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, sign, oh, om, osec = match.groups()
    offset = timedelta(hours=int(oh or 0), minutes=int(om or 0), seconds=int(osec or 0))
    try:
        clock = (int(hour or 0), int(minute or 0), int(second or 0))
        micro = int((fraction or "0").ljust(6, "0"))
        zone = timezone(-offset if sign == "-" else offset)
        return datetime(int(year), int(month), int(day), *clock, micro, tzinfo=zone)
    except ValueError:
        return None


def seconds(instant: datetime) -> float:
    """Seconds since 1970-01-01 UTC: where an instant stands on a proportional axis."""
    return (instant - _EPOCH).total_seconds()


def nice_ticks(lo: float, hi: float, most: int, *, whole: bool = False) -> list[Tick]:
    """Ticks at multiples of 1, 2 or 5 × 10ⁿ from lo or below to hi or above: the finest such
    step that needs at most `most` ticks (never fewer than two ticks); whole: no step below 1."""
    lo, hi = min(lo, hi), max(lo, hi)
    if lo == hi:
        pad = abs(lo) / 10 or 1.0
        lo, hi = (0.0, 1.0) if lo == 0 else (lo - pad, hi + pad)
    # Spans past what a float holds (-1e308..1e308) or below what it divides (5e-324) are
    # clamped: such a chart is drawn, if crudely, rather than not at all.
    span = min(max(hi - lo, 1e-290), 1e307) / max(most - 1, 1)
    exponent = math.floor(math.log10(span)) - 1
    if whole:
        exponent = max(exponent, 0)
    while True:
        for mantissa in (1, 2, 5):
            step = mantissa * 10.0**exponent
            first = _floor(lo / step)
            last = max(_ceil(hi / step), first + 1)
            if last - first + 1 <= max(most, 2) or exponent > 307:
                exact = [Decimal(k * mantissa).scaleb(exponent) for k in range(first, last + 1)]
                texts = _tick_texts(exact, exponent)
                return [Tick(float(d), text) for d, text in zip(exact, texts, strict=True)]
        exponent += 1


def _floor(quotient: float) -> int:
    # 0.30000000000000004 / 0.1 is a hair over 3: that is still the tick at 3, not a fourth one.
    return math.floor(quotient + 1e-9 * max(1.0, abs(quotient)))


def _ceil(quotient: float) -> int:
    return math.ceil(quotient - 1e-9 * max(1.0, abs(quotient)))


def _tick_texts(values: list[Decimal], exponent: int) -> list[str]:
    """Tick labels with as many decimals as the step has, so 0.1 + 0.2 is written 0.3;
    millions and up as 1.5M, 2G, 3T, and very large or small numbers as 2e20 or 5e-7."""
    biggest = max(abs(value) for value in values)
    power = 0
    if biggest >= Decimal("1e6") and exponent >= -6:
        power = math.floor(biggest.log10())
        power = power - power % 3 if power < 15 else power
    elif exponent < -6:
        power = math.floor(biggest.log10())
    places = max(0, power - exponent)
    suffix = _SI.get(power, f"e{power}") if power else ""
    grouping = "," if power == 0 and biggest >= 10000 else ""
    return [
        f"{value.scaleb(-power):{grouping}.{places}f}{suffix}" if value else "0" for value in values
    ]


def time_ticks(
    lo: datetime, hi: datetime, width: float, char_px: float, dates: bool
) -> tuple[list[Tick], str]:
    """Ticks at round calendar instants (midnight, the first of a month, …) from lo to hi in
    lo's time zone, as many as fit `width` px (date columns get none within a day), and the
    day they all fall on when their labels are only clock times ('' otherwise)."""
    span = seconds(hi) - seconds(lo)
    unit, count = _TIME_STEPS[-1]
    for unit, count in _TIME_STEPS:
        if dates and _UNIT_SECONDS[unit] < 86400:
            continue
        most = max(2, int(width // (_LABEL_CHARS[unit] * char_px + 32)))
        if span / (_UNIT_SECONDS[unit] * count) <= most - 1:
            break
    try:
        instants = list(_calendar(lo, hi.astimezone(lo.tzinfo), unit, count))
    except (OverflowError, ValueError):  # past year 9999: no ticks rather than no chart
        return [], ""
    days = {_time_label(t, "day", one_day=True) for t in instants}
    one_day = len(days) == 1 and _UNIT_SECONDS[unit] < 86400
    ticks = [Tick(seconds(t), _time_label(t, unit, one_day=one_day)) for t in instants]
    return ticks, days.pop() if one_day else ""


def _calendar(lo: datetime, hi: datetime, unit: str, count: int) -> Iterator[datetime]:
    zone = lo.tzinfo
    if unit in ("second", "minute", "hour"):
        step = timedelta(seconds=_UNIT_SECONDS[unit] * count)
        midnight = lo.replace(hour=0, minute=0, second=0, microsecond=0)
        instant = midnight + step * math.ceil((lo - midnight) / step)
        for _ in range(1000):
            if instant > hi:
                return
            yield instant
            instant += step
    elif unit == "day":
        # Weeks start on Mondays: ordinal 1 (0001-01-01) was a Monday.
        ordinal = lo.toordinal() + (lo.timetz().replace(tzinfo=None) != time())
        ordinal += ((count in {7, 14}) - ordinal) % count
        while (instant := datetime.combine(date.fromordinal(ordinal), time(), zone)) <= hi:
            yield instant
            ordinal += count
    else:
        months = 12 if unit == "year" else 1
        index = (
            lo.year * 12
            + lo.month
            - 1
            + (lo != lo.replace(day=1, hour=0, minute=0, second=0, microsecond=0))
        )
        index += (-index) % (months * count)
        while (instant := datetime(index // 12, index % 12 + 1, 1, tzinfo=zone)) <= hi:
            yield instant
            index += months * count


def _time_label(instant: datetime, unit: str, *, one_day: bool) -> str:
    day = f"{instant.year:04d}-{instant.month:02d}-{instant.day:02d}"
    clock = f"{instant.hour:02d}:{instant.minute:02d}"
    if unit == "year":
        return day[:4]
    if unit == "month":
        return day[:7]
    if unit == "day":
        return day
    if unit == "second":
        return f"{clock}:{instant.second:02d}"
    return clock if one_day else f"{day[5:]} {clock}"
