"""One hostile record never stops a source, a console or the agent (issue 12.1), and every
source says what it is doing (issue 13.16). Through the real agent: real files, a real TCP
sender, real websocket consoles, real HTTP."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import httpx
import pytest
from proof_kit import agent_config, console, running_agent, seed_line, wait_until

from obsview.backend.ingest.nesting import MAX_NESTING_DEPTH, TOO_DEEP
from obsview.backend.ingest.sources.file_tail import FileTailSource
from obsview.common.protocol import Health

DEEP_LINE = (b'{"level":"error","message":"deep","n":500,"v":' + b"[" * 1000 + b"1"
             + b"]" * 1000 + b"}\n")


def lines_around_a_deep_one(count: int) -> bytes:
    return b"".join(DEEP_LINE if n == 500 else seed_line(n) for n in range(count))


async def get_json(agent: Any, path: str) -> Any:
    async with httpx.AsyncClient(base_url=agent.url.replace("ws://", "http://"), timeout=5) as http:
        return (await http.get(path)).json()


def depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max(map(depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(depth, value), default=0)
    return 0


async def test_a_line_nested_1000_deep_stops_neither_the_tail_nor_a_replaying_console(
    tmp_path: Path,
) -> None:
    """Failed on e629b84: the encoder's RecursionError ended the file tail (1 of 1,001 lines)
    and every console replaying the stored event received nothing more."""
    log = tmp_path / "app.log"
    log.touch()
    async with running_agent(agent_config(tmp_path, tail=[str(log)])) as agent:
        async with console(agent.url) as (_ws, live):
            with log.open("ab") as file:
                file.write(lines_around_a_deep_one(1001))
            await wait_until(lambda: len(live.numbers()) == 1001, what="1001 lines live")
            with log.open("ab") as file:  # the tail goes on after it
                file.write(seed_line(1001))
            await wait_until(lambda: 1001 in live.numbers(), what="a line after")
        async with console(agent.url, since_seq=0) as (_ws, replayed):
            await wait_until(lambda: len(replayed.numbers()) == 1002, what="the replay")
        health = await get_json(agent, "/api/health")
        counters = agent.counters()
    assert live.numbers() == list(range(1002)) and replayed.numbers() == list(range(1002))
    (deep,) = [event for event in live.events if event.extra.get("n") == 500]
    assert deep.truncated and deep.level == "ERROR" and deep.message == "deep"
    assert depth(deep.extra) == MAX_NESTING_DEPTH  # extra stands for the record, level 1
    innermost = deep.extra["v"]
    while isinstance(innermost, list):
        innermost = innermost[0]
    assert innermost == TOO_DEEP and deep.raw == DEEP_LINE.decode().strip()
    assert counters["too_deep"] == 1 and counters["ingest_errors"] == 0
    assert health["status"] == "healthy"
    assert health["sources"][f"file:{log}"]["state"] == "reading"


async def test_a_tcp_sender_keeps_its_connection_after_a_deep_line(tmp_path: Path) -> None:
    """Failed on e629b84: the connection lost every line after the deep one."""
    config = agent_config(tmp_path, tcp=[("127.0.0.1", 0)])
    async with running_agent(config) as agent:
        (tcp,) = agent.sources
        async with console(agent.url) as (_ws, recorded):
            _reader, writer = await asyncio.open_connection("127.0.0.1", tcp.port)  # type: ignore[attr-defined]
            writer.write(lines_around_a_deep_one(1001))
            await writer.drain()
            await wait_until(lambda: len(recorded.numbers()) == 1001, what="every line")
            writer.close()
            await writer.wait_closed()
    assert recorded.numbers() == list(range(1001))


async def test_a_failed_source_is_restarted_reported_and_loses_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    """A source that fails for any reason (here, a fault injected into the tail's rescan) is
    restarted after a backoff; meanwhile /api/health is degraded and names it, consoles get
    the state, and the lines written meanwhile are read after (its checkpoint)."""
    log = tmp_path / "app.log"
    log.touch()
    fail = [False]
    original = FileTailSource._expand_globs

    def faulty(self: FileTailSource) -> None:
        if fail[0]:
            fail[0] = False
            raise OSError(5, "Input/output error (injected)")
        original(self)

    monkeypatch.setattr(FileTailSource, "_expand_globs", faulty)
    async with running_agent(agent_config(tmp_path, tail=[str(log)])) as agent:
        name = f"file:{log}"
        async with console(agent.url) as (_ws, recorded):
            with log.open("ab") as file:
                file.write(b"".join(seed_line(n) for n in range(10)))
            await wait_until(lambda: len(recorded.numbers()) == 10, what="the first lines")
            fail[0] = True
            await wait_until(lambda: agent.source_states()[0].state == "restarting",
                             what="the restart")
            health = await get_json(agent, "/api/health")
            with log.open("ab") as file:  # written while the source is down
                file.write(b"".join(seed_line(n) for n in range(10, 20)))
            await wait_until(lambda: len(recorded.numbers()) == 20, timeout=15, what="the rest")
            states = [m.report.sources for m in recorded.other if isinstance(m, Health)]
            after = await get_json(agent, "/api/health")
    assert health["status"] == "degraded"
    assert health["sources"][name]["state"] == "restarting"
    assert "injected" in health["sources"][name]["detail"]
    assert after["status"] == "healthy" and after["sources"][name]["restarts"] == 1
    assert any(s and s[0].state == "restarting" for s in states)
    assert recorded.numbers() == list(range(20))
    assert agent.counters()["source_restarts"] == 1
    assert any("restarting in" in r.getMessage() for r in caplog.records)


async def test_a_path_that_does_not_exist_yet_is_awaited_and_said_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    """Issue 13.16, failed on e629b84 (no state anywhere, no log line): the agent says it
    waits for the path, in its log, in /api/health and to every console; then reads the file
    from its start once it appears."""
    caplog.set_level(logging.WARNING)
    log = tmp_path / "later" / "app.log"
    async with running_agent(agent_config(tmp_path, tail=[str(log)])) as agent:
        name = f"file:{log}"
        async with console(agent.url) as (_ws, recorded):
            waiting = await get_json(agent, "/api/health")
            log.parent.mkdir()
            log.write_bytes(b"".join(seed_line(n) for n in range(5)))
            await wait_until(lambda: len(recorded.numbers()) == 5, what="the file's lines")
            await wait_until(lambda: agent.source_states()[0].state == "reading", what="reading")
            await wait_until(
                lambda: any(isinstance(m, Health) and m.report.sources
                            and m.report.sources[0].state == "reading" for m in recorded.other),
                what="the state change sent to the console")
            reading = await get_json(agent, "/api/health")
    assert waiting["sources"][name] | {"since": ""} == {
        "state": "waiting", "detail": f"waiting for {log}", "restarts": 0, "since": ""}
    assert waiting["status"] == "healthy"
    assert reading["sources"][name]["state"] == "reading"
    assert recorded.numbers() == list(range(5))
    messages = [r.getMessage() for r in caplog.records]
    assert any(f"waiting for {log}" in m for m in messages)
    assert any(f"{log} appeared" in m for m in messages)
