"""One console over several real agents (in-process, real websockets on loopback ports)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from app_test_support import screen_text, wait_until
from injection_corpus import FORBIDDEN_CHARS

from obsview.backend.agent import Agent
from obsview.backend.config import AgentConfig
from obsview.common.protocol import LogEvent
from obsview.tui.app import ObsviewApp
from obsview.tui.fleet import FleetHost
from obsview.tui.widgets.hosts_panel import HostsPanel
from obsview.tui.widgets.log_view import LogView

FAST_RETRY = {"backoff_initial": 0.05, "backoff_max": 0.2}
T0 = 1_795_618_800.0


def status_line(app: ObsviewApp) -> str:
    return str(app.dashboard.query_one("#sb-connection").content)  # type: ignore[attr-defined]


@contextlib.asynccontextmanager
async def agents(tmp_path: Path, count: int) -> AsyncIterator[list[Agent]]:
    started: list[Agent] = []
    try:
        for number in range(count):
            state = tmp_path / f"agent-{number}"
            agent = Agent(AgentConfig(listen=("127.0.0.1", 0), state_dir=state, service="blog-api"))
            await agent.start()
            started.append(agent)
        yield started
    finally:
        for agent in started:
            await agent.stop()


async def test_two_agents_one_stream_in_time_order_with_a_host_column(tmp_path: Path) -> None:
    async with agents(tmp_path, 2) as (web1, web2):
        hosts = [FleetHost("web-1", web1.url), FleetHost("web-2", web2.url)]
        app = ObsviewApp(hosts=hosts, client_options=FAST_RETRY)
        async with app.run_test(size=(140, 40)) as pilot:
            await wait_until(pilot, lambda: "2 of 2 hosts connected" in status_line(app))
            # web-2's lines are older than web-1's second one: the merged stream interleaves.
            await web1.ingest([LogEvent(ts=T0 + 1, level="INFO", message="one-a"),
                               LogEvent(ts=T0 + 3, level="INFO", message="one-b")])
            await web2.ingest([LogEvent(ts=T0 + 2, level="WARN", message="two-a"),
                               LogEvent(ts=T0 + 4, level="WARN", message="two-b")])
            buffer = app.dashboard.buffer
            await wait_until(pilot, lambda: buffer.total == 4)
            shown = [(buffer[i].host, buffer[i].message) for i in range(len(buffer))]
            assert shown == [("web-1", "one-a"), ("web-2", "two-a"), ("web-1", "one-b"),
                             ("web-2", "two-b")]
            rows = [line for line in screen_text(app).splitlines() if "two-a" in line]
            assert rows and "web-2" in rows[0]
            assert app.dashboard.query_one(LogView).host_width == len("web-1")
            panel = app.dashboard.query_one(HostsPanel)
            await wait_until(pilot, lambda: [row[0] for row in panel.rows_shown] == ["web-1", "web-2", "fleet"])


async def test_one_agent_has_no_host_column_and_no_hosts_panel(tmp_path: Path) -> None:
    async with agents(tmp_path, 1) as (web1,):
        app = ObsviewApp(url=web1.url, client_options=FAST_RETRY)
        async with app.run_test(size=(140, 40)) as pilot:
            await wait_until(pilot, lambda: "connected to" in status_line(app))
            assert app.dashboard.query_one(LogView).host_width == 0
            assert not app.dashboard.query(HostsPanel)


async def test_a_host_refusing_the_token_and_a_dead_one_do_not_stop_the_third(tmp_path: Path) -> None:
    token_file = tmp_path / "secret" / "token"
    guarded = Agent(AgentConfig(listen=("127.0.0.1", 0), state_dir=tmp_path / "guarded",
                                token_file=token_file, service="blog-api"))
    await guarded.start()
    try:
        async with agents(tmp_path, 1) as (open_agent,):
            hosts = [FleetHost("web-1", open_agent.url),
                     FleetHost("web-2", guarded.url, token="wrong"),
                     FleetHost("web-3", "ws://127.0.0.1:9")]  # nothing listens on the discard port
            app = ObsviewApp(hosts=hosts, client_options=FAST_RETRY)
            async with app.run_test(size=(140, 40)) as pilot:
                await open_agent.ingest([LogEvent(ts=T0, level="INFO", message="still flowing")])
                await wait_until(pilot, lambda: app.dashboard.buffer.total == 1)
                panel = app.dashboard.query_one(HostsPanel)
                await wait_until(pilot, lambda: [row[:2] for row in panel.rows_shown[:3]] == [
                    ("web-1", "● connected"), ("web-2", "✖ wrong token"), ("web-3", "✖ unreachable")])
                line = status_line(app)
                assert "1 of 3 hosts connected" in line and "web-2 wrong token" in line
                assert "web-3 unreachable" in line
                assert app.dashboard.query_one("#sb-connection").has_class("-bad")  # a token to fix
    finally:
        await guarded.stop()


@pytest.mark.parametrize("name", ["[bold]x[/]", "\x1b]0;pwned\x07web", "[@click=app.quit]", "\u202eweb\x9b"])
async def test_hostile_host_names_reach_the_screen_only_as_clean_text(tmp_path: Path, name: str) -> None:
    async with agents(tmp_path, 1) as (web1,):
        hosts = [FleetHost(name, web1.url), FleetHost("web-2", "ws://127.0.0.1:9")]
        app = ObsviewApp(hosts=hosts, client_options=FAST_RETRY)
        async with app.run_test(size=(140, 40)) as pilot:
            await web1.ingest([LogEvent(ts=T0, level="INFO", message="from the hostile host")])
            await wait_until(pilot, lambda: app.dashboard.buffer.total == 1)
            await wait_until(pilot, lambda: "web-2 unreachable" in status_line(app))
            await pilot.pause(0.2)
            shown = screen_text(app)
            assert app.is_running and "from the hostile host" in shown
            leaked = {c for c in shown if c in FORBIDDEN_CHARS - {"\n"}}
            assert not leaked, f"reached the screen: {leaked!r}"


async def test_hosts_named_by_url_stay_apart_and_a_lost_host_shows_no_figures(tmp_path: Path) -> None:
    """At 120 columns both ``127.0.0.1:PORT`` names read "127.0.0…" (the end, which tells
    them apart, was cut), and a host whose agent went away kept showing its last req/s."""
    async with agents(tmp_path, 2) as (web1, web2):
        names = [agent.url.removeprefix("ws://") for agent in (web1, web2)]
        hosts = [FleetHost(name, agent.url) for name, agent in zip(names, (web1, web2))]
        app = ObsviewApp(hosts=hosts, client_options=FAST_RETRY)
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_until(pilot, lambda: "2 of 2 hosts connected" in status_line(app))
            panel = app.dashboard.query_one(HostsPanel)
            await wait_until(pilot, lambda: all(row[2] != "—" for row in panel.rows_shown[:2]))
            ports = [name.rsplit(":", 1)[1] for name in names]

            def panel_lines() -> list[str]:
                return [line for line in screen_text(app).splitlines() if "● connected" in line]

            await wait_until(pilot, lambda: all(any(port in line for line in panel_lines()) for port in ports))
            await web2.stop()
            await wait_until(pilot, lambda: "1 of 2 hosts connected" in status_line(app))
            await wait_until(pilot, lambda: panel.rows_shown[1][2:5] == ("—", "—", "—"))
