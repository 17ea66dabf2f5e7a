"""The whole agent: a tailed file reaching a websocket client, HTTP endpoints, startup errors."""

from __future__ import annotations

import asyncio
import datetime
import json
from pathlib import Path

import httpx
import pytest
from server_testkit import recv_until
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from obsview.backend.agent import Agent
from obsview.backend.auth import load_or_create_token
from obsview.backend.config import AgentConfig
from obsview.backend.errors import StartupError
from obsview.backend.ingest.sources.tcp import TcpSource
from obsview.backend.signals.alerts import AlertRule
from obsview.common.protocol import (
    Ack,
    Alerts,
    Error,
    Events,
    LogEvent,
    Metrics,
    Ping,
    Pong,
    Subscribe,
    encode,
)

SEED_LINE = {
    "timestamp": "2026-11-25T10:00:00.000Z",
    "level": "ERROR",
    "message": "Request failed",
    "request": {"id": "req-1", "method": "GET", "url": "/api/posts/42", "correlationId": "trace-abc"},
    "response": {"statusCode": 500, "responseTime": 12.5},
}


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AgentConfig:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    return AgentConfig(listen=("127.0.0.1", 0), state_dir=tmp_path / "state", metrics_interval_s=0.05)


async def test_appended_line_in_a_tailed_file_reaches_a_client_normalized(
    config: AgentConfig, tmp_path: Path
) -> None:
    log = tmp_path / "app.log"
    log.write_text("")
    config.tail = [str(log)]
    config.from_start = True  # the file is empty; no race with where the tail starts
    async with Agent(config) as agent:
        async with connect(agent.url) as ws:
            await ws.send(encode(Subscribe(since_seq=0)))
            await ws.send(encode(Ping(nonce=1)))
            await recv_until(ws, Pong)
            with log.open("a") as file:
                file.write(json.dumps(SEED_LINE) + "\n")
            events, _ = await recv_until(ws, Events)
    (event,) = events.events
    assert (event.level, event.message, event.status, event.trace_id) == ("ERROR", "Request failed", 500, "trace-abc")
    assert event.seq == 1


async def test_http_endpoints_answer_on_the_websocket_port(config: AgentConfig) -> None:
    async with Agent(config) as agent:
        await agent.ingest(agent.normalizer.normalize_lines([json.dumps(SEED_LINE).encode()], "test"))
        base = agent.url.replace("ws://", "http://")
        async with httpx.AsyncClient(base_url=base, timeout=5) as http:
            health = await http.get("/api/health")
            metrics = await http.get("/api/metrics")
            alerts = await http.get("/api/alerts")
            prom = await http.get("/metrics")
    assert health.status_code == 200 and health.json()["status"] == "healthy"
    assert metrics.json()["requests"]["total"] == 1
    assert alerts.status_code == 200 and isinstance(alerts.json(), dict)
    assert prom.headers["content-type"].startswith("text/plain")
    assert "events_ingested" in prom.text


async def test_self_counters_reach_the_metrics_message(config: AgentConfig) -> None:
    async with Agent(config) as agent:
        await agent.ingest(agent.normalizer.normalize_lines([b"{broken", b"plain INFO line"], "test"))
        async with connect(agent.url) as ws:
            metrics, _ = await recv_until(ws, Metrics)
            while metrics.snapshot.agent.get("connections_total", 0) < 1:
                metrics, _ = await recv_until(ws, Metrics)  # the ticker's next one
    counters = metrics.snapshot.agent
    assert counters["events_ingested"] == 2
    assert counters["parse_errors"] == 1


async def test_unknown_fingerprint_is_an_error_to_that_client(config: AgentConfig) -> None:
    async with Agent(config) as agent:
        async with connect(agent.url) as ws:
            await ws.send(encode(Ack(fingerprint="does-not-exist", by="me")))
            error, _ = await recv_until(ws, Error)
    assert error.code == "unknown_alert"


async def test_port_in_use_is_a_clear_startup_error(config: AgentConfig) -> None:
    async with Agent(config) as first:
        config.listen = ("127.0.0.1", first.port)
        config.state_dir = config.resolved_state_dir().with_name("another-agent")  # own state
        with pytest.raises(StartupError, match=rf"127.0.0.1:{first.port} is already in use .* --listen 127.0.0.1:0"):
            await Agent(config).start()


async def test_non_loopback_bind_without_token_is_refused(config: AgentConfig) -> None:
    config.listen = ("0.0.0.0", 0)
    with pytest.raises(StartupError, match="needs a token"):
        await Agent(config).start()


async def test_stop_cancels_and_awaits_everything(config: AgentConfig, tmp_path: Path) -> None:
    (tmp_path / "a.log").write_text("")
    config.tail = [str(tmp_path / "a.log")]
    config.tcp = [("127.0.0.1", 0)]
    before = set(asyncio.all_tasks())
    agent = Agent(config)
    await agent.start()
    async with connect(agent.url):
        await agent.stop()
    assert set(asyncio.all_tasks()) - before == set()


async def test_configured_token_is_enforced_on_websocket_and_http(config: AgentConfig, tmp_path: Path) -> None:
    config.token_file = tmp_path / "token"
    async with Agent(config) as agent:
        token = load_or_create_token(config.token_file)
        base = agent.url.replace("ws://", "http://")
        async with httpx.AsyncClient(base_url=base, timeout=5) as http:
            assert (await http.get("/metrics")).status_code == 401
            ok = await http.get("/metrics", headers={"Authorization": f"Bearer {token}"})
            assert ok.status_code == 200
        with pytest.raises(InvalidStatus) as caught:
            async with connect(agent.url):
                pass
        assert caught.value.response.status_code == 401
        async with connect(agent.url, additional_headers={"Authorization": f"Bearer {token}"}) as ws:
            await ws.send(encode(Ping(nonce=3)))
            pong, _ = await recv_until(ws, Pong)
    assert pong.nonce == 3
    assert (config.token_file.stat().st_mode & 0o777) == 0o600


async def test_stop_does_not_wait_for_a_console_that_stopped_reading(config: AgentConfig) -> None:
    config.client_queue_events = 100
    agent = Agent(config)
    await agent.start()
    async with connect(agent.url, max_queue=1, close_timeout=0.5) as stalled:
        await stalled.send(encode(Subscribe()))
        await stalled.send(encode(Ping(nonce=1)))
        await recv_until(stalled, Pong)
        for _ in range(100):  # ~20 MB: the socket buffers fill and the agent starts dropping
            await agent.ingest([LogEvent(ts=1.0, level="INFO", message="x" * 10_000) for _ in range(20)])
            await asyncio.sleep(0)
        assert agent.counters()["dropped_to_clients"] > 0
        # websockets alone would wait for the keepalive timeout (~20 s) to close this one.
        await asyncio.wait_for(agent.stop(), timeout=5)


async def test_ack_from_one_console_reaches_another_and_the_http_api(config: AgentConfig) -> None:
    config.rules = [AlertRule("busy", "request_rate", ">", 0.0, for_s=0.0)]
    # Stamped now: a request from the fixture's day is history, which no live rule sees.
    live = {**SEED_LINE, "timestamp": datetime.datetime.now(datetime.UTC).isoformat().replace("+00:00", "Z")}
    async with Agent(config) as agent:
        await agent.ingest(agent.normalizer.normalize_lines([json.dumps(live).encode()], "test"))
        async with connect(agent.url) as a, connect(agent.url) as b:
            alerts, _ = await recv_until(a, Alerts)
            while not any(alert.state == "firing" for alert in alerts.alerts):
                alerts, _ = await recv_until(a, Alerts)
            (firing,) = alerts.alerts
            await a.send(encode(Ack(fingerprint=firing.fingerprint, by="alice", note="on it")))
            seen, _ = await recv_until(b, Alerts)
            while not seen.alerts or seen.alerts[0].ack is None:
                seen, _ = await recv_until(b, Alerts)
        async with httpx.AsyncClient(base_url=agent.url.replace("ws://", "http://"), timeout=5) as http:
            api = (await http.get("/api/alerts")).json()
    assert seen.alerts[0].ack is not None and seen.alerts[0].ack.by == "alice"
    assert "alice" in json.dumps(api)


async def test_a_line_over_the_tcp_source_reaches_a_client(config: AgentConfig) -> None:
    config.tcp = [("127.0.0.1", 0)]
    async with Agent(config) as agent:
        (source,) = agent.sources
        assert isinstance(source, TcpSource) and source.port > 0
        async with connect(agent.url) as ws:
            await ws.send(encode(Subscribe()))
            await ws.send(encode(Ping(nonce=1)))
            await recv_until(ws, Pong)
            _reader, writer = await asyncio.open_connection("127.0.0.1", source.port)
            writer.write(json.dumps(SEED_LINE).encode() + b"\n")
            await writer.drain()
            events, _ = await recv_until(ws, Events)
            writer.close()
            await writer.wait_closed()
    assert events.events[0].message == "Request failed"
    assert events.events[0].source.startswith("tcp:")
