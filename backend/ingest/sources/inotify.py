"""Wake a file tail when its files or their directories change: Linux's inotify through ctypes.

Only a wake-up signal: the tail still finds what changed by ``stat``/``fstat`` and reads as it
would after a poll. One watch per directory (a name created, moved or deleted: rotation),
shared by every followed file in it, and one per followed file (written or truncated, also
once renamed away or deleted while open). The inotify fd is read through the event loop's
``add_reader``, at most :data:`READ_BYTES` at a time; every watch is removed and the fd closed
by :meth:`ChangeWatch.close`.

:class:`Unavailable` says why the tail has to poll instead: not Linux, no inotify in libc or in
the kernel, the instance or watch limit reached, or a directory on a network filesystem (where
inotify does not see what other hosts write).
"""

from __future__ import annotations

import asyncio
import ctypes
import errno
import os
import re
import struct
import sys
from collections.abc import Hashable, Iterable

_IN_MODIFY = 0x2
_IN_MOVED_FROM = 0x40
_IN_MOVED_TO = 0x80
_IN_CREATE = 0x100
_IN_DELETE = 0x200
_IN_DELETE_SELF = 0x400
_IN_MOVE_SELF = 0x800
_IN_Q_OVERFLOW = 0x4000
_IN_IGNORED = 0x8000
_IN_ONLYDIR = 0x01000000
FILE_EVENTS = _IN_MODIFY
"""Written or truncated (copytruncate truncates)."""
DIR_EVENTS = (_IN_CREATE | _IN_MOVED_FROM | _IN_MOVED_TO | _IN_DELETE | _IN_DELETE_SELF
              | _IN_MOVE_SELF | _IN_ONLYDIR)
"""A name appeared, moved or went (rotation, a glob's new file), or the directory itself did."""
_EVENT = struct.Struct("iIII")  # wd, mask, cookie, len; then len bytes of name
READ_BYTES = 16 * 1024
"""One read of the event queue: 60 events with a full-length name, far more without."""
_READS_PER_WAKE = 4
"""Then the loop runs other callbacks; the fd is still readable, so this one comes back."""
NETWORK_FILESYSTEMS = frozenset({
    "nfs", "nfs4", "cifs", "smb3", "smbfs", "ceph", "glusterfs", "9p", "virtiofs", "afs",
    "lustre", "gpfs", "fuse.sshfs", "fuse.glusterfs", "fuse.cephfs",
})


class Unavailable(Exception):
    """inotify cannot wake this tail; the message says why (for its state and log).
    ``expected``: a matter of platform or filesystem, not a limit or a failure to warn of."""

    def __init__(self, why: str, *, expected: bool = False) -> None:
        super().__init__(why)
        self.expected = expected


class ChangeWatch:
    """One inotify instance for one tail. :meth:`wait` returns at the first event after the
    last :meth:`take` (or at the timeout); :meth:`take` says whether a directory changed."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        if not sys.platform.startswith("linux"):
            raise Unavailable(f"inotify is Linux only (this is {sys.platform})", expected=True)
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            self._init1 = libc.inotify_init1
            self._add = libc.inotify_add_watch
            self._rm = libc.inotify_rm_watch
        except (OSError, AttributeError) as exc:
            raise Unavailable(f"no inotify in the C library ({exc})") from None
        self._add.argtypes = (ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32)
        self._rm.argtypes = (ctypes.c_int, ctypes.c_int)
        fd = self._init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if fd < 0:
            raise Unavailable(_reason(ctypes.get_errno(), "inotify_init1"))
        self._fd: int | None = fd
        self._loop = loop
        self._dirs: dict[str, int] = {}
        self._files: dict[Hashable, int] = {}
        self._dir_wds: set[int] = set()
        self._changed = asyncio.Event()
        self._names_changed = False
        loop.add_reader(fd, self._on_readable)

    def watch_dirs(self, wanted: Iterable[str]) -> None:
        """Watch exactly these directories: new ones added (one not there yet is tried again
        at the next call), the others removed."""
        wanted = set(wanted)
        for folder in [folder for folder in self._dirs if folder not in wanted]:
            self._remove(self._dirs.pop(folder))
        for folder in wanted - self._dirs.keys():
            wd = self._add_watch(folder, DIR_EVENTS, missing_ok=True)
            if wd is None:
                continue
            self._dirs[folder] = wd
            self._dir_wds.add(wd)
            kind = _filesystem(folder)
            if kind in NETWORK_FILESYSTEMS:
                raise Unavailable(f"{folder} is on {kind}: inotify does not see other hosts' "
                                  "writes", expected=True)

    def watch_file(self, key: Hashable, fd: int) -> None:
        """Watch the open file ``fd`` (its inode, whatever its name is now or later)."""
        if key not in self._files:
            wd = self._add_watch(f"/proc/self/fd/{fd}", FILE_EVENTS, missing_ok=False)
            assert wd is not None
            self._files[key] = wd

    def unwatch_file(self, key: Hashable) -> None:
        wd = self._files.pop(key, None)
        if wd is not None:
            self._remove(wd)

    def take(self) -> bool:
        """Forget the events so far (the caller is about to look); True if a directory changed
        (or events were lost), so names and globs are worth looking at again."""
        self._changed.clear()
        names, self._names_changed = self._names_changed, False
        return names

    async def wait(self, timeout: float) -> None:
        if self._changed.is_set():
            return
        try:
            async with asyncio.timeout(timeout):
                await self._changed.wait()
        except TimeoutError:
            pass

    def close(self) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        self._loop.remove_reader(fd)
        for wd in [*self._dirs.values(), *self._files.values()]:
            self._rm(fd, wd)
        self._dirs.clear()
        self._files.clear()
        self._dir_wds.clear()
        os.close(fd)

    def _add_watch(self, path: str, mask: int, *, missing_ok: bool) -> int | None:
        assert self._fd is not None
        wd: int = self._add(self._fd, os.fsencode(path), mask)
        if wd >= 0:
            return wd
        error = ctypes.get_errno()
        if missing_ok and error in (errno.ENOENT, errno.ENOTDIR):
            return None
        raise Unavailable(_reason(error, f"watching {path}"))

    def _remove(self, wd: int) -> None:
        # EINVAL when the kernel removed it already (the file deleted): nothing to do.
        if self._fd is not None:
            self._rm(self._fd, wd)
        self._dir_wds.discard(wd)

    def _on_readable(self) -> None:
        fd = self._fd
        if fd is None:
            return
        for _ in range(_READS_PER_WAKE):
            try:
                data = os.read(fd, READ_BYTES)
            except BlockingIOError:
                break
            self._parse(data)
        self._changed.set()

    def _parse(self, data: bytes) -> None:
        offset = 0
        while offset + _EVENT.size <= len(data):
            wd, mask, _cookie, length = _EVENT.unpack_from(data, offset)
            offset += _EVENT.size + length
            if mask & _IN_Q_OVERFLOW or wd in self._dir_wds:
                self._names_changed = True
            if mask & _IN_IGNORED:  # the kernel dropped the watch (inode gone, dir deleted)
                self._forget_wd(wd)

    def _forget_wd(self, wd: int) -> None:
        for folder in [folder for folder, each in self._dirs.items() if each == wd]:
            del self._dirs[folder]
        for key in [key for key, each in self._files.items() if each == wd]:
            del self._files[key]
        self._dir_wds.discard(wd)


def _reason(error: int, doing: str) -> str:
    if error == errno.ENOSPC:
        return ("the inotify watch limit is reached (sysctl fs.inotify.max_user_watches, "
                f"while {doing})")
    if error == errno.EMFILE:
        return "the inotify instance limit is reached (sysctl fs.inotify.max_user_instances)"
    if error == errno.ENOSYS:
        return "the kernel has no inotify"
    return f"inotify failed {doing}: {os.strerror(error)}"


def _filesystem(folder: str) -> str | None:
    """The type of the filesystem ``folder`` is on, from /proc/self/mountinfo."""
    try:
        with open("/proc/self/mountinfo", "rb") as file:
            table = file.read().decode("utf-8", "replace")
    except OSError:
        return None
    return filesystem_of(os.path.realpath(folder), table)


def filesystem_of(folder: str, mountinfo: str) -> str | None:
    """The type (``ext4``, ``nfs4``…) of the mount that holds the real path ``folder``, per a
    mountinfo table; None when no mount does."""
    best, kind = -1, None
    for row in mountinfo.splitlines():
        fields, _, rest = row.partition(" - ")
        parts = fields.split(" ")
        if len(parts) < 5 or not rest:
            continue
        mount = _unescape(parts[4])
        inside = folder == mount or folder.startswith(mount.rstrip("/") + "/")
        if inside and len(mount) >= best:  # of equal mounts, the last is the one on top
            best, kind = len(mount), rest.split(" ", 1)[0]
    return kind


def _unescape(field: str) -> str:
    """mountinfo writes space, tab, newline and backslash as ``\\040``…"""
    return re.sub(r"\\([0-7]{3})", lambda match: chr(int(match.group(1), 8)), field)
