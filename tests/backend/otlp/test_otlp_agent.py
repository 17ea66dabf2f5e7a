"""The OTLP source wired into the agent: config key, --otlp flag, a real Agent streaming an
exported record to a real websocket client, and a port in use as a clear StartupError."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from otlp_testkit import TRACE_ID, js_exporter_payload
from websockets.asyncio.client import ClientConnection, connect

from obsview.backend.agent import Agent
from obsview.backend.cli import build_parser, config_from_args
from obsview.backend.config import AgentConfig, config_from_mapping
from obsview.backend.errors import ConfigError, StartupError
from obsview.backend.ingest.sources.otlp import OtlpHttpSource
from obsview.common.protocol import Events, Message, Ping, Pong, Subscribe, decode, encode


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AgentConfig:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    return AgentConfig(listen=("127.0.0.1", 0), state_dir=tmp_path / "state", otlp=[("127.0.0.1", 0)])


async def recv_until(ws: ClientConnection, kind: type[Message]) -> Message:
    while True:
        message = decode(await asyncio.wait_for(ws.recv(), 5))
        if isinstance(message, kind):
            return message


async def test_an_exported_record_reaches_a_console(config: AgentConfig) -> None:
    async with Agent(config) as agent:
        (source,) = agent.sources
        assert isinstance(source, OtlpHttpSource) and source.port > 0
        assert f"otlp:127.0.0.1:{source.port}" in agent.describe()
        async with connect(agent.url) as ws, httpx.AsyncClient(timeout=5) as client:
            await ws.send(encode(Subscribe()))
            await ws.send(encode(Ping(nonce=1)))
            await recv_until(ws, Pong)
            response = await client.post(f"http://127.0.0.1:{source.port}/v1/logs", json=js_exporter_payload())
            events = await recv_until(ws, Events)
    assert response.status_code == 200
    assert isinstance(events, Events)
    first = events.events[0]
    assert (first.level, first.message, first.service, first.trace_id) == (
        "INFO", "Request completed", "blog-api", TRACE_ID)
    assert first.extra["authorization"] == "«redacted»"
    assert agent.metrics.snapshot().requests_total == 1  # the access record fed the metrics
    counters = agent.counters()
    assert (counters["otlp_requests"], counters["otlp_records_accepted"], counters["otlp_records_rejected"]) == (1, 3, 0)


async def test_otlp_port_in_use_is_a_clear_startup_error(config: AgentConfig) -> None:
    async with Agent(config) as first:
        (source,) = first.sources
        assert isinstance(source, OtlpHttpSource)
        config.otlp = [("127.0.0.1", source.port)]
        config.state_dir = config.resolved_state_dir().with_name("another-agent")  # own state
        with pytest.raises(StartupError, match=rf"OTLP/HTTP log source: 127.0.0.1:{source.port} is already in use"):
            await Agent(config).start()


def test_config_key_and_its_validation() -> None:
    assert config_from_mapping({"otlp": ["127.0.0.1:4318"]}).otlp == [("127.0.0.1", 4318)]
    assert config_from_mapping({}).otlp == []
    with pytest.raises(ConfigError, match="^config: otlp: expected `array`, got '127.0.0.1:4318'$"):
        config_from_mapping({"otlp": "127.0.0.1:4318"})
    with pytest.raises(ConfigError, match="otlp"):
        config_from_mapping({"otlp": ["nope"]})


def test_otlp_flag_is_repeatable_and_overrides_the_file(config: AgentConfig, tmp_path: Path) -> None:
    file = tmp_path / "agent.toml"
    file.write_text('otlp = ["127.0.0.1:1111"]\n')
    args = build_parser().parse_args(
        ["--config", str(file), "--otlp", "127.0.0.1:4318", "--otlp", "[::1]:4319"]
    )
    assert config_from_args(args).otlp == [("127.0.0.1", 4318), ("::1", 4319)]
    assert config_from_args(build_parser().parse_args(["--config", str(file)])).otlp == [("127.0.0.1", 1111)]


async def test_a_non_loopback_receiver_without_a_token_is_refused(config: AgentConfig) -> None:
    config.otlp = [("0.0.0.0", 0)]  # refused before anything binds
    with pytest.raises(StartupError, match=r"0.0.0.0:0 \(not loopback\) needs a token"):
        await Agent(config).start()


def test_an_agent_without_a_receiver_shows_no_otlp_counters(config: AgentConfig) -> None:
    config.otlp = []
    assert not [name for name in Agent(config).counters() if name.startswith("otlp_")]
