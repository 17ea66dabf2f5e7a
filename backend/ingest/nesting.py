"""How deep a record's values may nest: the one place this limit lives.

A JSON line nested 1,000 deep is 2 KB: it parses (orjson allows 1,024 levels), but every
later step that walks it recursively — redaction, the wire encoder, a console's decoder —
runs out of Python's recursion limit. So normalization cuts every value at
:data:`MAX_NESTING_DEPTH` levels: what lies deeper is replaced by :data:`TOO_DEEP`, the event
is flagged ``truncated`` and counted; the raw line keeps the original text for the detail
view. No real log record nests anywhere near this deep (the seed's nests 2 levels).
"""

from __future__ import annotations

from typing import Any, Final

MAX_NESTING_DEPTH: Final = 32
"""Levels of objects and arrays kept in an event's fields (the record itself is level 1)."""
TOO_DEEP: Final = f"«nested deeper than {MAX_NESTING_DEPTH} levels: cut»"


def may_nest_too_deep(text: str) -> bool:
    """False when ``text`` (a record's JSON) cannot hold more than the limit: fewer opening
    brackets than levels. Two C scans, so the usual record costs no walk at all."""
    return text.count("{") + text.count("[") > MAX_NESTING_DEPTH


def cap_nesting(record: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """``record`` with every value deeper than the limit replaced by :data:`TOO_DEEP`, and
    whether anything was cut. Recurses at most :data:`MAX_NESTING_DEPTH` levels."""
    cut = [False]
    capped = _cap(record, 1, cut)
    assert isinstance(capped, dict)
    return capped, cut[0]


def _cap(value: Any, depth: int, cut: list[bool]) -> Any:
    if isinstance(value, dict):
        if depth > MAX_NESTING_DEPTH:
            cut[0] = True
            return TOO_DEEP
        return {key: _cap(item, depth + 1, cut) for key, item in value.items()}
    if isinstance(value, (list, tuple)):  # tuples: in-process records (normalize_record)
        if depth > MAX_NESTING_DEPTH:
            cut[0] = True
            return TOO_DEEP
        return [_cap(item, depth + 1, cut) for item in value]
    return value
