"""Console under load: a headless ``ObsviewApp`` fed 20k events/s, beside Textual's own ``Log``
widget fed the same lines, same run; and filter time over 100k and 1M buffered events.

Feeding: every 50 ms, 1,000 events arrive as two 500-event frames (what the agent sends).
The app's side decodes each frame and hands it to the dashboard (``protocol.decode``
then ``enqueue``, exactly what the websocket client does); the baseline parses the same frames
with ``orjson.loads`` and calls ``Log.write_lines`` with the messages. Measured over the
same wall time:

* p99 event-loop delay: a 10 ms timer task's lateness (what a keypress would wait);
* CPU share: process CPU time / wall time (1.0 = one core busy);
* key-to-screen p50/p99: a key event handed to the app the way the terminal driver does
  (``Driver.send_message``), until the first compositor update handed to ``App._display``
  (what writes to the terminal; headless mode skips only that final write) in which the
  status label that shows the key's effect was repainted showing it. Keys, in turn: ``p``
  (pause/follow, label "following"/"paused") and ``4`` (toggle DEBUG: a new filter over the
  whole buffer, label "levels … 4DBG" struck or not); the baseline's app binds ``p`` to
  flip a label beside its ``Log``. A press every 50–150 ms after the previous one showed.

Filter time: ``EventBuffer.set_filter`` (tui/model.py) for a free-text query and a level
filter, beside a plain list comprehension doing the same test, same events (for free text:
a case-insensitive substring of the message or of the raw line, lower-cased per event).

Live filter: the query typed in the bar is matched in steps (``EventBuffer.refilter``): the
longest step is how long the console stops drawing and reading keys, beside the one-pass
``set_filter`` of the same query over the same 100k events (what it stopped for before).

    uv run python benchmarks/console.py [--quick]
"""

from __future__ import annotations

import asyncio
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from rich.text import Text
from textual import events
from textual.app import App, ComposeResult
from textual.widget import Widget
from textual.widgets import Log, Static

if __package__ in (None, ""):  # run as a script: make ``benchmarks`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.figures import Figure, figure, run_alone
from benchmarks.ingest import seed_lines
from obsview.backend.ingest.normalize import Normalizer
from obsview.backend.store.ring import EventStore
from obsview.common.filters import parse_filter
from obsview.common.protocol import LogEvent, Message, UnknownMessage, decode, encode_events
from obsview.tui.app import ObsviewApp
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


@dataclass(slots=True)
class LoadResult:
    delay_p99_ms: float
    cpu_share: float
    #: Key-to-screen samples in ms, per key.
    keys_ms: dict[str, list[float]] = field(default_factory=dict)


@dataclass(slots=True)
class KeyProbe:
    """One key and how to see its effect: ``label`` shows it once ``shows(text)`` holds for
    what the label rendered, where ``text`` is the label's content."""

    key: str
    label: Widget
    shows: Callable[[Text], bool]


class KeyToScreen:
    """Times key presses until a screen update shows their effect (see the module doc)."""

    def __init__(self, app: App[Any], probes: Sequence[KeyProbe]) -> None:
        self._app = app
        self._probes = probes
        self._rendered: dict[str, Text] = {}
        self._waiting: tuple[KeyProbe, Callable[[Text], bool], float, asyncio.Future[float]] | None = None
        self.samples: dict[str, list[float]] = {probe.key: [] for probe in probes}
        for probe in probes:
            self._watch_renders(probe)
        display = app._display

        def timed_display(screen: Any, renderable: Any) -> None:
            display(screen, renderable)
            waiting = self._waiting
            if renderable is None or waiting is None:
                return
            probe, shows, started, done = waiting
            rendered = self._rendered.get(probe.key)
            if rendered is not None and shows(rendered) and not done.done():
                done.set_result(time.perf_counter() - started)

        app._display = timed_display  # type: ignore[method-assign]

    def _watch_renders(self, probe: KeyProbe) -> None:
        render_lines = probe.label.render_lines

        def recording_render_lines(crop: Any) -> Any:
            content = probe.label.content  # type: ignore[attr-defined]
            self._rendered[probe.key] = content if isinstance(content, Text) else Text(str(content))
            return render_lines(crop)

        probe.label.render_lines = recording_render_lines  # type: ignore[method-assign]

    async def run(self, until: float) -> None:
        index = 0
        while time.monotonic() < until:
            probe = self._probes[index % len(self._probes)]
            index += 1
            before = probe.label.content  # type: ignore[attr-defined]
            before_shown = probe.shows(before if isinstance(before, Text) else Text(str(before)))
            # The state flips: the label must come to show the opposite of what it shows now.
            expected: Callable[[Text], bool] = (
                (lambda text, p=probe: not p.shows(text)) if before_shown else probe.shows
            )
            done: asyncio.Future[float] = asyncio.get_running_loop().create_future()
            self._waiting = (probe, expected, time.perf_counter(), done)
            driver = self._app._driver
            assert driver is not None
            driver.send_message(events.Key(probe.key, probe.key))
            try:
                self.samples[probe.key].append(await asyncio.wait_for(done, timeout=2.0) * 1000)
            except TimeoutError:
                self.samples[probe.key].append(2000.0)  # counted, never dropped
            self._waiting = None
            await asyncio.sleep(random.uniform(0.05, 0.15))


async def _under_load(feed: Callable[[bytes], None], frames: Sequence[bytes], duration_s: float,
                      keys: KeyToScreen) -> LoadResult:
    """Feed ``frames`` at RATE for ``duration_s`` while a timer measures the loop's lateness
    and ``keys`` times key presses."""
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
    await asyncio.gather(probe(), feeder(), keys.run(stop_at))
    share = (time.process_time() - cpu) / (time.perf_counter() - wall)
    return LoadResult(_p99(lateness) * 1000, share, keys.samples)


def _p99(samples: Sequence[float]) -> float:
    # inclusive: with a few dozen key presses, never a value beyond the worst one seen.
    return statistics.quantiles(samples, n=100, method="inclusive")[98]


def _following(text: Text) -> bool:
    return text.plain.startswith("following")


def _debug_shown(text: Text) -> bool:
    """The levels label shows DEBUG as active (not struck through)."""
    at = text.plain.find("4DBG")
    return not any("strike" in str(span.style) for span in text.spans if span.start <= at < span.end)


async def obsview_app_load(frames: Sequence[bytes], duration_s: float,
                           decode: Callable[[bytes], Message | UnknownMessage] = decode) -> LoadResult:
    app = ObsviewApp(url=None)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        dashboard = app.dashboard
        keys = KeyToScreen(app, [
            KeyProbe("p", dashboard.query_one("#sb-follow", Static), _following),
            KeyProbe("4", dashboard.query_one("#sb-levels", Static), _debug_shown),
        ])
        # What the websocket client does with every frame it receives.
        result = await _under_load(lambda frame: dashboard.enqueue(decode(frame)), frames,
                                   duration_s, keys)
        shown = dashboard.buffer.total
    if shown == 0:
        raise RuntimeError("the console never applied an event")
    return result


class _LogApp(App[None]):
    BINDINGS = [("p", "toggle", "Pause")]

    def compose(self) -> ComposeResult:
        yield Log(max_lines=100_000)
        yield Static("following", id="state")

    def action_toggle(self) -> None:
        label = self.query_one("#state", Static)
        label.update("paused" if str(label.content) == "following" else "following")


async def raw_log_load(frames: Sequence[bytes], duration_s: float) -> LoadResult:
    app = _LogApp()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        log = app.query_one(Log)
        keys = KeyToScreen(app, [KeyProbe("p", app.query_one("#state", Static), _following)])

        def feed(frame: bytes) -> None:
            log.write_lines([event["message"] for event in orjson.loads(frame)["events"]])

        return await _under_load(feed, frames, duration_s, keys)


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
        # The same test the filter makes (message or raw line, case-insensitive), inline.
        text_raw = _best(lambda: [e for e in events
                                  if "login" in e.message.lower() or "login" in e.raw.lower()], rounds)
        level_ms = _best(lambda: buffer.set_filter(level_filter), rounds)
        level_raw = _best(lambda: [e for e in events if e.level in wanted_levels], rounds)
        figures += [
            figure(f"filter text over {label} events", text_ms, "ms", "list comprehension, same test",
                   text_raw),
            figure(f"filter level:warn+ over {label} events", level_ms, "ms", "list comprehension, level set",
                   level_raw),
        ]
    return figures


_DONE = object()


def live_filter_figures(pool: Sequence[LogEvent], size: int, rounds: int) -> list[Figure]:
    events = [pool[i % len(pool)] for i in range(size)]
    buffer = EventBuffer(capacity=size)
    buffer.append(events)
    longest = float("inf")
    one_pass = float("inf")
    for query in ("login", "") * rounds:  # interleaved; "" puts the buffer back in between
        wanted = parse_filter(query)
        started = time.perf_counter()
        buffer.set_filter(wanted)
        one_pass = min(one_pass, time.perf_counter() - started) if query else one_pass
        buffer.set_filter(parse_filter(""))
        steps = buffer.refilter(wanted)
        worst, done = 0.0, False
        while not done:
            started = time.perf_counter()
            done = next(steps, _DONE) is _DONE
            worst = max(worst, time.perf_counter() - started)
        longest = min(longest, worst) if query else longest
    label = f"{size // 1000}k"
    return [figure(f"live filter text over {label} events: longest step (UI blocked)",
                   longest * 1000, "ms", "one-pass set_filter, same query", one_pass * 1000)]


def run(quick: bool) -> list[Figure]:
    duration_s = 3.0 if quick else 10.0
    events = seed_events(20_000)
    frames = [encode_events(events[i : i + FRAME]) for i in range(0, len(events), FRAME)]
    raw = asyncio.run(raw_log_load(frames, duration_s))
    app = asyncio.run(obsview_app_load(frames, duration_s))
    baseline = "Textual Log.write_lines, same lines"
    raw_keys = raw.keys_ms["p"]
    figures = [
        figure("console @20k events/s p99 loop delay", app.delay_p99_ms, "ms", baseline, raw.delay_p99_ms),
        figure("console @20k events/s CPU share", app.cpu_share, "cores", baseline, raw.cpu_share),
    ]
    for key, what in (("p", "pause/follow"), ("4", "toggle DEBUG")):
        samples = app.keys_ms[key]
        figures += [
            figure(f"console @20k events/s key {key} ({what}) to screen p50, n={len(samples)}",
                   statistics.median(samples), "ms", f"{baseline}, key to label, n={len(raw_keys)}",
                   statistics.median(raw_keys)),
            figure(f"console @20k events/s key {key} ({what}) to screen p99", _p99(samples), "ms",
                   f"{baseline}, key to label", _p99(raw_keys)),
        ]
    return (figures + filter_figures(events, (100_000, 1_000_000), rounds=1 if quick else 3)
            + live_filter_figures(events, 100_000, rounds=2 if quick else 5))



if __name__ == "__main__":
    run_alone(run, __doc__, "3 s under load instead of 10 s, one filter round")
