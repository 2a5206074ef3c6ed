"""An EXPLAIN (FORMAT JSON) plan as an indented HTML tree of its nodes, and its shape for drift.

Labels are EXPLAIN's text format's (explain.c's ExplainNode). A node's time is its exclusive
time as explain.depesz.com counts it. Costs are not shown: on a slide they distract.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup, escape

# A slide keeps about 380 of its 720 px for the plan, under its title and a 2–4 line EXPLAIN:
# 14 lines at the code size (19.6 px; a node's conditions share its line when they fit). So a
# bigger plan opens nodes from the root, the heaviest first, while its nodes and the summary
# lines of what stays folded (into `<details>`) take at most 14 lines.
LINES = 14
MISESTIMATE = 10  # estimated and actual rows this many times apart are marked
HEAVY_SHARE = 20  # a node with this share (%) of the time or more is emphasised
DETAIL_CHARS = 90  # conditions are cut here (CSS cuts again at the line's real width)
MAX_DEPTH = 100  # deeper than any plan a slide shows; keeps the recursion bounded

_CUT = re.compile(r"… \((\d+) more characters\)\Z")
_CONDITIONS = ("Hash Cond", "Merge Cond", "Join Filter", "Index Cond", "Recheck Cond",
               "TID Cond", "Filter", "One-Time Filter", "Sort Key", "Presorted Key",
               "Group Key", "Cache Key")  # fmt: skip
_FACTS = (("Rows Removed by Filter", "{} removed by filter"),
          ("Rows Removed by Join Filter", "{} removed by join filter"),
          ("Rows Removed by Index Recheck", "{} removed by recheck"),
          ("Heap Fetches", "{} heap fetches"), ("Workers Launched", "workers: {}"),
          ("Shared Hit Blocks", "buffers: hit {}"), ("Shared Read Blocks", "read {}"))  # fmt: skip
_TARGETS = ("Relation Name", "CTE Name", "Function Name", "Table Function Name", "Tuplestore Name")
# What a plan is, not what one run of it measured or cost: the drift check compares these.
_SHAPE = ("Node Type", "Strategy", "Partial Mode", "Operation", "Parallel Aware", "Join Type",
          "Scan Direction", "Schema", *_TARGETS, "Alias", "Index Name", "Subplan Name",
          "Parent Relationship")  # fmt: skip
_AGGREGATES = {"Sorted": "GroupAggregate", "Hashed": "HashAggregate", "Mixed": "MixedAggregate"}


class PlanError(ValueError):
    """The text is not EXPLAIN's JSON plan; the message says why in one sentence."""


@dataclass
class _Node:
    data: dict[str, Any]
    index: int  # in pre-order
    children: list[_Node] = field(default_factory=list)
    subtree: list[_Node] = field(default_factory=list)  # itself and all below, in pre-order
    inclusive: float | None = None  # ms, all its loops
    share: float | None = None  # % of the plan's time spent in the node itself
    weight: float = 0  # how much the subtree matters: its time, else its cost, else its size
    shown: bool = True  # open, not folded into a summary


def render_plan(plan_json: str) -> Markup:
    """`<div class="sql-plan">`: the times, then a tree of `plan-node`s, a big one partly folded."""
    queries = _load(plan_json)
    times = [
        f"{label} {_count(round(value, 1 if value >= 1 else 2))} ms"
        for query in queries
        for label in ("Planning", "Execution")
        if (value := _number(query, f"{label} Time")) is not None
    ]
    html = ['<div class="sql-plan">']
    html += [f'<div class="plan-head">{escape(" · ".join(times))}</div>'] if times else []
    for query in queries:
        nodes: list[_Node] = []
        root = _build(query["Plan"], nodes, 1, 0)
        _time_shares(nodes)
        _fold(root, nodes)
        html.append(f'<ul class="plan-tree">\n{_branch(root)}</ul>')
    return Markup("\n".join([*html, "</div>"]))  # noqa: S704 (every value in it is escaped)


def plan_shape(plan_json: str) -> tuple[Any, ...]:
    """What the plan is (node types, relations, indexes, joins, nesting), not its run's numbers."""
    return tuple(_shape(_build(query["Plan"], [], 1, 0)) for query in _load(plan_json))


def _shape(node: _Node) -> tuple[Any, ...]:
    facts = [(key, json.dumps(node.data[key])) for key in _SHAPE if key in node.data]
    return (*facts, tuple(_shape(child) for child in node.children))


def _load(plan_json: str) -> list[dict[str, Any]]:
    """The queries of EXPLAIN's JSON output: a list of objects, each with a "Plan"."""
    text = plan_json.rstrip()
    if cut := _CUT.search(text):
        raise PlanError(f"the plan was cut short ({cut[1]} more characters), so it cannot be drawn")
    try:
        value = json.loads(text)
    except (ValueError, RecursionError) as error:
        raise PlanError(f"the plan is not valid JSON ({error})") from None
    queries = value if isinstance(value, list) else []
    if not queries or not all(isinstance(query, dict) and "Plan" in query for query in queries):
        raise PlanError('the value is not EXPLAIN\'s JSON plan (a list of objects with a "Plan")')
    return queries


def _build(data: Any, nodes: list[_Node], processes: float, depth: int) -> _Node:
    """The node and its subtree, listed in pre-order; `processes` share the time below a Gather."""
    if depth > MAX_DEPTH:
        raise PlanError(f"the plan is more than {MAX_DEPTH} nodes deep, too deep to draw")
    node_like = isinstance(data, dict) and isinstance(data.get("Node Type"), str)
    if not node_like or not isinstance(data.get("Plans", []), list):
        raise PlanError('a node of the plan is not an object with a "Node Type" and its "Plans"')
    node = _Node(data, len(nodes))
    nodes.append(node)
    total, loops = _number(data, "Actual Total Time"), _number(data, "Actual Loops")
    if total is not None and loops is not None:
        node.inclusive = total * loops / processes
    if data["Node Type"] in ("Gather", "Gather Merge"):
        processes = (_number(data, "Workers Launched") or 0) + 1  # the leader works too
    node.children = [_build(child, nodes, processes, depth + 1) for child in data.get("Plans", [])]
    node.subtree = [node, *(below for child in node.children for below in child.subtree)]
    cost = _number(data, "Total Cost")
    fallback = cost if cost is not None else len(node.subtree)
    node.weight = node.inclusive if node.inclusive is not None else fallback
    return node


def _time_shares(nodes: list[_Node]) -> None:
    """Each node's share of the time: its own, less its children's (InitPlans, SubPlans too)."""
    if any(node.inclusive is None for node in nodes):
        return  # not ANALYZEd, or with TIMING OFF
    own = [max(0.0, (n.inclusive or 0) - sum(c.inclusive or 0 for c in n.children)) for n in nodes]
    total = sum(own) or 1.0
    for node, spent in zip(nodes, own, strict=True):
        node.share = 100 * spent / total


def _fold(root: _Node, nodes: list[_Node]) -> None:
    """Which nodes stay open: from the root, the heaviest child of an open node that fits next."""
    if len(nodes) <= LINES:
        return
    parent = {child.index: node for node in nodes for child in node.children}
    for node in root.subtree[1:]:
        node.shown = False
    lines, frontier = 1 + bool(root.children), list(root.children)
    while fits := [n for n in frontier if lines + _lines_added(n, parent[n.index]) <= LINES]:
        node = min(fits, key=lambda node: (-node.weight, node.index))
        node.shown, lines = True, lines + _lines_added(node, parent[node.index])
        frontier.remove(node)
        frontier.extend(node.children)


def _lines_added(node: _Node, parent: _Node) -> int:
    """Opening a folded node adds its own line and a summary of its children; the summary it was
    in goes, unless folded siblings stay on both sides (then one summary becomes two)."""
    at = parent.children.index(node)
    before = at > 0 and not parent.children[at - 1].shown
    after = at + 1 < len(parent.children) and not parent.children[at + 1].shown
    return bool(node.children) + before + after


def _branch(node: _Node, folded: bool = False) -> str:
    """`<li>`: the node, then its children, each run of folded ones in one `details`."""
    children, run = "", []
    for child in [*node.children, None]:
        if child is not None and not folded and not child.shown:
            run.append(child)
            continue
        children += _more(run) if run else ""
        children += _branch(child, folded) if child is not None else ""
        run = []
    return f"<li>{_row(node)}{f'<ul>{chr(10)}{children}</ul>' if children else ''}</li>\n"


def _more(run: list[_Node]) -> str:
    """A summary line of folded subtrees; all their nodes are in the HTML, shown when opened."""
    nodes = [node for top in run for node in top.subtree]
    ranked = Counter(_operation(node.data) for node in nodes).most_common()  # ties: plan order
    named = [name if count == 1 else f"{name} ×{count}" for name, count in ranked[:4]]
    summary = f"+ {len(nodes)} nodes: " + ", ".join(named) + (", …" if len(ranked) > 4 else "")
    if all(node.share is not None for node in nodes):
        summary += f" ({sum(node.share or 0 for node in nodes):.0f}% of the time)"
    inner = "".join(_branch(top, folded=True) for top in run)
    return (
        f'<li class="plan-more-item"><details class="plan-more"><summary>{escape(summary)}'
        f"</summary><ul>\n{inner}</ul></details></li>\n"
    )


def _row(node: _Node) -> str:
    """One node: label and conditions, then estimated → actual rows and its share of the time."""
    data = node.data
    estimated, actual = _number(data, "Plan Rows"), _number(data, "Actual Rows")
    attributes = f' data-node-type="{escape(data["Node Type"])}"'
    if estimated is not None:
        attributes += f' data-rows-estimated="{round(estimated)}"'
    if actual is not None:
        attributes += f' data-rows-actual="{_count(actual, "")}"'
    classes, stats = "plan-node", _rows(data, estimated, actual)
    if mark := _misestimate(estimated, actual, data):
        classes += " plan-misestimate"
        stats += f' <span class="plan-misestimate-label">{mark}</span>'
    if node.share is not None:
        classes += " plan-heavy" if node.share >= HEAVY_SHARE else ""
        share = f"{node.share:.0f}%"
        stats += f' <span class="plan-share" style="--plan-share: {share}">{share}</span>'
    what = f'<span class="plan-what">{_label(data)}{_detail(data)}</span>'
    return f'<div class="{classes}"{attributes}>{what}<span class="plan-stats">{stats}</span></div>'


def _label(data: dict[str, Any]) -> str:
    """The node as EXPLAIN's text format heads it: `Index Scan using i on t a`."""
    index, alias, schema = data.get("Index Name"), data.get("Alias"), data.get("Schema")
    target = next((data[key] for key in _TARGETS if data.get(key)), None)
    parts = (
        ("plan-subplan", "", data.get("Subplan Name")),
        ("plan-op", "", _operation(data)),
        ("plan-index", "on " if data["Node Type"] == "Bitmap Index Scan" else "using ", index),
        ("plan-relation", "on ", f"{schema}.{target}" if schema and target else target or alias),
        ("plan-alias", "", alias if target and alias != target else None),
    )
    shown = [
        f'{words}<span class="{name}">{escape(text)}</span>' for name, words, text in parts if text
    ]
    return f'<span class="plan-label">{" ".join(shown)}</span>'


def _operation(data: dict[str, Any]) -> str:
    """The node's kind as EXPLAIN's text format names it (explain.c's pname and what it adds)."""
    kind, strategy = data["Node Type"], str(data.get("Strategy"))
    if kind == "Aggregate":
        kind = _AGGREGATES.get(strategy, kind)
    elif kind == "SetOp" and strategy == "Hashed":
        kind = "HashSetOp"
    elif kind == "ModifyTable":
        kind = str(data.get("Operation", kind))
    if (join := data.get("Join Type")) and join != "Inner":
        kind = f"{kind.removesuffix(' Join')} {join} Join"
    kind += " Backward" if data.get("Scan Direction") == "Backward" else ""
    if data.get("Partial Mode") in ("Partial", "Finalize"):
        kind = f"{data['Partial Mode']} {kind}"
    return f"Parallel {kind}" if data.get("Parallel Aware") is True else kind


def _detail(data: dict[str, Any]) -> str:
    """Conditions and sort keys (cut to a line, whole in the title), then what the run counted."""
    conditions = "; ".join(
        f"{key}: {', '.join(map(str, value)) if isinstance(value, list) else value}"
        for key, value in ((key, data[key]) for key in _CONDITIONS if key in data)
    )
    facts = [text.format(_count(value)) for key, text in _FACTS if (value := _number(data, key))]
    if method := data.get("Sort Method"):
        space = _number(data, "Sort Space Used")
        facts.append(f"{method} {_count(space)} kB" if space else method)
    if (batches := _number(data, "Hash Batches")) and batches > 1:
        facts.append(f"{_count(batches)} batches")
    facts.sort(key=lambda fact: fact.startswith(("buffers", "read")))  # buffers last
    said = ""
    if conditions:
        cut = conditions if len(conditions) <= DETAIL_CHARS else conditions[:DETAIL_CHARS] + "…"
        said += f'<span class="plan-cond" title="{escape(conditions)}">{escape(cut)}</span>'
    if facts:
        said += f'<span class="plan-facts">{escape(", ".join(facts))}</span>'
    return f'<span class="plan-detail">{said}</span>' if said else ""


def _rows(data: dict[str, Any], estimated: float | None, actual: float | None) -> str:
    """`501 → 1,000 rows`: estimated, then with ANALYZE actual (per loop, × loops)."""
    loops = _number(data, "Actual Loops")
    both = (("estimated", estimated), ("actual", actual))
    known = [(word, rows) for word, rows in both if rows is not None]
    text = " → ".join(_count(rows) for _, rows in known) + " rows"
    if loops == 0:
        text = f"{_count(estimated)} rows, never executed" if estimated else "never executed"
    elif loops and loops > 1:
        text += f" × {_count(loops)} loops"
    title = " → ".join(word for word, _ in known)  # none: COSTS OFF, not ANALYZEd
    return f'<span class="plan-rows" title="{title} rows">{text}</span>' if known else ""


def _misestimate(estimated: float | None, actual: float | None, data: dict[str, Any]) -> str:
    """`×95 under` when the planner expected far fewer rows (per loop) than came, `over`: more."""
    if estimated is None or actual is None or not _number(data, "Actual Loops"):
        return ""
    ratio = max(actual, 1) / max(estimated, 1)  # below one row a guess is as good as any
    word, times = ("under", ratio) if ratio >= 1 else ("over", 1 / ratio)
    return f"×{round(times):,} {word}" if times >= MISESTIMATE else ""


def _number(data: dict[str, Any], key: str) -> float | None:
    value = data.get(key)
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _count(value: float | None, grouping: str = ",") -> str:
    """1.00 → `1`, 0.50 → `0.5` (PostgreSQL 18 writes two decimals, 15 none), `1,000`."""
    if value is None:
        return "?"
    if float(value).is_integer():
        return f"{int(value):{grouping}}"
    return f"{value:{grouping}.2f}".rstrip("0")
