"""Log rotation while the service keeps writing: every line reaches a console exactly once.

End to end through the agent (file tail → normalizer → store → websocket), checked by the
sequence number each line carries. The writer appends continuously; rotation happens in the
middle of the stream, the way logrotate does it.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import os
import shutil
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import BinaryIO

import pytest
from proof_kit import Recorded, agent_config, console, running_agent, seed_line, wait_until

from obsview.backend.agent import Agent

LINES = 1500
BURST = 25
ROTATE_AT = (500, 1000)


class Writer:
    """The service: appends numbered lines; ``reopen`` is its reaction to a rotation signal."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.file: BinaryIO = open(path, "ab", buffering=0)  # reopened on rotation, closed by close()  # reopened on rotation
        self.written = 0

    def write(self, count: int) -> None:
        for _ in range(count):
            self.file.write(seed_line(self.written))
            self.written += 1

    def reopen(self) -> None:
        self.file.close()
        self.file = open(self.path, "ab", buffering=0)

    def close(self) -> None:
        self.file.close()


def rotate(mode: str, writer: Writer, generation: int) -> None:
    path = writer.path
    rotated = path.with_name(f"{path.name}.{generation}")
    if mode == "rename":
        os.rename(path, rotated)
        writer.write(BURST)  # lines the service writes to the old file before it reopens
        writer.reopen()
    elif mode == "copytruncate":
        # No await between copy and truncate: logrotate's own window is not what we test.
        shutil.copyfile(path, rotated)
        os.truncate(path, 0)  # the writer keeps its O_APPEND handle and writes at 0
    elif mode == "delete":
        writer.write(BURST)
        os.unlink(path)
        writer.write(BURST)  # still written into the deleted file, which the agent holds open
        writer.reopen()
    else:
        raise AssertionError(mode)


@pytest.mark.parametrize("mode", ["rename", "copytruncate", "delete"])
async def test_no_line_lost_or_repeated_across_rotation(tmp_path: Path, mode: str) -> None:
    log_file = tmp_path / "app.log"
    log_file.touch()
    config = agent_config(tmp_path, tail=[str(log_file)])
    async with running_agent(config) as agent:
        writer = Writer(log_file)
        try:
            async with console(agent.url) as (_ws, recorded):
                generation = 0
                while writer.written < LINES:
                    writer.write(BURST)
                    if writer.written in ROTATE_AT:
                        generation += 1
                        rotate(mode, writer, generation)
                    await asyncio.sleep(0.005)  # a steady ~5k lines/s, several polls per rotation
                total = writer.written
                await wait_until(lambda: len(recorded.numbers()) >= total, what=f"{total} lines")
                # A last line through the same path flushes out any late duplicate.
                writer.write(1)
                await wait_until(lambda: total in recorded.numbers(), what="the last line")
                numbers = recorded.numbers()
                repeated = sorted(n for n, c in Counter(numbers).items() if c > 1)
                missing = sorted(set(range(total + 1)) - set(numbers))
                assert not repeated, f"{len(repeated)} lines repeated, first {repeated[:5]}"
                assert not missing, f"{len(missing)} lines lost, first {missing[:5]}"
                assert len(numbers) == total + 1
        finally:
            writer.close()


def append(path: Path, numbers: range) -> None:
    with path.open("ab") as file:
        file.write(b"".join(seed_line(n) for n in numbers))


@contextlib.asynccontextmanager
async def tailing_ten_lines(tmp_path: Path) -> AsyncIterator[tuple[Agent, Path, Recorded]]:
    """An agent tailing app.log, a console, and lines 0-9 read: rotate from there."""
    log = tmp_path / "app.log"
    log.touch()
    async with running_agent(agent_config(tmp_path, tail=[str(log)])) as agent:
        async with console(agent.url) as (_ws, recorded):
            append(log, range(10))
            await wait_until(lambda: len(recorded.numbers()) == 10, what="the first lines")
            yield agent, log, recorded


async def one_more_line(log: Path, recorded: Recorded, expected: int) -> None:
    """Once ``expected`` lines arrived, one more: a late duplicate would come before it."""
    await wait_until(lambda: len(recorded.numbers()) >= expected, what=f"{expected} lines")
    append(log, range(30, 31))
    await wait_until(lambda: 30 in recorded.numbers(), what="the last line")


async def test_two_renames_between_two_polls_lose_nothing(tmp_path: Path) -> None:
    """Issue 12.2, failed on e629b84 (lines 10-19 lost, uncounted): the middle file of two
    renames between polls was never followed at run time."""
    async with tailing_ten_lines(tmp_path) as (agent, log, recorded):
        # No await from here to the end of the rotations: the tail cannot poll between.
        log.rename(tmp_path / "app.log.1")
        append(log, range(10, 20))
        (tmp_path / "app.log.1").rename(tmp_path / "app.log.2")
        log.rename(tmp_path / "app.log.1")
        append(log, range(20, 30))
        await one_more_line(log, recorded, 30)
        assert recorded.numbers() == list(range(31))
        assert agent.counters()["tail_rotations_lost"] == 0


async def test_a_middle_file_compressed_before_it_was_read_is_counted(tmp_path: Path) -> None:
    async with tailing_ten_lines(tmp_path) as (agent, log, recorded):
        # logrotate with compress (no delaycompress), twice between two polls: the first
        # file's compressed copy is recognised; the middle one's lines are lost, counted.
        for generation, lines in ((1, range(10, 20)), (2, range(20, 30))):
            rotated = tmp_path / f"app.log.{generation}.gz"
            if generation == 2:
                (tmp_path / "app.log.1.gz").rename(tmp_path / "app.log.2.gz")
                rotated = tmp_path / "app.log.1.gz"
            rotated.write_bytes(gzip.compress(log.read_bytes()))
            log.unlink()
            append(log, lines)
        await wait_until(lambda: agent.counters()["tail_rotations_lost"] == 1, what="the count")
        await one_more_line(log, recorded, 20)
        assert recorded.numbers() == [*range(10), *range(20, 31)]
        assert agent.counters()["tail_rotations_lost"] == 1


async def test_two_copytruncates_between_two_polls_lose_nothing(tmp_path: Path) -> None:
    async with tailing_ten_lines(tmp_path) as (_agent, log, recorded):
        append(log, range(10, 15))  # written, not yet read, when the copies are made
        shutil.copyfile(log, tmp_path / "app.log.1")
        os.truncate(log, 0)
        append(log, range(15, 20))
        (tmp_path / "app.log.1").rename(tmp_path / "app.log.2")
        shutil.copyfile(log, tmp_path / "app.log.1")
        os.truncate(log, 0)
        append(log, range(20, 30))
        await one_more_line(log, recorded, 30)
        assert recorded.numbers() == list(range(31))
