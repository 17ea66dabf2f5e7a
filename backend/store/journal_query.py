"""Reading the journal: resume (``since``) and filtered pages (``query``), block by block.

A block is skipped without decompressing it when its time span or its levels (the toggles'
and the ``level:`` terms') rule it out, and without decoding it when its lower-cased bytes
lack a text term's needle; only blocks that may hold a match are decoded and tested with the
filter itself, so what matches is exactly what the console's filter would match. Where the
filter admits only errors (``level:error``, ``status:5xx``), only the block's errors, kept
apart, are decoded. Block metadata is read in chunks (the compressed data of a block is
fetched only when it is needed). A ``trace:ID`` query reads no block metadata
it does not need: the trace index names the blocks holding the ID (one indexed read of a
bucket, ~1/256 of the index), and only those are visited.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from obsview.backend.store.journal import Journal
from obsview.backend.store.journal_codec import (
    BlockInfo,
    CorruptBlock,
    Narrowing,
    id_hash,
    unpack,
)
from obsview.backend.store.query import EventQuery, Page
from obsview.common.protocol import LogEvent

CHUNK: Final = 64
"""Block rows read per round trip."""
SKIP_FACTOR: Final = 64
"""A page may pass over this many times ``max_scan`` events in blocks it skips undecoded."""
_COLUMNS: Final = "first_seq, last_seq, count, min_ts, max_ts, levels"


def _blocks(journal: Journal, *, below: int | None = None, above: int | None = None) -> Iterator[BlockInfo]:
    """Blocks holding seqs below ``below`` (newest first) or above ``above`` (oldest first)."""
    forward = above is not None
    if forward:
        where, order, cursor = "last_seq > ?", "ASC", above
    else:
        where, order, cursor = "first_seq < ?", "DESC", below if below is not None else 1 << 62
    while True:
        rows = list(journal.read(
            f"SELECT {_COLUMNS} FROM blocks WHERE {where} ORDER BY first_seq {order} LIMIT {CHUNK}", (cursor,)
        ))
        for row in rows:
            yield BlockInfo(*row)
        if len(rows) < CHUNK:
            return
        cursor = int(rows[-1][1 if forward else 0])


def _traced_blocks(journal: Journal, traces: list[int], anchor: int | None, forward: bool) -> Iterator[BlockInfo]:
    """The blocks whose trace index holds every one of ``traces``, in scan order."""
    found: set[int] | None = None
    for wanted in set(traces):
        holding = journal.holding(wanted)
        found = holding if found is None else found & holding
    ordered = sorted(found or (), reverse=not forward)
    for start in range(0, len(ordered), CHUNK):
        chunk = ordered[start : start + CHUNK]
        marks = ",".join("?" * len(chunk))
        rows = journal.read(f"SELECT {_COLUMNS} FROM blocks WHERE first_seq IN ({marks})"
                            f" ORDER BY first_seq {'ASC' if forward else 'DESC'}", tuple(chunk))
        for row in rows:
            block = BlockInfo(*row)
            if anchor is None or (block.last_seq > anchor if forward else block.first_seq < anchor):
                yield block


def _held(journal: Journal, low: int, high: int) -> int:
    """Events the journal holds numbered ``low..high`` (blocks hold consecutive seqs)."""
    ((count,),) = journal.read(
        "SELECT coalesce(sum(min(last_seq, ?1) - max(first_seq, ?2) + 1), 0) FROM blocks"
        " WHERE last_seq >= ?2 AND first_seq <= ?1", (high, low),
    )
    return int(count)


def _events(journal: Journal, first_seq: int, errors_only: bool = False) -> list[LogEvent]:
    """A block's events (with ``errors_only``, its errors where it keeps them apart: format 4);
    a block that does not unpack is a damaged journal (JournalError)."""
    try:
        if errors_only:
            kept = list(journal.read("SELECT data FROM errors WHERE first_seq = ?", (first_seq,)))
            if kept:
                return unpack(bytes(kept[0][0])) if kept[0][0] else []
        (row,) = journal.read("SELECT data FROM blocks WHERE first_seq = ?", (first_seq,))
        return unpack(bytes(row[0]))
    except CorruptBlock as exc:
        raise journal.damaged(str(exc)) from None


def _text(journal: Journal, first_seq: int) -> bytes:
    """A block's text section (compressed)."""
    rows = list(journal.read("SELECT text FROM texts WHERE first_seq = ?", (first_seq,)))
    return bytes(rows[0][0]) if rows else b""


def newest_start(journal: Journal, below: int, count: int) -> int:
    """The seq after which the journal's newest ``count`` events numbered below ``below`` start
    (all of them when it holds fewer); numbers in holes (retention, a crash) are not events."""
    start = below - 1
    for block in _blocks(journal, below=below):
        last = min(block.last_seq, below - 1)
        if last - block.first_seq + 1 >= count:
            return last - count
        count -= last - block.first_seq + 1
        start = block.first_seq - 1
    return start


def since(journal: Journal, seq: int, limit: int) -> tuple[list[LogEvent], int]:
    """Journaled events after ``seq`` (oldest first, up to ``limit`` and the next hole) and
    how many numbers after ``seq`` come before the first of them (retention, a crash)."""
    events: list[LogEvent] = []
    expected = seq + 1
    missed = 0
    for block in _blocks(journal, above=seq):
        if block.first_seq > expected:
            if events:
                break  # a hole: reported by the next call, where it starts
            missed = block.first_seq - expected - journal.skipped(expected, block.first_seq)
        fresh = [event for event in _events(journal, block.first_seq) if event.seq > seq]
        events.extend(fresh[: limit - len(events)])
        expected = block.last_seq + 1
        if len(events) >= limit:
            break
    return events, missed


def query(journal: Journal, wanted: EventQuery, *, limit: int, max_scan: int) -> Page:
    """One page of ``wanted`` over the journal (see :mod:`obsview.backend.store.query`)."""
    narrowing = Narrowing.of(wanted.filter)
    traces = [id_hash(trace) for trace in narrowing.traces]
    forward = wanted.after_seq is not None
    anchor = wanted.after_seq if forward else wanted.before_seq
    if traces:
        blocks = _traced_blocks(journal, traces, anchor, forward)
    else:
        blocks = _blocks(journal, above=anchor) if forward else _blocks(journal, below=anchor)
    collected: list[list[LogEvent]] = []
    need = max(1, limit)
    scanned = decoded = 0
    next_seq = anchor if anchor is not None else journal.last_seq + 1
    for block in blocks:
        low, high = _past_anchor(block, anchor, forward)
        scanned += high - low + 1
        if _may_hold(journal, block, wanted, narrowing):
            events = [e for e in _events(journal, block.first_seq, narrowing.errors_only) if _beyond(e.seq, anchor, forward)]
            decoded += len(events)
            matched = wanted.select(events)
            if len(matched) >= need:
                taken = matched[:need] if forward else matched[-need:]
                collected.append(taken)
                next_seq = taken[-1].seq if forward else taken[0].seq
                scanned -= high - next_seq if forward else next_seq - low  # the next page's part
                if traces:  # the blocks the index ruled out were passed over too
                    scanned = _passed(journal, anchor, next_seq, forward)
                return _page(collected, next_seq, scanned, forward, exhausted=_at_end(journal, next_seq, forward))
            collected.append(matched)
            need -= len(matched)
        next_seq = block.last_seq if forward else block.first_seq
        if decoded >= max_scan or scanned >= max_scan * SKIP_FACTOR:
            if traces:
                scanned = _passed(journal, anchor, next_seq, forward)
            return _page(collected, next_seq, scanned, forward, exhausted=_at_end(journal, next_seq, forward))
    if traces:
        next_seq = journal.last_seq if forward else journal.first_seq
        scanned = _passed(journal, anchor, next_seq, forward)
    return _page(collected, next_seq, scanned, forward, exhausted=True)


def _passed(journal: Journal, anchor: int | None, next_seq: int, forward: bool) -> int:
    """Events a page passed over, from its anchor to its ``next_seq`` (the next page reads
    beyond it): counted from the block table when the trace index skipped blocks unread."""
    if forward:
        return _held(journal, (anchor or 0) + 1, next_seq)
    return _held(journal, next_seq, (anchor if anchor is not None else journal.last_seq + 1) - 1)


def _past_anchor(block: BlockInfo, anchor: int | None, forward: bool) -> tuple[int, int]:
    """The block's seqs this scan has not passed yet (a block holds consecutive seqs; a page
    that stopped inside it leaves the rest to the next page, which must not count it twice)."""
    if anchor is None:
        return block.first_seq, block.last_seq
    if forward:
        return max(block.first_seq, anchor + 1), block.last_seq
    return block.first_seq, min(block.last_seq, anchor - 1)


def _beyond(seq: int, anchor: int | None, forward: bool) -> bool:
    if anchor is None:
        return True
    return seq > anchor if forward else seq < anchor


def _may_hold(journal: Journal, block: BlockInfo, wanted: EventQuery, narrowing: Narrowing) -> bool:
    """What the block's metadata and text section say, before its data is read."""
    if wanted.since_ts is not None and block.max_ts < wanted.since_ts:
        return False
    if wanted.until_ts is not None and block.min_ts > wanted.until_ts:
        return False
    if not narrowing.may_hold(block.levels):
        return False
    if not narrowing.needles:
        return True
    try:
        return narrowing.text_may_hold(_text(journal, block.first_seq))
    except CorruptBlock as exc:
        raise journal.damaged(str(exc)) from None


def _at_end(journal: Journal, next_seq: int, forward: bool) -> bool:
    return next_seq >= journal.last_seq if forward else next_seq <= journal.first_seq


def _page(collected: list[list[LogEvent]], next_seq: int, scanned: int, forward: bool, *, exhausted: bool) -> Page:
    """Pages hold events oldest first; a backward scan collected its blocks newest first."""
    parts = collected if forward else reversed(collected)
    return Page([event for part in parts for event in part], next_seq, scanned, exhausted)
