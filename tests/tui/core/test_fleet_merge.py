"""The merged stream: event-time order across hosts, bounded waiting, bounded holding."""

from __future__ import annotations

import pytest

from obsview.common.protocol import LogEvent
from obsview.tui.fleet_merge import EventMerger


def batch(*times: float) -> list[LogEvent]:
    return [LogEvent(ts=ts, level="INFO", message=f"at {ts}") for ts in times]


def test_interleaves_hosts_by_event_time_once_every_host_has_passed_it() -> None:
    merger = EventMerger(hold_s=5.0)
    merger.set_live("a", True)
    merger.set_live("b", True)
    merger.push("a", batch(1.0, 3.0, 5.0), now=0.0)
    assert merger.release(now=0.0) == []  # b has said nothing yet: a's 1.0 could still come after b's
    merger.push("b", batch(2.0, 4.0), now=0.1)
    out = merger.release(now=0.1)
    assert [(e.host, e.ts) for e in out] == [("a", 1.0), ("b", 2.0), ("a", 3.0), ("b", 4.0)]
    assert merger.held == 1  # a's 5.0 waits for b to pass it


def test_a_quiet_host_delays_the_view_by_at_most_the_hold() -> None:
    merger = EventMerger(hold_s=0.5)
    merger.set_live("a", True)
    merger.set_live("quiet", True)
    merger.push("a", batch(1.0, 2.0), now=10.0)
    assert merger.release(now=10.4) == []
    assert [e.ts for e in merger.release(now=10.5)] == [1.0, 2.0]


def test_a_disconnected_host_holds_nothing_back() -> None:
    merger = EventMerger(hold_s=60.0)
    merger.set_live("a", True)
    merger.set_live("dead", True)
    merger.push("a", batch(1.0), now=0.0)
    assert merger.release(now=0.0) == []
    merger.set_live("dead", False)
    assert [e.ts for e in merger.release(now=0.0)] == [1.0]


def test_an_event_older_than_the_released_ones_is_shown_at_once_and_counted() -> None:
    merger = EventMerger(hold_s=60.0)
    merger.push("a", batch(5.0), now=0.0)
    merger.push("b", batch(6.0), now=0.0)
    assert [e.ts for e in merger.release(now=0.0)] == [5.0]
    merger.push("b", batch(4.0), now=1.0)  # b's clock is behind, or its file was slow
    assert [e.ts for e in merger.release(now=1.0)] == [4.0]
    assert merger.late == 1


def test_holding_is_bounded_oldest_shown_early_and_counted() -> None:
    merger = EventMerger(hold_s=60.0, capacity=3)
    merger.set_live("a", True)
    merger.set_live("stuck", True)
    merger.push("a", batch(1.0, 2.0, 3.0, 4.0, 5.0), now=0.0)
    assert [e.ts for e in merger.release(now=0.0)] == [1.0, 2.0]
    assert merger.held == 3 and merger.forced == 2
    with pytest.raises(ValueError):
        EventMerger(capacity=0)
