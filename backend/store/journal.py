"""The on-disk journal: every event the agent stored, kept for days in one SQLite file.

Why SQLite (stdlib, WAL mode) holding compressed blocks rather than a row per event or
DuckDB: measured on this machine (DESIGN.md, ``benchmarks/journal.py``), a row per event
costs ~8 µs to insert (120k rows/s), several times the ingest path's own cost per event,
and DuckDB's row inserts from Python are slower still while importing it costs ~50 MB of RSS
for good. A block of a few thousand events packed as LZ4-compressed frames
(:mod:`.journal_codec`: mostly the RAM ring's own sealed bytes, reused) costs under a
microsecond per event to write, takes about 0.45x the raw log bytes with its text section,
and a scan decompresses at memory speed. What SQLite adds: transactions (a crash loses only what was not committed), WAL (readers never block the writer), an index on
the block's first seq and time, and a file format every tool can open.

Durability: ``synchronous=NORMAL`` in WAL mode: a committed block survives the agent being
killed (``kill -9``); a power loss may also lose the last blocks committed before it.

A file that is not a SQLite database, a SQLite database some other program made, a journal
from a newer obsview, or one whose pages fail SQLite's ``quick_check``, is refused with
:class:`JournalError` naming the file: it is never deleted or rewritten.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Final

from obsview.backend.errors import ObsviewError
from obsview.backend.store.journal_codec import (
    CorruptBlock,
    PackedBlock,
    batch_bucket,
    batch_holding,
    batch_rows,
    block_hashes,
    bucket_slices,
    has_hash,
    id_bucket,
    index_rows,
    unpack,
)

APPLICATION_ID: Final = 0x6F627376  # "obsv"
SCHEMA_VERSION: Final = 4
"""2: the trace index by hash bucket (``trace_index``) replaced one row of hashes per block.
3: a block's data is frames (the RAM ring's sealed bytes, :mod:`.journal_codec`), and the trace
index is written a batch of blocks at a time, one row per bucket (``trace_batches``; ``indexed``
in ``meta``: blocks above it are indexed again at the next open). A format-2 file is read as it
is (its blocks are one frame, its ``trace_index`` rows are still read) and marked 3 (an older
obsview then refuses it as newer, rather than misreading it). A block's text section is
frames of ~64 KiB too (a search stops at the first that holds its needle).
4: a block's errors again, apart (``errors``). An older file gets the table, empty: its blocks
are read whole, as before, and the blocks written after it have their errors apart."""
INDEX_BATCH_HASHES: Final = 16 * 8192
"""Trace index entries held back and written together (~16 blocks of seed events): a row per
block in each of 256 buckets, each in its own place in the table, cost SQLite ~1.3 us an event
(measured), more than the block's own data; a row per bucket per batch ~0.2 us."""
INDEX_BATCH_BLOCKS: Final = 64
"""And at least every this many blocks (small blocks, a quiet log: a block a second)."""
_SQLITE_HEADER: Final = b"SQLite format 3\x00"
_TRACE_INDEX: Final = """
CREATE TABLE trace_index(bucket INTEGER NOT NULL, first_seq INTEGER NOT NULL, hashes BLOB NOT NULL,
    PRIMARY KEY (bucket, first_seq)) WITHOUT ROWID;
"""
_TRACE_BATCHES: Final = """
CREATE TABLE trace_batches(bucket INTEGER NOT NULL, first_seq INTEGER NOT NULL, last_block INTEGER NOT NULL,
    blocks BLOB NOT NULL, ends BLOB NOT NULL, hashes BLOB NOT NULL, PRIMARY KEY (bucket, first_seq)) WITHOUT ROWID;
"""
_ERRORS: Final = "CREATE TABLE errors(first_seq INTEGER PRIMARY KEY, data BLOB NOT NULL);"
"""A table of its own, not a column of ``blocks``: a column after a blob of hundreds of KiB
is reached through every page of it."""
_HISTORY_MINUTES: Final = """
CREATE TABLE IF NOT EXISTS history_minutes(minute INTEGER PRIMARY KEY, written_at REAL NOT NULL,
    data BLOB NOT NULL);
"""
"""Minutes of history read late, by their own time (:mod:`.history_minutes`). Made in a file of
format 4 that lacks it as it is opened: an earlier obsview reads such a file as before."""
_SCHEMA: Final = _TRACE_BATCHES + _ERRORS + _HISTORY_MINUTES + """
CREATE TABLE meta(key TEXT PRIMARY KEY, value) WITHOUT ROWID;
CREATE TABLE blocks(
    first_seq INTEGER PRIMARY KEY, last_seq INTEGER NOT NULL, count INTEGER NOT NULL,
    min_ts REAL NOT NULL, max_ts REAL NOT NULL, levels INTEGER NOT NULL, written_at REAL NOT NULL,
    data BLOB NOT NULL);
CREATE INDEX blocks_by_age ON blocks(written_at);
CREATE TABLE texts(first_seq INTEGER PRIMARY KEY, text BLOB NOT NULL);
CREATE TABLE states(id INTEGER PRIMARY KEY, ts REAL NOT NULL, kind TEXT NOT NULL, data BLOB NOT NULL);
CREATE INDEX states_by_time ON states(ts);
CREATE TABLE minutes(minute INTEGER PRIMARY KEY, data BLOB NOT NULL);
"""


class JournalError(ObsviewError):
    """The journal file cannot be used; the message names it and says what to do."""


class Journal:
    """One journal file. Writes come from one thread (the writer); reads from any thread,
    one at a time, on a connection of their own (WAL: they never wait for the writer)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        _refuse_foreign(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = _connect(path)
            self._prepare()
            self._reader = _connect(path)
        except sqlite3.DatabaseError as exc:
            raise JournalError(_unusable(path, str(exc))) from None
        self._read_lock = threading.Lock()
        self._index_lock = threading.Lock()
        self._unindexed: list[tuple[int, bytes]] = []
        """Blocks written whose trace index rows are not yet (first seq, sorted hashes)."""
        self._unindexed_hashes = 0
        self._old_index = bool(self._db.execute(
            "SELECT count(*) FROM sqlite_master WHERE name = 'trace_index'").fetchone()[0])
        """A format-2 file: its blocks' index rows are in ``trace_index``, a row per block."""
        first, last = self._db.execute("SELECT min(first_seq), max(last_seq) FROM blocks").fetchone()
        self.first_seq: int = first or 0
        self.last_seq: int = last or 0
        self.unclean = bool(self._meta("open", 0))
        """The previous agent did not close the journal (killed, crashed, power lost)."""
        self.epoch = str(self._meta("epoch", ""))
        self.dropped_total = int(self._meta("dropped", 0))
        """Events deleted by retention over the journal's life."""
        self.seq_floor = max(self.last_seq, int(self._meta("seq_floor", 0)))
        """Sequence numbers at or below this were handed out before: never reuse them."""
        self.skips: list[tuple[int, int]] = [(first, last) for first, last in json.loads(self._meta("skips", "[]"))]
        """Ranges of numbers skipped after a crash (``first..last``): never events, so never
        counted as missed."""
        tail_checkpoint = self._meta("tail_checkpoint", None)
        self.tail_checkpoint: bytes | None = None if tail_checkpoint is None else bytes(tail_checkpoint)
        """The tailed files' offsets as of the newest block (an opaque body the file tail
        makes): a restart reads on from just after the last line the journal holds."""
        self._reindex()
        self._set_meta("open", 1)

    # ------------------------------------------------------------------ opening

    def _prepare(self) -> None:
        db = self._db
        application_id = db.execute("PRAGMA application_id").fetchone()[0]
        version = db.execute("PRAGMA user_version").fetchone()[0]
        tables = db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        if application_id == 0 and tables == 0:
            db.execute("PRAGMA auto_vacuum = INCREMENTAL")  # before the first table
            db.execute("PRAGMA journal_mode = WAL")
            # One script, one transaction (``executescript`` commits before it runs, so
            # ``_transaction`` cannot hold it): a kill part way must not leave tables without
            # the application id, a file every later start refuses as another program's.
            # The epoch is hex the agent makes, never outside text.
            db.executescript(
                f"BEGIN IMMEDIATE; {_SCHEMA}"
                f" PRAGMA application_id = {APPLICATION_ID}; PRAGMA user_version = {SCHEMA_VERSION};"
                f" INSERT INTO meta VALUES ('epoch', '{secrets.token_hex(8)}'); COMMIT;"
            )
            return
        if application_id != APPLICATION_ID:
            raise JournalError(_unusable(self.path, "it is a SQLite database of another program"))
        if version > SCHEMA_VERSION:
            raise JournalError(_unusable(self.path, f"it was written by a newer obsview (format {version})"))
        # A damaged page (a disk error, a copy cut short) is found before anything is written
        # to the file: reads every page, ~2.5 ms per MB (a 1 GiB journal: ~2.5 s at start).
        problems = [row[0] for row in db.execute("PRAGMA quick_check(3)")]
        if problems != ["ok"]:
            raise JournalError(_unusable(self.path, "it is damaged (" + "; ".join(problems)[:200] + ")"))
        db.execute("PRAGMA journal_mode = WAL")
        if version < SCHEMA_VERSION:
            self._upgrade(version)
        db.executescript(_HISTORY_MINUTES)

    def _upgrade(self, version: int) -> None:
        """Format 1 kept a block's trace hashes in one row (a lookup read all of them):
        they are cut into the bucketed index. Formats 1 and 2 indexed every block as it was
        written. Formats 1 to 3 kept no errors apart (their blocks are read whole).
        In one transaction; the blocks themselves are read as they are."""
        db = self._db
        with _transaction(db):
            if version < 3:
                db.execute(_TRACE_BATCHES)
                if version < 2:
                    db.execute(_TRACE_INDEX)
                    for first_seq, hashes in db.execute("SELECT first_seq, hashes FROM traces").fetchall():
                        db.executemany("INSERT INTO trace_index VALUES (?, ?, ?)", index_rows(first_seq, bytes(hashes)))
                    db.execute("DROP TABLE traces")
                db.execute("INSERT OR REPLACE INTO meta VALUES ('indexed', (SELECT coalesce(max(first_seq), 0) FROM blocks))")
            db.execute(_ERRORS)
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _reindex(self) -> None:
        """Index the blocks written after the last index batch (the agent was killed before
        it wrote their rows): read back and hashed again, in one transaction."""
        indexed = int(self._meta("indexed", 0))
        rows = self._db.execute("SELECT first_seq, data FROM blocks WHERE first_seq > ?", (indexed,)).fetchall()
        if not rows:
            return
        try:
            for first_seq, data in rows:
                self._unindexed.append((int(first_seq), block_hashes(unpack(bytes(data)))))
        except CorruptBlock as exc:
            raise JournalError(_unusable(self.path, str(exc))) from None
        with _transaction(self._db):
            self._write_index()

    def _meta(self, key: str, default: object) -> Any:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return default if row is None else row[0]

    def _set_meta(self, key: str, value: object) -> None:
        with _transaction(self._db):
            self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    # ------------------------------------------------------------------ writing (one thread)

    def skip(self, first: int, last: int) -> None:
        """Numbers ``first..last`` are never used (the numbering jumps after a crash)."""
        self.skips.append((first, last))
        self.seq_floor = max(self.seq_floor, last)
        with _transaction(self._db):
            self._db.execute("INSERT OR REPLACE INTO meta VALUES ('skips', ?)", (json.dumps(self.skips),))
            self._db.execute("INSERT OR REPLACE INTO meta VALUES ('seq_floor', ?)", (self.seq_floor,))

    def skipped(self, first: int, end: int) -> int:
        """How many numbers in ``first..end - 1`` were skipped, not lost."""
        return sum(max(0, min(end, last + 1) - max(first, low)) for low, last in self.skips)

    def reserve(self, seq: int) -> None:
        """Record that numbers up to ``seq`` are handed out (survives a crash)."""
        self.seq_floor = max(self.seq_floor, seq)
        self._set_meta("seq_floor", self.seq_floor)

    def write_block(self, block: PackedBlock, written_at: float, tail_checkpoint: bytes | None = None) -> None:
        """Commit a block, with the tailed files' offsets reached by its last event when they
        moved (in the same transaction: a crash keeps both or neither); its trace index rows
        go with a later block's (a batch), and until then lookups find it in memory
        (:meth:`holding`)."""
        with self._index_lock:
            self._unindexed.append((block.first_seq, block.hashes))
            self._unindexed_hashes += len(block.hashes) // 4
        try:
            with _transaction(self._db):
                self._db.execute(
                    "INSERT INTO blocks VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (block.first_seq, block.last_seq, block.count, block.min_ts, block.max_ts,
                     block.levels, written_at, block.data),
                )
                self._db.execute("INSERT INTO texts VALUES (?, ?)", (block.first_seq, block.text))
                self._db.execute("INSERT INTO errors VALUES (?, ?)", (block.first_seq, block.errors))
                if tail_checkpoint is not None:
                    self._db.execute("INSERT OR REPLACE INTO meta VALUES ('tail_checkpoint', ?)", (tail_checkpoint,))
                if self._unindexed_hashes >= INDEX_BATCH_HASHES or len(self._unindexed) >= INDEX_BATCH_BLOCKS:
                    self._write_index()
        except BaseException:
            with self._index_lock:
                if self._unindexed and self._unindexed[-1][0] == block.first_seq:
                    self._unindexed.pop()
            raise
        if not self.first_seq:
            self.first_seq = block.first_seq
        self.last_seq = max(self.last_seq, block.last_seq)
        if tail_checkpoint is not None:
            self.tail_checkpoint = tail_checkpoint

    def save_tail_checkpoint(self, body: bytes) -> None:
        """The tailed files' offsets moved with no new event (a source started)."""
        self._set_meta("tail_checkpoint", body)
        self.tail_checkpoint = body

    def _write_index(self) -> None:
        """Write the held-back trace index rows (inside the caller's transaction)."""
        with self._index_lock:
            pending = list(self._unindexed)
        if not pending:
            return
        rows = batch_rows([(first_seq, bucket_slices(hashes)) for first_seq, hashes in pending])
        self._db.executemany("INSERT OR REPLACE INTO trace_batches VALUES (?, ?, ?, ?, ?, ?)", rows)
        self._db.execute("INSERT OR REPLACE INTO meta VALUES ('indexed', ?)", (pending[-1][0],))
        with self._index_lock:
            del self._unindexed[: len(pending)]
            self._unindexed_hashes = sum(len(hashes) // 4 for _first, hashes in self._unindexed)

    def holding(self, wanted: int) -> set[int]:
        """First seqs of the blocks whose trace IDs may include the hash ``wanted``."""
        rows = self.read("SELECT blocks, ends, hashes FROM trace_batches WHERE bucket = ?", (batch_bucket(wanted),))
        found: set[int] = set()
        for blocks, ends, hashes in rows:
            found |= batch_holding(bytes(blocks), bytes(ends), bytes(hashes), wanted)
        if self._old_index:
            rows = self.read("SELECT first_seq, hashes FROM trace_index WHERE bucket = ?", (id_bucket(wanted),))
            found.update(int(first) for first, hashes in rows if has_hash(bytes(hashes), wanted))
        with self._index_lock:
            pending = list(self._unindexed)
        found.update(first for first, hashes in pending if has_hash(hashes, wanted))
        return found

    def write_state(self, ts: float, kind: str, data: bytes) -> None:
        with _transaction(self._db):
            self._db.execute("INSERT INTO states(ts, kind, data) VALUES (?, ?, ?)", (ts, kind, data))

    def write_minute(self, minute: int, data: bytes) -> None:
        with _transaction(self._db):
            self._db.execute("INSERT OR REPLACE INTO minutes VALUES (?, ?)", (minute, data))

    def add_history_minutes(self, rows: dict[int, bytes], add: Callable[[bytes, bytes], bytes],
                            written_at: float) -> None:
        """Write each minute's row, or ``add(row, new)`` to the one there, in one transaction."""
        db = self._db
        with _transaction(db):
            for minute, data in rows.items():
                kept = db.execute("SELECT data FROM history_minutes WHERE minute = ?", (minute,)).fetchone()
                row = data if kept is None else add(bytes(kept[0]), data)
                db.execute("INSERT OR REPLACE INTO history_minutes VALUES (?, ?, ?)", (minute, written_at, row))

    def history_minutes(self, since_minute: int, until_minute: int) -> list[bytes]:
        rows = self.read(
            "SELECT data FROM history_minutes WHERE minute >= ? AND minute <= ? ORDER BY minute",
            (since_minute, until_minute),
        )
        return [bytes(data) for (data,) in rows]

    def states(self, since_ts: float, until_ts: float) -> list[tuple[float, bytes]]:
        """Recorded state rows (first frame's time, packed frames) overlapping the span."""
        rows = self.read(
            "SELECT ts, data FROM states WHERE ts >= ? AND ts <= ? ORDER BY id", (since_ts, until_ts)
        )
        return [(float(ts), bytes(data)) for ts, data in rows]

    def minutes(self, since_minute: int, until_minute: int) -> list[bytes]:
        rows = self.read(
            "SELECT data FROM minutes WHERE minute >= ? AND minute <= ? ORDER BY minute",
            (since_minute, until_minute),
        )
        return [bytes(data) for (data,) in rows]

    def used_bytes(self) -> int:
        pages = self._db.execute("PRAGMA page_count").fetchone()[0]
        free = self._db.execute("PRAGMA freelist_count").fetchone()[0]
        size = self._db.execute("PRAGMA page_size").fetchone()[0]
        return int((pages - free) * size)

    def drop_oldest(self, *, older_than: float | None, max_bytes: int | None) -> int:
        """Delete the oldest blocks (and what belongs to their time) past an age or a size;
        returns how many events went. The file gives the space back to the system.

        Age is how long the journal has held a block (``written_at``), not the events' own
        time: a file read from its start, or a host with a wrong clock, keeps its days."""
        dropped = 0
        if older_than is not None:
            dropped += self._drop_where("written_at < ?", older_than)
        while max_bytes is not None and self.used_bytes() > max_bytes and self.last_seq:
            excess = self.used_bytes() - int(max_bytes * 0.9)
            cut = self._db.execute(
                "SELECT first_seq FROM (SELECT b.first_seq, sum(length(b.data) + length(t.text)"
                " + coalesce(length(e.data), 0)) OVER (ORDER BY b.first_seq) AS running"
                " FROM blocks b JOIN texts t USING (first_seq) LEFT JOIN errors e USING (first_seq))"
                " WHERE running >= ? LIMIT 1", (excess,),
            ).fetchone()
            if cut is None:
                cut = (self.last_seq,)
            removed = self._drop_where("first_seq <= ?", cut[0])
            if not removed:
                break
            dropped += removed
        if dropped:
            self.dropped_total += dropped
            with _transaction(self._db):
                self._db.execute("INSERT OR REPLACE INTO meta VALUES ('dropped', ?)", (self.dropped_total,))
            # executescript steps the pragma to the end (execute frees one page per step),
            # then the checkpoint carries the shorter file over from the WAL.
            self._db.executescript("PRAGMA incremental_vacuum;")
            self._db.execute("PRAGMA wal_checkpoint(PASSIVE)")
        return dropped

    def _drop_where(self, condition: str, value: float) -> int:
        with _transaction(self._db):
            row = self._db.execute(f"SELECT sum(count), max(last_seq) FROM blocks WHERE {condition}", (value,)).fetchone()
            if not row[0]:
                return 0
            if self._old_index:
                self._db.execute("DELETE FROM trace_index WHERE first_seq <= ?", (row[1],))
            self._db.execute("DELETE FROM trace_batches WHERE last_block <= ?", (row[1],))
            with self._index_lock:
                self._unindexed = [(first, hashes) for first, hashes in self._unindexed if first > row[1]]
            for table in ("texts", "errors"):
                self._db.execute(f"DELETE FROM {table} WHERE first_seq <= ?", (row[1],))
            self._db.execute(f"DELETE FROM blocks WHERE {condition}", (value,))
            oldest = self._db.execute("SELECT min(first_seq), min(written_at) FROM blocks").fetchone()
            horizon = oldest[1] if oldest[1] is not None else float("inf")
            self._db.execute("DELETE FROM states WHERE ts < ?", (horizon,))
            self._db.execute("DELETE FROM minutes WHERE minute < ?", (horizon // 60,))
            # History is stamped with its own (older) time: its minutes go by when they were
            # written, with the blocks written before them.
            self._db.execute("DELETE FROM history_minutes WHERE written_at < ?", (horizon,))
        self.first_seq = oldest[0] or 0
        return int(row[0])

    def shrink_wal(self) -> None:
        """Copy the WAL into the file and empty it, giving back the disk space it held (up to
        ``journal_size_limit``, which a dropped block's pages do not free). It waits for a
        reader in the middle of a query (up to the busy timeout)."""
        self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def close(self) -> None:
        """A clean close: the next open knows nothing was lost."""
        try:
            with _transaction(self._db):
                self._write_index()
            self._set_meta("open", 0)
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            self._db.close()
            self._reader.close()

    # ------------------------------------------------------------------ reading (any thread)

    def damaged(self, why: str) -> JournalError:
        """The error for a part of the file found damaged while reading it."""
        return JournalError(_unusable(self.path, why))

    def read(self, sql: str, args: tuple[object, ...] = ()) -> Iterator[tuple[Any, ...]]:
        """Rows of a read-only query, fetched under the read lock (all at once: a short read)."""
        with self._read_lock:
            try:
                rows = self._reader.execute(sql, args).fetchall()
            except sqlite3.DatabaseError as exc:
                raise JournalError(_unusable(self.path, str(exc))) from None
        return iter(rows)


@contextlib.contextmanager
def _transaction(db: sqlite3.Connection) -> Iterator[None]:
    """The statements inside commit together or not at all. The connection autocommits
    (``isolation_level=None``, so that pragmas run where they are written), and there ``with
    db:`` opens no transaction: each statement committed on its own, and a kill between them
    left a block without its text row, or its rows without the tail offsets that go with it."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        if db.in_transaction:  # (SQLite rolls back by itself after some errors: a full disk)
            db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def _connect(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=5.0)
    db.execute("PRAGMA synchronous = NORMAL")
    db.execute("PRAGMA journal_size_limit = 67108864")
    return db


def _refuse_foreign(path: Path) -> None:
    """A file that is not SQLite is refused before SQLite sees it (it must not touch it)."""
    try:
        with path.open("rb") as file:
            head = file.read(len(_SQLITE_HEADER))
    except FileNotFoundError:
        return
    except OSError as exc:
        raise JournalError(_unusable(path, exc.strerror or str(exc))) from None
    if head and head != _SQLITE_HEADER:
        raise JournalError(_unusable(path, "it is not an obsview journal (not a SQLite file)"))


def _unusable(path: Path, why: str) -> str:
    return (
        f"cannot use the history journal {path}: {why}. It was left as it is: move it away"
        " (or set history = false) and start the agent again"
    )
