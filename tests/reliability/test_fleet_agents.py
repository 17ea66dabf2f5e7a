"""One console over three real agent processes, each tailing its own log file.

Each agent runs as ``python -m obsview.backend.cli`` on its own loopback port; the console is
the real :class:`ObsviewApp` with ``hosts``. The merged stream must come in event-time order
across hosts, a host killed with SIGKILL must not stop the others (and must come back,
resumed without duplicates), and an ack must reach the agent that owns the alert only.
"""

from __future__ import annotations

import contextlib
import datetime
import signal
import time
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest
from app_test_support import wait_until
from loopback import free_port
from proof_kit import agent_process

from obsview.tui.app import ObsviewApp
from obsview.tui.fleet import FleetHost
from obsview.tui.widgets.alert_feed import AlertFeed
from obsview.tui.widgets.hosts_panel import HostsPanel

START_TIMEOUT_S = 15.0
FAST_RETRY = {"backoff_initial": 0.05, "backoff_max": 0.3}
T0 = datetime.datetime(2026, 11, 25, 10, 0, tzinfo=datetime.UTC).timestamp()


@dataclass
class Host:
    name: str
    folder: Path
    port: int

    @property
    def log_file(self) -> Path:
        return self.folder / f"{self.name}.log"

    @property
    def config(self) -> Path:
        return self.folder / "agent.toml"

    def fleet_host(self) -> FleetHost:
        return FleetHost(self.name, f"ws://127.0.0.1:{self.port}")

    def write(self, numbers: range, *, spacing: float, offset: float, start: float = T0) -> None:
        """Lines numbered ``n`` at time ``start + n * spacing + offset`` (a host's own slot).
        Stamped on T0's day they are history to the agents' metrics (counted by their own
        time, not in the live rates): ``start=time.time()`` makes live traffic."""
        with open(self.log_file, "ab") as file:
            for n in numbers:
                ts = datetime.datetime.fromtimestamp(start + n * spacing + offset, datetime.UTC)
                file.write(orjson.dumps({
                    "timestamp": ts.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                    "level": "info", "message": f"{self.name} line {n}", "n": n, "from": self.name,
                    "request": {"id": f"{self.name}-{n}", "method": "GET", "url": "/api/posts/42"},
                    "response": {"statusCode": 200, "responseTime": 12.5},
                }) + b"\n")


def make_hosts(tmp_path: Path, count: int) -> list[Host]:
    hosts = []
    for number in range(1, count + 1):
        host = Host(f"web-{number}", tmp_path / f"web-{number}", free_port())
        host.folder.mkdir()
        host.log_file.touch()
        host.config.write_text(
            f'listen = "127.0.0.1:{host.port}"\n'
            f'tail = ["{host.log_file}"]\n'
            f'state_dir = "{host.folder / "state"}"\n'
            "metrics_interval_s = 0.2\n"
            "[[alerts.rules]]\n"
            'name = "traffic_seen"\n'
            'metric = "request_rate"\n'
            'op = ">"\n'
            "threshold = 0\n"
            'keep_firing_for = "1h"\n'
            'summary = "requests are flowing"\n',
            encoding="utf-8",
        )
        hosts.append(host)
    return hosts


def held(app: ObsviewApp) -> list[tuple[str, int, float]]:
    """(host, line number, time) of every log event the console holds, in its order."""
    buffer = app.dashboard.buffer
    events = (buffer[index] for index in range(len(buffer)))
    return [(e.host, int(e.extra["n"]), e.ts) for e in events if "n" in e.extra]


def numbers_of(app: ObsviewApp, host: str) -> list[int]:
    return [n for name, n, _ in held(app) if name == host]


def status_line(app: ObsviewApp) -> str:
    return str(app.dashboard.query_one("#sb-connection").content)  # type: ignore[attr-defined]


@pytest.mark.timeout(90)
async def test_three_agents_make_one_stream_in_event_time_order(tmp_path: Path) -> None:
    hosts = make_hosts(tmp_path, 3)
    async with contextlib.AsyncExitStack() as stack:
        for host in hosts:
            await stack.enter_async_context(agent_process(host.config, start_timeout_s=START_TIMEOUT_S))
        # A generous hold: on a busy machine one agent may read its file a second late.
        app = ObsviewApp(hosts=[host.fleet_host() for host in hosts], client_options=FAST_RETRY,
                         fleet_hold_s=5.0)
        async with app.run_test(size=(160, 45)) as pilot:
            await wait_until(pilot, lambda: "3 of 3 hosts connected" in status_line(app), timeout=20)
            for offset, host in enumerate(hosts):
                host.write(range(0, 200), spacing=0.01, offset=offset * 0.003)
            await wait_until(pilot, lambda: len(held(app)) == 600, timeout=30)
            events = held(app)
            times = [ts for _, _, ts in events]
            assert times == sorted(times), "merged by event time across hosts"
            # Interleaved, not one host after another: web-1, web-2, web-3 for each number.
            assert [(name, n) for name, n, _ in events[:6]] == [
                ("web-1", 0), ("web-2", 0), ("web-3", 0), ("web-1", 1), ("web-2", 1), ("web-3", 1)]
            for host in hosts:
                assert numbers_of(app, host.name) == list(range(200))
            panel = app.dashboard.query_one(HostsPanel)
            await wait_until(pilot, lambda: [row[:2] for row in panel.rows_shown] == [
                ("web-1", "● connected"), ("web-2", "● connected"), ("web-3", "● connected"),
                ("fleet", "3/3 up")])
            assert app.fleet_view is not None and app.fleet_view.merger.forced == 0


@pytest.mark.timeout(120)
async def test_a_killed_agent_does_not_stall_the_others_and_resumes_without_duplicates(
    tmp_path: Path,
) -> None:
    hosts = make_hosts(tmp_path, 3)
    web1, web2, web3 = hosts
    async with contextlib.AsyncExitStack() as stack:
        processes = [await stack.enter_async_context(agent_process(host.config, start_timeout_s=START_TIMEOUT_S)) for host in hosts]
        app = ObsviewApp(hosts=[host.fleet_host() for host in hosts], client_options=FAST_RETRY)
        async with app.run_test(size=(160, 45)) as pilot:
            await wait_until(pilot, lambda: "3 of 3 hosts connected" in status_line(app), timeout=20)
            for offset, host in enumerate(hosts):
                host.write(range(0, 50), spacing=0.01, offset=offset * 0.003)
            await wait_until(pilot, lambda: len(held(app)) == 150, timeout=30)

            processes[1].send_signal(signal.SIGKILL)
            await processes[1].wait()
            await wait_until(pilot, lambda: "web-2" in status_line(app) and "2 of 3" in status_line(app))
            # The others keep streaming while web-2 is down (it gets its lines written too).
            for offset, host in enumerate(hosts):
                host.write(range(50, 100), spacing=0.01, offset=offset * 0.003)
            await wait_until(pilot, lambda: numbers_of(app, "web-1")[-1:] == [99]
                             and numbers_of(app, "web-3")[-1:] == [99], timeout=30)
            assert numbers_of(app, "web-2") == list(range(50))
            panel = app.dashboard.query_one(HostsPanel)
            await wait_until(pilot, lambda: any(row[0] == "web-2" and "reconnecting" in row[1]
                                                for row in panel.rows_shown))

            async with agent_process(web2.config, start_timeout_s=START_TIMEOUT_S):
                await wait_until(pilot, lambda: "3 of 3 hosts connected" in status_line(app), timeout=30)
                for offset, host in enumerate(hosts):
                    host.write(range(100, 120), spacing=0.01, offset=offset * 0.003)
                await wait_until(pilot, lambda: all(numbers_of(app, h.name)[-1:] == [119] for h in hosts),
                                 timeout=30)
                # The new web-2 read what was written while it was down, from its checkpoint:
                # each line once, in order, nothing asked for twice.
                for host in (web1, web2, web3):
                    assert numbers_of(app, host.name) == list(range(120)), host.name
                assert app.fleet_view is not None
                assert app.fleet_view.hosts["web-1"].gap == 0 and app.fleet_view.hosts["web-3"].gap == 0


@pytest.mark.timeout(90)
async def test_an_ack_reaches_only_the_agent_that_owns_the_alert(tmp_path: Path) -> None:
    hosts = make_hosts(tmp_path, 2)
    async with contextlib.AsyncExitStack() as stack:
        for host in hosts:
            await stack.enter_async_context(agent_process(host.config, start_timeout_s=START_TIMEOUT_S))
        app = ObsviewApp(hosts=[host.fleet_host() for host in hosts], client_options=FAST_RETRY)
        async with app.run_test(size=(160, 45)) as pilot:
            await wait_until(pilot, lambda: "2 of 2 hosts connected" in status_line(app), timeout=20)
            for host in hosts:
                host.write(range(0, 20), spacing=0.01, offset=0.0, start=time.time())  # live traffic
            feed = app.dashboard.query_one(AlertFeed)

            def firing() -> list[tuple[str, str]]:
                return [(a.labels.get("host", ""), a.rule) for a in feed.alerts if a.state == "firing"]

            await wait_until(pilot, lambda: sorted(firing()) == [("web-1", "traffic_seen"),
                                                                 ("web-2", "traffic_seen")], timeout=30)
            # Both rows name their host in the feed.
            assert {feed.name_text(a).plain for a in feed.alerts} == {"traffic_seen web-1",
                                                                     "traffic_seen web-2"}
            row = [a.labels["host"] for a in feed.alerts].index("web-2")
            feed.focus()
            feed.move_cursor(row=row)
            await pilot.pause()
            await pilot.press("a")
            await pilot.press(*"on it", "enter")
            assert app.fleet_view is not None
            view = app.fleet_view

            def acks() -> dict[str, object]:
                return {name: [a.ack.by if a.ack else None for a in status.alerts]
                        for name, status in view.hosts.items()}

            await wait_until(pilot, lambda: acks()["web-2"] != [None], timeout=10)
            # What each agent itself reports: web-2 holds the ack, web-1 was never asked.
            (acked,) = view.hosts["web-2"].alerts
            assert acked.ack is not None and acked.ack.note == "on it"
            await pilot.pause(0.5)
            assert acks()["web-1"] == [None]
