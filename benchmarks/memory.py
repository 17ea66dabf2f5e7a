"""Agent memory: RSS idle, and per buffered event with the store full, each measured in a fresh
subprocess so nothing else this process allocated is counted.

* idle: a started agent (127.0.0.1, port 0, every background task running), beside a bare
  Python process that imports the same packages and starts nothing;
* per event: the same agent with ``store_capacity`` = N after ingesting N seed-shaped lines
  (normalized in batches of 5,000, lines discarded once normalized), (RSS − idle RSS) / N,
  beside the average size of the raw JSON line — what keeping the text alone would cost.

    uv run python benchmarks/memory.py [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import orjson

if __package__ in (None, ""):  # run as a script: make ``benchmarks`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.figures import Figure, figure, print_table

BATCH = 5000
CHILD_TIMEOUT_S = 300.0
MIB = 1024 * 1024


def _rss() -> int:
    import psutil

    gc.collect()
    return int(psutil.Process().memory_info().rss)


def _bare() -> dict[str, float]:
    # The packages the agent's modules import, without obsview itself doing anything.
    for module in ("aiosmtplib", "httpx", "orjson", "platformdirs", "psutil", "websockets.asyncio.server",
                   "obsview.backend.agent"):
        importlib.import_module(module)
    return {"rss": _rss()}


async def _agent(events: int) -> dict[str, float]:
    from benchmarks.ingest import seed_lines
    from obsview.backend.agent import Agent
    from obsview.backend.config import AgentConfig

    with tempfile.TemporaryDirectory(prefix="obsview-bench-") as state:
        config = AgentConfig(listen=("127.0.0.1", 0), state_dir=Path(state), rules=[],
                             store_capacity=max(events, 1))
        async with Agent(config) as agent:
            await asyncio.sleep(0.3)  # every background task started and ran once
            line_bytes = 0
            for start in range(0, events, BATCH):
                line_bytes += await _ingest_batch(agent, seed_lines(min(BATCH, events - start)))
            if len(agent.store) != events:
                raise RuntimeError(f"expected {events} buffered events, got {len(agent.store)}")
            return {"rss": _rss(), "line_bytes": line_bytes / max(events, 1)}


async def _ingest_batch(agent: Any, lines: list[bytes]) -> int:
    """Normalize and ingest one batch; the raw lines die with this frame. Returns their bytes."""
    await agent.ingest(agent.normalizer.normalize_lines(lines, "/var/log/app.log"))
    return sum(len(line) + 1 for line in lines)


def _child(mode: str, events: int) -> None:
    result = _bare() if mode == "bare" else asyncio.run(_agent(events))
    print(orjson.dumps(result).decode(), flush=True)


def _measure(mode: str, events: int = 0) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--child", mode, str(events)],
        capture_output=True, timeout=CHILD_TIMEOUT_S, check=True,
    )
    result: dict[str, float] = orjson.loads(done.stdout.splitlines()[-1])
    return result


def run(quick: bool) -> list[Figure]:
    events = 100_000 if quick else 1_000_000
    bare = _measure("bare")
    idle = _measure("agent", 0)
    full = _measure("agent", events)
    label = f"{events // 1000}k" if events < 1_000_000 else f"{events // 1_000_000}M"
    per_event = (full["rss"] - idle["rss"]) / events
    return [
        figure("agent RSS idle", idle["rss"] / MIB, "MiB", "bare python importing the same packages",
               bare["rss"] / MIB),
        figure(f"agent RSS with {label} events buffered", full["rss"] / MIB, "MiB", "agent RSS idle",
               idle["rss"] / MIB),
        figure(f"agent memory per buffered event ({label})", per_event, "B/event", "raw JSON line size",
               full["line_bytes"]),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="100k buffered events instead of 1M")
    parser.add_argument("--child", nargs=2, metavar=("MODE", "EVENTS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child[0], int(args.child[1]))
        return
    print_table(run(quick=args.quick))


if __name__ == "__main__":
    main()
