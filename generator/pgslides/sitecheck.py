"""Checks of the built site before it is published: the database password is not in it."""

from __future__ import annotations

from pathlib import Path

from pgslides.errors import Problem
from pgslides.run.database import DatabaseError, secret_forms, server_from_url

SHORT_PASSWORD = 8  # below this, a password found in the site is a warning, not a failure


def password_problem(site_dir: Path, database_url: str) -> Problem | None:
    """A problem if the URL's password made it into the site (a result, a page).

    A short password (say, "postgres") may well be on a slide for other reasons: then only
    a warning, so a build is not failed by the word."""
    try:
        password = server_from_url(database_url).password
    except DatabaseError:
        return None
    if not password:
        return None
    found = find_secret(site_dir, password)
    if found is None:
        return None
    message = f"the database password was found in {found}"
    if len(password) < SHORT_PASSWORD:
        return Problem(
            f"{message}; it is short enough to be a word on a slide", None, None, "warning"
        )
    return Problem(f"{message}; the site must not be published (a slide shows it?)")


def find_secret(site_dir: Path, secret: str) -> Path | None:
    """The first file under site_dir that holds secret, in any form it may take."""
    needles = [form.encode("utf-8") for form in secret_forms(secret)]
    for path in sorted(site_dir.rglob("*")):
        if path.is_file():
            data = path.read_bytes()
            if any(needle in data for needle in needles):
                return path.relative_to(site_dir.parent)
    return None
