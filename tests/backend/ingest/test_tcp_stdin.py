"""TCP JSON-lines listener and stdin, over real loopback sockets and a real StreamReader."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import orjson
import pytest

from obsview.backend.ingest.normalize import Normalizer
from obsview.backend.ingest.sources.stdin import StdinSource
from obsview.backend.ingest.sources.tcp import TcpSource


@asynccontextmanager
async def listening(source: TcpSource, collector: Any) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(source.run(collector))
    await asyncio.wait_for(source.listening.wait(), 5)
    try:
        yield task
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def connect(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 5)


def record(client: int, n: int) -> bytes:
    return orjson.dumps({"n": n, "client": client, "level": "info", "message": "hi"}) + b"\n"


async def test_many_clients_each_line_once(collector: Any, wait_until: Any) -> None:
    source = TcpSource("127.0.0.1", 0, Normalizer())
    async with listening(source, collector):
        assert source.port > 0 and source.name == f"tcp:127.0.0.1:{source.port}"
        writers = []
        for client in range(5):
            _reader, writer = await connect(source.port)
            writer.write(b"".join(record(client, n) for n in range(200)))
            writers.append(writer)
        await asyncio.gather(*(w.drain() for w in writers))
        await wait_until(lambda: len(collector.events) == 1000)
        for writer in writers:
            writer.close()
            await writer.wait_closed()
    pairs = sorted((e.extra["client"], e.extra["n"]) for e in collector.events)
    assert pairs == [(c, n) for c in range(5) for n in range(200)]
    assert all(e.source.startswith("tcp:127.0.0.1:") for e in collector.events)
    assert source.connections_total == 5


async def test_connections_over_the_limit_are_closed_and_counted(
    collector: Any, wait_until: Any
) -> None:
    source = TcpSource("127.0.0.1", 0, Normalizer(), max_connections=2)
    async with listening(source, collector):
        kept = [await connect(source.port) for _ in range(2)]
        for n, (_reader, kept_writer) in enumerate(kept):  # real senders: they have sent a line
            kept_writer.write(record(n, 0))
        await wait_until(lambda: len(collector.events) == 2)
        reader, writer = await connect(source.port)
        assert await asyncio.wait_for(reader.read(), 5) == b""  # closed by the agent
        assert source.connections_refused == 1
        writer.close()
        kept[0][1].write(record(0, 1))
        await wait_until(lambda: len(collector.events) == 3)
        for _reader, kept_writer in kept:
            kept_writer.close()


async def test_long_line_is_truncated_and_the_next_line_survives(
    collector: Any, wait_until: Any
) -> None:
    source = TcpSource("127.0.0.1", 0, Normalizer(max_line_bytes=1000))
    async with listening(source, collector):
        _reader, writer = await connect(source.port)
        writer.write(b"[ERROR] " + b"y" * 200_000 + b"\n" + record(0, 2))
        await writer.drain()
        await wait_until(lambda: len(collector.events) == 2)
        writer.close()
    first, second = collector.events
    assert first.truncated and first.level == "ERROR" and len(first.raw) <= 1000
    assert second.extra["n"] == 2


async def test_last_line_without_newline_is_kept_at_disconnect(
    collector: Any, wait_until: Any
) -> None:
    source = TcpSource("127.0.0.1", 0, Normalizer())
    async with listening(source, collector):
        _reader, writer = await connect(source.port)
        writer.write(record(0, 1) + b'{"n":2,"message":"no newline"}')
        await writer.drain()
        writer.close()
        await wait_until(lambda: len(collector.events) == 2)
    assert [e.extra["n"] for e in collector.events] == [1, 2]


async def test_cancel_closes_open_connections(collector: Any, wait_until: Any) -> None:
    source = TcpSource("127.0.0.1", 0, Normalizer())
    async with listening(source, collector) as task:
        reader, writer = await connect(source.port)
        await wait_until(lambda: source.connections == 1)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        assert await asyncio.wait_for(reader.read(), 5) == b""
        writer.close()
    assert source.connections == 0 and not source.listening.is_set()


async def test_stdin_reads_until_eof(collector: Any) -> None:
    reader = asyncio.StreamReader()
    reader.feed_data(b'{"n":1,"level":"warn","message":"a"}\n[ERROR] b\n{"n":3,"mess')
    reader.feed_data(b'age":"c"}')
    reader.feed_eof()
    source = StdinSource(Normalizer(), reader)
    await asyncio.wait_for(source.run(collector), 5)  # returns on its own at EOF
    assert [(e.level, e.message) for e in collector.events] == [
        ("WARN", "a"), ("ERROR", "b"), ("INFO", "c")]
    assert {e.source for e in collector.events} == {"stdin"}


_STDIN_SCRIPT = """
import asyncio
from obsview.backend.ingest.normalize import Normalizer
from obsview.backend.ingest.sources.stdin import StdinSource

async def main():
    seen = []
    async def emit(events):
        seen.extend(events)
    await StdinSource(Normalizer()).run(emit)
    print(len(seen), seen[-1].message)

asyncio.run(main())
"""


async def run_with_stdin(stdin: Any) -> str:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _STDIN_SCRIPT, stdin=stdin, stdout=asyncio.subprocess.PIPE)
    if stdin is asyncio.subprocess.PIPE:
        assert process.stdin is not None
        process.stdin.write(b"".join(b"[INFO] line %d\n" % n for n in range(500)))
        await process.stdin.drain()
        process.stdin.close()
    out, _ = await asyncio.wait_for(process.communicate(), 20)
    assert process.returncode == 0
    return out.decode().strip()


async def test_real_stdin_pipe_and_redirected_file(tmp_path: Path) -> None:
    assert await run_with_stdin(asyncio.subprocess.PIPE) == "500 line 499"
    log = tmp_path / "app.log"
    log.write_bytes(b"".join(b"[INFO] line %d\n" % n for n in range(300)))
    with log.open("rb") as redirected:  # `obsview-agent - < app.log`: not pollable
        assert await run_with_stdin(redirected) == "300 line 299"


async def test_port_in_use_fails_run_and_never_listens(collector: Any) -> None:
    first = TcpSource("127.0.0.1", 0, Normalizer())
    async with listening(first, collector):
        second = TcpSource("127.0.0.1", first.port, Normalizer())
        with pytest.raises(OSError):
            await asyncio.wait_for(second.run(collector), 5)
        assert not second.listening.is_set()
