"""What a deck's outcome says as Problem records: what fails a build, what is worth fixing."""

from __future__ import annotations

from pgslides.errors import Problem
from pgslides.outcome import DeckOutcome
from pgslides.parse.deck import Deck
from pgslides.render.fit import fit_problems


def deck_problems(deck: Deck, outcome: DeckOutcome) -> list[Problem]:
    """Each block that did not end as its `expect` says, in file order."""
    return [
        Problem(block.problem, deck.path, block.line) for block in outcome.blocks if block.problem
    ]


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
