"""A log line per interval for problems that can repeat per record.

A hostile or broken input can fail the same way on every line: logging each would flood the
agent's log (and the disk under it). The first occurrence is logged with its details; the
next ones within ``interval_s`` are only counted, and the count comes with the next line.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable


class RateLimitedLog:
    def __init__(
        self, logger: logging.Logger, interval_s: float, *, clock: Callable[[], float] = time.time
    ) -> None:
        self._logger = logger
        self._interval = interval_s
        self._clock = clock
        self._last = float("-inf")
        self.suppressed = 0
        """Occurrences not logged since the last line."""

    def warning(self, message: str, *args: object) -> None:
        self._log(logging.WARNING, message, args, exc_info=False)

    def exception(self, message: str, *args: object) -> None:
        """Like ``Logger.exception``: at ERROR, with the traceback being handled."""
        self._log(logging.ERROR, message, args, exc_info=True)

    def _log(self, level: int, message: str, args: tuple[object, ...], *, exc_info: bool) -> None:
        now = self._clock()
        if now - self._last < self._interval:
            self.suppressed += 1
            return
        self._last = now
        if self.suppressed:
            message += f" (and {self.suppressed} more like it since the last report)"
            self.suppressed = 0
        self._logger.log(level, message, *args, exc_info=exc_info)
