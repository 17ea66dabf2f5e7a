"""Keeps every log source running, and says what each one is doing.

A source's ``run`` is meant to run until cancelled and never to end because of one record
(the normalizer cannot raise on input, and the agent's ingest counts rather than raises). If
it ends with an exception all the same — a bug, a filesystem gone, a resource exhausted — the
source is restarted after a backoff (1 s doubling to 60 s; back to 1 s after a minute of
running), the error is logged, and its state says ``restarting`` until it runs again: in
``/api/health`` (as degraded) and on every console's status bar.

States (:data:`obsview.common.protocol.SOURCE_STATES`): ``reading``; ``waiting`` (a file
source whose path does not exist yet: it is read from its start once it appears);
``restarting`` (failed, restarts after the backoff); ``stopped`` (ended by itself: stdin at
end of input).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Final, Protocol, runtime_checkable

from obsview.backend.ingest.sources.base import Emit, Source
from obsview.common.backoff import Backoff
from obsview.common.protocol import SourceStatus

log = logging.getLogger(__name__)

BACKOFF_BASE_S: Final = 1.0
BACKOFF_CAP_S: Final = 60.0
HEALTHY_RUN_S: Final = 60.0
"""A run this long resets the backoff: the next failure is a new incident."""


@runtime_checkable
class _Waiting(Protocol):
    def waiting_for(self) -> list[str]:
        """Paths or patterns the source watches that name no file yet."""
        ...


@runtime_checkable
class _Watching(Protocol):
    def watched(self) -> list[tuple[str, bool]]:
        """Each path or pattern the source watches, and whether it names no file yet."""
        ...


class Supervised:
    """Runs one source until cancelled, restarting it when it fails."""

    def __init__(
        self,
        source: Source,
        emit: Emit,
        *,
        clock: Callable[[], float] = time.time,
        backoff_base_s: float = BACKOFF_BASE_S,
        backoff_cap_s: float = BACKOFF_CAP_S,
    ) -> None:
        self.source = source
        self._emit = emit
        self._clock = clock
        self._base = backoff_base_s
        self._cap = backoff_cap_s
        self._state = "reading"
        self._detail = ""
        self._since = clock()
        self.restarts = 0
        self.failed = asyncio.Event()
        """Set when a run failed (the agent's start turns a first failure into an error)."""
        self.last_error: BaseException | None = None
        self._paths: dict[str, tuple[str, float]] = {}
        """A file source's paths: the state each was last reported in, and since when."""

    def state(self) -> list[SourceStatus]:
        """This source's state; a file source that waits for paths tells which. A file source
        that reads is reported path by path (``file:PATH``, reading or waiting, each since it
        last changed): one missing path of several is not the whole source waiting."""
        if self._state != "reading":
            return [SourceStatus(self.source.name, self._state, self._detail, self._since,
                                self.restarts)]
        if isinstance(self.source, _Watching):
            watched = self.source.watched()
            if len(watched) > 1:
                return [self._path_state(path, waiting) for path, waiting in watched]
        waiting = self.source.waiting_for() if isinstance(self.source, _Waiting) else []
        if waiting:
            return [SourceStatus(self.source.name, "waiting", "waiting for " + ", ".join(waiting),
                                self._since, self.restarts)]
        return [SourceStatus(self.source.name, "reading", "", self._since, self.restarts)]

    def _path_state(self, path: str, waiting: bool) -> SourceStatus:
        state = "waiting" if waiting else "reading"
        known = self._paths.get(path)
        if known is None or known[0] != state:
            # Noticed when asked (the agent asks every metrics step): "since" is that close.
            known = self._paths[path] = (state, self._clock() if known else self._since)
        return SourceStatus(f"file:{path}", state, f"waiting for {path}" if waiting else "",
                            known[1], self.restarts)

    async def run(self) -> None:
        retry = Backoff(self._base, self._cap)
        while True:
            started = self._clock()
            self._set("reading", "")
            try:
                await self.source.run(self._emit)
            except Exception as exc:  # any failure: restart it, and say so
                self.last_error = exc
                self.failed.set()
                if self._clock() - started >= HEALTHY_RUN_S:
                    retry.reset()  # a new incident, not the same one again
                delay = retry.next()
                self.restarts += 1
                reason = f"{type(exc).__name__}: {exc}"[:300]
                self._set("restarting", reason)
                log.error("log source %s failed (%s); restarting in %gs", self.source.name,
                          reason, delay, exc_info=exc)
                await asyncio.sleep(delay)
                continue
            self._set("stopped", "ended")
            log.info("log source %s ended", self.source.name)
            return

    def _set(self, state: str, detail: str) -> None:
        if (state, detail) != (self._state, self._detail):
            self._state, self._detail, self._since = state, detail, self._clock()
