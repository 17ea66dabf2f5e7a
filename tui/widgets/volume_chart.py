"""Log volume over time (``i``, like lnav's): events per bucket with the errors stacked at the
bottom of each bar, over everything the console holds; a selected bucket jumps the stream to
its first event."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import ClassVar, Final

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding
from textual.message import Message
from textual.strip import Strip
from textual.widget import Widget

from obsview.tui.volume import Histogram, VolumeCounts, layout
from obsview.tui.widgets.units import counted, join_fitting

#: Eighths of a cell, from empty to full (U+2581–U+2588).
_BLOCKS: Final = " ▁▂▃▄▅▆▇█"
BAR_ROWS: Final = 2
#: The label between the axis times is left out in less room than this.
_MIDDLE_MIN: Final = 8


def format_width(seconds: int) -> str:
    """A bucket width as people say it: ``30 s``, ``5 min``, ``1 h``, ``2 d``."""
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"


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
        "volume-chart--label", "volume-chart--selected-label",
    }

    DEFAULT_CSS = """
    VolumeChart { height: 5; }
    VolumeChart > .volume-chart--events { color: $accent; }
    VolumeChart > .volume-chart--errors { color: $error; }
    VolumeChart > .volume-chart--selected { color: $foreground; }
    VolumeChart > .volume-chart--label { color: $text-muted; }
    VolumeChart > .volume-chart--selected-label { color: $foreground; text-style: bold; }
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
        histogram = self.histogram
        if histogram is None:
            self.border_title = "Log volume"
            return
        self.border_title = f"Log volume per {format_width(histogram.width_s)} · errors at the bottom"

    # ------------------------------------------------------------------ actions

    def action_move(self, step: int) -> None:
        histogram = self.histogram
        if histogram is None:
            return
        column = self.selected_column
        if column is None:
            column = len(histogram.events) if step < 0 else -1
        column = max(0, min(len(histogram.events) - 1, column + step))
        self.selected_ts = float(histogram.bucket_start(column))
        self.refresh()

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
        if histogram is None or offset is None or offset.x >= len(histogram.events):
            return
        self.selected_ts = float(histogram.bucket_start(offset.x))
        self.refresh()
        self.action_jump()

    # ------------------------------------------------------------------ rendering

    def _style(self, name: str) -> Style:
        return self.get_component_rich_style(f"volume-chart--{name}", partial=True)

    def render_line(self, y: int) -> Strip:
        width = self.content_region.width or self.size.width
        base = self.rich_style
        histogram = self.histogram
        if histogram is None:
            text = "no events held yet" if y == BAR_ROWS else ""
            return Strip([Segment(text.ljust(width)[:width], base + self._style("label"))])
        if y < BAR_ROWS:
            return self._bars(histogram, BAR_ROWS - 1 - y, width, base)
        if y == BAR_ROWS:
            return self._labels(histogram, width, base)
        return Strip.blank(width, base)

    def _bars(self, histogram: Histogram, row: int, width: int, base: Style) -> Strip:
        """Row ``row`` counted from the bottom: per column, the errors' part of the bar
        (bottom) in the error colour, the other events' part above it."""
        peak = histogram.peak
        low = row * 8
        selected = self.selected_column
        events_style = self._style("events")
        errors_style = self._style("errors")
        segments = []
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
            segments.append(Segment(char, style))
        used = len(histogram.events)
        if used < width:
            segments.append(Segment(" " * (width - used), base))
        return Strip(segments, width)

    def _labels(self, histogram: Histogram, width: int, base: Style) -> Strip:
        """The first bucket's time under the first bar, the newest's ending under the newest
        bar (the bars may fill only part of the width: it sat at the far right, under no
        bar), and what the selected bucket holds (or the peak) between them, or after the
        newest's time when the bars leave no room between."""
        first = self._clock(histogram.bucket_start(0))
        last = self._clock(histogram.bucket_start(len(histogram.events) - 1))
        column = self.selected_column
        if column is None:
            parts = [f"peak {counted(histogram.peak, 'event')} per {format_width(histogram.width_s)}",
                     "←/→ Enter: jump"]
            separator, middle_style = " · ", base + self._style("label")
        else:
            parts = [f"{self._clock(histogram.bucket_start(column))}: "
                     f"{counted(histogram.events[column], 'event')}",
                     counted(histogram.errors[column], "error")]
            separator, middle_style = ", ", base + self._style("selected-label")
        whole = separator.join(parts)
        label = base + self._style("label")
        end = max(len(histogram.events), len(last))  # where the newest time ends
        head = first if end >= len(first) + 1 + len(last) else ""
        between = end - len(head) - len(last) - 2  # a space either side of the middle
        after = width - end - 1
        # The middle goes where it fits whole, between the times first, else where there
        # is more room, with the parts that fit there whole (never "←/→ E"), or nowhere in
        # less than _MIDDLE_MIN cells.
        inside = len(whole) <= between or (len(whole) > after and between >= after)
        segments = [Segment(head, label)]
        if inside and between >= _MIDDLE_MIN:
            middle = join_fitting(parts, between, separator)
            segments.append(Segment(f" {middle.center(between)} ", middle_style))
        else:
            segments.append(Segment(" " * max(0, between + 2), base))
        segments.append(Segment(last, label))
        if not inside and after >= _MIDDLE_MIN:
            segments.append(Segment(" " + join_fitting(parts, after, separator), middle_style))
        return Strip(segments).crop_extend(0, width, base)

    def _clock(self, ts: float) -> str:
        return self.time_format(ts).split(".")[0]
