"""What a deck's outcome says as Problem records: what fails a build, what is worth fixing."""

from __future__ import annotations

from pgslides.errors import Problem
from pgslides.outcome import BlockOutcome, DeckOutcome
from pgslides.parse.deck import Deck
from pgslides.render.fit import fit_problems
from pgslides.render.pictures import picture_problems


def deck_problems(deck: Deck, outcome: DeckOutcome) -> list[Problem]:
    """Each block that did not end as its `expect` says, in file order, then each picture
    that cannot be drawn."""
    ended = [
        Problem(block.problem, deck.path, _problem_line(block))
        for block in outcome.blocks
        if block.problem
    ]
    return ended + picture_problems(deck, outcome)


def _problem_line(block: BlockOutcome) -> int:
    """The fence's line; for a Python block's exception, the line of Python that raised it."""
    error = block.python.error if block.python is not None else None
    return error.line if error is not None and not error.expected else block.line


def deck_warnings(deck: Deck, outcome: DeckOutcome) -> list[Problem]:
    """What the run noticed (a session left in a transaction) and slides too large to read."""
    noticed = [
        Problem(item.message, deck.path, deck.blocks[item.block_index].line, "warning")
        for item in outcome.warnings
    ]
    return noticed + fit_problems(deck, outcome.blocks)


def deck_report(deck: Deck, outcome: DeckOutcome) -> list[Problem]:
    """Every problem and warning of a deck's outcome, problems first."""
    return deck_problems(deck, outcome) + deck_warnings(deck, outcome)
