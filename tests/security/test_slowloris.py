"""Slow and idle sockets cannot starve real clients of the agent's listeners.

A bounded flood on loopback (a few hundred sockets, a few seconds) against the real agent,
while real exports and real senders must still get through.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
from proof_kit import agent_config, running_agent, seed_line, wait_until

from obsview.backend.ingest.sources.otlp import OtlpHttpSource
from obsview.backend.ingest.sources.tcp import TcpSource

EXPORT = {"resourceLogs": [{"scopeLogs": [{"logRecords": [{"body": {"stringValue": "real export"}}]}]}]}


async def _slow_client(port: int, trickle: bytes, stop: asyncio.Event) -> None:
    """Sends ``trickle`` a byte every 0.2 s; when the agent closes it, connects again two
    seconds later (slowloris tools re-open the sockets the server dropped on their next
    round, 15 s later by default)."""
    while not stop.is_set():
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.05)
            continue
        try:
            for byte in trickle:
                if stop.is_set() or reader.at_eof():
                    break
                writer.write(bytes([byte]))
                await writer.drain()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(reader.read(1), 0.2)
        except OSError:
            pass
        finally:
            writer.close()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 2.0)


@contextlib.asynccontextmanager
async def slow_flood(port: int, sockets: int, trickle: bytes) -> AsyncIterator[None]:
    stop = asyncio.Event()
    tasks = [asyncio.create_task(_slow_client(port, trickle, stop)) for _ in range(sockets)]
    try:
        await asyncio.sleep(0.7)  # every slot the flood can take is taken, past its grace
        yield
    finally:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)


async def test_otlp_slowloris_does_not_starve_real_exports(tmp_path: Path) -> None:
    # e629b84: 64 slow sockets held all 64 slots; 0 of 15 exports got through.
    async with running_agent(agent_config(tmp_path, otlp=[("127.0.0.1", 0)])) as agent:
        (source,) = [s for s in agent.sources if isinstance(s, OtlpHttpSource)]
        head = b"POST /v1/logs HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 200
        async with slow_flood(source.port, 80, head), httpx.AsyncClient(timeout=5) as client:
            statuses = []
            for _ in range(15):
                response = await client.post(
                    f"http://127.0.0.1:{source.port}/v1/logs", json=EXPORT,
                    headers={"Connection": "close"},
                )
                statuses.append(response.status_code)
        assert statuses == [200] * 15
        assert source.records_accepted == 15
        assert source.connections_evicted > 0


async def test_idle_sockets_on_a_guarded_tcp_source_do_not_lock_senders_out(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("tcp-flood-token\n")
    token_file.chmod(0o600)
    config = agent_config(tmp_path, tcp=[("127.0.0.1", 0)], token_file=token_file)
    async with running_agent(config) as agent:
        (source,) = [s for s in agent.sources if isinstance(s, TcpSource)]
        async with slow_flood(source.port, 80, b"AUTH tcp-flood-" + b"x" * 100):
            deadline = time.monotonic() + 5
            for n in range(5):
                _reader, writer = await asyncio.open_connection("127.0.0.1", source.port)
                writer.write(b"AUTH tcp-flood-token\n" + seed_line(n))
                await writer.drain()
                await wait_until(lambda: agent.store.last_seq == n + 1, timeout=deadline - time.monotonic(),
                                 what=f"line {n} from a real sender")
                writer.close()


async def test_idle_sockets_on_an_open_tcp_source_do_not_lock_senders_out(tmp_path: Path) -> None:
    """On a loopback source without a token, 64 sockets that connected and sent no line
    held every slot: each real sender was reset, its lines lost. A connection counted as a
    real sender from its first byte of connect."""
    config = agent_config(tmp_path, tcp=[("127.0.0.1", 0)])
    async with running_agent(config) as agent:
        (source,) = [s for s in agent.sources if isinstance(s, TcpSource)]
        async with slow_flood(source.port, 80, b"x" * 100):
            deadline = time.monotonic() + 5
            for n in range(5):
                _reader, writer = await asyncio.open_connection("127.0.0.1", source.port)
                writer.write(seed_line(n))
                await writer.drain()
                await wait_until(lambda: agent.store.last_seq == n + 1, timeout=deadline - time.monotonic(),
                                 what=f"line {n} from a real sender")
                writer.close()
        assert source.connections_evicted > 0
