"""A Starlette app with ObsviewMiddleware and ObsviewHandler, shipping over TCP to a real
agent, seen by a websocket client the way the console sees it: routes, statuses, durations,
trace IDs, app logs with exc_info and extra fields."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from websockets.asyncio.client import connect

from obsview.backend.agent import Agent
from obsview.backend.config import AgentConfig
from obsview.backend.demo.http_server import serve_app
from obsview.backend.ingest.sources.tcp import TcpSource
from obsview.backend.instrument import ObsviewHandler, ObsviewMiddleware
from obsview.common.protocol import Events, LogEvent, Subscribe, decode, encode


def build_app(log: logging.Logger) -> Starlette:
    async def get_post(request: Request) -> JSONResponse:
        post_id = request.path_params["post_id"]
        if post_id > 100:
            return JSONResponse({"error": "not_found"}, status_code=404)
        log.info("Data access", extra={"resource": "post", "resourceId": post_id})
        return JSONResponse({"id": post_id})

    async def pay(request: Request) -> JSONResponse:
        try:
            raise ConnectionError("payment-api timed out")
        except ConnectionError:
            log.exception("Unhandled error occurred", extra={"errorId": "e-42"})
        return JSONResponse({"error": "internal_server_error", "errorId": "e-42"}, status_code=500)

    return Starlette(routes=[
        Route("/api/posts/{post_id:int}", get_post),
        Route("/api/pay", pay, methods=["POST"]),
    ])


async def test_instrumented_starlette_app_appears_in_the_agent_stream(tmp_path: Path) -> None:
    config = AgentConfig(listen=("127.0.0.1", 0), tcp=[("127.0.0.1", 0)], service="shop", probes=[],
                         state_dir=tmp_path)
    async with Agent(config) as agent:
        (source,) = [s for s in agent.sources if isinstance(s, TcpSource)]
        handler = ObsviewHandler(port=source.port, service="shop", max_backoff=0.2)
        loggers = [logging.getLogger("tests.demo.shop"), logging.getLogger("tests.demo.shop.access")]
        for logger in loggers:
            logger.handlers[:] = [handler]
            logger.propagate = False
            logger.setLevel(logging.INFO)
        app = ObsviewMiddleware(build_app(loggers[0]), logger=loggers[1], service="shop")
        try:
            async with serve_app(app) as url, httpx.AsyncClient(base_url=url, timeout=5) as client:
                ok = await client.get("/api/posts/7", headers={"X-Trace-Id": "trace-ok"})
                missing = await client.get("/api/posts/404")
                failed = await client.post("/api/pay")
        finally:
            handler.close()
            for logger in loggers:
                logger.handlers[:] = []
        assert (handler.sent, handler.dropped) == (5, 0)

        events: list[LogEvent] = []
        async with connect(agent.url) as ws:
            await ws.send(encode(Subscribe(since_seq=0)))
            async with asyncio.timeout(5):
                while len(events) < 5:
                    message = decode(await ws.recv())
                    if isinstance(message, Events):
                        events.extend(message.events)

    access = {e.status: e for e in events if e.is_access}
    assert set(access) == {200, 404, 500}
    assert (access[200].route, access[200].method, access[200].path) == ("/api/posts/:post_id", "GET", "/api/posts/7")
    assert access[200].trace_id == "trace-ok" == ok.headers["x-trace-id"]
    assert access[404].level == "WARN" and access[404].trace_id == missing.headers["x-trace-id"]
    assert access[500].level == "ERROR" and access[500].route == "/api/pay"
    assert all(e.duration_ms is not None and e.duration_ms > 0 and e.service == "shop" for e in access.values())

    (data_access,) = [e for e in events if e.message == "Data access"]
    assert data_access.trace_id == "trace-ok"
    assert data_access.extra["resource"] == "post"
    (error,) = [e for e in events if e.message == "Unhandled error occurred"]
    assert (error.level, error.error_type, error.error_message) == ("ERROR", "ConnectionError", "payment-api timed out")
    assert "raise ConnectionError" in error.stack
    assert error.trace_id == failed.headers["x-trace-id"]
    assert error.extra["errorId"] == "e-42"
