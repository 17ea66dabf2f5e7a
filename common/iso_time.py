"""Unix seconds as the ISO 8601 text every obsview output writes: UTC, milliseconds, ``Z``.

One spelling for every place a time leaves obsview (``/api/metrics``, ``/api/health``,
Alertmanager and webhook bodies, the instrument's log records), so a reader comparing two of
them, or a strict RFC 3339 parser, sees one format. Standard library only: the instrument
imports it inside the user's service.
"""

from __future__ import annotations

from datetime import UTC, datetime


def iso_utc(ts: float) -> str:
    """``2026-12-04T15:02:03.456Z`` for ``ts`` seconds since the epoch."""
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
