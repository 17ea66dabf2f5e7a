"""Typed record shapes learned from the lines themselves: the fast path for JSON logs.

Real loggers write the same record in many byte shapes: winston sorts keys, pino opens with
``{"level":30,"time":…``, Python's ``json.dumps`` spaces its separators, structlog calls the
message ``event``. A fast path tied to one key order, one spacing or one level case serves
none of them. Instead, the first time a record of a new *layout* (its keys, and the keys of
its ``request``/``response`` objects) takes the generic path, a msgspec Struct is made for
that layout: msgspec matches fields by name, so any key order and any spacing decode into it,
in C, with every value type-checked. Fields are optional, and layouts that agree are merged,
so a record without ``userId`` and one with it share a shape.

Only layouts whose meaning does not depend on key order are learned: one key per slot at
each level, values of the types the slot takes, extra keys holding scalars, no key naming a
secret; anything else stays on the generic path, which is the reference semantics (a property
test proves both build identical events).

:func:`build` makes the struct and the shape's event builder (:mod:`typed_builder`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Final

import msgspec

from obsview.backend.ingest.record_fields import REQUEST_ALIASES, RESPONSE_ALIASES, TOP_ALIASES
from obsview.backend.ingest.redact import is_secret_key, redact_text
from obsview.backend.ingest.typed_builder import Builder, compile_builder

# Beyond 64 bits orjson reads a float and msgspec an int: a value outside int64 (the widest
# bound msgspec checks) fails the typed decode, and the generic path reads it as before.
_JsonInt = Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)]

SLOTS: Final = (
    "ts", "level", "message", "service", "host", "trace_id", "span_id", "request_id",
    "correlation", "method", "route", "path", "status", "duration", "ip", "user_agent",
    "user_id",
)
"""The slots a learned shape may fill."""

_SLOT_TYPES: Final[dict[str, Any]] = {
    "ts": str | _JsonInt | float,
    "level": str | _JsonInt,
    "message": str,
    "request_id": str | _JsonInt,  # pino-http numbers its requests
    "user_id": str | _JsonInt,  # the seed's req.user?.id
    "status": _JsonInt,
    "duration": _JsonInt | float,
}
"""Types a slot's value may have on the typed path (the rest take text only): other values
fail the decode and take the generic path, which coerces them."""
_TEXT: Final = str
_EXTRA_TYPE: Final = str | _JsonInt | float | bool
"""Extra keys (no slot) are kept on the typed path when they hold a scalar."""
_NESTED: Final[dict[str, Mapping[str, str]]] = {"request": REQUEST_ALIASES, "response": RESPONSE_ALIASES}
_NESTED_ORDER: Final = ("request", "response")
"""The generic path absorbs nested objects in this order, after the top level."""

MAX_SHAPES: Final = 8
"""Shapes a normalizer keeps; trying one that fails costs about a microsecond."""

Layout = tuple[dict[str, str], dict[str, dict[str, str]]]
"""(top-level key → slot or "" for extra, nested object key → (its key → slot))."""


@dataclass(frozen=True, slots=True, eq=False)
class Shape:
    """One learned layout: its decoder and its event builder."""

    layout: Layout
    decode: Any
    """``msgspec.json.Decoder(struct).decode``: raises on a line of another layout."""
    decode_array: Any
    """``msgspec.json.Decoder(list[struct]).decode``: a whole chunk of lines in one call
    (``Normalizer`` says when its elements are the chunk's lines, one each)."""
    events: Builder
    """Builds the events of records of this shape (:mod:`typed_builder`)."""


def layout_of(record: Mapping[str, Any]) -> Layout | None:
    """The layout of a parsed record, or None when the typed path must not take it."""
    top: dict[str, str] = {}
    nested: dict[str, dict[str, str]] = {}
    for key, value in record.items():
        if _unsafe_key(key):
            return None
        slot = TOP_ALIASES.get(key)
        if slot in _NESTED:
            keys = _nested_layout(value, _NESTED[slot])
            if keys is None or slot in nested:
                return None
            nested[slot] = keys
            top[key] = slot
        elif slot is None:
            if not isinstance(value, (str, int, float, bool)) and value is not None:
                return None  # a nested extra: left to the generic path
            top[key] = ""
        elif slot in SLOTS:
            top[key] = slot
        else:
            return None  # traceparent, error, stack, cache, user: the generic path's work
    return _checked(top, nested)


def merge(first: Layout, second: Layout) -> Layout | None:
    """One layout covering both, or None when they disagree about a key.

    Keys keep the order the lines write them in, as far as two layouts tell it: a shape's
    re-encoding of a record is then its line, byte for byte (spaces aside), for a logger
    with a stable key order, which lets :func:`typed_builder.keys_unique` compare bytes
    instead of counting quotes (a wrong guess only costs the count)."""
    top = _union(first[0], second[0])
    if top is None:
        return None
    nested = {name: dict(keys) for name, keys in first[1].items()}
    for name, keys in second[1].items():
        merged = _union(nested.get(name, {}), keys)
        if merged is None:
            return None
        nested[name] = merged
    return _checked(top, nested)


def _union(first: dict[str, str], second: dict[str, str]) -> dict[str, str] | None:
    """Both objects' keys (None when they map one to different slots), in line order: a key
    new to ``first`` goes just before the next key of ``second`` that ``first`` has, or last
    (optional keys are most often written last: ``userId`` then ``correlationId``)."""
    order = list(first)
    new: list[str] = []  # keys of ``second`` waiting for the next known one
    for key, slot in second.items():
        if key not in first:
            new.append(key)
            continue
        if first[key] != slot:
            return None
        if new:
            at = order.index(key)
            order[at:at] = new
            new = []
    order += new
    slots = {**first, **second}
    return {key: slots[key] for key in order}


def _nested_layout(value: Any, aliases: Mapping[str, str]) -> dict[str, str] | None:
    """A nested object's keys when each is one of its aliases (anything else, e.g. headers,
    lands in ``extra`` on the generic path, which the typed path does not build)."""
    if not isinstance(value, dict):
        return None
    keys: dict[str, str] = {}
    for key in value:
        slot = aliases.get(key)
        if slot is None or slot not in SLOTS or _unsafe_key(key):
            return None
        keys[key] = slot
    return keys


def _unsafe_key(key: str) -> bool:
    """A key the typed path must not learn: one naming a secret, or one holding text a
    redaction rule changes (a URL with a password, a token). Its lines' values are checked
    for secrets but their keys are not, since a shape's keys are fixed; yet the raw line
    holds the key, and the generic path redacts it there. No rule reaches across a key's
    quotes into its value (a key naming a secret aside), so the key alone decides."""
    return is_secret_key(key) or redact_text(key) != key


def _checked(top: dict[str, str], nested: dict[str, dict[str, str]]) -> Layout | None:
    """None when two keys of one object feed the same slot: the generic path then keeps the
    first in key order, which a struct does not see."""
    slots = [slot for slot in top.values() if slot]
    if len(slots) != len(set(slots)):
        return None
    for keys in nested.values():
        if len(keys) != len(set(keys.values())):
            return None
    if not any(slot == "message" for slot in top.values()):
        return None  # a record without a message is not the bulk of any log
    return top, nested


def build(layout: Layout) -> Shape:
    """Make the struct types and the event builder for ``layout``."""
    top, nested = layout
    fields: list[tuple[str, Any, Any]] = []
    sources: dict[str, list[str]] = {slot: [] for slot in SLOTS}
    extras: list[tuple[str, str]] = []
    structs: list[str] = []
    for index, (key, slot) in enumerate(top.items()):
        name = f"f{index}"
        if slot in _NESTED:
            struct = _struct(f"Nested{index}", nested[slot], sources, name)
            fields.append((name, struct, msgspec.field(name=key)))
            structs.append(name)
        elif slot:
            fields.append((name, _SLOT_TYPES.get(slot, _TEXT) | None, msgspec.field(name=key, default=None)))
            sources[slot].insert(0, name)  # top-level keys come first
        else:
            fields.append((name, _EXTRA_TYPE | None, msgspec.field(name=key, default=None)))
            extras.append((key, name))
    struct = msgspec.defstruct(
        "TypedRecord", fields, forbid_unknown_fields=True, omit_defaults=True, gc=False,
        kw_only=True,
    )
    return Shape(layout, msgspec.json.Decoder(struct).decode,
                 msgspec.json.Decoder(list[struct]).decode,  # type: ignore[valid-type]
                 compile_builder(sources, extras, structs))


def _struct(name: str, keys: dict[str, str], sources: dict[str, list[str]], path: str) -> Any:
    """A nested object's struct (``request``, ``response``); records where its slots come from."""
    fields = []
    for index, (key, slot) in enumerate(keys.items()):
        field = f"g{index}"
        fields.append((field, _SLOT_TYPES.get(slot, _TEXT) | None, msgspec.field(name=key, default=None)))
        sources[slot].append(f"{path}.{field}")
    return msgspec.defstruct(name, fields, forbid_unknown_fields=True, omit_defaults=True, gc=False)
