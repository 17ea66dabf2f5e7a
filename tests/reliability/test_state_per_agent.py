"""Two agents of one user keep separate state, and one state directory has one agent
(issue 12.5). Real agents, real files; the second start through the real CLI too."""

from __future__ import annotations

import asyncio
import dataclasses
import sys
from pathlib import Path

import pytest
from proof_kit import agent_config, make_events, running_agent

from obsview.backend.agent import Agent
from obsview.backend.config import AgentConfig
from obsview.backend.errors import StartupError
from obsview.backend.signals.alerts import AlertRule
from obsview.common.protocol import LogEvent

RULE = AlertRule("traffic_seen", "request_rate", ">", 0.0, keep_firing_for_s=3600.0)


def requests(count: int) -> list[LogEvent]:
    return [LogEvent(ts=1.0, level="INFO", message="GET / 200", method="GET", path="/",
                     status=200, duration_ms=1.0) for _ in range(count)]


@pytest.fixture
def data_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The user data dir, where agents without a ``state_dir`` keep their state."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    return tmp_path / "data"


def service_config(service: str, port: int) -> AgentConfig:
    return AgentConfig(listen=("127.0.0.1", port), service=service, rules=[RULE],
                       metrics_interval_s=0.05)


async def test_two_services_on_one_host_keep_their_own_acks(data_home: Path) -> None:
    """Failed on e629b84: both agents wrote the one alerts.json of the user; the agent that
    stopped last overwrote the other's ack."""
    blog = service_config("blog-api", 0)
    shop = service_config("shop-api", 0)
    blog_agent, shop_agent = Agent(blog), Agent(shop)
    await blog_agent.start()
    await shop_agent.start()
    try:
        await blog_agent.ingest(requests(20))
        for _ in range(200):
            if blog_agent.alerts.alerts() and blog_agent.alerts.alerts()[0].state == "firing":
                break
            await asyncio.sleep(0.02)
        (alert,) = blog_agent.alerts.alerts()
        blog_agent.alerts.ack(alert.fingerprint, "ana", "on it")
        await shop_agent.ingest(make_events(5))
    finally:
        await blog_agent.stop()  # the blog agent stops first, the shop agent last
        await shop_agent.stop()
    blog.metrics_interval_s = 3600.0  # read the state before any evaluation changes it
    async with Agent(blog) as again:
        alerts = again.alerts.alerts()
    assert [a.ack.note if a.ack else None for a in alerts] == ["on it"]
    assert blog.resolved_state_dir() != shop.resolved_state_dir()
    assert blog.resolved_state_dir().parent == data_home / "obsview" / "agents"


async def test_a_second_agent_on_the_same_state_is_refused(tmp_path: Path) -> None:
    """Failed on e629b84: the second agent started and shared the first one's files."""
    config = agent_config(tmp_path)
    async with running_agent(config):
        with pytest.raises(StartupError, match="another obsview-agent \\(pid \\d+\\) already uses "
                                               "the state directory"):
            await Agent(dataclasses.replace(config)).start()
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "obsview.backend.cli", "--listen", "127.0.0.1:0",
            "--config", str(write_config(tmp_path, config.resolved_state_dir())),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(process.communicate(), 20)
    assert process.returncode == 1 and out == b""
    (line,) = err.decode().splitlines()
    assert line.startswith("obsview-agent: error: another obsview-agent (pid ")
    assert str(config.resolved_state_dir()) in line
    async with running_agent(config):  # the lock went with the first agent
        pass


def write_config(tmp_path: Path, state_dir: Path) -> Path:
    path = tmp_path / "agent.toml"
    path.write_text(f'state_dir = "{state_dir}"\n', encoding="utf-8")
    return path


async def test_state_left_by_an_older_version_moves_to_the_first_agent(data_home: Path) -> None:
    legacy = data_home / "obsview"
    legacy.mkdir(parents=True)
    async with Agent(service_config("blog-api", 0)) as agent:
        agent.alerts.silence({"alertname": "x"}, 600, "ana", "kept")
    own = service_config("blog-api", 0).resolved_state_dir() / "alerts.json"
    own.rename(legacy / "alerts.json")  # as an older version left it
    async with Agent(service_config("blog-api", 0)) as agent:
        assert [s.reason for s in agent.alerts.silences()] == ["kept"]
    assert own.exists() and not (legacy / "alerts.json").exists()
