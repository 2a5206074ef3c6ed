"""A slide's own comment lines and fence options: `<!-- layout: NAME -->`, a plain fence's hl=."""

from __future__ import annotations

import re
import shlex

from pgslides.errors import DeckError
from pgslides.settings import HL, SettingError

LAYOUTS = ("title", "section", "two-columns", "image-text")
_LAYOUT = re.compile(r"^[ \t]*<!--[ \t]*layout:[ \t]*(?P<name>\S*)[ \t]*-->[ \t]*$")


def layout_of(line: str, path: str, number: int) -> str | None:
    """The layout a `<!-- layout: NAME -->` line asks for; DeckError for an unknown name."""
    match = _LAYOUT.match(line)
    if match is None:
        return None
    if match["name"] not in LAYOUTS:
        raise DeckError(
            path, number, f"unknown layout {match['name']!r}; valid layouts: {', '.join(LAYOUTS)}"
        )
    return match["name"]


def hl_fence_info(info: str, path: str, number: int) -> str:
    """A plain fence's info string with `hl=` moved into an attribute: SuperFences refuses an
    option it does not know (the fence would become inline code), but keeps attributes of its
    brace form `{ .sql data-…="…" }` (with attr_list), where the page's HTML finds them."""
    try:
        words = shlex.split(info)
    except ValueError as error:
        raise DeckError(path, number, f"cannot read the fence options: {error}") from None
    kept = []
    hl = None
    for word in words[1:]:
        key, equals, value = word.partition("=")
        if key == "hl":
            try:
                hl = HL(value)
            except SettingError as error:
                raise DeckError(
                    path, number, f"bad value {value!r} for option hl; {error}"
                ) from None
        else:
            kept.append(f'{key}="{value}"' if equals else word)
    return "{ " + " ".join([f".{words[0]}", *kept, f'data-pgslides-hl="{hl}"']) + " }"
