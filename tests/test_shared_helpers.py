"""The helpers every part of obsview shares instead of keeping its own copy."""

from __future__ import annotations

import datetime

from hypothesis import example, given
from hypothesis import strategies as st

from obsview.common.backoff import Backoff, backoff_delay
from obsview.common.iso_time import iso_utc


def test_iso_utc_is_rfc3339_with_z_and_milliseconds() -> None:
    ts = datetime.datetime(2026, 12, 4, 15, 2, 3, 456789, tzinfo=datetime.UTC).timestamp()
    assert iso_utc(ts) == "2026-12-04T15:02:03.456Z"
    assert datetime.datetime.fromisoformat(iso_utc(ts)).timestamp() == round(ts - 0.000789, 3)


@given(st.floats(min_value=-5e10, max_value=2.5e11) | st.floats(min_value=1.6e9, max_value=1.9e9))
@example(0.9999995)  # rounds up into the next second
@example(-0.0000005)
@example(1733400000.9999996)
@example(-0.0)
def test_iso_utc_writes_what_datetime_writes(ts: float) -> None:
    """The second's text is kept between calls: every time still reads as datetime spells it."""
    spelled = datetime.datetime.fromtimestamp(ts, datetime.UTC).isoformat(timespec="milliseconds")
    assert iso_utc(ts) == spelled.replace("+00:00", "Z")


def test_backoff_doubles_from_base_to_cap_and_resets() -> None:
    retry = Backoff(0.5, 3.0)
    assert [retry.next() for _ in range(5)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    retry.reset()
    assert retry.next() == 0.5
    assert [backoff_delay(attempt, 1.0, 300.0) for attempt in (1, 2, 3, 10, 1000)] == [1.0, 2.0, 4.0, 300.0, 300.0]
