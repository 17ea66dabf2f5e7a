"""The event builder of one learned shape: a function written for its layout and compiled.

A generic builder pays per record for what it does not know: which key feeds which slot,
which slots are absent, which nested value may disagree with its top-level twin. Measured on
a loaded 2-core machine, 25,600 seed records: the seed-only hand-written builder 4.4–5.4 µs a
line end to end, a column-at-a-time builder with ``attrgetter`` and ``map`` 9.8–12 µs
(materializing columns cost more than it saved). So the builder is written out for the
layout, as straight-line attribute reads, the way :mod:`dataclasses` writes ``__init__``:
generated text holds only identifiers it makes itself (``f3``, ``g0``) and keys through
``repr``, never text from a log line as code.

The tail every builder shares mirrors ``Normalizer._build`` for the value types a shape lets
through (the property test in tests/backend/ingest compares both on random records).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

import msgspec

from obsview.backend.ingest.record_fields import LEVELS_BY_NAME, level_of
from obsview.common.http_methods import HTTP_METHODS
from obsview.common.protocol import LogEvent

Builder = Callable[..., tuple[list[LogEvent | None], list[int], list[int]]]
"""``(records, lines, source, now, context, keys_checked)`` → the events (None for a row the
generic path must build), the rows not vouched for, and where each row's values end in
``context.probe`` (strings whose secret check the caller does for all rows at once).
``keys_checked``: the caller proved for all rows at once that no line repeats a key
(:func:`keys_unique`), so no row re-encodes its record."""

_HEAD: Final = '''
def build(records, lines, source, now, context, keys_checked):
    service_default, host_default = context.service, context.host
    seconds_get, tails_get = context.stamps.seconds.get, context.stamps.tails.get  # memos
    stamp_of = context.stamps.value
    clean_get, remember = context.clean.get, context.remember
    probe = context.probe
    encode_into, buffer = _ENCODE_INTO, context.buffer
    events = []
    append = events.append
    unproven = []
    spans = []
    spans_append = spans.append
    row = -1
    for record, line, text in zip(records, lines, map(bytes.decode, lines)):
        row += 1
        doubt = False
'''
_CHECK_DUPLICATES: Final = """
# A duplicate key hides its first value from the record (the last wins, as in the generic
# path) but not from the raw line: see keys_unique, which usually vouched for every row.
if not keys_checked:
    encode_into(record, buffer)
    if buffer.count(34) != line.count(34):
        doubt = True
"""
_SHARED: Final = """
# Repeating values are vouched for once each through the memo, and shared: one instance in
# the store.
shared = clean_get({0})
if shared is not None:
    {0} = shared
elif {0} is None:
    {0} = ""
else:
    shared = remember({0})
    if shared is None:
        doubt = True
    else:
        {0} = shared
"""
_VOUCHED: Final = """
if {0} is not None and clean_get({0}) is None and remember({0}) is None:
    doubt = True
"""
_STATUS: Final = """
if status is not None and not 100 <= status <= 999:
    status = None
"""
_LEVEL: Final = """
found = LEVELS_BY_NAME.get(level)
if found is None:  # a known level word holds no secret; another goes through the memo
    found = level_of(level, {status})
    if type(level) is str and clean_get(level) is None and remember(level) is None:
        doubt = True
"""
_METHOD: Final = """
if method:
    shared = HTTP_METHODS.get(method)
    if shared is None:
        shared = HTTP_METHODS.get(method.upper())
    if shared is None:  # e.g. the seed's login record: method "password"
        extra["method"] = method
        if clean_get(method) is None and remember(method) is None:
            doubt = True
        method = ""
    else:
        method = shared
else:
    method = ""
"""
_CARD_LIKE: Final = """
# card_like, its answer for most numbers inline (a call a row cost more): an int below
# 2e12 has at most 13 digits and then starts with 1 (epoch milliseconds), a float below
# 1e12 is never card-like.
kind = type({0})
if kind is int:
    if not -2e12 < {0} < 2e12 and card_like({0}):
        doubt = True
elif kind is float and not -1e12 < {0} < 1e12:
    doubt = True
"""
_NUMBER_OR_TEXT: Final = """
if type({0}) is not str:
    {0} = "" if {0} is None else str({0})
"""
_TIMESTAMP: Final = """
if type(ts) is str:  # a stamp the memos parse holds no secret; another is probed
    second = seconds_get(ts[:19])
    tail = tails_get(ts[19:])
    if second is not None and tail is not None:
        when = (second + tail) / 1e6
    elif (second is not None and len(ts) == 27 and ts[19] == "." and ts[26] == "Z"
            and ts[20:26].isascii() and ts[20:26].isdigit()):
        # structlog's ".123456Z": a tail per line, so IsoStamps does not memoize it; its
        # microseconds read as IsoStamps reads them (digits only: nothing to probe).
        when = (second + int(ts[20:26])) / 1e6
    else:
        when = stamp_of(ts, now)
        probe.append(ts)
elif type(ts) is int and 1e11 < ts < 1e14:  # epoch milliseconds (pino): parse_timestamp's
    when = ts / 1000.0
else:
    when = stamp_of(ts, now)
"""
_PATH: Final = """
if url is None:
    url = path = ""
else:
    path = url.split("?", 1)[0] if "?" in url else url
"""
_FINISH: Final = """
{probe}
if doubt:
    unproven.append(row)
append(LogEvent(
    {when}, found, {message}, 0, {service}, {host}, {trace}, {span}, {request_id}, {method},
    {route}, {path}, {status}, {duration}, {ip}, {agent}, {user}, "", "", "", "", source,
    text, extra,
))
spans_append(len(probe))
"""
_RETURN: Final = """
    return events, unproven, spans
"""
_UNIQUE: Final = ("url", "request_id", "user", "trace_id", "span_id", "correlation")
"""Values unique to a line: probed for secrets together, for the whole chunk at once."""


_SLOT_VARIABLES: Final = {
    "ts": "ts", "level": "level", "message": "message", "service": "service", "host": "host",
    "trace_id": "trace_id", "span_id": "span_id", "request_id": "request_id",
    "correlation": "correlation", "method": "method", "route": "route", "path": "url",
    "status": "status", "duration": "duration", "ip": "ip", "user_agent": "agent",
    "user_id": "user",
}
_ENCODE_INTO: Final = msgspec.json.Encoder().encode_into
_ENCODE: Final = msgspec.json.Encoder().encode
_INDENT: Final = " " * 8


def compile_builder(
    sources: dict[str, list[str]], extras: list[tuple[str, str]], nested: list[str]
) -> Builder:
    """The builder for a layout. ``sources``: slot → attribute paths feeding it, the top-level
    one first (``f2``, ``f3.g0``); ``extras``: (key, attribute) of keys kept in ``extra``;
    ``nested``: attributes holding nested structs. Code for a slot the layout lacks is left
    out: the event gets the slot's empty value."""
    present = {variable for slot, variable in _SLOT_VARIABLES.items() if sources.get(slot)}
    body = [f"{name} = record.{name}" for name in nested]
    for slot, variable in _SLOT_VARIABLES.items():
        paths = sources.get(slot, [])
        if not paths:
            continue
        body.append(f"{variable} = {_read(paths[0])}")
        for path in paths[1:]:  # a nested twin: fills the slot, or must agree with it
            body += [
                f"twin = {_read(path)}",
                "if twin is not None:",
                f"    if {variable} is None:",
                f"        {variable} = twin",
                f"    elif {variable} != twin:",
                "        append(None)  # the generic path keeps both: rare",
                "        spans.append(len(probe))",
                "        continue",
            ]
    body.append("extra = {}")
    for key, name in extras:
        body += [
            f"value = record.{name}",
            "if value is not None:",
            f"    extra[{key!r}] = value",
            "    if type(value) is str:",
            "        if clean_get(value) is None and remember(value) is None:",
            "            doubt = True",
            *("    " + line for line in _CARD_LIKE.format("value").splitlines()),
        ]
    body += _CHECK_DUPLICATES.splitlines()
    for variable in ("message", "agent", "ip"):
        if variable in present:
            body += _SHARED.format(variable).splitlines()
    for variable in ("service", "host", "route"):
        if variable in present:
            body += _VOUCHED.format(variable).splitlines()
    if "status" in present:
        body += _STATUS.splitlines()
    if "level" in present:
        body += _LEVEL.format(status="status" if "status" in present else "None").splitlines()
    else:
        body.append(f"found = level_of(None, {'status' if 'status' in present else 'None'})")
    if "method" in present:
        body += _METHOD.splitlines()
    for variable in ("request_id", "user"):
        if variable in present:
            body += _NUMBER_OR_TEXT.format(variable).splitlines()
    for variable in ("ts", "level", "duration"):  # may hold a number
        if variable in present:
            body += _CARD_LIKE.format(variable).splitlines()
    if "ts" in present:
        body += _TIMESTAMP.splitlines()
    if "url" in present:
        body += _PATH.splitlines()
    unique = [
        variable if variable in ("url", "request_id", "user") else f"{variable} or ''"
        for variable in _UNIQUE if variable in present
    ]
    trace = [variable for variable in ("trace_id", "correlation", "request_id") if variable in present]
    body += _FINISH.format(
        probe=f"probe += ({', '.join(unique)},)" if unique else "",
        when="when" if "ts" in present else "now",
        message=_or_empty("message", present), agent=_or_empty("agent", present),
        ip=_or_empty("ip", present),
        service="service or service_default" if "service" in present else "service_default",
        host="host or host_default" if "host" in present else "host_default",
        # request_id is a string once its block ran; the others may be None.
        trace=" or ".join(trace if "request_id" in present else [*trace, '""']),
        span="span_id or ''" if "span_id" in present else '""',
        request_id=_or_empty("request_id", present), method=_or_empty("method", present),
        route="route or ''" if "route" in present else '""',
        path="path" if "url" in present else '""',
        status="status" if "status" in present else "None",
        duration=(
            "None if duration is None else float(duration)" if "duration" in present else "None"
        ),
        user=_or_empty("user", present),
    ).splitlines()
    source = _HEAD + "".join(f"{_INDENT}{line}\n" for line in body) + _RETURN
    namespace: dict[str, Any] = {
        "LogEvent": LogEvent, "LEVELS_BY_NAME": LEVELS_BY_NAME, "HTTP_METHODS": HTTP_METHODS,
        "level_of": level_of, "_ENCODE_INTO": _ENCODE_INTO, "card_like": card_like,
    }
    exec(compile(source, "<typed shape builder>", "exec"), namespace)  # text we generated
    builder: Builder = namespace["build"]
    return builder


def keys_unique(records: list[Any], lines: list[bytes]) -> bool:
    """True when no line repeats a key, for all rows at once.

    A duplicate key hides its first value from the record (the last wins, as on the generic
    path) but not from the raw line, and only the record's values are checked for secrets.
    The lines hold no backslash, so each quote in one delimits a key or a string; a record's
    re-encoding writes each field it holds once (no null: ``omit_defaults``), so it has as
    many quotes as its line when the line repeats no key (and has no null), fewer otherwise,
    never more. So equal totals mean every row has equal counts; else the builder checks
    each row (``keys_checked`` False) to find the rows that differ.

    Counting is the slow part (a byte at a time), so the re-encoding is first compared with
    the lines as bytes: equal bytes have equal counts. A compact logger with a stable key
    order (pino, logging, winston) writes exactly the re-encoding; for one that spaces its
    separators (``json.dumps``, structlog) the compare fails at once and the counts decide
    (taking the spaces out first measured slower than counting).
    """
    encoded = _ENCODE(records)
    body = b"[" + b",".join(lines) + b"]"
    return encoded == body or encoded.count(34) == body.count(34)


def card_like(value: object) -> bool:
    """A number whose digits in the raw line the card-number rule might take (13+ digits,
    not an epoch in milliseconds, which starts with 1): its line is then not vouched for."""
    if type(value) is int:
        return not -10**12 < value < 10**12 and str(abs(value))[0] in "23456"
    return type(value) is float and not -1e12 < value < 1e12


def _or_empty(variable: str, present: set[str]) -> str:
    """The variable, which its block made a string, or the empty string when absent."""
    return variable if variable in present else '""'


def _read(path: str) -> str:
    """``f3.g0`` is read through the nested struct bound once per record (``f3``)."""
    return path if "." in path else f"record.{path}"
