"""Log rotation while the service keeps writing: every line reaches a console exactly once.

End to end through the agent (file tail → normalizer → store → websocket), checked by the
sequence number each line carries. The writer appends continuously; rotation happens in the
middle of the stream, the way logrotate does it.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections import Counter
from pathlib import Path
from typing import BinaryIO

import pytest
from proof_kit import agent_config, console, running_agent, seed_line, wait_until

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
