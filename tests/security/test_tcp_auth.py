"""One bind policy for every listener: the TCP source needs the token wherever the websocket
does, and a sender proves it with its first line (``AUTH <token>`` or ``obsview_token``).

Through the real agent: a real TCP sender on 127.0.0.1, the events read back from the store.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import orjson
import pytest
from proof_kit import agent_config, running_agent, seed_line, wait_until

from obsview.backend.agent import Agent
from obsview.backend.errors import StartupError
from obsview.backend.ingest.sources.tcp import TcpSource
from obsview.backend.instrument import ObsviewHandler

TOKEN = "tcp-sender-token-0123456789"


@pytest.fixture(autouse=True)
def private_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))


def token_file(tmp_path: Path) -> Path:
    path = tmp_path / "token"
    path.write_text(TOKEN + "\n")
    path.chmod(0o600)
    return path


def tcp_port(agent: Agent) -> int:
    (source,) = [s for s in agent.sources if isinstance(s, TcpSource)]
    return source.port


async def send(port: int, payload: bytes) -> bytes:
    """Write ``payload``, half-close, and return what the agent sent back before closing."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(payload)
    await writer.drain()
    writer.write_eof()
    answer = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    return answer


async def test_a_non_loopback_tcp_source_without_a_token_refuses_to_start(tmp_path: Path) -> None:
    # e629b84 started and ingested anyone's lines on 0.0.0.0.
    agent = Agent(agent_config(tmp_path, tcp=[("0.0.0.0", 0)]))
    with pytest.raises(StartupError, match=r"0\.0\.0\.0:0 \(not loopback\) needs a token"):
        await agent.start()


async def test_a_sender_without_the_token_is_closed_and_nothing_is_ingested(tmp_path: Path) -> None:
    config = agent_config(tmp_path, tcp=[("127.0.0.1", 0)], token_file=token_file(tmp_path))
    async with running_agent(config) as agent:
        port = tcp_port(agent)
        for first in (b"", b"AUTH wrong-token\n", orjson.dumps({"obsview_token": "nope"}) + b"\n",
                      b"AUTH " + TOKEN.encode() + b"x\n"):
            await send(port, first + seed_line(1) + seed_line(2))
        await wait_until(lambda: agent.counters()["tcp_auth_refused"] == 4, what="4 refusals")
        assert agent.store.last_seq == 0


async def test_an_auth_line_lets_the_sender_in_and_is_not_stored(tmp_path: Path) -> None:
    config = agent_config(tmp_path, tcp=[("127.0.0.1", 0)], token_file=token_file(tmp_path))
    async with running_agent(config) as agent:
        await send(tcp_port(agent), b"AUTH " + TOKEN.encode() + b"\r\n" + seed_line(1) + seed_line(2))
        await wait_until(lambda: agent.store.last_seq == 2, what="2 events")
        events = agent.store.tail(10)
    assert [event.extra["n"] for event in events] == [1, 2]
    assert not any(TOKEN in event.raw or "AUTH" in event.raw for event in events)


async def test_a_token_field_in_each_record_lets_a_shipper_in_and_is_cut_out(tmp_path: Path) -> None:
    """winston's defaultMeta / Logstash's add_field put the token in every record."""
    config = agent_config(tmp_path, tcp=[("127.0.0.1", 0)], token_file=token_file(tmp_path))
    async with running_agent(config) as agent:
        lines = b"".join(seed_line(n, extra={"obsview_token": TOKEN}) for n in range(3))
        await send(tcp_port(agent), lines)
        await wait_until(lambda: agent.store.last_seq == 3, what="3 events")
        events = agent.store.tail(10)
    assert [event.extra["n"] for event in events] == [0, 1, 2]
    assert not any(TOKEN in event.raw or TOKEN in str(event.extra) for event in events)


async def test_a_silent_sender_is_closed_after_the_auth_deadline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("obsview.backend.ingest.sources.tcp.AUTH_TIMEOUT_S", 0.2)
    config = agent_config(tmp_path, tcp=[("127.0.0.1", 0)], token_file=token_file(tmp_path))
    async with running_agent(config) as agent:
        reader, writer = await asyncio.open_connection("127.0.0.1", tcp_port(agent))
        assert await asyncio.wait_for(reader.read(), 5) == b""  # closed by the agent
        writer.close()
        assert agent.counters()["tcp_auth_refused"] == 1


async def test_an_auth_line_to_an_open_loopback_source_is_dropped_not_stored(tmp_path: Path) -> None:
    async with running_agent(agent_config(tmp_path, tcp=[("127.0.0.1", 0)])) as agent:
        await send(tcp_port(agent), b"AUTH " + TOKEN.encode() + b"\n" + seed_line(1))
        await wait_until(lambda: agent.store.last_seq == 1, what="1 event")
        assert TOKEN not in agent.store.tail(1)[0].raw


async def test_the_python_handler_sends_the_token(tmp_path: Path) -> None:
    config = agent_config(tmp_path, tcp=[("127.0.0.1", 0)], token_file=token_file(tmp_path))
    async with running_agent(config) as agent:
        handler = ObsviewHandler("127.0.0.1", tcp_port(agent), token=TOKEN)
        logger = logging.getLogger("obsview-test-tcp-auth")
        logger.addHandler(handler)
        logger.propagate = False
        try:
            logger.warning("shipped with a token")
            await wait_until(lambda: agent.store.last_seq == 1, what="the shipped record")
        finally:
            logger.removeHandler(handler)
            await asyncio.to_thread(handler.close)
        assert agent.store.tail(1)[0].message == "shipped with a token"
