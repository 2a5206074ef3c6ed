"""DESIGN-level facts: the core imports no MkDocs, every module is small and listed in README,
the import package cannot be shadowed by a folder of the user's, the CLI is not the plugin."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from pgslides.run.database import Server
from sites import BIN, database_url, log_messages, make_site, run

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "generator" / "pgslides"
README = (ROOT / "README.md").read_text(encoding="utf-8")
MAX_MODULE_LINES = 300


def modules() -> list[str]:
    return sorted(
        path.relative_to(PACKAGE).as_posix()
        for path in PACKAGE.rglob("*.py")
        if path.name != "__init__.py"
    )


def imported_after(statement: str) -> set[str]:
    code = f"import sys; {statement}; print('\\n'.join(sorted(sys.modules)))"
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    return set(completed.stdout.split())


def test_the_core_and_the_cli_load_no_mkdocs_module():
    loaded = imported_after("import pgslides, pgslides.build, pgslides.cli")
    assert {name for name in loaded if name.split(".")[0] == "mkdocs"} == set()
    assert "pgslides.adapters.mkdocs" not in loaded


def test_the_cli_never_imports_the_plugin():
    source = (PACKAGE / "cli.py").read_text(encoding="utf-8")
    assert "adapters" not in source


def test_readme_lists_every_module():
    development = README[README.index("## Development") :]
    listed = {
        name
        for name in re.findall(r"`([\w/]+\.py)`", development)
        if not name.startswith(("tests/", "bench/"))
    }
    assert set(modules()) <= listed, set(modules()) - listed
    assert listed - set(modules()) == set()


@pytest.mark.parametrize("module", modules())
def test_every_module_is_small_enough_to_read(module: str):
    lines = (PACKAGE / module).read_text(encoding="utf-8").count("\n")
    assert lines <= MAX_MODULE_LINES, f"{module} has {lines} lines"


def test_a_generator_folder_of_the_users_does_not_shadow_the_package(
    tmp_path: Path, pg_server: Server
):
    # python -m mkdocs puts the working directory first on sys.path.
    make_site(
        tmp_path,
        {"deck.md": "# One\n\n```sql exec\nSELECT 1;\n```\n"},
        database_url=database_url(pg_server),
        cache_dir="",
    )
    (tmp_path / "generator").mkdir()
    (tmp_path / "generator" / "__init__.py").write_text("raise ImportError('the user\\'s own')\n")
    completed = run([str(BIN / "python"), "-m", "mkdocs", "build", "--strict"], tmp_path)
    assert completed.returncode == 0, completed.stderr
    assert (tmp_path / "site" / "deck.html").exists()


def test_navigation_instant_is_said_to_be_unsupported(tmp_path: Path):
    site = make_site(tmp_path, {"index.md": "# Decks\n"}, database_url="")
    config = site.config_file.read_text(encoding="utf-8")
    site.config_file.write_text(
        config.replace("  font: false\n", "  font: false\n  features: [navigation.instant]\n"),
        encoding="utf-8",
    )
    completed = run([str(BIN / "mkdocs"), "build"], tmp_path)
    assert completed.returncode == 0, completed.stderr
    assert log_messages(completed.stderr, "WARNING") == [
        "pgslides: the theme feature navigation.instant is not supported: a deck reached by "
        "an instant link would not start presenting; remove it from theme.features"
    ]


def test_mkdocs_declares_exactly_the_options_of_the_schema():
    from pgslides.adapters.mkdocs import PgSlidesConfig
    from pgslides.settings import PLUGIN_OPTION_NAMES

    assert [name for name, _option in PgSlidesConfig._schema] == list(PLUGIN_OPTION_NAMES)
