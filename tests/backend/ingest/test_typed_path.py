"""The typed path (shapes learned from the lines) builds exactly the events the generic path
builds, for the seed's request record in every byte shape real loggers write (key order,
spacing, level case, message and time keys, extra keys), and planted secrets survive
neither, a duplicate key's hidden first value included."""

from __future__ import annotations

import json
import random
import re
from typing import Any

import msgspec
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from benchmarks.shapes import SHAPES
from obsview.backend.ingest.normalize import Normalizer
from obsview.backend.ingest.typed_shapes import merge
from obsview.common.protocol import LogEvent

NOW = 1_700_000_000.0
SECRETS = (
    "password=SEKRET2", "Bearer SEKRET3abcdef", "eyJhbGciOi.eyJzdWIiOi.SEKRET4x",
    "http://u:SEKRET5@h/", "/api/p?token=SEKRET6", "sessionid=SEKRET7",
)


def fresh() -> Normalizer:
    return Normalizer(service="blog-api", host="web-1", clock=lambda: NOW)


def generic(line: bytes) -> LogEvent:
    """A normalizer that has never seen a line takes the generic path, the reference."""
    (event,) = fresh().normalize_lines([line], "app.log")
    return event


def typed(lines: list[bytes]) -> tuple[list[LogEvent], Normalizer]:
    """The lines through a normalizer that has learned their layouts from them."""
    norm = fresh()
    norm.normalize_lines(lines, "app.log")
    norm.typed = 0
    return norm.normalize_lines(lines, "app.log"), norm


_text = st.text(st.characters(codec="utf-8", exclude_characters="\\"), max_size=12)
_value = st.sampled_from(SECRETS) | _text
_requests = st.fixed_dictionaries(
    {
        "id": _text | st.integers(0, 10**9),
        "method": st.sampled_from(["GET", "POST", "get", "password"]),
        "url": st.sampled_from(["/api/posts/7?page=2", "/api/tokens/7"]) | _value,
        "ip": st.sampled_from(["10.0.0.7", "::1"]) | _value,
    },
    optional={
        "userAgent": st.sampled_from(["curl/8.4.0", "Mozilla/5.0 (X11)"]) | _value,
        "userId": st.integers(0, 10**6) | _text,
        "correlationId": _text,
    },
)
_responses = st.fixed_dictionaries({
    "statusCode": st.integers(100, 599) | st.integers(0, 1200),
    "responseTime": st.integers(0, 10**5) | st.floats(0, 1e4, allow_nan=False),
})
_stamps = st.sampled_from([
    "2026-11-25T15:00:00.123Z", "2026-11-25T15:00:01.999Z", "2026-11-25T15:00:00.123456Z",
    "2026-11-25T15:00:00.332+02:00", "2026-11-25T15:00:00", "yesterday",
]) | st.integers(1_700_000_000_000, 1_800_000_000_000)
_levels = st.sampled_from(["INFO", "info", "Info", "WARN", "warning", "error", "LOUD"]) | (
    st.sampled_from([10, 20, 30, 40, 50, 60, 35]))
# Keys with a slot take text on the typed path (a number there takes the generic path);
# keys without one keep any scalar in ``extra``.
_extras = st.dictionaries(
    st.sampled_from(["service", "hostname", "traceId"]), _value, max_size=2,
) | st.dictionaries(
    st.sampled_from(["pid", "logger", "email", "reason", "v"]),
    st.integers(0, 99999) | _value | st.booleans() | st.floats(allow_nan=False, allow_infinity=False)
    | st.just(4111111111111111),  # a card number as a JSON number: redacted in the raw line
    max_size=3,
)


@st.composite
def _records(draw: st.DrawFn) -> dict[str, Any]:
    response = draw(_responses)
    record: dict[str, Any] = {
        draw(st.sampled_from(["message", "msg", "event"])): draw(
            st.sampled_from(["Request completed"]) | _value),
        draw(st.sampled_from(["timestamp", "time"])): draw(_stamps),
        "level": draw(_levels),
        "request": draw(_requests),
        "response": response,
    }
    duration = draw(st.sampled_from(["same", "absent", "other"]))
    if duration != "absent":
        record["duration"] = response["responseTime"] if duration == "same" else 7
    record.update(draw(_extras))
    order = draw(st.permutations(list(record)))
    return {key: record[key] for key in order}


def _line(record: dict[str, Any], style: str, duplicate: bool) -> bytes:
    """The record as a logger writes it: compact (JSON.stringify, pino), spaced (Python's
    json.dumps, structlog) or with sorted keys (winston)."""
    if style == "compact":
        text = json.dumps(record, separators=(",", ":"), ensure_ascii=False)
    elif style == "spaced":
        text = json.dumps(record, ensure_ascii=False)
    else:
        text = json.dumps(record, separators=(",", ":"), ensure_ascii=False, sort_keys=True)
    if duplicate:  # a first "url" the decoded record never shows: last value wins
        text = text.replace('"request":{', '"request":{"url":"/x?token=SEKRET1",', 1)
        text = text.replace('"request": {', '"request": {"url": "/x?token=SEKRET1", ', 1)
    return text.encode()


@settings(max_examples=300, deadline=None)
@given(
    records=st.lists(_records(), min_size=1, max_size=6),
    style=st.sampled_from(["compact", "spaced", "sorted"]),
    duplicates=st.lists(st.booleans(), min_size=6, max_size=6),
)
def test_typed_path_builds_what_the_generic_path_builds(
    records: list[dict[str, Any]], style: str, duplicates: list[bool]
) -> None:
    lines = [_line(record, style, duplicate) for record, duplicate in zip(records, duplicates)]
    events, norm = typed(lines)
    # Every line takes it but those whose top-level duration disagrees with the response's
    # (the generic path keeps both) and those with an escape.
    agreeing = [
        b"\\" not in line and record.get("duration", record["response"]["responseTime"])
        == record["response"]["responseTime"]
        for line, record in zip(lines, records)
    ]
    assert norm.typed == sum(agreeing)
    for line, event in zip(lines, events):
        reference = generic(line)
        assert msgspec.structs.asdict(event) == msgspec.structs.asdict(reference), line
        for built in (event, reference):
            assert b"SEKRET" not in msgspec.json.encode(built), line


def test_every_real_shape_takes_the_typed_path_and_agrees() -> None:
    """The benchmark's lines, written by logging and structlog themselves or byte-faithful
    generators (winston, pino), all take the typed path once their layout is learned."""
    for name, write in SHAPES.items():
        lines = write(300)
        events, norm = typed(lines)
        json_lines = sum(line.startswith(b"{") for line in lines)
        assert norm.typed >= 0.8 * json_lines, name
        for index in random.Random(1).sample(range(len(lines)), 40):
            reference = generic(lines[index])
            assert msgspec.structs.asdict(events[index]) == msgspec.structs.asdict(reference), name


def test_a_chunk_decoded_as_one_array_gives_each_line_its_own_event() -> None:
    """A chunk whose lines are one learned layout is decoded in one call, its lines joined
    by commas into a JSON array: what the lines build must not depend on that. A record cut
    over two lines (joined, they would make one record again), a line holding two records
    (together they would keep the element count right), a duplicate key hiding a secret
    among clean lines: each line gets the event it gets alone."""
    clean = SHAPES["winston"](8)
    record = clean[3]
    cut = record.index(b',"request"')
    tricky = [
        clean[0],
        record[:cut], record[cut + 1 :],  # starts with a key: continues the line before
        clean[1] + b"," + clean[2],
        b'{"message":"Bearer SEKRET9abcdefgh",' + clean[4][1:],
        clean[5],
    ]
    events, norm = typed([*clean, *tricky])
    assert norm.typed >= len(clean)
    for line, event in zip(tricky, events[len(clean) :]):
        reference = generic(line)
        assert msgspec.structs.asdict(event) == msgspec.structs.asdict(reference), line
        assert b"SEKRET" not in msgspec.json.encode(event), line
    # Clean lines alone take the one-call decode, and the typed path builds every one.
    events, norm = typed(clean * 40)
    assert norm.typed == len(clean) * 40
    assert [event.message for event in events] == ["Request completed"] * len(events)


def test_merged_layouts_keep_the_order_lines_write_keys_in() -> None:
    """A key one layout lacks goes where the lines write it (before the next key both know,
    else last), so a compact logger's line is its record's re-encoding byte for byte and the
    duplicate-key check compares bytes instead of counting quotes."""
    with_user = ({"msg": "message"}, {"request": {"id": "request_id", "userAgent": "user_agent",
                                                  "userId": "user_id"}})
    with_correlation = ({"msg": "message"}, {"request": {
        "correlationId": "correlation", "id": "request_id", "userAgent": "user_agent"}})
    appended = ({"msg": "message"}, {"request": {"id": "request_id", "userAgent": "user_agent",
                                                 "correlationId": "correlation"}})
    merged = merge(with_user, with_correlation)
    assert merged is not None
    assert list(merged[1]["request"]) == ["correlationId", "id", "userAgent", "userId"]  # winston
    merged = merge(with_user, appended)
    assert merged is not None
    assert list(merged[1]["request"]) == ["id", "userAgent", "userId", "correlationId"]  # pino
    assert merge(with_user, ({"msg": "message"}, {"request": {"id": "user_id"}})) is None
    for name in ("winston", "pino", "logging (JsonFormatter)"):
        lines = SHAPES[name](300)
        norm = fresh()
        norm.normalize_lines(lines, "app.log")
        (shape,) = norm._shapes
        assert all(msgspec.json.encode(shape.decode(line)) == line for line in lines), name


def test_a_key_the_pair_rule_calls_secret_is_redacted_on_both_paths() -> None:
    """``auth2`` is a secret-named key to the raw line's pair rule: its value goes from the
    raw line, from ``extra`` too, and the typed path never learns the layout (it used to, and
    kept the value in both)."""
    lines = [
        json.dumps({"message": "Request completed", "level": "info", "auth2": f"SEKRET{i}x"},
                   separators=(",", ":")).encode()
        for i in range(6)
    ]
    events, norm = typed(lines)
    assert norm.typed == 0
    for line, event in zip(lines, events):
        reference = generic(line)
        assert msgspec.structs.asdict(event) == msgspec.structs.asdict(reference)
        assert b"SEKRET" not in msgspec.json.encode(event), line


def test_microsecond_stamps_read_inline_as_the_generic_path_reads_them() -> None:
    """structlog stamps microseconds (a tail per line, never memoized): the typed builder
    reads ".123456Z" itself, and anything else that long (other digits) the generic way."""
    tails = [f".{micro:06d}Z" for micro in (0, 1, 123456, 999999)]
    tails += [".\u0661\u0662\u0663\u0664\u0665\u0666Z", ".12345xZ", ".123456z"]
    lines = [
        json.dumps({"event": "Request completed", "level": "info",
                    "timestamp": f"2026-11-25T15:00:0{index % 2}{tail}"},
                   ensure_ascii=False).encode()
        for index, tail in enumerate(tails * 2)
    ]
    events, norm = typed(lines)
    assert norm.typed == len(lines)
    for line, event in zip(lines, events):
        assert event.ts == generic(line).ts, line


@pytest.mark.parametrize("key", ["https://u:SEKRET1@h", "Bearer SEKRET2abcdef",
                                 "eyJhbGciOi.eyJzdWIiOi.SEKRET3x", "ghp_" + "SEKRET4" * 5 + "x"])
def test_a_key_holding_a_secret_keeps_its_lines_off_the_typed_path(key: str) -> None:
    """A shape's keys are fixed, so the typed path checks values only; a key holding a
    secret must then never become part of a shape, or its raw line kept it where the
    generic path redacts it."""
    lines = [
        json.dumps({"message": "Request completed", "level": "info", key: f"v{i}"},
                   separators=(",", ":")).encode()
        for i in range(6)
    ]
    events, norm = typed(lines)
    assert norm.typed == 0
    for line, event in zip(lines, events):
        reference = generic(line)
        assert msgspec.structs.asdict(event) == msgspec.structs.asdict(reference)
        assert "SEKRET" not in event.raw, line


_PLANTED = (
    *SECRETS, "AKIASEKRET8ABCDEFGHI", "ghp_SEKRET9abcdefghijklmnopqrstuvwxyz012",
    "xoxb-SEKRET10-abcdefgh", "Authorization: Basic SEKRET11", "4111 1111 1111 1111",
)
_SHAPE_LINES = {name: write(40) for name, write in SHAPES.items()}
_JSON_VALUE = re.compile(rb'(":\s?)(?:"([^"\\]*)"|(-?\d+(?:\.\d+)?))')


def _plant(line: bytes, secret: str, where: int, as_key: bool) -> bytes:
    """``line`` with ``secret`` in place of its ``where``-th value (string or number, any
    depth), or under a new secret-named key; in a text line, in place of a word."""
    planted = secret.encode()
    if not line.startswith(b"{"):
        words = line.split(b" ")
        if as_key:
            return line + b" password=" + planted.replace(b" ", b"_")
        words[where % len(words)] = planted
        return b" ".join(words)
    if as_key:
        return b'{"apiKey":' + json.dumps(secret).encode() + b"," + line[1:]
    values = list(_JSON_VALUE.finditer(line))
    value = values[where % len(values)]
    return line[: value.end(1)] + json.dumps(secret).encode() + line[value.end() :]


def _intact(line: bytes, secret: str) -> bool:
    """``secret`` is whole in ``line``: as planted, or as a text line's ``password=`` value."""
    return secret.encode() in line or secret.replace(" ", "_").encode() in line


def _fragment_left(line: bytes, secrets: list[str]) -> bool:
    """A marker in ``line`` outside every whole planted secret: a later plant took the word
    before it ('Bearer' of 'Bearer SEKRET3…' became 'Bearer SEKRET3… SEKRET3…')."""
    for secret in secrets:
        line = line.replace(secret.encode(), b"").replace(secret.replace(" ", "_").encode(), b"")
    return b"SEKRET" in line


@settings(max_examples=200, deadline=None)
@given(
    shape=st.sampled_from(sorted(SHAPES)),
    plants=st.lists(st.tuples(st.integers(0, 39), st.sampled_from(_PLANTED), st.integers(0, 40),
                              st.booleans()), min_size=1, max_size=4),
)
def test_secrets_planted_in_any_field_of_any_shape_survive_neither_path(
    shape: str, plants: list[tuple[int, str, int, bool]]
) -> None:
    lines = list(_SHAPE_LINES[shape])
    for index, secret, where, as_key in plants:
        lines[index] = _plant(lines[index], secret, where, as_key)
    # A later plant may take a word of an earlier one ('Bearer' of 'Bearer SEKRET3…'): what
    # is left is no longer a secret, only a word that contains the marker; such draws go.
    assume(all(_intact(lines[index], secret) for index, secret, _, _ in plants))
    assume(not any(_fragment_left(lines[index], [s for i, s, _, _ in plants if i == index])
                   for index, _, _, _ in plants))
    events, _ = typed(lines)  # the layouts learned from these lines, the secrets among them
    learned = fresh()
    learned.normalize_lines(_SHAPE_LINES[shape], "app.log")  # learned from clean lines only
    for built in (events, learned.normalize_lines(lines, "app.log")):
        for index, secret, _where, _as_key in plants:
            marker = (secret if "SEKRET" not in secret else "SEKRET").encode()
            event = built[index]
            assert marker not in msgspec.json.encode(event), lines[index]
            assert event.redacted
            reference = generic(lines[index])
            assert marker not in msgspec.json.encode(reference), lines[index]
            assert msgspec.structs.asdict(event) == msgspec.structs.asdict(reference), lines[index]
