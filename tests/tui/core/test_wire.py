"""The console's batch decoder says exactly what ``protocol.decode`` says, frame for frame."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from injection_corpus import INJECTION_CORPUS

from obsview.common.protocol import (
    Events,
    Gap,
    LogEvent,
    ProtocolError,
    decode,
    encode,
    encode_events,
)
from obsview.tui.wire import decode_frame


def _event(seq: int, **fields: object) -> LogEvent:
    values: dict[str, object] = {"ts": 1795618800.0 + seq, "level": "INFO", "message": f"event {seq}",
                                 "seq": seq, **fields}
    return LogEvent(**values)  # type: ignore[arg-type]


def _outcome(decoder: object, frame: bytes) -> object:
    try:
        return decoder(frame)  # type: ignore[operator]
    except ProtocolError as exc:
        return ("error", str(exc))


def _same(frame: bytes) -> object:
    expected = _outcome(decode, frame)
    assert _outcome(decode_frame, frame) == expected
    return expected


def _events_frame(objects: list[object]) -> bytes:
    return orjson.dumps({"v": 1, "type": "events", "events": objects})


def _wire(event: LogEvent) -> dict[str, object]:
    return orjson.loads(encode_events([event]))["events"][0]  # type: ignore[no-any-return]


def test_a_batch_decodes_to_the_same_events() -> None:
    events = [
        _event(1, status=200, duration_ms=12, method="GET", path="/api/posts", extra={"a": [1]}),
        _event(2, status=None, duration_ms=None, truncated=True, level="ERROR"),
        *(_event(3 + i, message=text) for i, (_, text) in enumerate(INJECTION_CORPUS)
          if not any(0xD800 <= ord(c) <= 0xDFFF for c in text)),
    ]
    decoded = _same(encode_events(events))
    assert isinstance(decoded, Events) and list(decoded.events) == events


def test_empty_batches_and_other_messages_go_as_the_protocol_says() -> None:
    assert _same(encode_events([])) == Events(())
    assert _same(encode(Gap(missed=3, from_seq=10))) == Gap(missed=3, from_seq=10)
    for frame in (b"not json", b"[]", b'{"v":2,"type":"events","events":[]}', b'{"v":1}',
                  b'{"v":1,"type":"events"}', b'{"v":1,"type":"events","events":{}}',
                  b'{"v":1,"type":"newer-kind"}'):
        _same(frame)


@pytest.mark.parametrize(
    "change",
    [
        {"status": True},  # bool is not an int on the wire
        {"ts": "yesterday"},
        {"duration_ms": False},
        {"level": "NOTICE"},
        {"extra": []},
        {"truncated": 1},
        {"message": None},
        {"unknown_key": "from a newer agent"},  # skipped, the event kept
    ],
)
def test_one_bad_field_in_a_batch_is_reported_like_the_protocol(change: dict[str, object]) -> None:
    objects: list[object] = [_wire(_event(1)), {**_wire(_event(2)), **change}, _wire(_event(3))]
    _same(_events_frame(objects))


def test_reordered_missing_keys_and_non_objects_take_the_protocol_path() -> None:
    first = _wire(_event(1))
    reordered = dict(reversed(list(first.items())))
    missing = {k: v for k, v in first.items() if k != "message"}
    minimal = {"ts": 1.0, "level": "WARN", "message": "only the required keys"}
    for objects in ([reordered], [missing], [first, "text"], [first, None], [minimal, first]):
        _same(_events_frame(objects))


_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.floats(allow_nan=False)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=2) | st.dictionaries(st.text(max_size=4), inner, max_size=2),
    max_leaves=4,
)
_FIELD_NAMES = list(LogEvent.__struct_fields__)


@settings(max_examples=200, deadline=None)
@given(name=st.sampled_from(_FIELD_NAMES), value=_JSON_VALUES)
def test_any_json_value_in_any_field_gets_the_protocols_answer(name: str, value: object) -> None:
    objects: list[object] = [_wire(_event(1)), {**_wire(_event(2)), name: value}]
    _same(_events_frame(objects))
