"""Secrets written to a tailed log file never leave the agent: not in the store, not in a
console's frames, not on /api/* or /metrics, not in a notification.

End to end through the real agent (file tail → normalizer → store → websocket/HTTP/webhook).
Every secret value contains the marker ``SEKRIT`` so one search finds any leak.
"""

from __future__ import annotations

import asyncio
import datetime
import socket
import sys
from pathlib import Path

import httpx
import orjson
import pytest
from proof_kit import Receiver, agent_config, running_agent, wait_until
from websockets.asyncio.client import connect

from obsview.backend.delivery.notify import parse_notifiers
from obsview.backend.signals.alerts import AlertRule
from obsview.backend.signals.health import parse_probes
from obsview.common.protocol import Events, Subscribe, decode, encode, encode_events

MARKER = "SEKRIT"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJTRUtSSVQifQ.SEKRITsignature_abc"

SECRET_LINES: list[bytes] = [
    # The seed's structured record, with credentials in headers, the query string and the body.
    orjson.dumps({
        "timestamp": "2026-11-25T10:00:00.000Z", "level": "info", "message": "POST /api/auth/login 200",
        "request": {
            "id": "r1", "method": "POST", "url": "/api/auth/login?token=SEKRITqa&page=2&api_key=SEKRITqb",
            "ip": "127.0.0.1", "userAgent": "curl/8", "correlationId": "c1",
            "headers": {"authorization": "Bearer SEKRIThA", "cookie": "sid=SEKRIThB; theme=dark",
                        "x-api-key": "SEKRIThC", "set-cookie": "session=SEKRIThD"},
            "body": {"username": "alice", "password": "SEKRITbA", "access_token": "SEKRITbB",
                     "nested": {"client_secret": "SEKRITbC", "refresh_token": "SEKRITbD"}},
        },
        "response": {"statusCode": 200, "responseTime": 12.5}, "duration": 12.5,
    }),
    orjson.dumps({"level": "warn", "msg": f"login with jwt {JWT}", "session_id": "SEKRITsA"}),
    orjson.dumps({"level": "error", "message": "upstream said Authorization: Basic SEKRITb64xyz=",
                  "error": {"message": "connect postgres://admin:SEKRITpw@db:5432/app failed"}}),
    b"2026-11-25 10:00:00,123 INFO POST /login Authorization: Bearer SEKRITtA cookie: sid=SEKRITtB",
    b"ERROR: bad login password=SEKRITtC for user=bob (api-key: SEKRITtD)",
    b'level=info msg="token refresh" token=SEKRITlA passwd=SEKRITlB',
    b'127.0.0.1 - - [25/Nov/2026:10:00:00 +0000] "GET /cb?code=1&access_token=SEKRITaA HTTP/1.1" 200 12 "-" "curl"',
    b"redis://:SEKRITrA@cache:6379/0 reconnecting",
    f"jwt alone {JWT}".encode(),
]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.timeout(30)
async def test_secrets_in_a_tailed_file_never_leave_the_agent(tmp_path: Path) -> None:
    log_file = tmp_path / "app.log"
    log_file.touch()
    closed_port = free_port()  # the probe fails: its error and target must not leak either
    probes = parse_probes([{
        "name": "api", "kind": "http", "interval": 0.1, "timeout": 0.5, "critical": True,
        "url": f"http://admin:SEKRITpr@127.0.0.1:{closed_port}/health?token=SEKRITpq",
    }])
    rules = [
        AlertRule("probe_down", "probe_unhealthy", ">=", 1.0, summary="Probe {probe} is unhealthy"),
        AlertRule("traffic", "request_rate", ">", 0.0),
    ]
    async with Receiver() as webhook, Receiver() as slack:
        notifiers = parse_notifiers({"webhook": [{"url": webhook.url, "timeout": 2}],
                                     "slack": [{"url": slack.url, "timeout": 2}]})
        config = agent_config(tmp_path, tail=[str(log_file)], probes=probes, rules=rules,
                              notifiers=notifiers, metrics_interval_s=0.05)
        async with running_agent(config) as agent, connect(agent.url, open_timeout=5) as ws:
            await ws.send(encode(Subscribe(since_seq=0)).decode())
            frames: list[str] = []

            async def read() -> None:
                async for frame in ws:
                    frames.append(frame if isinstance(frame, str) else frame.decode())

            reader = asyncio.create_task(read())
            try:
                # The structured record stamped now: live traffic, which the rule sees.
                now = datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds")
                lines = b"\n".join(SECRET_LINES).replace(b"2026-11-25T10:00:00.000Z",
                                                          now.replace("+00:00", "Z").encode())
                log_file.write_bytes(lines + b"\n")

                def events_received() -> int:
                    return sum(len(m.events) for m in map(decode, frames) if isinstance(m, Events))

                await wait_until(lambda: events_received() == len(SECRET_LINES), what="every line")
                await wait_until(lambda: len(webhook.accepted()) >= 2 and len(slack.accepted()) >= 2,
                                 what="both alerts notified")
                base = agent.url.replace("ws://", "http://")
                async with httpx.AsyncClient(timeout=5) as http:
                    pages = {path: (await http.get(base + path)).text
                             for path in ("/api/health", "/api/metrics", "/api/alerts", "/metrics")}
            finally:
                reader.cancel()
                await asyncio.gather(reader, return_exceptions=True)
            stored = encode_events(agent.store.tail(len(agent.store))).decode()

    assert len(agent.store) == len(SECRET_LINES)
    assert agent.normalizer.redacted >= len(SECRET_LINES)
    places = {"the store": stored, "a console's frames": "\n".join(frames), **pages,
              "the webhook": b"".join(d.raw for d in webhook.deliveries).decode(),
              "Slack": b"".join(d.raw for d in slack.deliveries).decode()}
    leaks = {where: text[max(0, text.find(MARKER) - 60): text.find(MARKER) + 20]
             for where, text in places.items() if MARKER in text}
    assert not leaks, f"secrets leaked: {leaks}"
    # What is not a secret survived, so redaction is not just deleting everything.
    assert "alice" in stored and "/api/auth/login" in stored and "page=2" in stored


def quadratic_probe(length: int) -> str:
    return (
        "from obsview.backend.ingest.normalize import Normalizer\n"
        "import orjson\n"
        f"line = orjson.dumps({{'level': 'info', 'message': 'A' * {length} + ' token=x'}})\n"
        "Normalizer().normalize_lines([line], 'f')\n"
    )


@pytest.mark.timeout(30)
async def test_a_maximal_line_with_a_secret_word_is_redacted_promptly() -> None:
    """Liveness, not speed: a 60 KB line (under the 64 KiB cap) must not freeze the agent
    (redaction regexes were quadratic on word runs until 90ad5a9). Run in a subprocess so a
    stuck regex can be killed instead of hanging the suite."""
    process = await asyncio.create_subprocess_exec(sys.executable, "-c", quadratic_probe(60_000))
    try:
        await asyncio.wait_for(process.wait(), 10)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0
