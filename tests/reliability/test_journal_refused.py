"""A journal the agent cannot trust is refused with a clear error and left as it was.

Through the real ``obsview-agent`` process: a file that is not SQLite, another program's
database, and an obsview journal with damaged pages all stop the agent at start with one line
naming the file (no traceback), and the file's bytes are unchanged. A block whose bytes were
damaged inside a sound file is found when a query reads it: the console is told why, it is
not left waiting."""

from __future__ import annotations

import asyncio
import sqlite3
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from proof_kit import agent_config, running_agent, seed_line, wait_until
from websockets.asyncio.client import connect

from obsview.backend.agent import JOURNAL_FILE
from obsview.common.protocol import Query, QueryPage, decode, encode


async def real_journal(tmp_path: Path) -> Path:
    """A journal written by a real agent tailing a real file (a few blocks)."""
    log_file = tmp_path / "app.log"
    log_file.write_bytes(b"".join(seed_line(n, message=f"line {n} " + "x" * 400) for n in range(8_000)))
    config = agent_config(tmp_path, tail=[str(log_file)], from_start=True, metrics_interval_s=0.1)
    async with running_agent(config) as agent:
        await wait_until(lambda: agent.counters()["journal_written"] == 8_000, timeout=20,
                         what="every line journaled")
    return tmp_path / "state" / JOURNAL_FILE


def not_sqlite(path: Path) -> None:
    path.write_bytes(b"my notes, not a journal\n" * 100)


def another_programs(path: Path) -> None:
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE contacts(name TEXT)")
        db.execute("INSERT INTO contacts VALUES ('alice')")
    sqlite3.connect(path).close()


def damage_pages(path: Path) -> None:
    """Three pages in the middle overwritten (a disk error, a copy cut short)."""
    size = path.stat().st_size
    with open(path, "r+b") as file:
        file.seek(size // 2 // 4096 * 4096)
        file.write(bytes(range(256)) * 48)


async def start_agent(tmp_path: Path) -> tuple[int, str]:
    config = tmp_path / "agent.toml"
    config.write_text(f'listen = "127.0.0.1:0"\nstate_dir = "{tmp_path / "state"}"\n', encoding="utf-8")
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "obsview.backend.cli", "--config", str(config),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    try:
        _out, err = await asyncio.wait_for(process.communicate(), 20)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    return process.returncode or 0, err.decode()


@pytest.mark.timeout(60)
@pytest.mark.parametrize(("make", "why"), [
    (not_sqlite, "it is not an obsview journal (not a SQLite file)"),
    (another_programs, "it is a SQLite database of another program"),
    (damage_pages, "it is damaged ("),
])
async def test_the_agent_refuses_a_journal_it_cannot_trust_and_leaves_it_alone(
    tmp_path: Path, make: Callable[[Path], None], why: str
) -> None:
    path = tmp_path / "state" / JOURNAL_FILE
    if make is damage_pages:
        await real_journal(tmp_path)
    else:
        path.parent.mkdir(parents=True)
    make(path)
    before = path.read_bytes()
    status, stderr = await start_agent(tmp_path)
    assert status != 0, "the agent does not run on it"
    assert f"cannot use the history journal {path}: {why}" in stderr
    assert "move it away (or set history = false)" in stderr and "Traceback" not in stderr
    assert path.read_bytes() == before, "never deleted, never rewritten"


@pytest.mark.timeout(60)
async def test_a_damaged_block_found_by_a_query_is_told_to_the_console(tmp_path: Path) -> None:
    path = await real_journal(tmp_path)
    with sqlite3.connect(path) as db:  # the file stays sound; one block's bytes do not
        db.execute("UPDATE blocks SET data = x'00112233' WHERE first_seq = (SELECT min(first_seq) FROM blocks)")
    async with running_agent(agent_config(tmp_path)) as agent, connect(agent.url) as ws:
        await ws.send(encode(Query(1, "line", limit=10_000, history=True)))
        pages: list[QueryPage] = []
        while not pages or not pages[-1].done:
            message = decode(await asyncio.wait_for(ws.recv(), 10))
            if isinstance(message, QueryPage):
                pages.append(message)
    assert pages[-1].error.startswith(f"the query failed: cannot use the history journal {path}:")
    assert "a journal block does not decompress" in pages[-1].error
    assert sum(len(page.events) for page in pages) > 0, "the blocks after it were read"
    assert max(page.scanned for page in pages) <= pages[0].to_scan == 8_000, "no block counted twice"
