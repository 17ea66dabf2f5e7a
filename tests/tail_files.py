"""What the file tail's tests share: numbered lines on real files, a tail that polls fast, its
checkpoint's entries, and a run that stops once enough events came (an agent stop)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import orjson

from obsview.backend.ingest.normalize import Normalizer
from obsview.backend.ingest.sources.file_tail import FileTailSource


def line(n: int) -> bytes:
    return b'{"n":%d,"level":"INFO","message":"line %d"}\n' % (n, n)


def lines(numbers: range) -> bytes:
    return b"".join(line(n) for n in numbers)


def append(path: Path, data: bytes) -> None:
    with path.open("ab") as file:
        file.write(data)


def tail(log: Path, checkpoint: Path, **options: Any) -> FileTailSource:
    options.setdefault("poll_interval", 0.01)
    options.setdefault("rescan_interval", 0.02)
    options.setdefault("rotate_grace", 0.05)
    options.setdefault("checkpoint_interval", 0.02)
    normalizer = options.pop("normalizer", Normalizer())
    return FileTailSource([str(log)], normalizer, checkpoint_path=checkpoint, **options)


def entries(checkpoint: Path) -> list[dict[str, Any]]:
    data = orjson.loads(checkpoint.read_bytes())
    assert data["version"] == 1
    return list(data["files"])


async def run_until(source: FileTailSource, collector: Any, wait_until: Any, count: int) -> None:
    """Run the source until ``count`` events arrived, then cancel it (an agent stop)."""
    task = asyncio.create_task(source.run(collector))
    try:
        await wait_until(lambda: len(collector.events) >= count)
        await asyncio.sleep(0.05)  # a duplicate would arrive now
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert task.cancelled()
