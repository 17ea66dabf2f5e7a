"""File tail offsets checkpointed across restarts, on real files: a restart resumes exactly,
rotations and copytruncates that happened while the agent was down lose nothing, and a bad
or stale checkpoint never does worse than no checkpoint. Lines are numbered so loss and
repeats are visible."""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path
from typing import Any

import orjson
import pytest
from tail_files import append, entries, line, lines, run_until, tail

from obsview.backend.ingest.normalize import Normalizer
from obsview.backend.ingest.sources.lines import LineSplitter
from obsview.common.protocol import LogEvent


async def test_restart_resumes_exactly_where_it_stopped(
    tmp_path: Path, collector: Any, wait_until: Any
) -> None:
    log, checkpoint = tmp_path / "app.log", tmp_path / "state" / "tail-offsets.json"
    log.write_bytes(lines(range(0, 10)))  # before the first start: skipped (starts at the end)
    first = tail(log, checkpoint)
    task = asyncio.create_task(first.run(collector))
    try:
        await wait_until(lambda: first.files == [str(log)])
        append(log, lines(range(10, 60)))
        await wait_until(lambda: len(collector.events) == 50)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert collector.numbers() == list(range(10, 60))
    append(log, lines(range(60, 100)))  # written while the agent is down

    collector.events.clear()
    second = tail(log, checkpoint)
    task = asyncio.create_task(second.run(collector))
    try:
        await wait_until(lambda: len(collector.events) == 40)
        append(log, lines(range(100, 110)))
        await wait_until(lambda: len(collector.events) == 50)
        await asyncio.sleep(0.05)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert collector.numbers() == list(range(60, 110))
    (entry,) = entries(checkpoint)
    stat = log.stat()
    assert (entry["path"], entry["dev"], entry["ino"], entry["offset"]) == (
        str(log), stat.st_dev, stat.st_ino, stat.st_size)


async def test_checkpoint_wins_over_from_start(
    tmp_path: Path, collector: Any, wait_until: Any
) -> None:
    log, checkpoint = tmp_path / "app.log", tmp_path / "offsets.json"
    log.write_bytes(lines(range(0, 20)))
    await run_until(tail(log, checkpoint, from_start=True), collector, wait_until, 20)
    append(log, lines(range(20, 30)))
    collector.events.clear()
    await run_until(tail(log, checkpoint, from_start=True), collector, wait_until, 10)
    assert collector.numbers() == list(range(20, 30))  # history already read is not repeated


async def test_rename_rotation_while_down_reads_the_old_rest_then_the_new_file(
    tmp_path: Path, collector: Any, wait_until: Any
) -> None:
    log, checkpoint = tmp_path / "app.log", tmp_path / "offsets.json"
    log.write_bytes(lines(range(0, 50)))
    await run_until(tail(log, checkpoint, from_start=True), collector, wait_until, 50)
    append(log, lines(range(50, 60)))
    log.rename(tmp_path / "app.log.1")
    log.write_bytes(lines(range(60, 70)))

    collector.events.clear()
    source = tail(log, checkpoint)
    await run_until(source, collector, wait_until, 20)
    assert collector.numbers() == list(range(50, 70))  # the old file's rest first, in order
    assert {event.source for event in collector.events} == {str(log)}


def rotate(log: Path, keep: int) -> None:
    """What logrotate does: app.log.N-1 -> app.log.N ... app.log -> app.log.1."""
    for number in range(keep - 1, 0, -1):
        older = log.with_name(f"{log.name}.{number}")
        if older.exists():
            older.rename(log.with_name(f"{log.name}.{number + 1}"))
    log.rename(log.with_name(f"{log.name}.1"))


@pytest.mark.parametrize("watch", ["app.log", "app.log*"])
async def test_two_rotations_while_down_read_the_middle_file_too(
    tmp_path: Path, collector: Any, wait_until: Any, watch: str
) -> None:
    log, checkpoint = tmp_path / "app.log", tmp_path / "state" / "offsets.json"
    old = tmp_path / "app.log.9"
    old.write_bytes(lines(range(900, 910)))  # rotated long before: already read, or never
    os.utime(old, (1_000_000, 1_000_000))
    log.write_bytes(lines(range(0, 50)))
    first = 60 if "*" in watch else 50  # a glob reads the old file too
    await run_until(tail(tmp_path / watch, checkpoint, from_start=True), collector, wait_until,
                    first)
    append(log, lines(range(50, 60)))
    rotate(log, keep=3)
    log.write_bytes(lines(range(60, 70)))
    rotate(log, keep=3)  # app.log.2: the checkpointed file; app.log.1: never seen
    log.write_bytes(lines(range(70, 80)))
    (tmp_path / "app.log.1.gz").write_bytes(b"\x1f\x8b compressed, never read")

    collector.events.clear()
    await run_until(tail(tmp_path / watch, checkpoint), collector, wait_until, 30)
    assert collector.numbers() == list(range(50, 80))  # nothing lost, nothing repeated


async def test_rotation_while_down_onto_a_name_the_glob_also_matches(
    tmp_path: Path, collector: Any, wait_until: Any
) -> None:
    log, checkpoint = tmp_path / "app.log", tmp_path / "offsets.json"
    watched = tmp_path / "app.log*"
    log.write_bytes(lines(range(0, 50)))
    await run_until(tail(watched, checkpoint, from_start=True), collector, wait_until, 50)
    append(log, lines(range(50, 60)))
    log.rename(tmp_path / "app.log.1")
    log.write_bytes(lines(range(60, 70)))

    collector.events.clear()
    await run_until(tail(watched, checkpoint), collector, wait_until, 20)
    assert collector.numbers() == list(range(50, 70))  # resumed by inode, not read again
    assert [e.source for e in collector.events] == [str(log) + ".1"] * 10 + [str(log)] * 10


async def test_rename_rotation_while_down_without_the_old_file_reads_the_new_one(
    tmp_path: Path, collector: Any, wait_until: Any
) -> None:
    log, checkpoint = tmp_path / "app.log", tmp_path / "offsets.json"
    log.write_bytes(lines(range(0, 50)))
    await run_until(tail(log, checkpoint, from_start=True), collector, wait_until, 50)
    log.rename(tmp_path / "compressed-away")
    log.write_bytes(lines(range(60, 70)))
    collector.events.clear()
    await run_until(tail(log, checkpoint), collector, wait_until, 10)
    assert collector.numbers() == list(range(60, 70))  # new since the checkpoint: from its start


@pytest.mark.parametrize("refill", [5, 200], ids=["shorter", "refilled-past-offset"])
async def test_copytruncate_while_down_reads_the_copy_rest_then_the_live_file(
    tmp_path: Path, collector: Any, wait_until: Any, refill: int
) -> None:
    log, checkpoint = tmp_path / "app.log", tmp_path / "offsets.json"
    log.write_bytes(lines(range(0, 50)))
    await run_until(tail(log, checkpoint, from_start=True), collector, wait_until, 50)
    inode = log.stat().st_ino
    append(log, lines(range(50, 60)))
    shutil.copyfile(log, tmp_path / "app.log.1")
    os.truncate(log, 0)
    append(log, lines(range(60, 60 + refill)))
    assert log.stat().st_ino == inode

    collector.events.clear()
    source = tail(log, checkpoint)
    await run_until(source, collector, wait_until, 10 + refill)
    assert collector.numbers() == list(range(50, 60 + refill))


async def test_copytruncate_while_down_without_a_copy_starts_at_zero(
    tmp_path: Path, collector: Any, wait_until: Any
) -> None:
    log, checkpoint = tmp_path / "app.log", tmp_path / "offsets.json"
    log.write_bytes(lines(range(0, 50)))
    await run_until(tail(log, checkpoint, from_start=True), collector, wait_until, 50)
    os.truncate(log, 0)
    append(log, lines(range(60, 65)))
    collector.events.clear()
    await run_until(tail(log, checkpoint), collector, wait_until, 5)
    assert collector.numbers() == list(range(60, 65))


async def test_a_reused_inode_is_not_mistaken_for_the_old_file(
    tmp_path: Path, collector: Any, wait_until: Any
) -> None:
    log, checkpoint = tmp_path / "app.log", tmp_path / "offsets.json"
    log.write_bytes(lines(range(0, 20)))
    await run_until(tail(log, checkpoint, from_start=True), collector, wait_until, 20)
    log.unlink()
    log.write_bytes(lines(range(100, 200)))  # longer than the old offset
    # Whether or not the filesystem reused the inode, make the checkpoint say it did.
    saved = orjson.loads(checkpoint.read_bytes())
    stat = log.stat()
    saved["files"][0].update(dev=stat.st_dev, ino=stat.st_ino)
    checkpoint.write_bytes(orjson.dumps(saved))

    collector.events.clear()
    await run_until(tail(log, checkpoint), collector, wait_until, 100)
    assert collector.numbers() == list(range(100, 200))


@pytest.mark.parametrize("content", [
    b"{not json", b"", b'{"version": 99, "files": []}', b'{"version": 1, "files": {"a": 1}}',
    b'{"version": 1, "files": [{"path": "x", "dev": 1, "ino": 2, "offset": "9", '
    b'"head": [0, ""], "tail": [0, ""]}]}',
    b'{"version": 1, "files": [{"path": "x", "dev": 1, "ino": 2, "offset": 3, '
    b'"head": [300, ""], "tail": [0, ""]}]}',
    b"[1, 2]",
])
async def test_a_corrupt_checkpoint_warns_and_tails_as_without_one(
    tmp_path: Path, collector: Any, wait_until: Any, caplog: pytest.LogCaptureFixture,
    content: bytes,
) -> None:
    log, checkpoint = tmp_path / "app.log", tmp_path / "offsets.json"
    log.write_bytes(lines(range(0, 10)))
    checkpoint.write_bytes(content)
    source = tail(log, checkpoint)
    task = asyncio.create_task(source.run(collector))
    try:
        await wait_until(lambda: source.files == [str(log)])
        append(log, line(10))
        await wait_until(lambda: len(collector.events) == 1)
        await wait_until(lambda: checkpoint.read_bytes() != content)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert collector.numbers() == [10]  # started at the end, as without a checkpoint
    assert entries(checkpoint)[0]["offset"] == log.stat().st_size  # replaced by a good one
    assert "file tail offsets" in caplog.text


async def test_a_held_partial_line_is_not_checkpointed(
    tmp_path: Path, collector: Any, wait_until: Any
) -> None:
    log, checkpoint = tmp_path / "app.log", tmp_path / "offsets.json"
    log.write_bytes(lines(range(0, 5)) + b'{"n":5,"message":"hal')
    complete = len(lines(range(0, 5)))
    await run_until(tail(log, checkpoint, from_start=True), collector, wait_until, 5)
    assert entries(checkpoint)[0]["offset"] == complete
    append(log, b'f"}\n')  # the line is finished while the agent is down
    collector.events.clear()
    await run_until(tail(log, checkpoint), collector, wait_until, 1)
    assert collector.numbers() == [5] and collector.events[0].message == "half"


async def test_the_final_checkpoint_is_written_on_cancel(
    tmp_path: Path, collector: Any, wait_until: Any
) -> None:
    log, checkpoint = tmp_path / "app.log", tmp_path / "offsets.json"
    log.write_bytes(lines(range(0, 30)))
    first_read = log.stat().st_size
    source = tail(log, checkpoint, from_start=True, checkpoint_interval=3600.0)
    task = asyncio.create_task(source.run(collector))
    try:
        await wait_until(lambda: len(collector.events) == 30)
        append(log, lines(range(30, 40)))
        await wait_until(lambda: len(collector.events) == 40)
        # Written at once for the first lines, then not again before the interval.
        assert entries(checkpoint)[0]["offset"] == first_read
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert entries(checkpoint)[0]["offset"] == log.stat().st_size
    assert sorted(p.name for p in tmp_path.iterdir()) == ["app.log", "offsets.json"]  # no temp


async def test_sparse_lines_are_on_disk_before_another_task_sees_them(
    tmp_path: Path, wait_until: Any
) -> None:
    """What a SIGKILL right after a console saw a line needs: like the agent's broadcast,
    ``emit`` only wakes a sender task, and by the time it runs the offset is saved."""
    log, checkpoint = tmp_path / "app.log", tmp_path / "offsets.json"
    log.write_bytes(b"")
    size_when_sent: list[int] = []
    source = tail(log, checkpoint)

    async def emit(events: list[LogEvent]) -> None:
        asyncio.get_running_loop().call_soon(
            lambda: size_when_sent.append(entries(checkpoint)[0]["offset"]))

    task = asyncio.create_task(source.run(emit))
    try:
        await wait_until(lambda: source.files == [str(log)])
        append(log, lines(range(0, 3)))
        await wait_until(lambda: bool(size_when_sent))
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert size_when_sent == [log.stat().st_size]


async def test_offsets_are_saved_while_running(
    tmp_path: Path, collector: Any, wait_until: Any
) -> None:
    log, checkpoint = tmp_path / "app.log", tmp_path / "offsets.json"
    log.write_bytes(lines(range(0, 30)))
    source = tail(log, checkpoint, from_start=True)
    task = asyncio.create_task(source.run(collector))
    try:
        size = log.stat().st_size
        await wait_until(lambda: checkpoint.exists() and entries(checkpoint)[0]["offset"] == size)
        append(log, lines(range(30, 40)))
        size = log.stat().st_size
        await wait_until(lambda: entries(checkpoint)[0]["offset"] == size)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_only_awaited_batches_are_checkpointed_even_after_a_cut_line(
    tmp_path: Path, wait_until: Any
) -> None:
    """Cancelled while the agent holds a batch: the offset covers the batches it took, counted
    exactly even though the chunk began with an over-long line cut short."""
    log, checkpoint = tmp_path / "app.log", tmp_path / "offsets.json"
    huge = b"[WARN] " + b"x" * 5000 + b"\n"
    log.write_bytes(huge + lines(range(1, 41)))
    batches: list[list[LogEvent]] = []
    blocked = asyncio.Event()

    async def emit(events: list[LogEvent]) -> None:
        batches.append(events)
        if len(batches) == 2:
            blocked.set()
            await asyncio.Event().wait()  # the agent never takes the second batch

    source = tail(log, checkpoint, from_start=True, batch_lines=10, chunk_bytes=4096,
                  checkpoint_interval=3600.0, normalizer=Normalizer(max_line_bytes=1000))
    task = asyncio.create_task(source.run(emit))
    try:
        await asyncio.wait_for(blocked.wait(), 10)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert batches[0][0].truncated
    assert entries(checkpoint)[0]["offset"] == len(huge) + len(lines(range(1, 10)))


async def test_entries_of_files_gone_are_dropped_after_the_grace(
    tmp_path: Path, collector: Any, wait_until: Any
) -> None:
    log, checkpoint = tmp_path / "app.log", tmp_path / "offsets.json"
    gone = tmp_path / "gone.log"
    gone.write_bytes(lines(range(0, 5)))
    await run_until(tail(gone, checkpoint), collector, wait_until, 0)
    log.write_bytes(b"")  # before the unlink: it must not get gone.log's inode
    gone.unlink()

    def paths() -> list[str]:
        return sorted(entry["path"] for entry in entries(checkpoint))

    for grace, expected in ((3600.0, [str(log), str(gone)]), (0.1, [str(log)])):
        source = tail(log, checkpoint, checkpoint_grace=grace)
        task = asyncio.create_task(source.run(collector))
        try:
            await wait_until(lambda: paths() == expected)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        assert paths() == expected


def test_line_splitter_counts_held_bytes_including_skipped_ones() -> None:
    splitter = LineSplitter(4)
    assert splitter.feed(b"ab\ncdefgh") == [b"ab"]
    assert splitter.held_bytes == 6  # 5 kept + 1 skipped
    assert splitter.feed(b"ijk") == [] and splitter.held_bytes == 9
    assert splitter.feed(b"l\nmn") == [b"cdefg"] and splitter.held_bytes == 2
    assert splitter.flush() == [b"mn"] and splitter.held_bytes == 0


async def test_an_unusable_checkpoint_path_never_stops_the_tail(
    tmp_path: Path, collector: Any, wait_until: Any, caplog: pytest.LogCaptureFixture
) -> None:
    log, checkpoint = tmp_path / "app.log", tmp_path / "offsets.json"
    checkpoint.mkdir()  # neither readable nor replaceable as a file
    log.write_bytes(b"")
    source = tail(log, checkpoint)
    task = asyncio.create_task(source.run(collector))
    try:
        await wait_until(lambda: source.files == [str(log)])
        append(log, line(1))
        await wait_until(lambda: len(collector.events) == 1)
        append(log, line(2))
        await wait_until(lambda: len(collector.events) == 2)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert task.cancelled()
    assert "unreadable" in caplog.text
    assert caplog.text.count("cannot save file tail offsets") == 1  # warned once, not per second
