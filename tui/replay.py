"""``obsview replay FILE [--speed 10]``: an incident file in the full dashboard, as it happened.

No agent is needed: the file's frames are fed to the dashboard at their offsets from the
first one (``--speed`` times faster). ``P`` pauses and resumes, ``<`` and ``>`` seek a minute
back or forward (back: the dashboard starts over and takes every frame up to there at once).
The status line says where the replay is.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Callable
from typing import ClassVar, Final

from textual.binding import Binding, BindingType

from obsview.common.protocol import Message
from obsview.tui.app import ObsviewApp
from obsview.tui.incident import Incident

SEEK_S: Final = 60.0
TICK_S: Final = 0.05


class Replayer:
    """Which frames are due, for a position in the incident that moves with a clock."""

    def __init__(self, incident: Incident, *, speed: float = 1.0, clock: Callable[[], float] = time.monotonic) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.incident = incident
        self.speed = speed
        self.paused = False
        self._clock = clock
        self._index = 0
        self._base_offset = 0.0
        self._base_clock = clock()

    @property
    def length(self) -> float:
        return max(0.0, self.incident.end - self.incident.start)

    @property
    def offset(self) -> float:
        """Seconds of incident time since its first frame."""
        moving = 0.0 if self.paused else (self._clock() - self._base_clock) * self.speed
        return min(self.length, self._base_offset + moving)

    def now(self) -> float:
        """The incident's time at the replay's position (what the dashboard's ages count from)."""
        return self.incident.start + self.offset

    def due(self) -> list[Message]:
        """Frames whose time has come since the last call, oldest first."""
        limit = self.now()
        frames = self.incident.frames
        start = self._index
        while self._index < len(frames) and frames[self._index][0] <= limit:
            self._index += 1
        return [message for _ts, message in frames[start : self._index]]

    def toggle_pause(self) -> None:
        self._base_offset, self._base_clock = self.offset, self._clock()
        self.paused = not self.paused

    def seek(self, offset: float) -> bool:
        """Move to ``offset``; True when that is backwards (what was shown must be redone)."""
        offset = max(0.0, min(self.length, offset))
        back = offset < self.offset
        self._base_offset, self._base_clock = offset, self._clock()
        if back:
            self._index = 0
        return back

    def describe(self) -> str:
        at = datetime.datetime.fromtimestamp(self.incident.start + self.offset).strftime("%Y-%m-%d %H:%M:%S")
        state = "paused" if self.paused else f"x{self.speed:g}"
        return (f"replay {at} · {_clock(self.offset)} of {_clock(self.length)} · {state}"
                " · P pause, < > seek 1 min")


def _clock(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 3600:02d}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


class ReplayApp(ObsviewApp):
    """The dashboard fed from an incident file instead of an agent."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("P", "replay_pause", "Pause replay", id="replay.pause"),
        Binding("less_than_sign", "replay_seek(-1)", "Seek back", id="replay.back"),
        Binding("greater_than_sign", "replay_seek(1)", "Seek forward", id="replay.forward"),
    ]

    def __init__(self, replayer: Replayer, **options: object) -> None:
        # Ages on screen ("firing 2m") count in the incident's time, not today's: an alert
        # that fired a minute into a replay was shown as firing for as long as the file was old.
        options.setdefault("clock", replayer.now)
        super().__init__(url=None, **options)  # type: ignore[arg-type]
        self.replayer = replayer

    def on_mount(self) -> None:
        # Textual runs ObsviewApp.on_mount first by itself (handlers of every class in the MRO).
        self.every(TICK_S, self.replay_step)

    def replay_step(self) -> None:
        dashboard = self.dashboard
        for message in self.replayer.due():
            dashboard.enqueue(message)
        dashboard.show_connection("offline", self.replayer.describe())

    def action_replay_pause(self) -> None:
        self.replayer.toggle_pause()
        self.dashboard.show_held("replay paused" if self.replayer.paused else "")
        self.replay_step()

    def action_replay_seek(self, direction: int) -> None:
        if self.replayer.seek(self.replayer.offset + direction * SEEK_S):
            self.dashboard.reset()
        self.replay_step()
        self.dashboard.flush()
