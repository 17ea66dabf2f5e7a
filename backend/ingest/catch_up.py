"""Is the agent catching up on a backlog, and how far along is it?

A backlog is a followed file whose unread part is big: a file read ``--from-start``, lines
written while the agent was down, a large file that appeared under a glob. Read at ingest
speed (100k+ lines a second) it is history, not a live stream: streaming every event of it to
consoles measured 0.5–0.75 of a console's core and hundreds of thousands of events "dropped
by a slow link" for a 1M-line file (issue 11). While a catch-up lasts, the agent stores and
counts every event as usual but sends consoles its progress and the newest window instead.

Plain logic over a ``progress`` reading, so it is tested without files or sockets.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Final

from obsview.backend.ingest.sources.file_tail import FileTailSource
from obsview.common.protocol import CatchUp

START_BYTES: Final = 4 << 20
"""Unread bytes that make a backlog: more than a console's queue holds (10k events of ~340 B)
and more than any live log writes between two polls (50 ms: 80 MB/s)."""
END_BYTES: Final = 256 << 10
"""Unread bytes under which the backlog is read: what follows is the live stream again."""

Progress = tuple[int, int, int]
"""(bytes read, bytes the files hold now, lines read) over every followed file."""


class CatchUpTracker:
    """Whether a backlog is being read (with hysteresis), and its progress as a message."""

    def __init__(self, progress: Callable[[], Progress], *, clock: Callable[[], float],
                 start_bytes: int = START_BYTES, end_bytes: int = END_BYTES) -> None:
        self._progress = progress
        self._clock = clock
        self._start_bytes = start_bytes
        self._end_bytes = end_bytes
        self.active = False
        self._began: tuple[float, int, int] = (0.0, 0, 0)
        """(when, bytes read, lines read) as the catch-up began: its rate is measured since."""
        self._last: Progress = (0, 0, 0)

    def update(self) -> bool | None:
        """Read the progress; True when a catch-up began, False when it ended, else None."""
        read, total, lines = self._last = self._progress()
        unread = total - read
        if not self.active and unread >= self._start_bytes:
            self.active = True
            self._began = (self._clock(), read, lines)
            return True
        if self.active and unread <= self._end_bytes:
            self.active = False
            return False
        return None

    def message(self) -> CatchUp:
        """The progress as last read: bytes, lines and rate since the catch-up began."""
        read, total, lines = self._last
        began_at, began_read, began_lines = self._began
        elapsed = self._clock() - began_at
        rate = (lines - began_lines) / elapsed if elapsed > 0 else 0.0
        byte_rate = (read - began_read) / elapsed if elapsed > 0 else 0.0
        eta = (total - read) / byte_rate if byte_rate > 0 and self.active else None
        return CatchUp(read_bytes=read, total_bytes=total, lines=lines - began_lines,
                       lines_per_s=round(rate, 1), eta_s=None if eta is None else round(eta, 1),
                       done=not self.active)


def file_progress(sources: Iterable[object]) -> Progress:
    """Bytes read, bytes held and lines read, summed over the file sources among ``sources``."""
    done = total = lines = 0
    for source in sources:
        if isinstance(source, FileTailSource):
            read, held = source.progress()
            done, total, lines = done + read, total + held, lines + source.lines_read
    return done, total, lines
