"""OTLP JSON → normalizer records, directly (pure mapping, no network)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from otlp_testkit import export_of, integer, string

from obsview.backend.ingest.normalize import Normalizer
from obsview.backend.ingest.sources.otlp_json import (
    MAX_DEPTH,
    Rejected,
    RequestError,
    decode_any_value,
    iter_records,
)


def mapped(*log_records: dict[str, Any]) -> list[Any]:
    return list(iter_records(export_of(*log_records)))


@pytest.mark.parametrize(
    ("number", "level"),
    [(1, "TRACE"), (4, "TRACE"), (5, "DEBUG"), (8, "DEBUG"), (9, "INFO"), (12, "INFO"),
     (13, "WARN"), (16, "WARN"), (17, "ERROR"), (21, "ERROR"), (24, "ERROR")],
)
def test_severity_number_ranges(number: int, level: str) -> None:
    (record,) = mapped({"severityNumber": number, "severityText": "ignored"})
    assert record["level"] == level


def test_any_values_decode_to_plain_json() -> None:
    value = {"kvlistValue": {"values": [
        {"key": "n", "value": {"intValue": "9007199254740993"}},
        {"key": "d", "value": {"doubleValue": 1.5}},
        {"key": "nan", "value": {"doubleValue": "NaN"}},
        {"key": "b", "value": {"boolValue": False}},
        {"key": "list", "value": {"arrayValue": {"values": [{"stringValue": "a"}, {"intValue": 2}, {}]}}},
        {"key": "bytes", "value": {"bytesValue": "AQI="}},
    ]}}
    assert decode_any_value(value) == {
        "n": 9007199254740993, "d": 1.5, "nan": "NaN", "b": False, "list": ["a", 2, None], "bytes": "AQI=",
    }


def test_non_string_bodies_become_the_message() -> None:
    records = mapped(
        {"body": {"intValue": 42}},
        {"body": {"arrayValue": {"values": [{"stringValue": "a"}]}}},
        {"eventName": "user.login"},
    )
    events = [Normalizer().normalize_record(record, "otlp") for record in records]
    assert [e.message for e in events] == ["42", '["a"]', "user.login"]


def test_older_http_conventions_and_full_urls_map_too() -> None:
    (record,) = mapped({"attributes": [
        string("http.method", "POST"), string("http.url", "https://blog.example/api/posts?draft=1"),
        integer("http.status_code", 503), {"key": "duration_ms", "value": {"doubleValue": 7.5}},
        string("http.user_agent", "curl/8"),
    ]})
    event = Normalizer().normalize_record(record, "otlp")
    assert (event.method, event.path, event.status, event.duration_ms, event.user_agent) == (
        "POST", "/api/posts", 503, 7.5, "curl/8")


def test_an_unparsable_full_url_stays_an_extra_field() -> None:
    (record,) = mapped({"attributes": [string("url.full", "http://[::1/broken")]})
    assert "path" not in record and record["url.full"] == "http://[::1/broken"


def test_fields_never_overwrite_what_the_record_already_says() -> None:
    (record,) = mapped({
        "severityNumber": 17,
        "body": {"kvlistValue": {"values": [string("level", "debug"), string("service", "fake")]}},
        "attributes": [string("level", "trace")],
    })
    event = Normalizer().normalize_record(record, "otlp")
    assert (event.level, event.service) == ("ERROR", "svc")
    assert event.extra["attributes.level"] == "debug"
    assert event.extra["attributes.attributes.level"] == "trace"


def test_all_zero_ids_mean_no_id_and_upper_case_hex_is_lowered() -> None:
    (record,) = mapped({"traceId": "0" * 32, "spanId": "ABCDEF0123456789"})
    assert "trace_id" not in record and record["span_id"] == "abcdef0123456789"


@pytest.mark.parametrize(
    "bad",
    [
        {"traceId": "0x" + "1" * 30},
        {"spanId": "12"},
        {"timeUnixNano": "soon"},
        {"severityNumber": "--5"},
        {"attributes": {"not": "a list"}},
        {"attributes": [{"key": 1, "value": {}}]},
        {"body": {"stringValue": "a", "intValue": 1}},
        "not an object",
    ],
)
def test_malformed_records_are_rejected_with_a_reason(bad: Any) -> None:
    (result,) = mapped(bad)
    assert isinstance(result, Rejected) and result.reason


def test_nesting_past_the_limit_is_rejected() -> None:
    value: dict[str, Any] = {"stringValue": "deep"}
    for _ in range(MAX_DEPTH + 2):
        value = {"arrayValue": {"values": [value]}}
    (result,) = mapped({"body": value})
    assert isinstance(result, Rejected)


def test_a_malformed_scope_rejects_each_of_its_records() -> None:
    export = {"resourceLogs": [{"scopeLogs": [
        {"scope": "bad", "logRecords": [{}, {}, {}]},
        {"logRecords": [{"body": {"stringValue": "ok"}}]},
    ]}]}
    results = list(iter_records(export))
    assert [type(r).__name__ for r in results] == ["Rejected"] * 3 + ["dict"]


@pytest.mark.parametrize("export", [[], "x", {"resourceLogs": "x"}])
def test_a_request_that_is_not_an_export_is_a_request_error(export: Any) -> None:
    with pytest.raises(RequestError):
        list(iter_records(export))


def test_an_empty_export_is_fine() -> None:
    assert list(iter_records({})) == [] and list(iter_records({"resourceLogs": []})) == []


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=20,
)
_otlp_keys = st.sampled_from([
    "body", "attributes", "severityNumber", "severityText", "timeUnixNano", "traceId", "spanId",
    "stringValue", "intValue", "kvlistValue", "arrayValue", "values", "key", "value",
])
_log_record = st.dictionaries(_otlp_keys, _json, max_size=6)


@settings(max_examples=200, deadline=None)
@given(st.lists(_log_record | _json, max_size=4))
def test_any_json_maps_or_is_rejected_and_never_raises_past_normalize(log_records: list[Any]) -> None:
    normalizer = Normalizer()
    for item in iter_records(export_of(*log_records)):
        if isinstance(item, Rejected):
            assert item.reason
        else:
            assert normalizer.normalize_record(item, "otlp").level in ("ERROR", "WARN", "INFO", "DEBUG", "TRACE")
