"""ObsviewMiddleware around a small Starlette app on a real uvicorn server, driven by httpx."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

from obsview.backend.demo.http_server import serve_app
from obsview.backend.instrument import JsonFormatter, ObsviewMiddleware, TraceIdFilter, current_trace_id

HEX32 = re.compile(r"[0-9a-f]{32}")


class ListHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@dataclass(slots=True)
class ServedApp:
    url: str
    records: list[dict[str, Any]]
    app_logs: ListHandler
    middleware: ObsviewMiddleware
    seen_trace_ids: list[str] = field(default_factory=list)


def build_app(app_logger: logging.Logger, seen: list[str], middleware: list[Middleware] | None = None) -> Starlette:
    async def item(request: Request) -> JSONResponse:
        seen.append(current_trace_id())
        app_logger.info("Data access", extra={"resource": "item", "resourceId": request.path_params["item_id"]})
        return JSONResponse({"id": request.path_params["item_id"]})

    async def me(request: Request) -> PlainTextResponse:
        request.state.user_id = 7
        return PlainTextResponse("me")

    async def boom(request: Request) -> PlainTextResponse:
        raise ValueError("database exploded")

    async def created(request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok", status_code=201)

    return Starlette(
        routes=[
            Route("/items/{item_id:int}", item),
            Route("/me", me),
            Route("/boom", boom),
            Route("/things", created, methods=["POST"]),
        ],
        middleware=middleware,
    )


@pytest.fixture
async def service() -> AsyncIterator[ServedApp]:
    records: list[dict[str, Any]] = []
    app_logs = ListHandler()
    app_logs.addFilter(TraceIdFilter())
    app_logger = logging.getLogger("tests.demo.app")
    app_logger.propagate = False
    app_logger.setLevel(logging.DEBUG)
    app_logger.addHandler(app_logs)
    seen: list[str] = []
    middleware = ObsviewMiddleware(build_app(app_logger, seen), emit=records.append, service="test-svc")
    try:
        async with serve_app(middleware) as url:
            yield ServedApp(url, records, app_logs, middleware, seen)
    finally:
        app_logger.removeHandler(app_logs)


async def get(service: ServedApp, path: str, **kwargs: Any) -> httpx.Response:
    async with httpx.AsyncClient(base_url=service.url, timeout=5) as client:
        return await client.get(path, **kwargs)


async def test_access_record_has_route_template_status_duration_and_generated_trace(service: ServedApp) -> None:
    response = await get(service, "/items/42?x=1", headers={"User-Agent": "pytest-agent"})
    assert response.status_code == 200
    (record,) = service.records
    trace_id = response.headers["x-trace-id"]
    assert HEX32.fullmatch(trace_id)
    assert record["traceId"] == trace_id
    assert record["route"] == "/items/:item_id"
    assert record["level"] == "INFO"
    assert record["message"] == "Request completed"
    assert record["service"] == "test-svc"
    assert record["request"]["method"] == "GET"
    assert record["request"]["url"] == "/items/42?x=1"
    assert record["request"]["ip"] == "127.0.0.1"
    assert record["request"]["userAgent"] == "pytest-agent"
    assert record["response"]["statusCode"] == 200
    assert record["duration"] == record["response"]["responseTime"] > 0
    assert record["timestamp"].endswith("Z")


async def test_app_logs_see_the_request_trace_id(service: ServedApp) -> None:
    response = await get(service, "/items/1")
    trace_id = response.headers["x-trace-id"]
    assert service.seen_trace_ids == [trace_id]
    (log,) = service.app_logs.records
    assert log.traceId == trace_id  # type: ignore[attr-defined]


async def test_trace_id_taken_from_headers_in_precedence_order(service: ServedApp) -> None:
    parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    cases = [
        ({"traceparent": parent, "X-Trace-Id": "other"}, "4bf92f3577b34da6a3ce929d0e0e4736"),
        ({"X-Trace-Id": "abc-123", "X-Request-Id": "req-1"}, "abc-123"),
        ({"X-Request-Id": "req-1", "X-Correlation-Id": "corr-1"}, "req-1"),
        ({"X-Correlation-Id": "corr-1"}, "corr-1"),
    ]
    for headers, expected in cases:
        response = await get(service, "/items/1", headers=headers)
        assert response.headers["x-trace-id"] == expected
        assert service.records[-1]["traceId"] == expected
    assert service.records[2]["request"]["id"] == "req-1"
    assert service.records[2]["request"]["correlationId"] == "corr-1"


async def test_unusable_trace_headers_get_a_fresh_id(service: ServedApp) -> None:
    for headers in (
        {"traceparent": "00-" + "0" * 32 + "-00f067aa0ba902b7-01"},  # all-zero trace is invalid
        {"traceparent": "garbage"},
        {"X-Trace-Id": "a" * 500},
        {"X-Trace-Id": "<script>"},
    ):
        response = await get(service, "/items/1", headers=headers)
        assert HEX32.fullmatch(response.headers["x-trace-id"]), headers


async def test_levels_follow_status_class_and_unmatched_paths_have_no_route(service: ServedApp) -> None:
    async with httpx.AsyncClient(base_url=service.url, timeout=5) as client:
        assert (await client.post("/things")).status_code == 201
        assert (await client.get("/nowhere")).status_code == 404
    created, missing = service.records
    assert (created["level"], created["route"], created["request"]["method"]) == ("INFO", "/things", "POST")
    assert missing["level"] == "WARN"
    assert missing["response"]["statusCode"] == 404
    assert "route" not in missing


async def test_user_id_from_request_state(service: ServedApp) -> None:
    await get(service, "/me")
    assert service.records[-1]["request"]["userId"] == 7


async def test_exception_gives_error_record_with_stack_and_is_reraised(service: ServedApp) -> None:
    uvicorn_errors = ListHandler()
    error_logger = logging.getLogger("uvicorn.error")
    error_logger.addHandler(uvicorn_errors)  # keeps the re-raised error off the test output
    try:
        response = await get(service, "/boom")
    finally:
        error_logger.removeHandler(uvicorn_errors)
    assert response.status_code == 500
    record = service.records[-1]
    assert record["level"] == "ERROR"
    assert record["response"]["statusCode"] == 500
    assert record["error"]["type"] == "ValueError"
    assert record["error"]["message"] == "database exploded"
    assert "in boom" in record["error"]["stack"]
    assert uvicorn_errors.records, "the exception must still reach the server"


async def test_emit_failure_is_counted_never_raised() -> None:
    def broken_emit(record: dict[str, Any]) -> None:
        raise RuntimeError("log sink down")

    app = ObsviewMiddleware(build_app(logging.getLogger("tests.demo.quiet"), []), emit=broken_emit)
    async with serve_app(app) as url, httpx.AsyncClient(base_url=url, timeout=5) as client:
        responses = [await client.get("/items/3") for _ in range(3)]
    assert [r.status_code for r in responses] == [200, 200, 200]
    assert app.failures == 3
    assert app.records == 0


async def test_starlette_middleware_list_and_json_logger_output() -> None:
    sink = ListHandler()
    access = logging.getLogger("tests.demo.access")
    access.propagate = False
    access.setLevel(logging.INFO)
    access.addHandler(sink)
    app = build_app(logging.getLogger("tests.demo.quiet"), [], [Middleware(ObsviewMiddleware, logger=access)])
    try:
        async with serve_app(app) as url, httpx.AsyncClient(base_url=url, timeout=5) as client:
            ok = await client.get("/items/5")
            await client.get("/nowhere")
    finally:
        access.removeHandler(sink)
    first, second = (orjson.loads(r.getMessage()) for r in sink.records)
    assert first["traceId"] == ok.headers["x-trace-id"]
    assert first["route"] == "/items/:item_id"
    assert [r.levelno for r in sink.records] == [logging.INFO, logging.WARNING]
    assert second["response"]["statusCode"] == 404
    # Through JsonFormatter the access record is written as itself, not as a JSON string.
    formatted = orjson.loads(JsonFormatter().format(sink.records[0]))
    assert formatted == {**first, "logger": "tests.demo.access"}


async def test_cancelled_request_is_a_499_without_error_and_cancellation_propagates() -> None:
    records: list[dict[str, Any]] = []

    async def never_answers(scope: Any, receive: Any, send: Any) -> None:
        await asyncio.Event().wait()

    app = ObsviewMiddleware(never_answers, emit=records.append)
    scope = {"type": "http", "method": "GET", "path": "/slow", "headers": [], "query_string": b""}
    task = asyncio.create_task(app(scope, None, None))  # type: ignore[arg-type]
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    (record,) = records
    assert (record["response"]["statusCode"], record["level"]) == (499, "WARN")
    assert "error" not in record
