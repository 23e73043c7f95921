"""Tables that fit the terminal without cutting a number: every table inferctl prints is a :class:`FittedTable`.

Rich, left alone, shrinks every column of a table that is too wide and ends each cut cell with an ellipsis
("1,05…"). A :class:`FittedTable` lays itself out at render time, for the width it is given:

* a *word* (a run of characters without a space) of up to :data:`WORD_CAP` characters is never split: numbers,
  instance types, prices stay whole; longer words (URLs, paths) fold onto the next line rather than being cut;
* a column whose every cell is one such word (a number, ``1/1``, ``g5.xlarge``) never wraps; the others wrap at
  spaces and fold what they must;
* when even the narrowest layout is too wide, whole columns go, the least important first (highest
  :attr:`Col.priority`; ties: the rightmost), and a caption names them. Priority 0 is never dropped.

No cell is ever truncated, so rich's ellipsis never appears.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from rich import box
from rich.cells import cell_len
from rich.table import Table
from rich.text import Text

from inferctl.views.nodes import usage_colour

if TYPE_CHECKING:
    from rich.console import Console, ConsoleOptions, RenderResult

WORD_CAP = 20  # a longer word (a URL, a path, an ARN) may fold; anything shorter is kept whole
_NUMBER = re.compile(r"^[-+~<>=$]*\d[\d,._]*(?:[eE][-+]?\d+)?%?$")

Cell = str | Text
Style = Literal["boxed", "plain"]


@dataclass(frozen=True)
class Col:
    """A column: its header, how important it is (0: always shown; larger goes first), whether it is
    right-aligned (``None``: right when every cell shown is a number), and whether its long words may fold."""

    header: str
    priority: int = 1
    right: bool | None = None
    whole: bool = False  # never fold its words, however long (names that read badly folded: node names)


def _text(cell: Cell) -> Text:
    return cell if isinstance(cell, Text) else Text(cell)


def _lines(cell: Cell) -> list[str]:
    return _text(cell).plain.splitlines() or [""]


def _natural(cell: Cell) -> int:
    return max(cell_len(line) for line in _lines(cell))


def _longest_word(cell: Cell, cap: int | None = WORD_CAP) -> int:
    if isinstance(cell, Text) and cell.no_wrap:
        return _natural(cell)  # a bar, a number with its unit: one piece
    longest = max((cell_len(w) for line in _lines(cell) for w in line.split()), default=0)
    return longest if cap is None else min(cap, longest)


def _one_word(cell: Cell) -> bool:
    """A cell that must stay on one line: a Text marked no_wrap, or one word of up to WORD_CAP characters."""
    if isinstance(cell, Text) and cell.no_wrap:
        return True
    plain = _text(cell).plain
    return "\n" not in plain and " " not in plain.strip() and cell_len(plain) <= WORD_CAP


@dataclass(frozen=True)
class _Measure:
    natural: int  # the width that shows every cell on one line
    whole_words: int  # the narrowest width that splits no word (cells wrap at spaces only)
    minimum: int  # the narrowest width that splits no word of up to WORD_CAP characters
    no_wrap: bool
    right: bool


class FittedTable:
    """A table laid out at render time for the width it gets (see the module docstring). Rows are sequences of
    cells (str or rich Text), one per column."""

    def __init__(
        self,
        columns: Sequence[Col],
        rows: Iterable[Sequence[Cell]],
        *,
        title: str | None = None,
        style: Style = "boxed",
        show_header: bool = True,
    ) -> None:
        self.columns = list(columns)
        self.rows = [list(row) for row in rows]
        self.title = title
        self.style = style
        self.show_header = show_header and style == "boxed"
        for row in self.rows:
            if len(row) != len(self.columns):
                raise ValueError(f"a row has {len(row)} cells for {len(self.columns)} columns")

    # --- layout -----------------------------------------------------------------------------------------------

    def _measure(self, index: int) -> _Measure:
        col = self.columns[index]
        cells = [row[index] for row in self.rows]
        header = [col.header] if self.show_header else []
        shown = [c for c in cells if _text(c).plain.strip() not in ("", "-")]
        no_wrap = all(_one_word(c) for c in cells)
        numeric = bool(shown) and all(_NUMBER.match(_text(c).plain.strip()) for c in shown)
        natural = max((_natural(c) for c in [*cells, *header]), default=1) or 1
        header_word = max((_longest_word(c) for c in header), default=1)
        if no_wrap:  # its header may wrap, its cells never do
            whole = minimum = max(max((_natural(c) for c in cells), default=1), header_word)
        else:
            whole = max(max((_longest_word(c, None) for c in cells), default=1), header_word)
            cap = None if col.whole else WORD_CAP
            minimum = max(max((_longest_word(c, cap) for c in cells), default=1), header_word)
        right = col.right if col.right is not None else numeric
        return _Measure(natural, min(max(whole, 1), natural), min(max(minimum, 1), natural), no_wrap, right)

    def _overhead(self, count: int) -> int:
        """Borders and padding around ``count`` columns (rich's defaults for the two styles used here)."""
        if self.style == "boxed":
            return (count + 1) + 2 * count  # a vertical line left of each column and at the end; padding 1+1
        return 2 * (count - 1) if count else 0  # no box; one space each side between columns, none at the edges

    def layout(self, width: int) -> tuple[list[int], list[int]]:
        """(indexes of the columns shown, their widths) for a terminal ``width`` columns wide."""
        measures = [self._measure(i) for i in range(len(self.columns))]

        def fits(indexes: list[int]) -> bool:
            return sum(measures[i].minimum for i in indexes) + self._overhead(len(indexes)) <= width

        shown = list(range(len(self.columns)))
        dropped: list[int] = []
        while len(shown) > 1 and not fits(shown):
            droppable = [i for i in shown if self.columns[i].priority > 0]
            if not droppable:
                break
            worst = max(droppable, key=lambda i: (self.columns[i].priority, i))
            shown.remove(worst)
            dropped.append(worst)
        for index in reversed(dropped):  # a less important but narrower column may still fit where one went
            if fits(sorted([*shown, index])):
                shown = sorted([*shown, index])
        budget = width - self._overhead(len(shown))
        naturals = [measures[i].natural for i in shown]
        # First wrap at spaces only; fold long words only when that is not enough.
        for floors in ([measures[i].whole_words for i in shown], [measures[i].minimum for i in shown]):
            if sum(floors) <= budget:
                return shown, _level(naturals, floors, budget)
        return shown, floors  # narrower than the columns that cannot go: rich folds what it must

    def fits(self, width: int) -> bool:
        """Whether every cell fits on one line at ``width`` (no column wraps or goes)."""
        naturals = [self._measure(i).natural for i in range(len(self.columns))]
        return sum(naturals) + self._overhead(len(naturals)) <= width

    def table(self, width: int) -> Table:
        """The rich Table for ``width`` terminal columns."""
        shown, widths = self.layout(width)
        dropped = [self.columns[i].header for i in range(len(self.columns)) if i not in shown]
        caption = f"not shown at this width: {', '.join(dropped)} (a wider terminal or --output json has them)"
        out = Table(
            title=self.title,
            title_justify="left",
            header_style="bold",
            show_header=self.show_header,
            caption=caption if dropped else None,
            caption_justify="left",
            caption_style="dim",
            box=box.HEAVY_HEAD if self.style == "boxed" else None,
            pad_edge=self.style == "boxed",
            padding=(0, 1),
        )
        for index, col_width in zip(shown, widths, strict=True):
            measure = self._measure(index)
            out.add_column(
                Text(self.columns[index].header, overflow="fold", no_wrap=False),  # a header may wrap
                width=col_width,
                no_wrap=measure.no_wrap,
                overflow="fold",
                justify="right" if measure.right else "left",
            )
        for row in self.rows:
            out.add_row(*(row[i] for i in shown))
        return out

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield self.table(options.max_width)


def usage_bar(fraction: float, width: int, *, high_is_good: bool = True) -> Text:
    """A bar of ``width`` cells, filled to ``fraction`` (block characters, so a text capture shows it too).
    Coloured as eks-node-viewer colours a share of requests: above 90% green, above 60% yellow, else red;
    ``high_is_good=False`` (a KV cache filling up) turns that around."""
    share = min(max(fraction, 0.0), 1.0)
    filled = round(share * width)
    colour = usage_colour(share, high_is_good=high_is_good)
    bar = Text(no_wrap=True)
    bar.append("█" * filled, style=colour)
    bar.append("░" * (width - filled), style="dim")
    return bar


def _level(naturals: list[int], floors: list[int], budget: int) -> list[int]:
    """Lower the widest columns together, never below their floor, until they fit ``budget``."""
    level = max(naturals, default=1)
    while level > 1 and sum(max(f, min(n, level)) for n, f in zip(naturals, floors, strict=True)) > budget:
        level -= 1
    return [max(f, min(n, level)) for n, f in zip(naturals, floors, strict=True)]


def dict_table(
    title: str | None,
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[str] | None = None,
    *,
    priorities: Mapping[str, int] | None = None,
    format_cell: Any = str,
) -> FittedTable:
    """A :class:`FittedTable` of dict rows: the first row's keys (or ``columns``) as headers, ``_`` as spaces.
    ``priorities`` by key; unnamed columns get 1 (the first column: 0), so the rightmost go first."""
    keys = list(columns or (list(rows[0]) if rows else []))
    named = priorities or {}
    cols = [Col(k.replace("_", " "), named.get(k, 0 if i == 0 else 1)) for i, k in enumerate(keys)]
    return FittedTable(cols, [[format_cell(row.get(k)) for k in keys] for row in rows], title=title)


__all__ = ["WORD_CAP", "Cell", "Col", "FittedTable", "dict_table", "usage_bar"]
