"""DNS rebinding: a page at evil.example resolved to 127.0.0.1 sends ``Host: evil.example``.

A loopback agent answers only requests addressed to this machine (loopback names and IPs,
or names the operator lists in ``allowed_hosts``): on every HTTP endpoint, the websocket
upgrade and the OTLP receiver. Real agent, real sockets; the Host header is set by hand as a
rebound browser would send it.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from proof_kit import agent_config, running_agent

from obsview.backend.ingest.sources.otlp import OtlpHttpSource

ENDPOINTS = ("/api/health", "/api/metrics", "/api/alerts", "/metrics")
FOREIGN = ("evil.example", "evil.example:8765", "127.0.0.1.evil.example", "[::1].evil.example", "0.0.0.0:8765", "")
LOCAL = ("127.0.0.1", "localhost:8765", "LOCALHOST", "localhost.", "[::1]:8765", "127.0.0.2:1", "obsview.internal:80")
EXPORT = {"resourceLogs": [{"scopeLogs": [{"logRecords": [{"body": {"stringValue": "forged"}}]}]}]}


async def upgrade_status(port: int, host: str) -> bytes:
    """The status line of a websocket upgrade sent with ``Host: host`` (a client library
    sets Host from the URL; a rebound browser sends the attacker's name)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(
            f"GET / HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        await writer.drain()
        return await asyncio.wait_for(reader.readline(), 5)
    finally:
        writer.close()


async def test_two_host_headers_are_refused(tmp_path: Path) -> None:
    async with running_agent(agent_config(tmp_path)) as agent:
        status = await upgrade_status(agent.port, "127.0.0.1\r\nHost: evil.example")
    assert status.startswith(b"HTTP/1.1 403 ")


@pytest.mark.parametrize("host", FOREIGN)
async def test_a_foreign_host_gets_403_on_every_endpoint_and_the_upgrade(tmp_path: Path, host: str) -> None:
    # e629b84 answered every one of these with the data.
    async with running_agent(agent_config(tmp_path, allowed_hosts=["obsview.internal"])) as agent:
        base = f"http://127.0.0.1:{agent.port}"
        async with httpx.AsyncClient(timeout=5) as http:
            for path in ENDPOINTS:
                reply = await http.get(base + path, headers={"Host": host})
                assert reply.status_code == 403, path
                assert "obsview_" not in reply.text and "status" not in reply.text
        assert (await upgrade_status(agent.port, host)).startswith(b"HTTP/1.1 403 ")


@pytest.mark.parametrize("host", LOCAL)
async def test_loopback_names_and_configured_names_are_served(tmp_path: Path, host: str) -> None:
    async with running_agent(agent_config(tmp_path, allowed_hosts=["obsview.internal"])) as agent:
        async with httpx.AsyncClient(timeout=5) as http:
            reply = await http.get(f"http://127.0.0.1:{agent.port}/api/metrics", headers={"Host": host})
        assert reply.status_code == 200
        assert (await upgrade_status(agent.port, host)).startswith(b"HTTP/1.1 101 ")


async def test_the_otlp_receiver_refuses_a_foreign_host(tmp_path: Path) -> None:
    async with running_agent(agent_config(tmp_path, otlp=[("127.0.0.1", 0)])) as agent:
        (source,) = [s for s in agent.sources if isinstance(s, OtlpHttpSource)]
        url = f"http://127.0.0.1:{source.port}/v1/logs"
        async with httpx.AsyncClient(timeout=5) as http:
            forged = await http.post(url, json=EXPORT, headers={"Host": "evil.example:4318"})
            real = await http.post(url, json=EXPORT)
        assert (forged.status_code, real.status_code) == (403, 200)
        assert source.records_accepted == 1
