"""One span over the waterfall: its identity and timing, its attributes, its events."""

from __future__ import annotations

import json

import orjson
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from obsview.common.spans import KIND_NAMES, Span
from obsview.tui.render import safe_text
from obsview.tui.widgets.event_detail import MAX_FIELD_CHARS
from obsview.tui.widgets.key_footer import KeyFooter
from obsview.tui.widgets.units import format_ms

_STATUS_NAMES = ("unset", "ok", "error")


def _json(value: object) -> str:
    try:
        return orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:  # lone surrogates: escaped, still shown
        return json.dumps(value, indent=2, ensure_ascii=True, default=str)


def span_text(span: Span, trace_start: float) -> str:
    """Everything about a span as text (what the screen shows, cleaned on display); times
    are offsets from ``trace_start``, as on the waterfall."""
    kind = KIND_NAMES[span.kind] if 0 <= span.kind < len(KIND_NAMES) else str(span.kind)
    status = _STATUS_NAMES[span.status] if 0 <= span.status < len(_STATUS_NAMES) else str(span.status)
    lines = [
        f"trace   {span.trace_id}",
        f"span    {span.span_id}" + (f"   parent {span.parent_id}" if span.parent_id else "   (root)"),
        f"service {span.service or '—'}   kind {kind or '—'}   scope {span.scope or '—'}",
        f"start   +{format_ms((span.start - trace_start) * 1000)} into the trace"
        f"   took {format_ms(span.duration_ms)}",
        f"status  {status}" + (f": {span.status_message}" if span.status_message else ""),
    ]
    if span.dropped:
        lines.append(f"dropped {span.dropped} attributes/events/links (by the producer or the agent's caps)")
    lines += ["", "Attributes", _json(dict(sorted(span.attributes.items())))]
    if span.events:
        lines += ["", "Events"]
        for event in span.events:
            lines.append(f"+{format_ms(max(0.0, (event.ts - span.start) * 1000))}  {event.name}")
            if event.attributes:
                lines.append(_json(event.attributes))
    return "\n".join(lines)


class SpanDetailScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape,q,enter", "dismiss", "Close", id="span.close"),
        Binding("c", "copy", "Copy JSON", id="span.copy"),
    ]

    DEFAULT_CSS = """
    SpanDetailScreen { align: center middle; }
    SpanDetailScreen > Vertical {
        width: 90%; height: 90%; border: round $accent; background: $surface; padding: 0 1;
    }
    SpanDetailScreen VerticalScroll { height: 1fr; }
    """

    def __init__(self, span: Span, trace_start: float) -> None:
        super().__init__()
        self.span = span
        self.trace_start = trace_start

    def compose(self) -> ComposeResult:
        with Vertical() as frame:
            frame.border_title = "Span"
            with VerticalScroll():
                yield Static(safe_text(span_text(self.span, self.trace_start), multiline=True, max_len=MAX_FIELD_CHARS),
                             id="span-text")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one(VerticalScroll).focus()

    def action_copy(self) -> None:
        import msgspec

        self.app.copy_to_clipboard(_json(msgspec.to_builtins(self.span)))
        self.notify("Span JSON copied to the clipboard", markup=False)
