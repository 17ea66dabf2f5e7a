"""Durations as config files write them: ``"30s"``, ``"5m"``, ``"1h"``, ``"250ms"`` or a number of seconds."""

from __future__ import annotations

import re
from typing import Final

from obsview.backend.errors import ConfigError

_DURATION: Final = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNIT_SECONDS: Final = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}


def parse_duration(value: object, where: str, *, at: str | None = None) -> float:
    """Seconds from ``value``; ``where`` names the key in the error (``rule 'x': for``),
    ``at`` is that key in the table being parsed (the error's path)."""
    path: tuple[str, ...] = () if at is None else (at,)
    if isinstance(value, bool):
        raise ConfigError(f"{where}: expected a duration like \"30s\", got {value!r}", at=path)
    if isinstance(value, (int, float)):
        seconds = float(value)
    elif isinstance(value, str) and (match := _DURATION.match(value)):
        seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    else:
        raise ConfigError(f"{where}: expected a duration like \"30s\", \"5m\" or \"1h\", got {value!r}", at=path)
    if seconds < 0:
        raise ConfigError(f"{where}: a duration cannot be negative, got {value!r}", at=path)
    return seconds
