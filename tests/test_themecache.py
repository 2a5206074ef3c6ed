"""The theme's templates compiled once (adapters.themecache): a template is compiled again only
when its source, Jinja or the environment's syntax changed, and a build with the cache makes
the same site as one without it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2

from pgslides.adapters.themecache import ENV_SWITCH, ThemeBytecode
from sites import make_site, mkdocs_build


class CountingEnvironment(jinja2.Environment):
    """Counts the templates it compiles."""

    compiled = 0

    def compile(self, *args: Any, **kwargs: Any) -> Any:
        type(self).compiled += 1
        return super().compile(*args, **kwargs)


def render(folder: Path, cache: ThemeBytecode, **settings: Any) -> tuple[str, int]:
    """`page.html` rendered by a fresh environment (as MkDocs makes one per build); what it
    says, and how many templates that environment compiled."""
    CountingEnvironment.compiled = 0
    env = CountingEnvironment(
        loader=jinja2.FileSystemLoader(str(folder)), bytecode_cache=cache, **settings
    )
    return env.get_template("page.html").render(who="reader"), CountingEnvironment.compiled


def templates(tmp_path: Path) -> Path:
    folder = tmp_path / "templates"
    folder.mkdir()
    (folder / "base.html").write_text("<h1>{% block title %}{% endblock %}</h1>\n")
    (folder / "page.html").write_text(
        '{% extends "base.html" %}{% block title %}Hello, {{ who }}{% endblock %}'
    )
    return folder


def test_a_template_is_compiled_once_per_machine(tmp_path: Path):
    folder, disk = templates(tmp_path), tmp_path / "cache"
    assert render(folder, ThemeBytecode(disk)) == ("<h1>Hello, reader</h1>", 2)
    assert len(list(disk.iterdir())) == 2
    # The next build in this process (serve), and a later build in another (a fresh cache).
    cache = ThemeBytecode(disk)
    assert render(folder, cache) == ("<h1>Hello, reader</h1>", 0)
    assert render(folder, cache) == ("<h1>Hello, reader</h1>", 0)


def test_an_edited_template_is_compiled_again_never_taken_stale(tmp_path: Path):
    folder, disk = templates(tmp_path), tmp_path / "cache"
    cache = ThemeBytecode(disk)
    render(folder, cache)
    (folder / "base.html").write_text("<h2>{% block title %}{% endblock %}</h2>\n")
    assert render(folder, cache) == ("<h2>Hello, reader</h2>", 1)
    assert render(folder, ThemeBytecode(disk)) == ("<h2>Hello, reader</h2>", 0)


def test_another_syntax_compiles_apart(tmp_path: Path):
    folder, disk = templates(tmp_path), tmp_path / "cache"
    (folder / "page.html").write_text("<<who>>{{ who }}")
    cache = ThemeBytecode(disk)
    assert render(folder, cache) == ("<<who>>reader", 1)
    other = {"variable_start_string": "<<", "variable_end_string": ">>"}
    assert render(folder, cache, **other) == ("reader{{ who }}", 1)
    assert render(folder, cache) == ("<<who>>reader", 0)


def test_a_cache_folder_that_cannot_be_made_leaves_the_memory(tmp_path: Path):
    folder = templates(tmp_path)
    (tmp_path / "file").write_text("not a folder")
    cache = ThemeBytecode(tmp_path / "file" / "cache")
    assert render(folder, cache) == ("<h1>Hello, reader</h1>", 2)
    assert render(folder, cache) == ("<h1>Hello, reader</h1>", 0)


def test_a_site_built_with_compiled_templates_is_the_site_built_without(tmp_path: Path):
    deck = "# A deck\n\nNo live block: no server needed.\n"
    sites = {}
    for name, switch in (("cold", "0"), ("first", "1"), ("again", "1")):
        site = make_site(tmp_path / name, {"deck.md": deck}, database_url="")
        home = tmp_path / "home"
        env = {"HOME": str(home), "XDG_CACHE_HOME": str(home / ".cache"), ENV_SWITCH: switch}
        result = mkdocs_build(site.root, env=env)
        assert result.returncode == 0, result.stderr
        sites[name] = site.site_dir
        cached = home / ".cache" / "pgslides" / "theme-bytecode"
        assert cached.exists() == (name != "cold")
    for name in ("first", "again"):
        assert contents(sites[name]) == contents(sites["cold"]), name


def contents(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_a_filter_that_takes_the_context_elsewhere_compiles_apart(tmp_path: Path):
    """Jinja compiles into the code whether a filter is passed the context: a template compiled
    where `f` takes it must not be run where `f` does not."""
    folder, cache = templates(tmp_path), ThemeBytecode(tmp_path / "cache")
    (folder / "page.html").write_text("{{ who | f }}")

    @jinja2.pass_context
    def with_context(_context: Any, value: str) -> str:
        return f"context:{value}"

    def plain(value: str) -> str:
        return f"plain:{value}"

    for f, said in ((with_context, "context:reader"), (plain, "plain:reader")):
        loader = jinja2.FileSystemLoader(str(folder))
        env = jinja2.Environment(loader=loader, bytecode_cache=cache, autoescape=True)
        env.filters["f"] = f
        assert env.get_template("page.html").render(who="reader") == said
