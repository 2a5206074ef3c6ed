"""Charts (chart=bar|line|scatter|area): golden SVGs, escaping, errors and ticks, no database.

Golden files live in tests/golden/: chart-NAME.svg is what the input named NAME in GOLDEN
below draws. After a deliberate change, regenerate them with

    PGSLIDES_REGENERATE_GOLDEN=1 pytest tests/test_chart.py

and look at them (open one in a browser) and read the diff before committing it.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from goldens import GOLDEN, assert_golden
from pgslides.outcome import Column
from pgslides.render.chart import ChartError, render_chart
from pgslides.render.chartscale import nice_ticks, parse_instant, parse_number, time_ticks

SVG = "{http://www.w3.org/2000/svg}"
TEXT, NUMERIC, INT8, INT4, FLOAT8, DATE, TIMESTAMP, TIMESTAMPTZ = (
    25, 1700, 20, 23, 701, 1082, 1114, 1184,
)  # fmt: skip
HOSTILE = ("<script>alert(1)</script>", 'a"b', "x&y", "]]>")


def col(name: str, oid: int) -> Column:
    return Column(name, oid, oid in (NUMERIC, INT8, INT4, FLOAT8))


GOLDEN_CASES: dict[str, dict[str, Any]] = {
    "bar": {
        "kind": "bar",
        "columns": (col("region", TEXT), col("revenue", NUMERIC)),
        "rows": (
            ("north", "120.50"),
            ("south", "80"),
            ("east", "210.25"),
            ('raw <SQL> & "x"', "45"),
            ("west", "0"),
        ),
        "x": "region",
        "ys": ("revenue",),
        "row_count": 5,
    },
    "bar-grouped": {
        "kind": "bar",
        "columns": (col("quarter", TEXT), col("sales", INT8), col("costs", INT8)),
        "rows": (
            ("Q1", "120", "90"),
            ("Q2", "150", "170"),
            ("Q3", "90", "-30"),
            ("Q4", "200", "140"),
        ),
        "x": "quarter",
        "ys": ("sales", "costs"),
        "row_count": 4,
    },
    "line-dates": {
        "kind": "line",
        "columns": (col("day", DATE), col("orders", INT8)),
        "rows": tuple(
            (f"2024-01-{day:02d}", str(orders))
            for day, orders in [(1, 12), (2, 15), (3, 14), (5, 20), (8, 18), (15, 30), (31, 35)]
        ),
        "x": "day",
        "ys": ("orders",),
        "row_count": 7,
    },
    "area": {
        "kind": "area",
        "columns": (col("at", TIMESTAMPTZ), col("cpu", FLOAT8)),
        "rows": tuple(
            (f"2024-03-05 {hour:02d}:00:00+01", load)
            for hour, load in [
                (0, "0.12"),
                (4, "0.08"),
                (8, "0.45"),
                (12, "0.81"),
                (16, "0.65"),
                (20, "0.3"),
            ]
        ),
        "x": "at",
        "ys": ("cpu",),
        "row_count": 6,
    },
    "scatter": {
        "kind": "scatter",
        "columns": (col("rows", INT8), col("ms", FLOAT8)),
        "rows": (
            ("1000", "0.4"),
            ("20000", "8.1"),
            ("100000", "41"),
            ("250000", "97.5"),
            ("500000", "210.3"),
        ),
        "x": "rows",
        "ys": ("ms",),
        "row_count": 5,
    },
    "line-gap": {
        "kind": "line",
        "columns": (col("month", TEXT), col("signups", INT4)),
        "rows": (("Jan", "30"), ("Feb", "42"), ("Mar", None), ("Apr", "55"), ("May", "61")),
        "x": "month",
        "ys": ("signups",),
        "row_count": 1000,
    },
}


def chart(case: dict[str, Any]) -> str:
    return str(render_chart(**case))


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # noqa: S314 - our own output, parsed to prove it is well-formed


def marks(root: ET.Element) -> list[ET.Element]:
    return [e for e in root.iter() if e.get("class") in ("chart-bar", "chart-point")]


def texts(root: ET.Element, cls: str) -> list[str]:
    return ["".join(e.itertext()) for e in root.iter(f"{SVG}text") if cls in (e.get("class") or "")]


@pytest.mark.parametrize("name", list(GOLDEN_CASES))
def test_golden_svg(name: str):
    actual = chart(GOLDEN_CASES[name]) + "\n"
    expected_file = GOLDEN / f"chart-{name}.svg"
    assert_golden(expected_file, actual)


@pytest.mark.parametrize("name", list(GOLDEN_CASES))
def test_marks_carry_the_values_as_written(name: str):
    case = GOLDEN_CASES[name]
    root = parse(chart(case))
    assert root.get("class") == "sql-chart"
    assert root.get("data-chart") == case["kind"]
    assert root.get("role") == "img"
    assert root.get("viewBox") == "0 0 1180 480"
    x_at = [c.name for c in case["columns"]].index(case["x"])
    series = [g for g in root.iter(f"{SVG}g") if "chart-series" in (g.get("class") or "").split()]
    assert [g.get("data-series") for g in series] == list(case["ys"])
    for group, y in zip(series, case["ys"], strict=True):
        y_at = [c.name for c in case["columns"]].index(y)
        drawn = [(row[x_at], row[y_at]) for row in case["rows"] if row[y_at] is not None]
        assert [(m.get("data-x"), m.get("data-y")) for m in marks(group)] == drawn


def test_no_text_too_small_for_the_back_of_the_room():
    for case in GOLDEN_CASES.values():
        sizes = [
            int(e.get("font-size") or 0) for e in parse(chart(case)).iter() if e.get("font-size")
        ]
        assert min(sizes) >= 18


def test_a_bar_below_zero_hangs_from_the_zero_line():
    root = parse(chart(GOLDEN_CASES["bar-grouped"]))
    zero = next(e for e in root.iter(f"{SVG}line") if e.get("class") == "chart-zero")
    bars = {m.get("data-y"): m for m in marks(root)}
    assert float(bars["-30"].get("y") or "") == float(zero.get("y1") or "")
    assert float(bars["200"].get("y") or "") + float(bars["200"].get("height") or "") == float(
        zero.get("y1") or ""
    )
    assert texts(root, "chart-value") == ["120", "150", "90", "200", "90", "170", "-30", "140"]
    legend = next(e for e in root.iter(f"{SVG}g") if e.get("class") == "chart-legend")
    assert ["".join(entry.itertext()) for entry in legend] == ["sales", "costs"]


def test_a_null_breaks_the_line_and_the_caption_counts_what_is_missing():
    root = parse(chart(GOLDEN_CASES["line-gap"]))
    path = next(e for e in root.iter(f"{SVG}path") if e.get("class") == "chart-line").get("d") or ""
    assert path.count("M") == 2
    assert path.count("L") == 2
    assert texts(root, "chart-caption") == ["first 5 of 1000 rows · not drawn: 1 NULL"]


def test_nan_and_infinity_are_skipped_and_counted():
    svg = chart(
        {
            "kind": "line",
            "columns": (col("x", FLOAT8), col("y", FLOAT8)),
            "rows": (
                ("1", "NaN"),
                ("2", "Infinity"),
                ("3", "-Infinity"),
                ("Infinity", "4"),
                ("5", "6"),
                (None, "7"),
            ),
            "x": "x",
            "ys": ("y",),
            "row_count": 6,
        }
    )
    root = parse(svg)
    assert [(m.get("data-x"), m.get("data-y")) for m in marks(root)] == [("5", "6")]
    assert texts(root, "chart-caption") == ["not drawn: 1 NULL, 4 NaN/Infinity"]


@pytest.mark.parametrize(
    ("oid", "xs", "ys"),
    [
        (FLOAT8, ["0", "5e-324", "1e-320"], ["1", "2", "3"]),  # a span a float cannot divide
        (FLOAT8, ["-1e308", "1e308", "0"], ["-1.7e308", "1.7e308", "0"]),  # nor hold
        (FLOAT8, ["1", "1", "1"], ["5", "5", "5"]),  # one point
        (FLOAT8, [None, "NaN", "Infinity"], [None, None, None]),  # nothing to draw
        (DATE, ["0001-01-01", "0044-03-15 BC", "infinity"], ["1", "2", "3"]),
        (DATE, ["9999-12-31", "9999-12-31", None], ["1", "2", "3"]),
        (TIMESTAMPTZ, ["0001-01-01 00:00:00+14", "9999-12-31 23:59:59-12", None], ["1", "2", "3"]),
    ],
)
@pytest.mark.parametrize("kind", ["bar", "line", "scatter", "area"])
def test_extreme_values_draw_a_chart_not_an_error(
    kind: str, oid: int, xs: list[str | None], ys: list[str | None]
):
    case = {
        "kind": kind,
        "columns": (col("x", oid), col("y", FLOAT8)),
        "rows": tuple(zip(xs, ys, strict=True)),
        "x": "x",
        "ys": ("y",),
        "row_count": 3,
    }
    root = parse(chart(case))
    numbers = [
        v
        for e in root.iter()
        for k, v in e.attrib.items()
        if k in ("x", "y", "cx", "cy", "width", "height")
    ]
    assert all(re.fullmatch(r"-?\d+(\.\d)?", n) for n in numbers)


@settings(max_examples=60, deadline=None)
@given(
    kind=st.sampled_from(["bar", "line", "scatter", "area"]),
    oid=st.sampled_from([TEXT, FLOAT8, DATE, TIMESTAMPTZ]),
    name=st.text(min_size=1, max_size=20),
    rows=st.lists(
        st.tuples(st.none() | st.text(max_size=30), st.none() | st.text(max_size=12)), max_size=40
    ),
)
def test_any_values_give_well_formed_svg(
    kind: str, oid: int, name: str, rows: list[tuple[str | None, str | None]]
):
    case = {
        "kind": kind,
        "columns": (col(name, oid), col(name + "!", FLOAT8)),
        "rows": tuple(rows),
        "x": name,
        "ys": (name + "!",),
        "row_count": len(rows),
    }
    root = parse(chart(case))
    series = next(g for g in root.iter(f"{SVG}g") if g.get("data-series") is not None)
    assert len(marks(series)) <= len(rows)


def test_an_empty_result_draws_the_axes_and_says_no_rows():
    case = {**GOLDEN_CASES["line-dates"], "rows": (), "row_count": 0}
    root = parse(chart(case))
    assert texts(root, "chart-empty") == ["no rows"]
    assert texts(root, "chart-label") == ["day", "orders"]
    assert marks(root) == []


def test_first_rows_of_more_says_so():
    case = {**GOLDEN_CASES["bar"], "row_count": 1000}
    assert texts(parse(chart(case)), "chart-caption") == ["first 5 of 1000 rows"]
    assert texts(parse(chart(GOLDEN_CASES["bar"])), "chart-caption") == []


@pytest.mark.parametrize("hostile", HOSTILE)
def test_hostile_names_and_values_are_text(hostile: str):
    case = {
        "kind": "bar",
        "columns": (col(hostile, TEXT), col(hostile + "2", NUMERIC)),
        "rows": ((hostile, "1"), ("b", "2")),
        "x": hostile,
        "ys": (hostile + "2",),
        "row_count": 2,
    }
    svg = chart(case)
    root = parse(svg)  # well-formed: nothing hostile became markup
    assert "<script" not in svg
    assert 'a"b' not in svg
    assert hostile + "2" in texts(root, "chart-label")
    assert hostile in texts(root, "chart-label")
    assert marks(root)[0].get("data-x") == hostile
    assert [g.get("data-series") for g in root.iter(f"{SVG}g") if g.get("data-series")] == [
        hostile + "2"
    ]
    assert len([e for e in root.iter() if e.tag == f"{SVG}script"]) == 0


def test_control_characters_and_noncharacters_stay_well_formed():
    odd = "a\x01b\x1fc\ufffe"
    case = {
        **GOLDEN_CASES["bar"],
        "rows": ((odd, "1"),),
        "columns": (col(odd, TEXT), col("revenue", NUMERIC)),
        "x": odd,
    }
    root = parse(chart(case))
    assert marks(root)[0].get("data-x") == "a\\x01b\\x1Fc\\uFFFE"


def test_long_categories_are_cut_with_the_whole_name_in_a_title():
    name = "A very long category name that would never fit under one bar"
    case = {**GOLDEN_CASES["bar"], "rows": ((name, "1"), *GOLDEN_CASES["bar"]["rows"])}
    root = parse(chart(case))
    label = next(e for e in root.iter(f"{SVG}text") if e.findtext(f"{SVG}title") == name)
    shown = "".join(label.itertext()).removeprefix(name)
    assert shown.endswith("…")
    assert name.startswith(shown[:-1])


def test_many_categories_slant_and_thin_out():
    rows = tuple((f"customer {n:03d} of the north region", str(n)) for n in range(60))
    case = {**GOLDEN_CASES["bar"], "rows": rows, "row_count": 60}
    root = parse(chart(case))
    axis = next(e for e in root.iter(f"{SVG}g") if "chart-axis-x" in (e.get("class") or ""))
    labels = axis.findall(f"{SVG}text")
    assert 10 <= len(labels) < 60
    assert all("rotate(-45" in (label.get("transform") or "") for label in labels)
    assert texts(root, "chart-value") == []  # 60 values would crowd each other
    assert len(marks(root)) == 60


def test_same_bytes_every_time_and_in_another_process():
    first = [chart(case) for case in GOLDEN_CASES.values()]
    assert first == [chart(case) for case in GOLDEN_CASES.values()]
    script = (
        "import sys; sys.path[:0] = [sys.argv[1]]; from test_chart import GOLDEN_CASES, chart; "
        "print('\\x00'.join(chart(c) for c in GOLDEN_CASES.values()), end='')"
    )
    other = subprocess.run(
        [sys.executable, "-c", script, str(Path(__file__).parent)],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONHASHSEED": "12345"},
    )
    assert other.stdout.split("\x00") == first


def test_a_column_name_can_be_written_as_sql_folds_it():
    case = {**GOLDEN_CASES["bar"], "x": "Region", "ys": ("REVENUE",)}
    assert chart(case) == chart(GOLDEN_CASES["bar"])


ERRORS = [
    (
        {"kind": "pie"},
        "chart=pie is not a chart pgslides draws: use chart=bar, line, scatter or area",
    ),
    ({"x": "regon"}, "x=regon names no column of the result: use one of region, revenue, label"),
    (
        {"ys": ("revenu",)},
        "y=revenu names no column of the result: use one of region, revenue, label",
    ),
    (
        {"ys": ("revenue", "label")},
        "y=label is not a numeric column: use a numeric one (revenue) or cast it in the query, e.g. label::numeric",
    ),
    ({"ys": ()}, "chart=bar needs a y column: add y=COLUMN naming one of revenue"),
]


@pytest.mark.parametrize(("change", "message"), ERRORS)
def test_chart_errors_name_the_fix(change: dict[str, Any], message: str):
    columns = (col("region", TEXT), col("revenue", NUMERIC), col("label", TEXT))
    case = {**GOLDEN_CASES["bar"], "columns": columns, **change}
    with pytest.raises(ChartError) as caught:
        chart(case)
    assert str(caught.value) == message


def test_chart_errors_quote_names_as_sql_must():
    columns = (
        col("Region Name", TEXT),
        col('a"b', TEXT),
        col("n", INT4),
        col("n", INT4),
        col("m", INT4),
    )
    case = {**GOLDEN_CASES["bar"], "columns": columns, "rows": ()}
    expected = {
        (
            "nope",
            "m",
        ): 'x=nope names no column of the result: use one of "Region Name", "a""b", n, n, m',
        ("n", "m"): "x=n names 2 columns of the result: give them different names with AS",
        ("m", "n"): "y=n names 2 columns of the result: give them different names with AS",
        (
            "m",
            "Region Name",
        ): 'y=Region Name is not a numeric column: use a numeric one (n, n, m) or cast it in the query, e.g. "Region Name"::numeric',
        (
            "m",
            'a"b',
        ): 'y=a"b is not a numeric column: use a numeric one (n, n, m) or cast it in the query, e.g. "a""b"::numeric',
    }
    for (x, y), message in expected.items():
        with pytest.raises(ChartError) as caught:
            chart({**case, "x": x, "ys": (y,)})
        assert str(caught.value) == message


def test_a_y_column_when_none_is_numeric():
    case = {**GOLDEN_CASES["bar"], "columns": (col("region", TEXT), col("revenue", TEXT))}
    with pytest.raises(ChartError) as caught:
        chart(case)
    assert (
        str(caught.value)
        == "y=revenue is not a numeric column: cast it in the query, e.g. revenue::numeric"
    )
    with pytest.raises(ChartError) as caught:
        chart({**case, "columns": ()})
    assert str(caught.value) == "x=region names no column: the statement returned no columns"


@pytest.mark.parametrize(
    ("lo", "hi", "most", "expected"),
    [
        (0, 7, 6, ["0", "2", "4", "6", "8"]),
        (0, 0.3, 6, ["0", "0.1", "0.2", "0.3"]),
        (0.1, 0.1 + 0.2, 6, ["0.10", "0.15", "0.20", "0.25", "0.30"]),
        (-7, 3, 7, ["-8", "-6", "-4", "-2", "0", "2", "4"]),
        (-7, 3, 6, ["-10", "-5", "0", "5"]),
        (-3, -1, 6, ["-3.0", "-2.5", "-2.0", "-1.5", "-1.0"]),
        (5, 5, 6, ["4.5", "5.0", "5.5"]),
        (0, 0, 6, ["0", "0.2", "0.4", "0.6", "0.8", "1.0"]),
        (2019, 2024, 8, ["2019", "2020", "2021", "2022", "2023", "2024"]),
        (0, 12345, 6, ["0", "5,000", "10,000", "15,000"]),
        (0, 2_000_000, 6, ["0", "0.5M", "1.0M", "1.5M", "2.0M"]),
        (0, 3e9, 6, ["0", "1G", "2G", "3G"]),
        (0, 3e20, 6, ["0", "1e20", "2e20", "3e20"]),
        (0, 3e-7, 6, ["0", "1e-7", "2e-7", "3e-7"]),
    ],
)
def test_nice_ticks(lo: float, hi: float, most: int, expected: list[str]):
    ticks = nice_ticks(lo, hi, most)
    assert [tick.text for tick in ticks] == expected
    # They cover lo..hi, but for float noise: 0.1 + 0.2 ends at the tick 0.3, not 0.35.
    assert ticks[0].value <= lo
    assert ticks[-1].value == pytest.approx(max(hi, ticks[-1].value))


def test_nice_ticks_for_the_largest_floats_do_not_overflow():
    ticks = nice_ticks(-1.7e308, 1.7e308, 6)
    assert ticks[0].value <= -1.7e308
    assert ticks[-1].value >= 1.7e308


@pytest.mark.parametrize(
    ("text", "value"),
    [("1.50", 1.5), ("-3", -3.0), ("1e+06", 1e6), ("$1,234.56", 1234.56), ("-$1.00", -1.0),
     ("NaN", None), ("Infinity", None), ("-Infinity", None), ("abc", None), (None, None)],
)  # fmt: skip
def test_numbers_as_postgresql_writes_them(text: str | None, value: float | None):
    assert parse_number(text) == value


def test_instants_as_postgresql_writes_them():
    utc, plus = timezone.utc, timezone(timedelta(hours=5, minutes=30))
    assert parse_instant("2024-01-31") == datetime(2024, 1, 31, tzinfo=utc)
    assert parse_instant("2024-01-31 10:00:00") == datetime(2024, 1, 31, 10, tzinfo=utc)
    assert parse_instant("2024-01-31 10:00:00+00") == datetime(2024, 1, 31, 10, tzinfo=utc)
    assert parse_instant("2024-01-31 10:00:00.25+05:30") == datetime(
        2024, 1, 31, 10, 0, 0, 250000, tzinfo=plus
    )
    assert [
        parse_instant(t) for t in ("infinity", "-infinity", "0044-03-15 BC", "10000-01-01", None)
    ] == [None] * 5


@pytest.mark.parametrize(
    ("lo", "hi", "dates", "expected", "day"),
    [
        (
            "2024-01-01",
            "2024-01-31",
            True,
            ["2024-01-01", "2024-01-08", "2024-01-15", "2024-01-22", "2024-01-29"],
            "",
        ),
        (
            "2024-01-01",
            "2025-06-01",
            True,
            ["2024-01", "2024-04", "2024-07", "2024-10", "2025-01", "2025-04"],
            "",
        ),
        ("1990-06-01", "2024-01-01", True, ["1995", "2000", "2005", "2010", "2015", "2020"], ""),
        (
            "2024-03-05 00:00:00+01",
            "2024-03-05 20:00:00+01",
            False,
            ["00:00", "06:00", "12:00", "18:00"],
            "2024-03-05",
        ),
        (
            "2024-03-05 22:10:00",
            "2024-03-06 01:00:00",
            False,
            ["03-05 23:00", "03-06 00:00", "03-06 01:00"],
            "",
        ),
        (
            "2024-03-05 10:00:00",
            "2024-03-05 10:00:45",
            False,
            ["10:00:00", "10:00:15", "10:00:30", "10:00:45"],
            "2024-03-05",
        ),
    ],
)
def test_time_ticks_fall_on_round_calendar_instants(
    lo: str, hi: str, dates: bool, expected: list[str], day: str
):
    start, end = parse_instant(lo), parse_instant(hi)
    assert start is not None
    assert end is not None
    ticks, note = time_ticks(start, end, 1000, 12, dates)
    assert [tick.text for tick in ticks] == expected
    assert note == day


def test_whole_numbers_on_x_get_whole_ticks():
    assert [tick.text for tick in nice_ticks(1, 4, 12)][:3] == ["1.0", "1.5", "2.0"]
    assert [tick.text for tick in nice_ticks(1, 4, 12, whole=True)] == ["1", "2", "3", "4"]
    rows = tuple((str(n), str(1 + n)) for n in range(1, 5))
    columns = (Column("users", 23, True), Column("lazy", 23, True))
    svg = str(render_chart("line", columns, rows, "users", ("lazy",), 4))
    assert ">1.5<" not in svg
    assert ">2<" in svg
