"""Which slides the browser will shrink below a readable scale, estimated at build time.

Presentation mode draws a slide on a 1280×720 stage and scales a body that is too large down
until it fits (pgslides.js, fitBoxes). This estimates the body's height and width in stage
pixels from its Markdown and its outcomes, with the sizes of pgslides.css's staged rules
(slide text 28px; headings; code and results at the default --pgslides-code-size, 0.7em,
which code is estimated at 0.75em of, a margin for its box; line-height 1.4; row counts and
statuses at 0.6em; a Python block's SQL at 0.6em, wrapping), and warns where
min(room / size) falls below MIN_SCALE. The constants were calibrated against Chromium
(bench/fit_calibration.py). A slide with steps keeps its current step in view rather than
shrinking, so there only one step (with the slide's heading) has to fit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pgslides.errors import Problem
from pgslides.outcome import BlockOutcome, StatementOutcome
from pgslides.parse.deck import Block, Deck, Slide
from pgslides.render.pictures import PictureError, schema_picture, statement_picture

MIN_SCALE = 0.7
ROOM_W, ROOM_H = 1280 - 2 * 72, 720 - 44 - 52  # the stage less the slide's padding
FONT = 28.0
TEXT_LINE = FONT * 1.5
TEXT_CHAR = FONT * 0.5  # a proportional character, on average
CODE_FONT = FONT * 0.75
CODE_LINE = CODE_FONT * 1.4
CODE_CHAR = CODE_FONT * 0.6  # monospace
CODE_PAD_H, CODE_PAD_W = CODE_FONT * 1.55, CODE_FONT * 2.35  # Material's pre > code padding
CODE_MARGIN = CODE_FONT * 0.8
TABLE_FONT = FONT * 0.7
TABLE_ROW = TABLE_FONT * 1.5 + 1  # line (1.3), cell padding (0.1em twice) and border
TABLE_CHAR = TABLE_FONT * 0.6
TABLE_CELL_PAD = TABLE_FONT * 1.2 + 1
OUT_LINE = TABLE_FONT * 1.4  # format=text/json/expanded, errors, notices
SMALL_LINE = FONT * 0.6 * 1.5  # sql-rows, sql-status, titles
PY_SQL_LINE = FONT * 0.6 * 1.3
PY_SQL_CHARS = int(ROOM_W / (FONT * 0.6 * 0.6))
BLOCK_MARGIN = FONT * 0.4
# Pictures on the stage (pgslides.css): a chart's height, an ER diagram's largest height, a
# plan's line (a node with its conditions on one line, at the code size).
CHART_H = 440.0
ERD_MAX_H = 520.0
PLAN_LINE = TABLE_FONT * 1.45
_PLAN_TAGS = re.compile(r'<details\b|</details>|class="plan-node\b')
_SVG_SIZE = re.compile(r'<svg[^>]*\swidth="(?P<w>[\d.]+)"[^>]*\sheight="(?P<h>[\d.]+)"')
_COLUMN_CHARS = int((ROOM_W / 2 - CODE_PAD_W) / TABLE_CHAR)  # an error's line in a grid column
_HEADING = re.compile(r"^(#{1,6})[ \t]")
_LIST_ITEM = re.compile(r"^[ \t]*(?:[-*+]|\d+[.)])[ \t]")
_STEP_SOURCE = re.compile(r"\{[^}]*\.step\b[^}]*\}|class=\"[^\"]*\bstep\b|<!--[ \t]*steps[ \t]*-->")


@dataclass(frozen=True)
class Extent:
    height: float
    width: float

    def scale(self) -> float:
        return min(1.0, ROOM_H / max(self.height, 1.0), ROOM_W / max(self.width, 1.0))


def fit_problems(deck: Deck, outcomes: tuple[BlockOutcome, ...]) -> list[Problem]:
    """Warnings for slides the browser would present below MIN_SCALE, at each slide's line."""
    problems = []
    for slide in deck.slides:
        extent = slide_extent(slide, outcomes)
        scale = extent.scale()
        if scale >= MIN_SCALE:
            continue
        message = (
            f"slide {slide.number} will be presented at about {scale:.2f} scale (its content "
            f"is about {extent.width:.0f}×{extent.height:.0f} px for {ROOM_W}×{ROOM_H}): "
            f"too small to read below {MIN_SCALE}; show fewer rows (rows=) or columns, "
            "split the slide, or unfold it in steps"
        )
        problems.append(Problem(message, deck.path, slide.line, "warning"))
    return problems


def slide_extent(slide: Slide, outcomes: tuple[BlockOutcome, ...]) -> Extent:
    """The size a slide's body takes on the stage, roughly; for a slide with steps, the size
    of its heading and its largest step."""
    heights: list[float] = []
    units: list[float] = []  # the height of each step that comes from blocks
    width = 0.0
    grid = slide.columns
    column_widths: dict[str, float] = {}
    for part in slide.parts:
        if isinstance(part, Block):
            block_height, block_width, steps = _block_extent(part, outcomes[part.index], grid)
            heights.append(block_height)
            units.extend(steps if steps else ([block_height] if slide.timeline_steps else []))
            if grid:
                session = part.options.session
                column_widths[session] = max(column_widths.get(session, 0.0), block_width)
            else:
                width = max(width, block_width)
        else:
            text_height, text_width = _text_extent(part, first=not heights)
            heights.append(text_height)
            width = max(width, text_width)
    if grid:
        width = max(width, sum(column_widths.values()) + 24 * len(column_widths))
    height = sum(heights)
    stepped = bool(units) or any(
        isinstance(part, str) and _STEP_SOURCE.search(part) for part in slide.parts
    )
    if stepped:
        head = heights[0] if heights and not isinstance(slide.parts[0], Block) else 0.0
        largest = max(units) if units else max(heights, default=0.0)
        height = min(height, head + largest)
    return Extent(height, width)


def _text_extent(text: str, *, first: bool) -> tuple[float, float]:
    height = 0.0
    width = 0.0
    fence: list[str] | None = None
    for line in text.splitlines():
        stripped = line.strip()
        if fence is not None:
            if stripped.startswith(("```", "~~~")):
                height += _code_height(len(fence))
                width = max(width, _code_width(fence))
                fence = None
            else:
                fence.append(line)
            continue
        if stripped.startswith(("```", "~~~")):
            fence = []
        elif not stripped or stripped.startswith(("<!--", "{")):
            continue
        elif heading := _HEADING.match(stripped):
            level = len(heading[1])
            size = FONT * (2.1 if level == 1 else 1.5 if level == 2 else 1.2)
            top = 0.0 if first and height == 0 else (size if level >= 2 else 0.0)
            height += top + size * 1.25 + size * 0.45
        elif stripped.startswith("|"):
            height += FONT * 0.75 * 2.6
        else:
            chars = len(stripped) - (2 if _LIST_ITEM.match(line) else 0)
            lines = max(1, -(-int(chars * TEXT_CHAR) // ROOM_W))
            height += lines * TEXT_LINE + FONT * (0.2 if _LIST_ITEM.match(line) else 0.5)
    return height, width


def _code_height(lines: int) -> float:
    return lines * CODE_LINE + CODE_PAD_H + CODE_MARGIN


def _code_width(lines: list[str]) -> float:
    return max((len(line.expandtabs(4)) for line in lines), default=0) * CODE_CHAR + CODE_PAD_W


def _block_extent(
    block: Block, outcome: BlockOutcome, in_grid: bool = False
) -> tuple[float, float, list[float]]:
    """(height, width, the height of each statement step) of a live block on the stage; in a
    columns grid an error's text wraps at its column (pgslides.css) instead of widening it."""
    options = block.options
    if options.show == "none" and not outcome.problem:
        return 0.0, 0.0, []
    if block.language == "erd":
        height, width = _erd_extent(outcome)
        return height + BLOCK_MARGIN * 2 + (SMALL_LINE if options.title else 0.0), width, []
    source = block.sql.rstrip("\n").splitlines()
    show_source = options.show in ("both", "source")
    height = BLOCK_MARGIN * 2 + (SMALL_LINE if options.title else 0.0)
    width = _code_width(source) if show_source else 0.0
    stepped = options.steps == "statements"
    per_statement = stepped or bool(options.prompt)
    if show_source and not per_statement:
        height += _code_height(len(source))
    steps: list[float] = []
    if options.show in ("both", "result") or per_statement:
        python = outcome.python
        if python is not None:
            height += _python_height(outcome, options.sql_list)
        for statement in outcome.statements:
            picture = _picture_extent(statement, block)
            part_height, part_width = picture or _statement_extent(
                statement, options.format, in_grid
            )
            if per_statement and show_source:
                # a prompted statement's source: a tighter box than a whole block's
                part_height += len(statement.sql.strip().splitlines()) * CODE_LINE + CODE_FONT
            height += part_height
            width = max(width, part_width)
            if stepped:
                steps.append(part_height)
        height += sum(
            _statement_extent(s, "table")[0] for late in outcome.late for s in late.statements
        )
    if outcome.problem:
        height += SMALL_LINE * 2
    return height, width, steps


def _picture_extent(statement: StatementOutcome, block: Block) -> tuple[float, float] | None:
    """A plan's or a chart's size on the stage, or None when the statement is drawn as rows."""
    try:
        picture = statement_picture(statement, block.options)
    except PictureError:
        return None
    if picture is None:
        return None
    if block.options.chart:
        return CHART_H + SMALL_LINE, 0.0  # pgslides.css sizes a chart to this height
    return (_plan_lines(str(picture)) + 1) * PLAN_LINE, 0.0


def _plan_lines(html: str) -> int:
    """A drawn plan's lines on the stage: each node outside folded subtrees, each outermost
    fold's summary (folds may nest: what is inside an outer fold takes no line)."""
    lines = depth = 0
    for tag in _PLAN_TAGS.finditer(html):
        if tag[0] == "</details>":
            depth -= 1
        elif tag[0].startswith("<details"):
            lines += depth == 0
            depth += 1
        else:
            lines += depth == 0
    return lines


def _erd_extent(outcome: BlockOutcome) -> tuple[float, float]:
    """An ER diagram's size: its SVG's own, scaled down to the stage's width and ERD_MAX_H."""
    statement = outcome.statements[0] if outcome.statements else None
    try:
        picture = schema_picture(statement) if statement is not None else None
    except PictureError:
        picture = None
    if picture is None:
        return (_statement_extent(statement, "table")[0] if statement else 0.0), 0.0
    size = _SVG_SIZE.search(str(picture))
    width, height = (float(size["w"]), float(size["h"])) if size else (ROOM_W, ERD_MAX_H)
    return min(height, ERD_MAX_H, height * ROOM_W / max(width, 1.0)), 0.0


def _python_height(outcome: BlockOutcome, sql_list: str) -> float:
    python = outcome.python
    assert python is not None
    height = 0.0
    printed = "".join(text for _, text in python.output)
    if printed:
        height += printed.count("\n") * OUT_LINE + TABLE_FONT
    if python.value is not None:
        height += (python.value.count("\n") + 1) * OUT_LINE + TABLE_FONT
    for text, _parameters in python.sql if sql_list == "show" else ():
        wrapped = sum(max(1, -(-len(line) // PY_SQL_CHARS)) for line in text.splitlines() or [""])
        height += (wrapped + 1) * PY_SQL_LINE
    if python.sql and sql_list != "hide":
        height += SMALL_LINE
    if python.error is not None:
        height += (python.error.traceback.count("\n") + 2) * PY_SQL_LINE
    return height


def _statement_extent(
    statement: StatementOutcome, fmt: str, wraps: bool = False
) -> tuple[float, float]:
    height = (len(statement.notices) + (1 if statement.more_notices else 0)) * OUT_LINE
    if statement.error is not None:
        message = statement.error.summary().splitlines()
        if wraps:
            lines = sum(max(1, -(-len(line) // _COLUMN_CHARS)) for line in message)
            return height + lines * OUT_LINE + TABLE_FONT, 0.0
        width = max((len(line) for line in message), default=0) * TABLE_CHAR
        return height + len(message) * OUT_LINE + TABLE_FONT, width
    if statement.columns is None:
        return height + SMALL_LINE, 0.0
    if fmt != "table":
        lines = _text_lines(statement, fmt)
        return height + lines * OUT_LINE + TABLE_FONT + SMALL_LINE, 0.0
    widths = [len(column.name) for column in statement.columns]
    lines = 1
    for row in statement.rows:
        row_lines = 1
        for index, value in enumerate(row):
            parts = (value or "").splitlines() or [""]
            row_lines = max(row_lines, len(parts))
            widths[index] = max(widths[index], *(len(p) for p in parts))
        lines += row_lines
    width = sum(widths) * TABLE_CHAR + len(widths) * TABLE_CELL_PAD
    return height + lines * TABLE_ROW + SMALL_LINE, width


def _text_lines(statement: StatementOutcome, fmt: str) -> int:
    columns = len(statement.columns or ())
    if fmt == "expanded":
        return sum(columns + 1 for _ in statement.rows) or 1
    values = sum(max(1, (value or "").count("\n") + 1) for row in statement.rows for value in row)
    return values + (2 if fmt == "text" else len(statement.rows) + 1)
