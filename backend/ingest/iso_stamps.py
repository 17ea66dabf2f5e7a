"""ISO 8601 timestamps to Unix seconds at ingest speed, equal to ``fromisoformat().timestamp()``.

A log's stamps share their seconds (``2026-11-25T15:00:00``) across hundreds of lines and their
tails (``.123Z``, ``.123+00:00``) across the whole file, so both halves are memoized: the
seconds as epoch microseconds (read as UTC), the tail as microseconds to add (its fraction,
less its offset). Only stamps both of whose halves match a strict pattern are split this way;
any other text (naive local time, odd spellings) goes to :func:`parse_timestamp`, the
reference. The memos are public: a typed shape's builder reads them inline.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from obsview.backend.ingest.record_fields import parse_timestamp

_SECONDS: Final = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", re.ASCII)
_TAIL: Final = re.compile(r"(?:\.\d{1,6})?(?:Z|[+-]\d\d:\d\d)", re.ASCII)
_MICRO_Z: Final = re.compile(r"\.\d{6}Z", re.ASCII)
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND: Final = timedelta(microseconds=1)
_REFERENCE: Final = "2000-01-01T00:00:00"
_REFERENCE_US: Final = (datetime(2000, 1, 1, tzinfo=UTC) - _EPOCH) // _MICROSECOND
_LIMIT: Final = 4096
"""Entries per memo; cleared when full (one entry per distinct second, or tail)."""


class IsoStamps:
    def __init__(self) -> None:
        self.seconds: dict[str, int] = {}
        """``2026-11-25T15:00:00`` → its epoch microseconds, read as UTC."""
        self.tails: dict[str, int] = {}
        """``.123+01:00`` → microseconds to add (fraction less offset)."""

    def one(self, stamp: str) -> float | None:
        """:func:`parse_timestamp` of ``stamp``, memoized."""
        head, tail = stamp[:19], stamp[19:]
        seconds = self.seconds.get(head)
        if seconds is None:
            seconds = self._head(head)
        micro = self.tails.get(tail)
        if micro is None:
            micro = self._tail(tail)
        if seconds is None or micro is None:
            return parse_timestamp(stamp)
        return (seconds + micro) / 1e6  # exactly what timestamp() computes

    def value(self, stamp: Any, now: float) -> float:
        """Unix seconds of a record's timestamp value (text or epoch number), else ``now``."""
        when = (
            None if stamp is None else self.one(stamp) if type(stamp) is str
            else parse_timestamp(stamp)
        )
        return now if when is None else when

    def _head(self, head: str) -> int | None:
        """Epoch microseconds of ``2026-11-25T15:00:00`` read as UTC (memoized), else None."""
        if _SECONDS.fullmatch(head) is None:
            return None
        try:
            moment = datetime.fromisoformat(head).replace(tzinfo=UTC)
        except ValueError:  # e.g. month 13
            return None
        seconds = (moment - _EPOCH) // _MICROSECOND
        _remember(self.seconds, head, seconds)
        return seconds

    def _tail(self, tail: str) -> int | None:
        """Microseconds a tail such as ``.123+01:00`` adds (memoized), else None."""
        if _MICRO_Z.fullmatch(tail) is not None:  # ".123456Z" (structlog's): not memoized
            return int(tail[1:7])
        if _TAIL.fullmatch(tail) is None:
            return None
        try:
            micro = (datetime.fromisoformat(_REFERENCE + tail) - _EPOCH) // _MICROSECOND
        except ValueError:
            return None
        micro -= _REFERENCE_US
        _remember(self.tails, tail, micro)
        return micro


def _remember(memo: dict[str, int], key: str, value: int) -> None:
    if len(memo) >= _LIMIT:
        memo.clear()
    memo[key] = value
