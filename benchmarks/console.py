"""Console under load: a headless ``ObsviewApp`` fed 20k events/s, beside Textual's own ``Log``
widget fed the same lines, same run; and filter time over 100k and 1M buffered events.

Feeding: every 50 ms, 1,000 events arrive as two 500-event frames (what the agent sends).
The app's side decodes each frame with ``protocol.decode`` and hands it to the dashboard
(``enqueue``, exactly what the websocket client does); the baseline parses the same frames
with ``orjson.loads`` and calls ``Log.write_lines`` with the messages. Measured over the
same wall time:

* p99 event-loop delay: a 10 ms timer task's lateness (what a keypress would wait);
* CPU share: process CPU time / wall time (1.0 = one core busy).

Filter time: ``EventBuffer.set_filter`` (tui/model.py) for a free-text query and a level
filter, beside a plain list comprehension doing the same test, same events.

    uv run python benchmarks/console.py [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import orjson
from textual.app import App, ComposeResult
from textual.widgets import Log

if __package__ in (None, ""):  # run as a script: make ``benchmarks`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.figures import Figure, figure, print_table
from benchmarks.ingest import seed_lines
from obsview.backend.normalize import Normalizer
from obsview.backend.protocol import LogEvent, decode, encode_events
from obsview.backend.store import EventStore
from obsview.tui.app import ObsviewApp
from obsview.tui.filters import parse_filter
from obsview.tui.model import EventBuffer

RATE = 20_000
FEED_EVERY_S = 0.05
FRAME = 500
PROBE_S = 0.01
SIZE = (160, 48)


def seed_events(count: int) -> list[LogEvent]:
    events = Normalizer(service="blog-api", host="bench").normalize_lines(seed_lines(count), "bench")
    EventStore(capacity=count).append(events)  # real sequence numbers, as the agent assigns
    return events


# --------------------------------------------------------------------------- load run


async def _under_load(feed: Callable[[bytes], None], frames: Sequence[bytes], duration_s: float
                      ) -> tuple[float, float]:
    """Feed ``frames`` at RATE for ``duration_s`` while a timer measures the loop's lateness.
    Returns (p99 lateness in ms, CPU share)."""
    per_tick = round(RATE * FEED_EVERY_S / FRAME)
    lateness: list[float] = []
    stop_at = time.monotonic() + duration_s

    async def probe() -> None:
        while time.monotonic() < stop_at:
            expected = time.monotonic() + PROBE_S
            await asyncio.sleep(PROBE_S)
            lateness.append(max(0.0, time.monotonic() - expected))

    async def feeder() -> None:
        index = 0
        start = time.monotonic()
        tick = 0
        while time.monotonic() < stop_at:
            for _ in range(per_tick):
                feed(frames[index % len(frames)])
                index += 1
            tick += 1
            await asyncio.sleep(max(0.0, start + tick * FEED_EVERY_S - time.monotonic()))

    wall, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(probe(), feeder())
    share = (time.process_time() - cpu) / (time.perf_counter() - wall)
    return statistics.quantiles(lateness, n=100)[98] * 1000, share


async def obsview_app_load(frames: Sequence[bytes], duration_s: float) -> tuple[float, float]:
    app = ObsviewApp(url=None)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        dashboard = app.dashboard
        result = await _under_load(lambda frame: dashboard.enqueue(decode(frame)), frames, duration_s)
        shown = dashboard.buffer.total
    if shown == 0:
        raise RuntimeError("the console never applied an event")
    return result


class _LogApp(App[None]):
    def compose(self) -> ComposeResult:
        yield Log(max_lines=100_000)


async def raw_log_load(frames: Sequence[bytes], duration_s: float) -> tuple[float, float]:
    app = _LogApp()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        log = app.query_one(Log)

        def feed(frame: bytes) -> None:
            log.write_lines([event["message"] for event in orjson.loads(frame)["events"]])

        return await _under_load(feed, frames, duration_s)


# --------------------------------------------------------------------------- filters


def _best(action: Callable[[], Any], rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        action()
        best = min(best, time.perf_counter() - started)
    return best * 1000


def filter_figures(pool: Sequence[LogEvent], sizes: Sequence[int], rounds: int) -> list[Figure]:
    """1M distinct events would cost a gigabyte here: the buffer holds a pool repeated (the
    per-event work is the same; only memory differs)."""
    figures = []
    text_filter = parse_filter("login")
    level_filter = parse_filter("level:warn+")
    wanted_levels = frozenset(level_filter.levels)
    for size in sizes:
        events = [pool[i % len(pool)] for i in range(size)]
        buffer = EventBuffer(capacity=size)
        buffer.append(events)
        label = f"{size // 1000}k" if size < 1_000_000 else f"{size // 1_000_000}M"
        text_ms = _best(lambda: buffer.set_filter(text_filter), rounds)
        text_raw = _best(lambda: [e for e in events if "login" in e.message.lower()], rounds)
        level_ms = _best(lambda: buffer.set_filter(level_filter), rounds)
        level_raw = _best(lambda: [e for e in events if e.level in wanted_levels], rounds)
        figures += [
            figure(f"filter text over {label} events", text_ms, "ms", "list comprehension, substring", text_raw),
            figure(f"filter level:warn+ over {label} events", level_ms, "ms", "list comprehension, level set",
                   level_raw),
        ]
    return figures


def run(quick: bool) -> list[Figure]:
    duration_s = 2.0 if quick else 6.0
    events = seed_events(20_000)
    frames = [encode_events(events[i : i + FRAME]) for i in range(0, len(events), FRAME)]
    raw_delay, raw_cpu = asyncio.run(raw_log_load(frames, duration_s))
    app_delay, app_cpu = asyncio.run(obsview_app_load(frames, duration_s))
    figures = [
        figure("console @20k events/s p99 loop delay", app_delay, "ms", "Textual Log.write_lines, same lines",
               raw_delay),
        figure("console @20k events/s CPU share", app_cpu, "cores", "Textual Log.write_lines, same lines", raw_cpu),
    ]
    return figures + filter_figures(events, (100_000, 1_000_000), rounds=1 if quick else 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="2 s under load instead of 6 s, one filter round")
    print_table(run(quick=parser.parse_args().quick))


if __name__ == "__main__":
    main()
