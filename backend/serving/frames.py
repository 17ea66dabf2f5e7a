"""Cutting event batches into frames a console accepts: a bounded count and size per frame."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Final, TypeVar

import msgspec

from obsview.common.protocol import MAX_FRAME_BYTES, LogEvent, Spans, encode, encode_events
from obsview.common.spans import Span

log = logging.getLogger(__name__)
_Item = TypeVar("_Item")

MAX_MESSAGE_BYTES: Final = 1 << 20
FRAME_EVENTS: Final = 500
"""Events per frame at most, so a frame stays far below the console's 1 MiB limit."""
FRAME_BYTES: Final = 256 * 1024
FITTED_CHARS: Final = 64 * 1024
"""Characters kept per text field of an event that would not fit in a frame."""


def event_frames(events: Sequence[LogEvent], max_events: int) -> list[tuple[bytes, list[LogEvent]]]:
    """Encode a batch as ``events`` frames of at most ``max_events`` events and about
    FRAME_BYTES, each with the events it holds (to re-wrap them in another message: a few
    hundred bytes more than FRAME_BYTES still leaves the frame far below the cap). An event
    too big for a frame of its own, or that cannot be encoded at all, is sent cut down
    (:func:`fitted`): encoding never fails on a stored event."""
    return _frames(events, max_events, encode_events, fitted)


def span_frames(spans: Sequence[Span], max_spans: int) -> list[tuple[bytes, list[Span]]]:
    """The same for spans: ``spans`` frames of at most ``max_spans`` and about FRAME_BYTES;
    a span too big for a frame of its own is sent without its attributes and events."""
    return _frames(spans, max_spans, lambda chunk: encode(Spans(tuple(chunk))), fitted_span)


def _frames(
    items: Sequence[_Item], max_items: int, encode_chunk: Callable[[list[_Item]], bytes],
    fit: Callable[[_Item, int], _Item],
) -> list[tuple[bytes, list[_Item]]]:
    frames: list[tuple[bytes, list[_Item]]] = []
    step = max(1, min(FRAME_EVENTS, max_items))
    pending = [list(items[i : i + step]) for i in range(0, len(items), step)]
    while pending:
        chunk = pending.pop(0)
        try:
            frame = encode_chunk(chunk)
        except Exception:  # it would end the source that stored it, and every replay
            chunk = [_encodable(item, encode_chunk, fit) for item in chunk]
            frame = encode_chunk(chunk)
        if len(frame) > FRAME_BYTES and len(chunk) > 1:
            half = len(chunk) // 2
            pending[0:0] = [chunk[:half], chunk[half:]]
            continue
        if len(frame) > MAX_FRAME_BYTES:
            chunk = [fit(chunk[0], len(frame))]
            frame = encode_chunk(chunk)
        frames.append((frame, chunk))
    return frames


def _encodable(item: _Item, encode_chunk: Callable[[list[_Item]], bytes],
               fit: Callable[[_Item, int], _Item]) -> _Item:
    """``item``, or, if it cannot be encoded (normalization bounds nesting and sizes, so
    only a bug gets here), the same cut down (``fit`` with size 0)."""
    try:
        encode_chunk([item])
    except Exception:  # whatever it is, the stream goes on
        log.warning("an item of a frame cannot be encoded: sent cut down")
        return fit(item, 0)
    return item


def fitted(event: LogEvent, size: int) -> LogEvent:
    """``event`` cut down to fit a frame (``size``: what it encoded to; 0 when it could not
    be encoded): the agent truncates fields at ingest, so only an event built in-process (or
    a bug) gets here; it keeps what the log view needs, in valid UTF-8."""
    if size:
        log.warning("event %d encodes to %d bytes, over the %d-byte frame cap: sent cut down",
                    event.seq, size, MAX_FRAME_BYTES)

    def cut(text: str) -> str:  # a lone surrogate cannot be encoded
        return text[:FITTED_CHARS].encode("utf-8", "replace").decode("utf-8")

    return LogEvent(
        ts=event.ts, level=event.level, message=cut(event.message), seq=event.seq,
        service=cut(event.service), host=cut(event.host), trace_id=cut(event.trace_id),
        source=cut(event.source), raw=cut(event.raw), extra={"obsview.frame_bytes": size},
        truncated=True,
    )


def fitted_span(span: Span, size: int) -> Span:
    """``span`` without what made it too big for a frame (its attributes and events), and a
    note of how big it was: the waterfall still shows it in its place."""
    log.warning("span %s encodes to %d bytes, over the %d-byte frame cap: sent without its "
                "attributes and events", span.span_id, size, MAX_FRAME_BYTES)
    return msgspec.structs.replace(
        span, name=span.name[:FITTED_CHARS], status_message=span.status_message[:FITTED_CHARS],
        attributes={"obsview.frame_bytes": size}, events=(),
        dropped=span.dropped + len(span.attributes) + len(span.events),
    )
