"""``run_demo``: an agent, the instrumented blog API, its fake dependencies, the scenario and
the load generator, all in this process and all stopped when the context is left."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import tempfile
from collections.abc import AsyncIterator, Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from obsview.backend.agent import Agent
from obsview.backend.config import AgentConfig
from obsview.backend.demo.app import Chaos, create_app
from obsview.backend.demo.deps import FakeDependency
from obsview.backend.demo.feed import AgentFeed, FeedHandler
from obsview.backend.demo.http_server import bind_loopback, serve_app
from obsview.backend.demo.loadgen import LoadGenerator
from obsview.backend.demo.rules import demo_rules
from obsview.backend.demo.scenario import Scenario
from obsview.backend.errors import StartupError
from obsview.backend.instrument import TRACE, ObsviewMiddleware
from obsview.backend.signals.health import parse_probes

DEFAULT_DURATION_S = 3600.0
"""How long the load generator runs when the caller does not say: an hour of demo."""
SERVICE = "blog-api"
APP_LOGGER = "obsview.demo.blog"
PROBE_INTERVAL_S = 2.0
#: Loggers that would otherwise print to the terminal the console draws on: the demo's
#: servers and clients, and the agent itself. Their warnings become events instead.
QUIETED_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "httpx", "httpcore")
INTERNAL_LOGGERS = ("obsview.backend", "websockets")


@dataclass(slots=True)
class DemoStack:
    agent: Agent
    agent_url: str
    api_url: str
    database: FakeDependency
    redis: FakeDependency
    scenario: Scenario
    load: LoadGenerator
    feed: AgentFeed
    api: ObsviewMiddleware
    """The middleware around the API; its ``failures`` counter is the demo's logging losses."""
    load_task: asyncio.Task[None]

    async def wait(self) -> None:
        """Return when the load generator has finished (its duration or request count)."""
        await asyncio.shield(self.load_task)


@contextlib.asynccontextmanager
async def run_demo(
    *,
    agent_port: int = 0,
    duration_s: float | None = None,
    rate: float = 20.0,
    time_scale: float = 1.0,
    start_s: float = 0.0,
    seed: int | None = None,
) -> AsyncIterator[DemoStack]:
    """Start the whole demo on loopback and yield it; leaving stops everything.

    ``agent_port`` 0 (or a busy port) picks a free one. ``duration_s`` bounds the load
    generator (default :data:`DEFAULT_DURATION_S`); ``time_scale`` > 1 plays the scenario
    faster and ``start_s`` starts it part-way (see :data:`~obsview.backend.demo.scenario.TIMELINE`).
    ``rate`` is requests per second (capped at 50); ``seed`` makes the traffic repeatable.
    The API's records reach the agent in-process, through :class:`AgentFeed`.
    """
    async with contextlib.AsyncExitStack() as stack:
        state_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="obsview-demo-")))
        database, redis = FakeDependency("database"), FakeDependency("redis")
        for dependency in (database, redis):
            await dependency.start()
            stack.push_async_callback(dependency.stop)

        api_socket = bind_loopback()
        stack.callback(api_socket.close)
        # Listening now lets the agent's first health probe wait in the backlog for the API
        # (started below, once the agent exists to feed) instead of being refused.
        api_socket.listen()
        api_url = f"http://127.0.0.1:{api_socket.getsockname()[1]}"
        config = AgentConfig(
            listen=("127.0.0.1", agent_port),
            service=SERVICE,
            probes=parse_probes(_probe_tables(api_url, database, redis)),
            rules=demo_rules(),
            state_dir=state_dir,
        )
        agent = await _start_agent(config)
        stack.push_async_callback(agent.stop)

        agent.expect_spans()  # the API is traced in-process: count each request once
        feed = AgentFeed(agent, service=SERVICE)
        stack.enter_context(_app_logging(feed))
        feed_task = asyncio.create_task(feed.run(), name="obsview-demo-feed")
        stack.push_async_callback(_stop_then_flush, feed_task, feed)

        chaos = Chaos(rng=random.Random(seed))
        api = create_app(
            db_port=database.port, redis_port=redis.port, chaos=chaos,
            logger=logging.getLogger(APP_LOGGER), emit=feed.access, spans=feed.span,
        )
        await stack.enter_async_context(serve_app(api, sock=api_socket))

        scenario = Scenario(chaos, database, redis, time_scale=time_scale, start_s=start_s)
        await scenario.apply()
        load = LoadGenerator(
            api_url, scenario, rate=rate, rng=random.Random(seed),
            duration_s=DEFAULT_DURATION_S if duration_s is None else duration_s,
        )
        _owned(stack, scenario.run(), "obsview-demo-scenario")
        load_task = _owned(stack, load.run(), "obsview-demo-load")
        yield DemoStack(
            agent=agent, agent_url=agent.url, api_url=api_url, database=database, redis=redis,
            scenario=scenario, load=load, feed=feed, api=api, load_task=load_task,
        )


def _probe_tables(api_url: str, database: FakeDependency, redis: FakeDependency) -> list[dict[str, Any]]:
    return [
        {"name": "blog-api", "kind": "http", "url": f"{api_url}/api/health", "interval": PROBE_INTERVAL_S,
         "timeout": 1.0, "critical": True},
        {"name": "database", "kind": "tcp", "host": "127.0.0.1", "port": database.port,
         "interval": PROBE_INTERVAL_S, "timeout": 1.0, "critical": True},
        {"name": "redis", "kind": "tcp", "host": "127.0.0.1", "port": redis.port,
         "interval": PROBE_INTERVAL_S, "timeout": 1.0},
    ]


async def _start_agent(config: AgentConfig) -> Agent:
    """Start on the requested port; when it is busy, on a free one instead."""
    agent = Agent(config)
    try:
        await agent.start()
    except StartupError:
        if config.listen[1] == 0:
            raise
        config.listen = ("127.0.0.1", 0)
        agent = Agent(config)
        await agent.start()
    return agent


def _owned(stack: contextlib.AsyncExitStack, coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
    task = asyncio.create_task(coro, name=name)
    stack.push_async_callback(_cancel_and_wait, task)
    return task


async def _cancel_and_wait(task: asyncio.Task[None]) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def _stop_then_flush(task: asyncio.Task[None], feed: AgentFeed) -> None:
    await _cancel_and_wait(task)
    await feed.flush()


@contextlib.contextmanager
def _app_logging(feed: AgentFeed) -> Iterator[None]:
    """Route the blog API's logs (every level, TRACE included) and the warnings of uvicorn,
    httpx and the agent into the feed instead of the terminal; put everything back afterwards."""
    app_handler = FeedHandler(feed, service=SERVICE, source="app:blog-api")
    library_handler = FeedHandler(feed, service=SERVICE, source="server:blog-api", level=logging.WARNING)
    agent_handler = FeedHandler(feed, service="obsview-agent", source="obsview", level=logging.WARNING)
    saved: list[tuple[logging.Logger, int, bool]] = []
    targets = [(logging.getLogger(APP_LOGGER), app_handler, TRACE)]
    targets += [(logging.getLogger(name), library_handler, logging.WARNING) for name in QUIETED_LOGGERS]
    targets += [(logging.getLogger(name), agent_handler, logging.WARNING) for name in INTERNAL_LOGGERS]
    for logger, handler, level in targets:
        saved.append((logger, logger.level, logger.propagate))
        logger.addHandler(handler)
        logger.setLevel(level)
        logger.propagate = False
    try:
        yield
    finally:
        for (logger, level, propagate), (_, handler, _) in zip(saved, targets):
            logger.removeHandler(handler)
            logger.setLevel(level)
            logger.propagate = propagate
