"""What the configuration says about running decks: the settings a Runner is made with, and
the limits a deck's plan sets on its sessions."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pgslides.run.database import SessionSettings
from pgslides.run.execute import RunLimits
from pgslides.settings import PLUGIN_DEFAULTS, DeckPlan


@dataclass(frozen=True)
class RunSettings:
    """What the configuration says about running decks (mkdocs.yml or the command line)."""

    database_url: str = PLUGIN_DEFAULTS["database_url"]
    isolation: str = PLUGIN_DEFAULTS["isolation"]
    statement_timeout_ms: int = PLUGIN_DEFAULTS["statement_timeout"]
    max_rows: int = PLUGIN_DEFAULTS["max_rows"]
    cache_dir: Path | None = None  # None: no result cache
    refresh: bool = False  # run every deck even when its cached outcome is current
    store: bool = True  # write outcomes to the cache (a drift check must not)
    jobs: int = 0  # decks run at once; 0: one per CPU
    # Keep a failed outcome in memory (never in the cache) until something it depends on
    # changes: under `mkdocs serve`, so a prose edit elsewhere does not run it again.
    keep_failed: bool = False
    # Setup templates kept between builds (under `mkdocs serve`: an edited deck starts from
    # its setup's clone); 0: each build drops its own (run.setuptemplates).
    keep_templates: int = 0
    # A build (not `mkdocs serve`): the server is stopped as soon as the decks' places are
    # dropped, while MkDocs still renders the pages, not after them.
    stop_when_done: bool = False


def limits_of(plan: DeckPlan) -> tuple[SessionSettings, RunLimits]:
    """What a deck's sessions pin, and its statements' limits."""
    session = SessionSettings(
        statement_timeout_ms=plan.statement_timeout_ms,
        lock_timeout_ms=plan.statement_timeout_ms,
        timezone=plan.timezone,
    )
    return session, RunLimits(plan.max_rows, plan.statement_timeout_ms)
