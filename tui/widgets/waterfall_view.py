"""A trace's waterfall: one row per span (indented under its parent, a bar on the trace's time
axis) and per log line (a mark at its time), drawn with the line API so a frame costs only the
visible rows, whatever the trace's size.

The rows come from :func:`obsview.tui.waterfall.layout`; Left/Right collapse and expand a span
and re-run it, and the cursor stays on the same row (rows have stable keys). Every untrusted
string goes through :func:`obsview.tui.render.clean` into a ``Segment``, never parsed as markup.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, Final

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from obsview.common.protocol import LEVELS, LogEvent
from obsview.common.spans import Span, http_status
from obsview.tui.render import clean
from obsview.tui.waterfall import MAX_INDENT_DEPTH, Row, Waterfall, bar_cells, find, layout
from obsview.tui.widgets.units import format_ms

SERVICE_WIDTH: Final = 12
DURATION_WIDTH: Final = 8
MIN_BAR_WIDTH: Final = 10
BAR: Final = "█"
LOG_MARK: Final = "◆"


@dataclass(frozen=True, slots=True)
class _Styles:
    base: Style
    muted: Style
    bar: Style
    error: Style
    levels: dict[str, Style]


def _tree_width(width: int) -> int:
    """The name column: about 40 % of the row, at least 24 cells."""
    return max(24, min(width - SERVICE_WIDTH - DURATION_WIDTH - MIN_BAR_WIDTH - 3, width * 2 // 5))


def _fit(text: str, width: int) -> str:
    """``text`` cut or padded to exactly ``width`` cells."""
    if cell_len(text) > width:
        while text and cell_len(text) > width - 1:
            text = text[:-1]
        text += "…"
    return text + " " * max(0, width - cell_len(text))


class WaterfallView(ScrollView, can_focus=True, inherit_bindings=False):
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "waterfall--muted", "waterfall--bar", "waterfall--error", "waterfall--cursor",
        *(f"waterfall--{level.lower()}" for level in LEVELS),
    }

    DEFAULT_CSS = """
    WaterfallView {
        background: $surface;
        color: $foreground;
        overflow-x: hidden;
        overflow-y: scroll;
        & > .waterfall--muted { color: $text-muted; }
        & > .waterfall--bar { color: $accent; }
        & > .waterfall--error { color: $error; text-style: bold; }
        & > .waterfall--warn { color: $warning; }
        & > .waterfall--info { color: $success; }
        & > .waterfall--debug { color: $text-muted; }
        & > .waterfall--trace { color: $text-muted; }
        & > .waterfall--cursor {
            background: $block-cursor-blurred-background; color: $block-cursor-blurred-foreground;
        }
        &:focus > .waterfall--cursor {
            background: $block-cursor-background; color: $block-cursor-foreground;
        }
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "cursor(-1)", "Up", show=False, id="waterfall.up"),
        Binding("down,j", "cursor(1)", "Down", show=False, id="waterfall.down"),
        Binding("pageup", "page(-1)", "Page up", show=False, id="waterfall.page_up"),
        Binding("pagedown", "page(1)", "Page down", show=False, id="waterfall.page_down"),
        Binding("home", "cursor(-1000000000)", "First", show=False, id="waterfall.first"),
        Binding("end", "cursor(1000000000)", "Last", show=False, id="waterfall.last"),
        Binding("left,h", "collapse", "Collapse", id="waterfall.collapse"),
        Binding("right,l", "expand", "Expand", id="waterfall.expand"),
        Binding("enter", "open", "Details", id="waterfall.open"),
    ]

    class Opened(Message):
        """Enter on a row: show its span's attributes and events, or its log line."""

        def __init__(self, row: Row) -> None:
            super().__init__()
            self.row = row

    def __init__(
        self, trace_id: str, spans: Sequence[Span], events: Sequence[LogEvent], *,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self.trace_id = trace_id
        self._spans = list(spans)
        self._events = list(events)
        self.collapsed: set[str] = set()
        self.waterfall: Waterfall = layout(trace_id, self._spans, self._events)
        self.cursor = 0
        self._styles: tuple[_Styles, _Styles] | None = None

    # ------------------------------------------------------------------ public

    @property
    def rows(self) -> tuple[Row, ...]:
        return self.waterfall.rows

    @property
    def cursor_row(self) -> Row | None:
        rows = self.rows
        return rows[self.cursor] if 0 <= self.cursor < len(rows) else None

    def search(self, text: str) -> bool:
        """Move to the next row (after the cursor, wrapping) that holds ``text``."""
        index = find(self.rows, text, self.cursor)
        if index is None:
            return False
        self._move_to(index)
        return True

    # ------------------------------------------------------------------ actions

    def action_cursor(self, delta: int) -> None:
        self._move_to(self.cursor + delta)

    def action_page(self, direction: int) -> None:
        self._move_to(self.cursor + direction * max(1, self.scrollable_content_region.height - 1))

    def action_collapse(self) -> None:
        """Fold the span under the cursor; on a folded span or a leaf, go to its parent."""
        row = self.cursor_row
        if row is None:
            return
        if row.span is not None and row.children and not row.collapsed:
            self._relayout(self.collapsed | {row.key})
            return
        for index in range(self.cursor - 1, -1, -1):  # the parent is the nearest row above
            if self.rows[index].depth < row.depth:
                self._move_to(index)
                return

    def action_expand(self) -> None:
        row = self.cursor_row
        if row is not None and row.collapsed:
            self._relayout(self.collapsed - {row.key})

    def action_open(self) -> None:
        row = self.cursor_row
        if row is not None:
            self.post_message(self.Opened(row))

    # ------------------------------------------------------------------ rendering

    def render_line(self, y: int) -> Strip:
        index = self.scroll_offset.y + y
        width = self.scrollable_content_region.width
        plain, cursor = self._row_styles()
        styles = cursor if index == self.cursor else plain
        if index >= len(self.rows):
            return Strip.blank(width, plain.base)
        return self.render_row(self.rows[index], width, styles).crop_extend(0, width, styles.base)

    def render_row(self, row: Row, width: int, styles: _Styles) -> Strip:
        """One row: tree (indent, fold marker, name), service, duration, then the time axis."""
        tree = _tree_width(width)
        bar_width = max(1, width - tree - SERVICE_WIDTH - DURATION_WIDTH - 3)
        indent = "  " * min(row.depth, MAX_INDENT_DEPTH)
        first, last = bar_cells(row, self.waterfall.duration_ms, bar_width)
        parts: list[tuple[str, Style]]
        if row.span is not None:
            span = row.span
            marker = "▸ " if row.collapsed else "▾ " if row.children else "  "
            name_style = styles.error if row.error else styles.base
            status = http_status(span)
            name = clean(span.name, max_len=300) + (f" {status}" if status is not None else "")
            bar_style = styles.error if row.error else styles.bar
            parts = [
                (_fit(indent + marker + name, tree), name_style),
                (" " + _fit(clean(span.service, max_len=60), SERVICE_WIDTH), styles.muted),
                (" " + format_ms(row.duration_ms, compact=True).rjust(DURATION_WIDTH), styles.base),
                (" " + " " * first, styles.base),
                (BAR * (last - first), bar_style),
            ]
        else:
            assert row.event is not None
            event = row.event
            level = styles.levels.get(event.level, styles.base)
            text = f"{indent}  {event.level:<5} " + clean(event.message, max_len=300)
            parts = [
                (_fit(text, tree), level),
                (" " + _fit(clean(event.service, max_len=60), SERVICE_WIDTH), styles.muted),
                (" " + f"+{format_ms(row.offset_ms, compact=True)}".rjust(DURATION_WIDTH), styles.muted),
                (" " + " " * first, styles.base),
                (LOG_MARK, level),
            ]
        return Strip([Segment(text, style) for text, style in parts],
                     sum(cell_len(text) for text, _ in parts))

    def _row_styles(self) -> tuple[_Styles, _Styles]:
        if self._styles is None:
            base = self.rich_style
            component = self.get_component_rich_style

            def build(row_base: Style) -> _Styles:
                def part(name: str) -> Style:
                    full = component(name)
                    return row_base + full.without_color + Style(color=full.color)

                return _Styles(row_base, part("waterfall--muted"), part("waterfall--bar"),
                               part("waterfall--error"),
                               {level: part(f"waterfall--{level.lower()}") for level in LEVELS})

            # The cursor row in the cursor's one colour pair, failures in bold: a part's own
            # colour on the cursor's background measured 1.02:1 (as in the log view).
            cursor = base + component("waterfall--cursor")
            bold = cursor + Style(bold=True)
            uniform = _Styles(cursor, cursor, cursor, bold, dict.fromkeys(LEVELS, cursor))
            self._styles = (build(base), uniform)
        return self._styles

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._styles = None

    # ------------------------------------------------------------------ internals

    def _relayout(self, collapsed: set[str]) -> None:
        key = self.cursor_row.key if self.cursor_row is not None else ""
        self.collapsed = collapsed
        self.waterfall = layout(self.trace_id, self._spans, self._events, collapsed)
        self.cursor = next((i for i, row in enumerate(self.rows) if row.key == key), 0)
        self._update_size()
        self._move_to(self.cursor)

    def _update_size(self) -> None:
        self.virtual_size = Size(0, len(self.rows))

    def _move_to(self, index: int) -> None:
        if not self.rows:
            return
        self.cursor = max(0, min(len(self.rows) - 1, index))
        top = self.scroll_offset.y
        height = max(1, self.scrollable_content_region.height)
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False, immediate=True)
        elif self.cursor >= top + height:
            self.scroll_to(y=self.cursor - height + 1, animate=False, immediate=True)
        self.refresh()

    def on_mount(self) -> None:
        self._update_size()

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is not None and self.scroll_offset.y + offset.y < len(self.rows):
            self._move_to(self.scroll_offset.y + offset.y)
            if event.chain == 2:
                self.action_open()
