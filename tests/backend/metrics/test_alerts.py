from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from typing import Any

import msgspec
import pytest

from obsview.backend.errors import ConfigError
from obsview.backend.signals.alerts import (
    DEFAULT_RULES,
    AlertCommandError,
    AlertEngine,
    AlertRule,
    UnknownAlert,
    parse_rules,
)
from obsview.common.protocol import HealthReport, MetricsSnapshot, ProbeStatus

BASE = MetricsSnapshot(
    ts=0.0, uptime_s=3600.0, requests_total=0, errors_total=0, rate_1m=1.0, rate_5m=1.0, rate_15m=1.0,
    error_rate_1m=0.0, error_rate_5m=0.0, error_rate_15m=0.0, latency_avg_ms=None, latency_min_ms=None,
    latency_max_ms=None, p50_ms=None, p95_ms=None, p99_ms=None, cache_hit_rate=None, cpu_percent=1.0,
    memory_percent=10.0, disk_percent=10.0, load_1m=0.1,
)
ERRORS = AlertRule("errors", "error_rate", ">", 0.05, "1m", for_s=10.0, severity="critical",
                   keep_firing_for_s=5.0, labels={"team": "web"})


def snap(**values: Any) -> MetricsSnapshot:
    return msgspec.structs.replace(BASE, **values)


def health(**statuses: str) -> HealthReport:
    probes = tuple(ProbeStatus(name, "tcp", "h:1", status, None, "", 0.0, 0.0) for name, status in statuses.items())
    return HealthReport("degraded", 0.0, 0.0, "1", probes)


def run(engine: AlertEngine, clock: Any, seconds: int, snapshot: MetricsSnapshot,
        report: HealthReport | None = None) -> list[tuple[str, str]]:
    moves = []
    for _ in range(seconds):
        clock.advance(1)
        moves += [(t.previous, t.current) for t in engine.evaluate(snapshot, report)]
    return moves


def test_pending_firing_resolved_with_timestamps_and_value(clock: Any) -> None:
    engine = AlertEngine([ERRORS], clock=clock)
    start = clock.now
    assert run(engine, clock, 5, snap(error_rate_1m=0.02)) == []
    assert run(engine, clock, 1, snap(error_rate_1m=0.2)) == [("inactive", "pending")]
    (alert,) = engine.alerts()
    assert alert.state == "pending" and alert.value == 0.2 and alert.started_at == start + 6
    assert alert.labels == {"alertname": "errors", "severity": "critical", "team": "web"}
    assert alert.summary == "error_rate > 5.0%: 20.0%"
    assert run(engine, clock, 9, snap(error_rate_1m=0.25)) == []
    assert run(engine, clock, 1, snap(error_rate_1m=0.3)) == [("pending", "firing")]
    (alert,) = engine.alerts()
    assert alert.fired_at == start + 16 and alert.value == 0.3
    # keep_firing_for: 4 quiet seconds are not enough, a blip back keeps it firing.
    assert run(engine, clock, 4, snap(error_rate_1m=0.01)) == []
    assert run(engine, clock, 1, snap(error_rate_1m=0.3)) == []
    assert run(engine, clock, 5, snap(error_rate_1m=0.01)) == [("firing", "resolved")]
    (alert,) = engine.alerts()
    assert alert.state == "resolved" and alert.resolved_at == start + 26


def test_pending_that_clears_never_fires(clock: Any) -> None:
    engine = AlertEngine([ERRORS], clock=clock)
    assert run(engine, clock, 3, snap(error_rate_1m=0.5)) == [("inactive", "pending")]
    assert run(engine, clock, 1, snap(error_rate_1m=0.0)) == [("pending", "inactive")]
    assert engine.alerts() == ()


def test_window_selects_the_snapshot_field(clock: Any) -> None:
    rule = replace(ERRORS, window="15m", for_s=0.0)
    engine = AlertEngine([rule], clock=clock)
    assert run(engine, clock, 1, snap(error_rate_1m=0.9)) == []
    assert run(engine, clock, 1, snap(error_rate_15m=0.9)) == [("inactive", "pending"), ("pending", "firing")]


def test_default_rules_follow_the_seed(clock: Any) -> None:
    engine = AlertEngine(DEFAULT_RULES, clock=clock)
    quiet = snap(error_rate_1m=0.05, p95_ms=1000.0, memory_percent=80.0, disk_percent=90.0)
    assert run(engine, clock, 600, quiet, health(db="healthy")) == []
    loud = snap(error_rate_1m=0.06, p95_ms=1001.0, memory_percent=81.0, disk_percent=91.0, cache_hit_rate=0.5)
    run(engine, clock, 600, loud, health(db="unhealthy", redis="unhealthy", web="healthy"))
    firing = {(a.rule, a.labels.get("probe", "")) for a in engine.alerts() if a.state == "firing"}
    assert firing == {
        ("high_error_rate", ""), ("slow_responses", ""), ("high_memory", ""), ("high_disk", ""),
        ("low_cache_hit_rate", ""), ("probe_unhealthy", "db"), ("probe_unhealthy", "redis"),
    }


def test_no_cache_traffic_means_no_cache_alert(clock: Any) -> None:
    engine = AlertEngine([r for r in DEFAULT_RULES if r.metric == "cache_hit_rate"], clock=clock)
    assert run(engine, clock, 600, snap(cache_hit_rate=None)) == []


def test_ack_stays_visible_and_clears_when_the_alert_resolves(clock: Any) -> None:
    engine = AlertEngine([replace(ERRORS, for_s=0.0, keep_firing_for_s=0.0)], clock=clock)
    run(engine, clock, 1, snap(error_rate_1m=0.5))
    (alert,) = engine.alerts()
    version = engine.version
    engine.ack(alert.fingerprint, "alice", "on it")
    assert engine.version == version + 1
    (acked,) = engine.alerts()
    assert acked.state == "firing" and acked.ack is not None and (acked.ack.by, acked.ack.note) == ("alice", "on it")
    engine.unack(alert.fingerprint, "alice")
    assert engine.alerts()[0].ack is None
    engine.ack(alert.fingerprint, "bob")
    run(engine, clock, 1, snap(error_rate_1m=0.0))
    assert engine.alerts()[0].state == "resolved" and engine.alerts()[0].ack is None
    with pytest.raises(UnknownAlert, match=rf"alert {ERRORS.name} \({alert.fingerprint}\) is already resolved"):
        engine.ack(alert.fingerprint, "bob")
    run(engine, clock, 1, snap(error_rate_1m=0.5))
    (again,) = engine.alerts()  # one alert per fingerprint: the resolved one is replaced
    assert again.fingerprint == alert.fingerprint and again.state == "firing" and again.ack is None


def test_unknown_fingerprint_and_silence(clock: Any) -> None:
    engine = AlertEngine([ERRORS], clock=clock)
    with pytest.raises(UnknownAlert):
        engine.ack("nope", "alice")
    with pytest.raises(UnknownAlert):
        engine.unack("nope", "alice")
    with pytest.raises(UnknownAlert):
        engine.expire_silence("nope", "alice")
    with pytest.raises(AlertCommandError):
        engine.silence({}, 60, "alice")
    with pytest.raises(AlertCommandError):
        engine.silence({"alertname": "errors"}, 0, "alice")


def test_silence_matches_labels_and_expires(clock: Any) -> None:
    engine = AlertEngine([replace(ERRORS, for_s=0.0)], clock=clock)
    silence = engine.silence({"alertname": "errors", "team": "web"}, 60, "alice", "deploy")
    other = engine.silence({"team": "db"}, 60, "alice")
    run(engine, clock, 1, snap(error_rate_1m=0.5))
    assert engine.alerts()[0].silenced_by == silence.id
    engine.expire_silence(silence.id, "alice")
    assert engine.alerts()[0].silenced_by == "" and engine.silences() == (other,)
    version = engine.version
    run(engine, clock, 60, snap(error_rate_1m=0.5))
    assert engine.silences() == () and engine.version == version + 1


def test_resolved_alerts_drop_after_retention(clock: Any) -> None:
    engine = AlertEngine([replace(ERRORS, for_s=0.0, keep_firing_for_s=0.0)], clock=clock, resolved_retention_s=30)
    run(engine, clock, 1, snap(error_rate_1m=0.5))
    run(engine, clock, 29, snap(error_rate_1m=0.0))
    assert engine.alerts()[0].state == "resolved"
    run(engine, clock, 2, snap(error_rate_1m=0.0))
    assert engine.alerts() == ()


def test_acks_silences_and_alerts_survive_a_restart(clock: Any, tmp_path: Path) -> None:
    path = tmp_path / "state" / "alerts.json"
    rule = replace(ERRORS, for_s=0.0, keep_firing_for_s=0.0)
    engine = AlertEngine([rule], clock=clock, state_path=path)
    run(engine, clock, 1, snap(error_rate_1m=0.5))
    fingerprint = engine.alerts()[0].fingerprint
    engine.ack(fingerprint, "alice", "looking")
    silence = engine.silence({"team": "web"}, 3600, "bob", "maintenance")
    assert [p.name for p in path.parent.iterdir()] == ["alerts.json"]  # no temp file left

    restarted = AlertEngine([rule], clock=clock, state_path=path)
    (alert,) = restarted.alerts()
    assert alert.state == "firing" and alert.ack is not None and alert.ack.by == "alice"
    assert restarted.silences() == (silence,)
    # Still firing after the restart: no new transition, so no second "firing" notification.
    assert run(restarted, clock, 1, snap(error_rate_1m=0.5)) == []
    assert run(restarted, clock, 1, snap(error_rate_1m=0.0)) == [("firing", "resolved")]
    assert AlertEngine([rule], clock=clock, state_path=path).alerts() == ()


@pytest.mark.parametrize("content", [b"{not json", b"[]", b'{"format": 1, "alerts": [{"x": 1}], "silences": []}'])
def test_corrupt_state_starts_empty_with_a_warning(clock: Any, tmp_path: Path, content: bytes,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "alerts.json"
    path.write_bytes(content)
    with caplog.at_level(logging.WARNING):
        engine = AlertEngine([ERRORS], clock=clock, state_path=path)
    assert engine.alerts() == () and engine.silences() == ()
    assert "alert state" in caplog.text


def test_api_json(clock: Any) -> None:
    engine = AlertEngine([replace(ERRORS, for_s=0.0)], clock=clock)
    run(engine, clock, 1, snap(error_rate_1m=0.5))
    body = engine.api_json()
    assert body["counts"] == {"firing": 1, "pending": 0, "resolved": 0}
    assert body["alerts"][0]["rule"] == "errors" and body["version"] == engine.version


def test_too_few_requests_is_no_evidence(clock: Any) -> None:
    # The seed's own test traffic: 3 requests, 1 failing. A 33 % error rate over three
    # requests in a quiet minute must not page anyone; the same rate over real traffic does.
    rule = replace(ERRORS, min_requests=20)
    engine = AlertEngine([rule], clock=clock)
    assert run(engine, clock, 3, snap(rate_1m=3 / 60, error_rate_1m=1 / 3)) == []
    assert run(engine, clock, 1, snap(rate_1m=1.0, error_rate_1m=1 / 3)) == [("inactive", "pending")]


def test_parse_rules_reads_every_key() -> None:
    (rule,) = parse_rules([{
        "name": "api_errors", "metric": "error_rate", "op": ">=", "threshold": 0.1, "window": "5m",
        "for": "2m", "severity": "critical", "labels": {"team": "api"}, "keep_firing_for": "30s",
        "summary": "{team}: errors at {value}", "min_requests": 50,
    }])
    assert rule == AlertRule("api_errors", "error_rate", ">=", 0.1, "5m", 120.0, "critical", {"team": "api"},
                             30.0, "{team}: errors at {value}", 50)


@pytest.mark.parametrize(("table", "message"), [
    ({"name": "r", "metric": "latency", "threshold": 1},
     r"metric: expected one of error_rate, error_rate_5xx, .*, probe_unhealthy, got 'latency'$"),
    ({"name": "r", "metric": "p95_ms", "threshold": 1, "for": "soon"}, r"for: expected a duration like .*, got 'soon'$"),
    ({"name": "r", "metric": "p95_ms", "threshold": 1, "keep_firing_for": "-1s"}, "keep_firing_for: expected a duration"),
    ({"name": "r", "metric": "p95_ms", "threshold": 1, "window": "5m"}, "window: only error_rate and .* take a window$"),
    ({"name": "r", "metric": "error_rate", "threshold": 1, "window": "2m"}, "window: expected one of 1m, 5m, 15m, got '2m'$"),
    ({"name": "r", "metric": "p95_ms", "op": "=", "threshold": 1}, "op: expected one of >, >=, <, <=, got '='$"),
    ({"name": "r", "metric": "p95_ms"}, "threshold: required$"),
    ({"name": "r", "metric": "p95_ms", "threshold": "1"}, "threshold: expected `float`, got '1'$"),
    ({"name": "r", "metric": "p95_ms", "threshold": 1, "severity": "page"},
     "severity: expected one of critical, warning, info, got 'page'$"),
    ({"name": "r", "metric": "p95_ms", "threshold": 1, "summary": "{nope}"}, "summary: bad placeholder 'nope'$"),
    ({"name": "r", "metric": "p95_ms", "threshold": 1, "treshold": 2},
     r"treshold: unknown key \(known keys: for, keep_firing_for, labels, metric, min_requests, name, op, severity,"
     r" summary, threshold, window\)$"),
    ({"metric": "p95_ms", "threshold": 1}, "name: required$"),
    ({"name": "r", "metric": "p95_ms", "threshold": 1, "labels": {"probe": "x"}}, "labels: alertname, severity and probe"),
    ({"name": "r", "metric": "p95_ms", "threshold": 1, "min_requests": -1}, "min_requests: expected `int` >= 0, got -1$"),
    ({"name": "r", "metric": "disk_percent", "threshold": 1, "min_requests": 5}, "min_requests: only error_rate"),
])
def test_parse_rules_errors_name_the_key(table: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=r"^alerts\.rules\[0\]\." + message):
        parse_rules([table])


def test_min_requests_counts_only_the_seconds_since_start(clock: Any) -> None:
    # Ten seconds after start, 1 req/s is ten requests, not sixty: no evidence yet.
    rule = replace(ERRORS, min_requests=20)
    engine = AlertEngine([rule], clock=clock)
    young = snap(uptime_s=10.0, rate_1m=1.0, error_rate_1m=0.5)
    assert run(engine, clock, 3, young) == []
    assert run(engine, clock, 1, msgspec.structs.replace(young, uptime_s=30.0)) == [("inactive", "pending")]


def test_summaries_say_unhealthy_and_comparisons_read_as_symbols() -> None:
    """A probe's value is 1 or 0: notifications said "now 1, peak 1"; a default summary
    wrote the config's ">=" as it is."""
    from obsview.backend.signals.alerts import AlertRule, _summary, format_value

    assert format_value("probe_unhealthy", 1.0) == "unhealthy"
    assert format_value("probe_unhealthy", 0.0) == "healthy"
    rule = AlertRule("slow", "p95_ms", ">=", 500.0)
    assert _summary(rule, 812.0, {}) == "p95_ms ≥ 500 ms: 812 ms"
