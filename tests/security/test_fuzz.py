"""Property-based fuzz of the two parsers that face untrusted bytes.

``Normalizer.normalize_lines`` never raises (its contract: a batch always comes back as
events); ``protocol.decode`` raises nothing but :class:`ProtocolError`. Bounded examples, no
deadline (the machine is shared).
"""

from __future__ import annotations

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from obsview.backend.ingest.normalize import Normalizer
from obsview.common.protocol import (
    LEVELS,
    MESSAGE_TYPES,
    LogEvent,
    Message,
    ProtocolError,
    UnknownMessage,
    decode,
    encode_events,
)

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_scalars = (
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False) | st.text(max_size=40)
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=25,
)
# Keys the normalizer and the protocol look for, so fuzzed records reach the interesting paths.
KNOWN_KEYS = st.sampled_from([
    "timestamp", "time", "ts", "@timestamp", "level", "severity", "lvl", "message", "msg", "trace_id",
    "traceparent", "request", "response", "status", "statusCode", "duration", "duration_ms", "url",
    "headers", "password", "authorization", "cookie", "error", "err", "stack", "user", "cache",
    "v", "type", "events", "since_seq", "levels", "snapshot", "alerts", "report", "seq", "extra",
])
records = st.dictionaries(KNOWN_KEYS | st.text(max_size=8), json_values, max_size=8)


def encoded_record(record: dict[str, object]) -> bytes:
    try:
        return orjson.dumps(record)
    except (TypeError, orjson.JSONEncodeError):  # e.g. integers beyond 64 bits
        return repr(record).encode("utf-8", "surrogatepass")


lines = st.one_of(
    st.binary(max_size=300),
    st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass")),
    records.map(encoded_record),
)


@FUZZ
@given(st.lists(lines, max_size=20))
def test_normalize_lines_never_raises(batch: list[bytes]) -> None:
    normalizer = Normalizer(service="svc", host="h", max_line_bytes=256)
    events = normalizer.normalize_lines(batch, "fuzz")
    assert all(isinstance(event, LogEvent) and event.level in LEVELS for event in events)
    assert len(events) <= len(batch)
    # Whatever came in, what goes out can be sent to a console.
    encode_events(events)


@FUZZ
@given(records)
def test_normalize_record_never_raises(record: dict[str, object]) -> None:
    event = Normalizer().normalize_record(record, "asgi")
    assert event.level in LEVELS


def message_frames() -> st.SearchStrategy[bytes]:
    """Envelopes of real message types with fuzzed bodies, plus raw garbage."""
    envelope = st.builds(
        lambda kind, version, body: {**body, "type": kind, "v": version},
        st.sampled_from(sorted(MESSAGE_TYPES)) | st.text(max_size=10),
        st.sampled_from([1, 1, 1, 0, 2, "1", None]),
        records,
    )
    return st.one_of(envelope.map(encoded_record), st.binary(max_size=200), json_values.map(encoded_record))


@FUZZ
@given(message_frames(), st.booleans())
def test_decode_raises_only_protocol_error(frame: bytes, as_text: bool) -> None:
    data: bytes | str = frame.decode("utf-8", "replace") if as_text else frame
    try:
        message = decode(data)
    except ProtocolError:
        return
    assert isinstance(message, (Message, UnknownMessage))


wire_events = st.fixed_dictionaries(
    {"ts": st.floats(allow_nan=False) | json_values, "level": st.sampled_from(LEVELS) | json_values,
     "message": st.text(max_size=30) | json_values},
    optional={"seq": st.integers(min_value=0) | json_values, "status": st.integers(100, 599) | json_values,
              "duration_ms": st.floats(allow_nan=False) | json_values, "extra": records | json_values,
              "trace_id": json_values, "unknown_future_field": json_values},
)


@FUZZ
@given(st.lists(wire_events | records, min_size=1, max_size=3))
def test_decode_of_fuzzed_event_batches_raises_only_protocol_error(events: list[dict[str, object]]) -> None:
    frame = encoded_record({"v": 1, "type": "events", "events": events})
    try:
        decode(frame)
    except ProtocolError:
        pass


def test_decode_of_an_event_with_an_unhashable_level_raises_protocol_error() -> None:
    """Found by the fuzz below (TypeError before 21cb727)."""
    with pytest.raises(ProtocolError):
        decode(b'{"v":1,"type":"events","events":[{"ts":0,"level":[],"message":""}]}')
