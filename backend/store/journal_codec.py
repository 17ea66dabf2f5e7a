"""How the journal packs a block of events, and how it looks into one without unpacking it.

A block is up to a few thousand consecutive events, stored as one compressed blob:
msgpack of each event's fields as an array (no field names: half the bytes of a map),
compressed with LZ4. Measured on 200k seed records (see ``benchmarks/journal.py``): about
0.28x the raw log bytes on disk, and of the codecs tried LZ4 is the cheapest to write and by
far the fastest to read back (zstd-1: 0.17x but 1.5x the write cost and 2x the read cost;
zlib-1: 0.22x at 3x the write cost).

Beside the blob, a block keeps what lets a query skip it: its levels as a bit mask, its time
span, and the CRC-32 of every trace and request ID it holds (the trace index).
"""

from __future__ import annotations

import zlib
from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain
from operator import attrgetter
from typing import Any, Final

import lz4.block  # type: ignore[import-untyped]  # python-lz4 ships no type information
import msgspec

from obsview.common.filters import Filter
from obsview.common.protocol import LEVELS, LogEvent

LEVEL_BITS: Final[dict[str, int]] = {level: 1 << rank for rank, level in enumerate(LEVELS)}
ALL_LEVEL_BITS: Final = sum(LEVEL_BITS.values())

# The only characters whose lower case holds ASCII (U+0130 → "i̇", U+212A KELVIN → "k"; a
# test enumerates every code point). A block holding one of them may match an ASCII needle
# that its lower-cased bytes do not show, so the prefilter lets such a block through.
_LOWER_TO_ASCII: Final = ("\u0130".encode(), "\u212a".encode())

_ENCODER: Final = msgspec.msgpack.Encoder()
_DECODER: Final = msgspec.msgpack.Decoder(list[tuple[Any, ...]])
_trace_ids: Final = attrgetter("trace_id")
_request_ids: Final = attrgetter("request_id")


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
    hashes: bytes
    """Sorted unique CRC-32s of the block's trace and request IDs, 4 bytes each."""


def id_hash(trace_id: str) -> int:
    return zlib.crc32(trace_id.encode())


def pack(events: Sequence[LogEvent]) -> PackedBlock:
    """One block from consecutive events (``seq`` already assigned)."""
    rows = [msgspec.structs.astuple(event) for event in events]
    data = lz4.block.compress(_ENCODER.encode(rows))
    ids = filter(None, chain(map(_trace_ids, events), map(_request_ids, events)))
    hashes = array("I", sorted(set(map(zlib.crc32, map(str.encode, ids)))))
    levels = 0
    for level in set(map(attrgetter("level"), events)):
        levels |= LEVEL_BITS.get(level, 0)
    stamps = [event.ts for event in events]
    return PackedBlock(
        events[0].seq, events[-1].seq, len(events), min(stamps), max(stamps), levels, data,
        hashes.tobytes(),
    )


def unpack_bytes(data: bytes) -> bytes:
    try:
        return lz4.block.decompress(data)  # type: ignore[no-any-return]
    except lz4.block.LZ4BlockError as exc:
        raise CorruptBlock(f"a journal block does not decompress: {exc}") from None


def decode(plain: bytes) -> list[LogEvent]:
    try:
        return [LogEvent(*row) for row in _DECODER.decode(plain)]
    except (msgspec.DecodeError, TypeError) as exc:
        raise CorruptBlock(f"a journal block does not decode: {exc}") from None


def unpack(data: bytes) -> list[LogEvent]:
    return decode(unpack_bytes(data))


def has_hash(hashes: bytes, wanted: int) -> bool:
    """``wanted`` is among a block's sorted 4-byte hashes (a C search of the bytes)."""
    needle = array("I", [wanted]).tobytes()
    at = hashes.find(needle)
    while at >= 0:
        if at % 4 == 0:
            return True
        at = hashes.find(needle, at + 1)
    return False


@dataclass(frozen=True, slots=True)
class Narrowing:
    """What a filter lets a store check per block before decoding it."""

    levels: int
    """Bits of the levels an event may have to match."""
    needles: tuple[bytes, ...]
    """Lower-cased ASCII texts every matching event holds (in its message or raw line)."""
    traces: tuple[str, ...]
    """Trace IDs every matching event belongs to (exactly)."""

    @classmethod
    def of(cls, wanted: Filter) -> Narrowing:
        levels = 0
        for level in wanted.levels:
            levels |= LEVEL_BITS.get(level, 0)
        needles = tuple(
            term.value.encode() for term in wanted.terms if term.kind == "text" and term.value.isascii()
        )
        traces = tuple(term.value for term in wanted.terms if term.kind == "trace")
        return cls(levels, needles, traces)

    def may_hold(self, levels: int, plain: bytes | None = None) -> bool:
        """False when no event of a block with ``levels`` (and these bytes) can match."""
        if not levels & self.levels:
            return False
        if plain is None or not self.needles:
            return True
        lowered = plain.lower()
        if all(needle in lowered for needle in self.needles):
            return True
        return any(special in plain for special in _LOWER_TO_ASCII)
