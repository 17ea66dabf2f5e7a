"""The file tail's checkpoint: where reading each file stopped, and how to recognise it.

An entry holds the device, inode and offset, and hashes (never the bytes: no log text, no
secret, lands in the state directory) of the file's first bytes and of the bytes just before
the offset, so an inode reused by a new file is not mistaken for the old one.

With the journal on, the agent commits the entries in the same transaction as the journal
block holding the last event read up to them (:class:`Position`, handed on with each batch):
the journal's copy is then the one a restart resumes from, just after the last line stored,
and the file is a fallback (a source restarted in-process, an agent run without a journal).
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Final

import orjson

log = logging.getLogger(__name__)

FINGERPRINT_BYTES: Final = 64
"""How many bytes before the read offset identify "the same content" across truncation."""
HEAD_BYTES: Final = 256
"""How many first bytes of a file identify it in the checkpoint, beside device and inode."""
CHECKPOINT_VERSION: Final = 1

Ident = tuple[int, int]


@dataclass(slots=True, frozen=True)
class Mark:
    """One checkpoint entry: where reading ``path``'s file stopped, and how to recognise it."""

    path: str
    """The watched name (a rotated file keeps the name it was followed under)."""
    dev: int
    ino: int
    offset: int
    head_len: int
    head_hash: str
    """Hash of the file's first ``head_len`` bytes (``min(256, offset)``)."""
    tail_len: int
    tail_hash: str
    """Hash of the ``tail_len`` bytes (up to 64) ending at ``offset``."""
    skip: int = 0
    """Events of the lines after ``offset`` that are stored already (the journal committed
    part of a batch): read again, they are dropped rather than stored twice."""

    @property
    def ident(self) -> Ident:
        return (self.dev, self.ino)

    def describes(self, fd: int) -> bool:
        """True when the open file still holds, up to ``offset``, what this mark saw."""
        return (
            os.fstat(fd).st_size >= self.offset
            and hash_bytes(os.pread(fd, self.head_len, 0)) == self.head_hash
            and self.matches_tail(os.pread(fd, self.tail_len, self.offset - self.tail_len))
        )

    def matches_tail(self, data: bytes) -> bool:
        return len(data) == self.tail_len and hash_bytes(data) == self.tail_hash


@dataclass(slots=True, frozen=True)
class Checkpoint:
    """Saved entries, and what the saving agent said of them."""

    marks: list[Mark]
    journaled: bool
    """Saved by an agent whose journal committed the entries too: where the journal has
    them, its copy is exact (this one may be a second older or newer)."""
    saved_at: float | None
    """When (wall time): a rotated copy written since holds lines never read."""


@dataclass(slots=True, frozen=True)
class Position:
    """Where a file tail stands once it handed on a batch of ``events``, for the journal to
    commit with the block holding the batch's last event."""

    marks: tuple[Mark, ...]
    """Every file's entry after the batch."""
    before: Mark | None
    """The batch's own file's entry before it (None: the file could not confirm it)."""
    events: int
    saved_at: float

    def encode(self, stored: int) -> bytes | None:
        """The checkpoint for a journal holding the first ``stored`` of the batch's events:
        the rest of the batch is read again, its first ``stored`` events dropped. None when
        that cannot be said (no entry before it): the journal keeps the checkpoint it has,
        and a restart reads more again, never less."""
        if stored >= self.events:
            return encode_marks(list(self.marks), journaled=True, saved_at=self.saved_at)
        before = self.before
        if before is None:
            return None
        partly = replace(before, skip=before.skip + stored)
        marks = [mark for mark in self.marks if mark.ident != before.ident]
        return encode_marks([*marks, partly], journaled=True, saved_at=self.saved_at)


def hash_bytes(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def encode_marks(marks: list[Mark], *, journaled: bool, saved_at: float) -> bytes:
    files = []
    for m in marks:
        entry: dict[str, Any] = {
            "path": m.path, "dev": m.dev, "ino": m.ino, "offset": m.offset,
            "head": [m.head_len, m.head_hash], "tail": [m.tail_len, m.tail_hash],
        }
        if m.skip:
            entry["skip"] = m.skip
        files.append(entry)
    return orjson.dumps({
        "version": CHECKPOINT_VERSION, "journaled": journaled, "saved_at": saved_at,
        "files": files,
    })


def load_checkpoint(location: Path) -> Checkpoint | None:
    """The checkpoint saved in ``location``; None when there is none, or (with a warning)
    when it is unreadable or corrupt."""
    try:
        data = location.read_bytes()
        modified = location.stat().st_mtime
    except FileNotFoundError:
        return None
    except OSError as exc:
        log.warning("file tail offsets %s are unreadable (%s); tailing as without them",
                    location, exc)
        return None
    checkpoint = decode_checkpoint(data, f"file tail offsets {location}")
    if checkpoint is None or checkpoint.saved_at is not None:
        return checkpoint
    return replace(checkpoint, saved_at=modified)  # written by an obsview that did not say


def decode_checkpoint(data: bytes, what: str) -> Checkpoint | None:
    """``data`` read back; None (with a warning naming ``what``) when it is corrupt."""
    try:
        body = orjson.loads(data)
        if not isinstance(body, dict) or body.get("version") != CHECKPOINT_VERSION:
            raise ValueError("unknown version")
        marks = [decode_mark(item) for item in body["files"]]
        journaled = body.get("journaled", False)
        saved_at = body.get("saved_at")
        if not isinstance(journaled, bool) or not isinstance(saved_at, (int, float, type(None))):
            raise ValueError("bad journaled or saved_at")
    except (KeyError, TypeError, ValueError) as exc:  # (orjson.JSONDecodeError is a ValueError)
        log.warning("%s are corrupt (%s); tailing as without them", what, exc)
        return None
    return Checkpoint(marks, journaled, None if saved_at is None else float(saved_at))


def decode_mark(item: Any) -> Mark:
    head_len, head_hash = item["head"]
    tail_len, tail_hash = item["tail"]
    mark = Mark(item["path"], item["dev"], item["ino"], item["offset"],
                 head_len, head_hash, tail_len, tail_hash, item.get("skip", 0))
    numbers = (mark.dev, mark.ino, mark.offset, mark.head_len, mark.tail_len, mark.skip)
    if not (
        isinstance(mark.path, str) and isinstance(mark.head_hash, str)
        and isinstance(mark.tail_hash, str)
        and all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in numbers)
        and mark.head_len <= min(HEAD_BYTES, mark.offset)
        and mark.tail_len <= min(FINGERPRINT_BYTES, mark.offset)
    ):
        raise ValueError(f"bad entry {item!r:.200}")
    return mark
