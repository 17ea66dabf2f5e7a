"""The agent's bounded event buffer: the newest events, each with a global ``seq``.

Sequence numbers start at 1 and never repeat within an agent run, so a console that
reconnects with ``since_seq`` gets exactly the events it missed while they are still
buffered, and an exact count of those already evicted.

Compact: events are kept as objects only in the open block (the newest, up to
:data:`BLOCK_EVENTS`); a full block is sealed as msgpack of its events (as msgspec writes the
structs, defaults left out) compressed with LZ4, and read back on demand (``since``, queries,
``tail``), the last few blocks read kept decoded. A buffered seed event measured ~1,250 B as
an object (the struct, its raw line, its strings, its ``extra`` dict) and ~110 B sealed
(issue 11: <= 300 B). Sealing costs ~1-2 us an event at append, on the ingest path.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Final

import lz4.block  # type: ignore[import-untyped]  # python-lz4 ships no type information
import msgspec

from obsview.backend.store.journal_codec import seal
from obsview.backend.store.query import EventQuery, Page, scan_page
from obsview.common.protocol import LogEvent

BLOCK_EVENTS: Final = 1024
"""Events per sealed block: enough for LZ4 to find the repeats between records (the same
keys, routes, agents), few enough that reading one event decodes little."""
DECODED_BLOCKS: Final = 4
"""Sealed blocks kept decoded: a resume or a query page reads consecutive ranges."""

_DECODER: Final = msgspec.msgpack.Decoder(list[LogEvent])
_Block = tuple[int, bytes | list[LogEvent]]
"""(its first seq, its events sealed, or kept as objects when they cannot be encoded)."""


class EventStore:
    def __init__(self, capacity: int = 100_000, *, block_events: int = BLOCK_EVENTS) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self._block = max(1, min(block_events, capacity))
        self._open: list[LogEvent] = []
        """The newest events, of one block not yet full."""
        self._sealed: dict[int, _Block] = {}
        """Full blocks by number (seq ``n * block + 1`` starts block ``n``), oldest first."""
        self._decoded: dict[int, list[LogEvent]] = {}
        self.on_seal: Callable[[int, int, bytes], None] | None = None
        """Told ``(first seq, last seq, bytes)`` of each block sealed: the journal stores
        the same bytes rather than packing the events again."""
        self._last = 0
        self._start = 0

    @property
    def last_seq(self) -> int:
        """Newest sequence number (0 while empty)."""
        return self._last

    @property
    def first_seq(self) -> int:
        """Oldest buffered sequence number (``last_seq + 1`` while empty)."""
        return max(self._start + 1, self._last - self.capacity + 1)

    @property
    def evicted(self) -> int:
        """Events pushed out of the buffer so far."""
        return max(0, self._last - self._start - self.capacity)

    @property
    def sealed_bytes(self) -> int:
        """Bytes the sealed blocks take, compressed (their events, without the open block)."""
        return sum(len(sealed) for _base, sealed in self._sealed.values() if isinstance(sealed, bytes))

    def __len__(self) -> int:
        return min(self._last - self._start, self.capacity)

    def resume_after(self, seq: int) -> None:
        """Number the first event ``seq + 1``: a journal's numbering goes on across restarts."""
        if self._last != self._start:
            raise RuntimeError("resume_after on a store that holds events")
        self._last = self._start = max(0, seq)

    def append(self, events: Sequence[LogEvent]) -> None:
        """Assign the next sequence numbers to ``events`` and buffer them, evicting the oldest."""
        first = self._last + 1
        for seq, event in enumerate(events, first):
            event.seq = seq
        count = len(events)
        self._last += count
        if count > self.capacity:  # only the newest fit: everything held before goes too
            skip = count - self.capacity
            events, first, count = events[skip:], first + skip, self.capacity
            self._open = []
            self._sealed.clear()
            self._decoded.clear()
        block = self._block
        done = 0
        while done < count:
            seq = first + done
            block_end = ((seq - 1) // block + 1) * block  # the last seq of seq's block
            take = min(count - done, block_end - seq + 1)
            self._open += events[done : done + take]
            done += take
            if seq + take - 1 == block_end:
                self._seal((seq - 1) // block)
        self._evict()

    def _seal(self, number: int) -> None:
        events, self._open = self._open, []
        try:
            sealed: bytes | list[LogEvent] = seal(events)
        except (msgspec.EncodeError, OverflowError, TypeError, ValueError):
            sealed = events  # a value msgpack cannot hold (normalization makes it JSON): kept
        self._sealed[number] = (events[0].seq, sealed)
        if self.on_seal is not None and isinstance(sealed, bytes):
            self.on_seal(events[0].seq, events[-1].seq, sealed)

    def _evict(self) -> None:
        """Forget the sealed blocks wholly older than ``first_seq``."""
        first = self.first_seq
        sealed = self._sealed
        while sealed:
            number = next(iter(sealed))
            if (number + 1) * self._block >= first:
                return
            del sealed[number]
            self._decoded.pop(number, None)

    def since(self, seq: int, limit: int | None = None) -> tuple[list[LogEvent], int]:
        """Buffered events with ``seq`` greater than ``seq``, oldest first (at most ``limit``),
        and how many events after ``seq`` were already evicted (the gap to report)."""
        seq = max(seq, 0)
        first = self.first_seq
        start = max(seq + 1, first)
        missed = max(0, first - (seq + 1))
        end = self._last  # inclusive
        if limit is not None:
            end = min(end, start + max(0, limit) - 1)
        return self._slice(start, end), missed

    def query(self, query: EventQuery, *, limit: int, max_scan: int) -> Page:
        """One page of ``query`` over the buffered events (see :mod:`.query`)."""
        return scan_page(query, self.first_seq, self._last, limit=limit, max_scan=max_scan, read=self._slice)

    def tail(self, n: int) -> list[LogEvent]:
        """The newest ``n`` events, oldest first."""
        if n <= 0:
            return []
        return self._slice(max(self.first_seq, self._last - n + 1), self._last)

    def _slice(self, start: int, end: int) -> list[LogEvent]:
        """Events ``start..end`` inclusive; both must be buffered (or the range empty)."""
        found: list[LogEvent] = []
        if end < start:
            return found
        block = self._block
        for number in range((start - 1) // block, (end - 1) // block + 1):
            base, events = self._read(number)
            found += events[max(start, base) - base : end - base + 1]
        return found

    def _read(self, number: int) -> tuple[int, list[LogEvent]]:
        """Block ``number``'s first seq and events: the open block, or a sealed one decoded."""
        held = self._sealed.get(number)
        if held is None:
            return self._open[0].seq, self._open
        base, sealed = held
        if isinstance(sealed, list):
            return base, sealed
        decoded = self._decoded.get(number)
        if decoded is None:
            decoded = _DECODER.decode(lz4.block.decompress(sealed))
            if len(self._decoded) >= DECODED_BLOCKS:
                del self._decoded[next(iter(self._decoded))]
            self._decoded[number] = decoded
        return base, decoded
