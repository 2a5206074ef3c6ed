"""Schema diagrams (render/erd.py, render/erdlayout.py): golden SVGs, the SPEC's hooks, edges
that never enter a box, escaping, and the same bytes on every run. No database: the inputs are
what the run stage's catalog query returns, as JSON.

Golden files live in tests/golden/: erd-NAME.json is the input, erd-NAME.svg the diagram. After
a deliberate change, regenerate them with

    PGSLIDES_REGENERATE_GOLDEN=1 pytest tests/test_erd.py

and look at the new SVGs (open them in a browser) before committing them.
"""

from __future__ import annotations

import copy
import json
import os
import random
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from typing import Any

import pytest

from goldens import GOLDEN, assert_golden
from pgslides.render.erd import render_erd

CASES = ["users-comments", "six-tables", "self-reference"]
SVG = "{http://www.w3.org/2000/svg}"
Box = tuple[float, float, float, float]  # left, top, right, bottom


def schema_of(name: str) -> dict[str, Any]:
    return json.loads((GOLDEN / f"erd-{name}.json").read_text(encoding="utf-8"))


def xml(text: str) -> ET.Element:
    return ET.fromstring(text)  # noqa: S314 (our own output, or a literal: nothing untrusted)


def parsed(schema: dict[str, Any]) -> ET.Element:
    return xml(str(render_erd(schema)))


def attr(element: ET.Element | None, name: str) -> str:
    """An attribute that must be there."""
    assert element is not None
    value = element.get(name)
    assert value is not None, f"no {name} on {element.tag}"
    return value


def text_of(element: ET.Element | None) -> str:
    assert element is not None
    return "".join(element.itertext())


def path_of(g: ET.Element, kind: str) -> list[tuple[float, float]]:
    """The sampled points of an edge's path of this class (erd-line, erd-many, erd-one)."""
    return path_points(attr(g.find(f"{SVG}path[@class='{kind}']"), "d"))


def column(name: str, type_: str = "integer", *, pk: bool = False, fk: bool = False):
    return {"name": name, "type": type_, "pk": pk, "fk": fk, "nullable": not pk}


def edge(name: str, source: str, columns: list[str], target: str, targets: list[str]):
    return {
        "name": name,
        "from_table": source,
        "from_columns": columns,
        "to_table": target,
        "to_columns": targets,
    }


def tables_of(svg: ET.Element) -> list[ET.Element]:
    return [g for g in svg.iter(f"{SVG}g") if g.get("class") == "erd-table"]


def edges_of(svg: ET.Element) -> list[ET.Element]:
    return [g for g in svg.iter(f"{SVG}g") if g.get("class") == "erd-edge"]


def boxes_of(svg: ET.Element) -> dict[str, Box]:
    boxes = {}
    for table in tables_of(svg):
        x, y = map(float, re.findall(r"-?[\d.]+", attr(table, "transform")))
        rect = table.find(f"{SVG}rect")
        width, height = float(attr(rect, "width")), float(attr(rect, "height"))
        boxes[attr(table, "data-table")] = (x, y, x + width, y + height)
    return boxes


def path_points(d: str) -> list[tuple[float, float]]:
    """Points along an SVG path of absolute M, L, V and C commands: lines every few units,
    curves at 60 steps, so a path through a box cannot slip between two samples."""
    tokens = re.findall(r"[MLVC]|-?\d+(?:\.\d+)?", d)
    points: list[tuple[float, float]] = []
    at = (0.0, 0.0)
    i = 0
    while i < len(tokens):
        command = tokens[i]
        if command == "M":
            at = (float(tokens[i + 1]), float(tokens[i + 2]))
            points.append(at)
            i += 3
        elif command in "LV":
            end = (
                (float(tokens[i + 1]), float(tokens[i + 2]))
                if command == "L"
                else (at[0], float(tokens[i + 1]))
            )
            steps = max(1, int(max(abs(end[0] - at[0]), abs(end[1] - at[1])) / 2))
            points += [
                (at[0] + (end[0] - at[0]) * k / steps, at[1] + (end[1] - at[1]) * k / steps)
                for k in range(1, steps + 1)
            ]
            at = end
            i += 3 if command == "L" else 2
        else:
            c1, c2, end = ((float(tokens[i + k]), float(tokens[i + k + 1])) for k in (1, 3, 5))
            for k in range(1, 61):
                t = k / 60
                a, b, c, e = (1 - t) ** 3, 3 * (1 - t) ** 2 * t, 3 * (1 - t) * t**2, t**3
                points.append(
                    (
                        a * at[0] + b * c1[0] + c * c2[0] + e * end[0],
                        a * at[1] + b * c1[1] + c * c2[1] + e * end[1],
                    )
                )
            at = end
            i += 7
    return points


def inside(point: tuple[float, float], box: Box, margin: float = 1.0) -> bool:
    x, y = point
    return box[0] + margin < x < box[2] - margin and box[1] + margin < y < box[3] - margin


def assert_no_edge_enters_a_box(svg: ET.Element) -> None:
    """Every edge, its crow's foot and its bar stay out of every box: the ones it does not
    connect (the SPEC's rule) and its own two as well (it only touches their sides)."""
    boxes = boxes_of(svg)
    for g in edges_of(svg):
        for path in g.iter(f"{SVG}path"):
            for point in path_points(attr(path, "d")):
                for name, box in boxes.items():
                    assert not inside(point, box), (
                        f"{g.get('data-from')} → {g.get('data-to')} ({path.get('class')}) "
                        f"enters {name} at {point}"
                    )


def assert_no_boxes_overlap(svg: ET.Element) -> None:
    boxes = sorted(boxes_of(svg).items())
    for i, (name, a) in enumerate(boxes):
        for other, b in boxes[i + 1 :]:
            apart = a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1]
            assert apart, f"{name} overlaps {other}"


@pytest.mark.parametrize("name", CASES)
def test_golden_svg(name: str):
    actual = str(render_erd(schema_of(name))) + "\n"
    expected_file = GOLDEN / f"erd-{name}.svg"
    assert_golden(expected_file, actual)


def test_hooks_tables_columns_and_marks():
    schema = schema_of("six-tables")
    svg = parsed(schema)
    assert svg.tag == f"{SVG}svg"
    assert svg.get("class") == "sql-erd"
    assert svg.get("role") == "img"
    assert attr(svg, "aria-label").startswith("Schema diagram: users, posts, revisions,")
    drawn = tables_of(svg)
    assert [g.get("data-table") for g in drawn] == [t["name"] for t in schema["tables"]]
    for table, g in zip(schema["tables"], drawn, strict=True):
        rows = [text for text in g.iter(f"{SVG}text") if "erd-column" in attr(text, "class")]
        # attnum order, primary-key columns not moved first
        assert [row.get("data-column") for row in rows] == [c["name"] for c in table["columns"]]
        for row, col in zip(rows, table["columns"], strict=True):
            marks = [span.text for span in row if span.get("class", "").endswith("-mark")]
            assert marks == [m for m in ("PK", "FK") if col[m.lower()]], (table["name"], col)
    revisions = next(g for g in drawn if g.get("data-table") == "revisions")
    first = next(t for t in revisions.iter(f"{SVG}text") if t.get("data-column") == "post_id")
    assert first.get("class") == "erd-column erd-pk erd-fk"
    assert "".join(first.itertext()) == "PKFKpost_idinteger"


def test_hooks_edges_from_and_to():
    svg = parsed(schema_of("six-tables"))
    assert [(g.get("data-from"), g.get("data-to")) for g in edges_of(svg)] == [
        ("comments.author_id", "users.id"),
        ("comments.post_id,revision", "revisions.post_id,number"),  # a composite key
        ("post_tags.post_id", "posts.id"),
        ("posts.author_id", "users.id"),
        ("revisions.edited_by", "users.id"),
        ("revisions.post_id", "posts.id"),
    ]
    for g in edges_of(svg):
        classes = [path.get("class") for path in g.iter(f"{SVG}path")]
        assert classes == ["erd-line", "erd-many", "erd-one"]
        assert text_of(g.find(f"{SVG}title")).endswith("_fkey")  # the constraint's name


def row_middle(svg: ET.Element, table: str, column_name: str) -> float:
    box = boxes_of(svg)[table]
    g = next(g for g in tables_of(svg) if g.get("data-table") == table)
    text = next(t for t in g.iter(f"{SVG}text") if t.get("data-column") == column_name)
    return box[1] + float(attr(text, "y")) - 0.35 * 18  # the baseline sits 0.35em below it


@pytest.mark.parametrize("name", CASES)
def test_edges_run_from_the_referencing_row_to_the_referenced_row(name: str):
    schema = schema_of(name)
    svg = parsed(schema)
    boxes = boxes_of(svg)
    for fk, g in zip(schema["edges"], edges_of(svg), strict=True):
        points = path_of(g, "erd-line")
        (x1, y1), (x2, y2) = points[0], points[-1]
        child, parent = boxes[fk["from_table"]], boxes[fk["to_table"]]
        assert min(abs(x1 - child[0]), abs(x1 - child[2])) < 0.1  # on one of its sides
        assert abs(y1 - row_middle(svg, fk["from_table"], fk["from_columns"][0])) < 0.1
        assert min(abs(x2 - parent[0]), abs(x2 - parent[2])) < 0.1
        assert abs(y2 - row_middle(svg, fk["to_table"], fk["to_columns"][0])) < 0.1
        # The crow's foot (many) at the referencing end, the bar (one) at the referenced end.
        many, one = path_of(g, "erd-many"), path_of(g, "erd-one")
        assert all(abs(x - x1) <= 16 and abs(y - y1) <= 9 for x, y in many)
        assert all(abs(x - x2) <= 12 and abs(y - y2) <= 9 for x, y in one)


def test_self_reference_is_a_loop_beside_its_table():
    svg = parsed(schema_of("self-reference"))
    loop = next(g for g in edges_of(svg) if g.get("data-from") == "employees.manager_id")
    assert loop.get("data-to") == "employees.id"
    left, _, right, _ = boxes_of(svg)["employees"]
    points = path_of(loop, "erd-line")
    assert all(x >= right for x, _ in points) or all(x <= left for x, _ in points)
    assert max(min(abs(x - left), abs(x - right)) for x, _ in points) > 30  # a loop, not a stub


@pytest.mark.parametrize("name", CASES)
def test_no_edge_enters_a_box_and_no_boxes_overlap(name: str):
    svg = parsed(schema_of(name))
    assert_no_edge_enters_a_box(svg)
    assert_no_boxes_overlap(svg)


def test_the_box_check_catches_an_edge_through_a_box():
    """The check above can fail: a straight line through a box it does not connect."""
    svg = xml(
        f'<svg xmlns="{SVG[1:-1]}"><g class="erd-table" data-table="t" transform="translate(100 0)">'
        '<rect width="50" height="80"/></g><g class="erd-edge" data-from="a.x" data-to="b.y">'
        '<path class="erd-line" d="M0 40C60 40 60 40 200 40"/></g></svg>'
    )
    with pytest.raises(AssertionError, match="enters t at"):
        assert_no_edge_enters_a_box(svg)


def random_schema(rng: random.Random) -> dict[str, Any]:
    """2–9 tables with random foreign keys: chains, cycles, long spans, self-references,
    composite keys, tables without keys and keys to tables that are not drawn."""
    count = rng.randint(2, 9)
    names = [f"t{i}_{'x' * rng.randint(0, 12)}" for i in range(count)]
    tables = [
        {
            "name": name,
            "columns": [
                column(f"c{j}", rng.choice(["int", "text", "timestamptz"]), pk=j == 0)
                for j in range(rng.randint(0, 7))
            ],
        }
        for name in names
    ]
    edges = []
    for k in range(rng.randint(0, 12)):
        source, target = rng.randrange(count), rng.randrange(count)
        columns = [c["name"] for c in tables[source]["columns"]] or ["missing"]
        targets = [c["name"] for c in tables[target]["columns"]] or ["missing"]
        width = rng.randint(1, 2)
        edges.append(
            edge(
                f"fk{k}",
                names[source],
                rng.sample(columns, min(width, len(columns))),
                names[target],
                targets[:width],
            )
        )
    edges.append(edge("gone", names[0], ["c0"], "not_drawn", ["id"]))
    edges.sort(key=lambda e: (e["from_table"], e["name"]))
    return {"tables": tables, "edges": edges}


@pytest.mark.parametrize("seed", range(300))
def test_random_schemas_keep_edges_out_of_boxes(seed: int):
    schema = random_schema(random.Random(seed))
    svg = parsed(schema)
    assert_no_edge_enters_a_box(svg)
    assert_no_boxes_overlap(svg)
    drawn = len(schema["edges"]) - 1  # the key to a table that is not drawn has no edge
    assert len(edges_of(svg)) == drawn
    assert len(tables_of(svg)) == len(schema["tables"])


def test_tables_without_keys_go_apart_from_the_rest():
    svg = parsed(schema_of("six-tables"))
    boxes = boxes_of(svg)
    keyless = boxes.pop("audit_log")
    # Below everything else (the rest is wide) or right of it, never among it.
    assert keyless[1] > max(b[3] for b in boxes.values()) or keyless[0] > max(
        b[2] for b in boxes.values()
    )


def test_only_keyless_tables_fill_rows_not_one_long_line():
    schema = {
        "tables": [
            {"name": f"table_{i}", "columns": [column("id", pk=True), column("label", "text")]}
            for i in range(8)
        ],
        "edges": [],
    }
    svg = parsed(schema)
    assert edges_of(svg) == []
    assert_no_boxes_overlap(svg)
    width, height = float(attr(svg, "width")), float(attr(svg, "height"))
    assert width <= 1200
    assert height < width


def test_a_foreign_key_to_a_table_not_drawn_keeps_its_mark_and_draws_no_edge():
    schema = {
        "tables": [
            {"name": "orders", "columns": [column("id", pk=True), column("customer_id", fk=True)]}
        ],
        "edges": [edge("orders_customer_id_fkey", "orders", ["customer_id"], "customers", ["id"])],
    }
    svg = parsed(schema)
    assert edges_of(svg) == []
    row = next(t for t in svg.iter(f"{SVG}text") if t.get("data-column") == "customer_id")
    assert "erd-fk" in attr(row, "class").split()


def test_a_table_without_columns_says_so_inside_its_box():
    svg = parsed({"tables": [{"name": "t", "columns": []}], "edges": []})
    (g,) = tables_of(svg)
    assert [text_of(t) for t in g.iter(f"{SVG}text")] == ["t", "(no columns)"]
    left, _, right, _ = boxes_of(svg)["t"]
    assert right - left >= 2 * 12 + len("(no columns)") * 0.6 * 18  # padding and the text


def test_cycles_and_several_self_references():
    schema = {
        "tables": [
            {
                "name": "a",
                "columns": [
                    column("id", pk=True),
                    column("b_id", fk=True),
                    column("up", fk=True),
                    column("left", fk=True),
                ],
            },
            {"name": "b", "columns": [column("id", pk=True), column("a_id", fk=True)]},
            {"name": "c", "columns": [column("id", pk=True, fk=True)]},
        ],
        "edges": [
            edge("a_b_id_fkey", "a", ["b_id"], "b", ["id"]),
            edge("a_left_fkey", "a", ["left"], "a", ["id"]),
            edge("a_up_fkey", "a", ["up"], "a", ["id"]),
            edge("b_a_id_fkey", "b", ["a_id"], "a", ["id"]),
            edge("c_id_fkey", "c", ["id"], "c", ["id"]),  # a column that references itself
        ],
    }
    svg = parsed(schema)
    assert len(edges_of(svg)) == 5
    assert_no_edge_enters_a_box(svg)
    assert_no_boxes_overlap(svg)
    loops = [g for g in edges_of(svg) if g.get("data-from") in ("a.left", "a.up")]
    assert [attr(g, "data-to") for g in loops] == ["a.id", "a.id"]
    reach = [max(x for x, _ in path_of(g, "erd-line")) for g in loops]
    assert reach[0] != reach[1]  # a second loop on one table goes round the first


HOSTILE = {
    "tables": [
        {
            "name": "<script>alert(1)</script>",
            "columns": [
                column('a"b', "x&y", pk=True),
                column("]]>", "<b>bold</b>"),
                column("tab\there\x01", "it's"),
            ],
        },
        {"name": "]]>", "columns": [column("ref", "integer", fk=True)]},
        {"name": "x&y", "columns": []},
    ],
    "edges": [edge("<evil>&", "]]>", ["ref"], "<script>alert(1)</script>", ['a"b'])],
}


def test_hostile_names_are_escaped_and_the_svg_stays_well_formed():
    text = str(render_erd(HOSTILE))
    svg = xml(text)  # well-formed XML, or this raises
    assert "<script" not in text
    assert "<b>" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert [g.get("data-table") for g in tables_of(svg)] == [
        "<script>alert(1)</script>",
        "]]>",
        "x&y",
    ]
    (g,) = edges_of(svg)
    assert (g.get("data-from"), g.get("data-to")) == ("]]>.ref", '<script>alert(1)</script>.a"b')
    assert text_of(g.find(f"{SVG}title")) == "<evil>&"
    columns = [t.get("data-column") for t in svg.iter(f"{SVG}text") if t.get("data-column")]
    # Control characters as psql writes them: XML allows none of them.
    assert columns == ['a"b', "]]>", "tab\\x09here\\x01", "ref"]
    types = [t.text for t in svg.iter(f"{SVG}tspan") if t.get("class") == "erd-type"]
    assert types[:3] == ["x&y", "<b>bold</b>", "it's"]
    assert attr(svg, "aria-label").startswith("Schema diagram: <script>alert(1)</script>, ]]>, x&y")


def test_long_type_names_use_postgresqls_short_spellings():
    names = {
        "timestamp with time zone": "timestamptz",
        "timestamp(3) with time zone": "timestamptz(3)",
        "timestamp without time zone[]": "timestamp[]",
        "time with time zone": "timetz",
        "time(0) without time zone": "time(0)",
        "character varying(40)": "varchar(40)",
        "character(1)": "char(1)",
        "bit varying(8)": "varbit(8)",
        "numeric(10,2)": "numeric(10,2)",
        '"character"': '"character"',  # a user's type with that name keeps it
        "public.timestamp with time zone": "public.timestamp with time zone",
    }
    schema = {
        "tables": [
            {"name": "t", "columns": [column(f"c{i}", long) for i, long in enumerate(names)]}
        ],
        "edges": [],
    }
    svg = parsed(schema)
    assert [t.text for t in svg.iter(f"{SVG}tspan") if t.get("class") == "erd-type"] == list(
        names.values()
    )


def test_no_tables_draws_a_small_svg_that_says_so():
    svg = parsed({"tables": [], "edges": []})
    assert svg.get("class") == "sql-erd"
    assert "".join(svg.itertext()).strip() == "no tables"
    assert float(attr(svg, "width")) <= 300
    assert parsed({}).get("aria-label") == "Schema diagram: no tables"


@pytest.mark.parametrize("name", ["users-comments", "self-reference"])
def test_small_schemas_are_drawn_at_a_readable_size(name: str):
    """Shown at most 1180×520 CSS px on the stage: a 2–4 table schema keeps its 18px column
    text at 16px or more there."""
    svg = parsed(schema_of(name))
    width, height = float(attr(svg, "width")), float(attr(svg, "height"))
    scale = min(1.0, 1180 / width, 520 / height)
    assert float(attr(svg, "font-size")) * scale >= 16
    assert [float(v) for v in attr(svg, "viewBox").split()][2:] == [width, height]  # drawn 1:1


def test_same_bytes_twice():
    for name in CASES:
        schema = schema_of(name)
        first = render_erd(copy.deepcopy(schema))
        assert render_erd(schema) == first


HASH_SCRIPT = """
import hashlib, json, sys
from pathlib import Path
from pgslides.render.erd import render_erd
for name in sys.argv[2:]:
    schema = json.loads((Path(sys.argv[1]) / f"erd-{name}.json").read_text())
    print(name, hashlib.sha256(str(render_erd(schema)).encode()).hexdigest())
"""


def test_same_layout_under_different_hash_seeds():
    """Sets and dicts order strings by a per-process hash: nothing drawn may depend on it."""
    outputs = []
    for seed in ("0", "1", "4242"):
        result = subprocess.run(
            [sys.executable, "-c", HASH_SCRIPT, str(GOLDEN), *CASES],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )
        outputs.append(result.stdout)
    assert outputs[0] == outputs[1] == outputs[2]
    assert len(outputs[0].splitlines()) == len(CASES)
