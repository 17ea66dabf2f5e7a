"""History journal (issue 16): its write cost on the ingest path, query latency, disk use.

* **write cost**: the agent's ingest path (normalize + ``Agent.ingest``) paced at 20k seed
  lines/s, CPU seconds of the whole process (every thread: the writer's too), with the
  journal on beside the same run with it off (rounds interleaved). Target: ≤ 1.20.
* **write cost, counted**: the same path's instructions per line under callgrind
  (:mod:`benchmarks.counted_ingest`), journal on beside off. CPU seconds move with whatever
  else the machine runs; instruction counts do not, so this is the figure that can be compared
  between runs and machines. It leaves out the kernel's share (the writes and fsyncs of
  SQLite), which the CPU-seconds figure includes. Skipped, with a message, without valgrind.
* **text filter**: a needle no event holds over 1M journaled seed events, newest first, to the
  first page (here: to the answer that there is none, the worst case), beside the same test
  over the same events held in RAM as a list. Target: ≤ 300 ms.
* **errors**: ``level:error`` and ``status:5xx`` over the same 1M journaled events, newest
  first, to the first page (500 matches), beside the same filter over the events in RAM.
  Target (issue 11): ≤ 30 ms.
* **trace lookup**: ``trace:ID`` of one request over 10M journaled events (the trace index),
  beside the same filter over a 100k-event RAM ring. Target: ≤ 50 ms.
* **disk**: the journal's file size over the raw log bytes of the seed lines. Target: ≤ 1.0.
* **open**: the agent's start on the 10M-event journal (SQLite's ``quick_check`` reads every
  page) beside reading the file once.

    uv run python benchmarks/journal.py [--quick]
"""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import msgspec

if __package__ in (None, ""):  # run as a script: make ``benchmarks`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.figures import Figure, figure, run_alone
from benchmarks.ingest import seed_lines
from obsview.backend.agent import JOURNAL_FILE, Agent
from obsview.backend.config import AgentConfig
from obsview.backend.ingest.normalize import Normalizer
from obsview.backend.store import journal_query
from obsview.backend.store.journal import Journal
from obsview.backend.store.journal_codec import pack
from obsview.backend.store.query import EventQuery
from obsview.backend.store.ring import EventStore
from obsview.common.filters import parse_filter
from obsview.common.protocol import LogEvent

RATE = 20_000
BATCH = 1000
NEEDLE = "no-event-holds-this"


def normalized(lines: list[bytes]) -> list[LogEvent]:
    normalizer = Normalizer(service="blog-api", host="bench")
    events: list[LogEvent] = []
    for start in range(0, len(lines), 5000):
        events.extend(normalizer.normalize_lines(lines[start : start + 5000], source="/var/log/app.log"))
    for seq, event in enumerate(events, 1):
        event.seq = seq
    return events


def write_journal(path: Path, events: list[LogEvent], *, repeat: int = 1) -> Journal:
    """``events`` journaled ``repeat`` times over (renumbered, request and trace IDs made unique
    again: a trace repeated in every copy would be found ``repeat`` times), 4,096 per block,
    as the writer does."""
    journal = Journal(path)
    seq = 0
    for round_number in range(repeat):
        suffix = f"-{round_number}" if round_number else ""
        for start in range(0, len(events), 4096):
            block = [
                msgspec.structs.replace(event, seq=seq + i + 1, request_id=event.request_id + suffix,
                                        trace_id=event.trace_id + suffix)
                for i, event in enumerate(events[start : start + 4096])
            ]
            seq += len(block)
            journal.write_block(pack(block), time.time())
    journal.close()
    return Journal(path)


async def _paced_ingest(history: bool, lines: list[bytes], state: Path) -> float:
    """CPU seconds for ingesting ``lines`` at RATE lines/s through a real agent."""
    config = AgentConfig(listen=("127.0.0.1", 0), state_dir=state, history=history, rules=[])
    agent = Agent(config)
    await agent.start()
    started_cpu, started = time.process_time(), time.perf_counter()
    try:
        for number, start in enumerate(range(0, len(lines), BATCH)):
            events = agent.normalizer.normalize_lines(lines[start : start + BATCH], source="/var/log/app.log")
            await agent.ingest(events)
            due = started + (number + 1) * BATCH / RATE
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
    finally:
        await agent.stop()  # the writer thread empties its queue: counted, same process
    return time.process_time() - started_cpu


def write_cost(quick: bool) -> Figure:
    lines = seed_lines(40_000 if quick else 100_000)
    on = off = 0.0
    with tempfile.TemporaryDirectory(prefix="history-bench-") as tmp:
        for round_number in range(2 if quick else 3):
            off += asyncio.run(_paced_ingest(False, lines, Path(tmp) / f"off{round_number}"))
            on += asyncio.run(_paced_ingest(True, lines, Path(tmp) / f"on{round_number}"))
    return figure("ingest CPU at 20k lines/s, journal on", on, "s", "same, journal off", off)


def _instructions(valgrind: str, mode: str, lines_file: Path) -> int:
    child = Path(__file__).with_name("counted_ingest.py")
    done = subprocess.run(
        [valgrind, "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable, str(child), mode,
         str(lines_file)],
        capture_output=True, text=True, check=True)
    collected = re.search(r"Collected : (\d+)", done.stderr)
    if collected is None:
        raise RuntimeError(f"callgrind printed no total:\n{done.stderr[-2000:]}")
    return int(collected.group(1))


def write_instructions(quick: bool) -> list[Figure]:
    """Instructions per line, journal on and off: each the difference between a short and a
    long run, so that starting Python and the agent (the same in both) cancels out."""
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        print("journal: valgrind not installed, the counted write cost is skipped", file=sys.stderr)
        return []
    short, long = (10_000, 30_000) if quick else (20_000, 60_000)
    lines = seed_lines(long)
    per_line: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="history-bench-") as tmp:
        files = {}
        for count in (short, long):
            files[count] = Path(tmp) / f"{count}.log"
            files[count].write_bytes(b"\n".join(lines[:count]) + b"\n")
        for mode in ("off", "on"):
            counts = {count: _instructions(valgrind, mode, file) for count, file in files.items()}
            per_line[mode] = (counts[long] - counts[short]) / (long - short)
    return [figure("ingest instructions per line, journal on", per_line["on"], "instr",
                   "same, journal off", per_line["off"])]


def _first_page(journal: Journal, query: EventQuery) -> float:
    started = time.perf_counter()
    while True:
        page = journal_query.query(journal, query, limit=500, max_scan=200_000)
        if page.events or page.exhausted:
            return time.perf_counter() - started
        query = query.resumed(page.next_seq)


def queries_and_disk(quick: bool) -> list[Figure]:
    count = 200_000 if quick else 1_000_000
    lines = seed_lines(count)
    raw_bytes = sum(len(line) + 1 for line in lines)
    events = normalized(lines)
    del lines
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory(prefix="history-bench-") as tmp:
        path = Path(tmp) / JOURNAL_FILE
        journal = write_journal(path, events)
        size = path.stat().st_size
        figures.append(figure(f"journal file, {count:,} seed lines", size / 2**20, "MiB", "raw log", raw_bytes / 2**20))
        text = EventQuery(parse_filter(NEEDLE))
        in_ram = time.perf_counter()
        assert not text.select(events)
        in_ram = time.perf_counter() - in_ram
        figures.append(figure(f"text filter over {count:,} journaled, first page", _first_page(journal, text) * 1e3,
                              "ms", "same filter, events in RAM", in_ram * 1e3))
        for expression in ("level:error", "status:5xx"):
            errors = EventQuery(parse_filter(expression))
            in_ram = time.perf_counter()
            errors.select(events)
            in_ram = time.perf_counter() - in_ram
            figures.append(figure(f"{expression} over {count:,} journaled, first page",
                                  _first_page(journal, errors) * 1e3, "ms", "same filter, events in RAM", in_ram * 1e3))
        journal.close()

        repeat = 2 if quick else 10
        big = Path(tmp) / "big.sqlite3"
        journal = write_journal(big, events, repeat=repeat)
        wanted = next(event.request_id for event in events[len(events) // 2 :] if event.request_id)
        trace = EventQuery(parse_filter(f"trace:{wanted}"))
        took = _first_page(journal, trace)
        ring = EventStore(100_000)
        ring.append([msgspec.structs.replace(event) for event in events[:100_000]])
        ram = time.perf_counter()
        ring.query(trace, limit=500, max_scan=100_000)
        ram = time.perf_counter() - ram
        figures.append(figure(f"trace:ID over {count * repeat:,} journaled", took * 1e3, "ms",
                              "same filter over a 100k RAM ring", ram * 1e3))
        journal.close()
        figures.append(_open_cost(big, count * repeat))
    return figures


def _open_cost(path: Path, count: int) -> Figure:
    """Opening the journal (its quick_check reads every page) beside reading the file once."""
    started = time.perf_counter()
    with path.open("rb") as file:
        while file.read(1 << 20):
            pass
    read = time.perf_counter() - started
    started = time.perf_counter()
    Journal(path).close()
    opened = time.perf_counter() - started
    size = path.stat().st_size / 2**20
    return figure(f"open (quick_check) of {count:,} journaled, {size:,.0f} MiB", opened * 1e3, "ms",
                  "reading the file once", read * 1e3)


def run(quick: bool = False) -> list[Figure]:
    return [write_cost(quick), *write_instructions(quick), *queries_and_disk(quick)]


if __name__ == "__main__":
    run_alone(run, __doc__, "200k / 2M events instead of 1M / 10M, shorter paced rounds")
