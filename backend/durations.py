"""Durations as config files write them: ``"30s"``, ``"5m"``, ``"1h"``, ``"250ms"`` or a number of seconds."""

from __future__ import annotations

import re
from typing import Final

_DURATION: Final = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNIT_SECONDS: Final = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}


class Seconds(float):
    """A duration in seconds: a config table's field of this type is read by :func:`to_seconds`
    (see :mod:`obsview.backend.config_tables`)."""


def to_seconds(value: object) -> Seconds:
    """Seconds from ``value``; ValueError says what a duration looks like."""
    if isinstance(value, bool):
        raise ValueError(f"expected a duration like \"30s\", got {value!r}")
    if isinstance(value, (int, float)):
        seconds = float(value)
    elif isinstance(value, str) and (match := _DURATION.match(value)):
        seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    else:
        raise ValueError(f"expected a duration like \"30s\", \"5m\" or \"1h\", got {value!r}")
    if seconds < 0:
        raise ValueError(f"a duration cannot be negative, got {value!r}")
    return Seconds(seconds)
