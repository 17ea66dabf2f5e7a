"""The agent's one port under hostile clients, with a token enforced on 127.0.0.1.

Everything runs against the real agent: wrong or missing token and bad Origin are refused
before a byte of data; oversized and malformed frames close the connection with the right
code; a burst of 1,000 connection attempts leaves the agent serving.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from proof_kit import agent_config, console, make_events, running_agent, wait_until
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidMessage, InvalidStatus
from websockets.frames import CloseCode

from obsview.backend.agent import Agent
from obsview.common.protocol import Hello, decode

SECRET_EVENT = "payload-only-for-authorized-eyes"
ENDPOINTS = ("/api/health", "/api/metrics", "/api/alerts", "/metrics")


@pytest.fixture
async def agent(tmp_path: Path) -> AsyncIterator[Agent]:
    token_file = tmp_path / "token"
    token_file.write_text("the-right-token\n", encoding="utf-8")
    token_file.chmod(0o600)
    async with running_agent(agent_config(tmp_path, token_file=token_file)) as running:
        await running.ingest(make_events(3))
        running.store.tail(1)[0].message = SECRET_EVENT
        yield running


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


GOOD = bearer("the-right-token")


@pytest.mark.parametrize("headers", [{}, bearer("wrong"), {"Authorization": "Bearer"}, {"Authorization": "the-right-token"},
                                     {"Authorization": "Basic the-right-token"}, bearer("the-right-token-and-more")])
async def test_wrong_or_missing_token_gets_401_before_any_data(agent: Agent, headers: dict[str, str]) -> None:
    with pytest.raises(InvalidStatus) as refused:
        async with connect(agent.url, additional_headers=headers, open_timeout=5):
            pass
    response = refused.value.response
    assert response.status_code == 401
    assert SECRET_EVENT.encode() not in response.body and b"hello" not in response.body
    base = agent.url.replace("ws://", "http://")
    async with httpx.AsyncClient(timeout=5) as http:
        for path in ENDPOINTS:
            reply = await http.get(base + path, headers=headers)
            assert reply.status_code == 401, path
            assert "status" not in reply.text and "obsview_" not in reply.text, path


async def test_right_token_is_served(agent: Agent) -> None:
    async with connect(agent.url, additional_headers=GOOD, open_timeout=5) as ws:
        assert isinstance(decode(await asyncio.wait_for(ws.recv(), 5)), Hello)
    async with httpx.AsyncClient(timeout=5, headers=GOOD) as http:
        assert (await http.get(agent.url.replace("ws://", "http://") + "/api/metrics")).status_code == 200


@pytest.mark.parametrize("origin", ["https://evil.example", "null", "http://127.0.0.1.evil.example",
                                    "http://localhost:1"])
async def test_bad_origin_gets_403(agent: Agent, origin: str) -> None:
    with pytest.raises(InvalidStatus) as refused:
        async with connect(agent.url, additional_headers=GOOD, origin=origin, open_timeout=5):  # type: ignore[arg-type]
            pass
    assert refused.value.response.status_code == 403
    assert SECRET_EVENT.encode() not in refused.value.response.body


async def closed_with(agent: Agent, frame: str | bytes) -> int | None:
    async with connect(agent.url, additional_headers=GOOD, max_size=None, open_timeout=5) as ws:
        await ws.send(frame)
        with pytest.raises(ConnectionClosed):
            while True:
                await asyncio.wait_for(ws.recv(), 5)
        assert ws.close_code is not None
        return ws.close_code


async def test_two_mib_message_closes_with_1009(agent: Agent) -> None:
    code = await closed_with(agent, '{"v":1,"type":"ping","nonce":1,"pad":"' + "x" * (2 << 20) + '"}')
    assert code == CloseCode.MESSAGE_TOO_BIG
    await assert_still_serving(agent)


@pytest.mark.parametrize("frame", ['{"v":1,"type":"subscribe"', "not json at all", "[1,2,3]",
                                   '{"v":1,"type":"ack","fingerprint":3,"by":"x"}', b"\xff\xfe\x00"])
async def test_malformed_message_closes_with_1007(agent: Agent, frame: str | bytes) -> None:
    assert await closed_with(agent, frame) == CloseCode.INVALID_DATA
    await assert_still_serving(agent)


async def assert_still_serving(agent: Agent) -> None:
    """A fresh console connects and receives a newly ingested event."""
    async with console(agent.url, additional_headers=GOOD) as (_ws, recorded):
        await agent.ingest(make_events(1, start=999))
        await wait_until(lambda: 999 in recorded.numbers(), what="an event after the attack")


@pytest.mark.timeout(60)
async def test_burst_of_1000_connection_attempts_leaves_the_agent_serving(agent: Agent) -> None:
    port = agent.port
    limit = asyncio.Semaphore(200)  # this process holds both ends: stay far below its fd limit

    async def attempt(i: int) -> None:
        async with limit:
            kind = i % 4
            try:
                if kind == 0:  # connect and vanish
                    _reader, writer = await asyncio.open_connection("127.0.0.1", port)
                    writer.close()
                elif kind == 1:  # half a request, then vanish
                    _reader, writer = await asyncio.open_connection("127.0.0.1", port)
                    writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n")
                    await writer.drain()
                    writer.close()
                elif kind == 2:  # a full handshake with a wrong token
                    async with connect(agent.url, additional_headers=bearer("nope"), open_timeout=10):
                        pass
                else:  # a full, authorized handshake, closed at once
                    async with connect(agent.url, additional_headers=GOOD, open_timeout=10):
                        pass
            except (InvalidStatus, InvalidMessage, OSError, ConnectionClosed, TimeoutError):
                # Refusals are the point; only the agent's survival is asserted. InvalidMessage:
                # at its connection-slot limit the agent closes before answering the handshake.
                pass

    await asyncio.wait_for(asyncio.gather(*(attempt(i) for i in range(1000))), 45)
    await assert_still_serving(agent)
    async with httpx.AsyncClient(timeout=5, headers=GOOD) as http:
        assert (await http.get(agent.url.replace("ws://", "http://") + "/api/health")).status_code in (200, 503)
    await wait_until(lambda: agent.server.clients == 0, what="every burst connection to be gone")


async def test_event_frame_with_a_list_level_closes_with_1007(agent: Agent) -> None:
    """decode raised TypeError here before 21cb727, so the agent answered 1011."""
    frame = '{"v":1,"type":"events","events":[{"ts":0,"level":[],"message":""}]}'
    assert await closed_with(agent, frame) == CloseCode.INVALID_DATA
    await assert_still_serving(agent)
