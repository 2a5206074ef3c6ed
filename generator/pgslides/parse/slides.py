"""A deck's body → slides: separators, speaker notes, fences and the live blocks in them.

The deck is split into slides at a `---` line with a blank line above, outside any fence;
`???` starts a slide's notes. Each slide keeps its Markdown for the page, where every live
block's opening line is replaced by a placeholder fence (PLACEHOLDER) that the Markdown parser
itself finds (a SuperFences custom fence) and renders in place, whatever container holds it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property

from pgslides.errors import DeckError, Problem
from pgslides.parse.blocks import Block, check_erd_names, parse_block_options
from pgslides.parse.fences import FenceOpening, fence_opening, live_block_typo
from pgslides.parse.slidesyntax import hl_fence_info, layout_of

# The language of the fence that stands for live block N on the page: ```pgslides block="N"
PLACEHOLDER = "pgslides"

_SEPARATOR = re.compile(r"^---[ \t]*$")
_LINE = re.compile(r"[^\n]*\n|[^\n]+$")
_NOTES = re.compile(r"^\?\?\?[ \t]*$")
_COLUMNS = re.compile(
    r"^[ \t]*<!--[ \t]*columns(?P<steps>[ \t]+steps)?[ \t]*-->[ \t]*$", re.MULTILINE
)


@dataclass(frozen=True)
class Slide:
    number: int  # 1-based
    line: int  # 1-based line of the slide's first line
    source: str  # the slide's exact text, notes included
    parts: tuple[str | Block, ...]  # the body's Markdown text and live blocks, in order
    notes: str | None  # the Markdown after ???, if any, as written
    markdown: str = ""  # the body as the page's Markdown: live blocks as placeholders
    notes_markdown: str | None = None  # the notes likewise
    notes_blocks: tuple[Block, ...] = ()  # live blocks in the notes (they run, in order)
    layout: str | None = None  # <!-- layout: NAME -->
    hl_fences: int = 0  # plain fences with hl= (their HTML carries data-pgslides-hl)

    @property
    def blocks(self) -> tuple[Block, ...]:
        """The live blocks on the slide itself (not those in its notes)."""
        return tuple(part for part in self.parts if isinstance(part, Block))

    @cached_property
    def all_blocks(self) -> tuple[Block, ...]:
        return tuple(sorted(self.blocks + self.notes_blocks, key=lambda block: block.index))

    @property
    def columns(self) -> bool:
        """Whether the slide asks for its blocks side by side, a column per session."""
        return bool(self._columns_comments)

    @property
    def timeline_steps(self) -> bool:
        """`<!-- columns steps -->`: each block of the columns grid is a step."""
        return any(comment["steps"] for comment in self._columns_comments)

    @cached_property
    def _columns_comments(self) -> list[re.Match[str]]:
        texts = (part for part in self.parts if isinstance(part, str))
        return [comment for text in texts for comment in _COLUMNS.finditer(text)]

    @property
    def column_groups(self) -> tuple[tuple[Block, ...], ...]:
        """On a columns slide, each run of blocks with only blank lines between them."""
        if not self.columns:
            return ()
        groups: list[tuple[Block, ...]] = []
        run: list[Block] = []
        for part in self.parts:
            if isinstance(part, Block):
                run.append(part)
            elif part.strip():
                if run:
                    groups.append(tuple(run))
                run = []
        if run:
            groups.append(tuple(run))
        return tuple(groups)


def split_source_lines(text: str) -> list[str]:
    """Lines of a deck body, each with its newline, so that joining them gives the text back.

    Only \n ends a line (\r was normalised before): str.splitlines would also break at form
    feeds and U+2028, where Markdown does not, and line numbers would drift."""
    return [line for line in _LINE.findall(text) if line]


def placeholder_info(index: int) -> str:
    return f'{PLACEHOLDER} block="{index}"'


# --- slides --------------------------------------------------------------------------------------


@dataclass
class _SlideBuilder:
    line: int
    source: list[str] = field(default_factory=list)
    parts: list[str | Block] = field(default_factory=list)
    text: list[str] = field(default_factory=list)
    notes: list[str] | None = None  # None until ???
    markdown: list[str] = field(default_factory=list)
    notes_markdown: list[str] = field(default_factory=list)
    notes_blocks: list[Block] = field(default_factory=list)
    layout: str | None = None
    hl_fences: int = 0

    def add(self, line: str, markdown: str | None = None, *, text: bool = True) -> None:
        """A line: as written (text=False for a live block's own lines, which are not
        prose), and as the page's Markdown gets it."""
        page = line if markdown is None else markdown
        if self.notes is not None:
            if text:
                self.notes.append(line)
            self.notes_markdown.append(page)
        else:
            if text:
                self.text.append(line)
            self.markdown.append(page)

    def add_block(self, block: Block) -> None:
        if self.notes is not None:
            self.notes_blocks.append(block)
            return
        self.flush_text()
        self.parts.append(block)

    def flush_text(self) -> None:
        if self.text:
            self.parts.append("".join(self.text))
            self.text = []

    def finish(self, number: int) -> Slide:
        self.flush_text()
        # A slide "is at" its first line with something on it, not the blank line after ---.
        leading_blank = next((i for i, s in enumerate(self.source) if s.strip()), len(self.source))
        notes = None if self.notes is None else "".join(self.notes)
        return Slide(
            number=number,
            line=self.line + leading_blank,
            source="".join(self.source),
            parts=tuple(self.parts),
            notes=notes,
            markdown="".join(self.markdown),
            notes_markdown=None if notes is None else "".join(self.notes_markdown),
            notes_blocks=tuple(self.notes_blocks),
            layout=self.layout,
            hl_fences=self.hl_fences,
        )


@dataclass
class _Fence:
    opening: FenceOpening
    line: int
    live: bool
    sql: list[str] = field(default_factory=list)


class Splitter:
    """One pass over the body's lines: slides, notes, fences and the blocks in them."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.blocks: list[Block] = []
        self.warnings: list[Problem] = []

    def split(self, body: str, first_line: int) -> list[Slide]:
        builders: list[_SlideBuilder] = []
        current = _SlideBuilder(line=first_line)
        fence: _Fence | None = None
        previous_blank = True  # the file start counts as a blank line above
        for offset, line in enumerate(split_source_lines(body)):
            number = first_line + offset
            stripped = line.rstrip("\n")
            if fence is not None:
                current.source.append(line)
                fence = self._inside_fence(fence, line, current)
                previous_blank = False
                continue
            if _SEPARATOR.match(stripped) and previous_blank:
                builders.append(current)
                current = _SlideBuilder(line=number + 1)
                previous_blank = False  # a --- right under a separator is not one
                continue
            current.source.append(line)
            fence = self._fence_opening(line, number, current)
            if fence is None:
                if _NOTES.match(stripped) and current.notes is None:
                    current.flush_text()
                    current.notes = []
                else:
                    self._layout(stripped, number, current)
                    current.add(line)
            # Blank as Markdown sees it: spaces and tabs only (a no-break space is text).
            previous_blank = stripped.strip(" \t") == ""
        if fence is not None:
            what = "live block" if fence.live else "code fence"
            raise DeckError(
                self.path,
                fence.line,
                f"{what} is never closed: no {fence.opening.fence} line below it",
            )
        builders.append(current)
        # A separator at the very start or two in a row make an empty slide: nobody means that.
        kept = [builder for builder in builders if "".join(builder.source).strip()] or builders[:1]
        return [builder.finish(number) for number, builder in enumerate(kept, start=1)]

    def _fence_opening(self, line: str, number: int, current: _SlideBuilder) -> _Fence | None:
        opening = fence_opening(line)
        if opening is None:
            return None
        if opening.live:
            current.add(line, opening.rewritten(placeholder_info(len(self.blocks))), text=False)
            return _Fence(opening, number, live=True)
        intended = live_block_typo(opening.info)
        if intended is not None:
            self.warnings.append(
                Problem(
                    f"fence {opening.fence}{opening.info} looks like a mistyped live block; "
                    f"did you mean {opening.fence}{intended}? It is shown as code, not run",
                    self.path,
                    number,
                    "warning",
                )
            )
            # Shown as plain code of that language, so Markdown sees a fence where we do.
            current.add(line, opening.rewritten(intended.split()[0]))
        elif opening.words and any(word.startswith("hl=") for word in opening.words[1:]):
            current.add(line, self._hl_fence(opening, number))
            if current.notes is None:
                current.hl_fences += 1
        else:
            current.add(line)
        return _Fence(opening, number, live=False)

    def _layout(self, line: str, number: int, current: _SlideBuilder) -> None:
        # Notes and indented code (four spaces: Markdown's code block) may show the comment.
        if current.notes is not None or line.startswith(("    ", "\t")):
            return
        layout = layout_of(line, self.path, number)
        if layout is not None:
            current.layout = layout

    def _hl_fence(self, opening: FenceOpening, number: int) -> str:
        return opening.rewritten(hl_fence_info(opening.info, self.path, number))

    def _inside_fence(self, fence: _Fence, line: str, current: _SlideBuilder) -> _Fence | None:
        """Take one line inside a fence; None once the line closes it."""
        if not fence.opening.closes(line):
            if fence.live:
                fence.sql.append(fence.opening.dedent(line))
            else:
                self._check_not_swallowed(fence, line)
            current.add(line, text=not fence.live)
            return fence
        current.add(line, text=not fence.live)
        if fence.live:
            language = fence.opening.words[0]
            options = parse_block_options(fence.opening.info, self.path, fence.line, language)
            if language == "erd":
                check_erd_names("".join(fence.sql), self.path, fence.line + 1)
            block = Block(
                index=len(self.blocks),
                line=fence.line,
                sql="".join(fence.sql),
                options=options,
                in_notes=current.notes is not None,
                language=language,
            )
            self.blocks.append(block)
            current.add_block(block)
        return None

    def _check_not_swallowed(self, fence: _Fence, line: str) -> None:
        """A live block's fence inside a plain fence of the same kind is code, not a block:
        most likely the plain fence above was never closed, so say so."""
        inner = fence_opening(line)
        if inner is not None and inner.live and inner.fence == fence.opening.fence:
            self.warnings.append(
                Problem(
                    f"the code fence opened here takes in the {inner.fence}{inner.info} "
                    f"below it as code: is its closing {fence.opening.fence} missing?",
                    self.path,
                    fence.line,
                    "warning",
                )
            )
