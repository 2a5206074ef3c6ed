"""The `pgslides` command, run as a user runs it: a subprocess in a site's directory."""

from __future__ import annotations

import subprocess
from importlib import metadata
from pathlib import Path

import pytest

from sites import BIN, make_site, mkdocs_build, run, with_options

GOOD = """
---
title: Good
---

# Good

```sql exec
CREATE TABLE t (x integer);
```

---

```sql exec expect=42P01
SELECT * FROM nope;
```
"""

BAD = """
# Bad

```sql exec
SELECT * FROM userz;
```

```sql exec
SELECT 'fine';
```

---

```sql exec expect=23505
SELECT 'no error here';
```

```sql exec expect=23505
SELECT 1 / 0;
```
"""

BAD_PROBLEMS = [
    'slides/bad.md:3: ERROR:  relation "userz" does not exist (42P01)',
    "slides/bad.md:13: expected error 23505, but the block ran without error",
    "slides/bad.md:17: expected error 23505, got ERROR:  division by zero (22012)",
]


def pgslides(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run([str(BIN / "pgslides"), *args], cwd)


def test_version():
    completed = pgslides(Path.cwd(), "--version")
    assert completed.returncode == 0
    assert completed.stdout == f"pgslides {metadata.version('pgslides')}\n"


def test_check_good_deck_prints_nothing_and_exits_0(tmp_path: Path, url: str):
    make_site(tmp_path, {"index.md": "# Decks\n", "good.md": GOOD}, database_url=url)
    completed = pgslides(tmp_path, "check")
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert completed.stdout == ""
    assert without_superuser_note(completed.stderr) == "pgslides: 1 deck checked, 0 problems\n"
    assert not (tmp_path / "site").exists()


def test_check_prints_each_failing_block_as_file_line(tmp_path: Path, url: str):
    make_site(tmp_path, {"good.md": GOOD, "bad.md": BAD}, database_url=url)
    completed = pgslides(tmp_path, "check")
    assert completed.returncode == 1
    assert completed.stdout.splitlines() == BAD_PROBLEMS
    assert without_superuser_note(completed.stderr) == "pgslides: 2 decks checked, 3 problems\n"
    assert "Traceback" not in completed.stderr
    assert not (tmp_path / "site").exists()


def test_check_named_decks_only(tmp_path: Path, url: str):
    make_site(tmp_path, {"good.md": GOOD, "bad.md": BAD}, database_url=url)
    completed = pgslides(tmp_path, "check", "slides/good.md")
    assert completed.returncode == 0
    assert completed.stdout == ""
    assert without_superuser_note(completed.stderr) == "pgslides: 1 deck checked, 0 problems\n"


def test_check_bad_option_names_file_and_line(tmp_path: Path, url: str):
    deck = "# Bad option\n\n```sql exec show=all\nSELECT 1;\n```\n"
    make_site(tmp_path, {"good.md": GOOD, "deck.md": deck}, database_url=url)
    completed = pgslides(tmp_path, "check")
    assert completed.returncode == 1
    assert completed.stdout.splitlines() == [
        "slides/deck.md:3: bad value 'all' for option show; valid choices: both, result, source, none"
    ]
    assert "Traceback" not in completed.stderr
    assert not (tmp_path / "site").exists()


def test_check_unreachable_database_is_one_line_without_password(tmp_path: Path):
    make_site(
        tmp_path,
        {"deck.md": GOOD},
        database_url="postgresql://postgres:S3cr%40t-pw@127.0.0.1:1/postgres",
    )
    completed = pgslides(tmp_path, "check")
    assert completed.returncode == 2
    assert completed.stdout == ""
    (line,) = completed.stderr.splitlines()
    assert line.startswith(
        "pgslides: cannot connect to postgresql://postgres:***@127.0.0.1:1/postgres: "
    )
    for secret in ("S3cr@t-pw", "S3cr%40t-pw"):
        assert secret not in completed.stderr


def test_check_without_config_file_says_so(tmp_path: Path):
    completed = pgslides(tmp_path, "check")
    assert completed.returncode == 2
    assert completed.stdout == ""
    assert completed.stderr == "pgslides: cannot read mkdocs.yml: No such file or directory\n"


def test_check_server_refusing_to_create_the_deck_database_is_one_line(tmp_path: Path, url: str):
    read_only = with_options(url, "-c default_transaction_read_only=on")
    make_site(tmp_path, {"deck.md": GOOD}, database_url=read_only)
    completed = pgslides(tmp_path, "check")
    assert "Traceback" not in completed.stderr
    assert completed.returncode == 2
    (line,) = without_superuser_note(completed.stderr).splitlines()
    assert line.startswith("pgslides: ")
    assert "read-only transaction" in line


DRIFTING = """
# Drift

```sql exec
CREATE TABLE t (id int, name text);
INSERT INTO t VALUES (1, 'a'), (2, 'b');
SELECT name FROM t;
```

```sql exec
SELECT now() > '2000-01-01' AS later, (SELECT count(*) FROM t) AS n ORDER BY 1;
```
"""


def test_check_against_cache_reports_drift_and_unordered_rows(tmp_path: Path, url: str):
    make_site(tmp_path, {"deck.md": DRIFTING}, database_url=url)
    assert pgslides(tmp_path, "check").returncode == 0  # stores the outcome
    (cache_file,) = (tmp_path / ".pgslides-cache").iterdir()
    # Pretend the stored run saw other rows: today's run must notice.
    cache_file.write_text(cache_file.read_text().replace('"b"', '"z"'))
    completed = pgslides(tmp_path, "check", "--against-cache")
    assert completed.returncode == 1
    assert completed.stdout.splitlines() == [
        "slides/deck.md:6: output differs from the cache: the rows shown changed",
        "warning: slides/deck.md:6: 2 rows from a query without ORDER BY: their order is not guaranteed; add ORDER BY",
    ]


def test_check_against_cache_without_a_stored_outcome(tmp_path: Path, url: str):
    make_site(tmp_path, {"deck.md": GOOD}, database_url=url)
    completed = pgslides(tmp_path, "check", "--against-cache")
    assert completed.returncode == 1
    assert completed.stdout.splitlines()[0] == (
        "slides/deck.md:1: nothing stored for the deck as it is now; build it once first"
    )


def test_build_uses_the_cache_and_refresh_runs_again(tmp_path: Path, url: str):
    make_site(tmp_path, {"deck.md": GOOD}, database_url=url)
    first = pgslides(tmp_path, "build")
    second = pgslides(tmp_path, "build")
    refreshed = pgslides(tmp_path, "build", "--refresh")
    assert [c.returncode for c in (first, second, refreshed)] == [0, 0, 0]
    assert "pgslides: 1 deck: 1 run, 0 cached" in first.stderr
    assert "pgslides: 1 deck: 0 run, 1 cached" in second.stderr
    assert "pgslides: 1 deck: 1 run, 0 cached" in refreshed.stderr
    assert (tmp_path / "site" / "deck.html").exists()


PDF_DECK = (
    "# One\n\n```sql exec\nSELECT 1 AS one;\n```\n\n???\nNotes.\n\n---\n\n# Two\n\n---\n\n# Three\n"
)


def test_pdf_prints_one_page_per_slide(tmp_path: Path, url: str):
    from pgslides.pdf import count_pdf_pages

    make_site(tmp_path, {"deck.md": PDF_DECK}, database_url=url)
    completed = pgslides(tmp_path, "pdf", "slides/deck.md", "-o", "deck.pdf", "--notes")
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout == "wrote deck.pdf: 3 pages\n"
    data = (tmp_path / "deck.pdf").read_bytes()
    assert count_pdf_pages(data) == 3
    assert b"/MediaBox [0 0 960 540]" in data  # 13.333 x 7.5 in: 16:9 landscape


def test_pdf_without_chromium_says_what_to_do(
    tmp_path: Path, url: str, monkeypatch: pytest.MonkeyPatch
):
    make_site(tmp_path, {"deck.md": PDF_DECK}, database_url=url)
    monkeypatch.setenv("PGSLIDES_CHROMIUM", "/nonexistent/chromium")
    completed = pgslides(tmp_path, "pdf", "slides/deck.md")
    assert completed.returncode == 1
    assert completed.stderr.startswith("pgslides: no Chromium found to print with")
    assert not (tmp_path / "deck.pdf").exists()


def test_build_exits_2_on_a_setup_problem_and_1_on_a_deck_problem(tmp_path: Path, url: str):
    unreachable = make_site(
        tmp_path / "a", {"deck.md": GOOD}, database_url="postgresql://postgres@127.0.0.1:1/x"
    )
    setup = pgslides(unreachable.root, "build")
    assert setup.returncode == 2, setup.stderr
    assert "Traceback" not in setup.stderr
    assert "Connection refused" in setup.stderr
    failing = make_site(
        tmp_path / "b", {"deck.md": "# One\n\n```sql exec\nSELECT 1/0;\n```\n"}, database_url=url
    )
    deck = pgslides(failing.root, "build")
    assert deck.returncode == 1, deck.stderr
    assert "slides/deck.md:3: ERROR:  division by zero (22012)" in deck.stderr


def test_check_finds_what_the_page_stage_finds_as_a_build_does(tmp_path: Path, url: str):
    torn = '# One\n\n<div markdown="1">\n\nA\n\n---\n\nB\n\n</div>\n'
    make_site(tmp_path, {"torn.md": torn}, database_url=url, cache_dir="")
    checked = pgslides(tmp_path, "check")
    built = mkdocs_build(tmp_path)
    assert checked.returncode == built.returncode == 1
    assert checked.stdout.splitlines() == [
        f"slides/torn.md:{line}: slide {n} is cut through an HTML element: a raw HTML block "
        "(a <div>, say) runs across the --- or ??? line; close it on the slide that opens it"
        for n, line in [(1, 1), (2, 9)]
    ]


def test_a_bad_option_in_mkdocs_yml_exits_2_for_check_and_build(tmp_path: Path, url: str):
    make_site(tmp_path, {"deck.md": GOOD}, database_url=url, max_rows=True)
    checked = pgslides(tmp_path, "check")
    built = pgslides(tmp_path, "build")
    assert (checked.returncode, built.returncode) == (2, 2)
    assert (
        checked.stderr
        == "pgslides: bad value True for option max_rows; expected a whole number ≥ 0\n"
    )
    assert "option 'max_rows': bad value True; expected a whole number ≥ 0" in built.stderr


def test_check_warns_about_an_option_it_does_not_know_as_mkdocs_does(tmp_path: Path, url: str):
    make_site(tmp_path, {"deck.md": GOOD}, database_url=url, playgrounds=True)
    checked = pgslides(tmp_path, "check")
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout == "warning: mkdocs.yml: unknown pgslides option 'playgrounds', ignored\n"


def without_superuser_note(stderr: str) -> str:
    """stderr without the one line that says the URL's role is a superuser (the test server's
    postgres is one)."""
    lines = stderr.splitlines(keepends=True)
    notes = [line for line in lines if "a superuser of" in line]
    assert len(notes) <= 1
    return "".join(line for line in lines if line not in notes)
