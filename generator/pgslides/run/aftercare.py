"""What a build's decks leave on the server, dropped while the pages render.

Dropping the decks' databases takes a few tenths of a second of the server's time (each
DROP DATABASE is a checkpoint, shared by the drops that run at once), and no page needs it: so
the drops run in a thread of their own once the decks are done, while MkDocs renders the pages,
and the build waits for them at its end (settle), where what could not be dropped is said.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from pgslides.errors import Problem


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

    def settle(self) -> list[Problem]:
        """Wait for the work; what it found (each only once)."""
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join()
        found, self._found = self._found, []
        return found
