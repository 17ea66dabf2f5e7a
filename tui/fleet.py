"""One client per agent of a fleet, each reconnecting on its own.

:class:`FleetClients` runs an :class:`~obsview.tui.client.AgentClient` per host in one task
group. Every client keeps its own backoff, resume point (``since_seq``) and gap and drop
totals, so a host that is down, slow to answer or refusing the token costs the others
nothing: their messages keep flowing while it retries. A client that fails on a bug is
logged and reported as that host's closed state; it never ends the others.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

from obsview.common.protocol import Message
from obsview.tui.client import AgentClient, ConnectionState, NotConnected

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class FleetHost:
    """An agent to connect to: ``url`` is where (an ssh host's local tunnel end)."""

    name: str
    url: str
    token: str | None = None


class FleetClients:
    """Keeps every host's subscription alive until :meth:`close` or cancellation of :meth:`run`."""

    def __init__(
        self,
        hosts: Sequence[FleetHost],
        *,
        on_message: Callable[[str, Message], None],
        on_state: Callable[[str, ConnectionState], None],
        client_options: Mapping[str, Any] | None = None,
    ) -> None:
        self._on_state = on_state
        self.clients: dict[str, AgentClient] = {}
        for host in hosts:
            self.clients[host.name] = AgentClient(
                host.url,
                token=host.token,
                on_message=partial(on_message, host.name),
                on_state=partial(on_state, host.name),
                # 0 the first time: replay what each agent holds. Later connections resume
                # after the newest event this client delivered (its own count, per host).
                since_seq=lambda: 0,
                **dict(client_options or {}),
            )

    async def run(self) -> None:
        async with asyncio.TaskGroup() as group:
            for name, client in self.clients.items():
                group.create_task(self._run_one(name, client), name=f"obsview-fleet {name}")

    async def _run_one(self, name: str, client: AgentClient) -> None:
        try:
            await client.run()
        except Exception as exc:
            log.exception("the client for %s failed", name)
            self._on_state(name, replace(client.state, status="closed",
                                         last_error=f"client failed: {exc}"))

    async def send(self, host: str, message: Message) -> None:
        """Send to ``host``'s agent; :class:`NotConnected` when it is not connected."""
        client = self.clients.get(host)
        if client is None:
            raise NotConnected(f"no host named {host!r}")
        await client.send(message)

    async def close(self) -> None:
        await asyncio.gather(*(client.close() for client in self.clients.values()))
