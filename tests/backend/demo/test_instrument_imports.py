"""The instrument runs inside the user's service: importing and using it loads none of the
agent's or the console's libraries (a fresh interpreter, so nothing else loaded them first)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

#: What the agent, the console and the demo use, which a service being instrumented must not pay for.
HEAVY = ("textual", "rich", "psutil", "aiosmtplib", "google.protobuf", "opentelemetry.proto",
         "starlette", "uvicorn", "httpx", "websockets", "msgspec", "lz4", "prometheus_client",
         "platformdirs", "obsview.tui")

SERVICE = """
import asyncio, json, logging, sys
from obsview.backend.instrument import JsonFormatter, ObsviewHandler, ObsviewMiddleware, span

async def app(scope, receive, send):
    with span("SELECT posts", kind="client"):
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

async def request():
    records = []
    middleware = ObsviewMiddleware(app, emit=records.append, spans=lambda s: None)
    scope = {"type": "http", "method": "GET", "path": "/api/posts", "raw_path": b"/api/posts",
             "query_string": b"", "headers": [(b"user-agent", b"probe")], "client": ("127.0.0.1", 1)}
    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}
    async def send(message):
        pass
    await middleware(scope, receive, send)
    return records

records = asyncio.run(request())
assert records and records[0]["response"]["statusCode"] == 200, records
handler = ObsviewHandler(port=1, connect_timeout=0.1, flush_timeout=0.1)
handler.setFormatter(JsonFormatter(service="svc"))
logging.getLogger("probe").addHandler(handler)
logging.getLogger("probe").warning("hello %s", "world")
handler.close()
print(json.dumps(sorted(sys.modules)))
"""


def test_instrumenting_a_service_loads_nothing_heavy() -> None:
    result = subprocess.run([sys.executable, "-c", SERVICE], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout)
    heavy = sorted(name for name in loaded if name in HEAVY or name.startswith(tuple(f"{h}." for h in HEAVY)))
    assert heavy == [], f"importing and using obsview.backend.instrument loaded {heavy}"
    assert "obsview.backend.instrument" in loaded


#: Counts the import system's searches for OpenTelemetry while the service above runs: where
#: it is not installed, each search is a failed import (~40 µs), and one per request or log
#: record made the middleware 41 µs a request instead of 5.
SEARCHES = """
import sys

class Searches:
    count = 0
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "opentelemetry":
            Searches.count += 1
        return None

sys.meta_path.insert(0, Searches())
""" + SERVICE.replace("print(json.dumps(sorted(sys.modules)))", "print(Searches.count)")


def test_a_service_without_opentelemetry_never_searches_for_it() -> None:
    env = {key: value for key, value in os.environ.items() if key != "OTEL_PYTHON_TRACER_PROVIDER"}
    result = subprocess.run([sys.executable, "-c", SEARCHES], capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "0"
