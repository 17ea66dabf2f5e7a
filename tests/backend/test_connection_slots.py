"""The admission policy every listener shares, with a hand-moved clock."""

from __future__ import annotations

from obsview.backend.connection_slots import ConnectionSlots, Slot


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def make(limit: int = 4, unproven: int = 2, per_peer: int = 2) -> tuple[ConnectionSlots, Clock, list[str]]:
    clock = Clock()
    return ConnectionSlots(limit, unproven, per_peer, grace_s=1.0, clock=clock), clock, []


def admit(slots: ConnectionSlots, peer: str, closed: list[str], name: str) -> Slot | None:
    return slots.admit(peer, lambda: closed.append(name))


def test_past_its_share_a_peer_evicts_its_own_oldest_unproven_connection() -> None:
    slots, clock, closed = make(limit=10, unproven=10, per_peer=2)
    admit(slots, "victim", closed, "victim")
    admit(slots, "flood", closed, "f1")
    admit(slots, "flood", closed, "f2")
    clock.now = 2.0
    assert admit(slots, "flood", closed, "f3") is not None
    assert closed == ["f1"] and slots.evicted == 1


def test_past_the_unproven_share_the_heaviest_peer_loses_its_oldest() -> None:
    slots, clock, closed = make(limit=10, unproven=3, per_peer=3)
    admit(slots, "real", closed, "real")
    admit(slots, "flood", closed, "f1")
    admit(slots, "flood", closed, "f2")
    clock.now = 2.0
    assert admit(slots, "other", closed, "other") is not None
    assert closed == ["f1"]


def test_a_connection_in_its_grace_period_is_not_evicted_and_the_limit_refuses() -> None:
    slots, clock, closed = make(limit=2, unproven=2, per_peer=5)
    admit(slots, "a", closed, "a1")
    admit(slots, "a", closed, "a2")
    clock.now = 0.5
    assert admit(slots, "a", closed, "a3") is None
    assert (closed, slots.refused, slots.open) == ([], 1, 2)


def test_proven_connections_are_never_evicted_and_released_slots_free_room() -> None:
    slots, clock, closed = make(limit=2, unproven=1, per_peer=1)
    first = admit(slots, "a", closed, "a1")
    second = admit(slots, "b", closed, "b1")
    assert first is not None and second is not None
    first.prove()
    second.prove()
    clock.now = 5.0
    assert admit(slots, "c", closed, "c1") is None and closed == []
    first.release()
    first.release()  # twice is harmless
    third = admit(slots, "c", closed, "c1")
    assert third is not None and slots.open == 2
    second.unprove()  # idle again: now the oldest unproven, evictable after its grace
    clock.now = 7.0
    assert admit(slots, "d", closed, "d1") is not None
    assert closed == ["c1"]
