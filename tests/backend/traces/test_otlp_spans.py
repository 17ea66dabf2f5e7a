"""OTLP trace exports → spans: both encodings map alike, secrets never survive, bad input is
rejected per span or as a whole request."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from span_testkit import (
    CHILD_ID,
    ROOT_ID,
    TRACE_ID,
    export_of,
    otlp_span,
    protobuf_of,
    server_span,
    string,
)

from obsview.backend.ingest.redact import REDACTED
from obsview.backend.ingest.sources import otlp_spans
from obsview.backend.ingest.sources.otlp_json import Rejected, RequestError
from obsview.common.spans import KIND_SERVER, STATUS_ERROR, Span


def both(export: dict[str, Any]) -> tuple[list[Span | Rejected], list[Span | Rejected]]:
    from_json = list(otlp_spans.iter_json(orjson.loads(orjson.dumps(export))))
    from_protobuf = list(otlp_spans.iter_protobuf(otlp_spans.parse_protobuf(protobuf_of(export))))
    return from_json, from_protobuf


def test_a_server_span_and_its_child_map_the_same_from_both_encodings() -> None:
    child = otlp_span(
        CHILD_ID, "SELECT posts", 2, 9.5, parent=ROOT_ID, kind=3,
        attributes=[string("db.system", "postgresql")],
        status={"code": 2, "message": "deadlock detected"},
        events=[{"timeUnixNano": str(1764079200_005_000_000), "name": "exception",
                 "attributes": [string("exception.type", "RuntimeError")]}],
    )
    from_json, from_protobuf = both(export_of(server_span(), child))
    assert from_json == from_protobuf
    root, db = from_json
    assert isinstance(root, Span) and isinstance(db, Span)
    assert (root.trace_id, root.span_id, root.parent_id) == (TRACE_ID, ROOT_ID, "")
    assert root.kind == KIND_SERVER and root.service == "blog-api" and root.scope == "test"
    assert root.duration_ms == pytest.approx(12.5, abs=1e-3)
    assert root.attributes["http.route"] == "/api/posts/:id"
    assert root.attributes["http.response.status_code"] == 200
    assert db.parent_id == ROOT_ID and db.status == STATUS_ERROR and db.is_error
    assert db.status_message == "deadlock detected"
    assert db.events[0].name == "exception" and db.events[0].ts == pytest.approx(1764079200.005)


def test_secrets_in_attributes_names_and_events_are_redacted() -> None:
    span = server_span()
    span["name"] = "GET /reset?token=abcdef123456"
    span["events"] = [{"timeUnixNano": "1", "name": "retry",
                       "attributes": [string("password", "hunter2hunter2")]}]
    (mapped,) = both(export_of(span))[1]
    assert isinstance(mapped, Span)
    assert mapped.attributes["http.request.header.authorization"] == REDACTED
    assert "abcdef123456" not in mapped.name
    assert mapped.events[0].attributes["password"] == REDACTED


def test_a_malformed_span_is_rejected_alone() -> None:
    bad_id = otlp_span("xyz", "bad", 0, 1)
    no_trace = otlp_span(CHILD_ID, "zero", 0, 1, trace_id="0" * 32)
    results = list(otlp_spans.iter_json(export_of(bad_id, server_span(), no_trace, {"kind": "x"})))
    assert [type(r).__name__ for r in results] == ["Rejected", "Span", "Rejected", "Rejected"]


def test_hostile_nesting_rejects_the_span_not_the_request() -> None:
    value: dict[str, Any] = {"stringValue": "deep"}
    for _ in range(200):
        value = {"arrayValue": {"values": [value]}}
    deep = otlp_span(CHILD_ID, "deep", 0, 1, attributes=[{"key": "k", "value": value}])
    results = list(otlp_spans.iter_json(export_of(deep, server_span())))
    assert isinstance(results[0], Rejected) and "nested" in results[0].reason
    assert isinstance(results[1], Span)


def test_caps_cut_attributes_events_and_long_values() -> None:
    attributes = [string(f"a{i}", "x") for i in range(200)] + [string("sql", "y" * 100_000)]
    events = [{"timeUnixNano": "1", "name": f"e{i}"} for i in range(300)]
    (span,) = otlp_spans.iter_json(export_of(otlp_span(CHILD_ID, "n", 0, 1, attributes=attributes,
                                                       events=events)))
    assert isinstance(span, Span)
    assert len(span.attributes) == otlp_spans.MAX_ATTRIBUTES and len(span.events) == otlp_spans.MAX_EVENTS
    assert span.dropped == (201 - 128) + (300 - 128)


def test_long_strings_are_cut() -> None:
    (span,) = otlp_spans.iter_json(export_of(otlp_span(CHILD_ID, "n", 0, 1,
                                                       attributes=[string("sql", "y" * 100_000)])))
    assert isinstance(span, Span)
    assert len(span.attributes["sql"]) == otlp_spans.MAX_VALUE_CHARS + 1


@pytest.mark.parametrize("body", [[], "x", {"resourceSpans": {}}])
def test_a_body_that_is_no_export_is_a_request_error(body: Any) -> None:
    with pytest.raises(RequestError):
        list(otlp_spans.iter_json(body))


def test_protobuf_garbage_is_a_request_error() -> None:
    with pytest.raises(RequestError):
        otlp_spans.parse_protobuf(b"\xff\xff\xff\xff")


def test_partial_success_answers() -> None:
    assert otlp_spans.response_json(0, "") == {"partialSuccess": {}}
    assert otlp_spans.response_json(2, "why") == {
        "partialSuccess": {"rejectedSpans": "2", "errorMessage": "why"}}
    assert otlp_spans.response_protobuf(0, "") == b""
