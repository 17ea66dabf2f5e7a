"""End-to-end latency: a line appended to a tailed file → the event received by a console,
p50 and p99, at 1k and 10k lines/s.

The agent runs here (file tail on 127.0.0.1, port 0). A second process plays the service and
the console: a thread appends seed-shaped lines stamped with ``time.monotonic()`` (one
system-wide clock on Linux, so both ends read the same clock) in 10 ms ticks, and an asyncio
websocket client computes each event's latency when its frame arrives.

Baseline, same run, same process layout: the same writer, and a plain reader that polls the
file every 50 ms — the agent's poll interval when it cannot use inotify — and parses each new
line with ``orjson.loads``. With inotify (Linux) the agent's tail is woken by each write
instead, so it is well under the baseline; ``OBSVIEW_TAIL_POLL=1`` measures the polling it
falls back to, where the ratio is what obsview adds (normalize, store, encode, websocket)
beyond the polling design both share.

    uv run python benchmarks/latency.py [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import orjson
from websockets.asyncio.client import connect

if __package__ in (None, ""):  # run as a script: make ``benchmarks`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.figures import Figure, figure, print_table
from obsview.backend.agent import Agent
from obsview.backend.config import AgentConfig
from obsview.common.protocol import Ping, Subscribe, encode

RATES = (1_000, 10_000)
TICK_S = 0.01
POLL_S = 0.05
"""The agent's FileTailSource poll interval when it polls; the baseline reader polls as often."""
CHILD_TIMEOUT_S = 120.0


# --------------------------------------------------------------------------- child: service + console


def _line(n: int, sent: float) -> bytes:
    return orjson.dumps({
        "timestamp": "2026-11-25T15:00:00.000Z", "level": "INFO", "message": "Request completed",
        "sent": sent, "n": n,
        "request": {"id": f"req_{n:x}", "method": "GET", "url": f"/api/posts/{n % 5000}",
                    "ip": "203.0.113.7", "userAgent": "Mozilla/5.0", "correlationId": f"c-{n:x}"},
        "response": {"statusCode": 200, "responseTime": 12}, "duration": 12,
    }) + b"\n"


def _write(path: Path, rate: int, duration_s: float) -> None:
    """Append ``rate`` lines/s for ``duration_s``, in 10 ms ticks (a thread: real time pacing)."""
    per_tick = max(1, round(rate * TICK_S))
    ticks = round(duration_s / TICK_S)
    n = 0
    start = time.monotonic()
    with open(path, "ab", buffering=0) as file:
        for tick in range(ticks):
            delay = start + tick * TICK_S - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            now = time.monotonic()
            file.write(b"".join(_line(n + i, now) for i in range(per_tick)))
            n += per_tick


def _percentiles(latencies: list[float]) -> dict[str, float]:
    ordered = sorted(latencies)
    if not ordered:
        return {"p50": float("nan"), "p99": float("nan"), "count": 0}

    def pick(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    return {"p50": pick(0.50) * 1000, "p99": pick(0.99) * 1000, "count": len(ordered)}


async def _baseline(path: Path, rate: int, duration_s: float) -> dict[str, float]:
    expected = round(duration_s / TICK_S) * max(1, round(rate * TICK_S))
    writer = threading.Thread(target=_write, args=(path, rate, duration_s))
    latencies: list[float] = []
    rest = b""
    path.touch()
    with open(path, "rb") as file:
        writer.start()
        deadline = time.monotonic() + duration_s + 10
        while len(latencies) < expected and time.monotonic() < deadline:
            data = file.read()
            if data:
                now = time.monotonic()
                *lines, rest = (rest + data).split(b"\n")
                latencies.extend(now - orjson.loads(line)["sent"] for line in lines)
            else:
                await asyncio.sleep(POLL_S)
    writer.join()
    return _percentiles(latencies)


async def _through_agent(url: str, path: Path, rate: int, duration_s: float) -> dict[str, float]:
    expected = round(duration_s / TICK_S) * max(1, round(rate * TICK_S))
    latencies: list[float] = []
    async with connect(url, max_size=None, open_timeout=30) as ws:
        await ws.send(encode(Subscribe()).decode())
        await ws.send(encode(Ping(nonce=1)).decode())
        while orjson.loads(await ws.recv()).get("type") != "pong":
            pass
        writer = threading.Thread(target=_write, args=(path, rate, duration_s))
        writer.start()
        try:
            deadline = time.monotonic() + duration_s + 10
            while len(latencies) < expected:
                frame = await asyncio.wait_for(ws.recv(), max(0.01, deadline - time.monotonic()))
                now = time.monotonic()
                data = orjson.loads(frame)
                if data.get("type") == "events":
                    latencies.extend(now - event["extra"]["sent"] for event in data["events"])
        except TimeoutError:
            pass  # reported through the count
        finally:
            writer.join()
    return _percentiles(latencies)


async def child_main(url: str, agent_file: Path, folder: Path, duration_s: float) -> None:
    results: dict[str, Any] = {}
    for rate in RATES:
        results[f"baseline-{rate}"] = await _baseline(folder / f"plain-{rate}.log", rate, duration_s)
        results[f"agent-{rate}"] = await _through_agent(url, agent_file, rate, duration_s)
    print(orjson.dumps(results).decode(), flush=True)


# --------------------------------------------------------------------------- parent: the agent


async def _measure(duration_s: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="obsview-bench-") as folder:
        log_file = Path(folder) / "app.log"
        log_file.touch()
        config = AgentConfig(listen=("127.0.0.1", 0), state_dir=Path(folder), rules=[],
                             tail=[str(log_file)])
        async with Agent(config) as agent:
            child = await asyncio.create_subprocess_exec(
                sys.executable, str(Path(__file__).resolve()), "--child", agent.url, str(log_file),
                folder, str(duration_s), stdout=asyncio.subprocess.PIPE,
            )
            try:
                out, _ = await asyncio.wait_for(child.communicate(), CHILD_TIMEOUT_S)
            finally:
                if child.returncode is None:
                    child.kill()
                    await child.wait()
    if child.returncode != 0:
        raise RuntimeError(f"latency child failed ({child.returncode})")
    result: dict[str, Any] = orjson.loads(out.splitlines()[-1])
    return result


def run(quick: bool) -> list[Figure]:
    duration_s = 1.0 if quick else 5.0
    results = asyncio.run(_measure(duration_s))
    figures = []
    for rate in RATES:
        agent, plain = results[f"agent-{rate}"], results[f"baseline-{rate}"]
        expected = round(duration_s / TICK_S) * max(1, round(rate * TICK_S))
        # A run that lost events would flatter the percentiles: say so in the name.
        missing = "" if agent["count"] == expected else f" (only {agent['count']}/{expected} arrived)"
        for q in ("p50", "p99"):
            figures.append(figure(f"latency file→console {q} @{rate // 1000}k lines/s{missing}",
                                  agent[q], "ms", "append→50 ms poll read", plain[q]))
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="1 s per rate instead of 5 s")
    parser.add_argument("--child", nargs=4, metavar=("URL", "FILE", "FOLDER", "SECONDS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        url, agent_file, folder, seconds = args.child
        asyncio.run(child_main(url, Path(agent_file), Path(folder), float(seconds)))
        return
    print_table(run(quick=args.quick))


if __name__ == "__main__":
    main()
