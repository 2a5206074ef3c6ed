"""What a build's decks leave on the server, dropped while the pages render.

Dropping the decks' databases takes a few tenths of a second of the server's time (each
DROP DATABASE is a checkpoint, shared by the drops that run at once), and no page needs it: so
the drops run in a thread of their own once the decks are done, while MkDocs renders the pages,
and the build waits for them at its end (settle), where what could not be dropped is said.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from pgslides.errors import Problem

if TYPE_CHECKING:
    from pgslides.run.buildserver import BuildServer
    from pgslides.run.freshness import ToRun
    from pgslides.run.housekeeping import Dropper
    from pgslides.run.setuptemplates import SetupTemplates


class Aftercare:
    """One piece of work at a time, in the background; settle() waits for it."""

    def __init__(self) -> None:
        self._thread: threading.Thread | None = None
        self._found: list[Problem] = []

    def start(self, work: Callable[[], list[Problem]]) -> None:
        """Run `work` in a thread of its own (after the one started before has ended)."""
        earlier = self.settle()

        def run() -> None:
            try:
                self._found = earlier + work()
            except Exception as error:  # a thread's error would be lost: say it at the end
                said = Problem(f"could not drop the decks' places: {error}", severity="warning")
                self._found = [*earlier, said]

        self._thread = threading.Thread(target=run, name="pgslides-aftercare", daemon=True)
        self._thread.start()

    def idle(self) -> bool:
        """Whether nothing runs: the work started last has ended (or none was started)."""
        return self._thread is None or not self._thread.is_alive()

    def settle(self) -> list[Problem]:
        """Wait for the work; what it found (each only once)."""
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join()
        found, self._found = self._found, []
        return found


def drop_places(
    place: BuildServer, templates: SetupTemplates, todo: list[ToRun], dropper: Dropper | None
) -> list[Problem]:
    """Drop the decks' places, all at once, then the templates they were cloned from; what
    could not be dropped (or what a deck made outside its place), one warning each."""
    place.decks_running(False)
    found: list[Problem] = []
    if dropper is not None:
        said: list[str] = []
        dropper.workers = max(dropper.workers, place.spare_connections())
        dropper.finish()
        for drop in templates.finish():
            dropper.add(drop, said)
        dropper.finish()
        found.extend(Problem(text, severity="warning") for text in said)
    for item in todo:
        found.extend(item.said())
    return found
