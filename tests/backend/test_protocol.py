from __future__ import annotations

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from obsview.common import protocol as p
from obsview.common.spans import Span, SpanEvent

EVENT = p.LogEvent(
    ts=1700000000.25, level="WARN", message="Request completed [bold]", seq=7, service="blog-api",
    trace_id="abc123", method="GET", route="/api/posts/:id", path="/api/posts/42", status=404,
    duration_ms=12.5, cache="miss", extra={"nested": {"k": [1, 2]}}, truncated=True,
)
SNAPSHOT = p.MetricsSnapshot(
    ts=1.0, uptime_s=2.0, requests_total=3, errors_total=1, rate_1m=0.5, rate_5m=0.25,
    rate_15m=0.1, error_rate_1m=0.33, error_rate_5m=0.2, error_rate_15m=0.1,
    latency_avg_ms=10.0, latency_min_ms=1.0, latency_max_ms=30.0, p50_ms=9.0, p95_ms=29.0,
    p99_ms=30.0, cache_hit_rate=None, cpu_percent=12.5, memory_percent=40.0,
    disk_percent=55.0, load_1m=0.3,
    routes=(p.RouteStats("/api/posts", "GET", 2, 0, 0.03, 5.0, 9.0, 9.0),),
    status_counts={"200": 2, "404": 1}, agent={"events_ingested": 3},
)
ALERT = p.AlertInfo(
    fingerprint="f1", rule="high_error_rate", severity="critical", state="firing",
    metric="error_rate", comparison=">", threshold=0.05, value=0.2, summary="error rate 20%",
    labels={"route": "/api/posts"}, started_at=1.0, fired_at=2.0,
    ack=p.AckInfo(by="alice", at=3.0, note="on it"),
)

EVERY_MESSAGE = [
    p.Hello("0.1.0", "web-1", "blog-api", 41, 1.5, ("metrics", "alerts")),
    p.Events((EVENT, p.LogEvent(ts=2.0, level="ERROR", message="boom"))),
    p.Spans((Span(trace_id="ab" * 16, span_id="cd" * 8, name="GET /api/posts/:id", start=1.0,
                  end=1.25, parent_id="ef" * 8, kind=2, service="blog-api", status=2,
                  attributes={"http.route": "/api/posts/:id", "n": [1, {"k": None}]},
                  events=(SpanEvent(1.1, "exception", {"exception.type": "E"}),)),)),
    p.SpanGap(missed=4, from_seq=2),
    p.Gap(missed=10, from_seq=3),
    p.Dropped(count=5, total=9),
    p.Dropped(count=0, total=9, spans=3),
    p.CatchUp(read_bytes=1 << 20, total_bytes=3 << 20, lines=3100, lines_per_s=155000.0, eta_s=0.4),
    p.CatchUp(read_bytes=3 << 20, total_bytes=3 << 20, lines=9300, lines_per_s=150000.0, done=True),
    p.Skipped(count=90000, from_seq=1, to_seq=90000),
    p.Metrics(SNAPSHOT, (p.MetricsPoint(1.0, 2.0, 0.0, 1.0, None, None),)),
    p.Health(p.HealthReport("degraded", 1.0, 2.0, "1.0.0", (
        p.ProbeStatus("redis", "tcp", "127.0.0.1:6379", "unhealthy", None, "refused", 1.0, 0.5),
    ))),
    p.Alerts((ALERT,), (p.SilenceInfo("s1", {"alertname": "x"}, 1.0, 2.0, "bob", "deploy"),)),
    p.Error("unknown_alert", "no alert with fingerprint 'x'"),
    p.Pong(3),
    p.QueryPage(4, (EVENT,), next_seq=7, scanned=100, matched=1, to_scan=500, oldest_seq=1),
    p.QueryPage(5, done=True, error="unterminated quote"),
    p.StatesPage(6, (p.TimedFrame(1.5, '{"v":1,"type":"pong","nonce":1}'),),
                 (p.MinutePoint(60.0, 10, 1, 5.0, 9.0, 9.5, {140: 9, 150: 1}),), done=True),
    p.Subscribe(since_seq=40, client="t"),
    p.Subscribe(),
    p.Subscribe(since_seq=1, spans=True, spans_since_seq=5),
    p.Ack("f1", "alice", "looking"),
    p.Unack("f1", "alice"),
    p.Silence({"alertname": "high_error_rate"}, 3600.0, "alice", "deploy"),
    p.ExpireSilence("s1", "alice"),
    p.Ping(9),
    p.Query(4, 'level:warn+ "db timeout"', ("ERROR", "WARN"), before_seq=100, limit=200, history=True),
    p.Query(6, after_seq=0, since_ts=1.0, until_ts=2.0),
    p.CancelQuery(4),
    p.StatesQuery(7, 1.0, 2.0),
]


def test_every_message_type_is_covered() -> None:
    assert {type(m) for m in EVERY_MESSAGE} == set(p.MESSAGE_TYPES.values())


@pytest.mark.parametrize("message", EVERY_MESSAGE, ids=lambda m: m.type)
def test_round_trip(message: p.Message) -> None:
    frame = p.encode(message)
    assert orjson.loads(frame)["v"] == p.VERSION
    assert p.decode(frame) == message


def test_an_event_batch_round_trips() -> None:
    batch = (EVENT, EVENT)
    assert p.decode(p.encode_events(batch)) == p.Events(batch)


def test_defaults_are_not_written() -> None:
    (event,) = orjson.loads(p.encode_events([p.LogEvent(ts=1.0, level="INFO", message="m")]))["events"]
    assert event == {"ts": 1.0, "level": "INFO", "message": "m"}
    assert orjson.loads(p.encode(p.Subscribe())) == {"v": p.VERSION, "type": "subscribe"}


def test_frames_in_another_spelling_decode_too() -> None:
    """Key order and spacing are the sender's: the version check does not rely on them."""
    assert p.decode(b'{ "nonce": 1, "type": "ping", "v": 1 }') == p.Ping(1)
    assert p.decode('{"type":"ping","v":1,"nonce":2}') == p.Ping(2)


def test_unknown_type_is_reported_not_raised() -> None:
    assert p.decode(b'{"v":1,"type":"from_the_future","x":1}') == p.UnknownMessage("from_the_future")


def test_fields_from_a_newer_peer_are_ignored() -> None:
    assert p.decode(b'{"v":1,"type":"ping","nonce":1,"later":true}') == p.Ping(1)
    event = orjson.loads(p.encode_events([EVENT]))["events"][0] | {"later": 1}
    assert p.decode(_events_frame([event])) == p.Events((EVENT,))


def _events_frame(events: list[object]) -> bytes:
    return orjson.dumps({"v": p.VERSION, "type": "events", "events": events})


@pytest.mark.parametrize(
    "frame",
    [
        b"not json",
        b"[1, 2]",
        b'{"type":"ping","nonce":1}',
        b'{"v":2,"type":"ping","nonce":1}',
        b'{"v":1,"nonce":1}',
        b'{"v":1,"type":"ping"}',
        b'{"v":1,"type":"ping","nonce":"1"}',
        b'{"v":1,"type":"ping","nonce":true}',
        b'{"v":1,"type":"events","events":[{"ts":1,"level":"LOUD","message":"x"}]}',
        b'{"v":1,"type":"events","events":[{"level":"INFO","message":"x"}]}',
        b'{"v":1,"type":"events","events":"nope"}',
        b'{"v":1,"type":"ack","fingerprint":null,"by":"a"}',
        b'{"v":1,"type":"silence","matchers":{"a":1},"duration_s":1,"by":"a"}',
        b'\xff\xfe',
    ],
)
def test_malformed_frames_raise_protocol_error(frame: bytes) -> None:
    with pytest.raises(p.ProtocolError):
        p.decode(frame)


@pytest.mark.parametrize(
    "bad",
    [
        {"level": []},
        {"level": "LOUD"},
        {"status": "500"},
        {"status": True},
        {"duration_ms": {}},
        {"trace_id": 7},
        {"truncated": "yes"},
        {"extra": []},
        {"seq": 1.5},
    ],
)
def test_every_event_field_is_type_checked(bad: dict[str, object]) -> None:
    good = {"ts": 1.0, "level": "INFO", "message": "m"}
    (name,) = bad
    with pytest.raises(p.ProtocolError, match=rf"at `\$\.events\[1\]\.{name}"):
        p.decode(_events_frame([good, good | bad, good]))


def test_errors_name_the_path_of_the_bad_field() -> None:
    frame = p.encode(p.Alerts((ALERT,))).replace(b'"value":0.2', b'"value":"high"')
    with pytest.raises(p.ProtocolError, match=r"at `\$\.alerts\[0\]\.value`"):
        p.decode(frame)


_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.floats(allow_nan=False)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=2) | st.dictionaries(st.text(max_size=4), inner, max_size=2),
    max_leaves=4,
)


@settings(max_examples=200, deadline=None)
@given(name=st.sampled_from(p.LogEvent.__struct_fields__), value=_JSON_VALUES)
def test_any_json_value_in_any_event_field_decodes_typed_or_raises(name: str, value: object) -> None:
    good = orjson.loads(p.encode_events([EVENT]))["events"][0]
    try:
        decoded = p.decode(_events_frame([good, good | {name: value}]))
    except p.ProtocolError:
        return
    assert isinstance(decoded, p.Events)
    event = decoded.events[1]
    assert event.level in p.LEVELS
    assert type(getattr(event, name)) is type(getattr(EVENT, name)) or getattr(event, name) is None
