"""History read late, shown as history: the charts' figures for a backlog, by event time.

Pure Python, no Textual. While the agent catches up on a backlog (or has nothing live to
show), the Requests and Latency panels show the backlog's span — "history, 10:00–10:42" —
with its rate, failed share and percentiles, and its per-minute chart: what the log says
happened then, not what the agent read in its last minute.
"""

from __future__ import annotations

from collections.abc import Callable

import msgspec

from obsview.common.protocol import BacklogStats, CatchUp, MetricsPoint, MetricsSnapshot
from obsview.tui.screens.console_state import minute_points


def shows_history(backlog: BacklogStats | None, live: MetricsSnapshot | None,
                  catch_up: CatchUp | None) -> bool:
    """History goes on the panels while the agent reads a backlog, or while there is no
    live request to show (the last 15 minutes had none); live traffic is shown otherwise."""
    if backlog is None or live is None:
        return False
    return catch_up is not None or live.rate_15m == 0


def history_label(backlog: BacklogStats, time_format: Callable[[float], str]) -> str:
    """``history, 10:00–10:42`` (hours and minutes of the events' own times)."""
    return f"history, {time_format(backlog.first_ts)[:5]}–{time_format(backlog.last_ts)[:5]}"


def history_snapshot(backlog: BacklogStats, live: MetricsSnapshot) -> MetricsSnapshot:
    """``live`` with the traffic figures of the backlog's span (rates over it)."""
    failed = backlog.errors / backlog.requests if backlog.requests else 0.0
    server: float | None = None  # an older agent did not count them apart
    if backlog.server_errors is not None:
        server = backlog.server_errors / backlog.requests if backlog.requests else 0.0
    return msgspec.structs.replace(
        live, requests_total=backlog.requests, errors_total=backlog.errors,
        rate_1m=backlog.rate, rate_5m=backlog.rate, rate_15m=backlog.rate,
        error_rate_1m=failed, error_rate_5m=failed, error_rate_15m=failed,
        error_rate_5xx_1m=server, error_rate_5xx_5m=server, error_rate_5xx_15m=server,
        server_errors_total=backlog.server_errors,
        latency_avg_ms=None, latency_min_ms=None, latency_max_ms=None,
        p50_ms=backlog.p50_ms, p95_ms=backlog.p95_ms, p99_ms=backlog.p99_ms,
        routes=backlog.routes,
    )


def history_points(backlog: BacklogStats) -> list[MetricsPoint]:
    """One chart point per minute of the events' time."""
    return minute_points(backlog.minutes)
