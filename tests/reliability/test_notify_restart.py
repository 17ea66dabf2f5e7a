"""A firing notification that could not be delivered before a restart is delivered after it
(issue 12.4), and one failing channel never stops the others (issue 12.6). Through the real
agent, with real webhook receivers on loopback."""

from __future__ import annotations

import asyncio
import signal
import socket
import sys
import time
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from proof_kit import Receiver, agent_config, now_stamp, running_agent, seed_line, wait_until

from obsview.backend.delivery.notify import Notifier, parse_notifiers
from obsview.backend.signals.alerts import AlertRule
from obsview.common.protocol import LogEvent

RULE = AlertRule("traffic_seen", "request_rate", ">", 0.0, summary="requests are flowing")


def requests(count: int) -> list[LogEvent]:
    return [
        LogEvent(ts=1.0, level="INFO", message="GET /api/posts 200", method="GET", path="/api/posts",
                 status=200, duration_ms=12.0)
        for _ in range(count)
    ]


def statuses(receiver: Receiver) -> list[str]:
    return [body["status"] for body in receiver.accepted()]


@pytest.mark.timeout(30)
async def test_a_firing_not_delivered_before_a_restart_is_delivered_after_it(tmp_path: Path) -> None:
    """Failed on e629b84: after the restart the alert counted as notified, and only its
    "resolved" ever reached the receiver."""
    async with Receiver() as receiver:
        channels = parse_notifiers({"webhook": [{"url": receiver.url, "timeout": 0.5}]})
        config = agent_config(tmp_path, rules=[RULE], notifiers=channels, metrics_interval_s=0.05)
        await receiver.go_down()
        async with running_agent(config) as agent:
            await agent.ingest(requests(20))
            await wait_until(lambda: agent.counters()["notify_failed_attempts"] >= 1,
                             what="a failed delivery")
        await receiver.come_back()
        async with running_agent(config):
            # No traffic after the restart: the alert resolves too, after its firing.
            await wait_until(lambda: statuses(receiver) == ["firing", "resolved"], timeout=15,
                             what="the firing, then the resolved")
        assert {b["alerts"][0]["labels"]["alertname"] for b in receiver.accepted()} == {"traffic_seen"}


@pytest.mark.timeout(30)
async def test_a_failing_notification_task_stops_no_other_channel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 12.6 (isolation half), failed on e629b84: one task of the notifier raising (here
    the repeat scanner, made to fail every time) ended its TaskGroup, and with it every
    channel's delivery: no notification was sent any more."""
    scans = [0]

    def broken_scan(self: Notifier) -> None:
        scans[0] += 1
        raise RuntimeError("a bug in the repeat scanner (injected)")

    monkeypatch.setattr(Notifier, "scan_repeats", broken_scan)
    async with Receiver() as first, Receiver() as second:
        channels = parse_notifiers({"webhook": [{"url": first.url, "name": "a"},
                                                {"url": second.url, "name": "b"}]})
        config = agent_config(tmp_path, rules=[RULE], notifiers=channels, metrics_interval_s=0.05)
        async with running_agent(config) as agent:
            await wait_until(lambda: scans[0] >= 1, what="the scanner to fail")
            await asyncio.sleep(0.1)  # whatever its failure ends, ends now
            await agent.ingest(requests(20))
            await wait_until(lambda: statuses(first) == ["firing"] and statuses(second) == ["firing"],
                             timeout=15, what="both channels to deliver")
            await wait_until(lambda: scans[0] >= 2, timeout=15, what="the scanner to be restarted")


def agent_toml(tmp_path: Path, hook: str, tcp_port: int) -> Path:
    config = tmp_path / "agent.toml"
    config.write_text(
        'listen = "127.0.0.1:0"\n'
        f'tcp = ["127.0.0.1:{tcp_port}"]\n'
        f'state_dir = "{tmp_path / "state"}"\n'
        "metrics_interval_s = 0.1\n"
        "[[alerts.rules]]\n"
        'name = "traffic_seen"\nmetric = "request_rate"\nop = ">"\nthreshold = 0\n'
        'keep_firing_for = "1h"\n'
        f'[[notify.webhook]]\nurl = "{hook}"\ntimeout = "1s"\n',
        encoding="utf-8",
    )
    return config


async def start_agent(config: Path) -> tuple[asyncio.subprocess.Process, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "obsview.backend.cli", "--config", str(config),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )
    assert process.stdout is not None
    line = (await asyncio.wait_for(process.stdout.readline(), 15)).decode()
    assert "listening on ws://" in line, line
    return process, "http://" + line.split("listening on ws://", 1)[1].split()[0]


async def failed_attempts(base: str) -> float:
    async with httpx.AsyncClient(base_url=base, timeout=5) as http:
        text = (await http.get("/metrics")).text
    for family in text_string_to_metric_families(text):
        if family.name == "obsview_agent_notify_failed_attempts":
            return float(family.samples[0].value)
    return 0.0


@pytest.mark.timeout(60)
async def test_a_firing_not_delivered_before_a_sigkill_is_delivered_after_it(tmp_path: Path) -> None:
    """The same through a real agent process killed with SIGKILL: nothing is flushed on the
    way out, what is on disk has to be enough."""
    tcp_port = free_port()
    async with Receiver() as receiver:
        await receiver.go_down()
        config = agent_toml(tmp_path, receiver.url, tcp_port)
        process, base = await start_agent(config)
        try:
            _reader, writer = await asyncio.open_connection("127.0.0.1", tcp_port)
            writer.write(b"".join(seed_line(n, stamp=now_stamp()) for n in range(20)))  # live
            await writer.drain()
            deadline = time.monotonic() + 20
            while await failed_attempts(base) < 1:
                assert time.monotonic() < deadline, "no failed delivery"
                await asyncio.sleep(0.1)
            writer.close()
        finally:
            process.send_signal(signal.SIGKILL)
            await process.wait()
        await receiver.come_back()
        process, _base = await start_agent(config)
        try:
            await wait_until(lambda: statuses(receiver) == ["firing"], timeout=20, what="the firing")
            await asyncio.sleep(0.5)  # and nothing else: it is still firing
            assert statuses(receiver) == ["firing"]
        finally:
            process.send_signal(signal.SIGTERM)
            await asyncio.wait_for(process.wait(), 15)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
