"""Incident files: a span of what an agent saw, self-contained, replayable without an agent.

A gzip-compressed JSON-lines file (``zcat`` reads it). The first line is a header::

    {"obsview_incident": 1, "created": 1796325000.0, "source": "ws://127.0.0.1:8765",
     "since": 1796321400.0, "until": 1796325000.0, "filter": "level:warn+", "missing": ""}

``missing`` says in words what the span lacks (events the agent was still sending when ``w``
wrote it, events lost on the link, marked where); empty when nothing is known missing.

then one line per message, oldest first: ``{"t": <unix seconds>, "frame": <message>}``, where
the message is a wire frame exactly as a console receives it (``events``, ``metrics``,
``health``, ``alerts``). Events are grouped in ``events`` frames by their own time; metrics,
health and alerts are the frames the agent sent, at the time it sent them. A replay feeds the
frames to the dashboard at their offsets from the first one.
"""

from __future__ import annotations

import datetime
import gzip
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import msgspec

from obsview.common.atomic_file import atomic_output
from obsview.common.protocol import LogEvent, Message, ProtocolError, decode, encode, encode_events

FORMAT: Final = 1
EVENTS_PER_FRAME: Final = 500
EVENT_SLOT_S: Final = 0.1
"""Events stamped within this of each other travel in one frame (replay granularity)."""


class IncidentError(ValueError):
    """A file that is not an incident file (or is damaged); the message names it."""


class Header(msgspec.Struct, frozen=True):
    obsview_incident: int
    created: float
    source: str
    since: float
    until: float
    filter: str = ""
    missing: str = ""


class _Line(msgspec.Struct, frozen=True):
    t: float
    frame: msgspec.Raw


@dataclass(frozen=True, slots=True)
class Incident:
    header: Header
    frames: list[tuple[float, Message]]
    """(time, message), oldest first."""

    @property
    def start(self) -> float:
        return self.frames[0][0] if self.frames else self.header.since

    @property
    def end(self) -> float:
        return self.frames[-1][0] if self.frames else self.header.until


def event_frames(events: Sequence[LogEvent]) -> list[tuple[float, bytes]]:
    """Events as ``events`` frames, each of events stamped within one EVENT_SLOT_S."""
    frames: list[tuple[float, bytes]] = []
    batch: list[LogEvent] = []
    for event in sorted(events, key=lambda e: (e.ts, e.seq)):
        if batch and (event.ts - batch[0].ts >= EVENT_SLOT_S or len(batch) >= EVENTS_PER_FRAME):
            frames.append((batch[0].ts, encode_events(batch)))
            batch = []
        batch.append(event)
    if batch:
        frames.append((batch[0].ts, encode_events(batch)))
    return frames


def write_incident(path: Path, header: Header, frames: Iterable[tuple[float, bytes]],
                   progress: Callable[[int, int], None] | None = None) -> int:
    """Write the file (frames sorted by time, stably); returns how many frames it holds.
    ``progress(written, total)`` is called every hundredth of the frames and at the last
    (compressing 100k events takes seconds)."""
    ordered = sorted(frames, key=lambda item: item[0])
    encoder = msgspec.json.Encoder()
    total = len(ordered)
    step = max(1, total // 100)
    with atomic_output(path) as raw, gzip.GzipFile(fileobj=raw, mode="wb") as file:
        file.write(encoder.encode(header) + b"\n")
        for written, (ts, frame) in enumerate(ordered, 1):
            file.write(encoder.encode(_Line(ts, msgspec.Raw(frame))) + b"\n")
            if progress is not None and (written % step == 0 or written == total):
                progress(written, total)
    return total


def read_incident(path: Path) -> Incident:
    try:
        with gzip.open(path, "rb") as file:
            lines = file.read().splitlines()
    except (OSError, EOFError) as exc:
        raise IncidentError(f"{path} is not an obsview incident file ({exc})") from None
    try:
        header = msgspec.json.decode(lines[0], type=Header) if lines else None
    except msgspec.DecodeError:
        header = None
    if header is None:
        raise IncidentError(f"{path} is not an obsview incident file (no header line)")
    if header.obsview_incident > FORMAT:
        raise IncidentError(f"{path} was written by a newer obsview (format {header.obsview_incident})")
    frames: list[tuple[float, Message]] = []
    for number, line in enumerate(lines[1:], 2):
        try:
            parsed = msgspec.json.decode(line, type=_Line)
            message = decode(bytes(parsed.frame))
        except (msgspec.DecodeError, ProtocolError) as exc:
            raise IncidentError(f"{path} line {number} is damaged: {exc}") from None
        if isinstance(message, Message):  # a frame type this console does not know is skipped
            frames.append((parsed.t, message))
    return Incident(header, frames)


def view_frames(events: Sequence[LogEvent], state_messages: Iterable[Message], at: float) -> list[tuple[float, bytes]]:
    """What the console shows, as frames: its events, and its panels' messages stamped ``at``."""
    return [*((at, encode(message)) for message in state_messages), *event_frames(events)]


# --------------------------------------------------------------------------- times

_AGO: Final = re.compile(r"(\d+(?:\.\d+)?)\s*(s|m|h|d)", re.IGNORECASE)
_CLOCK: Final = re.compile(r"(\d{1,2}):(\d{2})(?::(\d{2}))?")
_UNIT_S: Final = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_when(text: str, now: float) -> float:
    """``15m`` (ago), ``10:00`` (today, or yesterday if that is still to come) or an ISO time
    (local time unless it says otherwise) as Unix seconds; ValueError says what is expected."""
    text = text.strip()
    ago = _AGO.fullmatch(text)
    if ago:
        return now - float(ago.group(1)) * _UNIT_S[ago.group(2).lower()]
    local_now = datetime.datetime.fromtimestamp(now).astimezone()
    clock = _CLOCK.fullmatch(text)
    if clock:
        hour, minute, second = int(clock.group(1)), int(clock.group(2)), int(clock.group(3) or 0)
        if hour > 23 or minute > 59 or second > 59:
            raise ValueError(f"{text!r} is not a time of day")
        moment = local_now.replace(hour=hour, minute=minute, second=second, microsecond=0)
        if moment.timestamp() > now:
            moment -= datetime.timedelta(days=1)
        return moment.timestamp()
    try:
        moment = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{text!r}: expected 15m / 2h / 1d (ago), 10:00, or an ISO time like 2026-12-03T10:00") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=local_now.tzinfo)
    return moment.timestamp()
