"""The deck parser: separators, fences, notes, front matter and every option error, by line."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from pgslides.parse.deck import Block, BlockOptions, DeckError, parse_deck, read_deck


def parse(text: str):
    return parse_deck(textwrap.dedent(text).lstrip("\n"), "slides/deck.md")


def slide_texts(deck) -> list[str]:
    return ["".join(p for p in slide.parts if isinstance(p, str)).strip() for slide in deck.slides]


def test_front_matter_title_subtitle_and_setup():
    deck = parse(
        """
        ---
        title: What could possibly go wrong?
        subtitle: PostgreSQL and Python
        sql:
          setup: [sql/users.sql]
          timezone: Europe/Paris
        ---

        # Hello
        """
    )
    assert deck.title == "What could possibly go wrong?"
    assert deck.subtitle == "PostgreSQL and Python"
    assert deck.settings.setup == ("sql/users.sql",)
    assert deck.settings.timezone == "Europe/Paris"
    assert slide_texts(deck) == ["# Hello"]
    assert deck.slides[0].line == 9


def test_title_falls_back_to_the_first_heading():
    deck = parse("# First\n\n---\n\n# Second\n")
    assert deck.title == "First"
    assert deck.subtitle is None


def test_separator_needs_a_blank_line_above():
    deck = parse(
        """
        # One

        ---

        Setext heading
        ---

        text
        ---
        """
    )
    assert len(deck.slides) == 2
    assert slide_texts(deck)[1] == "Setext heading\n---\n\ntext\n---"
    assert deck.slides[1].line == 5


def test_separator_inside_fences_of_any_length_is_content():
    deck = parse(
        """
        # One

        ````markdown
        ```sql exec
        SELECT 1;
        ```

        ---
        ````

        ~~~~~

        ---
        ~~~~~

        ---

        # Two
        """
    )
    assert [slide.number for slide in deck.slides] == [1, 2]
    assert deck.blocks == ()  # a live block shown inside another fence is an example, not live
    assert "```sql exec" in slide_texts(deck)[0]


def test_a_shorter_fence_does_not_close_a_longer_one():
    deck = parse("````\n```\n\n---\n````\n\n---\n\nlast\n")
    assert slide_texts(deck) == ["````\n```\n\n---\n````", "last"]


def test_first_slide_may_start_with_a_separator():
    deck = parse("---\ntitle: T\n---\n\n---\n\n# A\n")
    assert slide_texts(deck) == ["# A"]
    assert deck.slides[0].number == 1


def test_notes_belong_to_their_slide_and_blocks_in_notes_run_there():
    deck = parse(
        """
        # One

        ???
        Say *hello*.

        ```sql exec
        SELECT 'a backup query';
        ```

        ---

        # Two
        """
    )
    one, two = deck.slides
    assert one.notes is not None
    assert one.notes.startswith("Say *hello*.")
    # A block in the notes is live: it runs in file order and renders in the notes.
    (block,) = deck.blocks
    assert block.in_notes
    assert block.sql == "SELECT 'a backup query';\n"
    assert one.notes_blocks == (block,)
    assert one.blocks == ()
    assert 'pgslides block="0"' in (one.notes_markdown or "")
    assert "pgslides" not in one.markdown
    assert two.notes is None


def test_live_block_with_its_line_and_options():
    deck = parse(
        """
        # Slide

        ```sql exec session=alice show=result expect=23503 rows=5 format=expanded timeout=500ms title="A caption, quoted"
        INSERT INTO t VALUES (1);
        ```

        ```sql
        SELECT 'only highlighted';
        ```
        """
    )
    (block,) = deck.blocks
    assert block == Block(
        index=0,
        line=3,
        sql="INSERT INTO t VALUES (1);\n",
        options=BlockOptions(
            session="alice",
            show="result",
            expect="23503",
            rows=5,
            format="expanded",
            timeout_ms=500,
            title="A caption, quoted",
        ),
    )
    assert block.sql_line == 4
    assert "SELECT 'only highlighted';" in slide_texts(deck)[0]


def test_blocks_are_numbered_in_file_order_across_slides():
    deck = parse("```sql exec\nSELECT 1;\n```\n\n---\n\n```sql exec\nSELECT 2;\n```\n")
    assert [(block.index, block.line) for block in deck.blocks] == [(0, 1), (1, 7)]


@pytest.mark.parametrize(
    ("info", "message"),
    [
        (
            "sql exec sesion=bob",
            "unknown option 'sesion'; did you mean 'session'? valid options: session, show, expect, rows, format, timeout, title, grace, prompt, "
            "steps, hl, chart, x, y",
        ),
        (
            "sql exec show=all",
            "bad value 'all' for option show; valid choices: both, result, source, none",
        ),
        (
            "sql exec format=csv",
            "bad value 'csv' for option format; valid choices: table, text, expanded, json, plan",
        ),
        (
            "sql exec expect=oops",
            "bad value 'oops' for option expect; valid choices: ok, error, or a 5-character SQLSTATE such as 23503",
        ),
        ("sql exec rows=-1", "bad value '-1' for option rows; expected a whole number ≥ 0"),
        ("sql exec rows=many", "bad value 'many' for option rows; expected a whole number ≥ 0"),
        (
            "sql exec timeout=5",
            "bad value '5' for option timeout; expected a duration like 500ms, 5s or 1min",
        ),
        (
            "sql exec timeout=0s",
            "bad value '0s' for option timeout; expected a duration like 500ms, 5s or 1min",
        ),
        (
            "sql exec session=1abc",
            "bad value '1abc' for option session; a session name is a letter or _ followed by letters, digits or _",
        ),
        ("sql exec show=result show=none", "option 'show' is given twice"),
        ("sql exec result", "option 'result' has no value; write key=value (e.g. show=result)"),
        ('sql exec title="unclosed', "cannot read the block options: No closing quotation"),
    ],
)
def test_option_errors_name_file_line_and_choices(info: str, message: str):
    with pytest.raises(DeckError) as caught:
        parse(f"# Slide\n\ntext\n\n```{info}\nSELECT 1;\n```\n")
    assert str(caught.value) == f"slides/deck.md:5: {message}"
    assert caught.value.line == 5


def test_unclosed_live_block_names_its_opening_line():
    with pytest.raises(
        DeckError, match=r"^slides/deck.md:3: live block is never closed: no ``` line below it$"
    ):
        parse("# A\n\n```sql exec\nSELECT 1;\n")


@pytest.mark.parametrize(
    ("front_matter", "line", "message"),
    [
        (
            "sql:\n  setpu: [a.sql]\n",
            3,
            "unknown sql setting 'setpu'; did you mean 'setup'? valid sql settings: setup, timezone, isolation, max_rows, statement_timeout, prompt, superuser",
        ),
        (
            "sql:\n  isolation: cluster\n",
            3,
            "bad value 'cluster' for sql setting isolation; valid choices: database, schema, none",
        ),
        (
            "sql:\n  setup: 3\n",
            3,
            "bad value 3 for sql setting setup; expected a list of SQL file paths relative to the deck",
        ),
        ("sql: [1]\n", 2, "'sql' must be a mapping"),
        # YAML's `yes` is true, and True is Python's 1: refused, never read as one row.
        (
            "sql:\n  max_rows: yes\n",
            3,
            "bad value True for sql setting max_rows; expected a whole number ≥ 0",
        ),
        (
            "sql:\n  statement_timeout: 10\n",
            3,
            "bad value 10 for sql setting statement_timeout; expected a duration like 500ms, 5s or 1min",
        ),
        (
            "sql:\n  prompt: maybe\n",
            3,
            "bad value 'maybe' for sql setting prompt; valid choices: true, false",
        ),
        (
            "setup: [users.sql]\n",
            2,
            "'setup' is an sql setting and does nothing at the top level: indent it under sql:",
        ),
        (
            "title: [unclosed\n",
            3,
            "front matter is not valid YAML: expected ',' or ']', but got '<stream end>'",
        ),
    ],
)
def test_front_matter_errors(front_matter: str, line: int, message: str):
    with pytest.raises(DeckError) as caught:
        parse_deck(f"---\n{front_matter}---\n\n# A\n", "slides/deck.md")
    assert str(caught.value) == f"slides/deck.md:{line}: {message}"


def test_front_matter_without_its_closing_line_is_an_error_not_a_lost_slide():
    message = (
        "slides/deck.md:1: front matter is never closed: add a line --- after its last setting"
    )
    # The --- of the next slide would close it, and YAML would read `# Title` as a comment.
    with pytest.raises(DeckError) as caught:
        parse_deck("---\ntitle: T\n\n# Title slide\n\n---\n\n## Two\n", "slides/deck.md")
    assert str(caught.value) == message
    with pytest.raises(DeckError) as caught:
        parse_deck("---\ntitle: T\n\n# Title slide\n", "slides/deck.md")
    assert str(caught.value) == message


def test_a_yaml_comment_after_a_blank_line_is_a_comment():
    deck = parse_deck(
        "---\ntitle: T\n\n# SQL settings\nsql:\n  max_rows: 3\n---\n\n# One\n", "d.md"
    )
    assert deck.title == "T"
    assert deck.settings.max_rows == 3
    assert len(deck.slides) == 1


def test_a_deck_that_starts_with_a_separator_is_not_front_matter():
    deck = parse_deck("---\n\n# One\n\n---\n\n# Two\n", "slides/deck.md")
    assert [slide.number for slide in deck.slides] == [1, 2]


def test_an_unclosed_plain_fence_in_the_middle_warns_at_its_line():
    # The ``` that closes the live block closes the python fence instead (as Markdown sees it).
    text = "# One\n\n```python\nx = 1\n\n---\n\n```sql exec\nSELECT 1;\n```\n"
    deck = parse_deck(text, "slides/deck.md")
    assert deck.blocks == ()
    assert [str(w) for w in deck.warnings] == [
        "slides/deck.md:3: the code fence opened here takes in the ```sql exec below it as "
        "code: is its closing ``` missing?"
    ]


def test_an_unclosed_plain_fence_at_the_end_is_an_error_at_its_line():
    with pytest.raises(DeckError) as caught:
        parse_deck("# One\n\n```python\nx = 1\n", "slides/deck.md")
    assert str(caught.value) == "slides/deck.md:3: code fence is never closed: no ``` line below it"


def test_a_fence_closes_only_at_its_own_length_as_superfences_decides():
    # ```` opens; ``` inside it is content, so the live block inside is code, not a block.
    text = "````markdown\n```sql exec\nSELECT 1;\n```\n````\n\n```sql exec\nSELECT 2;\n```\n"
    deck = parse_deck(text, "d.md")
    assert [block.sql for block in deck.blocks] == ["SELECT 2;\n"]


def test_a_live_block_in_a_container_loses_the_container_indent():
    deck = parse("!!! note\n\n    ```sql exec\n    SELECT 1\n      + 1;\n    ```\n")
    assert deck.blocks[0].sql == "SELECT 1\n  + 1;\n"


def test_read_deck_reports_bad_encoding_with_its_line(tmp_path: Path):
    path = tmp_path / "deck.md"
    path.write_bytes(b"# A\n\nfine\n\xff broken\n")
    with pytest.raises(DeckError, match=r"^slides/deck.md:4: not UTF-8 text \(byte 0xff\)$"):
        read_deck(path, "slides/deck.md")


def test_crlf_line_endings_parse_like_lf():
    deck = parse_deck("# A\r\n\r\n---\r\n\r\n```sql exec\r\nSELECT 1;\r\n```\r\n", "d.md")
    assert len(deck.slides) == 2
    assert deck.blocks[0].line == 5
    assert deck.blocks[0].sql == "SELECT 1;\n"
