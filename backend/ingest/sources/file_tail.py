"""Follow log files like ``tail -F``, through rotation, without losing or repeating lines.

**Woken by inotify** on Linux (:mod:`.inotify`): a write to a followed file, or a name created,
moved or deleted in a watched directory, wakes the tail at once, so the first line after a
pause is read within milliseconds and a quiet agent does not wake at all, but for a safety
poll every ``safety_poll_interval`` (what inotify could miss). inotify only says "look": what
changed is still found by ``stat``, as below. **Polling** otherwise (not Linux, inotify
unavailable, its watch limit reached, a directory on a network filesystem, or
``OBSVIEW_TAIL_POLL=1``; :attr:`FileTailSource.wake` and one log line say which): a poll
comes ``poll_interval`` after one that read something and, while the files stay quiet, twice
as long after each quiet one, up to ``idle_poll_interval``. Files are identified by (device,
inode), not by name:

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

**Checkpoint** (``checkpoint_path``): the offset of the last line handed to ``emit`` and
awaited (never a held partial line) is saved per file, with what identifies the file: device,
inode, and hashes of its first bytes and of the bytes just before the offset (an inode reused
by a new file is not mistaken for the old one). On start, a file that still holds what the
checkpoint saw is resumed at its offset, even with ``from_start`` (it asks not to skip
history, and the checkpoint proves that part was read). A file rotated while the agent was
down has the rest of its old content read first (the renamed ``app.log.1``/``app.log-*`` found
by inode, or for copytruncate the copy whose bytes match at the offset), then any rotated copy
the checkpoint does not know but that was written after it was saved (two rotations while
down: ``app.log.1`` when ours is now ``app.log.2``; compressed copies are skipped), then the
new file from its start. Without a usable checkpoint the file starts as it would without one.

**Journaled** (``journaled``, the agent's journal on): each batch goes to ``emit`` with its
:class:`~.checkpoint.Position`, which the journal commits with the block holding the batch's
last event; on start the journal's copy (``journal_checkpoint``) is resumed from, unless the
checkpoint file was saved since by an agent without a journal. A kill then reads again
exactly the lines whose events the journal did not commit: none is lost, none stored twice
(a batch committed in part is read again from its start and the events stored dropped).
"""

from __future__ import annotations

import asyncio
import bz2
import fnmatch
import glob
import gzip
import io
import logging
import lzma
import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from obsview.backend.ingest.normalize import Normalizer
from obsview.backend.ingest.sources.base import Emit
from obsview.backend.ingest.sources.checkpoint import (
    FINGERPRINT_BYTES,
    HEAD_BYTES,
    Checkpoint,
    Ident,
    Mark,
    Position,
    decode_checkpoint,
    encode_marks,
    hash_bytes,
    load_checkpoint,
)
from obsview.backend.ingest.sources.inotify import ChangeWatch, Unavailable
from obsview.backend.ingest.sources.lines import LineSplitter
from obsview.common.atomic_file import BackgroundWriter

log = logging.getLogger(__name__)

_MAX_COPY_CANDIDATES = 5
_MTIME_SLACK_S = 1.0
"""Filesystems that stamp whole seconds: a file written just after a poll may carry a time
just before it. Reading a rotated copy twice is prevented by identity, not by this."""
_RETIRED_MEMORY_S = 60.0
_COMPRESSED = (".gz", ".bz2", ".xz", ".zst", ".zip", ".lz4", ".Z")
"""Rotated copies logrotate compresses: never read as text."""


@dataclass(slots=True)
class _Followed:
    path: str
    file: io.FileIO
    ident: Ident
    offset: int
    lines: LineSplitter
    fingerprint: bytes = b""
    """The last bytes read (up to 64), ending at ``offset``."""
    detached_at: float | None = None
    """When ``path`` stopped naming this file (rotated away or deleted)."""
    last_data_at: float = 0.0
    emitted: int = 0
    """End of the last line handed to ``emit`` and awaited: what the checkpoint may record."""
    mark: Mark | None = None
    """The checkpoint entry last computed for this file."""
    skip: int = 0
    """Events of the next lines stored before a restart (:attr:`Mark.skip`): dropped."""


class FileTailSource:
    def __init__(
        self,
        paths: Sequence[str],
        normalizer: Normalizer,
        *,
        from_start: bool = False,
        poll_interval: float = 0.05,
        idle_poll_interval: float = 0.25,
        safety_poll_interval: float = 2.0,
        wake_on_change: bool | None = None,
        rescan_interval: float = 1.0,
        rotate_grace: float = 2.0,
        batch_lines: int = 5000,
        chunk_bytes: int = 1 << 20,
        clock: Callable[[], float] = time.monotonic,
        checkpoint_path: Path | None = None,
        checkpoint_interval: float = 1.0,
        checkpoint_grace: float = 300.0,
        journaled: bool = False,
        journal_checkpoint: bytes | None = None,
    ) -> None:
        """``checkpoint_path``: the JSON file where offsets are saved (atomically: when they
        changed and the last write is ``checkpoint_interval`` seconds old, plus once at start
        and once when ``run`` ends); None keeps none. An entry for a file no longer followed is kept ``checkpoint_grace`` seconds (it
        may come back), then dropped. ``journaled``: each batch is emitted with its position
        (and one without events at start), for the journal to commit; ``journal_checkpoint``:
        the last one it committed (see the module's doc). ``wake_on_change``: use inotify where
        it works (None: unless the environment says ``OBSVIEW_TAIL_POLL=1``), with a poll every
        ``safety_poll_interval`` all the same."""
        self.name = "file:" + ",".join(paths)
        self._literal_paths = [p for p in paths if not glob.has_magic(p)]
        self._glob_patterns = [p for p in paths if glob.has_magic(p)]
        self._normalizer = normalizer
        self._from_start = from_start
        self._poll_interval = poll_interval
        self._idle_poll_interval = max(poll_interval, idle_poll_interval)
        self._safety_poll_interval = safety_poll_interval
        off = "polling: inotify turned off"
        if wake_on_change is None:
            wake_on_change = os.environ.get("OBSVIEW_TAIL_POLL", "") in ("", "0")
            off += " (OBSVIEW_TAIL_POLL=1)"
        self._wake_on_change = wake_on_change
        self._watch: ChangeWatch | None = None
        self._new_file = False
        """A file was followed since the loop last read."""
        self.wake = "inotify" if wake_on_change else off
        """How the tail learns of new lines: ``inotify``, or ``polling: <why>``."""
        self._wake_logged = ""
        self._rescan_interval = rescan_interval
        self._rotate_grace = rotate_grace
        self._batch_lines = batch_lines
        self._chunk_bytes = chunk_bytes
        self._clock = clock
        self._by_path: dict[str, _Followed] = {}
        self._followed: dict[Ident, _Followed] = {}
        self._glob_matches: set[str] = set()
        self._resume_at: dict[Ident, int] = {}
        """Offsets of files dropped after a read error, to resume without repeating lines."""
        self._checkpoint_path = checkpoint_path
        self._checkpoint_interval = checkpoint_interval
        self._checkpoint_grace = checkpoint_grace
        self._journaled = journaled
        self._journal_checkpoint = journal_checkpoint
        self._saved: dict[Ident, tuple[Mark, float]] = {}
        """Checkpoint entries of files not followed now, with when they were last followed."""
        self._checkpointed_paths: set[str] = set()
        """Names the loaded checkpoint knew: a new file there was written while we were down."""
        self._checkpoint_saved_at: float | None = None
        """Modification time of the loaded checkpoint: files written since hold unread lines."""
        self._last_saved: list[Mark] | None = None
        self._writer = BackgroundWriter(checkpoint_path or Path(os.devnull), self._remember_error)
        self._last_error: OSError | None = None
        self._next_save_at = float("-inf")
        self._save_failing = False
        self.lines_read = 0
        self.rotations = 0
        """Files whose name moved to a new file (rename rotation, delete + recreate)."""
        self.truncations = 0
        """Copytruncate rotations detected."""
        self.recovered_from_copy = 0
        """Lines read from a rotated copy after a copytruncate."""
        self.checkpoint_write_failures = 0
        self.rotations_lost = 0
        """Rotations after which lines are known to be unreadable: a rotated copy compressed
        before it was read, or a copytruncate whose copy was not found."""
        self._checked_at_wall = time.time()
        """Wall time of the last look at the watched names (file times are wall times)."""
        self._retired: dict[Ident, tuple[int, int, float, bytes]] = {}
        """Rotated files read to their end and closed: (mtime_ns, size, when, first bytes), so
        a later scan for skipped rotations neither reads them again nor counts a compressed
        copy of one as lost."""
        self._announced_missing: set[str] = set()
        """Watched paths logged as awaited, until they appear."""
        self._seen: set[str] = set()
        """Watched paths that named a file at some point."""
        self.ready = asyncio.Event()
        """Set once every path present at start has its start offset: a line appended after
        that is read, whatever the moment the task gets to read it (the agent waits for this
        before it says it is listening)."""

    @property
    def files(self) -> list[str]:
        """Paths currently followed (for the agent's status)."""
        return sorted(self._by_path)

    def progress(self) -> tuple[int, int]:
        """(bytes read, bytes held) over the files followed now: how far a ``from_start``
        load has got (read up to the last line handed on; a file's size as of now)."""
        done = total = 0
        for followed in self._followed.values():
            done += followed.emitted
            try:
                total += os.fstat(followed.file.fileno()).st_size
            except OSError:  # gone from under us: what was read is all there is
                total += followed.emitted
        return done, max(done, total)

    def waiting_for(self) -> list[str]:
        """Watched paths that name no file, and patterns that match none (yet)."""
        missing = [path for path in self._literal_paths if path not in self._by_path]
        matched = self._glob_matches
        for pattern in self._glob_patterns:
            if not any(fnmatch.fnmatch(path, pattern) for path in matched):
                missing.append(pattern)
        return missing

    def watched(self) -> list[tuple[str, bool]]:
        """Each watched path and pattern, in the order given, and whether it waits (names no
        file, matches none): what the agent reports per path, so that one of several ``--tail``
        paths waiting does not read as all of them."""
        waiting = set(self.waiting_for())
        return [(path, path in waiting) for path in (*self._literal_paths, *self._glob_patterns)]

    async def run(self, emit: Emit) -> None:
        try:
            if self._checkpoint_path is not None:
                self._load_checkpoint(self._checkpoint_path)
            self._expand_globs()
            self._start_watch()  # before the first files are followed: each gets its watch
            self._check_paths(initial=True)
            self._checkpointed_paths.clear()
            if self._checkpoint_path is not None:
                # Where each file starts, at once: a crash before the first line must not
                # skip what is written while down. Outside the interval, like the last write.
                await self._save_checkpoint()
            if self._journaled:  # the journal's copy too: it may predate files found now
                await emit([], self._position(None, 0))
            self.ready.set()
            next_scan = self._clock() + self._rescan_interval
            wait = self._poll_interval
            while True:
                # Events from here on wake the wait below: none is lost while we look.
                names_changed = self._watch.take() if self._watch is not None else False
                busy = failed = self._new_file = False
                for followed in list(self._followed.values()):
                    try:
                        busy |= await self._read(followed, emit)
                    except OSError as exc:  # e.g. a network filesystem went away
                        failed = True
                        log.warning("reading %s failed, will retry: %s", followed.path, exc)
                        # From the last line boundary: the new splitter holds no partial line.
                        self._resume_at[followed.ident] = followed.emitted
                        if (mark := self._mark(followed)) is not None:  # kept for a restart
                            self._saved[followed.ident] = (mark, self._clock())
                        self._forget(followed)
                await self._retire_quiet_files(emit)
                if names_changed or self._clock() >= next_scan:
                    self._expand_globs()
                    self._watch_dirs()
                    next_scan = self._clock() + self._rescan_interval
                self._check_paths(initial=False)
                await self._checkpoint_if_due()
                # A file followed just now is read at once: what was written to it before its
                # watch was added wakes nobody. Not one followed again after a read error: that
                # is retried at the polling pace.
                if busy or (self._new_file and not failed):
                    wait = self._poll_interval
                    await asyncio.sleep(0)
                elif self._watch is not None and not failed:
                    await self._watch.wait(self._until_due())
                else:
                    await (asyncio.sleep(wait) if self._watch is None else self._watch.wait(wait))
                    wait = min(2 * wait, self._idle_poll_interval)
        finally:
            if self._watch is not None:
                self._watch.close()
                self._watch = None
            # Synchronous on purpose: a cancelled task must still leave its last offsets.
            if self._checkpoint_path is not None and self._last_saved is not None:
                body = self._checkpoint_body()
                if body is not None:
                    self._saved_or_warned(self._writer.write_now(body))
            for followed in self._followed.values():
                followed.file.close()
            self._followed.clear()
            self._by_path.clear()

    # ------------------------------------------------------------------ waking

    def _start_watch(self) -> None:
        if not self._wake_on_change:
            self._say_wake(self.wake)
            return
        try:
            self._watch = ChangeWatch(asyncio.get_running_loop())
        except Unavailable as exc:
            self._fall_back(exc)
            return
        self._watch_dirs()
        if self._watch is not None:  # the directories could be watched
            self._say_wake("inotify")

    def _watch_dirs(self) -> None:
        """Watch the directories of the watched names and of the globs' files."""
        if self._watch is None:
            return
        folders = {os.path.dirname(os.path.abspath(path))
                   for path in (*self._literal_paths, *self._glob_matches)}
        for pattern in self._glob_patterns:
            folder = os.path.dirname(os.path.abspath(pattern))
            if not glob.has_magic(folder):  # else its folders are found by the rescans
                folders.add(folder)
        try:
            self._watch.watch_dirs(folders)
        except Unavailable as exc:
            self._fall_back(exc)

    def _watch_file(self, followed: _Followed) -> None:
        if self._watch is None:
            return
        try:
            self._watch.watch_file(followed.ident, followed.file.fileno())
        except Unavailable as exc:
            self._fall_back(exc)

    def _fall_back(self, why: Unavailable) -> None:
        """Poll from now on (the safety poll's slow pace would not do for every line)."""
        if self._watch is not None:
            self._watch.close()
            self._watch = None
        self._say_wake(f"polling: {why}", logging.INFO if why.expected else logging.WARNING)

    def _say_wake(self, wake: str, level: int = logging.INFO) -> None:
        """Keep and log how the tail learns of new lines: once, not at every restart."""
        self.wake = wake
        if wake != self._wake_logged:
            self._wake_logged = wake
            log.log(level, "%s: %s", self.name,
                    "woken by inotify on change" if wake == "inotify" else wake)

    def _until_due(self) -> float:
        """Seconds until the loop has something to do without any file changing: the safety
        poll, a rotated file to close, or a checkpoint write put off by its interval."""
        now = self._clock()
        due = now + self._safety_poll_interval
        for followed in self._followed.values():
            if followed.detached_at is not None:
                due = min(due, max(followed.detached_at, followed.last_data_at)
                          + self._rotate_grace)
        if self._next_save_at > now:
            due = min(due, self._next_save_at)
        return max(0.0, due - now)

    # ------------------------------------------------------------------ discovery

    def _expand_globs(self) -> None:
        matches: set[str] = set()
        for pattern in self._glob_patterns:
            matches.update(path for path in glob.glob(pattern) if os.path.isfile(path))
        self._glob_matches = matches

    def _check_paths(self, *, initial: bool) -> None:
        """Bind every watched path to the file it names now; notice rotations."""
        found: list[tuple[str, os.stat_result]] = []
        for path in (*self._literal_paths, *self._glob_matches):
            try:
                found.append((path, os.stat(path)))
            except OSError:
                self._detach(path)
                # Said once, for a path never seen: a rotation's moment without the file is
                # no news (the state says "waiting" meanwhile all the same).
                if (path in self._literal_paths and path not in self._seen
                        and path not in self._announced_missing):
                    self._announced_missing.add(path)
                    log.warning("waiting for %s: it does not exist yet; it is read from its "
                                "start once it appears", path)
                continue
            if path in self._literal_paths:
                self._seen.add(path)
            if path in self._announced_missing:
                self._announced_missing.discard(path)
                log.warning("%s appeared: reading it", path)
        if initial and self._saved:
            current = {(stat.st_dev, stat.st_ino) for _path, stat in found}
            self._open_rotated_while_down(current)
            # Older content first: files the checkpoint knows before files new to it, each
            # kind in the order they were last written.
            found.sort(key=lambda item: (
                (item[1].st_dev, item[1].st_ino) not in self._saved, item[1].st_mtime))
        for path, stat in found:
            self._bind(path, stat, initial=initial)
        self._checked_at_wall = time.time()

    def _bind(self, path: str, stat: os.stat_result, *, initial: bool) -> None:
        ident = (stat.st_dev, stat.st_ino)
        current = self._by_path.get(path)
        if current is not None and current.ident == ident:
            return
        if current is not None:
            self.rotations += 1
            self._detach(path)
            self._follow_skipped_rotations(path, ident)
        known = self._followed.get(ident)
        if known is not None:  # a followed file renamed onto a watched name
            known.path = path
            known.detached_at = None
            self._by_path[path] = known
            return
        file = self._open_file(path, ident)
        if file is None:
            return  # vanished or replaced since the stat: the next poll sees what is there
        try:
            offset, skip = self._start_offset(path, ident, file, initial=initial)
        except OSError:
            file.close()
            return
        self._follow(path, file, ident, offset, skip=skip)

    def _start_offset(
        self, path: str, ident: Ident, file: io.FileIO, *, initial: bool
    ) -> tuple[int, int]:
        """Where to start reading, and how many events of the lines from there to drop."""
        stat = os.fstat(file.fileno())
        size = stat.st_size
        resume_at = self._resume_at.pop(ident, None)
        saved = self._saved.pop(ident, None)
        if resume_at is not None:
            return min(resume_at, size), 0
        if saved is not None:
            mark = saved[0]
            if mark.describes(file.fileno()):
                return mark.offset, mark.skip
            # Same inode, other content: truncated (copytruncate) while nobody read it, or the
            # inode went to a new file. The old content's rest may survive in a copy.
            self._open_copy_of(mark)
            return 0, 0
        if path in self._checkpointed_paths:
            return 0, 0  # a new file where the checkpoint knew another: all of it is unread
        if initial and self._unread_rotation(path, stat):
            return 0, 0  # rotated twice while down, onto a name a glob watches
        return (size if initial and not self._from_start else 0), 0

    def _open_rotated_while_down(self, current: set[Ident]) -> None:
        """Follow files renamed away while the agent was down: the checkpointed one from its
        offset, then any rotated after it (wholly unread) from their start, oldest first."""
        for ident, (mark, _since) in list(self._saved.items()):
            if ident in current:
                continue  # still watched under some name: resumed when bound
            siblings = self._siblings(mark.path)
            for location, stat in siblings:
                if (stat.st_dev, stat.st_ino) != ident:
                    continue
                file = self._open_file(location, ident)
                if file is None:
                    break
                try:
                    same = mark.describes(file.fileno())
                except OSError:
                    same = False
                if not same:  # the inode went to another file
                    file.close()
                    break
                del self._saved[ident]
                self._follow(mark.path, file, ident, mark.offset, detached=True, skip=mark.skip)
                break
            unread = [
                (location, stat) for location, stat in siblings
                if (stat.st_dev, stat.st_ino) not in current
                and (stat.st_dev, stat.st_ino) not in self._followed
                and self._unread_rotation(location, stat)
            ]
            for location, stat in sorted(unread, key=lambda item: item[1].st_mtime):
                file = self._open_file(location, (stat.st_dev, stat.st_ino))
                if file is not None:
                    self._follow(mark.path, file, (stat.st_dev, stat.st_ino), 0, detached=True)

    def _unread_rotation(self, path: str, stat: os.stat_result) -> bool:
        """True for a rotated copy of a checkpointed file (``app.log.1`` of ``app.log``) that
        the checkpoint does not know and that was written after it was saved: the middle of
        two or more rotations while the agent was down, never read. A modification time equal
        to the checkpoint's counts (coarse clocks): a repeat is better than a loss."""
        if self._checkpoint_saved_at is None or stat.st_mtime < self._checkpoint_saved_at:
            return False
        if (stat.st_dev, stat.st_ino) in self._saved or path.endswith(_COMPRESSED):
            return False
        folder, name = os.path.split(path)
        return any(
            os.path.dirname(known) == folder and name.startswith(os.path.basename(known))
            and path != known
            for known in self._checkpointed_paths
        )

    def _follow_skipped_rotations(self, path: str, current: Ident) -> None:
        """The name moved to a new file: any rotated copy of it written since the last poll
        that nobody follows is a file that was ``path`` in between (two renames between two
        polls: ``app.log`` → ``.1`` → ``.2``); it is read from its start, oldest first, before
        the new file. One already compressed is counted as lost."""
        since = self._checked_at_wall - _MTIME_SLACK_S
        skipped = []
        for location, stat in self._siblings(path):
            ident = (stat.st_dev, stat.st_ino)
            if (ident == current or ident in self._followed or ident in self._saved
                    or stat.st_mtime < since):
                continue
            retired = self._retired.get(ident)
            if retired is not None and retired[:2] == (stat.st_mtime_ns, stat.st_size):
                continue  # read to its end already
            if location.endswith(_COMPRESSED):
                self._count_if_lost(path, location)
                continue
            skipped.append((stat.st_mtime, location, ident))
        for _mtime, location, ident in sorted(skipped):
            file = self._open_file(location, ident)
            if file is not None:
                self._follow(path, file, ident, 0, detached=True)

    def _count_if_lost(self, path: str, location: str) -> None:
        """A rotated copy compressed since the last poll: a compressed copy of a file we read
        (one rotation, then ``compress``) begins like it; any other one held lines we never
        saw, which are counted and logged as lost. Formats the standard library cannot open
        are not judged."""
        head = _compressed_head(location)
        if not head:
            return
        known = [entry[3] for entry in self._retired.values()]
        for followed in self._followed.values():
            try:
                known.append(os.pread(followed.file.fileno(), HEAD_BYTES, 0))
            except (OSError, ValueError):
                continue
        if any(head[: len(other)] == other[: len(head)] for other in known if other):
            return
        self.rotations_lost += 1
        log.warning("%s was rotated and compressed as %s before it could be read: its lines "
                    "are lost (tail_rotations_lost in /metrics)", path, location)

    def _open_copy_of(self, mark: Mark) -> None:
        """Follow the rest of a copytruncated file from its copy, if one matches at the offset."""
        copy = self._open_rotated_copy(mark.path, mark.offset, mark.tail_len, mark.matches_tail)
        if copy is None:
            return
        real = os.fstat(copy.fileno())
        self._follow(mark.path, copy, (real.st_dev, real.st_ino), mark.offset, detached=True,
                     skip=mark.skip)

    def _open_file(self, location: str, ident: Ident) -> io.FileIO | None:
        """``location`` opened for reading if it is still the file ``ident``, else None."""
        try:
            file = io.FileIO(location, "r")
        except OSError:
            return None  # vanished or unreadable between stat and open: next poll retries
        real = os.fstat(file.fileno())
        if (real.st_dev, real.st_ino) != ident:  # replaced in between: next poll sees it
            file.close()
            return None
        return file

    def _follow(
        self, path: str, file: io.FileIO, ident: Ident, offset: int, *, detached: bool = False,
        skip: int = 0,
    ) -> None:
        fingerprint = b""
        if offset:
            file.seek(max(0, offset - FINGERPRINT_BYTES))
            fingerprint = file.read(min(offset, FINGERPRINT_BYTES))
        file.seek(offset)
        now = self._clock()
        followed = _Followed(
            path, file, ident, offset, LineSplitter(self._normalizer.max_line_bytes),
            fingerprint, detached_at=now if detached else None, last_data_at=now, emitted=offset,
            skip=skip,
        )
        self._followed[ident] = followed
        if not detached:
            self._by_path[path] = followed
        self._watch_file(followed)
        self._new_file = True

    def _forget(self, followed: _Followed) -> None:
        """Close a file and stop following it."""
        if self._watch is not None:
            self._watch.unwatch_file(followed.ident)
        followed.file.close()
        self._followed.pop(followed.ident, None)
        if self._by_path.get(followed.path) is followed:
            del self._by_path[followed.path]

    def _detach(self, path: str) -> None:
        followed = self._by_path.pop(path, None)
        # Not when it was bound under another watched name just before (renamed onto it):
        # it would be closed after the grace and read again from 0 under that name.
        if followed is not None and followed.detached_at is None and followed.path == path:
            followed.detached_at = self._clock()

    async def _retire_quiet_files(self, emit: Emit) -> None:
        """Close rotated-away files once drained and quiet (their writer has moved on)."""
        now = self._clock()
        for ident, (_mtime, _size, when, _head) in list(self._retired.items()):
            if now - when >= _RETIRED_MEMORY_S:
                del self._retired[ident]
        for followed in list(self._followed.values()):
            if followed.detached_at is None:
                continue
            if now - max(followed.detached_at, followed.last_data_at) >= self._rotate_grace:
                try:
                    fd = followed.file.fileno()
                    stat = os.fstat(fd)
                    head = os.pread(fd, HEAD_BYTES, 0)
                    self._retired[followed.ident] = (stat.st_mtime_ns, stat.st_size, now, head)
                except (OSError, ValueError):
                    pass
                self._forget(followed)
                # Its last line may lack a newline: the file is complete, so it is a line.
                await self._emit_lines(followed.lines.flush(), followed, emit)

    # ------------------------------------------------------------------ reading

    async def _read(self, followed: _Followed, emit: Emit) -> bool:
        """Read what is new in one file; True when anything was read."""
        file = followed.file
        if file.closed:
            return False
        size = os.fstat(file.fileno()).st_size
        if size < followed.offset or (size > followed.offset and self._content_replaced(followed)):
            await self._after_truncation(followed, emit)
            size = os.fstat(file.fileno()).st_size
        busy = False
        more = size > followed.offset  # nothing new: no read, no thread
        while more:
            # Up to 1 MiB from a disk (or a network filesystem) in a worker thread: the loop
            # goes on serving consoles (and, in the demo, the console's own UI).
            data = await asyncio.to_thread(file.read, self._chunk_bytes)
            if not data:
                break
            busy = True
            followed.offset += len(data)
            followed.fingerprint = (followed.fingerprint + data[-FINGERPRINT_BYTES:])[
                -FINGERPRINT_BYTES:
            ]
            followed.last_data_at = self._clock()
            lines = followed.lines.feed(data)
            end = followed.offset - followed.lines.held_bytes
            await self._emit_lines(lines, followed, emit, end)
            # Yield even when emit did not: a huge backlog must not starve the event loop.
            await asyncio.sleep(0)
            more = len(data) == self._chunk_bytes  # a full chunk: there may be more
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
        fingerprint = followed.fingerprint
        copy = self._open_rotated_copy(
            followed.path, followed.offset, len(fingerprint), fingerprint.__eq__
        )
        # ``emitted`` stays put meanwhile: the checkpoint keeps pointing at the old content,
        # whose rest a restart would find in the copy again.
        copies = [] if copy is None else [copy, *self._later_copies(followed.path, copy)]
        for each in copies:
            with each:
                while data := await asyncio.to_thread(each.read, self._chunk_bytes):
                    lines = followed.lines.feed(data)
                    self.recovered_from_copy += len(lines)
                    await self._emit_lines(lines, followed, emit)
            # Each copy's content ended here, newline or not.
            await self._emit_lines(followed.lines.flush(), followed, emit)
        if not copies:
            await self._emit_lines(followed.lines.flush(), followed, emit)
        followed.offset = 0
        followed.emitted = 0
        followed.skip = 0  # it counted the old content's lines: none of the new is stored
        followed.fingerprint = b""
        followed.file.seek(0)

    def _later_copies(self, path: str, copy: io.FileIO) -> list[io.FileIO]:
        """Copies made after ``copy`` by later copytruncates, before we looked (two between two
        polls): the lines of each are in no other file. Opened at 0, oldest first."""
        made = os.fstat(copy.fileno())
        later = []
        for location, stat in self._siblings(path):
            ident = (stat.st_dev, stat.st_ino)
            if (ident == (made.st_dev, made.st_ino) or ident in self._followed
                    or stat.st_mtime_ns < made.st_mtime_ns):
                continue
            if location.endswith(_COMPRESSED):
                self._count_if_lost(path, location)
                continue
            later.append((stat.st_mtime_ns, location, ident))
        files = [self._open_file(location, ident) for _mtime, location, ident in sorted(later)]
        return [file for file in files if file is not None]

    def _open_rotated_copy(
        self, path: str, offset: int, fingerprint_len: int, matches: Callable[[bytes], bool]
    ) -> io.FileIO | None:
        """The copy a copytruncate of ``path`` made, positioned at ``offset``: it holds the
        lines written after that point and before the truncation. ``matches`` recognises the
        ``fingerprint_len`` bytes before ``offset``. None when no sibling matches."""
        if not fingerprint_len:
            return None
        candidates = []
        for location, stat in self._siblings(path):
            if (stat.st_dev, stat.st_ino) in self._followed:
                continue  # followed on its own (the glob matches it): reading it here repeats
            if stat.st_size >= offset:
                candidates.append((stat.st_mtime, location))
        for _mtime, location in sorted(candidates, reverse=True)[:_MAX_COPY_CANDIDATES]:
            try:
                copy = io.FileIO(location, "r")
            except OSError:
                continue
            copy.seek(offset - fingerprint_len)
            if matches(copy.read(fingerprint_len)):
                return copy
            copy.close()
        return None

    @staticmethod
    def _siblings(path: str) -> list[tuple[str, os.stat_result]]:
        """Files named like rotated copies of ``path`` (``app.log.1``, ``app.log-20261125``)."""
        folder = os.path.dirname(path) or "."
        base = os.path.basename(path)
        try:
            names = [n for n in os.listdir(folder) if n.startswith(base) and n != base]
        except OSError:
            return []
        found = []
        for name in names:
            location = os.path.join(folder, name)
            try:
                found.append((location, os.stat(location)))
            except OSError:
                continue
        return found

    async def _emit_lines(
        self, lines: list[bytes], followed: _Followed, emit: Emit, end: int | None = None
    ) -> None:
        """Normalize and emit in batches. ``end``: the file offset just past ``lines``; when
        given, ``followed.emitted`` advances batch by batch, only once ``emit`` returned, and
        a journaled batch goes with its position (without ``end`` the checkpoint does not
        move: a restart reads those lines again, as before)."""
        if not lines:
            return
        self.lines_read += len(lines)
        step = self._batch_lines
        normalize = self._normalizer.normalize_lines
        path = followed.path
        # Bytes of the lines after the current batch. Counted from the end because only the
        # first line may be shorter than its bytes in the file (an over-long line cut).
        after = 0 if len(lines) <= step else sum(map(len, lines[step:])) + len(lines) - step
        for start in range(0, len(lines), step):
            batch = lines[start : start + step]
            events = normalize(batch, path)
            previous, skipped = followed.emitted, followed.skip
            before = self._mark(followed) if self._journaled and end is not None else None
            if skipped:  # stored before a restart, in a batch the journal committed in part
                dropped = min(skipped, len(events))
                events = events[dropped:]
                followed.skip = skipped - dropped
            position = None
            try:
                if end is not None:
                    if start:
                        after -= sum(map(len, batch)) + len(batch)
                    followed.emitted = end - after
                    if self._journaled:
                        position = self._position(before, len(events))
                    # When due, the offset is on disk before the events are handed on, so
                    # before any console can see them (without a journal, a crash repeats
                    # nothing a console saw); written off the event loop, only this source
                    # waits for it.
                    await self._checkpoint_if_due()
                if events:
                    await (emit(events) if position is None else emit(events, position))
            except BaseException:
                # Not handed on (cancelled, failed): the final checkpoint must not skip them.
                followed.emitted, followed.skip = previous, skipped
                raise

    # ------------------------------------------------------------------ checkpoint

    def _remember_error(self, exc: OSError) -> None:
        self._last_error = exc

    def _load_checkpoint(self, location: Path) -> None:
        saved: Checkpoint | None = load_checkpoint(location)
        # The journal's copy on the first run only: a source restarted in-process resumes
        # from the file, written as the last run ended, after everything it handed on.
        committed, self._journal_checkpoint = self._journal_checkpoint, None
        journal = None if committed is None else decode_checkpoint(
            committed, "file tail offsets in the history journal")
        if journal is not None and (saved is None or saved.journaled):
            saved = journal
            self._last_saved = None  # the file is rewritten to match at start
        else:
            self._last_saved = saved.marks if saved is not None else []
        marks = saved.marks if saved is not None else []
        self._checkpoint_saved_at = saved.saved_at if saved is not None and marks else None
        now = self._clock()
        self._saved = {mark.ident: (mark, now) for mark in marks}
        self._checkpointed_paths = {mark.path for mark in marks}

    async def _checkpoint_if_due(self) -> None:
        """Save changed offsets at once, unless the last write is under an interval old:
        sparse lines are on disk before a console sees them, and a busy file costs at most
        one write per interval."""
        if self._checkpoint_path is None or self._clock() < self._next_save_at:
            return
        if await self._save_checkpoint():
            self._next_save_at = self._clock() + self._checkpoint_interval

    async def _save_checkpoint(self) -> bool:
        """Write the offsets (off the event loop) if they changed since the last write (True
        when they had: a failed write is retried after an interval, not at every batch)."""
        body = self._checkpoint_body()
        if body is None:
            return False
        self._saved_or_warned(await self._writer.write(body))
        return True

    def _saved_or_warned(self, saved: bool) -> None:
        if not saved:
            self.checkpoint_write_failures += 1
            if not self._save_failing:
                log.warning("cannot save file tail offsets to %s: %s", self._writer.location,
                            self._last_error or "unknown error")
            self._save_failing = True  # also: written again next time, whatever changed
        else:
            self._save_failing = False

    def _checkpoint_body(self) -> bytes | None:
        """The checkpoint's new content, or None when the offsets did not change."""
        now = self._clock()
        for ident, (_mark, since) in list(self._saved.items()):
            if now - since >= self._checkpoint_grace:
                del self._saved[ident]
                self._resume_at.pop(ident, None)
        marks = self._marks()
        if marks == self._last_saved and not self._save_failing:
            return None
        self._last_saved = marks
        return encode_marks(marks, journaled=self._journaled, saved_at=time.time())

    def _marks(self) -> list[Mark]:
        """Every file's checkpoint entry now: followed, or not followed but kept."""
        marks = [mark for followed in self._followed.values() if (mark := self._mark(followed))]
        marks.extend(mark for mark, _since in self._saved.values())
        return marks

    def _position(self, before: Mark | None, events: int) -> Position:
        """Where reading stands after a batch of ``events`` (``before``: its file's entry
        before it), for the journal to commit with them."""
        return Position(tuple(self._marks()), before, events, time.time())

    def _mark(self, followed: _Followed) -> Mark | None:
        """The checkpoint entry for ``followed`` now, or its last one when the file cannot
        confirm what was read (truncated under us, read error)."""
        mark = followed.mark
        if (mark is not None and mark.offset == followed.emitted and mark.skip == followed.skip
                and mark.path == followed.path):
            return mark
        emitted = followed.emitted
        try:
            fd = followed.file.fileno()
            fingerprint = followed.fingerprint
            if os.pread(fd, len(fingerprint), followed.offset - len(fingerprint)) != fingerprint:
                return mark  # content replaced since we read it: the next read handles that
            head_len = min(HEAD_BYTES, emitted)
            tail_len = min(FINGERPRINT_BYTES, emitted)
            head = os.pread(fd, head_len, 0)
            tail = os.pread(fd, tail_len, emitted - tail_len)
        except (OSError, ValueError):
            return mark
        dev, ino = followed.ident
        followed.mark = Mark(
            followed.path, dev, ino, emitted, head_len, hash_bytes(head), tail_len, hash_bytes(tail),
            followed.skip,
        )
        return followed.mark


def _compressed_head(location: str) -> bytes | None:
    """The first decompressed bytes of a gzip, bzip2 or xz file; None when unreadable or of
    another format."""
    suffix = os.path.splitext(location)[1]
    file: io.BufferedIOBase
    try:
        if suffix == ".gz":
            file = gzip.GzipFile(location, "rb")
        elif suffix == ".bz2":
            file = bz2.BZ2File(location, "rb")
        elif suffix == ".xz":
            file = lzma.LZMAFile(location, "rb")
        else:
            return None
        with file:
            return file.read(HEAD_BYTES)
    except (OSError, EOFError, lzma.LZMAError):
        return None


def tail_counters(sources: Iterable[object]) -> dict[str, int]:
    """The file tails' loss and failure counters, for the agent's own counters (/metrics);
    empty when no file is tailed."""
    tails = [source for source in sources if isinstance(source, FileTailSource)]
    if not tails:
        return {}
    return {
        "tail_rotations_lost": sum(tail.rotations_lost for tail in tails),
        "tail_checkpoint_write_failures": sum(tail.checkpoint_write_failures for tail in tails),
    }
