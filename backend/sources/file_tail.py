"""Follow log files like ``tail -F``, through rotation, without losing or repeating lines.

Polling (``poll_interval``) rather than inotify: portable, no dependency, and a stat per
file per poll is cheap. Files are identified by (device, inode), not by name:

* **rename rotation** (``app.log`` → ``app.log.1``, new ``app.log``): the old file stays
  open and is read to its end, until it has been quiet for ``rotate_grace`` seconds (a
  writer may still append before it reopens); the new file is read from its start.
* **copytruncate**: the file shrinks, or the bytes just before our offset changed (it was
  truncated and refilled between two polls). The lines written between our last read and
  the truncation are then only in the copy, so a sibling file (``app.log.1``…) whose bytes at
  our offset match what we read last is read from that offset first; then the live file is
  read from 0.
* **deleted and recreated**: the old inode is drained, the new file read from its start.
* **globs** are re-expanded every ``rescan_interval``; a file that appears later is read from
  its start. Only files present at startup start at their end (unless ``from_start``).
"""

from __future__ import annotations

import asyncio
import glob
import io
import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from obsview.backend.normalize import Normalizer
from obsview.backend.sources.base import Emit
from obsview.backend.sources.lines import LineSplitter

log = logging.getLogger(__name__)

_FINGERPRINT_BYTES = 64
"""How many bytes before the read offset identify "the same content" across truncation."""
_MAX_COPY_CANDIDATES = 5


@dataclass(slots=True)
class _Followed:
    path: str
    file: io.FileIO
    ident: tuple[int, int]
    offset: int
    lines: LineSplitter
    fingerprint: bytes = b""
    """The last bytes read (up to 64), ending at ``offset``."""
    detached_at: float | None = None
    """When ``path`` stopped naming this file (rotated away or deleted)."""
    last_data_at: float = 0.0


class FileTailSource:
    def __init__(
        self,
        paths: Sequence[str],
        normalizer: Normalizer,
        *,
        from_start: bool = False,
        poll_interval: float = 0.05,
        rescan_interval: float = 1.0,
        rotate_grace: float = 2.0,
        batch_lines: int = 5000,
        chunk_bytes: int = 1 << 20,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = "file:" + ",".join(paths)
        self._literal_paths = [p for p in paths if not glob.has_magic(p)]
        self._glob_patterns = [p for p in paths if glob.has_magic(p)]
        self._normalizer = normalizer
        self._from_start = from_start
        self._poll_interval = poll_interval
        self._rescan_interval = rescan_interval
        self._rotate_grace = rotate_grace
        self._batch_lines = batch_lines
        self._chunk_bytes = chunk_bytes
        self._clock = clock
        self._by_path: dict[str, _Followed] = {}
        self._followed: dict[tuple[int, int], _Followed] = {}
        self._glob_matches: set[str] = set()
        self._resume_at: dict[tuple[int, int], int] = {}
        """Offsets of files dropped after a read error, to resume without repeating lines."""
        self.lines_read = 0
        self.rotations = 0
        """Files whose name moved to a new file (rename rotation, delete + recreate)."""
        self.truncations = 0
        """Copytruncate rotations detected."""
        self.recovered_from_copy = 0
        """Lines read from a rotated copy after a copytruncate."""

    @property
    def files(self) -> list[str]:
        """Paths currently followed (for the agent's status)."""
        return sorted(self._by_path)

    async def run(self, emit: Emit) -> None:
        try:
            self._expand_globs()
            self._check_paths(initial=True)
            next_scan = self._clock() + self._rescan_interval
            while True:
                busy = False
                for followed in list(self._followed.values()):
                    try:
                        busy |= await self._read(followed, emit)
                    except OSError as exc:  # e.g. a network filesystem went away
                        log.warning("reading %s failed, will retry: %s", followed.path, exc)
                        self._resume_at[followed.ident] = followed.offset
                        self._forget(followed)
                await self._retire_quiet_files(emit)
                if self._clock() >= next_scan:
                    self._expand_globs()
                    next_scan = self._clock() + self._rescan_interval
                self._check_paths(initial=False)
                await asyncio.sleep(0 if busy else self._poll_interval)
        finally:
            for followed in self._followed.values():
                followed.file.close()
            self._followed.clear()
            self._by_path.clear()

    # ------------------------------------------------------------------ discovery

    def _expand_globs(self) -> None:
        matches: set[str] = set()
        for pattern in self._glob_patterns:
            matches.update(path for path in glob.glob(pattern) if os.path.isfile(path))
        self._glob_matches = matches

    def _check_paths(self, *, initial: bool) -> None:
        """Bind every watched path to the file it names now; notice rotations."""
        for path in (*self._literal_paths, *self._glob_matches):
            try:
                stat = os.stat(path)
            except OSError:
                self._detach(path)
                continue
            ident = (stat.st_dev, stat.st_ino)
            current = self._by_path.get(path)
            if current is not None and current.ident == ident:
                continue
            if current is not None:
                self.rotations += 1
                self._detach(path)
            known = self._followed.get(ident)
            if known is not None:  # a followed file renamed onto a watched name
                known.path = path
                known.detached_at = None
                self._by_path[path] = known
                continue
            start_at_end = initial and not self._from_start
            offset = self._resume_at.pop(ident, stat.st_size if start_at_end else 0)
            self._open(path, ident, min(offset, stat.st_size))

    def _open(self, path: str, ident: tuple[int, int], offset: int) -> None:
        try:
            file = io.FileIO(path, "r")
        except OSError:
            return  # vanished or unreadable between stat and open: next poll retries
        real = os.fstat(file.fileno())
        if (real.st_dev, real.st_ino) != ident:  # replaced in between: next poll sees it
            file.close()
            return
        fingerprint = b""
        if offset:
            file.seek(max(0, offset - _FINGERPRINT_BYTES))
            fingerprint = file.read(min(offset, _FINGERPRINT_BYTES))
        file.seek(offset)
        followed = _Followed(
            path, file, ident, offset, LineSplitter(self._normalizer.max_line_bytes),
            fingerprint, last_data_at=self._clock(),
        )
        self._followed[ident] = followed
        self._by_path[path] = followed

    def _forget(self, followed: _Followed) -> None:
        """Close a file and stop following it."""
        followed.file.close()
        self._followed.pop(followed.ident, None)
        if self._by_path.get(followed.path) is followed:
            del self._by_path[followed.path]

    def _detach(self, path: str) -> None:
        followed = self._by_path.pop(path, None)
        if followed is not None and followed.detached_at is None:
            followed.detached_at = self._clock()

    async def _retire_quiet_files(self, emit: Emit) -> None:
        """Close rotated-away files once drained and quiet (their writer has moved on)."""
        now = self._clock()
        for followed in list(self._followed.values()):
            if followed.detached_at is None:
                continue
            if now - max(followed.detached_at, followed.last_data_at) >= self._rotate_grace:
                self._forget(followed)
                # Its last line may lack a newline: the file is complete, so it is a line.
                await self._emit_lines(followed.lines.flush(), followed.path, emit)

    # ------------------------------------------------------------------ reading

    async def _read(self, followed: _Followed, emit: Emit) -> bool:
        """Read what is new in one file; True when anything was read."""
        file = followed.file
        if file.closed:
            return False
        size = os.fstat(file.fileno()).st_size
        if size < followed.offset or (size > followed.offset and self._content_replaced(followed)):
            await self._after_truncation(followed, emit)
        busy = False
        while True:
            data = file.read(self._chunk_bytes)
            if not data:
                break
            busy = True
            followed.offset += len(data)
            followed.fingerprint = (followed.fingerprint + data[-_FINGERPRINT_BYTES:])[
                -_FINGERPRINT_BYTES:
            ]
            followed.last_data_at = self._clock()
            await self._emit_lines(followed.lines.feed(data), followed.path, emit)
            # Yield even when emit did not: a huge backlog must not starve the event loop.
            await asyncio.sleep(0)
            if len(data) < self._chunk_bytes:
                break
        return busy

    def _content_replaced(self, followed: _Followed) -> bool:
        """True when the bytes before our offset changed: truncated, then refilled."""
        fingerprint = followed.fingerprint
        if not fingerprint:
            return False
        file = followed.file
        file.seek(followed.offset - len(fingerprint))
        now = file.read(len(fingerprint))
        file.seek(followed.offset)
        return now != fingerprint

    async def _after_truncation(self, followed: _Followed, emit: Emit) -> None:
        self.truncations += 1
        copy = self._open_rotated_copy(followed)
        if copy is not None:
            with copy:
                while data := copy.read(self._chunk_bytes):
                    lines = followed.lines.feed(data)
                    self.recovered_from_copy += len(lines)
                    await self._emit_lines(lines, followed.path, emit)
        # The old content ended here, newline or not.
        await self._emit_lines(followed.lines.flush(), followed.path, emit)
        followed.offset = 0
        followed.fingerprint = b""
        followed.file.seek(0)

    def _open_rotated_copy(self, followed: _Followed) -> io.FileIO | None:
        """The copy a copytruncate made, positioned at our offset: it holds the lines written
        between our last read and the truncation. None when no sibling matches."""
        if not followed.fingerprint:
            return None
        folder = os.path.dirname(followed.path) or "."
        base = os.path.basename(followed.path)
        try:
            names = [n for n in os.listdir(folder) if n.startswith(base) and n != base]
        except OSError:
            return None
        candidates = []
        for name in names:
            path = os.path.join(folder, name)
            try:
                stat = os.stat(path)
            except OSError:
                continue
            if (stat.st_dev, stat.st_ino) in self._followed:
                continue  # followed on its own (the glob matches it): reading it here repeats
            if stat.st_size >= followed.offset:
                candidates.append((stat.st_mtime, path))
        for _mtime, path in sorted(candidates, reverse=True)[:_MAX_COPY_CANDIDATES]:
            try:
                copy = io.FileIO(path, "r")
            except OSError:
                continue
            copy.seek(followed.offset - len(followed.fingerprint))
            if copy.read(len(followed.fingerprint)) == followed.fingerprint:
                return copy
            copy.close()
        return None

    async def _emit_lines(self, lines: list[bytes], path: str, emit: Emit) -> None:
        if not lines:
            return
        self.lines_read += len(lines)
        step = self._batch_lines
        normalize = self._normalizer.normalize_lines
        for start in range(0, len(lines), step):
            events = normalize(lines[start : start + step], path)
            if events:
                await emit(events)
