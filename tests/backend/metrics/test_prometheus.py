from __future__ import annotations

import asyncio
import shutil
import subprocess
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from obsview.backend.serving.prometheus import CONTENT_TYPE, render_prometheus
from obsview.common.protocol import AlertInfo, HealthReport, LogEvent, ProbeStatus

HEALTH = HealthReport("degraded", 0.0, 1.0, "1", (
    ProbeStatus("db", "tcp", "127.0.0.1:5432", "healthy", 2.5, "", 0.0, 0.0),
    ProbeStatus("redis", "tcp", "127.0.0.1:6379", "unhealthy", None, "connection refused", 0.0, 0.0),
))
ALERT = AlertInfo("f1", "probe_unhealthy", "critical", "firing", "probe_unhealthy", ">=", 1.0, 1.0, "down",
                  {"probe": "redis"})


def render(make_metrics: Any) -> str:
    metrics = make_metrics()
    metrics.observe([
        LogEvent(ts=0, level="INFO", message="", method="GET", path="/api/posts/1", status=200, duration_ms=3.0),
        LogEvent(ts=0, level="INFO", message="", method="GET", path="/api/posts/2", status=200, duration_ms=30.0),
        LogEvent(ts=0, level="ERROR", message="", method="POST", path='/api/"quoted"\\\n', status=500,
                 duration_ms=2000.0, error_type="DatabaseError", cache="miss"),
    ])
    return render_prometheus(metrics, HEALTH, [ALERT], {"events_ingested": 3, "parse-errors": 1}).decode()


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text) for s in family.samples
    }


def test_exposition_parses_and_carries_the_figures(make_metrics: Any) -> None:
    text = render(make_metrics)
    values = samples(text)
    assert values[("obsview_http_requests_total", (("method", "GET"), ("route", "/api/posts/:id"), ("status", "200")))] == 2
    assert values[("obsview_http_requests_total", (("method", "POST"), ("route", '/api/"quoted"\\\n'), ("status", "500")))] == 1
    route = (("route", "/api/posts/:id"),)
    assert values[("obsview_http_request_duration_seconds_count", route)] == 2
    assert values[("obsview_http_request_duration_seconds_bucket", (("le", "0.005"), *route))] == 1
    assert values[("obsview_http_request_duration_seconds_bucket", (("le", "0.05"), *route))] == 2
    assert values[("obsview_http_request_duration_seconds_bucket", (("le", "+Inf"), *route))] == 2
    assert abs(values[("obsview_http_request_duration_seconds_sum", route)] - 0.033) < 1e-3
    assert values[("obsview_errors_total", (("type", "DatabaseError"),))] == 1
    assert values[("obsview_cache_misses_total", ())] == 1 and values[("obsview_cache_hits_total", ())] == 0
    assert values[("obsview_probe_up", (("probe", "db"),))] == 1
    assert values[("obsview_probe_up", (("probe", "redis"),))] == 0
    assert values[("obsview_probe_latency_seconds", (("probe", "db"),))] == 0.0025
    assert values[("obsview_alerts", (("severity", "critical"), ("state", "firing")))] == 1
    assert values[("obsview_alerts", (("severity", "info"), ("state", "resolved")))] == 0
    assert values[("obsview_agent_events_ingested_total", ())] == 3
    assert values[("obsview_agent_parse_errors_total", ())] == 1
    assert values[("obsview_agent_routes_overflowed_total", ())] == 0
    assert ("obsview_uptime_seconds", ()) in values
    assert CONTENT_TYPE.startswith("text/plain")


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool is not installed")
def test_promtool_accepts_the_exposition(make_metrics: Any) -> None:
    result = subprocess.run(["promtool", "check", "metrics"], input=render(make_metrics).encode(),
                            capture_output=True, timeout=30)
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()


async def test_connected_consoles_are_a_gauge_not_a_counter(tmp_path: Any) -> None:
    """Issue 12.16: ``clients`` goes down when a console leaves, so it is a gauge (no
    ``_total``); failed on e629b84, which exported ``obsview_agent_clients_total`` as a counter."""
    import httpx
    from websockets.asyncio.client import connect

    from obsview.backend.agent import Agent
    from obsview.backend.config import AgentConfig

    config = AgentConfig(listen=("127.0.0.1", 0), state_dir=tmp_path / "state", rules=[])

    async def scrape(base: str) -> list[Any]:
        async with httpx.AsyncClient(base_url=base, timeout=5) as http:
            reply = await http.get("/metrics")
        return [f for f in text_string_to_metric_families(reply.text) if f.name == "obsview_agent_clients"]

    async with Agent(config) as agent:
        base = agent.url.replace("ws://", "http://")
        async with connect(agent.url):
            (family,) = await scrape(base)
            assert family.type == "gauge"
            assert [s.name for s in family.samples] == ["obsview_agent_clients"]
            assert family.samples[0].value == 1
        for _ in range(500):  # the server notices the close on its side
            (family,) = await scrape(base)
            if family.samples[0].value == 0:
                break
            await asyncio.sleep(0.01)
        assert family.samples[0].value == 0
