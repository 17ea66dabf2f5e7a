"""An agent that stops answering while its connection stays open (SIGSTOP: its loop runs
nothing, the kernel keeps its sockets) is said to be so within two heartbeats, on the same
connection, and the console says it is back as soon as it answers again. Before, the screen
looked live for the 40 s websockets' keepalive takes to close such a link."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import pytest
from loopback import free_port
from proof_kit import agent_process, wait_until

from obsview.tui.client import AgentClient, ConnectionState
from obsview.tui.widgets.status_bar import describe_connection

HEARTBEAT_S = 0.2


@pytest.mark.timeout(40)
async def test_a_stopped_agent_is_said_to_be_not_answering_and_back_once_it_answers(tmp_path: Path) -> None:
    port = free_port()
    config = tmp_path / "agent.toml"
    config.write_text(f'listen = "127.0.0.1:{port}"\nstate_dir = "{tmp_path / "state"}"\n', encoding="utf-8")
    states: list[ConnectionState] = []
    client = AgentClient(f"ws://127.0.0.1:{port}", on_message=lambda _message: None,
                         on_state=states.append, since_seq=lambda: None, heartbeat_s=HEARTBEAT_S)
    async with agent_process(config) as agent:
        running = asyncio.create_task(client.run())
        try:
            await wait_until(lambda: client.state.status == "connected", what="connected")
            connected_at = len(states)
            await asyncio.sleep(4 * HEARTBEAT_S)
            assert client.state.unanswered_s is None, "a running agent answers every beat"

            agent.send_signal(signal.SIGSTOP)
            try:
                await wait_until(lambda: client.state.unanswered_s is not None, timeout=10,
                                 what="the console to notice")
                kind, line = describe_connection(client.state)
                assert kind != "connected" and "agent not answering for" in line, line
            finally:
                agent.send_signal(signal.SIGCONT)
            await wait_until(lambda: client.state.unanswered_s is None, timeout=10, what="the agent back")
            assert describe_connection(client.state)[0] == "connected"
            assert all(state.status == "connected" for state in states[connected_at:]), \
                "the same connection all along: no reconnect"
        finally:
            await client.close()
            await running
