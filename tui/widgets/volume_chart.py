"""Log volume over time (``i``, like lnav's): events per bucket with the errors stacked at the
bottom of each bar, over everything the console holds; a selected bucket jumps the stream to
its first event.

The bars always span the whole width: fewer buckets than cells (a minute held in 1 s buckets
at 200 columns) widen them, column ``x`` showing the bucket ``x * buckets // width``, so the
axis stays linear in time and the newest time sits at the right edge. The row under the bars
is the time axis alone; the peak (or the selected bucket) and the keys are the bottom border's
subtitle, away from the times they could be read as belonging to."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import ClassVar, Final

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding
from textual.content import Content
from textual.message import Message
from textual.strip import Strip
from textual.widget import Widget

from obsview.tui.volume import Histogram, VolumeCounts, layout
from obsview.tui.widgets.units import counted, join_fitting

#: Eighths of a cell, from empty to full (U+2581–U+2588).
_BLOCKS: Final = " ▁▂▃▄▅▆▇█"
BAR_ROWS: Final = 2
#: Cells of the border around the subtitle: both corners, and a rule and a space either side.
_SUBTITLE_FRAME: Final = 6


def format_width(seconds: int) -> str:
    """A bucket width as people say it: ``30 s``, ``5 min``, ``1 h``, ``2 d``."""
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"


def bucket_at(x: int, buckets: int, width: int) -> int:
    """The bucket drawn in column ``x`` when ``buckets`` (at most ``width``) fill ``width``
    columns: each gets ``width // buckets`` columns or one more, spread evenly."""
    return x * buckets // width


def first_column(bucket: int, buckets: int, width: int) -> int:
    """The leftmost column drawing ``bucket`` (the inverse of :func:`bucket_at`)."""
    return -(-bucket * width // buckets)


def eighths(value: int, peak: int, rows: int) -> int:
    """Bar height in eighths of a cell: proportional to the peak, at least one for any event
    (a bucket with a single error is still seen)."""
    if value <= 0 or peak <= 0:
        return 0
    return max(1, math.ceil(value / peak * rows * 8))


class VolumeChart(Widget, can_focus=True):
    """Columns of held events per time bucket; ←/→ choose one, Enter (or a click) jumps."""

    BINDINGS = [
        Binding("left", "move(-1)", "Earlier bucket", show=False, id="volume.left"),
        Binding("right", "move(1)", "Later bucket", show=False, id="volume.right"),
        Binding("home", "move(-1000000)", "First bucket", show=False, id="volume.first"),
        Binding("end", "move(1000000)", "Last bucket", show=False, id="volume.last"),
        Binding("enter", "jump", "Jump the log there", id="volume.jump"),
    ]

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "volume-chart--events", "volume-chart--errors", "volume-chart--selected",
        "volume-chart--label",
    }

    DEFAULT_CSS = """
    VolumeChart { height: 5; }
    VolumeChart > .volume-chart--events { color: $accent; }
    VolumeChart > .volume-chart--errors { color: $error; }
    VolumeChart > .volume-chart--selected { color: $foreground; }
    VolumeChart > .volume-chart--label { color: $text-muted; }
    VolumeChart.-selecting { border-subtitle-color: $foreground; border-subtitle-style: bold; }
    """

    class Jump(Message):
        """Show the log from ``ts`` on (the start of the chosen bucket)."""

        def __init__(self, ts: float) -> None:
            super().__init__()
            self.ts = ts

    def __init__(self, counts: VolumeCounts, *, time_format: Callable[[float], str],
                 id: str | None = None) -> None:
        super().__init__(id=id)
        self.counts = counts
        self.time_format = time_format
        self.histogram: Histogram | None = None
        self.selected_ts: float | None = None
        """The chosen bucket, as a time (the columns move as events come and go)."""
        self._seen: tuple[int, int] = (-1, -1)

    # ------------------------------------------------------------------ state

    def update_counts(self) -> None:
        """Re-bin when the counts or the width changed since the last time (cheap otherwise)."""
        width = self.content_region.width or self.size.width
        seen = (self.counts.version, width)
        if seen == self._seen:
            return
        self._seen = seen
        self.histogram = layout(self.counts, width)
        self._retitle()
        self.refresh()

    def on_resize(self) -> None:
        self.update_counts()

    @property
    def selected_column(self) -> int | None:
        if self.histogram is None or self.selected_ts is None:
            return None
        return self.histogram.column_at(self.selected_ts)

    def _retitle(self) -> None:
        """The title says the bucket width; the subtitle the peak and the keys, or what the
        selected bucket holds (bold: it answers the last key pressed), whole parts only."""
        histogram = self.histogram
        column = self.selected_column
        self.set_class(column is not None, "-selecting")
        if histogram is None:
            self.border_title = "Log volume"
            self.border_subtitle = ""
            return
        self.border_title = f"Log volume per {format_width(histogram.width_s)} · errors at the bottom"
        if column is None:
            parts = [f"peak {counted(histogram.peak, 'event')} per {format_width(histogram.width_s)}",
                     "←/→ Enter: jump"]
            separator = " · "
        else:
            parts = [f"{self._clock(histogram.bucket_start(column))}: "
                     f"{counted(histogram.events[column], 'event')}",
                     counted(histogram.errors[column], "error")]
            separator = ", "
        # At least 1: join_fitting reads 0 as no limit, and a chart not laid out has no room.
        room = max(1, self.size.width - _SUBTITLE_FRAME)
        self.border_subtitle = Content(join_fitting(parts, room, separator))

    # ------------------------------------------------------------------ actions

    def _select(self, column: int) -> None:
        assert self.histogram is not None
        self.selected_ts = float(self.histogram.bucket_start(column))
        self._retitle()
        self.refresh()

    def action_move(self, step: int) -> None:
        histogram = self.histogram
        if histogram is None:
            return
        column = self.selected_column
        if column is None:
            column = len(histogram.events) if step < 0 else -1
        self._select(max(0, min(len(histogram.events) - 1, column + step)))

    def action_jump(self) -> None:
        column = self.selected_column
        if self.histogram is None:
            return
        if column is None:
            self.action_move(-1)  # the newest bucket
            column = self.selected_column
        assert column is not None
        self.post_message(self.Jump(float(self.histogram.bucket_start(column))))

    def on_click(self, event: events.Click) -> None:
        histogram = self.histogram
        offset = event.get_content_offset(self)
        width = self._width()
        if histogram is None or offset is None or not 0 <= offset.x < width:
            return
        self._select(bucket_at(offset.x, len(histogram.events), width))
        self.action_jump()

    # ------------------------------------------------------------------ rendering

    def _width(self) -> int:
        return self.content_region.width or self.size.width

    def _style(self, name: str) -> Style:
        return self.get_component_rich_style(f"volume-chart--{name}", partial=True)

    def render_line(self, y: int) -> Strip:
        width = self._width()
        base = self.rich_style
        histogram = self.histogram
        if histogram is None:
            text = "no events held yet" if y == BAR_ROWS else ""
            return Strip([Segment(text.ljust(width)[:width], base + self._style("label"))])
        if y < BAR_ROWS:
            return self._bars(histogram, BAR_ROWS - 1 - y, width, base)
        if y == BAR_ROWS:
            return self._axis(histogram, width, base)
        return Strip.blank(width, base)

    def _bars(self, histogram: Histogram, row: int, width: int, base: Style) -> Strip:
        """Row ``row`` counted from the bottom: per bucket, the errors' part of the bar
        (bottom) in the error colour, the other events' part above it, as many columns wide
        as :func:`bucket_at` gives it."""
        peak = histogram.peak
        low = row * 8
        selected = self.selected_column
        events_style = self._style("events")
        errors_style = self._style("errors")
        cells = []
        for column, (count, errors) in enumerate(zip(histogram.events, histogram.errors)):
            top = eighths(count, peak, BAR_ROWS)
            error_top = min(top, eighths(errors, peak, BAR_ROWS))
            other = self._style("selected") if column == selected else events_style
            if top <= low:
                char, style = " ", base
            elif error_top >= low + 8:
                char, style = _BLOCKS[8], base + errors_style
            elif error_top > low:
                # The errors end inside this cell: their part in the error colour, the
                # rest of the cell in the events' colour when the bar goes on above.
                char = _BLOCKS[error_top - low]
                style = base + errors_style
                if top >= low + 8:
                    style += Style(bgcolor=other.color)
            else:
                char, style = _BLOCKS[min(8, top - low)], base + other
            cells.append(Segment(char, style))
        buckets = len(cells)
        segments = [Segment(cell.text * (first_column(bucket + 1, buckets, width)
                                         - first_column(bucket, buckets, width)), cell.style)
                    for bucket, cell in enumerate(cells)]
        return Strip(segments).crop_extend(0, width, base)

    def _axis(self, histogram: Histogram, width: int, base: Style) -> Strip:
        """The first bucket's time at the left, the newest's at the right edge (its bar ends
        there), and nothing else: a figure beside a time read as that time's."""
        first = self._clock(histogram.start)
        last = self._clock(histogram.bucket_start(len(histogram.events) - 1))
        gap = width - len(first) - len(last)
        text = f"{first}{' ' * gap}{last}" if gap >= 2 else last.rjust(width)
        return Strip([Segment(text[-width:], base + self._style("label"))], width)

    def _clock(self, ts: float) -> str:
        return self.time_format(ts).split(".")[0]
