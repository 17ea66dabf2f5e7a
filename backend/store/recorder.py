"""What the agent sent besides events, kept in the journal for incident files and replays.

Every metrics, health and alert message the agent broadcasts is recorded with its time, as
the exact frame consoles received, and closed minutes of request metrics are kept as
:class:`MinutePoint` rows (history read late, by its own minutes, as :class:`HistoryMinute`
rows). Frames are packed together and handed to the journal's writer thread once a minute
(LZ4 over a minute of similar snapshots shrinks them ~10x), or at once when an alert or
health message is among them, so a crash loses at most a minute of metrics and no alert
change that made it to the writer.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import lz4.block  # type: ignore[import-untyped]  # python-lz4 ships no type information
import msgspec

from obsview.backend.store.history_minutes import HistoryMinute, read_history_minutes, write_history_minutes
from obsview.backend.store.journal import Journal
from obsview.backend.store.journal_writer import JournalWriter
from obsview.common.protocol import MinutePoint, TimedFrame

FLUSH_INTERVAL_S: Final = 60.0
_MINUTE: Final = msgspec.msgpack.Encoder()
_MINUTE_DECODER: Final = msgspec.msgpack.Decoder(MinutePoint)
_FRAMES_DECODER: Final = msgspec.msgpack.Decoder(list[TimedFrame])
_FRAMES: Final = msgspec.msgpack.Encoder()


class StateRecorder:
    def __init__(self, writer: JournalWriter, *, clock: Callable[[], float] = time.time) -> None:
        self._writer = writer
        self._clock = clock
        self._pending: list[TimedFrame] = []
        self._urgent = False
        self._flushed_at: float | None = None

    def record(self, ts: float, frame: bytes, *, urgent: bool = False) -> None:
        self._pending.append(TimedFrame(ts, frame.decode()))
        self._urgent = self._urgent or urgent

    def record_minute(self, point: MinutePoint) -> None:
        data = _MINUTE.encode(point)
        self._writer.submit(lambda journal: journal.write_minute(int(point.ts // 60), data))

    def record_history(self, minutes: list[HistoryMinute]) -> None:
        """What minutes of history got since the last call (each added to its row). Stamped
        as the writer gets to it, after the blocks of those requests (handed to it first):
        retention drops the rows with the last of those blocks, not before."""
        self._writer.submit(lambda journal: write_history_minutes(journal, minutes, self._clock()))

    def flush(self, now: float, *, force: bool = False) -> bool:
        """Hand the pending frames to the writer when due; True when a new batch starts (the
        caller records the alert list and health report in force as its first frames)."""
        if self._flushed_at is None:
            self._flushed_at = now
        due = force or self._urgent or now - self._flushed_at >= FLUSH_INTERVAL_S
        if not due or not self._pending:
            return False
        frames, self._pending, self._urgent, self._flushed_at = self._pending, [], False, now
        first = frames[0].ts

        def write(journal: Journal) -> None:
            journal.write_state(first, "frames", lz4.block.compress(_FRAMES.encode(frames)))

        self._writer.submit(write)
        return True


@dataclass(frozen=True, slots=True)
class RecordedSpan:
    frames: list[TimedFrame]
    minutes: list[MinutePoint]
    """The live minutes the span covers (the agent's own time)."""
    history: list[HistoryMinute]
    """The minutes of history read late the span covers (the requests' own time)."""


def read_states(journal: Journal, since_ts: float, until_ts: float) -> RecordedSpan:
    """Recorded frames stamped in the span (oldest first) and the minutes it covers. The
    alert list and health report in force at ``since_ts`` come first, stamped ``since_ts``
    (each recorded batch starts with them, so the batch before the span has them)."""
    frames: list[TimedFrame] = []
    in_force: dict[str, TimedFrame] = {}
    for _ts, data in journal.states(since_ts - 2 * FLUSH_INTERVAL_S, until_ts):
        for frame in _FRAMES_DECODER.decode(lz4.block.decompress(data)):
            if frame.ts >= since_ts and frame.ts <= until_ts:
                frames.append(frame)
            elif frame.ts < since_ts:
                kind = _state_kind(frame.frame)
                if kind:
                    in_force[kind] = TimedFrame(since_ts, frame.frame)
    history = read_history_minutes(journal, int(since_ts // 60), int(until_ts // 60))
    return RecordedSpan([*in_force.values(), *frames], _minutes(journal, since_ts, until_ts), history)


def _state_kind(frame: str) -> str:
    for kind in ("alerts", "health"):
        if frame.startswith(f'{{"v":1,"type":"{kind}"'):
            return kind
    return ""


def _minutes(journal: Journal, since_ts: float, until_ts: float) -> list[MinutePoint]:
    return [_MINUTE_DECODER.decode(row) for row in journal.minutes(int(since_ts // 60), int(until_ts // 60))]


def recent_minutes(journal: Journal, now: float) -> list[MinutePoint]:
    """The last day of minutes, for an agent starting over an existing journal."""
    return _minutes(journal, now - 86400, now)
