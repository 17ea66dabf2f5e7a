"""The file tail's checkpoint: where reading each file stopped, and how to recognise it.

An entry holds the device, inode and offset, and hashes (never the bytes: no log text, no
secret, lands in the state directory) of the file's first bytes and of the bytes just before
the offset, so an inode reused by a new file is not mistaken for the old one.
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass
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


def hash_bytes(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def encode_marks(marks: list[Mark]) -> bytes:
    return orjson.dumps({
        "version": CHECKPOINT_VERSION,
        "files": [
            {
                "path": m.path, "dev": m.dev, "ino": m.ino, "offset": m.offset,
                "head": [m.head_len, m.head_hash], "tail": [m.tail_len, m.tail_hash],
            }
            for m in marks
        ],
    })


def load_marks(location: Path) -> list[Mark]:
    """The saved entries; none (with a warning) when the file is unreadable or corrupt."""
    try:
        data = orjson.loads(location.read_bytes())
    except FileNotFoundError:
        return []
    except (OSError, orjson.JSONDecodeError) as exc:
        log.warning("file tail offsets %s are unreadable (%s); tailing as without them",
                    location, exc)
        return []
    try:
        if not isinstance(data, dict) or data.get("version") != CHECKPOINT_VERSION:
            raise ValueError("unknown version")
        return [decode_mark(item) for item in data["files"]]
    except (KeyError, TypeError, ValueError) as exc:
        log.warning("file tail offsets %s are corrupt (%s); tailing as without them",
                    location, exc)
        return []


def decode_mark(item: Any) -> Mark:
    head_len, head_hash = item["head"]
    tail_len, tail_hash = item["tail"]
    mark = Mark(item["path"], item["dev"], item["ino"], item["offset"],
                 head_len, head_hash, tail_len, tail_hash)
    numbers = (mark.dev, mark.ino, mark.offset, mark.head_len, mark.tail_len)
    if not (
        isinstance(mark.path, str) and isinstance(mark.head_hash, str)
        and isinstance(mark.tail_hash, str)
        and all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in numbers)
        and mark.head_len <= min(HEAD_BYTES, mark.offset)
        and mark.tail_len <= min(FINGERPRINT_BYTES, mark.offset)
    ):
        raise ValueError(f"bad entry {item!r:.200}")
    return mark
