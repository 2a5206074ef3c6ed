"""A build stopped by SIGTERM as by Ctrl-C: statements cancelled, databases dropped, the embedded
server stopped (the adapters' clean-up runs on KeyboardInterrupt)."""

from __future__ import annotations

import signal
import threading


def stop_on_sigterm() -> None:
    """Make SIGTERM stop a build as Ctrl-C does: statements cancelled, databases dropped."""
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _interrupt)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt
