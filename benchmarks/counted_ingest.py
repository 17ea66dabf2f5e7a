"""One real agent ingesting a file of lines, alone in its process, for an instruction counter.

    python benchmarks/counted_ingest.py on|off LINES_FILE

:mod:`benchmarks.journal` runs this under ``valgrind --tool=callgrind``, which counts the
instructions every thread executes (the journal writer's too): the same total whatever else
the machine does, where CPU seconds moved by ±40 % with the load. Under valgrind a program runs
~50× slower, so nothing here may depend on the wall clock: the agent's own timers (metrics
tick, full collections, retention) would fire 50× more often per event than in production.
They are pushed out of reach and their work driven by the event count instead: one
:meth:`Agent.tick` (the journal's flush among its steps) per :data:`RATE` lines, i.e. once a
second at the rate the target names.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make ``benchmarks`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import obsview.backend.agent as agent_module
import obsview.backend.store.journal_writer as writer_module
from obsview.backend.agent import Agent
from obsview.backend.config import AgentConfig

RATE = 20_000
"""Lines per simulated second: the rate issue 16's write-cost target is stated at."""
BATCH = 1000
NEVER = 1e9


async def ingest(lines: list[bytes], *, history: bool, state: Path) -> None:
    config = AgentConfig(listen=("127.0.0.1", 0), state_dir=state, history=history, rules=[],
                         metrics_interval_s=NEVER)
    agent = Agent(config)
    await agent.start()
    try:
        for number, start in enumerate(range(0, len(lines), BATCH), 1):
            events = agent.normalizer.normalize_lines(lines[start : start + BATCH], source="/var/log/app.log")
            await agent.ingest(events)
            if number * BATCH % RATE == 0:
                agent.tick()
            await asyncio.sleep(0)  # what a source does between reads: other tasks run
    finally:
        await agent.stop()  # the writer thread empties its queue: counted, same process


def main() -> None:
    mode, lines_file = sys.argv[1:]
    agent_module.FULL_COLLECTION_INTERVAL_S = NEVER  # type: ignore[misc]  # see the module docstring
    writer_module.RETENTION_INTERVAL_S = NEVER  # type: ignore[misc]
    lines = Path(lines_file).read_bytes().splitlines()
    with tempfile.TemporaryDirectory(prefix="counted-ingest-") as state:
        asyncio.run(ingest(lines, history=mode == "on", state=Path(state)))


if __name__ == "__main__":
    main()
