"""The file tail woken by inotify, on real files: a line after a quiet spell is read at once
(no poll would have come for a minute), one watch per directory, nothing left open after a
stop, and the polling it falls back to."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from obsview.backend.ingest.normalize import Normalizer
from obsview.backend.ingest.sources.file_tail import FileTailSource
from obsview.backend.ingest.sources.inotify import filesystem_of

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="inotify is Linux's")
SLOW = 60.0
"""Every poll interval in the tests that must be woken: a poll would come after the test's
own deadline (10 s), so only a wake-up can read the line in time."""


def line(n: int) -> bytes:
    return b'{"n":%d,"level":"INFO","message":"line %d"}\n' % (n, n)


def append(path: Path, data: bytes) -> None:
    with path.open("ab") as file:
        file.write(data)


@asynccontextmanager
async def running(source: FileTailSource, collector: Any) -> AsyncIterator[None]:
    task = asyncio.create_task(source.run(collector))
    try:
        await source.ready.wait()
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def inotify_fds() -> dict[int, int]:
    """This process's inotify fds, each with its number of watches (/proc/self/fdinfo)."""
    found = {}
    for name in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{name}") != "anon_inode:inotify":
                continue
            info = Path(f"/proc/self/fdinfo/{name}").read_text()
        except OSError:
            continue  # the listing's own fd, closed since
        found[int(name)] = info.count("inotify wd:")
    return found


def counting_looks(monkeypatch: Any) -> list[float]:
    """Each time the tail looks at its paths (once per wake of its loop)."""
    looks: list[float] = []
    check_paths = FileTailSource._check_paths

    def counted(self: FileTailSource, *, initial: bool) -> None:
        looks.append(asyncio.get_running_loop().time())
        check_paths(self, initial=initial)

    monkeypatch.setattr(FileTailSource, "_check_paths", counted)
    return looks


@linux_only
async def test_a_line_after_a_quiet_spell_is_read_without_waiting_for_a_poll(
    tmp_path: Path, collector: Any, wait_until: Any, monkeypatch: Any
) -> None:
    looks = counting_looks(monkeypatch)
    log = tmp_path / "app.log"
    log.touch()
    source = FileTailSource([str(log)], Normalizer(), poll_interval=SLOW, idle_poll_interval=SLOW,
                            safety_poll_interval=SLOW, rescan_interval=SLOW)
    async with running(source, collector):
        assert source.wake == "inotify"
        await asyncio.sleep(0.5)  # quiet: longer than the default idle poll interval (0.25 s)
        quiet = len(looks)
        append(log, line(1))
        await wait_until(lambda: len(collector.events) == 1, timeout=10, what="line 1")
        # A write to the file once rotated away wakes it too: the watch is the inode's.
        log.rename(tmp_path / "app.log.1")
        append(tmp_path / "app.log.1", line(2))
        await wait_until(lambda: len(collector.events) == 2, timeout=10, what="line 2")
    assert collector.numbers() == [1, 2]
    assert quiet <= 3, f"the quiet file woke the tail {quiet} times in 0.5 s"


@linux_only
async def test_rotation_and_a_new_file_wake_the_tail(
    tmp_path: Path, collector: Any, wait_until: Any
) -> None:
    log = tmp_path / "app.log"
    log.write_bytes(line(0))
    source = FileTailSource([str(log), str(tmp_path / "*.json")], Normalizer(), rotate_grace=SLOW,
                            poll_interval=SLOW, idle_poll_interval=SLOW,
                            safety_poll_interval=SLOW, rescan_interval=SLOW)
    async with running(source, collector):
        append(log, line(1))
        log.rename(tmp_path / "app.log.1")
        log.write_bytes(line(2))  # rename rotation: read from its start
        await wait_until(lambda: len(collector.events) == 2, timeout=10, what="the new file")
        log.write_bytes(line(30))  # truncated and refilled (copytruncate), a little longer
        await wait_until(lambda: len(collector.events) == 3, timeout=10, what="after truncation")
        (tmp_path / "later.json").write_bytes(line(4))  # a glob's new file
        await wait_until(lambda: len(collector.events) == 4, timeout=10, what="the glob's file")
    assert collector.numbers() == [1, 2, 30, 4]
    assert source.rotations == 1 and source.truncations == 1


@linux_only
async def test_one_watch_per_directory_and_nothing_left_open_after_a_stop(
    tmp_path: Path, collector: Any, wait_until: Any
) -> None:
    other = tmp_path / "other"
    other.mkdir()
    logs = [tmp_path / "a.log", tmp_path / "b.log", other / "c.log"]
    for log in logs:
        log.touch()
    fds_before = sorted(os.listdir("/proc/self/fd"))
    before = inotify_fds()
    source = FileTailSource([str(log) for log in logs], Normalizer(), poll_interval=0.01,
                            rotate_grace=0.05, rescan_interval=0.02)
    async with running(source, collector):
        mine = {fd: watches for fd, watches in inotify_fds().items() if fd not in before}
        assert list(mine.values()) == [2 + 3], "2 directories, 3 files"
        logs[0].rename(tmp_path / "a.log.1")
        logs[0].write_bytes(line(1))
        await wait_until(lambda: len(collector.events) == 1)
        # The rotated file is closed after its grace, and its watch removed with it.
        await wait_until(lambda: len(source._followed) == 3, what="the rotated file closed")
        assert {fd: inotify_fds().get(fd) for fd in mine} == {fd: 5 for fd in mine}
    assert inotify_fds() == before
    assert sorted(os.listdir("/proc/self/fd")) == fds_before


async def test_polling_when_the_environment_turns_inotify_off(
    tmp_path: Path, collector: Any, wait_until: Any, monkeypatch: Any
) -> None:
    monkeypatch.setenv("OBSVIEW_TAIL_POLL", "1")
    looks = counting_looks(monkeypatch)
    log = tmp_path / "app.log"
    log.touch()
    before = inotify_fds() if sys.platform.startswith("linux") else {}
    source = FileTailSource([str(log)], Normalizer(), poll_interval=0.01, idle_poll_interval=0.05,
                            rescan_interval=0.02, rotate_grace=0.05)
    async with running(source, collector):
        assert source.wake == "polling: inotify turned off (OBSVIEW_TAIL_POLL=1)"
        if sys.platform.startswith("linux"):
            assert inotify_fds() == before
        await asyncio.sleep(0.3)
        assert len(looks) >= 4, "a poller looks while the file is quiet"
        append(log, line(1))
        log.rename(tmp_path / "app.log.1")
        log.write_bytes(line(2))
        await wait_until(lambda: len(collector.events) == 2)
    assert collector.numbers() == [1, 2] and source.rotations == 1


def test_the_filesystem_of_a_folder_is_its_innermost_mount() -> None:
    mountinfo = "\n".join([
        "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw",
        "40 22 0:40 / /mnt/logs rw shared:2 - nfs4 server:/logs rw,vers=4.2",
        r"41 22 0:41 / /mnt/my\040share rw shared:3 - cifs //host/share rw",
        "42 40 0:42 / /mnt/logs/local rw shared:4 - tmpfs tmpfs rw",
    ])
    assert filesystem_of("/var/log", mountinfo) == "ext4"
    assert filesystem_of("/mnt/logs/app", mountinfo) == "nfs4"
    assert filesystem_of("/mnt/logsx", mountinfo) == "ext4"
    assert filesystem_of("/mnt/my share", mountinfo) == "cifs"
    assert filesystem_of("/mnt/logs/local", mountinfo) == "tmpfs"
    assert filesystem_of("relative", "") is None
