"""Many agents, one console: 3 agents × 5k events/s into one headless ``ObsviewApp``, beside
one agent × 15k events/s (the same total) into the same console, same run.

The agents are real (``Agent`` on 127.0.0.1, port 0) and run in a child process, so the
console's process pays only for the console: the websocket clients, decoding, the merge by
event time (:class:`~obsview.tui.fleet_merge.EventMerger`), the Hosts panel and the
dashboard. Each agent ingests seed-shaped events stamped with the current time, every 50 ms,
as a file source would. Measured in the console's process over the same wall time, after
every host is connected:

* p99 event-loop delay: a 10 ms timer task's lateness (what a keypress would wait);
* CPU share: process CPU time / wall time (1.0 = one core busy);
* events shown per second (what reached the dashboard's buffer), beside the rate sent;
* what the merge forced out early (its bound) or got late, and what was dropped anywhere.

    uv run python benchmarks/fleet.py [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make ``benchmarks`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.figures import Figure, figure, print_table
from benchmarks.ingest import seed_lines
from obsview.backend.agent import Agent
from obsview.backend.config import AgentConfig
from obsview.backend.ingest.normalize import Normalizer
from obsview.common.protocol import LogEvent
from obsview.tui.app import ObsviewApp
from obsview.tui.fleet import FleetHost

TICK_S = 0.05
PROBE_S = 0.01
SIZE = (160, 48)
CONNECT_TIMEOUT_S = 30.0
#: The agents' per-console queue: a second of the busiest run, so a slow console shows
#: up as drops (counted), not as unbounded memory.
AGENT_QUEUE_EVENTS = 20_000


# --------------------------------------------------------------------------- agents (child)


async def agents_main(count: int, rate: int, duration_s: float) -> None:
    """``count`` agents each ingesting ``rate`` events/s for ``duration_s``; prints their URLs."""
    pool = Normalizer(service="blog-api", host="bench").normalize_lines(seed_lines(2_000), "bench")
    per_tick = max(1, round(rate * TICK_S))
    with tempfile.TemporaryDirectory() as state:
        agents = [Agent(AgentConfig(listen=("127.0.0.1", 0), state_dir=Path(state) / str(n),
                                    service=f"web-{n + 1}", client_queue_events=AGENT_QUEUE_EVENTS))
                  for n in range(count)]
        for agent in agents:
            await agent.start()
        try:
            print(" ".join(agent.url for agent in agents), flush=True)
            # Wait until the console says it is connected (a line on stdin), then send.
            await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
            start = time.monotonic()
            tick = 0
            index = 0
            while time.monotonic() - start < duration_s:
                now = time.time()
                for agent in agents:
                    batch = []
                    for _ in range(per_tick):
                        event = pool[index % len(pool)]
                        index += 1
                        batch.append(LogEvent(ts=now, level=event.level, message=event.message,
                                              trace_id=event.trace_id, method=event.method,
                                              route=event.route, path=event.path,
                                              status=event.status, duration_ms=event.duration_ms))
                    await agent.ingest(batch)
                tick += 1
                await asyncio.sleep(max(0.0, start + tick * TICK_S - time.monotonic()))
            print("done", flush=True)
            await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        finally:
            for agent in agents:
                await agent.stop()


@contextlib.asynccontextmanager
async def agent_process(count: int, rate: int, duration_s: float) -> AsyncIterator[
        tuple[asyncio.subprocess.Process, list[str]]]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(Path(__file__).resolve()), "--agents", str(count), str(rate),
        str(duration_s), stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), CONNECT_TIMEOUT_S)
        yield process, line.decode().split()
    finally:
        if process.returncode is None:
            process.kill()
        await process.wait()


# --------------------------------------------------------------------------- console (parent)


@dataclass(slots=True)
class Result:
    delay_p99_ms: float
    cpu_share: float
    shown_per_s: float
    forced: int
    late: int
    dropped: int


async def measure(count: int, rate: int, duration_s: float) -> Result:
    async with agent_process(count, rate, duration_s) as (process, urls):
        assert process.stdin is not None and process.stdout is not None
        if count == 1:
            app = ObsviewApp(url=urls[0])
        else:
            app = ObsviewApp(hosts=[FleetHost(f"web-{n + 1}", url) for n, url in enumerate(urls)])
        async with app.run_test(size=SIZE) as pilot:
            deadline = time.monotonic() + CONNECT_TIMEOUT_S
            while not _connected(app, count):
                if time.monotonic() > deadline:
                    raise RuntimeError("the console did not connect to every agent")
                await pilot.pause(0.05)
            await pilot.pause(0.5)  # the agents' first messages (history) are not the load
            buffer = app.dashboard.buffer
            before = buffer.appended
            lateness: list[float] = []
            process.stdin.write(b"go\n")
            wall, cpu = time.perf_counter(), time.process_time()
            finished = asyncio.create_task(process.stdout.readline())
            while not finished.done():
                expected = time.monotonic() + PROBE_S
                await asyncio.sleep(PROBE_S)
                lateness.append(max(0.0, time.monotonic() - expected))
            elapsed = time.perf_counter() - wall
            share = (time.process_time() - cpu) / elapsed
            await pilot.pause(1.0)  # what the merge still held
            shown = buffer.appended - before
            view = app.fleet_view
            state = app.dashboard.state
            dropped = state.dropped_events + state.gap_events + app.dashboard.console_dropped
            result = Result(
                delay_p99_ms=statistics.quantiles(lateness, n=100, method="inclusive")[98] * 1000,
                cpu_share=share, shown_per_s=shown / elapsed,
                forced=view.merger.forced if view is not None else 0,
                late=view.merger.late if view is not None else 0, dropped=dropped)
        process.stdin.write(b"stop\n")
        await process.stdin.drain()
        await asyncio.wait_for(process.wait(), CONNECT_TIMEOUT_S)
    return result


def _connected(app: ObsviewApp, count: int) -> bool:
    if count == 1:
        return app.connection is not None and app.connection.status == "connected"
    view = app.fleet_view
    return view is not None and all(host.live for host in view.hosts.values())


def run(quick: bool) -> list[Figure]:
    duration_s = 4.0 if quick else 10.0
    single = asyncio.run(measure(1, 15_000, duration_s))
    fleet = asyncio.run(measure(3, 5_000, duration_s))
    baseline = "1 agent × 15k events/s, same console"
    return [
        figure("fleet 3 agents × 5k events/s: console p99 loop delay", fleet.delay_p99_ms, "ms",
               baseline, single.delay_p99_ms),
        figure("fleet 3 agents × 5k events/s: console CPU share", fleet.cpu_share, "cores",
               baseline, single.cpu_share),
        figure("fleet 3 agents × 5k events/s: events shown per second", fleet.shown_per_s, "events/s",
               baseline, single.shown_per_s),
        figure("fleet 3 agents × 5k events/s: merge forced early + late", fleet.forced + fleet.late,
               "events", "events shown in the run", fleet.shown_per_s * duration_s),
        figure("fleet 3 agents × 5k events/s: dropped (agents' queues, gaps, console)",
               fleet.dropped, "events", f"{baseline}: dropped", single.dropped),
    ]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="4 s under load instead of 10 s")
    parser.add_argument("--agents", nargs=3, metavar=("COUNT", "RATE", "SECONDS"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.agents:
        count, rate, seconds = args.agents
        asyncio.run(agents_main(int(count), int(rate), float(seconds)))
        return
    print_table(run(quick=args.quick))


if __name__ == "__main__":
    main()
