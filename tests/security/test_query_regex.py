"""A console's query with a backtracking regex cannot freeze the agent.

Python's ``re`` has no time limit: ``/.*error.*timeout/`` (a query anyone might type) took
32 s on one 12 KB line, with the agent's event loop held the whole time: no console got a
frame, /api/health did not answer, no line was read and no alert was evaluated. A real
agent process here, so a frozen agent shows as a timeout in the test, not a hung test.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import orjson
from loopback import free_port
from proof_kit import agent_process
from websockets.asyncio.client import connect

from obsview.common.protocol import Query, QueryPage, decode, encode

LONG = orjson.dumps({"level": "error", "message": "error " * 20_000}) + b"\n"
SHORT = orjson.dumps({"level": "error", "message": "upstream timeout"}) + b"\n"


async def query_pages(url: str, query: Query) -> list[QueryPage]:
    pages: list[QueryPage] = []
    async with connect(url, max_size=None) as ws:
        await ws.send(encode(query))
        while not pages or not pages[-1].done:
            message = decode(await asyncio.wait_for(ws.recv(), 10))
            if isinstance(message, QueryPage):
                pages.append(message)
    return pages


async def test_a_backtracking_regex_query_is_stopped_and_the_agent_keeps_serving(tmp_path: Path) -> None:
    log_file = tmp_path / "app.log"
    log_file.write_bytes(SHORT + LONG)
    port = free_port()
    config = tmp_path / "agent.toml"
    config.write_text(f'listen = "127.0.0.1:{port}"\ntail = ["{log_file}"]\n'
                      f'state_dir = "{tmp_path / "state"}"\nfrom_start = true\n', encoding="utf-8")
    url, health = f"ws://127.0.0.1:{port}", f"http://127.0.0.1:{port}/api/health"
    async with agent_process(config), httpx.AsyncClient(timeout=10) as http:
        for _ in range(100):  # both lines read (bounded: 100 polls)
            if "obsview_agent_events_ingested_total 2.0" in (await http.get(f"http://127.0.0.1:{port}/metrics")).text:
                break
            await asyncio.sleep(0.1)
        stopped = await query_pages(url, Query(id=1, filter="/.*error.*timeout/"))
        assert (await http.get(health)).status_code == 200
        found = await query_pages(url, Query(id=2, filter="/up\\w+ time(out|d)/"))
    assert stopped[-1].done and "took over" in stopped[-1].error and "simplify it" in stopped[-1].error
    assert [e.message for page in found for e in page.events] == ["upstream timeout"]
