"""When obsview runs Python's full garbage collection: on a timer, not every second.

The agent's store and the console's buffer each hold up to 100k events, never part of a
reference cycle: an evicted event is freed by reference counting at once. While events were
GC-tracked (slots dataclasses), CPython's automatic full collection traversed all of them
whenever the tracked live set had grown by a quarter since the last one; at 20k events/s
that was a 60–150 ms stall of the event loop every second or two (measured: p99 loop delay
110 ms with it, 13 ms without). Events are now untracked structs (see ``protocol.LogEvent``);
what such a collection still walks is everything else the process holds (widgets, batches,
dicts in events' ``extra``), so the schedule stays.

So while an agent or a console runs, automatic full collections are off and it runs one every
:data:`FULL_COLLECTION_INTERVAL_S`: the young generations still reclaim almost every cycle at
once, and the rare cycle that outlives them waits at most that long, at the price of one
stall per interval instead of one a second. The previous thresholds come back when the last
holder stops: the demo runs an agent and a console in one process, stopping in either order.

Stdlib only, so the console may import it (its only other backend import is the protocol).
"""

from __future__ import annotations

import gc
from typing import Final

FULL_COLLECTION_INTERVAL_S: Final = 60.0
# generations[2].count counts young collections since the last full one; it never gets here.
_NEVER: Final = 2**30


_holders = 0
_saved: tuple[int, int, int] | None = None


class ScheduledCollection:
    """Turns automatic full collections off between :meth:`start` and :meth:`stop`."""

    def __init__(self) -> None:
        self._started = False

    def start(self) -> None:
        global _holders, _saved
        if self._started:
            return
        self._started = True
        _holders += 1
        if _holders == 1:
            _saved = gc.get_threshold()
            young, middle, _full = _saved
            gc.set_threshold(young, middle, _NEVER)

    def collect(self) -> None:
        """The full collection the interpreter no longer runs by itself."""
        gc.collect()

    def stop(self) -> None:
        global _holders, _saved
        if not self._started:
            return
        self._started = False
        _holders -= 1
        if _holders == 0 and _saved is not None:
            gc.set_threshold(*_saved)
            _saved = None
