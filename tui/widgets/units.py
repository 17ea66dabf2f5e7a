"""Numbers with their units, formatted the same way in every panel so columns line up."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

#: The seed's latency threshold (alertConfig.thresholds.responseTime): above it is an error.
LATENCY_THRESHOLD_MS: Final = 1000.0
#: Rates below this (and above zero) are shown to one significant digit.
RARE_RATE: Final = 0.1
#: The seed's error-rate threshold (alertConfig.thresholds.errorRate).
ERROR_RATE_THRESHOLD: Final = 0.05


def format_ms(value: float | None, *, compact: bool = False) -> str:
    """``"42 ms"``, ``"1.20 s"``; an em dash when there is no figure. ``compact`` drops the
    space (``"42ms"``) for the narrow duration columns of the log and the waterfall."""
    if value is None:
        return "—"
    gap = "" if compact else " "
    if value >= 1000:
        return f"{value / 1000:.2f}{gap}s"
    if value >= 10:
        return f"{value:.0f}{gap}ms"
    return f"{value:.1f}{gap}ms"


def format_rate(value: float) -> str:
    """Requests per second with a precision that suits the magnitude: a rare route (one
    request a minute is 0.017/s) reads ``0.02/s``, not ``0.0/s`` as if it had none."""
    if value >= 100:
        return f"{value:,.0f}/s"
    if 0 < value < RARE_RATE:
        return f"{value:.1g}/s" if value >= 0.001 else "<0.001/s"
    return f"{value:.1f}/s"


def format_percent(fraction: float | None) -> str:
    if fraction is None:
        return "—"
    return f"{fraction * 100:.1f} %"


def format_progress(done: int, total: int) -> str:
    """How much of ``total`` is ``done``, in whole percent that never reads ``0 %`` once some
    is done nor ``100 %`` before all is: 500 of 199,500 is ``<1 %``, 199,000 of it ``>99 %``."""
    if done <= 0 or total <= 0:
        return "0 %"
    if done >= total:
        return "100 %"
    share = 100 * done / total
    if share < 1:
        return "<1 %"
    if share > 99:
        return ">99 %"
    return f"{round(share)} %"


def format_count(value: int) -> str:
    return f"{value:,}"


def counted(count: int, noun: str, plural: str | None = None) -> str:
    """``1 line``, ``0 lines``, ``2,400 lines``; ``plural`` for nouns not made with an ``s``
    (``counted(n, "match", "matches")``)."""
    return f"{format_count(count)} {noun if count == 1 else plural or noun + 's'}"


def format_bytes(value: int) -> str:
    """``"812 B"``, ``"27.1 MB"`` (powers of 1000, as file managers show sizes)."""
    if value < 1000:
        return f"{value} B"
    size = value / 1000
    for unit in ("kB", "MB"):
        if size < 1000:
            return f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} GB"


def format_age(seconds: float) -> str:
    """How long ago, compactly: ``"12s"``, ``"4m"``, ``"3h"``, ``"2d"``."""
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.0f}s"
    if seconds < 3600:
        return f"{seconds // 60:.0f}m"
    if seconds < 86400:
        return f"{seconds // 3600:.0f}h"
    return f"{seconds // 86400:.0f}d"


def latency_class(value_ms: float | None, threshold_ms: float = LATENCY_THRESHOLD_MS) -> str:
    """The CSS class that colours a latency against the threshold (``-ok``/``-warn``/``-bad``):
    above it is bad, above half of it a warning."""
    if value_ms is None:
        return "-none"
    if value_ms > threshold_ms:
        return "-bad"
    if value_ms > threshold_ms / 2:
        return "-warn"
    return "-ok"


def error_rate_class(fraction: float, threshold: float = ERROR_RATE_THRESHOLD) -> str:
    if fraction > threshold:
        return "-bad"
    if fraction > threshold / 2:
        return "-warn"
    return "-ok"


SEVERITY_CLASSES: Final = ("-ok", "-warn", "-bad", "-none")


def phrase_lines(parts: Sequence[str], room: int, separator: str = " · ") -> list[str]:
    """``parts`` joined into lines of at most ``room`` cells, broken only between parts (a
    heading wrapped by words split "sorted by p95" / "highest first"). A part longer than
    ``room`` has a line of its own; ``room`` 0 (not laid out yet) takes them all on one."""
    lines: list[str] = []
    for part in parts:
        if lines and (not room or len(lines[-1]) + len(separator) + len(part) <= room):
            lines[-1] += separator + part
        else:
            lines.append(part)
    return lines


def join_fitting(parts: Sequence[str], room: int, separator: str = " · ") -> str:
    """The leading ``parts`` that fit whole in ``room`` cells, joined: a narrow panel leaves
    out whole figures from the end, never half a number ("max 97…") or a number without its
    label. ``room`` 0 (not laid out yet) takes them all."""
    line = ""
    for part in parts:
        longer = f"{line}{separator}{part}" if line else part
        if room and len(longer) > room:
            break
        line = longer
    return line
