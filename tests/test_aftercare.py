"""The decks' places dropped in the background (run.aftercare): what the work found comes back
once, at settle(), and a work that fails is said, never lost with its thread."""

from __future__ import annotations

import threading

from pgslides.errors import Problem
from pgslides.run.aftercare import Aftercare


def test_settle_waits_for_the_work_and_returns_what_it_found_once():
    release = threading.Event()
    aftercare = Aftercare()

    def work() -> list[Problem]:
        release.wait(5)
        return [Problem("could not drop the database 'x'", "slides/deck.md", 1, "warning")]

    aftercare.start(work)
    release.set()
    assert [str(p) for p in aftercare.settle()] == [
        "slides/deck.md:1: could not drop the database 'x'"
    ]
    assert aftercare.settle() == []


def test_a_failing_work_is_said_and_an_earlier_works_findings_are_kept():
    aftercare = Aftercare()
    aftercare.start(lambda: [Problem("first")])

    def broken() -> list[Problem]:
        raise OSError("the server went away")

    aftercare.start(broken)  # waits for the first one
    assert [p.message for p in aftercare.settle()] == [
        "first",
        "could not drop the decks' places: the server went away",
    ]
