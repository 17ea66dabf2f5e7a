"""The Alertmanager channel against a real Alertmanager, through a real agent.

The agent watches a TCP probe whose target the test opens and closes: closed, the probe is
unhealthy and the rule fires; opened, it resolves. What Alertmanager holds is read with
``amtool``, as an operator would.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from alertmanager_kit import RealAlertmanager
from loopback import free_port
from polling import wait_until
from websockets.asyncio.client import connect

from obsview.backend.agent import Agent
from obsview.backend.config import config_from_mapping
from obsview.common.protocol import ExpireSilence, Silence, Subscribe, encode

ACTIVE_ALERTS = ("alert", "query")
ACTIVE_SILENCES = ("silence", "query")


def agent_config(tmp_path: Path, am_url: str, probe_port: int, **channel: Any) -> dict[str, Any]:
    return {
        "listen": "127.0.0.1:0", "service": "blog-api", "state_dir": str(tmp_path / "state"),
        "metrics_interval_s": 0.1,
        "probes": [{"name": "db", "kind": "tcp", "host": "127.0.0.1", "port": probe_port,
                    "interval": 0.1, "timeout": 1, "critical": True}],
        "alerts": {"rules": [{"name": "db_down", "metric": "probe_unhealthy", "op": ">=", "threshold": 1,
                              "severity": "critical", "summary": "Probe {probe} is down"}]},
        "notify": {"alertmanager": [{"url": am_url, "labels": {"env": "test"}, **channel}]},
    }


@asynccontextmanager
async def listening(port: int) -> AsyncIterator[None]:
    """The probe's target, up."""
    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    server = await asyncio.start_server(accept, "127.0.0.1", port)
    try:
        yield
    finally:
        server.close()
        await server.wait_closed()


def named(name: str) -> Any:
    return lambda alerts: [a["labels"]["alertname"] for a in alerts] == [name]


async def test_a_firing_alert_appears_in_alertmanager_and_leaves_on_resolve(
    alertmanager: RealAlertmanager, tmp_path: Path
) -> None:
    probe_port = free_port()  # nothing listens: the probe fails, db_down fires
    config = config_from_mapping(agent_config(tmp_path, alertmanager.url, probe_port))
    async with Agent(config) as agent:
        (alert,) = await alertmanager.wait_for(ACTIVE_ALERTS, named("db_down"), what="db_down in Alertmanager")
        assert alert["labels"] == {
            "alertname": "db_down", "severity": "critical", "probe": "db",
            "instance": agent.hostname, "service": "blog-api", "env": "test",
        }
        assert alert["annotations"]["summary"] == "Probe db is down"
        assert alert["generatorURL"] == agent.url.replace("ws://", "http://") + "/api/alerts"
        (fired,) = agent.alerts.alerts()
        assert fired.fired_at is not None
        starts = datetime.fromisoformat(alert["startsAt"].replace("Z", "+00:00")).timestamp()
        assert starts == pytest.approx(fired.fired_at, abs=0.001)

        async with listening(probe_port):  # the database is back: db_down resolves
            await alertmanager.wait_for(ACTIVE_ALERTS, lambda alerts: alerts == [],
                                        what="db_down to leave Alertmanager's active alerts")
        assert agent.alerts.alerts()[0].state == "resolved"
        assert agent.notifier.counters["gave_up"] == 0


@pytest.mark.parametrize("resolve_timeout", ["1s"])
async def test_an_acked_alert_is_re_sent_before_alertmanagers_resolve_timeout(
    alertmanager: RealAlertmanager, tmp_path: Path
) -> None:
    # Alertmanager here resolves an alert not re-sent within 1 s; the channel re-sends every 0.2 s.
    config = config_from_mapping(agent_config(tmp_path, alertmanager.url, free_port(), resend_interval="200ms"))
    async with Agent(config) as agent:
        await alertmanager.wait_for(ACTIVE_ALERTS, named("db_down"), what="db_down in Alertmanager")
        agent.alerts.ack(agent.alerts.alerts()[0].fingerprint, "alice", "looking")  # obsview's own
        await asyncio.sleep(2.5)  # 2.5 resolve timeouts
        assert named("db_down")(await alertmanager.amtool(*ACTIVE_ALERTS))
        assert agent.notifier.counters["repeats"] >= 5
    # The agent is gone: nothing re-sends it, and Alertmanager resolves it by itself.
    await alertmanager.wait_for(ACTIVE_ALERTS, lambda alerts: alerts == [], what="db_down to time out")


async def test_a_silence_made_in_obsview_is_mirrored_and_expired(
    alertmanager: RealAlertmanager, tmp_path: Path
) -> None:
    config = config_from_mapping(agent_config(tmp_path, alertmanager.url, free_port(), mirror_silences=True))
    async with Agent(config) as agent, connect(agent.url) as ws:
        await ws.recv()  # hello
        await ws.send(encode(Subscribe(since_seq=None, client="test")))
        await ws.send(encode(Silence({"alertname": "db_down"}, 3600.0, by="alice", reason="migration")))
        await wait_until(lambda: bool(agent.alerts.silences()), what="the silence in the agent")
        (silence,) = await alertmanager.wait_for(ACTIVE_SILENCES, lambda s: bool(s), what="the mirrored silence")
        matchers = {(m["name"], m["value"], m["isEqual"], m["isRegex"]) for m in silence["matchers"]}
        assert matchers == {("alertname", "db_down", True, False), ("instance", agent.hostname, True, False)}
        assert silence["createdBy"] == "alice" and silence["comment"] == "migration"
        # Alertmanager still gets the alert (obsview tells it the state) and mutes it itself.
        (alert,) = await alertmanager.wait_for(
            ("alert", "query", "--silenced"), named("db_down"), what="db_down, silenced, in Alertmanager")
        assert alert["status"]["silencedBy"] == [silence["id"]]

        (ours,) = agent.alerts.silences()
        await ws.send(encode(ExpireSilence(ours.id, by="alice")))
        await alertmanager.wait_for(ACTIVE_SILENCES, lambda s: s == [], what="the mirror to expire")
