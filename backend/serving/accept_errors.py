"""One log line per interval for asyncio's "socket.accept() out of system resource".

At the process's descriptor limit asyncio reports every failed ``accept`` through the loop's
exception handler, with a traceback, up to a hundred times per readiness event: a flood of
idle sockets at ``ulimit -n 1024`` wrote 906k lines in 35 s. The connection caps keep the agent
below the limit; this keeps the log readable if something else (probes, files) takes the
descriptors: the first report is logged, the rest of the interval is counted and summed up
in the next line.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any, Final

log = logging.getLogger(__name__)

ACCEPT_MESSAGE: Final = "socket.accept() out of system resource"
INTERVAL_S: Final = 10.0

Handler = Callable[[asyncio.AbstractEventLoop, dict[str, Any]], object]


class AcceptErrorLimiter:
    """Installed as the loop's exception handler; every other report goes to the previous
    handler (or the loop's default) unchanged."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._previous: Handler | None = None
        self._installed = False
        self._last = float("-inf")
        self.suppressed = 0
        """Reports not logged since the last line."""

    def install(self, loop: asyncio.AbstractEventLoop) -> None:
        self._previous = loop.get_exception_handler()
        loop.set_exception_handler(self._handle)
        self._installed = True

    def uninstall(self, loop: asyncio.AbstractEventLoop) -> None:
        """Put the previous handler back (a no-op when not installed)."""
        if self._installed:
            loop.set_exception_handler(self._previous)
            self._installed = False

    def _handle(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if context.get("message") != ACCEPT_MESSAGE:
            if self._previous is not None:
                self._previous(loop, context)
            else:
                loop.default_exception_handler(context)
            return
        now = self._clock()
        if now - self._last < INTERVAL_S:
            self.suppressed += 1
            return
        self._last = now
        exception = context.get("exception")
        more = f" ({self.suppressed} more since the last report)" if self.suppressed else ""
        self.suppressed = 0
        log.error(
            "cannot accept connections: %s (out of file descriptors? raise `ulimit -n`)%s",
            exception or "out of resources", more,
        )
