"""A deck's page through the real Markdown parser: blocks render where Markdown puts their
fence, inside any container, exactly once; slides and notes are cut where the deck says; no
internal marker ever reaches a page. No database: blocks are stand-in HTML here."""

from __future__ import annotations

from collections.abc import Iterator

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from markupsafe import Markup

from pages import convert
from pgslides.parse.deck import Deck, parse_deck
from pgslides.render.page import MARKER_TEXT
from sites import Node, parse_html

# How each container is written around a live block, and how to know it in the HTML.
CONTAINERS = {
    "top": ("{fence}", None),
    "admonition": ('!!! note "A note"\n\n{indented}', ("div", "admonition")),
    "details": ('??? tip "More"\n\n{indented}', ("details", None)),
    "list": ("- an item\n\n{indented}", ("li", None)),
    "tabs": ('=== "Tab"\n\n{indented}', ("div", "tabbed-set")),
    "html": ('<div markdown="1" class="box">\n\n{fence}\n\n</div>', ("div", "box")),
}


def fence(sql: str) -> str:
    return f"```sql exec\n{sql}\n```"


def stand_ins(deck: Deck) -> dict[int, Markup]:
    return {
        # Stand-ins for rendered blocks: markup made here, from a number.
        block.index: Markup(f'<div data-sql-block data-test="{block.index}">B{block.index}</div>')  # noqa: S704
        for block in deck.blocks
    }


def with_ancestors(node: Node, path: tuple[Node, ...] = ()) -> Iterator[tuple[Node, tuple]]:
    for child in node.children:
        if isinstance(child, Node):
            yield child, path
            yield from with_ancestors(child, (*path, child))


def placed(html: str) -> dict[str, list[tuple[Node, ...]]]:
    """For each stand-in block, the ancestors of every copy of it on the page."""
    found: dict[str, list[tuple[Node, ...]]] = {}
    for node, path in with_ancestors(parse_html(html)):
        if "data-test" in node.attrs:
            found.setdefault(node.attrs["data-test"], []).append(path)
    return found


def inside(path: tuple[Node, ...], tag: str, class_: str | None) -> bool:
    return any(n.tag == tag and (class_ is None or class_ in n.classes) for n in path)


def slide_of(path: tuple[Node, ...]) -> str:
    return next(n.attrs["id"] for n in path if "slide" in n.classes and n.tag == "section")


# One slide: items, each a container kind (None: prose, no block) and whether it is in the notes.
items = st.lists(
    st.tuples(st.sampled_from([*CONTAINERS, None]), st.booleans()), min_size=1, max_size=5
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(items, min_size=1, max_size=4))
def test_every_block_renders_once_inside_its_container_on_its_slide(slides_spec):
    texts = []
    expected = []  # (slide number, container, in notes) per block, in file order
    for number, spec in enumerate(slides_spec, start=1):
        body, notes = [f"# Slide {number}"], []
        # In file order: the slide's items, then those of its notes.
        for kind, in_notes in sorted(spec, key=lambda item: item[1]):
            target = notes if in_notes else body
            if kind is None:
                target.append("Some *prose*, and a plain fence:\n\n```sql\nSELECT 0;\n```")
                continue
            sql = f"SELECT {len(expected)};"
            template, _ = CONTAINERS[kind]
            indented = "\n".join("    " + line for line in fence(sql).splitlines())
            target.append(template.format(fence=fence(sql), indented=indented))
            expected.append((number, kind, in_notes))
        text = "\n\n".join(body)
        if notes:
            text += "\n\n???\n" + "\n\n".join(notes)
        texts.append(text)
    deck = parse_deck("\n\n---\n\n".join(texts) + "\n", "slides/deck.md")
    assert len(deck.slides) == len(slides_spec)
    assert len(deck.blocks) == len(expected)

    html, problems = convert(deck, stand_ins(deck))

    assert problems == []
    assert not MARKER_TEXT.search(html)
    copies = placed(html)
    assert sorted(copies, key=int) == [str(i) for i in range(len(expected))]
    for index, (number, kind, in_notes) in enumerate(expected):
        (path,) = copies[str(index)]  # exactly once
        assert slide_of(path) == f"slide-{number}"
        assert inside(path, "aside", "notes") == in_notes
        container = CONTAINERS[kind][1]
        if container is not None:
            assert inside(path, *container), (kind, html)


def test_a_block_in_speaker_notes_stays_in_the_notes_and_leaves_the_next_slide_alone():
    deck = parse_deck(
        "# One\n\n???\nSay it.\n\n```sql exec\nSELECT 1;\n```\n\n---\n\n# Two\n\n---\n\n# Three\n",
        "slides/deck.md",
    )
    html, problems = convert(deck, stand_ins(deck))
    assert problems == []
    page = parse_html(html)
    sections = page.find_all("section", class_="slide")
    assert [s.attrs["id"] for s in sections] == ["slide-1", "slide-2", "slide-3"]
    assert [s.attrs["aria-label"] for s in sections] == ["1 of 3", "2 of 3", "3 of 3"]
    notes = sections[0].find("aside", class_="notes")
    assert notes.find(data_test="0").text == "B0"
    assert sections[1].find("h1").text == "Two"
    assert "pgslides" not in html


def test_mistyped_fences_warn_render_as_code_and_swallow_nothing():
    text = (
        "# One\n\n```sql exex\nSELECT 'typo';\n```\n\n```SQL exec\nSELECT 2;\n```\n\n"
        "```postgresql exec\nSELECT 3;\n```\n\n```sqlexec\nSELECT 4;\n```\n\n"
        "```python exex\nprint(5)\n```\n\n```sql exec\nSELECT 'live';\n```\n"
    )
    deck = parse_deck(text, "slides/deck.md")
    assert [str(w) for w in deck.warnings] == [
        f"slides/deck.md:{line}: fence ```{info} looks like a mistyped live block; "
        f"did you mean ```{intended}? It is shown as code, not run"
        for line, info, intended in [
            (3, "sql exex", "sql exec"),
            (7, "SQL exec", "sql exec"),
            (11, "postgresql exec", "sql exec"),
            (15, "sqlexec", "sql exec"),
            (19, "python exex", "python exec"),
        ]
    ]
    assert all(w.severity == "warning" for w in deck.warnings)
    (block,) = deck.blocks
    assert block.sql == "SELECT 'live';\n"
    html, problems = convert(deck, stand_ins(deck))
    assert problems == []
    page = parse_html(html)
    assert page.find(data_test="0").text == "B0"
    # Each typo is a code block of its own, not inline code running into the next fence.
    codes = [node.text for node in page.find_all("code")]
    assert "SELECT 'typo';" in "".join(codes)
    assert len(page.find_all("pre")) == 5


def test_real_live_blocks_and_plain_fences_are_not_typos():
    deck = parse_deck(
        "```sql exec\nSELECT 1;\n```\n\n```sql\nSELECT 2;\n```\n\n```python\nx = 1\n```\n"
        "\n```bash\nexec foo\n```\n",
        "d.md",
    )
    assert deck.warnings == ()
    assert len(deck.blocks) == 1


def test_a_block_markdown_takes_for_code_is_a_problem_with_its_line():
    # Under a paragraph's indented code, Markdown shows the fence as code: said, not lost.
    text = "# One\n\n    code\n    ```sql exec\n    SELECT 1;\n    ```\n"
    deck = parse_deck(text, "slides/deck.md")
    _html, problems = convert(deck, stand_ins(deck))
    assert [str(p) for p in problems] == [
        "slides/deck.md:4: live block shows as text, not as its outcome: Markdown took its "
        "fence for something else (indented as code? inside inline code?)"
    ]


def test_a_block_rendered_twice_is_a_problem_with_its_line():
    # An author's own placeholder fence: the block it names would appear twice.
    text = '# One\n\n```sql exec\nSELECT 1;\n```\n\n```pgslides block="0"\nx\n```\n'
    deck = parse_deck(text, "slides/deck.md")
    _html, problems = convert(deck, stand_ins(deck))
    assert [str(p) for p in problems] == [
        "slides/deck.md:3: live block rendered 2 times by Markdown: each block must appear "
        "once on its page (is another fence naming it, or is it inside an HTML comment?)"
    ]


def test_a_slide_separator_inside_raw_html_is_a_problem_not_a_torn_page():
    text = '# One\n\n<div markdown="1">\n\nA\n\n---\n\nB\n\n</div>\n'
    deck = parse_deck(text, "slides/deck.md")
    _html, problems = convert(deck, stand_ins(deck))
    assert [str(p) for p in problems] == [
        f"slides/deck.md:{line}: slide {number} is cut through an HTML element: a raw HTML "
        "block (a <div>, say) runs across the --- or ??? line; close it on the slide that "
        "opens it"
        for number, line in [(1, 1), (2, 9)]
    ]
