"""Loading a whole JSON log file: obsview's ``--from-start`` beside lnav, same file, same run.

The file holds seed-shaped JSON lines (1M; 100k with ``--quick``). obsview's figure is the
agent's own path: ``FileTailSource(from_start=True)`` → ``Normalizer`` → ``EventStore`` (the
agent's default 100k capacity), timed until the last line is in the store. lnav's is the wall
time of ``lnav -n -c ';SELECT count(*) FROM all_logs' FILE``, given a format definition for
the seed's record (without one lnav sees plain text and counts 0 log lines), and with HOME
pointed at a temporary folder so the user's lnav config and history stay untouched. The
count lnav prints is checked against the number of lines.

When ``lnav`` is not on PATH (Debian package ``lnav``), the baseline is raw ``orjson.loads``
of every line of the same file, and the figure's baseline name says so.

    uv run python benchmarks/lnav.py [--quick]
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

if __package__ in (None, ""):  # run as a script: make ``benchmarks`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.figures import Figure, figure, run_alone
from benchmarks.ingest import seed_lines
from obsview.backend.ingest.normalize import Normalizer
from obsview.backend.ingest.sources.file_tail import FileTailSource
from obsview.backend.store.ring import EventStore
from obsview.common.protocol import LogEvent

LNAV_TIMEOUT_S = 600.0
STORE_CAPACITY = 100_000
"""The agent's default buffer: a --from-start agent keeps the newest 100k of the file."""

# lnav format for the seed's request log: timestamp, level and message fields.
SEED_FORMAT = {
    "$schema": "https://lnav.org/schemas/format-v1.schema.json",
    "obsview_seed_log": {
        "title": "obsview seed JSON log",
        "description": "The seed chapter's structured records (timestamp, level, message, ...).",
        "json": True,
        "file-pattern": r".*\.log",
        "timestamp-field": "timestamp",
        "level-field": "level",
        "body-field": "message",
        "level": {"error": "ERROR", "warning": "WARN", "info": "INFO", "debug": "DEBUG", "trace": "TRACE"},
        "line-format": [{"field": "__timestamp__"}, " ", {"field": "__level__"}, " ", {"field": "message"}],
        "value": {"message": {"kind": "string"}, "level": {"kind": "string"}},
    },
}


async def _obsview_load(path: Path, count: int) -> float:
    normalizer = Normalizer(service="blog-api", host="bench")
    store = EventStore(STORE_CAPACITY)
    done = asyncio.Event()

    async def emit(events: list[LogEvent]) -> None:
        store.append(events)
        if store.last_seq >= count:
            done.set()

    source = FileTailSource([str(path)], normalizer, from_start=True)
    started = time.perf_counter()
    task = asyncio.create_task(source.run(emit))
    try:
        await asyncio.wait_for(done.wait(), LNAV_TIMEOUT_S)
        elapsed = time.perf_counter() - started
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    if store.last_seq != count:
        raise RuntimeError(f"obsview read {store.last_seq} lines, expected {count}")
    return elapsed


def _lnav_load(lnav: str, path: Path, folder: Path) -> tuple[float, int]:
    """Wall time of lnav counting the file's log lines, and the count it printed."""
    config = folder / "lnav-config"
    (config / "formats" / "installed").mkdir(parents=True, exist_ok=True)
    (config / "formats" / "installed" / "obsview_seed.json").write_bytes(orjson.dumps(SEED_FORMAT))
    home = folder / "home"
    home.mkdir(exist_ok=True)
    env = {**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config")}
    started = time.perf_counter()
    done = subprocess.run(
        [lnav, "-I", str(config), "-n", "-c", ";SELECT count(*) FROM all_logs", str(path)],
        capture_output=True, timeout=LNAV_TIMEOUT_S, env=env, check=True,
    )
    elapsed = time.perf_counter() - started
    numbers = [int(word) for word in done.stdout.split() if word.isdigit()]
    return elapsed, numbers[-1] if numbers else -1


def _orjson_load(path: Path) -> float:
    loads = orjson.loads
    started = time.perf_counter()
    with open(path, "rb") as file:
        for line in file:
            loads(line)
    return time.perf_counter() - started


def run(quick: bool) -> list[Figure]:
    count = 100_000 if quick else 1_000_000
    label = f"{count // 1000}k" if count < 1_000_000 else f"{count // 1_000_000}M"
    name = f"load {label}-line JSON file (--from-start)"
    with tempfile.TemporaryDirectory(prefix="obsview-bench-") as tmp:
        folder = Path(tmp)
        path = folder / "app.log"
        with open(path, "wb") as file:
            for start in range(0, count, 100_000):  # in slices: 1M lines at once is ~1 GB of objects
                file.write(b"\n".join(seed_lines(min(100_000, count - start))) + b"\n")
        obsview = asyncio.run(_obsview_load(path, count))
        lnav = shutil.which("lnav")
        if lnav is None:
            return [figure(name, obsview, "s", "orjson.loads per line (lnav not installed)", _orjson_load(path))]
        lnav_s, counted = _lnav_load(lnav, path, folder)
    baseline = "lnav -n count(*) from all_logs"
    if counted != count:
        baseline += f" (lnav counted {counted} of {count})"
    return [figure(name, obsview, "s", baseline, lnav_s)]



if __name__ == "__main__":
    run_alone(run, __doc__, "100k lines instead of 1M")
