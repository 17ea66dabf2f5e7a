"""Spans through a real agent beside log records through the same receiver, and the waterfall
of a 500-span trace on screen beside a table of the same rows, each in the same run.

* OTLP/HTTP protobuf exports POSTed to a real agent on loopback: spans/s received, decoded,
  redacted, stored and counted, against log records/s of the same requests' size through
  ``/v1/logs`` (rounds interleaved).
* A 500-span trace with 100 log lines: the waterfall's own work (layout, then drawing the
  visible rows) against sorting the same items; and the whole screen pushed until its first
  frame is drawn, against a ``DataTable`` screen of the same 600 rows (what the trace screen
  was) and an empty screen (Textual's floor). The issue's bound: 50 ms.

    uv run python benchmarks/traces.py [--quick]
"""

from __future__ import annotations

import asyncio
import base64
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make ``benchmarks`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
from google.protobuf import json_format
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from benchmarks.figures import Figure, figure, run_alone
from obsview.backend.agent import Agent
from obsview.backend.config import AgentConfig
from obsview.backend.ingest.sources.otlp import OtlpHttpSource

PER_REQUEST = 500
T0_NS = 1_764_079_200_000_000_000


def _attr(key: str, value: Any) -> dict[str, Any]:
    kind = "intValue" if isinstance(value, int) else "stringValue"
    return {"key": key, "value": {kind: value}}


def _span_export(request: int) -> bytes:
    """One request's worth of spans: 100 traces of a server span and four client spans."""
    spans = []
    for n in range(PER_REQUEST):
        trace = f"{request + 1:016x}{n // 5:016x}"  # never all zeros (no trace)
        root = f"{n // 5 + 1:016x}"
        start = T0_NS + n * 1_000_000
        server = n % 5 == 0
        spans.append({
            "traceId": trace, "spanId": root if server else f"{n + 1:08x}{request:08x}",
            "parentSpanId": "" if server else root, "name": "GET /api/posts/:id" if server else "SELECT posts",
            "kind": 2 if server else 3, "startTimeUnixNano": start, "endTimeUnixNano": start + 4_000_000,
            "attributes": [_attr("http.request.method", "GET"), _attr("http.route", "/api/posts/:id"),
                           _attr("http.response.status_code", 200)] if server else
                          [_attr("db.system", "postgresql"), _attr("db.statement", "SELECT * FROM posts WHERE id = $1")],
        })
    export = {"resourceSpans": [{"resource": {"attributes": [_attr("service.name", "blog-api")]},
                                 "scopeSpans": [{"scope": {"name": "bench"}, "spans": spans}]}]}
    for span in spans:  # protobuf's JSON mapping spells ids in base64
        for key in ("traceId", "spanId", "parentSpanId"):
            if span[key]:
                span[key] = base64.b64encode(bytes.fromhex(span[key])).decode()
            else:
                del span[key]
    return json_format.ParseDict(export, ExportTraceServiceRequest()).SerializeToString()  # type: ignore[no-any-return]


def _log_export(request: int) -> bytes:
    """The same number of log records, each an access record with the same attributes."""
    records = [{
        "timeUnixNano": T0_NS + n * 1_000_000, "severityNumber": 9,
        "body": {"stringValue": "Request completed"},
        "attributes": [_attr("http.request.method", "GET"), _attr("http.route", "/api/posts/:id"),
                       _attr("http.response.status_code", 200), _attr("db.system", "postgresql")],
    } for n in range(PER_REQUEST)]
    export = {"resourceLogs": [{"resource": {"attributes": [_attr("service.name", "blog-api")]},
                                "scopeLogs": [{"scope": {"name": "bench"}, "logRecords": records}]}]}
    return json_format.ParseDict(export, ExportLogsServiceRequest()).SerializeToString()  # type: ignore[no-any-return]


async def _receive(requests: int, rounds: int) -> tuple[float, float]:
    """(spans/s, log records/s), each the best of ``rounds`` interleaved rounds."""
    spans_bodies = [_span_export(n) for n in range(requests)]
    logs_bodies = [_log_export(n) for n in range(requests)]
    best = {"spans": 0.0, "logs": 0.0}
    with tempfile.TemporaryDirectory(prefix="obsview-bench-") as state:
        for round_number in range(rounds):
            config = AgentConfig(listen=("127.0.0.1", 0), state_dir=Path(state),
                                 otlp=[("127.0.0.1", 0)])
            async with Agent(config) as agent, httpx.AsyncClient(timeout=30) as client:
                (source,) = agent.sources
                assert isinstance(source, OtlpHttpSource)
                base = f"http://127.0.0.1:{source.port}"
                order = [("spans", "/v1/traces", spans_bodies), ("logs", "/v1/logs", logs_bodies)]
                for kind, path, bodies in order if round_number % 2 == 0 else order[::-1]:
                    started = time.perf_counter()
                    for body in bodies:
                        response = await client.post(f"{base}{path}", content=body,
                                                     headers={"Content-Type": "application/x-protobuf"})
                        response.raise_for_status()
                    rate = len(bodies) * PER_REQUEST / (time.perf_counter() - started)
                    best[kind] = max(best[kind], rate)
                assert agent.traces.spans + agent.traces.spans_evicted == requests * PER_REQUEST, agent.counters()
    return best["spans"], best["logs"]


def _trace(spans: int, logs: int) -> tuple[list[Any], list[Any]]:
    from obsview.common.protocol import LogEvent
    from obsview.common.spans import Span

    trace = "ab" * 16
    made = [Span(trace_id=trace, span_id=f"{n + 1:016x}", parent_id=f"{(n - 1) // 4 + 1:016x}" if n else "",
                 name=f"op {n}", start=100.0 + n * 0.001, end=100.0 + n * 0.001 + 0.05,
                 service="blog-api", kind=3 if n else 2) for n in range(spans)]
    lines = [LogEvent(ts=100.0 + n * 0.005, level="INFO", message=f"line {n}", seq=n + 1,
                      trace_id=trace, span_id=f"{n * 5 + 1:016x}") for n in range(logs)]
    return made, lines


async def _first_frame(kind: str, rounds: int) -> float:
    """Best time in ms from pushing a screen to its first frame drawn: the waterfall, a
    DataTable of the same rows (what the trace screen was), or an empty screen (Textual's
    own floor for any screen)."""
    from rich.text import Text
    from textual.app import App
    from textual.screen import Screen
    from textual.widgets import DataTable

    from obsview.tui.screens.trace import TraceScreen

    spans, lines = _trace(500, 100)

    class TableScreen(Screen[None]):
        def compose(self) -> Any:
            table: DataTable[Text] = DataTable()
            for column in ("Offset", "Service", "Name", "Took"):
                table.add_column(column)
            for span in spans:
                table.add_row(Text(f"{span.start:.3f}"), Text(span.service), Text(span.name),
                              Text(f"{span.duration_ms:.1f}"))
            for line in lines:
                table.add_row(Text(f"{line.ts:.3f}"), Text(""), Text(line.message), Text(""))
            yield table

    def make() -> Screen[None]:
        if kind == "waterfall":
            return TraceScreen("ab" * 16, spans, lines)
        return TableScreen() if kind == "table" else Screen()

    best = float("inf")
    app: App[None] = App()
    async with app.run_test(size=(160, 50)) as pilot:
        for _ in range(rounds):
            screen = make()
            started = time.perf_counter()
            await app.push_screen(screen)
            await pilot.pause()
            best = min(best, (time.perf_counter() - started) * 1000)
            await app.pop_screen()
            await pilot.pause()
    return best


def _waterfall_work(rounds: int) -> tuple[float, float]:
    """(layout + drawing the 48 visible rows, sorting the same items by time), best ms."""
    from rich.style import Style

    from obsview.tui.waterfall import layout
    from obsview.tui.widgets import waterfall_view
    from obsview.tui.widgets.waterfall_view import WaterfallView

    spans, lines = _trace(500, 100)
    view = WaterfallView("ab" * 16, spans, lines)
    plain = Style()
    styles = waterfall_view._Styles(plain, plain, plain, plain, {})
    best_work = best_sort = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        view.waterfall = layout("ab" * 16, spans, lines)
        for row in view.waterfall.rows[:48]:
            view.render_row(row, 160, styles)
        best_work = min(best_work, (time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        sorted([*spans, *lines], key=lambda item: getattr(item, "start", None) or item.ts)
        best_sort = min(best_sort, (time.perf_counter() - started) * 1000)
    return best_work, best_sort


def run(quick: bool) -> list[Figure]:
    requests, rounds = (10, 2) if quick else (40, 4)
    spans_rate, logs_rate = asyncio.run(_receive(requests, rounds))
    frame_rounds = 3 if quick else 8
    frames = {"waterfall": float("inf"), "table": float("inf"), "empty": float("inf")}
    for _ in range(2):  # interleaved: the machine's noise hits each
        for kind in frames:
            frames[kind] = min(frames[kind], asyncio.run(_first_frame(kind, frame_rounds)))
    work_ms, sort_ms = _waterfall_work(20 if quick else 100)
    return [
        figure("OTLP spans received and stored (protobuf, real agent)", spans_rate, "spans/s",
               "OTLP log records through the same receiver", logs_rate),
        figure("waterfall, 500 spans + 100 lines: layout + the 48 visible rows drawn", work_ms,
               "ms", "sorting the same 600 items by time", sort_ms),
        figure("waterfall screen, 500 spans + 100 lines: push to first frame", frames["waterfall"],
               "ms", "DataTable screen of the same 600 rows", frames["table"]),
        figure("empty screen: push to first frame (Textual's floor)", frames["empty"], "ms",
               "waterfall screen, same run", frames["waterfall"]),
    ]


if __name__ == "__main__":
    run_alone(run, __doc__, "smaller workloads")
