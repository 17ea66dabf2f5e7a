"""When a backlog begins and ends, and what its progress says (no files: a reading given)."""

from __future__ import annotations

from obsview.backend.ingest.catch_up import CatchUpTracker
from obsview.common.protocol import CatchUp


def test_a_backlog_begins_over_the_start_bytes_and_ends_under_the_end_bytes() -> None:
    reading = [(0, 0, 0)]
    now = [100.0]
    tracker = CatchUpTracker(lambda: reading[0], clock=lambda: now[0], start_bytes=1000,
                             end_bytes=100)
    reading[0] = (0, 999, 0)
    assert tracker.update() is None and not tracker.active  # a live burst, not a backlog
    reading[0] = (0, 5000, 0)
    assert tracker.update() is True and tracker.active
    now[0] += 2.0
    reading[0] = (3000, 5000, 30)
    assert tracker.update() is None  # 2000 unread: still catching up
    assert tracker.message() == CatchUp(read_bytes=3000, total_bytes=5000, lines=30,
                                        lines_per_s=15.0, eta_s=1.3)
    reading[0] = (4950, 5000, 50)
    assert tracker.update() is False and not tracker.active
    assert tracker.message().done and tracker.message().eta_s is None
    assert tracker.update() is None
