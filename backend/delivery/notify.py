"""Sends alert notifications from a bounded outbox, never blocking ingest or evaluation.

``submit`` (called by the agent after each evaluation) only appends to per-channel queues
and returns. ``run`` owns one delivery task per channel — so a receiver that is down delays
only its own queue — plus a scanner for repeat notifications. A failed send is retried
with exponential backoff (capped) and each attempt is bounded by the channel's timeout.

Exactly one "firing" and one "resolved" per alert occurrence: they come from the engine's
transitions, which happen once per occurrence. A silenced alert sends no "firing" (and so
no "resolved" either). An unacknowledged, unsilenced firing alert is re-sent every repeat
interval. Acks and silences made after the alert fired are seen through ``current_alerts``
(the engine's ``alerts``); without it, repeats go by the alert as it was when it fired.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

import aiosmtplib
import httpx

from obsview.backend.delivery.channels import (
    Channel,
    DeliveryError,
    describe,
    mask_httpx_logs,
    parse_notifiers,
    safe_reason,
    send,
)
from obsview.backend.signals.alerts import Transition
from obsview.common.protocol import AlertInfo

__all__ = ["Channel", "Notifier", "parse_notifiers"]

log = logging.getLogger(__name__)

_SEND_ERRORS: Final = (httpx.HTTPError, OSError, TimeoutError, DeliveryError, aiosmtplib.SMTPException)


@dataclass(slots=True)
class _Delivery:
    alert: AlertInfo
    status: str
    """``firing`` or ``resolved``."""


@dataclass(slots=True)
class _Firing:
    alert: AlertInfo
    last_sent: list[float]
    """Per channel: when it was last notified of this alert."""


class Notifier:
    def __init__(
        self,
        channels: Sequence[Channel],
        *,
        clock: Callable[[], float] = time.time,
        repeat_interval_s: float = 3600.0,
        outbox_limit: int = 1000,
        current_alerts: Callable[[], Sequence[AlertInfo]] | None = None,
        backoff_base_s: float = 1.0,
        backoff_cap_s: float = 300.0,
        max_attempts: int = 12,
        scan_interval_s: float = 1.0,
    ) -> None:
        self._channels = tuple(channels)
        self._clock = clock
        self._repeat = repeat_interval_s
        self._limit = outbox_limit
        self._current_alerts = current_alerts
        self._backoff_base = backoff_base_s
        self._backoff_cap = backoff_cap_s
        self._max_attempts = max_attempts
        self._scan_interval = scan_interval_s
        self._queues: list[deque[_Delivery]] = [deque() for _ in self._channels]
        self._wake = [asyncio.Event() for _ in self._channels]
        self._firing: dict[str, _Firing] = {}
        self._suppressed: set[str] = set()
        """Alerts whose "firing" was silenced: their "resolved" is not sent either."""
        self.counters: dict[str, int] = {
            "sent": 0, "failed_attempts": 0, "gave_up": 0, "dropped": 0, "suppressed": 0, "repeats": 0,
        }

    @property
    def pending(self) -> int:
        """Notifications waiting in the outbox (all channels)."""
        return sum(len(queue) for queue in self._queues)

    # ------------------------------------------------------------------ intake

    def submit(self, transitions: Sequence[Transition]) -> None:
        """Queue the notifications these transitions call for. Never blocks, never raises."""
        now = self._clock()
        for transition in transitions:
            alert = transition.alert
            key = alert.fingerprint
            if transition.current == "firing":
                if alert.silenced_by:
                    self._suppressed.add(key)
                    self.counters["suppressed"] += 1
                    continue
                self._firing[key] = _Firing(alert, [now] * len(self._channels))
                self._enqueue_all(alert, "firing")
            elif transition.current == "resolved":
                self._firing.pop(key, None)
                if key in self._suppressed:
                    self._suppressed.discard(key)
                    continue
                # Also sent for alerts that fired before an agent restart (not in _firing).
                self._enqueue_all(alert, "resolved")

    def _enqueue_all(self, alert: AlertInfo, status: str) -> None:
        for index in range(len(self._channels)):
            self._enqueue(index, _Delivery(alert, status))

    def _enqueue(self, index: int, delivery: _Delivery) -> None:
        queue = self._queues[index]
        if len(queue) >= self._limit:
            queue.popleft()  # the oldest news is the least useful
            self.counters["dropped"] += 1
            log.warning("notification outbox full for %s: dropped the oldest", describe(self._channels[index]))
        queue.append(delivery)
        self._wake[index].set()

    # ------------------------------------------------------------------ repeats

    def scan_repeats(self) -> None:
        """Re-queue firing alerts whose repeat interval passed (unacked, unsilenced)."""
        now = self._clock()
        current = {a.fingerprint: a for a in self._current_alerts()} if self._current_alerts else None
        if current is not None:
            self._adopt(current, now)
        for key, firing in list(self._firing.items()):
            alert = firing.alert if current is None else current.get(key)
            if alert is None or alert.state != "firing":
                del self._firing[key]
                continue
            firing.alert = alert
            if alert.ack is not None or alert.silenced_by:
                continue
            for index, channel in enumerate(self._channels):
                interval = channel.repeat_interval_s or self._repeat
                if now - firing.last_sent[index] >= interval:
                    firing.last_sent[index] = now
                    self.counters["repeats"] += 1
                    self._enqueue(index, _Delivery(alert, "firing"))

    def _adopt(self, current: dict[str, AlertInfo], now: float) -> None:
        for key, alert in current.items():
            if alert.state != "firing" or key in self._firing:
                continue
            if key in self._suppressed:
                if alert.silenced_by:
                    continue
                # Its silence ended while it was still firing: now it gets its "firing".
                self._suppressed.discard(key)
                self._firing[key] = _Firing(alert, [now] * len(self._channels))
                self._enqueue_all(alert, "firing")
            else:
                # Fired before an agent restart, already notified: repeat from now on.
                self._firing[key] = _Firing(alert, [now] * len(self._channels))

    # ------------------------------------------------------------------ delivery

    async def run(self) -> None:
        """Deliver until cancelled: one task per channel, plus the repeat scanner."""
        mask_httpx_logs()
        async with httpx.AsyncClient() as client, asyncio.TaskGroup() as group:
            for index in range(len(self._channels)):
                group.create_task(self._deliver_forever(index, client), name=f"notify:{self._channels[index].name}")
            group.create_task(self._scan_forever(), name="notify:repeats")

    async def _scan_forever(self) -> None:
        while True:
            await asyncio.sleep(self._scan_interval)
            self.scan_repeats()

    async def _deliver_forever(self, index: int, client: httpx.AsyncClient) -> None:
        channel, queue, wake = self._channels[index], self._queues[index], self._wake[index]
        while True:
            while not queue:
                wake.clear()
                await wake.wait()
            delivery = queue.popleft()
            attempt = 1
            while True:
                try:
                    async with asyncio.timeout(channel.timeout_s):
                        await send(channel, delivery.alert, delivery.status, client)
                except _SEND_ERRORS as exc:
                    self.counters["failed_attempts"] += 1
                    reason = "timeout" if isinstance(exc, TimeoutError) else safe_reason(channel, exc)
                    if attempt >= self._max_attempts:
                        self.counters["gave_up"] += 1
                        log.error("giving up on %s notification for %s via %s after %d attempts: %s",
                                  delivery.status, delivery.alert.rule, describe(channel), attempt, reason)
                        break
                    delay = min(self._backoff_cap, self._backoff_base * 2 ** (attempt - 1))
                    log.warning("%s notification for %s via %s failed (%s); retry in %gs",
                                delivery.status, delivery.alert.rule, describe(channel), reason, delay)
                    attempt += 1
                    await asyncio.sleep(delay)
                except Exception:
                    # A bug, not a flaky receiver: retrying will not help, and letting it
                    # escape would end this channel's delivery task for good.
                    self.counters["gave_up"] += 1
                    log.exception("cannot send %s notification for %s via %s; dropped",
                                  delivery.status, delivery.alert.rule, describe(channel))
                    break
                else:
                    self.counters["sent"] += 1
                    break
