"""What every log source has in common."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Protocol

from obsview.backend.ingest.sources.checkpoint import Position
from obsview.common.protocol import LogEvent


class Emit(Protocol):
    """Hands a batch of normalized events to the agent. Awaiting it is the backpressure: a
    source that awaits ``emit`` reads no more input until the agent has taken the batch, so a
    burst slows the source down instead of growing memory or losing lines. A file tail whose
    offsets the journal keeps gives the ``position`` reading reached with the batch."""

    def __call__(self, events: list[LogEvent], position: Position | None = None, /) -> Awaitable[None]:
        ...


class Source(Protocol):
    name: str
    """Shown in the agent's log and on the console (``file:/var/log/app.log``, ``tcp:…``)."""

    async def run(self, emit: Emit) -> None:
        """Read until cancelled, emitting batches. Cancellation must release every resource."""
        ...
