"""Which slides will certainly not fit the stage, judged at build time from text and outcomes.

Presentation mode scales a slide that is too large down to fit; past a point the text becomes
too small to read from the back of a room. These estimates find those slides before the talk.
"""

from __future__ import annotations

from pgslides.errors import Problem
from pgslides.outcome import BlockOutcome, StatementOutcome
from pgslides.parse.deck import Block, Deck, Slide

# A 16:9 slide stays readable down to roughly this many lines of code-sized text, and this
# many characters across (the stage is 1280 px wide; code text is about 8 px a character at
# the smallest scale worth projecting).
MAX_LINES = 40
MAX_COLUMNS = 150


def fit_problems(deck: Deck, outcomes: tuple[BlockOutcome, ...]) -> list[Problem]:
    """Warnings for slides too large to read when scaled to fit, at each slide's line."""
    problems = []
    for slide in deck.slides:
        lines, widest = slide_extent(slide, outcomes)
        if lines > MAX_LINES:
            message = (
                f"slide {slide.number} will not fit: about {lines} lines (a slide holds "
                f"{MAX_LINES}); show fewer rows (rows=) or split the slide"
            )
            problems.append(Problem(message, deck.path, slide.line, "warning"))
        elif widest > MAX_COLUMNS:
            message = (
                f"slide {slide.number} will not fit: a line of about {widest} characters (a "
                f"slide holds {MAX_COLUMNS}); select fewer columns or use format=expanded"
            )
            problems.append(Problem(message, deck.path, slide.line, "warning"))
    return problems


def slide_extent(slide: Slide, outcomes: tuple[BlockOutcome, ...]) -> tuple[int, int]:
    """(lines, widest line in characters) a slide's body will take, roughly."""
    lines = 0
    widest = 0
    for part in slide.parts:
        if isinstance(part, Block):
            block_lines, block_widest = _block_extent(part, outcomes[part.index])
            lines += block_lines
            widest = max(widest, block_widest)
        else:
            text_lines = [line for line in part.splitlines() if line.strip()]
            lines += len(text_lines)
    return lines, widest


def _block_extent(block: Block, outcome: BlockOutcome) -> tuple[int, int]:
    show = block.options.show
    if show == "none":
        return 0, 0
    lines = 0
    widest = 0
    if show in ("both", "source"):
        source = block.sql.rstrip("\n").splitlines()
        lines += len(source) + 1
        widest = max((len(line) for line in source), default=0)
    if show in ("both", "result"):
        for statement in outcome.statements:
            statement_lines, statement_widest = _statement_extent(statement, block.options.format)
            lines += statement_lines
            widest = max(widest, statement_widest)
    return lines, widest


def _statement_extent(statement: StatementOutcome, fmt: str) -> tuple[int, int]:
    lines = len(statement.notices) + (1 if statement.more_notices else 0)
    if statement.error is not None:
        return lines + 3, 0  # ERROR, LINE and caret; wrapped text is the renderer's business
    if statement.columns is None:
        return lines + 1, 0
    columns = len(statement.columns)
    rows = len(statement.rows)
    if fmt == "expanded":
        return lines + rows * (columns + 1) + 1, 0
    widths = [len(column.name) for column in statement.columns]
    for row in statement.rows:
        for index, value in enumerate(row):
            longest = max((len(line) for line in (value or "").splitlines()), default=0)
            widths[index] = max(widths[index], min(longest, 80))
    widest = sum(widths) + 3 * columns
    return lines + rows + 2, widest
