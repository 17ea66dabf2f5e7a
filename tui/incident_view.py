"""What ``w`` writes: the console's filtered view as an incident file, and what it lacks.

Taken on the event loop (:func:`view_file` only lists references: ~10 ms for 100k events);
encoded and compressed in a thread (:func:`write_view`: seconds for 100k events).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from obsview.common.protocol import LogEvent, Message
from obsview.tui.incident import FORMAT, Header, view_frames, write_incident
from obsview.tui.model import MARKER_LOST, MARKER_SOURCE, EventBuffer
from obsview.tui.widgets.units import counted


@dataclass(frozen=True, slots=True)
class ViewFile:
    """One incident file's content, taken from the console at one moment."""

    header: Header
    events: list[LogEvent]
    """The view's events, and every marker line held (where events were lost on the way)."""
    messages: Sequence[Message]
    """The panels' state, as messages."""
    event_count: int
    """The agent's events among ``events`` (marker lines are not)."""


def view_file(buffer: EventBuffer, messages: Sequence[Message], *, created: float,
              to_come: int) -> ViewFile | None:
    """The filtered view as an incident file (None when no event matches). ``to_come``: events
    the agent was still sending, which the file's ``missing`` names."""
    events = [event for event in (buffer[index] for index in range(len(buffer)))
              if event.source != MARKER_SOURCE]
    if not events:
        return None
    # Every marker, whatever the filter: a filtered file must not hide that it has holes.
    markers = buffer.markers()
    lost = sum(int(marker.extra.get(MARKER_LOST, 0)) for marker in markers)
    missing = missing_note(to_come=to_come, lost=lost, filtered=not buffer.filter.is_everything)
    header = Header(FORMAT, created, "console view", events[0].ts, events[-1].ts,
                    buffer.filter.query, missing)
    return ViewFile(header, events + markers, messages, len(events))


def missing_note(*, to_come: int, lost: int, filtered: bool) -> str:
    """What a file lacks, in words ("" when nothing is known missing)."""
    parts = []
    if to_come:
        unfiltered = " (before the filter)" if filtered else ""
        parts.append(f"{counted(to_come, 'event')}{unfiltered} the agent was still sending")
    if lost:
        parts.append(f"{counted(lost, 'event')} lost on the way (marked where)")
    return "; ".join(parts)


def write_view(path: Path, view: ViewFile, progress: Callable[[int, int], None]) -> None:
    """Encode and write ``view`` (blocking: run it in a thread)."""
    frames = view_frames(view.events, view.messages, view.header.since)
    write_incident(path, view.header, frames, progress)
