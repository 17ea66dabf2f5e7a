"""The one place the console imports the agent side: ``obsview demo`` and the ``d`` key.

Everything the demo starts (agent, demo API, fake dependency, load generator) lives inside
``run_demo``'s context: leaving it stops all of it, so quitting the console leaves nothing
listening.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


@asynccontextmanager
async def demo_agent(*, agent_port: int = 0) -> AsyncIterator[str]:
    """Run the demo stack in this process and yield its agent's websocket URL."""
    # Imported here, not at module level: a console that never starts the demo never loads
    # the agent, the demo API or uvicorn.
    from obsview.backend.demo import run_demo

    async with run_demo(agent_port=agent_port) as stack:
        yield stack.agent_url
