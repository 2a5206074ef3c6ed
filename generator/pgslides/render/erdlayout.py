"""A small layered (Sugiyama-style) layout for schema diagrams: referenced tables left of the
tables that reference them; edges bend only in the gaps between columns, never through a box.
The classic steps kept small: break cycles, layer by longest path, give an edge a slot in each
column it crosses, order columns by barycentres, fit heights by least squares. Lists go in the
given order and ties by position, so the same input always gives the same layout."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

Point = tuple[float, float]
# What a path does after its current point: (end,) is a straight line, (c1, c2, end) a cubic.
Segment = tuple[Point, ...]
# Per item, a stretch of an edge to an adjacent column: (other item, its offset, this one's).
_Near = list[list[tuple[int, float, float]]]
_Layers = list[list[int]]  # each column's items, top to bottom

COLUMN_GAP = 96.0  # between columns: room for both ends' marks, a bend and a self-loop
ROW_GAP = 32.0  # between boxes (and edge slots) of one column
LEAD = 22.0  # straight run beside a box, where the crow's foot or the bar sits
LOOP = 40.0  # how far a self-reference bulges past its lead
SLOT = 8.0  # the band an edge keeps for itself in a column it crosses
SWEEPS = 8  # barycentre sweeps, alternating directions; the ordering with fewest crossings wins
ROUNDS = 4  # height-fitting rounds, each rightwards then leftwards
SPARE_GAP = 48.0  # around tables without links: no edge runs there
STAGE = (1180.0, 520.0)  # the most a slide gives a diagram, in CSS px: its shape to aim for


@dataclass(frozen=True)
class Link:  # a foreign key: the referencing box and the referenced one, each with its row's y
    child: int
    child_y: float
    parent: int
    parent_y: float


@dataclass(frozen=True)
class End:  # where an edge meets a box side; direction +1 when the edge leaves it to the right
    x: float
    y: float
    direction: int


@dataclass(frozen=True)
class Route:  # the path from the child's end: straight lines and cubics
    segments: tuple[Segment, ...]
    child_end: End
    parent_end: End


@dataclass(frozen=True)
class Layout:
    boxes: tuple[Point, ...]  # each node's top-left corner
    routes: tuple[Route, ...]  # one per link, in the links' order


@dataclass
class _Item:  # a node, or an edge's slot in a column it crosses
    layer: int
    width: float
    height: float
    x: float = 0.0
    top: float = 0.0


def layout(sizes: Sequence[Point], links: Sequence[Link]) -> Layout:
    """Place boxes of these (width, height) and route every link between them (by index)."""
    layer_of = _layers(len(sizes), links)
    items = [_Item(layer, *size) for layer, size in zip(layer_of, sizes, strict=True)]
    chains, near = _chains(items, links)
    count = max(layer_of, default=-1) + 1
    layers = [[index for index, item in enumerate(items) if item.layer == k] for k in range(count)]
    layers = _order(items, layers, near)
    _place_vertically(items, layers, near)
    spans, x = [], 0.0  # each column's left and right x
    for layer in layers:
        spans.append((x, x + max(items[item].width for item in layer)))
        for item in layer:
            items[item].x = x
        x = spans[-1][1] + COLUMN_GAP
    bottom = max((items[i].top + items[i].height for layer in layers for i in layer), default=0.0)
    _place_spare([item for item in items[: len(sizes)] if item.layer < 0], spans, bottom)
    routes = [
        _loop(links, index, items, chains) if chain is None else _route(link, chain, items, spans)
        for index, (link, chain) in enumerate(zip(links, chains, strict=True))
    ]
    return Layout(tuple((item.x, item.top) for item in items[: len(sizes)]), tuple(routes))


def _layers(count: int, links: Sequence[Link]) -> list[int]:
    """Each node's layer, referenced nodes left of referencing ones; -1 for a node no link
    touches (it goes to the spare columns). Cycles are broken by a depth-first search."""
    parents = [sorted({k.parent for k in links if k.child == v != k.parent}) for v in range(count)]
    touched = {node for link in links for node in (link.child, link.parent)}
    after: list[list[int]] = [[] for _ in range(count)]  # after[v]: nodes v must be right of
    layer = [-1] * count  # -1 unseen, -2 on the search path

    def visit(node: int) -> None:
        layer[node] = -2
        for parent in parents[node]:
            # A parent still on the search path closes a cycle: that link is laid out backwards.
            if layer[parent] != -2:
                after[node].append(parent)
                if layer[parent] == -1:
                    visit(parent)
        layer[node] = 1 + max((layer[p] for p in after[node]), default=-1)

    for node in range(count):
        if layer[node] == -1:
            visit(node)
    # A table that references nothing moves right, next to its nearest referencing table.
    for node in range(count):
        followers = [layer[v] for v in range(count) if node in after[v]]
        if not after[node] and followers:
            layer[node] = min(followers) - 1
    used = sorted({layer[v] for v in touched})
    return [used.index(layer[v]) if v in touched else -1 for v in range(count)]


def _chains(items: list[_Item], links: Sequence[Link]) -> tuple[list[list[int] | None], _Near]:
    """Per link, its items left to right (left node, a slot per column crossed, right node;
    None for a self-reference, which stays beside its box), and each item's stretches."""
    chains: list[list[int] | None] = []
    for link in links:
        if link.child == link.parent:
            chains.append(None)
            continue
        left, right = sorted((link.child, link.parent), key=lambda v: items[v].layer)
        slots = range(items[left].layer + 1, items[right].layer)
        items += [_Item(layer, 0.0, SLOT) for layer in slots]
        chains.append([left, *range(len(items) - len(slots), len(items)), right])
    near: _Near = [[] for _ in items]
    for link, chain in zip(links, chains, strict=True):
        for a, b in pairwise(chain or ()):
            a_offset, b_offset = _offset(link, items, a), _offset(link, items, b)
            near[a].append((b, b_offset, a_offset))
            near[b].append((a, a_offset, b_offset))
    return chains, near


def _offset(link: Link, items: list[_Item], item: int) -> float:
    """Where an edge meets an item, from the item's top (a slot's middle)."""
    return {link.child: link.child_y, link.parent: link.parent_y}.get(item, items[item].height / 2)


def _order(items: list[_Item], layers: _Layers, near: _Near) -> _Layers:
    """Barycentre sweeps from the given order (nodes, then slots), keeping the ordering with
    the fewest crossings (the earliest on ties)."""
    best, fewest = [list(layer) for layer in layers], _crossings(items, layers, near)
    for sweep in range(SWEEPS):
        rightwards = sweep % 2 == 0
        for layer in range(1, len(layers)) if rightwards else range(len(layers) - 2, -1, -1):
            _reorder(items, layers, layer, layer - 1 if rightwards else layer + 1, near)
        crossings = _crossings(items, layers, near)
        if crossings < fewest:
            best, fewest = [list(layer) for layer in layers], crossings
    return best


def _reorder(items: list[_Item], layers: _Layers, layer: int, reference: int, near: _Near) -> None:
    # Port-exact: an edge at a box's third row counts a third of the way down that box.
    position = {item: index for index, item in enumerate(layers[reference])}
    current, keyed, fixed = layers[layer], [], set()
    for index, item in enumerate(current):
        places = [position[n] + at / items[n].height for n, at, _ in near[item] if n in position]
        if places:
            keyed.append((sum(places) / len(places), index, item))
        else:
            fixed.add(index)  # nothing pulls it: it keeps its place
    moving = iter([item for _, _, item in sorted(keyed)])
    layers[layer] = [item if i in fixed else next(moving) for i, item in enumerate(current)]


def _crossings(items: list[_Item], layers: _Layers, near: _Near) -> int:
    place = {item: index for layer in layers for index, item in enumerate(layer)}
    ends = [  # per stretch: its left column, where it leaves, where it arrives
        (items[a].layer, place[a] + at / items[a].height, place[b] + bt / items[b].height)
        for layer in layers
        for a in layer
        for b, bt, at in near[a]
        if items[b].layer > items[a].layer
    ]
    crossed = 0
    for i, (layer, a1, b1) in enumerate(ends):
        crossed += sum(
            other == layer and (a1 - a2) * (b1 - b2) < 0 for other, a2, b2 in ends[i + 1 :]
        )
    return crossed


def _place_vertically(items: list[_Item], layers: _Layers, near: _Near) -> None:
    """Tops for every item: each column fitted to its left, then its right neighbours, a few
    rounds over, keeping the order and the gaps; then all moved to start at 0."""
    for column in layers:
        _fit(items, column, [0.0] * len(column))
    sweep = [(k, k - 1) for k in range(1, len(layers))]
    sweep += [(k, k + 1) for k in range(len(layers) - 2, -1, -1)]
    for _ in range(ROUNDS):
        for layer, reference in sweep:
            wanted = []
            for item in layers[layer]:
                tops = [
                    items[n].top + theirs - mine
                    for n, theirs, mine in near[item]
                    if items[n].layer == reference
                ]
                wanted.append(sum(tops) / len(tops) if tops else items[item].top)
            _fit(items, layers[layer], wanted)
    lowest = min((each.top for each in items if each.layer >= 0), default=0.0)
    for each in items:
        each.top -= lowest


def _fit(items: list[_Item], layer: list[int], wanted: list[float]) -> None:
    """The tops closest (least squares) to the wanted ones that keep the order and the gaps:
    adjacent violators are pooled into blocks that move as one."""
    blocks: list[tuple[float, int, float]] = []  # (sum of wanted block tops, count, height)
    for item, top in zip(layer, wanted, strict=True):
        total, count, height = top, 1, items[item].height
        while blocks and (blocks[-1][0] / blocks[-1][1]) + blocks[-1][2] + ROW_GAP > total / count:
            before_total, before_count, before_height = blocks.pop()
            shift = before_height + ROW_GAP
            total = before_total + total - count * shift
            count, height = before_count + count, shift + height
        blocks.append((total, count, height))
    placed = 0
    for total, count, _ in blocks:
        y = total / count
        for item in layer[placed : placed + count]:
            items[item].top, y = y, y + items[item].height + ROW_GAP
        placed += count


def _place_spare(spare: list[_Item], spans: list[Point], height: float) -> None:
    """Boxes without links flow in rows below the rest when the rest is at least as wide as
    the stage's shape (or empty), else in columns beside it: as far as the rest or the stage."""
    width = spans[-1][1] if spans else 0.0
    below = width * STAGE[1] >= height * STAGE[0]
    limit = max(width, STAGE[0]) if below else max(height, STAGE[1])
    along = across = extent = 0.0  # along a row (or column); how far down (or right) it starts
    for item in spare:
        size, other = (item.width, item.height) if below else (item.height, item.width)
        if along > 0 and along + size > limit:
            along, across, extent = 0.0, across + extent + SPARE_GAP, 0.0
        if below:
            item.x, item.top = along, across + (height + SPARE_GAP if height else 0.0)
        else:
            item.x, item.top = width + COLUMN_GAP + across, along
        along += size + (SPARE_GAP if below else ROW_GAP)
        extent = max(extent, other)


def _route(link: Link, chain: list[int], items: list[_Item], spans: list[Point]) -> Route:
    """Straight across the left node's column, bends in the gaps, straight through each slot,
    into the right node's left side (boxes sit at their column's left)."""
    left, right = items[chain[0]], items[chain[-1]]
    start = (left.x + left.width, left.top + _offset(link, items, chain[0]))
    end = (right.x, right.top + _offset(link, items, chain[-1]))
    points = [start, (spans[left.layer][1] + LEAD, start[1])]
    slots = [items[index] for index in chain[1:-1]]
    points += [(x, slot.top + SLOT / 2) for slot in slots for x in spans[slot.layer]]
    points += [(end[0] - LEAD, end[1]), end]
    ends = End(*start, 1), End(*end, -1)
    if link.child == chain[-1]:
        points.reverse()
        ends = ends[::-1]
    return Route(_bends(points), *ends)


def _bends(points: list[Point]) -> tuple[Segment, ...]:
    # Control points at mid-gap keep a bend inside the gap's x range and its y between its ends.
    segments: list[Segment] = []
    for (x1, y1), (x2, y2) in pairwise(points):
        middle = (x1 + x2) / 2
        if y1 != y2:
            segments.append(((middle, y1), (middle, y2), (x2, y2)))
        elif segments and len(segments[-1]) == 1:
            segments[-1] = ((x2, y2),)  # a straight run goes on: one line, not two
        else:
            segments.append(((x2, y2),))
    return tuple(segments)


def _loop(links: Sequence[Link], index: int, items: list[_Item], chains: list) -> Route:
    """A self-reference: out of the box's side and back, on the side with fewer edge ends
    (the right on a tie); each further loop on the same box bulges further out."""
    link = links[index]
    node, box = link.child, items[link.child]
    on_right = [chain[0] == node for chain in chains if chain and node in (chain[0], chain[-1])]
    direction = 1 if on_right.count(True) <= on_right.count(False) else -1
    side = box.x + box.width if direction > 0 else box.x
    earlier = sum(1 for other in links[:index] if other.child == other.parent == node)
    reach, lead = side + direction * (LEAD + LOOP + 14 * earlier), side + direction * LEAD
    y1, y2 = box.top + link.child_y, box.top + link.parent_y
    bulge = 20.0 if y1 == y2 else 0.0  # a column that references itself still gets a loop
    bend = ((reach, y1 - bulge), (reach, y2 + bulge), (lead, y2))
    segments = (((lead, y1),), bend, ((side, y2),))
    return Route(segments, End(side, y1, direction), End(side, y2, direction))
