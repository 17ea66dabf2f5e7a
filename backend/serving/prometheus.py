"""``GET /metrics``: the agent's figures in the Prometheus text exposition format.

Built with prometheus_client's own writer (a custom Collector on a private
CollectorRegistry, never the process-global one), so escaping and format details are
the library's, not hand-written. Counters are cumulative since the agent started; the
latency histogram uses the coarse boundaries of :data:`PROMETHEUS_BOUNDS_MS`, in seconds.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Final

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from obsview.backend.signals.metrics import RequestMetrics, Totals
from obsview.common.histogram import PROMETHEUS_BOUNDS_MS, Histogram
from obsview.common.protocol import ALERT_STATES, SEVERITIES, AlertInfo, HealthReport, MetricsSnapshot

# Every name here is a legacy-safe [a-zA-Z0-9_] name and generate_latest escapes with
# underscores, so the body is text format 0.0.4; say so, for scrapers older than 3.0.
CONTENT_TYPE: Final = "text/plain; version=0.0.4; charset=utf-8"
_LE: Final = [f"{bound / 1000:g}" for bound in PROMETHEUS_BOUNDS_MS] + ["+Inf"]
_NOT_NAME: Final = re.compile(r"[^a-zA-Z0-9_]")


def render_prometheus(
    metrics: RequestMetrics,
    health: HealthReport | None,
    alerts: Sequence[AlertInfo],
    agent_counters: Mapping[str, int],
    agent_gauges: Mapping[str, int] | None = None,
) -> bytes:
    """``agent_counters`` only ever grow (``_total`` counters); ``agent_gauges`` are levels
    that go up and down (consoles connected now), exported as gauges."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Snapshot(metrics.totals(), metrics.snapshot(), health, alerts, agent_counters,
                                agent_gauges or {}))
    return generate_latest(registry)


class _Snapshot(Collector):
    """Yields metric families from figures captured once, at render time."""

    def __init__(self, totals: Totals, snapshot: MetricsSnapshot, health: HealthReport | None,
                 alerts: Sequence[AlertInfo], agent_counters: Mapping[str, int],
                 agent_gauges: Mapping[str, int]) -> None:
        self._totals = totals
        self._snapshot = snapshot
        self._health = health
        self._alerts = alerts
        self._agent = agent_counters
        self._agent_gauges = agent_gauges

    def collect(self) -> Iterator[Metric]:
        yield from self._requests()
        yield from self._host()
        yield from self._health_families()
        yield from self._alert_families()
        yield from self._agent_families()

    def _requests(self) -> Iterator[Metric]:
        totals = self._totals
        requests = CounterMetricFamily(
            "obsview_http_requests", "HTTP requests seen in the service's access logs.",
            labels=["route", "method", "status"])
        by_route: dict[str, Histogram] = {}
        for (route, method), bucket in sorted(totals.routes.items()):
            for status, count in sorted(bucket.statuses.items()):
                requests.add_metric([route, method, str(status)], count)
            by_route.setdefault(route, Histogram()).merge(bucket.latency)
        yield requests
        duration = HistogramMetricFamily(
            "obsview_http_request_duration_seconds", "Response time of those requests.", labels=["route"])
        for route, latency in by_route.items():
            counts = latency.cumulative(PROMETHEUS_BOUNDS_MS)
            duration.add_metric([route], list(zip(_LE, counts)), sum_value=latency.sum / 1000)
        yield duration
        errors = CounterMetricFamily("obsview_errors", "Error events by error type.", labels=["type"])
        for kind, count in sorted(totals.errors_by_type.items()):
            errors.add_metric([kind], count)
        yield errors
        yield CounterMetricFamily("obsview_cache_hits", "Cache hits reported by the logs.", value=totals.cache_hits)
        yield CounterMetricFamily("obsview_cache_misses", "Cache misses reported by the logs.", value=totals.cache_misses)
        yield GaugeMetricFamily("obsview_uptime_seconds", "Seconds since the agent started.", value=totals.uptime_s)

    def _host(self) -> Iterator[Metric]:
        snap = self._snapshot
        for name, value, doc in (
            ("cpu_percent", snap.cpu_percent, "Host CPU use, percent."),
            ("memory_percent", snap.memory_percent, "Host memory use, percent."),
            ("disk_percent", snap.disk_percent, "Disk use of the watched filesystem, percent."),
            ("load1", snap.load_1m, "Host load average over one minute."),
        ):
            yield GaugeMetricFamily(f"obsview_host_{name}", doc, value=value)

    def _health_families(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("obsview_probe_up", "1 unless the probe is unhealthy.", labels=["probe"])
        latency = GaugeMetricFamily("obsview_probe_latency_seconds", "Duration of the last check.", labels=["probe"])
        for probe in self._health.probes if self._health is not None else ():
            up.add_metric([probe.name], 0.0 if probe.status == "unhealthy" else 1.0)
            if probe.latency_ms is not None:
                latency.add_metric([probe.name], probe.latency_ms / 1000)
        yield up
        yield latency

    def _alert_families(self) -> Iterator[Metric]:
        family = GaugeMetricFamily("obsview_alerts", "Visible alerts by state and severity.",
                                   labels=["state", "severity"])
        counts = {(state, severity): 0 for state in ALERT_STATES for severity in SEVERITIES}
        for alert in self._alerts:
            counts[(alert.state, alert.severity)] = counts.get((alert.state, alert.severity), 0) + 1
        for (state, severity), count in counts.items():
            family.add_metric([state, severity], count)
        yield family

    def _agent_families(self) -> Iterator[Metric]:
        counters = dict(self._agent)
        counters.setdefault("routes_overflowed", self._totals.routes_overflowed)
        for name, value in sorted(counters.items()):
            yield CounterMetricFamily(f"obsview_agent_{_NOT_NAME.sub('_', name)}",
                                      f"Agent counter {name}.", value=value)
        for name, value in sorted(self._agent_gauges.items()):
            yield GaugeMetricFamily(f"obsview_agent_{_NOT_NAME.sub('_', name)}",
                                    f"Agent gauge {name} (its value now).", value=value)
