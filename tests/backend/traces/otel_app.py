"""A small Starlette app instrumented with the real OpenTelemetry SDK, run as its own process
(the SDK's global tracer provider can be set once per process): its spans and logs go to the
agent's OTLP/HTTP receiver through the SDK's own exporters. Prints, as JSON, the spans the
SDK finished (from an in-memory exporter beside the OTLP one) and the request count.

Usage: python otel_app.py OTLP_PORT REQUESTS
"""

from __future__ import annotations

import asyncio
import logging
import sys

import httpx
import orjson
from opentelemetry import trace
from opentelemetry._logs import set_logger_provider
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from obsview.backend.demo.http_server import serve_app
from obsview.backend.instrument import ObsviewMiddleware, span


def access_log(logger: logging.Logger) -> object:
    """The middleware's access record logged with OpenTelemetry's HTTP attribute names."""
    def emit(record: dict[str, object]) -> None:
        request = record["request"]
        response = record["response"]
        assert isinstance(request, dict) and isinstance(response, dict)
        logger.info("Request completed", extra={
            "http.request.method": request["method"], "http.route": record.get("route"),
            "http.response.status_code": response["statusCode"],
            "http.server.request.duration": float(response["responseTime"]) / 1000,
        })
    return emit


async def main(port: int, requests: int) -> None:
    resource = Resource.create({"service.name": "posts-api"})
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(SimpleSpanProcessor(memory))
    provider.add_span_processor(BatchSpanProcessor(
        OTLPSpanExporter(endpoint=f"http://127.0.0.1:{port}/v1/traces")))
    trace.set_tracer_provider(provider)
    logs = LoggerProvider(resource=resource)
    logs.add_log_record_processor(BatchLogRecordProcessor(
        OTLPLogExporter(endpoint=f"http://127.0.0.1:{port}/v1/logs")))
    set_logger_provider(logs)
    logger = logging.getLogger("posts")
    logger.setLevel(logging.INFO)
    logger.addHandler(LoggingHandler(level=logging.INFO, logger_provider=logs))

    async def get_post(request: Request) -> JSONResponse:
        with span("cache GET", kind="client", **{"db.system": "redis"}):
            logger.info("cache miss")
        with span("SELECT post", kind="client", **{"db.system": "postgresql"}):
            with span("pool.acquire"):
                pass
            logger.warning("slow query")
        return JSONResponse({"id": request.path_params["post_id"]})

    app = ObsviewMiddleware(Starlette(routes=[Route("/api/posts/{post_id}", get_post)]),
                            emit=access_log(logger), service="posts-api")  # type: ignore[arg-type]
    async with serve_app(app) as url, httpx.AsyncClient() as client:
        for n in range(requests):
            (await client.get(f"{url}/api/posts/{n}")).raise_for_status()
    provider.force_flush()
    logs.force_flush()
    spans = [{"trace_id": f"{s.context.trace_id:032x}", "span_id": f"{s.context.span_id:016x}",
              "parent_id": f"{s.parent.span_id:016x}" if s.parent else "", "name": s.name}
             for s in memory.get_finished_spans()]
    provider.shutdown()
    logs.shutdown()
    sys.stdout.write(orjson.dumps({"spans": spans, "requests": requests}).decode())


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), int(sys.argv[2])))
