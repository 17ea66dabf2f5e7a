"""How the journal packs a block of events, and how it looks into one without unpacking it.

A block is up to a few thousand consecutive events, stored as one blob of *frames*: each frame
is msgpack of a run of the events as msgspec writes the structs (fields left at their default
are not written), compressed with LZ4 -- byte for byte what the RAM ring seals for each of its
1,024-event blocks (:mod:`.ring`), so the journal stores the ring's sealed bytes instead of
packing the same events a second time (it packs only the runs the ring has not sealed: the
newest events, flushed each second). The blob starts with :data:`FRAMED`, then each frame's
length (4 bytes, little-endian) and bytes; a blob without it is one frame (journal format 2).
Measured on 100k seed records: encoding the structs directly costs half
of encoding each event's fields as an array (``astuple``: a Python call per event) and
decodes 2x faster straight into ``LogEvent``, for 8 % more compressed bytes. On disk a block
is about 0.3x the raw log bytes; of the codecs tried LZ4 is the cheapest to write and by far
the fastest to read back (zstd-1: 0.17x but 1.5x the write cost and 2x the read cost;
zlib-1: 0.22x at 3x the write cost).

Beside the blob, a block keeps what lets a query skip it: its levels as a bit mask, its time
span, the CRC-32 of every trace and request ID it holds (the trace index, by the hash's top
bits, a batch of blocks a row: :func:`batch_rows`; format 2 wrote a row per block and
bucket: :func:`index_rows`), and its messages and raw lines lower-cased and compressed apart in ~64 KiB frames (the text section): a text
search reads and decompresses only that, a frame at a time, with no lower-casing at read time
(measured: 200k seed events searched in 0.6x the time of the same test over the events in
RAM, against 4.5x when the whole block had to be decompressed and lower-cased), and looks
for its needles with a SIMD substring search (``ahocorasick_rs``, already the redaction
gate's: ~10x ``bytes.__contains__`` over text that lacks the needle).

Format 4 keeps a block's *errors* again, apart: the events at ERROR or with a status of 500 or
more (3.5 % of the seed's), as one frame. A query whose filter admits only errors
(``level:error``, ``status:5xx``, ``status:>=500``) decodes that instead of the whole block.
"""

from __future__ import annotations

import struct
import zlib
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from itertools import accumulate, chain, compress
from operator import attrgetter, or_
from typing import Final

import ahocorasick_rs
import lz4.block  # type: ignore[import-untyped]  # python-lz4 ships no type information
import msgspec

from obsview.common.filters import Filter
from obsview.common.protocol import LEVELS, LogEvent

LEVEL_BITS: Final[dict[str, int]] = {level: 1 << rank for rank, level in enumerate(LEVELS)}
ALL_LEVEL_BITS: Final = sum(LEVEL_BITS.values())

FRAMED: Final = b"\xff\xff\xff\xff"
"""Starts a blob of frames (format 3). A format-2 blob starts with its uncompressed size
(4 bytes, little-endian, LZ4's own header), which is never 4 GiB - 1: the two cannot be confused."""
_LENGTH: Final = struct.Struct("<I")

_ENCODER: Final = msgspec.msgpack.Encoder()
_DECODER: Final = msgspec.msgpack.Decoder(list[LogEvent])
_trace_ids: Final = attrgetter("trace_id")
_request_ids: Final = attrgetter("request_id")
_messages: Final = attrgetter("message")
_raws: Final = attrgetter("raw")
_levels: Final = attrgetter("level")
_statuses: Final = attrgetter("status")

_ERROR_LEVELS: Final[dict[str, bool]] = {level: level == "ERROR" for level in LEVELS}
_ERROR_STATUSES: Final[dict[int | None, bool]] = {None: False, **{status: status >= 500 for status in range(1000)}}
"""Lookups in C for what a log holds; anything else (a status of 1000 or more) goes the slow way."""


def is_error(event: LogEvent) -> bool:
    """ERROR, or a status of 500 or more: what a block keeps again (:func:`pack_errors`)."""
    return event.level == "ERROR" or (event.status is not None and event.status >= 500)


class CorruptBlock(ValueError):
    """A block's bytes do not decompress or decode: the journal file is damaged."""


@dataclass(frozen=True, slots=True)
class BlockInfo:
    """What the journal keeps beside a block's data, to skip it without reading it."""

    first_seq: int
    last_seq: int
    count: int
    min_ts: float
    max_ts: float
    levels: int


@dataclass(frozen=True, slots=True)
class PackedBlock(BlockInfo):
    data: bytes
    text: bytes
    """The block's messages and raw lines, lower-cased, compressed: what a text search reads."""
    hashes: bytes
    """Sorted unique CRC-32s of the block's trace and request IDs, 4 bytes each."""
    errors: bytes
    """The block's errors again, one frame (:func:`pack_errors`)."""


def id_hash(trace_id: str) -> int:
    return zlib.crc32(trace_id.encode())


def seal(events: Sequence[LogEvent]) -> bytes:
    """One frame: what the RAM ring seals a block of events into."""
    return lz4.block.compress(_ENCODER.encode(events))  # type: ignore[no-any-return]


Piece = bytes | Sequence[LogEvent]
"""A run of a block's events: sealed already (a frame), or still to seal."""


def pack(events: Sequence[LogEvent], pieces: Sequence[Piece] | None = None) -> PackedBlock:
    """One block from consecutive events (``seq`` already assigned). ``pieces`` are the same
    events in consecutive runs, some of them sealed already (the ring's frames)."""
    data = framed([piece if isinstance(piece, bytes) else seal(piece) for piece in (pieces or (events,))])
    # One C-level pass each: a text term matches the message or the raw line, lower-cased;
    # lower-casing the joined text is lower-casing each part (str.lower is per character).
    text = "\x00".join(chain(map(_messages, events), map(_raws, events))).lower().encode("utf-8", "surrogatepass")
    levels = 0
    for level in set(map(_levels, events)):
        levels |= LEVEL_BITS.get(level, 0)
    stamps = [event.ts for event in events]
    return PackedBlock(
        events[0].seq, events[-1].seq, len(events), min(stamps), max(stamps), levels, data,
        pack_text(text), block_hashes(events), pack_errors(events),
    )


def framed(parts: Iterable[bytes]) -> bytes:
    """Frames in one blob: :data:`FRAMED`, then each one's length and bytes."""
    return b"".join([FRAMED, *chain.from_iterable((_LENGTH.pack(len(part)), part) for part in parts)])


TEXT_CHUNK: Final = 65536
"""Bytes of text compressed apart: a search decompresses one at a time into the CPU's cache,
searches it there, and stops at the first chunk where its needles are found."""


def pack_text(text: bytes) -> bytes:
    """A block's lower-cased text as frames of :data:`TEXT_CHUNK` bytes (a text may hold any
    character, NUL too: a search looks across the seams, :meth:`Narrowing.text_may_hold`)."""
    size = TEXT_CHUNK
    return framed(lz4.block.compress(text[start : start + size]) for start in range(0, max(1, len(text)), size))


def pack_errors(events: Sequence[LogEvent]) -> bytes:
    """The events that are errors (:func:`is_error`), one frame; b"" when there are none.
    In C but for the selection itself (measured: ~0.1 us an event; the seed's 3.5 % of errors
    sealed again, ~0.03 us)."""
    try:
        marks = list(map(or_, map(_ERROR_LEVELS.__getitem__, map(_levels, events)),
                         map(_ERROR_STATUSES.__getitem__, map(_statuses, events))))
    except KeyError:
        marks = list(map(is_error, events))
    errors = list(compress(events, marks))
    return seal(errors) if errors else b""


def unpack_text(text: bytes) -> bytes:
    """A block's whole text section, decompressed (format 2: one frame)."""
    return b"".join(unpack_bytes(chunk) for chunk in frames(text))


def block_hashes(events: Sequence[LogEvent]) -> bytes:
    """Sorted unique CRC-32s of the events' trace and request IDs, 4 bytes each."""
    ids = set(map(_trace_ids, events))
    ids.update(map(_request_ids, events))
    ids.discard("")
    return array("I", sorted(map(zlib.crc32, map(str.encode, ids)))).tobytes()


def unpack_bytes(data: bytes) -> bytes:
    try:
        return lz4.block.decompress(data)  # type: ignore[no-any-return]
    except lz4.block.LZ4BlockError as exc:
        raise CorruptBlock(f"a journal block does not decompress: {exc}") from None


def decode(plain: bytes) -> list[LogEvent]:
    try:
        return _DECODER.decode(plain)
    except msgspec.DecodeError as exc:
        raise CorruptBlock(f"a journal block does not decode: {exc}") from None


def frames(data: bytes) -> list[bytes]:
    """A block's frames (one for a format-2 block)."""
    if not data.startswith(FRAMED):
        return [data]
    found = []
    at = len(FRAMED)
    try:
        while at < len(data):
            (length,) = _LENGTH.unpack_from(data, at)
            at += _LENGTH.size
            if at + length > len(data):
                raise CorruptBlock("a journal block does not decompress: a frame is cut short")
            found.append(data[at : at + length])
            at += length
    except struct.error:
        raise CorruptBlock("a journal block does not decompress: a frame's length is cut short") from None
    return found


def unpack(data: bytes) -> list[LogEvent]:
    parts = frames(data)
    if len(parts) == 1:
        return decode(unpack_bytes(parts[0]))
    events: list[LogEvent] = []
    for frame in parts:
        events += decode(unpack_bytes(frame))
    return events


def id_bucket(hashed: int) -> int:
    """The trace index's bucket of an ID's hash: its top byte (256 buckets)."""
    return hashed >> 24


def index_rows(first_seq: int, hashes: bytes) -> list[tuple[int, int, bytes]]:
    """A block's trace index rows ``(bucket, first_seq, hashes)``: its sorted hashes cut where
    the top byte changes (one row per bucket; a lookup reads one bucket of every block)."""
    values = array("I")
    values.frombytes(hashes)
    rows = []
    start = 0
    while start < len(values):
        bucket = id_bucket(values[start])
        end = bisect_left(values, (bucket + 1) << 24, lo=start)
        rows.append((bucket, first_seq, values[start:end].tobytes()))
        start = end
    return rows


def has_hash(hashes: bytes, wanted: int) -> bool:
    """``wanted`` is among a block's sorted 4-byte hashes (a C search of the bytes)."""
    return next(hash_offsets(hashes, wanted), -1) >= 0


def hash_offsets(hashes: bytes, wanted: int) -> Iterator[int]:
    """Byte offsets of ``wanted`` among 4-byte hashes (a C search of the bytes)."""
    needle = array("I", [wanted]).tobytes()
    at = hashes.find(needle)
    while at >= 0:
        if at % 4 == 0:
            yield at
        at = hashes.find(needle, at + 1)


BATCH_BUCKETS: Final = 64
"""Buckets of the batched trace index (format 3): by the hash's top 6 bits."""


def batch_bucket(hashed: int) -> int:
    return hashed >> 26


def bucket_slices(hashes: bytes) -> list[bytes]:
    """A block's sorted hashes cut into the :data:`BATCH_BUCKETS` buckets (empty ones too)."""
    values = array("I")
    values.frombytes(hashes)
    slices = []
    start = 0
    for bucket in range(1, BATCH_BUCKETS + 1):
        end = bisect_left(values, bucket << 26, lo=start) if bucket < BATCH_BUCKETS else len(values)
        slices.append(hashes[start * 4 : end * 4])
        start = end
    return slices


def batch_rows(blocks: Sequence[tuple[int, list[bytes]]]) -> list[tuple[int, int, int, bytes, bytes, bytes]]:
    """The batched trace index rows of consecutive blocks ``(first_seq, bucket slices)``:
    per bucket ``(bucket, first block, last block, blocks, ends, hashes)``, where ``hashes``
    is every block's slice one after the other, ``ends`` where each ends (byte offsets, 4
    bytes each) and ``blocks`` their first seqs (8 bytes each). One row per bucket per batch:
    writing a row per block and bucket, each in its own place in the table, cost SQLite more
    than the block's data did."""
    first, last = blocks[0][0], blocks[-1][0]
    seqs = array("q", [seq for seq, _slices in blocks]).tobytes()
    rows = []
    for bucket in range(BATCH_BUCKETS):
        parts = [slices[bucket] for _seq, slices in blocks]
        ends = array("I", accumulate(map(len, parts)))
        if ends[-1]:
            rows.append((bucket, first, last, seqs, ends.tobytes(), b"".join(parts)))
    return rows


def batch_holding(blocks: bytes, ends: bytes, hashes: bytes, wanted: int) -> set[int]:
    """First seqs of the blocks of a batched index row that hold the hash ``wanted``."""
    found: set[int] = set()
    offsets = list(hash_offsets(hashes, wanted))
    if offsets:
        seqs, limits = array("q"), array("I")
        seqs.frombytes(blocks)
        limits.frombytes(ends)
        found.update(seqs[bisect_right(limits, at)] for at in offsets)
    return found


@dataclass(frozen=True)
class Narrowing:
    """What a filter lets a store check per block before decoding it."""

    levels: int
    """Bits of the levels an event may have to match (the toggles and the ``level:`` terms)."""
    needles: tuple[bytes, ...]
    """Lower-cased texts every matching event holds (in its message or raw line)."""
    traces: tuple[str, ...]
    """Trace IDs every matching event belongs to (exactly)."""
    errors_only: bool = False
    """Every matching event is an error (:func:`is_error`): a block's errors are all it needs."""

    @classmethod
    def of(cls, wanted: Filter) -> Narrowing:
        levels = set(wanted.levels)
        lowest_status = 0
        for term in wanted.terms:
            if term.kind == "level":
                levels.intersection_update(term.value.split(","))
            elif term.kind == "status":
                lowest_status = max(lowest_status, int(term.value))
        bits = 0
        for level in levels:
            bits |= LEVEL_BITS.get(level, 0)
        needles = tuple(
            term.value.encode("utf-8", "surrogatepass") for term in wanted.terms if term.kind == "text"
        )
        traces = tuple(term.value for term in wanted.terms if term.kind == "trace")
        return cls(bits, needles, traces, levels <= {"ERROR"} or lowest_status >= 500)

    def may_hold(self, levels: int) -> bool:
        """False when no event of a block with ``levels`` can match."""
        return bool(levels & self.levels)

    def text_may_hold(self, text: bytes) -> bool:
        """False when a block's compressed text section shows no event can match: one of the
        needles is in none of its chunks nor across a seam between two (searched with a SIMD
        substring search, ~10x ``bytes.__contains__`` on text that lacks the needle; measured)."""
        searches = self._searches
        if not searches:
            return True
        needles = [needle for needle in self.needles if needle]
        missing = list(range(len(searches)))
        keep = max(map(len, needles)) - 1
        tail = b""
        for chunk in frames(text):
            lowered = unpack_bytes(chunk)
            if tail:  # a needle that starts in the text before this chunk and ends in it
                seam = tail + lowered[:keep]
                missing = [n for n in missing if needles[n] not in seam]
            missing = [n for n in missing if not searches[n].find_matches_as_indexes(lowered)]
            if not missing:
                return True
            if keep:
                tail = lowered[-keep:] if len(lowered) >= keep else (tail + lowered)[-keep:]
        return False

    @cached_property
    def _searches(self) -> list[ahocorasick_rs.BytesAhoCorasick]:
        """One search per needle (an empty needle is in every text: none needed)."""
        return [ahocorasick_rs.BytesAhoCorasick([needle]) for needle in self.needles if needle]
