"""Serve an ASGI app with uvicorn on a loopback port, as a task its caller owns."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Iterator
from typing import Any

import uvicorn


class _EmbeddedServer(uvicorn.Server):
    """uvicorn without its signal handlers: the process that embeds it (the console, the
    agent, pytest) owns SIGINT/SIGTERM, and the server is stopped by its owner instead."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def bind_loopback(port: int = 0, host: str = "127.0.0.1") -> socket.socket:
    """A listening-ready TCP socket on ``port``, or on a free port when that one is busy."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        if port == 0:
            sock.close()
            raise
        sock.bind((host, 0))
    return sock


@contextlib.asynccontextmanager
async def serve_app(
    app: Any,
    *,
    port: int = 0,
    sock: socket.socket | None = None,
    startup_timeout: float = 5.0,
    shutdown_timeout: float = 3.0,
) -> AsyncIterator[str]:
    """Run ``app`` on 127.0.0.1 (on ``sock`` when the caller bound one already, to know the
    URL in advance) and yield its base URL; leaving stops the server and closes the port.
    uvicorn's own logging is left unconfigured (``log_config=None``) so it never writes to a
    terminal the console owns."""
    sock = sock or bind_loopback(port)
    bound_port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        log_config=None,
        log_level="warning",
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=1,
    )
    server = _EmbeddedServer(config)
    task = asyncio.create_task(server.serve(sockets=[sock]), name=f"uvicorn:{bound_port}")
    try:
        deadline = asyncio.get_running_loop().time() + startup_timeout
        while not server.started:
            if task.done():
                task.result()  # re-raise why it could not start
                raise RuntimeError("the HTTP server stopped during startup")
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"the HTTP server did not start within {startup_timeout} s")
            await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{bound_port}"
    finally:
        server.should_exit = True
        try:
            await asyncio.wait({task}, timeout=shutdown_timeout)
        finally:
            if not task.done():
                server.force_exit = True
                task.cancel()
            await asyncio.gather(task, return_exceptions=True)  # also retrieves its error
            sock.close()
