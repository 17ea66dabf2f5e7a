"""Cutting event batches into frames a console accepts: a bounded count and size per frame."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from obsview.common.protocol import LogEvent, encode_events

MAX_MESSAGE_BYTES: Final = 1 << 20
FRAME_EVENTS: Final = 500
"""Events per frame at most, so a frame stays far below the console's 1 MiB limit."""
FRAME_BYTES: Final = 256 * 1024


def event_frames(events: Sequence[LogEvent], max_events: int) -> list[tuple[bytes, list[LogEvent]]]:
    """Encode a batch as ``events`` frames of at most ``max_events`` events and about
    FRAME_BYTES, each with the events it holds (to re-wrap them in another message: a few
    hundred bytes more than FRAME_BYTES still leaves the frame far below the cap)."""
    frames: list[tuple[bytes, list[LogEvent]]] = []
    step = max(1, min(FRAME_EVENTS, max_events))
    pending = [list(events[i : i + step]) for i in range(0, len(events), step)]
    while pending:
        chunk = pending.pop(0)
        frame = encode_events(chunk)
        if len(frame) > FRAME_BYTES and len(chunk) > 1:
            half = len(chunk) // 2
            pending[0:0] = [chunk[:half], chunk[half:]]
            continue
        frames.append((frame, chunk))
    return frames
