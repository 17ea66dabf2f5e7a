"""Huge input keeps its meaning and never makes a frame a console refuses.

Through the real agent: a tailed file, a TCP sender and the OTLP receiver, read back by a
websocket console that accepts frames up to the console's own cap. On e629b84 a JSON line
with a 120 KB stack showed as INFO with no trace ID (the line was cut at 64 KiB and no longer
parsed), and one OTLP record with a 2 MB body became a 12 MB frame the consoles closed on.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import orjson
from proof_kit import agent_config, console, running_agent, wait_until

from obsview.backend.ingest.bounds import FIELD_CHARS, LINE_CAP, RAW_CHARS, STACK_CHARS
from obsview.backend.ingest.sources.otlp import OtlpHttpSource
from obsview.backend.ingest.sources.tcp import TcpSource
from obsview.common.protocol import MAX_FRAME_BYTES, LogEvent

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


def big_record(stack_chars: int, n: int) -> bytes:
    return orjson.dumps({
        "level": "error", "message": f"Unhandled error {n}", "traceId": TRACE, "n": n,
        "stack": "TypeError: boom\n" + "    at frame (/app/x.js:1:1)\n" * (stack_chars // 28),
        "details": {"blob": "b" * 50_000, "note": "kept"},
    })


def assert_meaning_kept(event: LogEvent, n: int) -> None:
    assert (event.level, event.trace_id, event.message) == ("ERROR", TRACE, f"Unhandled error {n}")
    assert event.truncated


async def test_a_line_under_the_cap_is_parsed_and_its_long_fields_cut(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_bytes(b"")
    async with running_agent(agent_config(tmp_path, tail=[str(log)], tcp=[("127.0.0.1", 0)])) as agent:
        async with console(agent.url, max_size=MAX_FRAME_BYTES) as (_ws, recorded):
            with log.open("ab") as file:
                file.write(big_record(120_000, 1) + b"\n")
            (tcp,) = [s for s in agent.sources if isinstance(s, TcpSource)]
            _reader, writer = await asyncio.open_connection("127.0.0.1", tcp.port)
            writer.write(big_record(600_000, 2) + b"\n")
            await writer.drain()
            await wait_until(lambda: len(recorded.events) == 2, what="both records")
            writer.close()
    for n, event in enumerate(sorted(recorded.events, key=lambda e: e.extra["n"]), start=1):
        assert_meaning_kept(event, n)
        assert event.stack.startswith("TypeError: boom") and len(event.stack) < STACK_CHARS + 64
        assert "characters cut]" in event.stack
        assert event.extra["details"]["note"] == "kept"
        assert len(event.extra["details"]["blob"]) < FIELD_CHARS + 64
        assert len(event.raw) < RAW_CHARS + 64
        assert not event.parse_error


async def test_a_line_over_the_cap_keeps_its_level_and_trace(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_bytes(b"")
    async with running_agent(agent_config(tmp_path, tail=[str(log)])) as agent:
        async with console(agent.url, max_size=MAX_FRAME_BYTES) as (_ws, recorded):
            huge = big_record(2 * LINE_CAP, 3)
            assert len(huge) > LINE_CAP
            with log.open("ab") as file:
                file.write(huge + b"\n" + orjson.dumps({"level": "info", "message": "next"}) + b"\n")
            await wait_until(lambda: len(recorded.events) == 2, what="the cut record and the next")
        assert agent.counters()["parse_errors"] == 0
    cut, after = recorded.events
    assert_meaning_kept(cut, 3)
    assert len(cut.raw) < RAW_CHARS + 64
    assert after.message == "next"


async def test_a_2_mb_otlp_body_arrives_cut_in_a_frame_the_console_takes(tmp_path: Path) -> None:
    async with running_agent(agent_config(tmp_path, otlp=[("127.0.0.1", 0)])) as agent:
        (otlp,) = [s for s in agent.sources if isinstance(s, OtlpHttpSource)]
        async with console(agent.url, max_size=MAX_FRAME_BYTES) as (_ws, recorded):
            # Quotes double when encoded, and double again inside the raw line: ~11 MB of frame.
            record = {"severityText": "ERROR", "traceId": TRACE, "body": {"stringValue": '"' * 1_900_000}}
            export = {"resourceLogs": [{"scopeLogs": [{"logRecords": [record]}]}]}
            async with httpx.AsyncClient(timeout=10) as http:
                reply = await http.post(f"http://127.0.0.1:{otlp.port}/v1/logs", json=export)
            assert reply.status_code == 200
            await wait_until(lambda: len(recorded.events) == 1, what="the record")
            assert not recorded.closed
    (event,) = recorded.events
    assert (event.level, event.trace_id, event.truncated) == ("ERROR", TRACE, True)
    assert len(event.message) < FIELD_CHARS + 64
