"""The plan picture (format=plan): golden HTML for real EXPLAIN (FORMAT JSON) output, SPEC's hooks,
labels as EXPLAIN's text format writes them, folding of big plans, escaping, and plan shapes.

Golden files live in tests/golden/: plan-NAME.json is what EXPLAIN (…, FORMAT JSON) returned
(PostgreSQL 15.20 and 18.6, see each case below), plan-NAME.html the HTML it renders to. After a
deliberate change, regenerate them with

    PGSLIDES_REGENERATE_GOLDEN=1 pytest tests/test_plan.py

and read the diff (`git diff tests/golden`) before committing it.
"""

from __future__ import annotations

import copy
import json
import xml.etree.ElementTree as ET
from typing import Any

import pytest

from goldens import GOLDEN, assert_golden
from pgslides.render.plan import LINES, PlanError, plan_shape, render_plan
from pgslides.run.rows import cut_text

# name → what it is. All from one scratch schema (customers, orders, order_items, …; `events` with
# statistics from 1,000 of its 60,000 rows), EXPLAINed by psql on PostgreSQL 15.20 or 18.6.
PLANS = {
    "seq-scan": "15, no ANALYZE: a Seq Scan with a filter",
    "index-scan": "15, no ANALYZE: Limit over an Index Scan Backward",
    "hash-join-pg15": "15, ANALYZE: Hash Join, integer Actual Rows, no buffers",
    "hash-join-pg15-rerun": "15, ANALYZE: the same statement again, other timings",
    "hash-join-pg18": "18, ANALYZE, BUFFERS: Actual Rows 1000.00, Disabled, buffers",
    "misestimate": "18, ANALYZE: stale statistics, 622 rows expected, 59,010 came",
    "loops": "18, ANALYZE: Nested Loop, 0.33 rows × 15 loops, Bitmap scans",
    "costs-off": "18, ANALYZE, COSTS OFF, TIMING OFF: no Plan Rows, no times",
    "verbose": "18, VERBOSE, SETTINGS: schema-qualified relation, Output lists",
    "40-nodes": "18, ANALYZE: 40 nodes, UNION ALL, SubPlan, Gather, Partial/Finalize",
}


def plan_text(name: str) -> str:
    return (GOLDEN / f"plan-{name}.json").read_text(encoding="utf-8")


def plan_nodes(text: str) -> list[dict[str, Any]]:
    """Every node of the JSON plan, in pre-order (which is the HTML's order)."""

    def walk(node: dict[str, Any]) -> list[dict[str, Any]]:
        return [node, *(below for child in node.get("Plans", []) for below in walk(child))]

    return [node for query in json.loads(text) for node in walk(query["Plan"])]


def parsed(text: str) -> ET.Element:
    """The rendered plan as XML: it must be well-formed for that to work at all."""
    return ET.fromstring(str(render_plan(text)))  # noqa: S314 - our own output, parsed to prove it well-formed


def with_class(root: ET.Element, name: str) -> list[ET.Element]:
    return [element for element in root.iter() if name in element.get("class", "").split()]


def one_node(**fields: Any) -> str:
    return json.dumps([{"Plan": {"Node Type": "Seq Scan", "Plan Rows": 10, **fields}}])


@pytest.mark.parametrize("name", PLANS)
def test_golden_html(name: str):
    actual = str(render_plan(plan_text(name))) + "\n"
    expected_file = GOLDEN / f"plan-{name}.html"
    assert_golden(expected_file, actual)


def test_every_golden_input_is_listed():
    assert sorted(path.stem.removeprefix("plan-") for path in GOLDEN.glob("plan-*.json")) == sorted(
        PLANS
    )


@pytest.mark.parametrize("name", PLANS)
def test_every_node_is_a_plan_node_with_the_spec_hooks(name: str):
    text = plan_text(name)
    root = parsed(text)
    assert root.tag == "div"
    assert root.get("class") == "sql-plan"
    drawn = with_class(root, "plan-node")
    nodes = plan_nodes(text)
    assert len(drawn) == len(nodes)
    for element, node in zip(drawn, nodes, strict=True):
        assert element.get("data-node-type") == node["Node Type"]
        if "Plan Rows" in node:
            assert element.get("data-rows-estimated") == str(node["Plan Rows"])
        else:
            assert element.get("data-rows-estimated") is None  # COSTS OFF: nothing to say
        if "Actual Rows" in node:
            assert float(element.get("data-rows-actual", "nan")) == node["Actual Rows"]
        else:
            assert element.get("data-rows-actual") is None


@pytest.mark.parametrize("name", ["seq-scan", "index-scan", "verbose"])
def test_no_actual_rows_and_no_time_without_analyze(name: str):
    html = str(render_plan(plan_text(name)))
    assert "data-rows-actual" not in html
    assert "plan-share" not in html
    assert "Execution" not in html


def test_actual_rows_are_the_same_text_on_postgresql_15_and_18():
    pg15, pg18 = parsed(plan_text("hash-join-pg15")), parsed(plan_text("hash-join-pg18"))
    assert "1000.00" in plan_text("hash-join-pg18")
    actual = [[node.get("data-rows-actual") for node in with_class(root, "plan-node")] for root in (pg15, pg18)]  # fmt: skip
    assert actual[0] == actual[1] == ["1000", "25000", "400", "400"]


def test_fractional_actual_rows_keep_their_decimals_and_show_their_loops():
    root = parsed(plan_text("loops"))
    scan = with_class(root, "plan-node")[-1]
    assert scan.get("data-node-type") == "Index Scan"
    assert scan.get("data-rows-actual") == "0.33"
    assert "".join(with_class(scan, "plan-rows")[0].itertext()) == "1 → 0.33 rows × 15 loops"


def test_labels_read_as_explains_text_format():
    ops = {"".join(e.itertext()) for e in with_class(parsed(plan_text("40-nodes")), "plan-label")}
    for label in (
        "Hash Anti Join",
        "Partial HashAggregate",
        "Finalize HashAggregate",
        "Parallel Seq Scan on order_items oi_1",
        "Subquery Scan on *SELECT* 3",
        "SubPlan 1 Aggregate",
        "Bitmap Index Scan on orders_customer_id_idx",
        "Index Scan using payments_order_id_idx on payments pm",
    ):
        assert label in ops, sorted(ops)
    backward = with_class(parsed(plan_text("index-scan")), "plan-label")[1]
    assert (
        "".join(backward.itertext()) == "Index Scan Backward using orders_ordered_at_idx on orders"
    )
    verbose = with_class(parsed(plan_text("verbose")), "plan-label")[1]
    assert "".join(verbose.itertext()) == "Index Scan using customers_pkey on public.customers c"


@pytest.mark.parametrize(
    ("fields", "label"),
    [
        ({"Node Type": "Nested Loop", "Join Type": "Left"}, "Nested Loop Left Join"),
        ({"Node Type": "Nested Loop", "Join Type": "Inner"}, "Nested Loop"),
        ({"Node Type": "Merge Join", "Join Type": "Full"}, "Merge Full Join"),
        ({"Node Type": "Hash Join", "Join Type": "Right Anti"}, "Hash Right Anti Join"),
        ({"Node Type": "Aggregate", "Strategy": "Sorted"}, "GroupAggregate"),
        ({"Node Type": "Aggregate", "Strategy": "Plain"}, "Aggregate"),
        ({"Node Type": "SetOp", "Strategy": "Hashed"}, "HashSetOp"),
        ({"Node Type": "ModifyTable", "Operation": "Insert", "Relation Name": "t"}, "Insert on t"),
        (
            {"Node Type": "Index Only Scan", "Scan Direction": "Backward", "Index Name": "i"},
            "Index Only Scan Backward using i",
        ),
        ({"Node Type": "CTE Scan", "CTE Name": "recent", "Alias": "r"}, "CTE Scan on recent r"),
        (
            {
                "Node Type": "Function Scan",
                "Function Name": "generate_series",
                "Alias": "generate_series",
            },
            "Function Scan on generate_series",
        ),
    ],
)
def test_a_label_for_each_kind_of_node(fields: dict[str, Any], label: str):
    labels = with_class(parsed(one_node(**fields)), "plan-label")
    assert "".join(labels[0].itertext()) == label


def test_a_misestimate_is_marked_under_and_over():
    root = parsed(plan_text("misestimate"))
    marked = {
        node.get("data-node-type"): "".join(
            with_class(node, "plan-misestimate-label")[0].itertext()
        )
        for node in with_class(root, "plan-misestimate")
    }
    assert marked == {"Merge Join": "×95 under", "Sort": "×31 under", "Seq Scan": "×95 under"}
    over = parsed(one_node(**{"Plan Rows": 5000, "Actual Rows": 12.0, "Actual Loops": 3}))
    assert "".join(with_class(over, "plan-misestimate-label")[0].itertext()) == "×417 over"
    # Below one row a guess is as good as any: 1 expected, 0.33 came is no misestimate.
    assert with_class(parsed(plan_text("loops")), "plan-misestimate") == []


def test_a_node_never_executed_says_so():
    root = parsed(one_node(**{"Actual Rows": 0, "Actual Loops": 0, "Actual Total Time": 0.0}))
    assert "".join(with_class(root, "plan-rows")[0].itertext()) == "10 rows, never executed"
    assert with_class(root, "plan-misestimate") == []


def test_time_shares_are_exclusive_times_and_the_heaviest_is_emphasised():
    root = parsed(plan_text("hash-join-pg15"))
    shares = {
        f"{node.get('data-node-type')} {index}": "".join(
            with_class(node, "plan-share")[0].itertext()
        )
        for index, node in enumerate(with_class(root, "plan-node"))
    }
    # Hash Join 10.055 ms in all, Seq Scan 7.344, Hash 1.297 around a Seq Scan of 1.241 ms.
    assert shares == {
        "Hash Join 0": "14%",
        "Seq Scan 1": "73%",
        "Hash 2": "1%",
        "Seq Scan 3": "12%",
    }
    heavy = with_class(root, "plan-heavy")
    assert [node.get("data-node-type") for node in heavy] == ["Seq Scan"]


def test_time_below_a_gather_is_shared_by_its_processes():
    # Gather: 190.8 ms; below it 2 loops (leader and 1 worker) of 184.2 ms each, side by side.
    # Counted as 368 ms, the Gather's own time would be below zero and come out as 0%.
    gather = next(
        node
        for node in with_class(parsed(plan_text("40-nodes")), "plan-node")
        if node.get("data-node-type") == "Gather"
    )
    assert "".join(with_class(gather, "plan-share")[0].itertext()) == "1%"


def test_without_timing_there_is_no_share_of_time():
    html = str(render_plan(plan_text("costs-off")))
    assert "plan-share" not in html
    assert "data-rows-estimated" not in html


def test_planning_and_execution_time_head_the_tree():
    head = with_class(parsed(plan_text("hash-join-pg18")), "plan-head")[0]
    assert head.text == "Planning 1.4 ms · Execution 12.9 ms"
    assert with_class(parsed(plan_text("seq-scan")), "plan-head") == []


def test_conditions_are_cut_to_a_line_and_whole_in_the_title():
    condition = "(" + " AND ".join(f"(column_{n} = {n})" for n in range(20)) + ")"
    root = parsed(one_node(Filter=condition, **{"Rows Removed by Filter": 1234}))
    cut = with_class(root, "plan-cond")[0]
    assert cut.get("title") == f"Filter: {condition}"
    assert cut.text is not None
    assert len(cut.text) == 91
    assert cut.text.endswith("…")
    assert "".join(with_class(root, "plan-facts")[0].itertext()) == "1,234 removed by filter"


def test_a_40_node_plan_shows_at_most_its_line_budget_and_holds_every_node():
    text = plan_text("40-nodes")
    root = parsed(text)
    folded = with_class(root, "plan-more")
    inside = sum(len(with_class(details, "plan-node")) for details in folded)
    open_nodes = len(with_class(root, "plan-node")) - inside
    assert len(with_class(root, "plan-node")) == len(plan_nodes(text)) == 40
    assert open_nodes + len(folded) <= LINES <= 15
    assert open_nodes >= 8
    assert all(details.tag == "details" for details in folded)
    summaries = ["".join(details.find("summary").itertext()) for details in folded]  # type: ignore[union-attr]
    assert (
        summaries[0] == "+ 6 nodes: Seq Scan ×2, Hash ×2, Hash Join, Index Scan (28% of the time)"
    )
    counted = sum(int(summary.split()[1]) for summary in summaries)
    assert counted == inside


def test_a_small_plan_is_never_folded():
    for name in PLANS:
        if len(plan_nodes(plan_text(name))) <= LINES:
            assert "plan-more" not in str(render_plan(plan_text(name))), name


def test_hostile_names_and_conditions_are_escaped():
    hostile = json.loads(plan_text("hash-join-pg15"))
    scan = hostile[0]["Plan"]["Plans"][0]
    scan.update(
        {
            "Relation Name": "<script>alert(1)</script>",
            "Alias": 'a"b',
            "Index Name": "x&y",
            "Filter": "(note = ']]>' AND x = '</div>')",
            "Subplan Name": "<b>SubPlan</b>",
        }
    )
    hostile[0]["Plan"]["Node Type"] = 'Hash Join"><img src=x onerror=alert(1)>'
    html = str(render_plan(json.dumps(hostile)))
    assert "<script" not in html
    assert "<img" not in html
    assert "<b>" not in html
    root = ET.fromstring(html)  # noqa: S314 - our own output: well-formed, nothing hostile became markup
    nodes = with_class(root, "plan-node")
    assert nodes[0].get("data-node-type") == 'Hash Join"><img src=x onerror=alert(1)>'
    label = "".join(with_class(nodes[1], "plan-label")[0].itertext())
    assert label == '<b>SubPlan</b> Seq Scan using x&y on <script>alert(1)</script> a"b'
    assert (
        with_class(nodes[1], "plan-cond")[0].get("title")
        == "Filter: (note = ']]>' AND x = '</div>')"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not json", "the plan is not valid JSON (Expecting value: line 1 column 1 (char 0))"),
        ('[{"Plan": ', "the plan is not valid JSON (Expecting value: line 1 column 10 (char 9))"),
        ("[]", 'the value is not EXPLAIN\'s JSON plan (a list of objects with a "Plan")'),
        (
            '{"Plan": {"Node Type": "Result"}}',
            'the value is not EXPLAIN\'s JSON plan (a list of objects with a "Plan")',
        ),
        (
            '[{"Query": 1}]',
            'the value is not EXPLAIN\'s JSON plan (a list of objects with a "Plan")',
        ),
        (
            '[{"Plan": {"Plans": []}}]',
            'a node of the plan is not an object with a "Node Type" and its "Plans"',
        ),
        (
            '[{"Plan": {"Node Type": "Append", "Plans": {}}}]',
            'a node of the plan is not an object with a "Node Type" and its "Plans"',
        ),
        (
            '[{"Plan": {"Node Type": "Append", "Plans": [3]}}]',
            'a node of the plan is not an object with a "Node Type" and its "Plans"',
        ),
    ],
)
def test_what_is_not_a_plan_is_a_plan_error(text: str, message: str):
    for function in (render_plan, plan_shape):
        with pytest.raises(PlanError) as raised:
            function(text)
        assert str(raised.value) == message


def test_a_plan_the_executor_cut_is_a_plan_error():
    text = plan_text("40-nodes")
    cut = cut_text(text)
    assert cut != text
    with pytest.raises(PlanError) as raised:
        render_plan(cut)
    assert str(raised.value) == (
        f"the plan was cut short ({len(text) - 2000} more characters), so it cannot be drawn"
    )


def test_a_plan_too_deep_to_draw_is_a_plan_error():
    node: dict[str, Any] = {"Node Type": "Result"}
    for _ in range(150):
        node = {"Node Type": "Subquery Scan", "Plans": [node]}
    with pytest.raises(PlanError, match="more than 100 nodes deep"):
        render_plan(json.dumps([{"Plan": node}]))


def test_two_queries_of_one_explain_are_two_trees():
    query = json.loads(plan_text("seq-scan"))[0]
    root = parsed(json.dumps([query, query]))
    assert len(with_class(root, "plan-tree")) == 2
    assert len(with_class(root, "plan-node")) == 2


def test_the_shape_of_a_plan_leaves_out_what_a_run_measured():
    shape = plan_shape(plan_text("hash-join-pg15"))
    assert hash(shape) == hash(plan_shape(plan_text("hash-join-pg15")))
    assert plan_text("hash-join-pg15") != plan_text("hash-join-pg15-rerun")  # other timings
    assert plan_shape(plan_text("hash-join-pg15-rerun")) == shape
    # PostgreSQL 18: other estimates, Actual Rows 1000.00, buffers, "Disabled": the same plan.
    assert plan_shape(plan_text("hash-join-pg18")) == shape
    assert "Hash Join" in repr(shape)
    assert "orders" in repr(shape)
    for word in ("Cost", "Time", "Actual", "Rows", "Blocks", "Loops"):
        assert word not in repr(shape)


def test_the_shape_of_a_plan_changes_with_its_nodes():
    plan = json.loads(plan_text("hash-join-pg15"))
    shape = plan_shape(json.dumps(plan))
    changes = [
        ("Node Type", "Index Scan"),
        ("Relation Name", "customers"),
        ("Alias", "x"),
        ("Parent Relationship", "Inner"),
    ]
    for key, value in changes:
        changed = copy.deepcopy(plan)
        changed[0]["Plan"]["Plans"][0][key] = value
        assert plan_shape(json.dumps(changed)) != shape, key
    swapped = copy.deepcopy(plan)
    swapped[0]["Plan"]["Join Type"] = "Left"
    assert plan_shape(json.dumps(swapped)) != shape
    fewer = copy.deepcopy(plan)
    del fewer[0]["Plan"]["Plans"][1]["Plans"]
    assert plan_shape(json.dumps(fewer)) != shape
