"""Config sections as typed tables: :func:`convert_section` turns a section's TOML data into
msgspec Structs, and anything msgspec refuses (a wrong type, an unknown or missing key, a
check a table makes in ``__post_init__``) into one ConfigError that names the key path
(``probes[1].port``), says what was expected, and carries the path for the loader to find the
line that sets it.

A table's checks that no type says (a value that depends on another, a name taken twice)
raise :class:`BadValue` naming the key inside that table, so the path still ends at the key.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Annotated, Final, TypeVar, get_args, get_origin, get_type_hints

import msgspec
import msgspec.inspect as mi

from obsview.backend.durations import Seconds, to_seconds
from obsview.backend.errors import ConfigError

_T = TypeVar("_T")
KeyPath = tuple[str | int, ...]


class Table(msgspec.Struct, forbid_unknown_fields=True):
    """A config table: a key it does not know is refused (misspelt, it would do nothing)."""


NonEmpty = Annotated[str, msgspec.Meta(min_length=1)]
HttpUrl = Annotated[str, msgspec.Meta(pattern="^https?://")]
Port = Annotated[int, msgspec.Meta(ge=1, le=65535)]


class BadValue(ValueError):
    """Raised in a table's ``__post_init__``: ``key`` (a path inside that table) is wrong."""

    def __init__(self, key: str | KeyPath, problem: str) -> None:
        super().__init__(problem)
        self.key: KeyPath = (key,) if isinstance(key, str) else key


def convert_section(raw: object, kind: type[_T], section: KeyPath = ()) -> _T:
    """``raw`` (the TOML data at ``section``, the whole file by default) as ``kind``, or a
    ConfigError naming the key path from the file's top, which is also its ``at``."""
    try:
        return msgspec.convert(raw, type=kind, strict=True, dec_hook=_decode)
    except msgspec.ValidationError as exc:
        at, problem = _located(exc, raw, kind)
        raise ConfigError(f"{spelled((*section, *at))}: {problem}", at=(*section, *at)) from None


def spelled(at: KeyPath) -> str:
    """``("alerts", "rules", 0, "labels")`` → ``alerts.rules[0].labels``: a key path as a TOML
    file spells it."""
    return "".join(f"[{step}]" if isinstance(step, int) else f".{step}" for step in at).lstrip(".")


def reject_repeated_names(names: Sequence[str], section: KeyPath, *, at: Sequence[KeyPath] | None = None,
                          hint: str = "") -> None:
    """ConfigError at the first of a section's tables whose name an earlier one took: alerts,
    acks, notifications and health are keyed by name. ``at`` is each table's path (default:
    its index); ``hint`` ends the message."""
    first: dict[str, KeyPath] = {}
    for index, name in enumerate(names):
        table = (*section, *(at[index] if at is not None else (index,)))
        if name in first:
            raise ConfigError(f"{spelled((*table, 'name'))}: {name!r} is already the name of "
                              f"{spelled(first[name])}{hint}", at=(*table, "name"))
        first[name] = table


def _decode(kind: type, value: object) -> object:
    """The types msgspec reads from a string through us: durations and regular expressions."""
    if kind is Seconds:
        return to_seconds(value)
    if get_origin(kind) is re.Pattern:
        if not isinstance(value, str):
            raise ValueError(f"expected a regular expression (a string), got {value!r}")
        try:
            return re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression: {exc}") from None
    raise NotImplementedError(f"no config decoding for {kind!r}")


_AT: Final = re.compile(r"\.([^.\[`]+)|\[(\d+)\]")
_UNKNOWN: Final = re.compile(r"Object contains unknown field `(.+)`")
_MISSING: Final = re.compile(r"Object missing required field `(.+)`")
_INVALID: Final = re.compile(r"Invalid (?:enum )?value .*")
_GOT_TYPE: Final = re.compile(r", got `[^`]+`$")
_SECRET_KEY: Final = re.compile(r"url|password|token|secret", re.IGNORECASE)
"""Keys whose value an error does not repeat: a webhook URL holds its secret (Slack's does)."""


def _located(exc: msgspec.ValidationError, raw: object, kind: object) -> tuple[KeyPath, str]:
    """The key path and the problem msgspec's error names (``Expected `int` - at `$[0].port```)."""
    text, separator, where = str(exc).rpartition(" - at `$")
    if not separator:
        text, where = where, ""
    # A dict's key is ``[...]`` in msgspec's path: the path stops at the dict.
    table, in_value, _ = where.partition("[...]")
    at: KeyPath = tuple(int(index) if index else key for key, index in _AT.findall(table))
    cause = exc.__cause__
    if isinstance(cause, BadValue):
        return (*at, *cause.key), str(cause)
    if match := _UNKNOWN.fullmatch(text):
        known = _type_at(kind, raw, at)
        keys = f" (known keys: {', '.join(_keys(known))})" if isinstance(known, mi.StructType) else ""
        return (*at, match[1]), f"unknown key{keys}"
    if match := _MISSING.fullmatch(text):
        at = (*at, match[1])
        expected = _type_at(kind, raw, at)
        return at, "required" + (f", one of {_values(expected)}" if isinstance(expected, mi.LiteralType) else "")
    value = _value_at(raw, at)
    if _INVALID.fullmatch(text) and isinstance(expected := _type_at(kind, raw, at), mi.LiteralType):
        return at, f"expected one of {_values(expected)}, got {value!r}"
    if cause is not None or not text.startswith("Expected"):  # our own words, or msgspec's other
        return at, text
    # msgspec's ``Expected `int`, got `str```: the value itself says more than its type.
    # A TOML table is a JSON object, and TOML has no null (None is an absent key here).
    problem = "e" + text[1:].replace(" | null`", "`").replace("`object`", "`table`")
    if in_value:
        problem = f"a value: {problem}"
    elif isinstance(value, (str, int, float)) and not _SECRET_KEY.search(str(at[-1] if at else "")):
        problem = f"{_GOT_TYPE.sub('', problem)}, got {value!r}"
    return at, problem


def _keys(table: mi.StructType) -> list[str]:
    return sorted([field.encode_name for field in table.fields] + ([table.tag_field] if table.tag_field else []))


def _values(literal: mi.LiteralType) -> str:
    return ", ".join(str(value) for value in literal.values)


_ABSENT: Final = object()


def _value_at(raw: object, at: Sequence[str | int]) -> object:
    for step in at:
        if isinstance(raw, dict) and step in raw or isinstance(raw, list) and isinstance(step, int) and step < len(raw):
            raw = raw[step]  # type: ignore[index]
        else:
            return _ABSENT
    return raw


def _type_at(kind: object, raw: object, at: Sequence[str | int]) -> mi.Type:
    """What msgspec expects at ``at`` in ``raw``: a tagged union's member by the tag ``raw``
    has, a tag key as the literal of its tags."""
    expected = mi.type_info(kind)
    for depth, step in enumerate(at):
        here = _value_at(raw, at[:depth])
        expected = _member(expected, here)
        if isinstance(expected, mi.UnionType):
            tags = tuple(member.tag for member in expected.types
                         if isinstance(member, mi.StructType) and member.tag_field == step)
            if tags:  # the tag key itself (``kind``)
                return mi.LiteralType(tags)
        if isinstance(expected, mi.StructType):
            field = next((field for field in expected.fields if field.encode_name == step), None)
            expected = mi.AnyType() if field is None else _declared(expected.cls, field)
        elif isinstance(expected, mi.ListType):
            expected = expected.item_type
        elif isinstance(expected, mi.DictType):
            expected = expected.value_type
    return _member(expected, _value_at(raw, at))


def _declared(table: type, field: mi.Field) -> mi.Type:
    """A field's type, a literal's values in the order the table declares them (msgspec's
    are sorted: ``15m, 1m, 5m``)."""
    if isinstance(field.type, mi.LiteralType):
        return mi.LiteralType(get_args(get_type_hints(table)[field.name]))
    return field.type


def _member(expected: mi.Type, value: object) -> mi.Type:
    """The member of a union a table ``value`` is read as (by its tag), or ``expected``."""
    if isinstance(expected, mi.UnionType) and isinstance(value, dict):
        for member in expected.types:
            if isinstance(member, mi.StructType) and (
                member.tag_field is None or value.get(member.tag_field, _ABSENT) == member.tag
            ):
                return member
    return expected

