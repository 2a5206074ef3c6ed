"""The plugin's options, validated, as the build core takes them: how decks run (RunSettings),
and what a problem does to the build."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pgslides.errors import SetupError
from pgslides.run.runsettings import RunSettings
from pgslides.settings import PLUGIN_OPTIONS, validate

# Under `mkdocs serve`, the setup templates of this many decks' setups stay between rebuilds
# (each holds a copy of what its setup made on the server's disk).
KEPT_TEMPLATES = 8


@dataclass(frozen=True)
class BuildSettings:
    """The plugin options (mkdocs.yml, or the command line), validated: how decks run, and
    what a problem does to the build."""

    run: RunSettings = field(default_factory=RunSettings)
    on_error: str = "fail"
    serving: bool = False  # `mkdocs serve`: problems show on the page, never stop it
    playground: bool = True  # Try it: blocks re-run in the reader's browser (tryit.py)

    @classmethod
    def from_options(cls, options: Mapping[str, Any], project_dir: Path) -> BuildSettings:
        """Settings from raw plugin options; SetupError names a bad one."""
        values, errors = validate(PLUGIN_OPTIONS, options)
        if errors:
            raise SetupError(errors[0][1])
        cache_dir = values["cache_dir"]
        run = RunSettings(
            database_url=values["database_url"],
            isolation=values["isolation"],
            statement_timeout_ms=values["statement_timeout"],
            max_rows=values["max_rows"],
            jobs=values["jobs"],
            cache_dir=project_dir / cache_dir if cache_dir else None,
            refresh=values["refresh"],
            stop_when_done=True,
        )
        return cls(run=run, on_error=values["on_error"], playground=values["playground"])

    def serve(self) -> BuildSettings:
        """These settings under `mkdocs serve`: a failing deck is not re-run by every rebuild."""
        kept = replace(
            self.run, keep_failed=True, keep_templates=KEPT_TEMPLATES, stop_when_done=False
        )
        return replace(self, serving=True, run=kept)
