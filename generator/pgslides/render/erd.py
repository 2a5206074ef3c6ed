"""Schema diagrams (```erd exec```): the catalog's tables, columns and foreign keys → inline SVG."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup, escape

from pgslides.render.erdlayout import End, Layout, Link, Point, Route, layout
from pgslides.render.textwidth import control_escape, display_width

# SVG units are CSS px when the diagram fits the stage's 1180×520 (a 2–4 table schema does):
# 18px column text and 20px titles read from the back of a room. The font is monospace, so a
# line is as wide as its characters × 0.6em (its display width, for wide characters).
FONT = 18.0
TITLE_FONT = 20.0
MARK_FONT = 16.0
EM = 0.6
ROW = 28.0
HEAD = 38.0  # the title band
PAD = 12.0
BOTTOM = 8.0
MARGIN = 8.0
RADIUS = 6.0
MANY = 16.0  # how far the crow's foot reaches out from the box
ONE = 10.0  # where the bar stands from the box
PRONG = 9.0  # half the height of either mark
NO_COLUMNS = "(no columns)"  # what a table without columns shows; no box is narrower than it

# Not allowed in XML (C1 controls are, but no slide should show them): control characters as
# psql writes them; lone surrogates and non-characters as U+FFFD.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
_NOT_XML = re.compile("[\ud800-\udfff\ufffe\uffff]")

# PostgreSQL's own short spellings of its long type names, as people write them in DDL: a box
# as wide as "timestamp with time zone" would crowd the slide for nothing.
_SHORT_TYPES = (
    (re.compile(r"^timestamp(\(\d+\))? with time zone"), r"timestamptz\1"),
    (re.compile(r"^timestamp(\(\d+\))? without time zone"), r"timestamp\1"),
    (re.compile(r"^time(\(\d+\))? with time zone"), r"timetz\1"),
    (re.compile(r"^time(\(\d+\))? without time zone"), r"time\1"),
    (re.compile(r"^character varying"), "varchar"),
    (re.compile(r"^character\b"), "char"),
    (re.compile(r"^bit varying"), "varbit"),
)

# Presentation attributes, so the SVG reads in either scheme even without the stylesheet
# (which overrides them); font sizes stay here because the box widths were measured for them.
_SVG = {"class": "sql-erd", "xmlns": "http://www.w3.org/2000/svg"}
_LOOK = {"font-family": "monospace", "font-size": FONT, "fill": "currentColor"}
_BOX = {"rx": RADIUS, "fill": "none", "stroke": "currentColor"}
_TITLE = {"font-size": TITLE_FONT, "font-weight": 700}
_MARK = {"font-size": MARK_FONT, "font-weight": 700}
_LINE = {"fill": "none", "stroke": "currentColor", "stroke-width": 2}


@dataclass(frozen=True)
class _Column:
    name: str
    type: str
    marks: tuple[str, ...]  # "PK", "FK", both or neither


@dataclass(frozen=True)
class _Table:
    name: str
    columns: tuple[_Column, ...]


@dataclass(frozen=True)
class _Edge:
    name: str
    source: str  # TABLE.COLUMN (TABLE.A,B for a composite key): the referencing end
    target: str
    link: Link


@dataclass(frozen=True)
class _Shape:  # a table's box: its size and where its name and type columns start
    width: float
    height: float
    name_x: float
    type_x: float


def render_erd(schema: dict[str, Any]) -> Markup:
    """The schema as an inline `<svg class="sql-erd">`: a `g.erd-table` per table listing its
    columns in attnum order with types and PK/FK marks, and a `g.erd-edge` per foreign key
    from the referencing row (crow's foot: many) to the referenced row (bar: one)."""
    tables = [_table(table) for table in schema.get("tables") or ()]
    if not tables:
        return _svg((0.0, 0.0, 240.0, 56.0), "Schema diagram: no tables", [_NO_TABLES])
    edges = _edges(schema.get("edges") or (), tables)
    shapes = [_shape(table) for table in tables]
    placed = layout([(shape.width, shape.height) for shape in shapes], [e.link for e in edges])
    drawn = [_draw_edge(edge, route) for edge, route in zip(edges, placed.routes, strict=True)]
    for table, shape, box in zip(tables, shapes, placed.boxes, strict=True):
        drawn.append(_draw_table(table, shape, box))
    return _svg(_bounds(shapes, placed), _label(tables, edges), drawn)


def _visible(text: object) -> str:
    """A name as the diagram shows it, with nothing that would make the SVG ill-formed XML."""
    shown = _CONTROL.sub(lambda match: control_escape(match[0]), str(text))
    return _NOT_XML.sub("\ufffd", shown)


def _table(table: dict[str, Any]) -> _Table:
    columns = tuple(
        _Column(
            _visible(column["name"]),
            _short_type(_visible(column.get("type") or "")),
            tuple(mark for mark in ("PK", "FK") if column.get(mark.lower())),
        )
        for column in table.get("columns") or ()
    )
    return _Table(_visible(table["name"]), columns)


def _short_type(name: str) -> str:
    for long, short in _SHORT_TYPES:
        name = long.sub(short, name, count=1)
    return name


def _edges(edges: Iterable[dict[str, Any]], tables: list[_Table]) -> list[_Edge]:
    """The foreign keys whose both tables are drawn, in the order given (the run sorts them)."""
    index: dict[str, int] = {}
    for position, table in enumerate(tables):
        index.setdefault(table.name, position)
    found = []
    for edge in edges:
        child = index.get(_visible(edge["from_table"]))
        parent = index.get(_visible(edge["to_table"]))
        if child is None or parent is None:
            continue
        sources = [_visible(column) for column in edge.get("from_columns") or ()]
        targets = [_visible(column) for column in edge.get("to_columns") or ()]
        link = Link(child, _row_y(tables[child], sources), parent, _row_y(tables[parent], targets))
        source = f"{tables[child].name}.{','.join(sources)}"
        target = f"{tables[parent].name}.{','.join(targets)}"
        found.append(_Edge(_visible(edge.get("name") or ""), source, target, link))
    return found


def _shape(table: _Table) -> _Shape:
    """The box fits its title and its widest "marks  name  type" line, types in one column."""
    marks = max((len(" ".join(column.marks)) for column in table.columns), default=0)
    names = max((display_width(column.name) for column in table.columns), default=0)
    types = max((display_width(column.type) for column in table.columns), default=0)
    name_x = PAD + (marks * EM * MARK_FONT + EM * FONT if marks else 0.0)
    type_x = name_x + (names + 2) * EM * FONT
    lines = max(type_x + types * EM * FONT, PAD + len(NO_COLUMNS) * EM * FONT) + PAD
    title = 2 * PAD + display_width(table.name) * EM * TITLE_FONT
    rows = max(len(table.columns), 1)  # a table without columns says so on one row
    return _Shape(max(lines, title), HEAD + rows * ROW + BOTTOM, name_x, type_x)


def _row_y(table: _Table, columns: list[str]) -> float:
    """Where an edge meets a table: its first column's row (the title, should it be missing)."""
    names = [column.name for column in table.columns]
    if columns and columns[0] in names:
        return HEAD + ROW * names.index(columns[0]) + ROW / 2
    return HEAD / 2


def _baseline(row: int) -> float:
    # 0.35em below the row's middle centres lower-case and capitals in it.
    return HEAD + ROW * row + ROW / 2 + 0.35 * FONT


def _num(value: float) -> str:
    # One decimal, no trailing ".0", no "-0": the same text for the same number, every build.
    text = f"{value:.1f}".removesuffix(".0")
    return "0" if text == "-0" else text


def _tag(name: str, attributes: dict[str, Any], content: Markup | str | None = None) -> Markup:
    """An element with its attributes (numbers as _num writes them) and content. Every value
    and text goes through escape() (a Markup is kept as it is); names and keys are literals."""
    pairs = "".join(
        f' {key}="{escape(_num(value) if isinstance(value, float | int) else value)}"'
        for key, value in attributes.items()
    )
    # Plain strings, not Markup.format: its formatter made a diagram four times slower.
    closing = "/>" if content is None else f">{escape(content)}</{name}>"
    return Markup(f"<{name}{pairs}{closing}")  # noqa: S704 (its pieces are escaped or literals)


def _on_lines(parts: list[Markup]) -> Markup:
    return Markup("\n").join(["", *parts, ""])  # one element a line: golden diffs read well


def _draw_table(table: _Table, shape: _Shape, box: Point) -> Markup:
    w, r, head = _num(shape.width), _num(RADIUS), _num(HEAD)
    # The title band: the box's rounded top corners, square at the bottom.
    band = f"M0 {head}V{r}A{r} {r} 0 0 1 {r} 0H{_num(shape.width - RADIUS)}A{r} {r} 0 0 1 {w} {r}"
    parts = [
        _tag("rect", {"class": "erd-box", "width": shape.width, "height": shape.height, **_BOX}),
        _tag("path", {"class": "erd-head", "d": f"{band}V{head}Z", "fill-opacity": ".1"}),
        _tag(
            "text",
            {"class": "erd-title", "x": PAD, "y": HEAD / 2 + 0.35 * TITLE_FONT, **_TITLE},
            table.name,
        ),
    ]
    parts += [_draw_column(column, row, shape) for row, column in enumerate(table.columns)]
    if not table.columns:
        parts.append(_tag("text", {"class": "erd-type", "x": PAD, "y": _baseline(0)}, NO_COLUMNS))
    at = f"translate({_num(box[0])} {_num(box[1])})"
    return _tag(
        "g", {"class": "erd-table", "data-table": table.name, "transform": at}, _on_lines(parts)
    )


def _draw_column(column: _Column, row: int, shape: _Shape) -> Markup:
    spans = [
        _tag(
            "tspan",
            {"class": f"erd-{mark.lower()}-mark", "x": PAD + 3 * EM * MARK_FONT * i, **_MARK},
            mark,
        )
        for i, mark in enumerate(column.marks)
    ]
    spans.append(_tag("tspan", {"x": shape.name_x}, column.name))
    spans.append(_tag("tspan", {"class": "erd-type", "x": shape.type_x}, column.type))
    classes = " ".join(["erd-column", *(f"erd-{mark.lower()}" for mark in column.marks)])
    hooks = {"class": classes, "data-column": column.name, "y": _baseline(row)}
    return _tag("text", hooks, Markup("").join(spans))


def _draw_edge(edge: _Edge, route: Route) -> Markup:
    start = route.child_end
    path = f"M{_num(start.x)} {_num(start.y)}" + "".join(
        ("L" if len(segment) == 1 else "C") + " ".join(f"{_num(x)} {_num(y)}" for x, y in segment)
        for segment in route.segments
    )
    parts = [
        _tag("title", {}, edge.name),
        _tag("path", {"class": "erd-line", "d": path}),
        _tag("path", {"class": "erd-many", "d": _crows_foot(route.child_end)}),
        _tag("path", {"class": "erd-one", "d": _bar(route.parent_end)}),
    ]
    hooks = {"class": "erd-edge", "data-from": edge.source, "data-to": edge.target}
    return _tag("g", {**hooks, **_LINE}, _on_lines(parts))


def _crows_foot(end: End) -> str:
    """Many: three prongs from a point beside the box to its side (the line is the middle one)."""
    x, tip, y = _num(end.x), _num(end.x + end.direction * MANY), end.y
    return f"M{x} {_num(y - PRONG)}L{tip} {_num(y)}L{x} {_num(y + PRONG)}"


def _bar(end: End) -> str:
    """One: a bar across the line just beside the box."""
    x = _num(end.x + end.direction * ONE)
    return f"M{x} {_num(end.y - PRONG)}V{_num(end.y + PRONG)}"


def _bounds(shapes: list[_Shape], placed: Layout) -> tuple[float, float, float, float]:
    """The whole-unit rectangle around every box and every path's points (a curve stays within
    its control points), with a margin for strokes: left, top, right, bottom."""
    xs, ys = [], []
    for shape, (x, y) in zip(shapes, placed.boxes, strict=True):
        xs += [x, x + shape.width]
        ys += [y, y + shape.height]
    for route in placed.routes:
        points = [(route.child_end.x, route.child_end.y)]
        points += [point for segment in route.segments for point in segment]
        xs += [x for x, _ in points]
        ys += [y for _, y in points]
    low = [float(int(min(values) - MARGIN) - 1) for values in (xs, ys)]
    high = [float(int(max(values) + MARGIN) + 1) for values in (xs, ys)]
    return low[0], low[1], high[0], high[1]


def _label(tables: list[_Table], edges: list[_Edge]) -> str:
    """What a screen reader says: the tables, then each foreign key."""
    label = "Schema diagram: " + ", ".join(table.name for table in tables)
    keys = ", ".join(f"{edge.source} → {edge.target}" for edge in edges)
    return label + (f"; foreign key{'s' * (len(edges) > 1)} {keys}" if edges else "")


_NO_TABLES = _tag(
    "text", {"class": "erd-empty", "x": 120, "y": 34, "text-anchor": "middle"}, "no tables"
)


def _svg(bounds: tuple[float, float, float, float], label: str, drawn: list[Markup]) -> Markup:
    # Drawn 1:1 (width and height are the viewBox's); the stylesheet scales a big one down.
    left, top, right, bottom = bounds
    width, height = right - left, bottom - top
    view = " ".join(_num(value) for value in (left, top, width, height))
    size = {"viewBox": view, "width": width, "height": height}
    hooks = {**_SVG, **size, "role": "img", "aria-label": label, **_LOOK}
    return _tag("svg", hooks, _on_lines(drawn))
