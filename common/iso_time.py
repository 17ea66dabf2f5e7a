"""Unix seconds as the ISO 8601 text every obsview output writes: UTC, milliseconds, ``Z``.

One spelling for every place a time leaves obsview (``/api/metrics``, ``/api/health``,
Alertmanager and webhook bodies, the instrument's log records), so a reader comparing two of
them, or a strict RFC 3339 parser, sees one format. Standard library only: the instrument
imports it inside the user's service.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

_last_second: tuple[int, str] = (0, "1970-01-01T00:00:00")
"""The whole second last written and its text: the middleware stamps every request, and
many fall in the same second. One tuple, replaced whole, so threads never see half of it."""


def iso_utc(ts: float) -> str:
    """``2026-12-04T15:02:03.456Z`` for ``ts`` seconds since the epoch.

    The same text as ``datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds")``
    with ``Z`` for ``+00:00`` (tests/test_shared_helpers.py compares them), at about a third
    of its cost: the date and time of day are formatted once a second, and the microseconds
    rounded as ``fromtimestamp`` rounds them (half to even), then cut to milliseconds as
    ``isoformat`` cuts them.
    """
    global _last_second
    fraction, whole = math.modf(ts)
    micro = round(fraction * 1e6)
    if micro >= 1_000_000:
        micro -= 1_000_000
        whole += 1.0
    elif micro < 0:
        micro += 1_000_000
        whole -= 1.0
    second, text = _last_second
    if whole != second:
        second = int(whole)
        text = datetime.fromtimestamp(second, UTC).isoformat()[:-6]  # without "+00:00"
        _last_second = (second, text)
    return f"{text}.{micro // 1000:03d}Z"
