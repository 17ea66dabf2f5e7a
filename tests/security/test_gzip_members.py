"""A gzip body of several members (RFC 1952 2.2) is read whole, still under the body cap.

Through the real agent's OTLP receiver on loopback.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import httpx
import orjson
import pytest
from proof_kit import agent_config, running_agent

from obsview.backend.ingest.sources.otlp import OtlpHttpSource
from obsview.backend.ingest.sources.otlp_http import MAX_GZIP_MEMBERS

HEADERS = {"Content-Type": "application/json", "Content-Encoding": "gzip"}


def export(count: int, text: str = "member record") -> bytes:
    records = [{"body": {"stringValue": f"{text} {n}"}} for n in range(count)]
    return orjson.dumps({"resourceLogs": [{"scopeLogs": [{"logRecords": records}]}]})


async def post(tmp_path: Path, body: bytes) -> tuple[httpx.Response, list[str]]:
    async with running_agent(agent_config(tmp_path, otlp=[("127.0.0.1", 0)])) as agent:
        (source,) = [s for s in agent.sources if isinstance(s, OtlpHttpSource)]
        async with httpx.AsyncClient(timeout=10) as http:
            reply = await http.post(f"http://127.0.0.1:{source.port}/v1/logs", content=body, headers=HEADERS)
        return reply, [event.message for event in agent.store.tail(1000)]


async def test_every_member_of_a_gzip_body_is_read(tmp_path: Path) -> None:
    # e629b84 inflated the first member only: a body cut across two members was a 400.
    payload = export(50)
    cut = len(payload) // 3
    body = gzip.compress(payload[:cut]) + gzip.compress(payload[cut : 2 * cut]) + gzip.compress(payload[2 * cut :])
    reply, messages = await post(tmp_path, body)
    assert reply.status_code == 200
    assert messages == [f"member record {n}" for n in range(50)]


async def test_a_bomb_spread_over_members_is_413(tmp_path: Path) -> None:
    member = gzip.compress(b" " * (1 << 20))  # 1 MiB of spaces in ~1 KiB
    reply, messages = await post(tmp_path, gzip.compress(export(1)) + member * 8)
    assert reply.status_code == 413 and messages == []


@pytest.mark.parametrize(
    "body",
    [
        gzip.compress(b"") * (MAX_GZIP_MEMBERS + 1),  # too many members
        gzip.compress(export(3))[:-6],  # truncated
        gzip.compress(export(3)) + b"trailing garbage",
    ],
    ids=["too-many-members", "truncated", "trailing-garbage"],
)
async def test_malformed_gzip_bodies_are_400(tmp_path: Path, body: bytes) -> None:
    reply, messages = await post(tmp_path, body)
    assert reply.status_code == 400 and messages == []
