"""One design for huge input: what a line may hold, and what an event may keep.

- A line up to :data:`LINE_CAP` (1 MiB) is read and parsed whole, so a record with a 120 KB
  stack keeps its level, trace ID and message. Its long fields are then cut for keeps, each
  with a visible marker, and the event is flagged ``truncated`` (:func:`fit_event`): an event
  is always far below a frame (``MAX_FRAME_BYTES``) and a bounded share of the store.
- A longer line keeps its first :data:`LINE_CAP` bytes (the sources skip the rest); a JSON
  record cut that way no longer parses, so :func:`recover_cut_record` reads its top-level
  level, message, trace and time from the prefix, and the event is flagged ``truncated``.

Every value comes from the raw line, so an event whose raw line is shorter than
:data:`FIELD_CHARS` cannot hold a field to cut: the check costs nothing on ordinary lines.
"""

from __future__ import annotations

import re
from typing import Any, Final

import msgspec
import orjson

from obsview.backend.ingest.nesting import MAX_NESTING_DEPTH
from obsview.common.protocol import LogEvent

LINE_CAP: Final = 1 << 20
"""Bytes of one line the agent reads; the rest of a longer line is skipped."""
FIELD_CHARS: Final = 8192
"""Characters kept of a message, a URL, an extra field's text…"""
STACK_CHARS: Final = 32768
RAW_CHARS: Final = 65536
"""Characters of the raw line kept for the detail view."""
EXTRA_CHARS: Final = 65536
"""Characters of text kept over all of an event's extra fields."""
_LIMITS: Final = {"stack": STACK_CHARS, "raw": RAW_CHARS}
_TEXT_SLOTS: Final = tuple(
    field.name for field in msgspec.structs.fields(LogEvent) if field.type is str
)


def cut(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters with a marker saying how much went."""
    return f"{text[:limit]}…[{len(text) - limit} characters cut]"


def fit_event(event: LogEvent) -> bool:
    """Cut ``event``'s long fields in place (flagged ``truncated``); True when one was."""
    changed = False
    for name in _TEXT_SLOTS:
        value = getattr(event, name)
        limit = _LIMITS.get(name, FIELD_CHARS)
        if len(value) > limit:
            setattr(event, name, cut(value, limit))
            changed = True
    if event.extra:
        budget = [EXTRA_CHARS]
        extra = _fit(event.extra, budget, 0)
        if extra is not event.extra:
            event.extra = extra
            changed = True
    if changed:
        event.truncated = True
    return changed


def _fit(value: Any, budget: list[int], depth: int) -> Any:
    """``value`` with long strings cut and, past the budget, the rest of each container
    replaced by a count; the same object when nothing changed."""
    if isinstance(value, str):
        limit = min(FIELD_CHARS, max(budget[0], 0))
        budget[0] -= len(value)
        return cut(value, limit) if len(value) > limit else value
    if not isinstance(value, (dict, list)):
        return value
    if depth >= MAX_NESTING_DEPTH:  # normalization cut deeper values already
        return "…[nested too deep: cut]"
    items = list(value.items()) if isinstance(value, dict) else list(enumerate(value))
    fitted: list[tuple[Any, Any]] = []
    changed = False
    for index, (key, item) in enumerate(items):
        if budget[0] <= 0:
            fitted.append(("…", f"{len(items) - index} more fields cut"))
            changed = True
            break
        budget[0] -= len(str(key))
        new = _fit(item, budget, depth + 1)
        changed = changed or new is not item
        fitted.append((key, new))
    if not changed:
        return value
    if isinstance(value, dict):
        return dict(fitted)
    return [item for _key, item in fitted]


# Top-level fields of a JSON record, read from a prefix that no longer parses: a quoted string
# (escapes allowed, bounded) or a number. The keys are the usual spellings of the slots that
# matter most in a list of events; the first occurrence wins (top-level keys come first in
# every logger's output but Python's, whose order is the call's).
_CUT_FIELD: Final = re.compile(
    r'"(level|severity|lvl|levelname|msg|message|trace_id|traceId|traceID|correlationId'
    r'|correlation_id|timestamp|time|@timestamp|service)"[ \t]{0,8}:[ \t]{0,8}'
    r'("(?:[^"\\]|\\.){0,8192}+"|-?\d{1,20}(?:\.\d{1,20})?)'
)
_RECOVERY_WINDOW: Final = 65536


def recover_cut_record(text: str) -> dict[str, Any]:
    """What a JSON record cut at the line cap still says about itself, as a record."""
    record: dict[str, Any] = {}
    for match in _CUT_FIELD.finditer(text, 0, _RECOVERY_WINDOW):
        key = match.group(1)
        if key in record:
            continue
        try:
            record[key] = orjson.loads(match.group(2))
        except orjson.JSONDecodeError:
            continue
    return record
