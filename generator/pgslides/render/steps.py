"""Steps on a slide's HTML: line highlights, `<!-- steps -->` lists, timelines, and numbering.

Steps are marked on the HTML the Markdown parser made, not in the Markdown: whatever container
holds a list or a fence (an admonition, a list item, md_in_html), its HTML is where the browser
finds it. Every step element ends up with class `step` and `data-step="K"`, K from 1 in
document order within the slide body (SPEC "Steps: a slide that unfolds").
"""

from __future__ import annotations

import re

# A comment (left as it is: a tag inside it is no step), or a start tag whose attributes may
# hold `>` inside their quotes.
_START_TAG = re.compile(
    r"<!--.*?-->"
    r"|<(?P<name>[A-Za-z][A-Za-z0-9-]*)"
    r"(?P<attrs>(?:\s+[^\s\"'>/=]+(?:\s*=\s*(?:\"[^\"]*\"|'[^']*'|[^\s\"'=<>`]+))?)*)"
    r"\s*(?P<end>/?>)",
    re.DOTALL,
)
_CLASS = re.compile(r"""\sclass=(["'])(?P<value>.*?)\1""", re.DOTALL)
_DATA_STEP = re.compile(r'\sdata-step="[^"]*"')
_STEPS_LIST = re.compile(r"<!--[ \t]*steps[ \t]*-->\s*(?=<(?:ul|ol)\b)")
_LIST_TAG = re.compile(r"<(?P<close>/?)(?P<name>ul|ol|li)\b[^>]*>")
_SQL_BLOCK = re.compile(r'<div class="sql-block\b')
_TOKEN = re.compile(r"<span\b[^>]*>|</span>|\n|[^<\n]+|<[^>]*>")
# A plain fence with hl= (the deck parser moved it into an attribute), and its code.
_PLAIN_HL = re.compile(
    r'(?P<open><div\b[^>]*?)\sdata-pgslides-hl="(?P<hl>[^"]*)"(?P<rest>[^>]*>.*?)'
    r"<pre(?P<pre>[^>]*)>(?P<code>.*?)</pre>",
    re.DOTALL,
)
_SOURCE_PRE = re.compile(
    r'(?P<head><div class="sql-source[^"]*">)<pre(?P<pre>[^>]*)>(?P<code>.*?)</pre>', re.DOTALL
)


def _wrap_lines(code: str) -> str:
    """Each line of highlighted code in a span.pgslides-line; Pygments' spans that run over a
    line end are closed there and opened again on the next line, so every line is balanced."""
    lines: list[str] = []
    current: list[str] = []
    open_spans: list[str] = []
    for piece in _TOKEN.findall(code):
        if piece == "\n":
            current.append("</span>" * len(open_spans))
            lines.append("".join(current))
            current = list(open_spans)
        elif piece.startswith("<span"):
            open_spans.append(piece)
            current.append(piece)
        elif piece == "</span>":
            if open_spans:
                open_spans.pop()
            current.append(piece)
        else:
            current.append(piece)
    tail = "".join(current)
    if tail.strip() or not lines:
        lines.append(tail)
    return "\n".join(f'<span class="pgslides-line">{line}</span>' for line in lines)


def highlight_pre(pre_attrs: str, code: str, hl: str) -> str:
    """A <pre> (its attributes and inner HTML) with line spans, data-hl and data-hl-first,
    and one step marker after it for each segment after the first."""
    groups = hl.split("|")  # validated by settings.HL: `1-2|3|4,6`
    inner = re.sub(
        r"(<code[^>]*>)(.*)(</code>)",
        lambda m: m[1] + _wrap_lines(m[2]) + m[3],
        code,
        count=1,
        flags=re.DOTALL,
    )
    markers = "".join(
        f'<span class="pgslides-hl-step step" data-hl-lines="{group}"></span>'
        for group in groups[1:]
    )
    return f'<pre{pre_attrs} data-hl="{hl}" data-hl-first="{groups[0]}">{inner}</pre>{markers}'


def highlight_block_source(html: str, hl: str) -> str:
    """A live block's HTML with its source's lines highlighted step by step."""
    return _SOURCE_PRE.sub(
        lambda m: m["head"] + highlight_pre(m["pre"], m["code"], hl),
        html,
        count=1,
    )


def highlight_plain_fences(html: str) -> tuple[str, int]:
    """Plain fences that asked for hl=: their lines highlighted; how many were found."""
    found = 0

    def replace(match: re.Match[str]) -> str:
        nonlocal found
        found += 1
        return (
            match["open"] + match["rest"] + highlight_pre(match["pre"], match["code"], match["hl"])
        )

    return _PLAIN_HL.sub(replace, html), found


def add_class(tag: str, name: str) -> str:
    """A start tag with one more class."""
    match = _CLASS.search(tag)
    if match is None:
        end = len(tag) - (2 if tag.endswith("/>") else 1)
        return f'{tag[:end]} class="{name}"{tag[end:]}'
    if name in match["value"].split():
        return tag
    return f"{tag[: match.start('value')]}{match['value']} {name}{tag[match.end('value') :]}"


def steps_lists(html: str) -> str:
    """The top-level items of each list right after `<!-- steps -->` get class step."""
    out: list[str] = []
    position = 0
    for marker in _STEPS_LIST.finditer(html):
        if marker.start() < position:
            continue
        out.append(html[position : marker.end()])
        depth = 0
        index = marker.end()
        for tag in _LIST_TAG.finditer(html, marker.end()):
            out.append(html[index : tag.start()])
            text = tag[0]
            if tag["name"] in ("ul", "ol"):
                depth += -1 if tag["close"] else 1
            elif not tag["close"] and depth == 1:
                text = add_class(text, "step")
            out.append(text)
            index = tag.end()
            if depth == 0:
                break
        position = index
    out.append(html[position:])
    return "".join(out)


def timeline_steps(html: str) -> str:
    """`<!-- columns steps -->`: each live block's element is a step, in document order."""
    return _SQL_BLOCK.sub('<div class="sql-block step', html)


def number_steps(html: str) -> tuple[str, int]:
    """Every element with class step numbered 1.. in document order; how many there are."""
    count = 0

    def number(match: re.Match[str]) -> str:
        nonlocal count
        if match["name"] is None:  # a comment
            return match[0]
        classes = _CLASS.search(match["attrs"])
        if classes is None or "step" not in classes["value"].split():
            return match[0]
        count += 1
        attrs = _DATA_STEP.sub("", match["attrs"])
        return f'<{match["name"]}{attrs} data-step="{count}"{match["end"]}'

    return _START_TAG.sub(number, html), count
