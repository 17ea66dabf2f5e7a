"""The journal on a real, small file system (a 64 MB tmpfs): it leaves the space it is told to
free by dropping its oldest events, so the newest history and the agent's own state files
(alert state, file offsets) go on being written. Waiting for "disk is full" instead lost
every new event and the state files with them (measured: a 3 MB disk full of journal, where
even the DELETE that would make room failed)."""

from __future__ import annotations

import os
import random
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from proof_kit import agent_config, running_agent, wait_until
from test_journal_retention import append, noise_line

DISK_MB = 64
KEEP_FREE_MB = 48
LINES = 40_000
"""~14 MB of raw lines, ~25 MB journaled (random words barely compress): over the 16 MB the
journal may take."""


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a 64 MB tmpfs needs root and mount(8); the journal's free-space"
                    " rule is also tested without one (tests/backend/store/test_journal.py)")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={DISK_MB}m", "tmpfs", str(mount_point)],
                             capture_output=True, text=True, check=False)
    if mounted.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "--lazy", str(mount_point)], check=False)


@pytest.mark.timeout(90)
async def test_a_small_disk_keeps_its_free_space_the_newest_history_and_the_agent_state(
        tmp_path: Path, small_disk: Path) -> None:
    log_file = tmp_path / "app.log"
    rng = random.Random(28)
    append(log_file, [noise_line(n, rng) for n in range(LINES)])
    config = agent_config(tmp_path, state_dir=small_disk, tail=[str(log_file)], from_start=True,
                          history_keep_free_mb=KEEP_FREE_MB, metrics_interval_s=0.1)
    async with running_agent(config) as agent:
        await wait_until(lambda: agent.counters()["journal_written"] == LINES, timeout=60,
                         what="every line journaled")
        counters = agent.counters()
        journal = agent.history.journal
        assert journal is not None
        assert counters["journal_dropped"] == 0, "no block failed for want of space"
        dropped = counters["journal_retention_dropped"]
        assert dropped > 0 and journal.first_seq == dropped + 1, "the oldest made room"
        assert journal.last_seq == LINES, "the newest are kept"
        for failures in ("tail_checkpoint_write_failures", "alert_state_write_failures",
                         "notify_state_write_failures"):
            assert counters[failures] == 0, failures
    # The last block is written before it is checked: the disk may be short of the rule by it.
    assert shutil.disk_usage(small_disk).free >= (KEEP_FREE_MB - 8) << 20
