"""Column widths for the dashboard's tables: fit the panel, giving way least important first.

Textual's ``DataTable`` sizes each column to its widest cell and scrolls sideways when they
do not fit, which in a dashboard panel hides the right-hand columns behind a scrollbar. Here
the caller says which columns may be cut (with an ellipsis, down to a minimum) and which may
be left out, in order; whatever room that frees beyond the need goes back to the cut columns,
most important first.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from rich.cells import cell_len
from rich.console import Console
from rich.text import Text
from textual.widgets import DataTable


def fit_widths(
    natural: Mapping[str, int],
    available: int,
    padding: int,
    *,
    shrink: Sequence[tuple[str, int]],
    drop: Sequence[str] = (),
) -> dict[str, int]:
    """Widths (of the kept columns) that fit ``available`` cells, each column also taking
    ``padding`` on both sides: ``shrink`` entries (key, minimum) are cut in turn, then the
    ``drop`` columns left out in turn (absent from the result). Columns in neither are never
    cut: past all that (a tiny terminal) the table scrolls sideways."""
    widths = dict(natural)

    def excess() -> int:
        return sum(widths.values()) + 2 * padding * len(widths) - available

    for key, minimum in shrink:
        if key in widths:
            widths[key] -= min(max(0, excess()), max(0, widths[key] - minimum))
    for key in drop:
        if excess() > 0 and key in widths:
            del widths[key]
    for key, _minimum in reversed(shrink):
        if key in widths and excess() < 0:
            widths[key] = min(natural[key], widths[key] - excess())
    return widths


def fits(widths: Mapping[str, int], available: int, padding: int) -> bool:
    """True when columns of ``widths``, each padded on both sides, fit ``available`` cells."""
    return sum(widths.values()) + 2 * padding * len(widths) <= available


def available_width(table: DataTable[Any], row_count: int) -> int:
    """Cells the columns may use: the content width, less the vertical scrollbar when the
    rows will not fit (0 before the table is laid out)."""
    region = table.content_region
    if not region.width:
        return 0
    scrolls = row_count + (table.header_height if table.show_header else 0) > region.height
    return region.width - (table.styles.scrollbar_size_vertical if scrolls else 0)


def natural_widths(headers: Mapping[str, Text], rows: Sequence[Mapping[str, Text]]) -> dict[str, int]:
    """Each column's widest cell, its header included."""
    return {key: max([header.cell_len, *(row[key].cell_len for row in rows)])
            for key, header in headers.items()}


def clipped(cells: Iterable[Text]) -> tuple[Text, ...]:
    """``cells`` set to stay on one line and end with an ellipsis where a column cuts them."""
    result = tuple(cells)
    for cell in result:
        cell.overflow = "ellipsis"
        cell.no_wrap = True
    return result


def folded(cell: Text, width: int, max_lines: int, console: Console) -> tuple[Text, int]:
    """``cell`` on at most ``max_lines`` lines of ``width`` cells (the last one ends with an
    ellipsis when more is left), and how many lines that is: for a row that has the height
    to show a long cell whole, or more of it. Wrapped between words when that shows it
    whole; else cut at the width, which shows the most of it (a long path)."""
    width = max(1, width)
    lines = list(cell.wrap(console, width, overflow="fold", no_wrap=False))
    if len(lines) > max_lines:
        lines = _cut_every(cell, width)
    if len(lines) > max_lines:
        last = Text.assemble(*lines[max_lines - 1:max_lines + 1], end="")
        last.truncate(width, overflow="ellipsis")
        lines = [*lines[:max_lines - 1], last]
    lines = [line if index == 0 else line[len(line.plain) - len(line.plain.lstrip()):]
             for index, line in enumerate(lines)]
    for line in lines:
        line.rstrip()
    result = Text("\n", end="").join(lines)
    result.no_wrap, result.overflow = False, "ellipsis"
    return result, len(lines)


def _cut_every(cell: Text, width: int) -> list[Text]:
    """``cell`` cut into lines of ``width`` cells, wherever that falls."""
    offsets: list[int] = []
    used = 0
    for index, char in enumerate(cell.plain):
        size = cell_len(char)
        if used + size > width:
            offsets.append(index)
            used = 0
        used += size
    return list(cell.divide(offsets))
