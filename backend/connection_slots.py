"""Admission of a listener's connections: no flood of idle sockets can lock real clients out.

Every listener (the console websocket, the TCP and OTLP sources) holds its connections in
:class:`ConnectionSlots`. A connection is *unproven* until it has shown it is a real client (a
websocket handshake that passed the checks, an authenticated TCP sender, an OTLP request
received in full) and again while an OTLP connection idles between requests. Unproven
connections are cheap for an attacker (open a socket, send nothing or one byte a second), so
past their share (``unproven_limit``, ``unproven_per_peer``) a new connection closes an older
unproven one: the oldest of the address holding the most (its own, when its address is over
its share), so a remote flood churns through its own sockets. A real client proves itself in
milliseconds; a connection is not evicted in its first ``grace_s``, so a burst of flood
sockets cannot evict the real client that arrived just before it.

``limit`` is the hard cap (descriptors): at it, a new connection evicts an unproven one past
its grace or is refused, closed at once. Proven connections are never evicted. Closing at once
matters as much as the caps: every socket held is a file descriptor, and at the process's
descriptor limit ``accept`` itself fails.
"""

from __future__ import annotations

import resource
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

GRACE_S: Final = 0.5
"""How long a new connection has to prove itself before a newer one may evict it."""
DESCRIPTOR_RESERVE: Final = 64
"""Descriptors kept for files, probes, state writes and the other listeners."""


def descriptor_limit() -> int:
    """The process's soft limit on open descriptors (``ulimit -n``)."""
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def fit_to_descriptors(wanted: int, share: float) -> int:
    """``wanted`` connections, or fewer when ``share`` of the descriptors left after the
    reserve cannot hold them (an agent run under ``ulimit -n 256``); at least 4."""
    available = max(0, descriptor_limit() - DESCRIPTOR_RESERVE)
    return max(4, min(wanted, int(available * share)))


@dataclass(slots=True, eq=False)
class Slot:
    """One admitted connection; ``close`` drops it at once (evicted or shut down)."""

    peer: str
    close: Callable[[], object]
    owner: ConnectionSlots
    since: float
    """When it was admitted, or last became unproven again."""
    proven: bool = False
    released: bool = False

    def prove(self) -> None:
        self.owner._set_proven(self, True)

    def unprove(self) -> None:
        """Unproven again (an OTLP connection idle between two requests)."""
        self.owner._set_proven(self, False)

    def release(self) -> None:
        self.owner._release(self)


@dataclass(slots=True)
class ConnectionSlots:
    limit: int
    """Connections at once, proven or not."""
    unproven_limit: int
    unproven_per_peer: int
    """Unproven connections from one address: one remote host only evicts its own."""
    grace_s: float = GRACE_S
    clock: Callable[[], float] = time.monotonic
    refused: int = 0
    """Connections closed at once: ``limit`` reached, nothing evictable."""
    evicted: int = 0
    """Unproven connections closed to make room for a newer one."""
    _count: int = 0
    # Insertion-ordered dicts used as ordered sets: the first key is the oldest.
    _unproven: dict[Slot, None] = field(default_factory=dict)
    _by_peer: dict[str, dict[Slot, None]] = field(default_factory=dict)

    @property
    def open(self) -> int:
        return self._count

    @property
    def unproven(self) -> int:
        return len(self._unproven)

    def admit(self, peer: str, close: Callable[[], object]) -> Slot | None:
        """A slot for a new unproven connection from ``peer``, or None (refused: close it)."""
        now = self.clock()
        mine = self._by_peer.get(peer, {})
        if len(mine) >= self.unproven_per_peer:
            self._evict(mine, now)
        elif len(self._unproven) >= self.unproven_limit or self._count >= self.limit:
            self._evict(max(self._by_peer.values(), key=len, default={}), now)
        if self._count >= self.limit:
            self.refused += 1
            return None
        slot = Slot(peer, close, self, now)
        self._count += 1
        self._mark_unproven(slot)
        return slot

    def _evict(self, unproven: dict[Slot, None], now: float) -> None:
        """Close the oldest of ``unproven`` unless it is still in its grace period."""
        oldest = next(iter(unproven), None)
        if oldest is None or now - oldest.since < self.grace_s:
            return
        self.evicted += 1
        self._release(oldest)
        oldest.close()

    def _mark_unproven(self, slot: Slot) -> None:
        self._unproven[slot] = None
        self._by_peer.setdefault(slot.peer, {})[slot] = None

    def _forget_unproven(self, slot: Slot) -> None:
        self._unproven.pop(slot, None)
        mine = self._by_peer.get(slot.peer)
        if mine is not None:
            mine.pop(slot, None)
            if not mine:
                del self._by_peer[slot.peer]

    def _set_proven(self, slot: Slot, proven: bool) -> None:
        if slot.released or slot.proven == proven:
            return
        slot.proven = proven
        if proven:
            self._forget_unproven(slot)
        else:
            slot.since = self.clock()
            self._mark_unproven(slot)

    def _release(self, slot: Slot) -> None:
        if slot.released:
            return
        slot.released = True
        self._count -= 1
        self._forget_unproven(slot)
