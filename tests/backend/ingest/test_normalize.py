"""Normalization of every supported format into LogEvent, with the seed's record first."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from obsview.backend.ingest.normalize import Normalizer
from obsview.common.protocol import LEVELS, LogEvent, encode_events

NOW = 1_700_000_000.0
SEED_TS = "2026-11-25T15:00:00.123Z"
SEED_EPOCH = datetime(2026, 11, 25, 15, 0, 0, 123000, tzinfo=UTC).timestamp()


def normalizer() -> Normalizer:
    return Normalizer(service="blog-api", host="web-1", clock=lambda: NOW)


def one(line: bytes | str, norm: Normalizer | None = None) -> LogEvent:
    data = line.encode() if isinstance(line, str) else line
    (event,) = (norm or normalizer()).normalize_lines([data], "app.log")
    return event


def seed_request(**request_overrides: object) -> dict[str, object]:
    request = {
        "id": "req_1a2b", "method": "GET", "url": "/api/posts/42?page=2", "ip": "10.0.0.7",
        "userAgent": "Mozilla/5.0", "userId": 17, "correlationId": "corr-9",
    }
    request.update(request_overrides)
    return {
        "timestamp": SEED_TS, "level": "INFO", "message": "Request completed",
        "request": request, "response": {"statusCode": 200, "responseTime": 12},
        "duration": 12,
    }


def test_positional_construction_matches_the_protocol_field_order() -> None:
    # normalize.py builds LogEvent positionally on its hot path; a reordered protocol must
    # fail here rather than silently swap fields.
    names = LogEvent.__struct_fields__
    assert names[:24] == (
        "ts", "level", "message", "seq", "service", "host", "trace_id", "span_id",
        "request_id", "method", "route", "path", "status", "duration_ms", "ip", "user_agent",
        "user_id", "cache", "error_type", "error_message", "stack", "source", "raw", "extra",
    )


def test_seed_request_completed_record() -> None:
    line = orjson.dumps(seed_request())
    event = one(line)
    assert event.ts == pytest.approx(SEED_EPOCH)
    assert (event.level, event.message) == ("INFO", "Request completed")
    assert (event.service, event.host, event.source) == ("blog-api", "web-1", "app.log")
    assert (event.method, event.path, event.status, event.duration_ms) == (
        "GET", "/api/posts/42", 200, 12.0,
    )
    assert (event.request_id, event.trace_id) == ("req_1a2b", "corr-9")
    assert (event.ip, event.user_agent, event.user_id) == ("10.0.0.7", "Mozilla/5.0", "17")
    assert event.raw == line.decode()  # query string kept in raw, stripped from path
    assert event.extra == {}
    assert event.is_access


def test_seed_record_without_correlation_id_traces_by_request_id() -> None:
    record = seed_request()
    del record["request"]["correlationId"]  # type: ignore[attr-defined]
    event = one(orjson.dumps(record))
    assert event.trace_id == event.request_id == "req_1a2b"


@pytest.mark.parametrize("level", ["error", "Error", "ERROR", "warn", "Warning", "WARNING",
                                   "info", "debug", "TRACE", "fatal", "CRITICAL"])
def test_levels_in_any_case(level: str) -> None:
    event = one(orjson.dumps({"level": level, "message": "x"}))
    expected = {"fatal": "ERROR", "critical": "ERROR", "warning": "WARN"}.get(
        level.lower(), level.upper())
    assert event.level == expected


def test_seed_login_failure_record() -> None:
    event = one(orjson.dumps({
        "timestamp": SEED_TS, "level": "WARN", "message": "User login failed",
        "email": "a@example.com", "reason": "Invalid credentials", "ip": "10.0.0.2",
        "userAgent": "curl/8.4", "duration": 31,
    }))
    assert (event.level, event.message, event.ip, event.user_agent) == (
        "WARN", "User login failed", "10.0.0.2", "curl/8.4")
    assert event.duration_ms == 31.0 and event.status is None and not event.is_access
    assert event.extra == {"email": "a@example.com", "reason": "Invalid credentials"}


def test_seed_login_success_keeps_auth_method_out_of_http_method() -> None:
    event = one(orjson.dumps({"level": "INFO", "message": "User login successful",
                              "userId": 5, "method": "password"}))
    assert event.method == "" and event.extra["method"] == "password"
    assert event.user_id == "5"


def test_seed_error_record_with_stack() -> None:
    event = one(orjson.dumps({
        "timestamp": SEED_TS, "level": "ERROR", "message": "Unhandled error occurred",
        "errorId": "err_77", "stack": "TypeError: Cannot read properties of undefined\n"
                                      "    at handler (/app/posts.js:42:17)",
        "request": {"id": "req_9", "method": "POST", "url": "/api/posts"},
        "user": {"id": 3, "role": "admin"},
    }))
    assert event.level == "ERROR"
    assert (event.error_type, event.error_message) == (
        "TypeError", "Cannot read properties of undefined")
    assert event.stack.startswith("TypeError")
    assert (event.request_id, event.method, event.path, event.user_id) == (
        "req_9", "POST", "/api/posts", "3")
    assert event.extra == {"errorId": "err_77", "user": {"role": "admin"}}


def test_winston_json() -> None:
    event = one('{"level":"warn","message":"slow query","service":"blog-api-v2",'
                '"timestamp":"2026-11-25T15:00:00.123+01:00"}')
    assert (event.level, event.service) == ("WARN", "blog-api-v2")
    assert event.ts == pytest.approx(SEED_EPOCH - 3600)


@pytest.mark.parametrize(("number", "level"), [(10, "TRACE"), (20, "DEBUG"), (30, "INFO"),
                                               (40, "WARN"), (50, "ERROR"), (60, "ERROR")])
def test_pino_numeric_levels(number: int, level: str) -> None:
    event = one(orjson.dumps({"level": number, "time": 1732546800123, "pid": 1,
                              "hostname": "api-2", "msg": "hello"}))
    assert (event.level, event.message, event.host) == (level, "hello", "api-2")
    assert event.ts == pytest.approx(1732546800.123)


def test_pino_error_object() -> None:
    event = one(orjson.dumps({"level": 50, "msg": "boom", "err": {
        "type": "Error", "message": "db down", "stack": "Error: db down\n    at x"}}))
    assert (event.error_type, event.error_message) == ("Error", "db down")
    assert "at x" in event.stack


def test_python_logging_json() -> None:
    event = one(orjson.dumps({
        "levelname": "WARNING", "name": "app.db", "message": "retrying",
        "created": 1732546800.5,
        "exc_info": "Traceback (most recent call last):\n  File \"x.py\", line 1\n"
                    "ValueError: bad value",
    }))
    assert (event.level, event.message, event.ts) == ("WARN", "retrying", 1732546800.5)
    assert (event.error_type, event.error_message) == ("ValueError", "bad value")
    assert event.extra == {"name": "app.db"}


def test_logfmt() -> None:
    event = one('time=2026-11-25T15:00:00.123Z level=error msg="upstream failed" '
                'method=GET path=/api/x status=502 duration=1.5s trace_id=abc123 cache=miss')
    assert (event.level, event.message, event.status, event.duration_ms) == (
        "ERROR", "upstream failed", 502, 1500.0)
    assert (event.method, event.path, event.trace_id, event.cache) == (
        "GET", "/api/x", "abc123", "miss")
    assert event.ts == pytest.approx(SEED_EPOCH)


@pytest.mark.parametrize(("status", "level"), [(200, "INFO"), (302, "INFO"), (404, "WARN"),
                                               (503, "ERROR")])
def test_combined_access_log(status: int, level: str) -> None:
    event = one(f'127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /a.gif?x=1 HTTP/1.0" '
                f'{status} 2326 "http://example.com/" "Mozilla/4.08"')
    assert (event.level, event.status, event.method, event.path) == (
        level, status, "GET", "/a.gif")
    assert (event.ip, event.user_id, event.user_agent) == ("127.0.0.1", "frank", "Mozilla/4.08")
    assert event.ts == 971211336.0


def test_common_access_log_without_referer() -> None:
    event = one('::1 - - [10/Oct/2000:13:55:36 +0000] "POST /api/posts HTTP/1.1" 201 12')
    assert (event.status, event.method, event.user_id, event.user_agent) == (
        201, "POST", "", "")


@pytest.mark.parametrize(("line", "level", "message"), [
    ("[ERROR] Unhandled error occurred", "ERROR", "Unhandled error occurred"),
    ("[warn] disk almost full", "WARN", "disk almost full"),
    ("WARNING: low memory", "WARN", "low memory"),
    ("ERROR:root:it broke", "ERROR", "root:it broke"),
    ("2026-11-25 15:00:00,123 DEBUG cache warm", "DEBUG", "cache warm"),
    ("Error connecting to db", "ERROR", "Error connecting to db"),
    ("server started on port 3000", "INFO", "server started on port 3000"),
    ("worker 3: FATAL out of memory", "ERROR", "worker 3: FATAL out of memory"),
])
def test_plain_text_level_words(line: str, level: str, message: str) -> None:
    event = one(line)
    assert (event.level, event.message, event.raw) == (level, message, line)


def test_plain_text_timestamp_is_parsed() -> None:
    event = one("2026-11-25T15:00:00.123Z [INFO] ready")
    assert event.ts == pytest.approx(SEED_EPOCH) and event.message == "ready"


def test_traceparent_gives_trace_and_span() -> None:
    event = one(orjson.dumps({"message": "x", "correlationId": "corr",
                              "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}))
    assert (event.trace_id, event.span_id) == ("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7")


@pytest.mark.parametrize("key", ["trace_id", "traceId", "x-trace-id"])
def test_explicit_trace_id_wins(key: str) -> None:
    event = one(orjson.dumps({
        key: "explicit", "message": "x", "correlationId": "corr",
        "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "request": {"id": "req"}}))
    assert (event.trace_id, event.span_id, event.request_id) == (
        "explicit", "00f067aa0ba902b7", "req")


def test_correlation_id_beats_request_id() -> None:
    event = one(orjson.dumps({"message": "x", "correlationId": "corr", "request": {"id": "r"}}))
    assert (event.trace_id, event.request_id) == ("corr", "r")


@pytest.mark.parametrize(("value", "expected"), [
    ("2026-11-25T15:00:00.123Z", SEED_EPOCH),
    ("2026-11-25T16:00:00.123+01:00", SEED_EPOCH),
    (SEED_EPOCH, SEED_EPOCH),
    (int(SEED_EPOCH * 1000), int(SEED_EPOCH * 1000) / 1000),
    (str(SEED_EPOCH), SEED_EPOCH),
    ("not a time", NOW),
    (None, NOW),
    ({"nested": 1}, NOW),
])
def test_timestamps(value: object, expected: float) -> None:
    event = one(orjson.dumps({"timestamp": value, "message": "x"}))
    assert event.ts == pytest.approx(expected)


def test_missing_level_comes_from_status() -> None:
    assert one(orjson.dumps({"status": 503, "message": "x"})).level == "ERROR"
    assert one(orjson.dumps({"status": 404, "message": "x"})).level == "WARN"
    assert one(orjson.dumps({"message": "x"})).level == "INFO"


@pytest.mark.parametrize(("record", "cache"), [
    ({"cache": "HIT"}, "hit"), ({"cacheHit": True}, "hit"), ({"cacheHit": False}, "miss"),
    ({"cache_status": "miss"}, "miss"), ({"cache": "bypass"}, ""),
])
def test_cache_field(record: dict[str, object], cache: str) -> None:
    assert one(orjson.dumps({"message": "x", **record})).cache == cache


def test_long_line_is_truncated_and_counted() -> None:
    norm = Normalizer(max_line_bytes=100, clock=lambda: NOW)
    event = one(b"[WARN] " + b"x" * 500, norm)
    assert event.truncated and len(event.raw.encode()) <= 100 and event.level == "WARN"
    assert norm.truncated == 1


def test_invalid_utf8_is_replaced() -> None:
    norm = normalizer()
    text, record = norm.normalize_lines([b"\xff\xfe plain \xc3", b'{"message":"caf\xe9"}'], "f")
    assert "\ufffd" in text.raw and "plain" in text.message
    assert record.message == "caf\ufffd" and not record.parse_error
    assert norm.parse_errors == 0


def test_malformed_json_is_kept_as_text_and_counted() -> None:
    norm = normalizer()
    events = norm.normalize_lines(
        [b'{"message":"good"}', b'{"broken": ', b'{"message":"also good"}'], "f")
    assert [e.message for e in events] == ["good", '{"broken":', "also good"]
    assert [e.parse_error for e in events] == [False, True, False]
    assert norm.parse_errors == 1


def test_a_line_holding_two_objects_does_not_shift_its_neighbours() -> None:
    events = normalizer().normalize_lines(
        [b'{"message":"a"},{"message":"b"}', b'{"message":"c"}'], "f")
    assert [e.message for e in events][1] == "c"
    assert events[0].parse_error


def test_empty_and_blank_lines_are_skipped_and_crlf_trimmed() -> None:
    events = normalizer().normalize_lines([b"", b"   ", b"[INFO] ok\r"], "f")
    assert [e.message for e in events] == ["ok"]


def test_normalize_record_for_in_process_producers() -> None:
    stamp = datetime(2026, 11, 25, 15, 0, 0, 123000, tzinfo=UTC)
    event = normalizer().normalize_record(
        {"timestamp": stamp.isoformat(), "level": "info", "message": "Request completed",
         "method": "GET", "path": "/api/posts/1", "status": 200, "duration_ms": 3.5,
         "trace_id": "t1", "when": stamp}, "asgi")
    assert (event.source, event.status, event.duration_ms, event.trace_id) == (
        "asgi", 200, 3.5, "t1")
    assert event.extra == {"when": stamp.isoformat()}  # plain JSON: it must encode
    encode_events([event])


def test_events_always_encode_and_carry_a_known_level() -> None:
    lines = [orjson.dumps(seed_request()), b'{"level":{"x":1},"message":[1,2]}',
             b'{"status":"abc","duration":"fast","timestamp":[1]}', b"\x00\x1b[2J"]
    events = normalizer().normalize_lines(lines, "f")
    assert all(e.level in LEVELS for e in events)
    encode_events(events)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=300), max_size=20))
def test_normalize_lines_never_raises_on_arbitrary_bytes(lines: list[bytes]) -> None:
    events = Normalizer(max_line_bytes=128).normalize_lines(lines, "fuzz")
    assert all(e.level in LEVELS for e in events)
    encode_events(events)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner,
                                                                max_size=4),
    max_leaves=10,
)
keys = st.sampled_from(["timestamp", "level", "message", "request", "response", "duration",
                        "status", "traceparent", "error", "err", "stack", "user", "cache",
                        "method", "url", "msg", "time", "levelname", "exc_info"]) | st.text(max_size=8)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(keys, json_values, max_size=8))
def test_normalize_never_raises_on_arbitrary_records(record: dict[str, object]) -> None:
    line = json.dumps(record).encode()  # json: big integers and Infinity are possible too
    events = normalizer().normalize_lines([line], "fuzz")
    assert len(events) == 1 and events[0].level in LEVELS
    encode_events(events)


def test_normalize_record_never_raises() -> None:
    norm = normalizer()
    event = norm.normalize_record({1: "int key", "message": "ok", "big": 2**70}, "asgi")
    assert event.level in LEVELS
    encode_events([event])


def test_long_values_are_not_memoized() -> None:
    # Memos are bounded in entries and in entry size: hostile 64 KiB values stay out.
    norm = normalizer()
    lines = [orjson.dumps(seed_request(userAgent=f"{i}" + "x" * 5_000)) for i in range(20)]
    lines.append(b'1.2.3.4 - - [' + b"y" * 5_000 + b'] "GET / HTTP/1.1" 200 1')
    norm.normalize_lines(lines, "f")  # the first teaches the typed path their layout
    events = norm.normalize_lines(lines, "f")
    assert len(events) == 21 and events[0].user_agent.endswith("x" * 10) and norm.typed == 20
    assert all(len(value) <= 256 for value in norm.clean) and norm.clean
    assert all(len(stamp) <= 256 for stamp in norm._access_times)
