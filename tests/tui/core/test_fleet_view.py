"""Several agents' messages made into one dashboard's: alerts routed back to their owner."""

from __future__ import annotations

import pytest
from msgspec.structs import replace

from obsview.common.histogram import Histogram
from obsview.common.protocol import (
    Ack,
    AlertInfo,
    Alerts,
    CatchUp,
    Dropped,
    Error,
    Events,
    ExpireSilence,
    Gap,
    Health,
    HealthReport,
    LogEvent,
    Metrics,
    MetricsPoint,
    MetricsSnapshot,
    Ping,
    ProbeStatus,
    Silence,
    SilenceInfo,
    Skipped,
    Unack,
)
from obsview.tui.client import ConnectionState
from obsview.tui.fleet_view import FleetView, NotRoutable
from obsview.tui.hosts import HostNote
from obsview.tui.screens.console_state import ConsoleState
from obsview.tui.widgets.hosts_panel import state_of


def snapshot(latencies: list[float], *, rate: float) -> MetricsSnapshot:
    histogram = Histogram()
    for value in latencies:
        histogram.add(value)
    return MetricsSnapshot(
        ts=100.0, uptime_s=50.0, requests_total=len(latencies), errors_total=0,
        rate_1m=rate, rate_5m=rate, rate_15m=rate, error_rate_1m=0.0, error_rate_5m=0.0,
        error_rate_15m=0.0, latency_avg_ms=histogram.mean, latency_min_ms=histogram.min,
        latency_max_ms=histogram.max, p50_ms=None, p95_ms=None, p99_ms=None, cache_hit_rate=None,
        cpu_percent=1.0, memory_percent=1.0, disk_percent=1.0, load_1m=0.1,
        latency_buckets=dict(histogram.buckets), latency_zero=histogram.zero,
    )


def alert(fingerprint: str = "fp1", rule: str = "error_rate") -> AlertInfo:
    return AlertInfo(fingerprint=fingerprint, rule=rule, severity="critical", state="firing",
                     metric="error_rate", comparison=">", threshold=0.05, value=0.2,
                     summary="errors", labels={"route": "/api/posts"}, started_at=10.0)


def fleet() -> FleetView:
    view = FleetView.of([("web-1", "ws://a:1"), ("web-2", "ws://b:1")], hold_s=0.5)
    for name in view.hosts:
        view.connection_changed(name, ConnectionState(status="connected", url="ws://x"))
    return view


def test_the_same_alert_on_two_hosts_is_two_rows_each_naming_its_host() -> None:
    view = fleet()
    view.receive("web-1", Alerts(alerts=(alert(),)), now=0.0)
    (merged,) = view.receive("web-2", Alerts(alerts=(alert(),), silences=(
        SilenceInfo(id="s1", matchers={"alertname": "x"}, starts_at=0, ends_at=9, by="bob"),)), now=0.0)
    assert isinstance(merged, Alerts)
    assert [(a.fingerprint, a.labels["host"]) for a in merged.alerts] == [
        ("web-1/fp1", "web-1"), ("web-2/fp1", "web-2")]
    assert [(s.id, s.matchers) for s in merged.silences] == [
        ("web-2/s1", {"alertname": "x", "host": "web-2"})]


def test_ack_silence_and_expiry_go_to_the_owning_agent_as_it_knows_them() -> None:
    view = fleet()
    assert view.route(Ack("web-2/fp1", by="alice", note="on it")) == (
        "web-2", Ack("fp1", by="alice", note="on it"))
    assert view.route(Unack("web-1/fp/with/slash", by="a")) == ("web-1", Unack("fp/with/slash", by="a"))
    matchers = {"alertname": "error_rate", "route": "/api/posts", "host": "web-1"}
    assert view.route(Silence(matchers, 3600, by="a")) == (
        "web-1", Silence({"alertname": "error_rate", "route": "/api/posts"}, 3600, by="a"))
    assert view.route(ExpireSilence("web-2/s1", by="a")) == ("web-2", ExpireSilence("s1", by="a"))
    for wrong in (Ack("web-3/fp1", by="a"), Ack("fp1", by="a"), Silence({"alertname": "x"}, 60, by="a"),
                  Ping(nonce=1)):
        with pytest.raises(NotRoutable):
            view.route(wrong)


def test_a_silenced_alert_names_its_silence_as_the_merged_feed_does_so_it_can_be_ended() -> None:
    view = fleet()
    (merged,) = view.receive("web-2", Alerts(alerts=(replace(alert(), silenced_by="s1"),)), now=0.0)
    assert isinstance(merged, Alerts)
    (row,) = merged.alerts
    assert view.route(ExpireSilence(row.silenced_by, by="a")) == ("web-2", ExpireSilence("s1", by="a"))


def test_events_are_merged_by_time_and_tagged_with_their_host() -> None:
    view = fleet()
    assert view.receive("web-1", Events(events=(LogEvent(ts=1.0, level="INFO", message="a"),
                                               LogEvent(ts=3.0, level="INFO", message="c"))), now=0.0) == []
    view.receive("web-2", Events(events=(LogEvent(ts=2.0, level="INFO", message="b"),)), now=0.0)
    assert [(e.host, e.message) for e in view.release(now=0.1)] == [("web-1", "a"), ("web-2", "b")]
    assert [(e.host, e.message) for e in view.release(now=1.0)] == [("web-1", "c")]  # after hold_s
    assert view.hosts["web-1"].events == 2


def test_fleet_metrics_taken_once_for_every_hosts_latest_report_from_connected_hosts() -> None:
    view = fleet()
    assert view.take_metrics() is None  # nobody reported yet
    assert view.receive("web-1", Metrics(snapshot=snapshot([5.0] * 10, rate=1.0)), now=0.0) == []
    assert view.receive("web-2", Metrics(snapshot=snapshot([7.0] * 30, rate=3.0)), now=0.0) == []
    taken = view.take_metrics()  # one point for both reports
    assert taken is not None and taken.snapshot.rate_1m == 4.0
    assert view.take_metrics() is None
    fleet_now = view.fleet_metrics()
    assert fleet_now is not None and fleet_now.rate_1m == 4.0
    view.connection_changed("web-2", ConnectionState(status="reconnecting", url="ws://b:1"))
    fleet_now = view.fleet_metrics()
    assert fleet_now is not None and fleet_now.rate_1m == 1.0  # a lost host's last figures do not count


def test_health_names_each_probe_by_host_and_the_worst_status_wins() -> None:
    def report(status: str) -> HealthReport:
        probe = ProbeStatus(name="db", kind="tcp", target="x", status=status, latency_ms=1.0,
                            error="", checked_at=0, changed_at=0)
        return HealthReport(status=status, ts=1.0, uptime_s=5.0, version="1", probes=(probe,))

    view = fleet()
    view.receive("web-1", Health(report=report("healthy")), now=0.0)
    (merged,) = view.receive("web-2", Health(report=report("unhealthy")), now=0.0)
    assert isinstance(merged, Health)
    assert merged.report.status == "unhealthy"
    assert [p.name for p in merged.report.probes] == ["web-1: db", "web-2: db"]


def test_a_hosts_gap_and_drops_name_the_host_in_the_log() -> None:
    view = fleet()
    notes = view.receive("web-2", Gap(missed=5, from_seq=3), now=0.0) + view.receive(
        "web-1", Dropped(count=2, total=2), now=0.0)
    assert notes == [HostNote("web-2", Gap(missed=5, from_seq=3)), HostNote("web-1", Dropped(count=2, total=2))]
    state = ConsoleState()
    changes = state.apply(notes)
    assert changes.markers[0].text.startswith("web-2: gap: 5 events lost")
    assert changes.markers[1].text.startswith("web-1: 2 events dropped")
    assert state.gap_events == 5 and state.dropped_events == 2
    (error,) = view.receive("web-1", Error(code="bad", message="no"), now=0.0)
    assert error == Error(code="bad", message="web-1: no")


def test_chart_history_sums_the_hosts_rates_and_keeps_only_percentiles_the_fleet_has() -> None:
    view = fleet()

    def history(rate: float, error_rate: float) -> tuple[MetricsPoint, ...]:
        return tuple(MetricsPoint(ts=90.0 + i + 0.3, rate=rate, error_rate=error_rate,
                                  p50_ms=5.0, p95_ms=50.0, p99_ms=80.0) for i in range(5))

    view.receive("web-1", Metrics(snapshot=snapshot([5.0] * 10, rate=1.0), history=history(1.0, 0.5)), now=0.0)
    view.receive("web-2", Metrics(snapshot=snapshot([7.0] * 30, rate=3.0), history=history(3.0, 0.0)), now=0.0)
    taken = view.take_metrics()
    assert taken is not None
    assert [(p.ts, p.rate, p.error_rate) for p in taken.history] == [
        (float(90 + i), 4.0, 0.125) for i in range(5)]
    # A host's p95 is not the fleet's, and history points carry no buckets to merge.
    assert {p.p95_ms for p in taken.history} == {None}
    assert taken.snapshot.rate_1m == 4.0
    # Live reports append; the next history (a host reconnecting) keeps the fleet's own
    # percentiles for the seconds the console saw.
    later = snapshot([7.0] * 30, rate=3.0)
    view.receive("web-2", Metrics(snapshot=MetricsSnapshot(**{**_fields(later), "ts": 101.0})), now=0.0)
    assert view.take_metrics() is not None
    view.receive("web-1", Metrics(snapshot=snapshot([5.0] * 10, rate=1.0), history=history(1.0, 0.5)), now=0.0)
    again = view.take_metrics()
    assert again is not None
    fleet_second = [p for p in again.history if p.ts == 100.0]
    assert fleet_second and fleet_second[0].p95_ms is not None


def _fields(shot: MetricsSnapshot) -> dict[str, object]:
    return {name: getattr(shot, name) for name in shot.__struct_fields__}


def test_a_host_catching_up_says_how_far_in_its_state() -> None:
    view = fleet()
    view.receive("web-1", CatchUp(read_bytes=450, total_bytes=1000, lines=10, lines_per_s=5.0), now=0.0)
    view.receive("web-1", Skipped(count=7, from_seq=1, to_seq=7), now=0.0)
    assert state_of(view.hosts["web-1"]) == "catching up 45 %"
    assert view.hosts["web-1"].skipped == 7
    view.receive("web-1", CatchUp(read_bytes=1000, total_bytes=1000, lines=20, lines_per_s=5.0,
                                  done=True), now=0.0)
    assert state_of(view.hosts["web-1"]) == "connected"
    assert state_of(view.hosts["web-2"]) == "connected"
