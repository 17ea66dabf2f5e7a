"""Writing files so that a crash (or a full disk, or a second process writing the same file)
never leaves half of one, and state files without making the event loop wait for the disk.

Shared by the agent (its state files) and the console (its settings, incident files)."""

from __future__ import annotations

import asyncio
import os
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO


@contextmanager
def atomic_output(location: Path) -> Iterator[BinaryIO]:
    """A file for ``location``'s new content: a temporary file in the same directory (mode
    0600), flushed to disk and renamed over ``location`` once the block ends. An error in
    the block (a full disk, a crash) leaves the previous file whole and removes the
    temporary one; two writers each replace the file whole, never interleave in it."""
    location.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=f".{location.name}.", dir=location.parent)
    try:
        with os.fdopen(fd, "wb") as file:
            yield file
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, location)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def write_atomically(location: Path, body: bytes) -> None:
    """Replace ``location`` with ``body`` whole (see :func:`atomic_output`)."""
    with atomic_output(location) as file:
        file.write(body)


def set_aside(location: Path, body: bytes) -> str:
    """Keep ``body``, a state file that did not fit its type, as ``<name>.rejected`` beside
    it, so the next save loses nothing a person could still want. Returns where it went (or
    why nowhere), for the warning."""
    aside = location.with_name(location.name + ".rejected")
    try:
        write_atomically(aside, body)
    except OSError as exc:
        return f"nowhere ({exc})"
    return str(aside)


class BackgroundWriter:
    """Keeps one state file up to date without blocking the event loop.

    ``submit`` hands over the file's new content and returns at once; a task writes it with
    :func:`write_atomically` (fsync'd) in a worker thread. Changes submitted while a write is
    in flight coalesce: only the latest is written next, so a burst of changes costs one or
    two writes, and the file is never more than one write behind. ``flush`` writes what is
    pending synchronously (shutdown): writes are numbered, so an older write still in flight
    never replaces a newer file. Without a running event loop, ``submit`` writes at once.
    """

    def __init__(
        self,
        location: Path,
        on_error: Callable[[OSError], None] | None = None,
        on_done: Callable[[], None] | None = None,
    ) -> None:
        """``on_error`` is called (in the writing thread) with a failed write's error;
        ``on_done`` (on the event loop) once a submitted content's write is over, whether it
        succeeded or not."""
        self.location = location
        self._on_error = on_error
        self._on_done = on_done
        self._pending: tuple[int, bytes] | None = None
        self._submitted = 0
        self._written = 0
        self._lock = threading.Lock()
        self._task: asyncio.Task[None] | None = None

    def submit(self, body: bytes) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.write_now(body)
            return
        self._submitted += 1
        self._pending = (self._submitted, body)
        if self._task is None or self._task.done():
            self._task = loop.create_task(self._drain(), name=f"obsview-write-{self.location.name}")

    async def _drain(self) -> None:
        while self._pending is not None:
            number, body = self._pending
            self._pending = None
            await asyncio.to_thread(self._write, number, body)
            if self._on_done is not None:
                self._on_done()

    def flush(self) -> None:
        """Write the latest pending content now, in this thread."""
        pending, self._pending = self._pending, None
        if pending is not None:
            self._write(*pending)

    def write_now(self, body: bytes) -> bool:
        """Write ``body`` now, in this thread (it replaces anything pending); True when done."""
        self._submitted += 1
        self._pending = None
        return self._write(self._submitted, body)

    async def write(self, body: bytes) -> bool:
        """Write ``body`` in a worker thread and wait for it (the caller waits, the event
        loop does not); True when done."""
        self._submitted += 1
        self._pending = None
        return await asyncio.to_thread(self._write, self._submitted, body)

    async def aclose(self) -> None:
        """Wait for the write in flight, then write what is still pending."""
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
        self.flush()

    def _write(self, number: int, body: bytes) -> bool:
        with self._lock:
            if number <= self._written:
                return True  # a newer content is on disk already
            try:
                write_atomically(self.location, body)
            except OSError as exc:
                if self._on_error is not None:
                    self._on_error(exc)
                return False
            self._written = number
            return True
