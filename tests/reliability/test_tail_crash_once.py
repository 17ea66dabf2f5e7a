"""Tailed files read at catch-up speed, the agent killed with SIGKILL mid-load and started
again: the journal holds every line once. Before, the file offsets were saved once a second
apart from the journal, so a restart read again up to a second of lines (~46k at catch-up
speed) that the journal already held, or skipped lines it did not hold."""

from __future__ import annotations

import signal
import sqlite3
from collections import Counter
from pathlib import Path

import orjson
import pytest
from loopback import free_port
from proof_kit import agent_process, seed_line, wait_until

from obsview.backend.agent import JOURNAL_FILE, TAIL_OFFSETS
from obsview.backend.store import journal_query
from obsview.backend.store.journal import Journal

LINES = 60_000
"""Per file: ~20 MB, a few seconds of reading on a loaded machine."""
KILL_AFTER = 20_000
"""Events committed to the journal when the agent is killed: mid-way through the first file."""


def journaled(path: Path) -> int:
    """Events committed so far, read as another process would (WAL: never in the way)."""
    if not path.exists():
        return 0
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1.0) as db:
        try:
            row = db.execute("SELECT coalesce(sum(count), 0) FROM blocks").fetchone()
        except sqlite3.OperationalError:  # the schema is not there yet
            return 0
    return int(row[0])


def read_to_end(offsets: Path, files: list[Path]) -> bool:
    """True once the saved offsets (written a second apart at most) reach every file's end."""
    try:
        saved = {entry["path"]: entry["offset"] for entry in orjson.loads(offsets.read_bytes())["files"]}
    except (OSError, orjson.JSONDecodeError):
        return False
    return all(saved.get(str(file)) == file.stat().st_size for file in files)


def stored_numbers(path: Path) -> Counter[int]:
    """How many times each line number is in the journal (read past the crash's hole)."""
    journal = Journal(path)
    counts: Counter[int] = Counter()
    seq = 0
    try:
        while True:
            events, _missed = journal_query.since(journal, seq, 100_000)
            if not events:
                return counts
            counts.update(int(event.extra["n"]) for event in events)
            seq = events[-1].seq
    finally:
        journal.close()


@pytest.mark.timeout(120)
async def test_sigkill_during_a_catch_up_stores_every_line_exactly_once(tmp_path: Path) -> None:
    first, second = tmp_path / "a.log", tmp_path / "b.log"
    first.write_bytes(b"".join(seed_line(n) for n in range(LINES)))
    second.write_bytes(b"".join(seed_line(n) for n in range(LINES, 2 * LINES)))
    state = tmp_path / "state"
    config = tmp_path / "agent.toml"
    config.write_text(
        f'listen = "127.0.0.1:{free_port()}"\ntail = ["{first}", "{second}"]\n'
        f'state_dir = "{state}"\nfrom_start = true\n',
        encoding="utf-8",
    )
    journal_file = state / JOURNAL_FILE
    async with agent_process(config) as agent:
        await wait_until(lambda: journaled(journal_file) >= KILL_AFTER, timeout=60,
                         what=f"{KILL_AFTER} events journaled")
        agent.send_signal(signal.SIGKILL)
        await agent.wait()
    at_kill = journaled(journal_file)
    assert at_kill < 2 * LINES, "killed before the files were read"

    last = 2 * LINES
    with open(second, "ab") as file:  # written while the agent is down, read after
        file.write(seed_line(last))
    async with agent_process(config) as agent:
        await wait_until(lambda: read_to_end(state / TAIL_OFFSETS, [first, second]), timeout=60,
                         what="both files read to their end after the restart")
        agent.send_signal(signal.SIGTERM)  # a clean stop writes what is pending
        await agent.wait()
        assert agent.stderr is not None
        said = (await agent.stderr.read()).decode()
    assert "was not closed" in said and "none is lost, none stored twice" in said
    assert "were lost" not in said, "nothing came but from the tailed files"

    counts = stored_numbers(journal_file)
    missing = [n for n in range(last + 1) if n not in counts]
    twice = [n for n, count in counts.items() if count > 1]
    assert not missing, f"{len(missing)} lines lost, from {missing[:3]} (journaled at kill: {at_kill})"
    assert not twice, f"{len(twice)} lines stored twice, from {twice[:3]} (journaled at kill: {at_kill})"
    assert sum(counts.values()) == last + 1
