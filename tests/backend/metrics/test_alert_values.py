"""An alert's value is live (issue 13.1): while pending or firing it is the metric now, not
the value it fired with; the peak, the value it fired with and the value at its resolve are
kept apart and named, in the engine's records (/api/alerts, consoles), in the state file and
in notifications. Failed on 0047b42: the value froze when the alert fired (a firing alert
read "10.2 %" while the panels showed 29 %), and neither peak nor resolve value existed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import orjson

from obsview.backend.delivery.channels import alert_annotations, headline
from obsview.backend.signals.alerts import AlertEngine, AlertRule
from obsview.common.protocol import MetricsSnapshot

BASE = MetricsSnapshot(
    ts=0.0, uptime_s=3600.0, requests_total=0, errors_total=0, rate_1m=1.0, rate_5m=1.0, rate_15m=1.0,
    error_rate_1m=0.0, error_rate_5m=0.0, error_rate_15m=0.0, latency_avg_ms=None, latency_min_ms=None,
    latency_max_ms=None, p50_ms=None, p95_ms=None, p99_ms=None, cache_hit_rate=None, cpu_percent=1.0,
    memory_percent=10.0, disk_percent=10.0, load_1m=0.1,
)
ERRORS = AlertRule("errors", "error_rate", ">", 0.05, "1m", for_s=2.0, severity="critical",
                   keep_firing_for_s=2.0, summary="Error rate {value} is above {threshold}")


def step(engine: AlertEngine, clock: Any, error_rate: float) -> None:
    clock.advance(1)
    engine.evaluate(msgspec.structs.replace(BASE, error_rate_1m=error_rate), None)


def test_the_value_follows_the_metric_and_peak_fired_and_resolve_values_are_kept(clock: Any) -> None:
    engine = AlertEngine([ERRORS], clock=clock)
    step(engine, clock, 0.08)
    (alert,) = engine.alerts()
    assert (alert.state, alert.value, alert.peak, alert.fired_value) == ("pending", 0.08, 0.08, None)
    step(engine, clock, 0.09)
    assert engine.alerts()[0].value == 0.09  # live while pending too
    step(engine, clock, 0.102)
    (alert,) = engine.alerts()
    assert (alert.state, alert.value, alert.fired_value, alert.peak) == ("firing", 0.102, 0.102, 0.102)
    version, state_version = engine.version, engine.state_version
    step(engine, clock, 0.29)
    (alert,) = engine.alerts()
    assert (alert.value, alert.peak, alert.fired_value) == (0.29, 0.29, 0.102)
    assert engine.version > version  # a value that changed alone is a change consoles see
    assert engine.state_version == state_version  # but no news for the journal to hurry
    # The summary says why it fired: the value it fired with, not a value that moves.
    assert alert.summary == "Error rate 10.2% is above 5.0%"
    step(engine, clock, 0.2)
    (alert,) = engine.alerts()
    assert (alert.value, alert.peak) == (0.2, 0.29)
    step(engine, clock, 0.03)  # below, but kept firing for 2 s: the value says so
    (alert,) = engine.alerts()
    assert (alert.state, alert.value, alert.peak) == ("firing", 0.03, 0.29)
    step(engine, clock, 0.01)
    (alert,) = engine.alerts()
    assert (alert.state, alert.value, alert.resolved_value) == ("resolved", 0.01, 0.01)
    assert (alert.peak, alert.fired_value) == (0.29, 0.102)
    body = engine.api_json()["alerts"][0]
    assert {key: body[key] for key in ("value", "peak", "fired_value", "resolved_value")} == {
        "value": 0.01, "peak": 0.29, "fired_value": 0.102, "resolved_value": 0.01}
    step(engine, clock, 0.5)  # a new occurrence starts afresh
    (alert,) = engine.alerts()
    assert (alert.state, alert.value, alert.peak, alert.resolved_value) == ("pending", 0.5, 0.5, None)


def test_a_below_rule_peaks_at_its_lowest(clock: Any) -> None:
    rule = AlertRule("cache", "cache_hit_rate", "<", 0.7, "1m")
    engine = AlertEngine([rule], clock=clock)
    for value in (0.6, 0.4, 0.5):
        clock.advance(1)
        engine.evaluate(msgspec.structs.replace(BASE, cache_hit_rate=value), None)
    (alert,) = engine.alerts()
    assert (alert.state, alert.value, alert.peak, alert.fired_value) == ("firing", 0.5, 0.4, 0.6)


def test_the_state_file_keeps_the_values_and_an_older_file_still_loads(clock: Any, tmp_path: Path) -> None:
    path = tmp_path / "alerts.json"
    engine = AlertEngine([ERRORS], clock=clock, state_path=path)
    for value in (0.08, 0.09, 0.102, 0.29, 0.2):
        step(engine, clock, value)
    engine.save()
    reloaded = AlertEngine([ERRORS], clock=clock, state_path=path)
    (alert,) = reloaded.alerts()
    assert (alert.state, alert.value, alert.peak, alert.fired_value) == ("firing", 0.2, 0.29, 0.102)

    # A file written before these fields existed: its value is the one the alert fired with.
    old = orjson.loads(path.read_bytes())
    for entry in old["alerts"]:
        for key in ("peak", "fired_value", "resolved_value"):
            entry.pop(key, None)
        entry["value"] = 0.102
    path.write_bytes(orjson.dumps(old))
    older = AlertEngine([ERRORS], clock=clock, state_path=path)
    (alert,) = older.alerts()
    assert (alert.state, alert.value, alert.peak, alert.fired_value) == ("firing", 0.102, 0.102, 0.102)
    step(older, clock, 0.3)  # and from there on it is live
    (alert,) = older.alerts()
    assert (alert.value, alert.peak, alert.fired_value) == (0.3, 0.3, 0.102)
    assert not (tmp_path / "alerts.json.rejected").exists()


def test_notifications_name_each_value(clock: Any) -> None:
    engine = AlertEngine([ERRORS], clock=clock)
    for value in (0.08, 0.09, 0.102, 0.31, 0.29):
        step(engine, clock, value)
    (firing,) = engine.alerts()
    assert headline(firing, "firing") == (
        "[FIRING] errors (critical): Error rate 10.2% is above 5.0% "
        "(now 29.0%, peak 31.0%, fired at 10.2%)")
    assert alert_annotations(firing) == {
        "summary": "Error rate 10.2% is above 5.0%", "value": "0.29", "threshold": "> 0.05",
        "value_when_fired": "0.102", "peak": "0.31"}
    for value in (0.02, 0.02, 0.02):
        step(engine, clock, value)
    (resolved,) = engine.alerts()
    assert headline(resolved, "resolved") == (
        "[RESOLVED] errors (critical): Error rate 10.2% is above 5.0% (peak 31.0%, at resolve 2.0%)")
    assert alert_annotations(resolved)["value_at_resolve"] == "0.02"
