"""The console against a real agent on a real port: connect, lose it, get it back."""

from __future__ import annotations

from pathlib import Path

from app_test_support import screen_text, wait_until

from obsview.backend.agent import Agent
from obsview.backend.config import AgentConfig
from obsview.common.protocol import LogEvent
from obsview.tui.app import ObsviewApp

FAST_RETRY = {"backoff_initial": 0.05, "backoff_max": 0.2}


def event(message: str) -> LogEvent:
    return LogEvent(ts=1_795_618_800.0, level="WARN", message=message, service="blog-api")


def agent_config(state_dir: Path, port: int = 0) -> AgentConfig:
    return AgentConfig(listen=("127.0.0.1", port), state_dir=state_dir, service="blog-api")


def status_line(app: ObsviewApp) -> str:
    return str(app.dashboard.query_one("#sb-connection").content)  # type: ignore[attr-defined]


async def test_the_console_reconnects_when_the_agent_comes_back(tmp_path: Path) -> None:
    agent = Agent(agent_config(tmp_path))
    await agent.start()
    port = agent.port
    app = ObsviewApp(url=agent.url, client_options=FAST_RETRY)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_until(pilot, lambda: "connected to" in status_line(app))
            await agent.ingest([event("before the restart")])
            await wait_until(pilot, lambda: "before the restart" in screen_text(app))

            await agent.stop()
            await wait_until(pilot, lambda: "lost ws://127.0.0.1" in status_line(app))
            assert app.is_running
            assert "before the restart" in screen_text(app)  # what we had stays on screen

            agent = Agent(agent_config(tmp_path, port))
            await agent.start()
            await wait_until(pilot, lambda: "connected to" in status_line(app))
            await agent.ingest([event("after the restart")])
            await wait_until(pilot, lambda: "after the restart" in screen_text(app))
    finally:
        await agent.stop()


async def test_an_unreachable_agent_is_explained_and_d_starts_the_demo(tmp_path: Path) -> None:
    started: list[str] = []

    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def demo():  # type: ignore[no-untyped-def]
        # A real agent stands in for the demo stack: the key must connect the console to it.
        async with Agent(agent_config(tmp_path)) as demo_agent:
            started.append(demo_agent.url)
            yield demo_agent.url

    free = Agent(agent_config(tmp_path))
    await free.start()
    url = free.url
    await free.stop()  # nothing listens there any more
    app = ObsviewApp(url=url, client_options=FAST_RETRY, start_demo=demo)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: "cannot reach agent at" in status_line(app))
        text = screen_text(app)
        assert f"cannot reach agent at {url}" in text
        assert "obsview demo" in text and "obsview-agent --tail" in text
        assert "press d" in text
        await pilot.press("d")
        await wait_until(pilot, lambda: bool(started) and f"connected to {started[0]}" in status_line(app))
        assert app.check_action("start_demo", ()) is False
    assert app.demo_url is not None


async def test_a_client_that_dies_on_a_bug_is_shown_not_silent(tmp_path: Path) -> None:
    """The client's worker runs with exit_on_error=False; an exception in it (here its jitter,
    asked after the first failed connect) ended the connection for good with nothing shown."""
    agent = Agent(agent_config(tmp_path))
    await agent.start()
    url = agent.url
    await agent.stop()  # nothing answers there now: the client backs off, and asks its jitter

    def broken_jitter() -> float:
        raise RuntimeError("bug in the backoff")

    app = ObsviewApp(url=url, client_options={**FAST_RETRY, "jitter": broken_jitter})
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: "stopped" in status_line(app))
        assert "RuntimeError: bug in the backoff" in status_line(app)
        assert "not retrying" in status_line(app)
        assert "Restart the console" in screen_text(app)
        assert app.is_running
