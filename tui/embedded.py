"""The one place the console imports the agent side: ``obsview demo``, the ``d`` key, and
``obsview FILE…`` / ``cmd | obsview -``.

Everything started here (agent, demo API, fake dependency, load generator) lives inside a
context manager: leaving it stops all of it, so quitting the console leaves nothing listening.
"""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from obsview.tui.widgets.units import counted, format_bytes


@asynccontextmanager
async def demo_agent(*, agent_port: int = 0) -> AsyncIterator[str]:
    """Run the demo stack in this process and yield its agent's websocket URL."""
    # Imported here, not at module level: a console that never starts the demo never loads
    # the agent, the demo API or uvicorn.
    from obsview.backend.demo import run_demo

    async with run_demo(agent_port=agent_port) as stack:
        yield stack.agent_url


class EmbeddedAgentError(Exception):
    """The embedded agent could not start; the message says why (one line)."""


@dataclass(frozen=True, slots=True)
class LoadProgress:
    """How far the embedded agent has read the files it was given."""

    done_bytes: int
    total_bytes: int
    lines: int
    """Lines read so far, files and pipe together."""

    @property
    def complete(self) -> bool:
        return self.done_bytes >= self.total_bytes

    def describe(self) -> str:
        """``loading 45 % of 27.1 MB · 52,311 lines``, then ``27.1 MB · 120,000 lines read``."""
        lines = counted(self.lines, "line")
        if not self.total_bytes:
            return f"{lines} read"
        if self.complete:
            return f"{format_bytes(self.total_bytes)} · {lines} read"
        percent = 100 * self.done_bytes // self.total_bytes
        return f"loading {percent} % of {format_bytes(self.total_bytes)} · {lines}"


@dataclass(frozen=True, slots=True)
class EmbeddedAgent:
    url: str
    progress: Callable[[], LoadProgress]


@asynccontextmanager
async def file_agent(paths: Sequence[str], *, stdin_fd: int | None = None,
                     from_start: bool = True) -> AsyncIterator[EmbeddedAgent]:
    """An agent on a free loopback port reading ``paths`` (globs too) and, with ``stdin_fd``,
    a pipe. Its state (tail offsets, alert state) lives in a temporary directory removed on
    exit: opening the same file again shows it whole again, as a viewer should."""
    from obsview.backend.agent import Agent
    from obsview.backend.config import AgentConfig
    from obsview.backend.errors import ObsviewError

    with tempfile.TemporaryDirectory(prefix="obsview-") as state_dir:
        config = AgentConfig(
            listen=("127.0.0.1", 0), tail=list(paths), from_start=from_start,
            stdin=stdin_fd is not None, stdin_fd=stdin_fd, state_dir=Path(state_dir),
        )
        agent = Agent(config)
        try:
            await agent.start()
        except ObsviewError as exc:
            raise EmbeddedAgentError(str(exc)) from None
        try:
            yield EmbeddedAgent(agent.url, partial(_load_progress, agent.sources))
        finally:
            await agent.stop()


def _load_progress(sources: Sequence[object]) -> LoadProgress:
    from obsview.backend.ingest.catch_up import file_progress
    from obsview.backend.ingest.sources.stdin import StdinSource

    done, total, lines = file_progress(sources)
    lines += sum(source.lines_read for source in sources if isinstance(source, StdinSource))
    return LoadProgress(done, total, lines)
