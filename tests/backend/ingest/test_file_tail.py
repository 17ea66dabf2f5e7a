"""File tailing on real files: appends, history, rotation by rename and copytruncate under
continuous writing, deletion, globs. Lines are numbered so loss and repeats are visible."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import IO, Any

from obsview.backend.ingest.normalize import Normalizer
from obsview.backend.ingest.sources.file_tail import FileTailSource


@asynccontextmanager
async def running(source: FileTailSource, collector: Any) -> AsyncIterator[None]:
    task = asyncio.create_task(source.run(collector))
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        assert task.cancelled() or task.exception() is None


def line(n: int) -> bytes:
    return b'{"n":%d,"level":"INFO","message":"line %d"}\n' % (n, n)


def tail(paths: list[str], **options: object) -> FileTailSource:
    options.setdefault("poll_interval", 0.01)
    options.setdefault("rescan_interval", 0.02)
    return FileTailSource(paths, Normalizer(), **options)  # type: ignore[arg-type]


async def test_starts_at_end_then_streams_appends(
    tmp_path: Path, collector: Any, wait_until: Any
) -> None:
    log = tmp_path / "app.log"
    log.write_bytes(line(0) + line(1))
    source = tail([str(log)])
    async with running(source, collector):
        await wait_until(lambda: source.files == [str(log)])
        with log.open("ab") as f:
            f.write(line(2))
        await wait_until(lambda: len(collector.events) == 1)
        assert collector.numbers() == [2]
        assert collector.events[0].source == str(log)


async def test_from_start_reads_history(
    tmp_path: Path, collector: Any, wait_until: Any
) -> None:
    log = tmp_path / "app.log"
    log.write_bytes(b"".join(line(n) for n in range(100)))
    async with running(tail([str(log)], from_start=True), collector):
        await wait_until(lambda: len(collector.events) == 100)
    assert collector.numbers() == list(range(100))


async def test_partial_line_waits_for_its_newline(
    tmp_path: Path, collector: Any, wait_until: Any
) -> None:
    log = tmp_path / "app.log"
    log.touch()
    source = tail([str(log)])
    async with running(source, collector):
        await wait_until(lambda: source.files == [str(log)])
        with log.open("ab") as f:
            f.write(b'{"n":1,"message":"hal')
            f.flush()
            await asyncio.sleep(0.05)  # several polls see the half line
            assert collector.events == []
            f.write(b'f"}\n')
        await wait_until(lambda: len(collector.events) == 1)
    assert collector.events[0].message == "half"


async def test_huge_line_is_truncated_with_bounded_memory(
    tmp_path: Path, collector: Any, wait_until: Any
) -> None:
    log = tmp_path / "app.log"
    log.write_bytes(b"[WARN] " + b"x" * 300_000 + b"\n" + line(1))
    source = FileTailSource([str(log)], Normalizer(max_line_bytes=1000), from_start=True,
                            poll_interval=0.01, chunk_bytes=4096)
    async with running(source, collector):
        await wait_until(lambda: len(collector.events) == 2)
    first, second = collector.events
    assert first.truncated and first.level == "WARN" and len(first.raw) <= 1000
    assert second.extra["n"] == 1


class Writer:
    """Writes numbered lines in bursts, like a busy service, and rotates on request."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.next = 0
        self.file: IO[bytes] = path.open("ab")

    def burst(self, count: int) -> None:
        self.file.write(b"".join(line(n) for n in range(self.next, self.next + count)))
        self.file.flush()
        self.next += count

    def shift_rotated(self) -> None:
        for index in range(8, 0, -1):
            older = Path(f"{self.path}.{index}")
            if older.exists():
                older.rename(f"{self.path}.{index + 1}")

    def rotate_by_rename(self) -> None:
        self.shift_rotated()
        self.path.rename(f"{self.path}.1")
        self.burst(25)  # the service writes on to the old file until it reopens
        self.file.close()
        self.file = self.path.open("ab")

    def copytruncate(self) -> None:
        self.shift_rotated()
        shutil.copyfile(self.path, f"{self.path}.1")
        os.truncate(self.path, 0)  # the service keeps its O_APPEND handle


async def write_with_rotations(
    writer: Writer, total: int, rotate: Callable[[], None], rotations: int,
    ready: Callable[[], bool], wait_until: Any,
) -> None:
    every = total // (rotations + 1)
    next_rotation = every
    done = 0
    while writer.next < total:
        writer.burst(min(250, total - writer.next))
        if writer.next >= next_rotation and done < rotations:
            # Polling can only notice a rotation it gets to see: wait until the tailer read
            # past the previous one (real rotations are hours apart), then keep writing.
            await wait_until(ready)
            rotate()
            done += 1
            next_rotation += every
        await asyncio.sleep(0.001)
    writer.file.close()


def assert_each_once(collector: Any, total: int) -> None:
    counts = Counter(collector.numbers())
    assert not [n for n, c in counts.items() if c > 1], "duplicated lines"
    assert sorted(counts) == list(range(total)), "lost lines"


async def test_rename_rotation_under_continuous_writing(
    tmp_path: Path, collector: Any, wait_until: Any
) -> None:
    log = tmp_path / "app.log"
    writer = Writer(log)
    source = tail([str(log)], rotate_grace=0.3)
    total = 100_000  # issue 3: 100k numbered lines across rotations
    seen_at_rotation = [0]

    def ready() -> bool:
        # The real condition: the tail read the new file of the previous rotation, not
        # merely something (always true after the first one).
        return len(collector.events) > seen_at_rotation[0]

    def rotate() -> None:
        writer.rotate_by_rename()
        seen_at_rotation[0] = writer.next  # the first line of the new file

    async with running(source, collector):
        await wait_until(lambda: source.files == [str(log)])
        await write_with_rotations(writer, total, rotate, 5, ready, wait_until)
        await wait_until(lambda: len(collector.events) >= writer.next)
        await asyncio.sleep(0.1)  # a duplicate would arrive now
    assert_each_once(collector, writer.next)
    assert source.rotations == 5


async def test_copytruncate_under_continuous_writing(
    tmp_path: Path, collector: Any, wait_until: Any
) -> None:
    log = tmp_path / "app.log"
    writer = Writer(log)
    source = tail([str(log)])
    total = 100_000  # issue 3: 100k numbered lines across rotations
    seen_at_rotation = [0]

    def ready() -> bool:
        return len(collector.events) > seen_at_rotation[0]

    def rotate() -> None:
        seen_at_rotation[0] = writer.next
        writer.copytruncate()

    async with running(source, collector):
        await wait_until(lambda: source.files == [str(log)])
        await write_with_rotations(writer, total, rotate, 5, ready, wait_until)
        await wait_until(lambda: len(collector.events) >= total)
        await asyncio.sleep(0.1)
    assert_each_once(collector, total)
    assert source.truncations == 5


async def test_copytruncate_without_a_copy_restarts_at_zero(
    tmp_path: Path, collector: Any, wait_until: Any
) -> None:
    log = tmp_path / "app.log"
    log.write_bytes(line(0) * 50)
    source = tail([str(log)])
    async with running(source, collector):
        await wait_until(lambda: source.files == [str(log)])
        log.write_bytes(line(1))  # truncated and rewritten shorter
        await wait_until(lambda: len(collector.events) == 1)
    assert collector.numbers() == [1] and source.truncations == 1


async def test_deleted_and_recreated_file_is_picked_up(
    tmp_path: Path, collector: Any, wait_until: Any
) -> None:
    log = tmp_path / "app.log"
    log.write_bytes(line(0))
    source = tail([str(log)], rotate_grace=0.05)
    async with running(source, collector):
        await wait_until(lambda: source.files == [str(log)])
        with log.open("ab") as f:
            f.write(line(1))
        log.unlink()
        await wait_until(lambda: source.files == [])
        log.write_bytes(line(2) + line(3))
        await wait_until(lambda: len(collector.events) == 3)
    assert collector.numbers() == [1, 2, 3]


async def test_missing_file_is_followed_once_it_appears(
    tmp_path: Path, collector: Any, wait_until: Any
) -> None:
    log = tmp_path / "later.log"
    source = tail([str(log)])
    async with running(source, collector):
        await asyncio.sleep(0.03)
        log.write_bytes(line(7))
        await wait_until(lambda: len(collector.events) == 1)
    assert collector.numbers() == [7]


async def test_glob_picks_up_new_files(
    tmp_path: Path, collector: Any, wait_until: Any
) -> None:
    (tmp_path / "a.log").write_bytes(line(0))
    (tmp_path / "ignored.txt").write_bytes(line(99))
    source = tail([str(tmp_path / "*.log")])
    async with running(source, collector):
        await wait_until(lambda: source.files == [str(tmp_path / "a.log")])
        (tmp_path / "b.log").write_bytes(line(1) + line(2))  # new: read from its start
        with (tmp_path / "a.log").open("ab") as f:
            f.write(line(3))
        await wait_until(lambda: len(collector.events) == 3)
    assert sorted(collector.numbers()) == [1, 2, 3]
    assert {e.source for e in collector.events} == {
        str(tmp_path / "a.log"), str(tmp_path / "b.log")}


async def test_big_backlog_arrives_in_bounded_batches(
    tmp_path: Path, collector: Any, wait_until: Any
) -> None:
    log = tmp_path / "app.log"
    log.write_bytes(b"".join(line(n) for n in range(12_000)))
    source = tail([str(log)], from_start=True, batch_lines=5000)
    sizes: list[int] = []

    async def emit(events: list) -> None:  # type: ignore[type-arg]
        sizes.append(len(events))
        await collector(events)

    task = asyncio.create_task(source.run(emit))
    try:
        await wait_until(lambda: len(collector.events) == 12_000)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert max(sizes) <= 5000
    assert collector.numbers() == list(range(12_000))


async def test_rotated_file_last_line_without_newline_is_kept(
    tmp_path: Path, collector: Any, wait_until: Any
) -> None:
    log = tmp_path / "app.log"
    log.touch()
    source = tail([str(log)], rotate_grace=0.05)
    async with running(source, collector):
        await wait_until(lambda: source.files == [str(log)])
        with log.open("ab") as f:
            f.write(line(1) + b'{"n":2,"message":"cut short"}')
        log.rename(tmp_path / "app.log.1")
        log.write_bytes(line(3))
        await wait_until(lambda: len(collector.events) == 3)
    assert sorted(collector.numbers()) == [1, 2, 3]


async def test_rotated_name_matching_the_glob_is_not_read_twice(
    tmp_path: Path, collector: Any, wait_until: Any
) -> None:
    log = tmp_path / "app.log"
    log.write_bytes(line(0))
    source = tail([str(tmp_path / "*.log")], rotate_grace=0.05)
    async with running(source, collector):
        await wait_until(lambda: source.files == [str(log)])
        with log.open("ab") as f:
            f.write(line(1))
        log.rename(tmp_path / "app-2026-11-25.log")  # still matches *.log
        log.write_bytes(line(2))
        await wait_until(lambda: len(collector.events) == 2)
        await wait_until(lambda: len(source.files) == 2)
        await asyncio.sleep(0.1)  # a re-read of the renamed file would show up now
    assert sorted(collector.numbers()) == [1, 2]


async def test_a_quiet_file_is_polled_less_often_and_a_line_is_still_read_soon(
    tmp_path: Path, collector: Any, wait_until: Any, monkeypatch: Any
) -> None:
    # 20 polls a second on a quiet file were most of an idle agent's wake-ups (issue 11).
    polls: list[float] = []
    check_paths = FileTailSource._check_paths

    def counted(self: FileTailSource, *, initial: bool) -> None:
        polls.append(asyncio.get_running_loop().time())
        check_paths(self, initial=initial)

    monkeypatch.setattr(FileTailSource, "_check_paths", counted)
    log = tmp_path / "app.log"
    log.touch()
    source = tail([str(log)], poll_interval=0.01, idle_poll_interval=0.08, rescan_interval=10,
                  wake_on_change=False)  # the polling inotify falls back to
    async with running(source, collector):
        await asyncio.sleep(0.5)
        quiet = [b - a for a, b in zip(polls, polls[1:])]
        assert max(quiet) >= 0.07, "a quiet file's polls spread out"
        assert len(polls) <= 0.5 / 0.08 + 6, "not one every 10 ms"
        with log.open("ab") as f:
            f.write(line(1))
        written = asyncio.get_running_loop().time()
        await wait_until(lambda: len(collector.events) == 1)
        assert asyncio.get_running_loop().time() - written < 0.08 + 0.5, "at most one idle wait"


async def test_a_file_renamed_onto_a_name_looked_at_first_is_not_read_twice(
    tmp_path: Path, collector: Any, wait_until: Any
) -> None:
    # The new name is bound before the old one is found changed: that must not mark the file
    # rotated away (it was closed after the grace, then read again from 0 under its new name).
    log, rotated = tmp_path / "app.log", tmp_path / "app.log.old"
    log.write_bytes(line(0))
    source = tail([str(rotated), str(log)], rotate_grace=0.05)
    async with running(source, collector):
        await wait_until(lambda: source.files == [str(log)])
        with log.open("ab") as f:
            f.write(line(1))
        log.rename(rotated)
        log.write_bytes(line(2))
        await wait_until(lambda: len(source.files) == 2 and len(collector.events) >= 2)
        await asyncio.sleep(0.3)  # past the grace: a re-read of the renamed file shows up now
    assert sorted(collector.numbers()) == [1, 2]
