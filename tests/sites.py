"""Small MkDocs sites with pgslides decks, built for real, and a little HTML tree to read them."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import psutil
import yaml
from mkdocs.commands.build import build
from mkdocs.config import load_config

from pgslides.adapters.mkdocs import PgSlidesPlugin
from pgslides.run.server import Server

BIN = Path(sys.executable).parent


def database_url(server: Server) -> str:
    """The test server as a database_url: DATABASE_URL when set, else the embedded one's socket."""
    url = os.environ.get("DATABASE_URL")
    if url:
        return url
    params = server.connect_params()
    # The embedded server listens on a unix socket: its host is a directory, given as a query.
    query = urlencode({"host": params["host"], "port": params["port"]})
    return f"postgresql://{params['user']}@/{params['dbname']}?{query}"


def with_options(url: str, options: str) -> str:
    """url with libpq `options` (e.g. `-c name=value`) added to its query."""
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}{urlencode({'options': options})}"


@dataclass
class Site:
    root: Path
    use_directory_urls: bool = False

    @property
    def config_file(self) -> Path:
        return self.root / "mkdocs.yml"

    @property
    def site_dir(self) -> Path:
        return self.root / "site"

    def page_path(self, src_uri: str) -> Path:
        """The built file of a page, as MkDocs names it."""
        stem = src_uri.removesuffix(".md")
        if not self.use_directory_urls:
            return self.site_dir / f"{stem}.html"
        if stem == "index" or stem.endswith("/index"):
            return self.site_dir / f"{stem}.html"
        return self.site_dir / stem / "index.html"

    def page(self, src_uri: str) -> Node:
        return parse_html(self.page_path(src_uri).read_text(encoding="utf-8"))


def make_site(
    root: Path,
    pages: dict[str, str],
    *,
    database_url: str,
    use_directory_urls: bool = False,
    **options: Any,
) -> Site:
    """Write mkdocs.yml (docs_dir `slides`) and the pages (dedented) into root."""
    plugin = {"database_url": database_url, **options}
    config = {
        "site_name": "pgslides test",
        "docs_dir": "slides",
        "site_dir": "site",
        "use_directory_urls": use_directory_urls,
        "theme": {"name": "material", "font": False},
        "plugins": ["search", {"pgslides": plugin}],
    }
    root.mkdir(parents=True, exist_ok=True)
    (root / "mkdocs.yml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    for src_uri, text in pages.items():
        path = root / "slides" / src_uri
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(deck_text(text), encoding="utf-8")
    return Site(root, use_directory_urls)


def built_page(root: Path, name: str, text: str, server: Server) -> Node:
    """Build a one-deck site on the test server and return its page's HTML tree."""
    site = make_site(root, {name: text}, database_url=database_url(server))
    build_site(site)
    return site.page(name)


def deck_text(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def fence_line(text: str, marker: str) -> int:
    """The 1-based line of the one ```sql exec fence whose line contains marker."""
    lines = [
        number
        for number, line in enumerate(deck_text(text).splitlines(), start=1)
        if line.startswith("```sql exec") and marker in line
    ]
    assert len(lines) == 1, f"{marker!r} is on fences {lines}"
    return lines[0]


def load(site: Site) -> tuple[Any, PgSlidesPlugin]:
    config = load_config(config_file=str(site.config_file))
    plugin = config.plugins["pgslides"]
    assert isinstance(plugin, PgSlidesPlugin)
    return config, plugin


def build_site(site: Site, command: str = "build") -> PgSlidesPlugin:
    """Build in this process as `mkdocs build` does: startup, build, shutdown.

    MkDocs caches a plugin with on_startup per process, so every build must say its command.
    """
    config, plugin = load(site)
    config.plugins.on_startup(command=command, dirty=False)
    try:
        build(config)
    finally:
        config.plugins.on_shutdown()
    return plugin


def run(
    args: list[str], cwd: Path, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """args run from cwd, with this process's environment and `env` over it."""
    environment = {**os.environ, "NO_MKDOCS_2_WARNING": "1", **(env or {})}
    return subprocess.run(
        args, cwd=cwd, env=environment, capture_output=True, text=True, timeout=120, check=False
    )


def mkdocs_build(
    cwd: Path, *args: str, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`mkdocs build --strict` run from cwd (with `env` over this process's environment)."""
    return run([str(BIN / "mkdocs"), "build", "--strict", *args], cwd, env)


def without_fit(messages: list[str]) -> list[str]:
    """Messages less the warnings about slides too large for the stage (test_fit's business)."""
    return [message for message in messages if " will be presented at about " not in message]


def log_messages(stderr: str, level: str) -> list[str]:
    """The messages of MkDocs' log lines at one level (`ERROR   -  message`)."""
    prefix = f"{level:<8}-  "
    return [line[len(prefix) :] for line in stderr.splitlines() if line.startswith(prefix)]


# --- a small HTML tree ---------------------------------------------------------------------------

VOID = frozenset(
    "area base br col embed hr img input link meta source track wbr".split()  # noqa: SIM905
)


@dataclass
class Node:
    tag: str
    attrs: dict[str, str] = field(default_factory=dict)
    children: list[Node | str] = field(default_factory=list)

    @property
    def classes(self) -> list[str]:
        return self.attrs.get("class", "").split()

    @property
    def text(self) -> str:
        return "".join(child if isinstance(child, str) else child.text for child in self.children)

    def iter(self) -> Iterator[Node]:
        for child in self.children:
            if isinstance(child, Node):
                yield child
                yield from child.iter()

    def find_all(
        self, tag: str | None = None, class_: str | None = None, **attrs: str | bool
    ) -> list[Node]:
        """Descendants by tag, class and attributes (True: present, a string: that value)."""
        return [node for node in self.iter() if _matches(node, tag, class_, attrs)]

    def find(self, tag: str | None = None, class_: str | None = None, **attrs: str | bool) -> Node:
        """The one descendant that matches; fails when there is none or several."""
        found = self.find_all(tag, class_, **attrs)
        assert len(found) == 1, f"{len(found)} elements match {tag} {class_} {attrs}"
        return found[0]

    def block(self, line: int) -> Node:
        """The live block whose fence is at line."""
        return self.find(data_sql_block=True, data_line=str(line))


def _matches(node: Node, tag: str | None, class_: str | None, attrs: dict[str, Any]) -> bool:
    if tag is not None and node.tag != tag:
        return False
    if class_ is not None and class_ not in node.classes:
        return False
    for key, wanted in attrs.items():
        name = key.replace("_", "-")
        if wanted is True and name not in node.attrs:
            return False
        if wanted is not True and node.attrs.get(name) != wanted:
            return False
    return True


class _TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document")
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {key: value or "" for key, value in attrs})
        self.stack[-1].children.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.stack[-1].children.append(Node(tag, {key: value or "" for key, value in attrs}))

    def handle_endtag(self, tag: str) -> None:
        for depth in range(len(self.stack) - 1, 0, -1):
            if self.stack[depth].tag == tag:
                del self.stack[depth:]
                return

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(data)


def parse_html(html: str) -> Node:
    builder = _TreeBuilder()
    builder.feed(html)
    builder.close()
    return builder.root


def table_cells(table: Node) -> list[list[tuple[str, str]]]:
    """A table's body as rows of (class attribute, text) per cell."""
    body = table.find("tbody")
    return [
        [(cell.attrs.get("class", ""), cell.text) for cell in row.find_all("td")]
        for row in body.find_all("tr")
    ]


def header_cells(table: Node) -> list[tuple[str, str]]:
    return [(cell.attrs.get("class", ""), cell.text) for cell in table.find("thead").find_all("th")]


# --- private embedded servers ---


def postgres_processes(data_dir: Path) -> list[psutil.Process]:
    """Every process of a server on data_dir: its postmaster names it, every child works in it."""
    data_dir = data_dir.resolve()
    found = []
    for proc in psutil.process_iter(["cmdline", "cwd"], ad_value=None):
        cmdline, cwd = proc.info["cmdline"] or [], proc.info["cwd"]
        if str(data_dir) in cmdline or (cwd and Path(cwd) == data_dir):
            found.append(proc)
    return found


def stop_servers(data_dir: Path) -> None:
    """Stop a server a test left on data_dir: immediate shutdown, then kill what remains."""
    procs = postgres_processes(data_dir)
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            if str(data_dir.resolve()) in proc.cmdline():
                proc.send_signal(signal.SIGQUIT)
    _, alive = psutil.wait_procs(procs, timeout=5)
    for proc in alive:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    psutil.wait_procs(alive, timeout=5)
