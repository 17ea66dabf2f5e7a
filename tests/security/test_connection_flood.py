"""A flood of idle sockets on the agent's port neither locks consoles out nor floods the log.

The agent runs as a real ``obsview-agent`` process under a low descriptor limit (256), so a
bounded flood (600 sockets on loopback) reaches the limit as 1,100 sockets did at 1024.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import resource
import socket
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import TypeVar

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidHandshake, InvalidStatus

from obsview.backend.serving.accept_errors import ACCEPT_MESSAGE, INTERVAL_S, AcceptErrorLimiter
from obsview.common.protocol import Hello, decode

T = TypeVar("T")
DESCRIPTORS = 256
FLOOD = 600


def _low_descriptor_limit() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (DESCRIPTORS, DESCRIPTORS))


@contextlib.asynccontextmanager
async def agent_process(stderr: Path) -> AsyncIterator[int]:
    """A real agent process on a free loopback port; its port."""
    with stderr.open("wb") as err:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "obsview.backend.cli", "--listen", "127.0.0.1:0",
            stdout=asyncio.subprocess.PIPE, stderr=err, preexec_fn=_low_descriptor_limit,
        )
        try:
            assert process.stdout is not None
            line = (await asyncio.wait_for(process.stdout.readline(), 20)).decode()
            yield int(line.split("ws://127.0.0.1:")[1].split()[0])
        finally:
            process.terminate()
            await asyncio.wait_for(process.wait(), 10)


@contextlib.contextmanager
def idle_sockets(port: int, count: int) -> Iterator[None]:
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                sock.connect(("127.0.0.1", port))
            sockets.append(sock)
        yield
    finally:
        for sock in sockets:
            sock.close()


async def like_a_console(attempt: Callable[[], Awaitable[T]]) -> T:
    """``attempt`` retried as the console reconnects (a refusal is a closed socket, at once),
    within five seconds: a flood may win a moment, never the whole time."""
    deadline = time.monotonic() + 5
    while True:
        try:
            return await asyncio.wait_for(attempt(), 1)
        except (OSError, TimeoutError, httpx.HTTPError, InvalidHandshake):
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)


async def http_get(port: int, path: str) -> httpx.Response:
    async with httpx.AsyncClient(timeout=1) as http:
        return await http.get(f"http://127.0.0.1:{port}{path}")


async def first_message(port: int) -> object:
    async with connect(f"ws://127.0.0.1:{port}", open_timeout=1) as ws:
        return decode(await ws.recv())


async def test_idle_socket_flood_leaves_consoles_served_and_the_log_quiet(tmp_path: Path) -> None:
    # e629b84: /api/health timed out and stderr got ~12k lines a second.
    stderr = tmp_path / "agent.stderr"
    async with agent_process(stderr) as port:
        with idle_sockets(port, FLOOD):
            # Sockets the backlog could not take retry their SYN after 1 s and 3 s: at 3.5 s
            # the whole flood has arrived.
            await asyncio.sleep(3.5)
            health = await like_a_console(lambda: http_get(port, "/api/health"))
            hello = await like_a_console(lambda: first_message(port))
            counters = (await like_a_console(lambda: http_get(port, "/metrics"))).text
    assert health.status_code == 200
    assert isinstance(hello, Hello)
    assert "obsview_agent_connections_refused" in counters
    assert len(stderr.read_bytes().splitlines()) < 10


async def test_accept_errors_are_logged_once_per_interval(caplog: pytest.LogCaptureFixture) -> None:
    loop = asyncio.get_running_loop()
    now = [100.0]
    limiter = AcceptErrorLimiter(clock=lambda: now[0])
    limiter.install(loop)
    report = {"message": ACCEPT_MESSAGE, "exception": OSError(24, "Too many open files")}
    try:
        with caplog.at_level(logging.ERROR, logger="obsview.backend.serving.accept_errors"):
            for _ in range(1000):
                loop.call_exception_handler(report)
            now[0] += INTERVAL_S
            loop.call_exception_handler(report)
    finally:
        limiter.uninstall(loop)
    assert len(caplog.records) == 2
    assert "999 more" in caplog.records[1].getMessage()


async def test_consoles_that_never_leave_leave_health_and_the_endpoints_served(tmp_path: Path) -> None:
    """One process opening websocket consoles up to the connection cap (96 under this
    descriptor limit) and holding them locked out everything else: /api/health got a
    reset connection and a new console 'did not receive a valid HTTP response'. Consoles
    now stop short of the cap: the rest is kept for HTTP, and the next console is told 503."""
    stderr = tmp_path / "agent.stderr"
    async with agent_process(stderr) as port, contextlib.AsyncExitStack() as held:
        url = f"ws://127.0.0.1:{port}"
        refused: InvalidStatus | None = None
        for _ in range(DESCRIPTORS):  # bounded: the cap is far below
            try:
                await held.enter_async_context(connect(url, open_timeout=2, max_queue=1))
            except InvalidStatus as exc:
                refused = exc
                break
        assert refused is not None and refused.response.status_code == 503
        assert b"consoles are connected already" in refused.response.body
        for _ in range(20):  # HTTP requests one after another: each gets its slot back
            assert (await http_get(port, "/api/health")).status_code == 200
        metrics = (await http_get(port, "/metrics")).text
        await held.aclose()  # the consoles leave: a new one gets in
        hello = await like_a_console(lambda: first_message(port))
    assert isinstance(hello, Hello)
    assert "obsview_agent_connections_refused_total 1.0" in metrics
