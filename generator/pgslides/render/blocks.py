"""Live blocks → HTML: source, each statement's outcome, prompts, waits and late results."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from markupsafe import Markup

from pgslides.outcome import BlockOutcome, DeckOutcome, LateOutcome, StatementOutcome
from pgslides.parse.blocks import BlockOptions
from pgslides.parse.deck import Block, Deck
from pgslides.render.pictures import PictureError, schema_picture, statement_picture
from pgslides.render.python import render_python_block
from pgslides.render.statement import render_statement
from pgslides.render.steps import highlight_block_source
from pgslides.render.templating import block_frame, highlight_sql, render_template, trusted
from pgslides.tryit import TryButtons

_STATE_LABELS = {"idle": "idle", "open": "in a transaction", "failed": "in a failed transaction"}


def columns_html(blocks: list[Block], rendered: Mapping[int, Markup]) -> Markup:
    """Blocks side by side: a column per session in order of appearance, a row per block."""
    # A hidden block shows nothing; it takes no row (and its session no column) either.
    blocks = [block for block in blocks if rendered.get(block.index)]
    sessions = list(dict.fromkeys(block.options.session for block in blocks))
    cells = [
        {
            "column": sessions.index(block.options.session) + 1,
            "row": row,
            "html": rendered.get(block.index, Markup("")),
        }
        for row, block in enumerate(blocks, start=2)
    ]
    return render_template("columns.html", sessions=sessions, cells=cells)


def render_deck_blocks(
    deck: Deck, outcome: DeckOutcome, tries: TryButtons | None = None
) -> dict[int, Markup]:
    """Every live block of a deck, by index, with late results placed where they finished;
    with `tries`, SQL blocks carry their Try it button (or why they have none)."""
    late_of = {late.block_index: late for block in outcome.blocks for late in block.late}
    return {
        block.index: render_python_block(block, outcome.blocks[block.index])
        if block.language == "python"
        else render_erd_block(block, outcome.blocks[block.index])
        if block.language == "erd"
        else render_block(
            block,
            outcome.blocks[block.index],
            prompt_default=deck.settings.prompt,
            blocks=deck.blocks,
            late_of=late_of,
            tryit=tries.view(block) if tries is not None else None,
        )
        for block in deck.blocks
    }


def render_erd_block(block: Block, outcome: BlockOutcome) -> Markup:
    """An erd block: its diagram, or the error its catalog query met, or why it cannot draw."""
    problem = outcome.problem
    output = Markup("")
    for statement in outcome.statements:
        try:
            output = schema_picture(statement) or render_statement(statement, "table")
        except PictureError as error:
            problem = problem or str(error)
    return render_template("erd_block.html", **block_frame(block, problem), output=output)


def render_block(
    block: Block,
    outcome: BlockOutcome | None,
    *,
    prompt_default: bool = False,
    blocks: tuple[Block, ...] = (),
    late_of: Mapping[int, LateOutcome] | None = None,
    tryit: Mapping[str, Any] | None = None,
) -> Markup:
    """A live block's HTML: source and/or outcomes as its `show` option says; `tryit` is its
    Try it bar (TryButtons.view), None without the playground."""
    options = block.options
    statements = outcome.statements if outcome is not None else ()
    pictures, picture_problem = _pictures(statements, options)
    problem = (outcome.problem if outcome is not None else None) or picture_problem
    if options.show == "none" and problem is None and not (outcome and outcome.late):
        return Markup("")
    prompt = options.prompt if options.prompt is not None else prompt_default
    prompt = prompt and options.show in ("both", "source")
    # steps=statements: laid out as with prompt=true, each statement's pair one step.
    stepped = options.steps == "statements"
    per_statement = prompt or (stepped and options.show in ("both", "source"))
    waiting_for = outcome.waiting_for if outcome is not None else None
    entries = _entries(block, statements, per_statement, late_of or {}, pictures)
    lates = [_late_view(late, blocks) for late in (outcome.late if outcome else ())]
    html = render_template(
        "block.html",
        **block_frame(block, problem),
        prompt=prompt,
        per_statement=per_statement,
        stepped=stepped,
        source_html=highlight_sql(block.sql) if not per_statement else "",
        entries=entries,
        waiting_for=", ".join(waiting_for) if waiting_for else None,
        lates=lates,
        tryit=tryit,
    )
    if options.hl and not per_statement:
        return trusted(highlight_block_source(str(html), options.hl))
    return html


def _pictures(
    statements: tuple[StatementOutcome, ...], options: BlockOptions
) -> tuple[dict[int, Markup], str | None]:
    """The picture of each statement drawn as one (by position), and why one cannot be."""
    pictures: dict[int, Markup] = {}
    for position, statement in enumerate(statements):
        try:
            picture = statement_picture(statement, options)
        except PictureError as error:
            return pictures, str(error)
        if picture is not None:
            pictures[position] = picture
    return pictures, None


def _entries(
    block: Block,
    statements: tuple[StatementOutcome, ...],
    prompt: bool,
    late_of: Mapping[int, LateOutcome],
    pictures: Mapping[int, Markup],
) -> list[dict[str, Any]]:
    """One entry per statement: its prompt line (with prompt=true) and its output."""
    entries = [
        {
            **(
                _prompt_view(block.options.session, statement.sql, statement.transaction)
                if prompt
                else {}
            ),
            "output": render_statement(
                statement,
                block.options.format,
                pictures.get(position),
                picture_rows=block.options.chart is not None,
            ),
        }
        for position, statement in enumerate(statements)
    ]
    late = late_of.get(block.index)
    if prompt and late is not None:
        # Statements still to come (the block waits): their source, with the prompt they had;
        # their output shows in the block that released them.
        for pending in late.statements:
            view = _prompt_view(block.options.session, pending.sql, pending.transaction)
            entries.append({**view, "output": ""})
    return entries


def _prompt_view(session: str, sql: str, transaction: str) -> dict[str, Any]:
    typed = sql.rstrip()  # as sent: with its semicolon, unless the block's last had none
    marker = {"idle": "", "open": "*", "failed": "!"}.get(transaction, "")
    return {
        "prompt": f"{session}={marker}>",
        "state_label": _STATE_LABELS.get(transaction, "idle"),
        "source_html": highlight_sql(typed if typed.endswith(";") else typed + ";"),
    }


def _late_view(late: LateOutcome, blocks: tuple[Block, ...]) -> dict[str, Any]:
    origin = blocks[late.block_index] if late.block_index < len(blocks) else None
    fmt = origin.options.format if origin is not None else "table"
    first = late.statements[0] if late.statements else None
    summary = ""
    if first is not None:
        summary = first.error.summary().splitlines()[0] if first.error else first.status or ""
    # The label already says a bare command tag: show the first statement only if it has more.
    shown = list(late.statements)
    if first is not None and first.error is None and first.columns is None and not first.notices:
        shown = shown[1:]
    return {
        "session": late.session,
        "line": late.line,
        "summary": summary,
        "outputs": [render_statement(s, fmt) for s in shown],
    }
