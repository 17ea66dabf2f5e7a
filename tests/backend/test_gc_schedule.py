from __future__ import annotations

import gc

from obsview.common.gc_schedule import ScheduledCollection


def test_thresholds_come_back_when_the_last_holder_stops_in_any_order() -> None:
    # The demo runs an agent and a console in one process; either may stop first.
    original = gc.get_threshold()
    agent, console = ScheduledCollection(), ScheduledCollection()
    agent.start()
    console.start()
    suspended = gc.get_threshold()
    assert suspended[:2] == original[:2] and suspended[2] > 10**6
    agent.stop()
    assert gc.get_threshold() == suspended
    console.stop()
    console.stop()  # a second stop is harmless
    assert gc.get_threshold() == original
