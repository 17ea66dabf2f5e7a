"""Fan-out: events/s the agent delivers to 1 and to 10 websocket consoles, beside a raw
``websockets`` server sending the same encoded batches to the same consoles, same run.

The agent is real (127.0.0.1, port 0); events are seed-shaped (normalized from the seed's
records) and injected with ``agent.ingest`` in batches of 500, as a file source would. The
consoles run in a separate process (one asyncio loop for all of them) so the agent's loop is
not also paying for them; each console parses every frame with ``orjson.loads`` and counts
the events. The clock runs from the first batch until every console has every event. The
consoles' queues are sized to hold the whole run, so nothing is dropped and the figure is
throughput, not a drop rate. On a 2-core machine the ten consoles' process (10 × the JSON
parsing) may be what limits both figures at 10 consoles; the ratio still compares the agent
with the bare server under the same consoles.

    uv run python benchmarks/fanout.py [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import orjson
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve

if __package__ in (None, ""):  # run as a script: make ``benchmarks`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.figures import Figure, figure, print_table
from benchmarks.ingest import seed_lines
from obsview.backend.agent import Agent
from obsview.backend.config import AgentConfig
from obsview.backend.ingest.normalize import Normalizer
from obsview.backend.serving.frames import FRAME_EVENTS
from obsview.common.protocol import LogEvent, Ping, Pong, Subscribe, encode, encode_events

BATCH = FRAME_EVENTS
CONSOLE_TIMEOUT_S = 120.0


def seed_events(count: int) -> list[LogEvent]:
    normalizer = Normalizer(service="blog-api", host="bench")
    return normalizer.normalize_lines(seed_lines(count), "bench")


# --------------------------------------------------------------------------- consoles (child)


async def _one_console(url: str, expect: int, ready: asyncio.Event, subscribed: list[int]) -> None:
    async with connect(url, max_size=None, compression=None, open_timeout=30) as ws:
        await ws.send(encode(Subscribe()).decode())
        await ws.send(encode(Ping(nonce=1)).decode())
        received = 0
        async for frame in ws:
            data = orjson.loads(frame)
            kind = data.get("type")
            if kind == "events":
                received += len(data["events"])
                if received >= expect:
                    return
            elif kind == "pong":
                subscribed.append(1)
                ready.set()


async def consoles_main(url: str, count: int, expect: int) -> None:
    """Child process: ``count`` consoles; prints ``ready`` once all subscribed, ``done`` at the end."""
    subscribed: list[int] = []
    readies = [asyncio.Event() for _ in range(count)]
    tasks = [asyncio.create_task(_one_console(url, expect, readies[i], subscribed)) for i in range(count)]
    await asyncio.gather(*(ready.wait() for ready in readies))
    print("ready", flush=True)
    await asyncio.gather(*tasks)
    print("done", flush=True)


@contextlib.asynccontextmanager
async def consoles(url: str, count: int, expect: int) -> AsyncIterator[asyncio.subprocess.Process]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(Path(__file__).resolve()), "--consoles", url, str(count), str(expect),
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), CONSOLE_TIMEOUT_S)
        if line.strip() != b"ready":
            raise RuntimeError(f"consoles did not start: {line!r}")
        yield process
    finally:
        if process.returncode is None:
            process.kill()
        await process.wait()


async def _until_done(process: asyncio.subprocess.Process) -> None:
    assert process.stdout is not None
    line = await asyncio.wait_for(process.stdout.readline(), CONSOLE_TIMEOUT_S)
    if line.strip() != b"done":
        raise RuntimeError(f"consoles failed: {line!r}")


# --------------------------------------------------------------------------- the two servers


async def agent_rate(batches: Sequence[list[LogEvent]], clients: int) -> float:
    total = sum(len(batch) for batch in batches)
    with tempfile.TemporaryDirectory(prefix="obsview-bench-") as state:
        config = AgentConfig(listen=("127.0.0.1", 0), state_dir=Path(state), rules=[],
                             store_capacity=total, client_queue_events=total)
        async with Agent(config) as agent, consoles(agent.url, clients, total) as process:
            started = time.perf_counter()
            for batch in batches:
                await agent.ingest(batch)
                await asyncio.sleep(0)  # a source yields between batches
            await _until_done(process)
            return total / (time.perf_counter() - started)


async def raw_rate(frames: Sequence[bytes], clients: int, total: int) -> float:
    """Baseline: a bare ``websockets`` server sends the pre-encoded frames to each console."""
    connected: list[ServerConnection] = []
    all_in = asyncio.Event()
    go = asyncio.Event()

    async def handler(ws: ServerConnection) -> None:
        await ws.recv()  # subscribe
        ping = orjson.loads(await ws.recv())
        await ws.send(encode(Pong(nonce=ping["nonce"])).decode())
        connected.append(ws)
        if len(connected) == clients:
            all_in.set()
        await go.wait()
        for frame in frames:
            await ws.send(frame, text=True)
        await ws.wait_closed()

    async with serve(handler, "127.0.0.1", 0, max_size=1 << 20, compression=None) as server:
        port = server.sockets[0].getsockname()[1]
        async with consoles(f"ws://127.0.0.1:{port}", clients, total) as process:
            await asyncio.wait_for(all_in.wait(), CONSOLE_TIMEOUT_S)
            started = time.perf_counter()
            go.set()
            await _until_done(process)
            return total / (time.perf_counter() - started)


async def _measure(count: int) -> list[Figure]:
    events = seed_events(count)
    batches = [events[i : i + BATCH] for i in range(0, len(events), BATCH)]
    frames = [encode_events(batch) for batch in batches]
    results = []
    for clients in (1, 10):
        raw = await raw_rate(frames, clients, len(events))
        agent = await agent_rate(batches, clients)
        label = "console" if clients == 1 else "consoles"
        results.append(figure(f"fan-out to {clients} {label}", agent, "events/s",
                              "raw websockets send, same frames", raw))
    return results


def run(quick: bool) -> list[Figure]:
    return asyncio.run(_measure(20_000 if quick else 200_000))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="20k events instead of 200k")
    parser.add_argument("--consoles", nargs=3, metavar=("URL", "COUNT", "EXPECT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.consoles:
        url, count, expect = args.consoles
        asyncio.run(consoles_main(url, int(count), int(expect)))
        return
    print_table(run(quick=args.quick))


if __name__ == "__main__":
    main()
