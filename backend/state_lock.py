"""One agent per state directory: a lock that refuses a second one, with a clear message.

Two agents writing one ``alerts.json`` and one ``tail-offsets.json`` clobber each other's
acks and offsets, silently. Each agent holds an exclusive ``flock`` on ``agent.lock`` in its
state directory for as long as it runs; the kernel releases it when the process ends, however
it ends (kill -9 included), so a stale lock never blocks a restart. The file holds the
holder's pid, to name it in the refusal.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import Final

from obsview.backend.errors import StartupError

LOCK_NAME: Final = "agent.lock"


class StateLock:
    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / LOCK_NAME
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock, or raise StartupError naming the agent that holds it."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise StartupError(
                f"cannot use the state directory {self.path.parent}: {exc.strerror or exc}"
                " (set state_dir in the config to a directory this user can write)"
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_pid(fd)
            os.close(fd)
            raise StartupError(
                f"another obsview-agent{holder} already uses the state directory "
                f"{self.path.parent}: two agents on one state would overwrite each other's "
                "acks, silences and file offsets; give this one its own (state_dir in its "
                "config, or another --service or --listen)"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor releases the lock
            self._fd = None


def _read_pid(fd: int) -> str:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return ""
    return f" (pid {text})" if text.isdigit() else ""


def adopt_legacy_state(root: Path, state_dir: Path, names: tuple[str, ...]) -> list[str]:
    """Move state files an older version kept directly in ``root`` (shared by every agent of
    the user) into this agent's ``state_dir``, unless it has its own already: the first agent
    to start after an upgrade keeps its acks and offsets. Returns what was moved."""
    moved = []
    for name in names:
        legacy, own = root / name, state_dir / name
        if own.exists() or not legacy.is_file():
            continue
        try:
            os.replace(legacy, own)
        except OSError:
            continue  # another agent took it first, or it cannot move: start without it
        moved.append(name)
    return moved
