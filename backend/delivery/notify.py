"""Sends alert notifications from a bounded outbox, never blocking ingest or evaluation.

``submit`` (called by the agent after each evaluation) only appends to per-channel queues
and returns. ``run`` owns one delivery task per channel — so a receiver that is down delays
only its own queue — plus a scanner for repeat notifications. A failed send is retried
with exponential backoff (capped) and each attempt is bounded by the channel's timeout; a
receiver that refuses the message itself (HTTP 4xx) is not asked again.

Exactly one "firing" and one "resolved" per alert occurrence: they come from the engine's
transitions, which happen once per occurrence. A silenced alert sends no "firing" (and so
no "resolved" either). An unacknowledged, unsilenced firing alert is re-sent every repeat
interval. Acks and silences made after the alert fired are seen through ``current_alerts``
(the engine's ``alerts``); without it, repeats go by the alert as it was when it fired.

Alertmanager channels are told the alert's *state* instead: every firing alert, acked or
silenced in obsview, re-sent every resend interval (Alertmanager takes an alert that is not
re-sent as resolved), and its resolve. Alertmanager does the routing and muting; obsview's
silences reach it when the channel mirrors them.

A notification counts as sent only once its receiver accepted it, and what is not sent yet
survives a restart (:meth:`Notifier.attach_state`, :mod:`notify_state`): a firing alert a
receiver was not told about is sent after a restart, a crash included, and one it was told
about that stopped firing meanwhile gets its "resolved" — a receiver may get one twice, never
miss one. (Silence mirroring is not kept: a silence made just before a restart may not reach
Alertmanager.)

A failure in one channel's task (a bug: a send that fails is retried, not raised) restarts
that task alone, after a backoff: the other channels and the repeat scanner go on.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections import deque
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal

from msgspec.structs import replace

from obsview.backend.delivery import alertmanager
from obsview.backend.delivery.alertmanager import Origin
from obsview.backend.delivery.channels import (
    AlertmanagerChannel,
    Channel,
    DeliveryError,
    describe,
    mask_httpx_logs,
    parse_notifiers,
    safe_reason,
    send,
)
from obsview.backend.delivery.notify_state import (
    ChannelState,
    NotifyState,
    PendingNotification,
    encode_state,
    load_state,
)
from obsview.backend.signals.alerts import Transition
from obsview.common.atomic_file import BackgroundWriter
from obsview.common.backoff import Backoff, backoff_delay
from obsview.common.protocol import AlertInfo, SilenceInfo

if TYPE_CHECKING:
    import httpx

__all__ = ["Channel", "Notifier", "Origin", "parse_notifiers"]

log = logging.getLogger(__name__)

_SEND_ERRORS: Final = (OSError, TimeoutError, DeliveryError)
"""With httpx's and aiosmtplib's errors, added when :meth:`Notifier.run` loads them."""


@dataclass(slots=True)
class _AlertNote:
    alert: AlertInfo
    status: Literal["firing", "resolved"]

    def what(self) -> str:
        return f"{self.status} notification for {self.alert.rule}"


@dataclass(slots=True)
class _MirrorSilence:
    silence: SilenceInfo

    def what(self) -> str:
        return f"mirror of silence {self.silence.id}"


@dataclass(slots=True)
class _ExpireMirror:
    silence_id: str

    def what(self) -> str:
        return f"expiry of silence {self.silence_id}"


_Delivery = _AlertNote | _MirrorSilence | _ExpireMirror


@dataclass(slots=True)
class _Firing:
    alert: AlertInfo
    last_sent: list[float | None]
    """Per channel: when it was last told this alert fires; None while it has not been (the
    alert was silenced when it fired)."""


def reports_state(channel: Channel) -> bool:
    """Channels told every firing alert, acked or silenced (see the module docstring)."""
    return isinstance(channel, AlertmanagerChannel)


def _default_origin() -> Origin:
    return Origin(instance=socket.gethostname())


class Notifier:
    def __init__(
        self,
        channels: Sequence[Channel],
        *,
        clock: Callable[[], float] = time.time,
        repeat_interval_s: float = 3600.0,
        outbox_limit: int = 1000,
        current_alerts: Callable[[], Sequence[AlertInfo]] | None = None,
        origin: Callable[[], Origin] = _default_origin,
        backoff_base_s: float = 1.0,
        backoff_cap_s: float = 300.0,
        max_attempts: int = 12,
        scan_interval_s: float = 1.0,
    ) -> None:
        self._channels = tuple(channels)
        self._send_errors: tuple[type[BaseException], ...] = _SEND_ERRORS
        self._clock = clock
        self._repeat = repeat_interval_s
        self._limit = outbox_limit
        self._current_alerts = current_alerts
        self._origin = origin
        self._backoff_base = backoff_base_s
        self._backoff_cap = backoff_cap_s
        self._max_attempts = max_attempts
        # Scanned often enough that a short resend interval is kept to within a quarter of it.
        intervals = [c.repeat_interval_s / 4 for c in self._channels if c.repeat_interval_s]
        self._scan_interval = min([scan_interval_s, *intervals])
        self._queues: list[deque[_Delivery]] = [deque() for _ in self._channels]
        self._wake = [asyncio.Event() for _ in self._channels]
        self._firing: dict[str, _Firing] = {}
        self._mirrors: dict[tuple[int, str], tuple[str, float]] = {}
        """(channel, obsview silence ID) → (Alertmanager's silence ID, when it ends)."""
        self._notified: list[dict[str, AlertInfo]] = [{} for _ in self._channels]
        """Per channel: firing alerts its receiver accepted a "firing" for (no "resolved" since)."""
        self._writer: BackgroundWriter | None = None
        self._save_scheduled = False
        self.counters: dict[str, int] = {
            "sent": 0, "failed_attempts": 0, "gave_up": 0, "dropped": 0, "suppressed": 0, "repeats": 0,
            "task_restarts": 0, "state_write_failures": 0,
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
                    self.counters["suppressed"] += 1
                told = self._told(alert, now)
                self._firing[key] = _Firing(alert, told)
                self._enqueue_where(told, _AlertNote(alert, "firing"))
            elif transition.current == "resolved":
                firing = self._firing.pop(key, None)
                # Fired before an agent restart (not in _firing): every channel was told.
                told = firing.last_sent if firing is not None else [now] * len(self._channels)
                self._enqueue_where(told, _AlertNote(alert, "resolved"))

    def mirror_silence(self, silence: SilenceInfo) -> None:
        """Create ``silence`` in every Alertmanager that mirrors silences."""
        self._enqueue_mirrors(_MirrorSilence(silence))

    def expire_silence(self, silence_id: str) -> None:
        """Expire the mirrors of an obsview silence that was ended early."""
        self._enqueue_mirrors(_ExpireMirror(silence_id))

    def _enqueue_mirrors(self, delivery: _Delivery) -> None:
        for index, channel in enumerate(self._channels):
            if isinstance(channel, AlertmanagerChannel) and channel.mirror_silences:
                self._enqueue(index, delivery)

    def _told(self, alert: AlertInfo, now: float) -> list[float | None]:
        """Which channels hear that ``alert`` fires: all, or only state channels if silenced."""
        return [now if not alert.silenced_by or reports_state(c) else None for c in self._channels]

    def _enqueue_where(self, told: Sequence[float | None], delivery: _Delivery) -> None:
        for index, when in enumerate(told):
            if when is not None:
                self._enqueue(index, delivery)

    def _enqueue(self, index: int, delivery: _Delivery) -> None:
        queue = self._queues[index]
        if len(queue) >= self._limit:
            queue.popleft()  # the oldest news is the least useful
            self.counters["dropped"] += 1
            log.warning("notification outbox full for %s: dropped the oldest", describe(self._channels[index]))
        queue.append(delivery)
        self._wake[index].set()
        self._changed()

    # ------------------------------------------------------------------ across restarts

    def attach_state(self, path: Path) -> None:
        """Restore what was not delivered before the agent stopped (or crashed), and keep it
        in ``path`` from now on. Then, from the current alerts: a firing alert a receiver was
        not told about gets its "firing"; one it was told about that no longer fires gets its
        "resolved". Call before the first evaluation, so a "firing" goes before its "resolved"."""
        self._writer = BackgroundWriter(path, self._save_failed)
        state = load_state(path)
        saved = state.channels if state is not None else {}
        for index, channel in enumerate(self._channels):
            kept = saved.get(channel.name)
            if kept is None:
                continue  # a new channel, or none saved
            self._queues[index].extend(_AlertNote(p.alert, p.status) for p in kept.pending)
            self._notified[index] = dict(kept.notified)
        if self._current_alerts is not None:
            self._reconcile({a.fingerprint: a for a in self._current_alerts() if a.state == "firing"})
        for index in range(len(self._channels)):
            if self._queues[index]:
                self._wake[index].set()
        self._changed()

    def _reconcile(self, firing: dict[str, AlertInfo]) -> None:
        now = self._clock()
        for index, notified in enumerate(self._notified):
            channel = self._channels[index]
            queued = {(d.alert.fingerprint, d.status) for d in self._queues[index]
                      if isinstance(d, _AlertNote)}
            for key, alert in firing.items():
                told = notified.get(key)
                if told is not None and told.fired_at == alert.fired_at:
                    continue
                # A silenced one is sent when its silence ends (scan_repeats, via _adopt).
                if (key, "firing") not in queued and (not alert.silenced_by or reports_state(channel)):
                    self._enqueue(index, _AlertNote(alert, "firing"))
            for key, told in list(notified.items()):
                if key not in firing and (key, "resolved") not in queued:
                    resolved = replace(told, state="resolved", resolved_at=now)
                    self._enqueue(index, _AlertNote(resolved, "resolved"))

    def _changed(self) -> None:
        """The outbox or what receivers were told changed: save it once this loop iteration
        is done (a burst of changes costs one write, off the loop)."""
        if self._writer is None or self._save_scheduled:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._save_now()
            return
        self._save_scheduled = True
        loop.call_soon(self._save_soon)

    def _save_soon(self) -> None:
        self._save_scheduled = False
        if self._writer is not None:
            self._writer.submit(self._encoded())

    def _save_now(self) -> None:
        if self._writer is not None:
            self._writer.write_now(self._encoded())

    def _encoded(self) -> bytes:
        return encode_state(NotifyState(channels={
            channel.name: ChannelState(
                pending=[PendingNotification(d.status, d.alert) for d in self._queues[index]
                         if isinstance(d, _AlertNote)],
                notified=dict(self._notified[index]),
            )
            for index, channel in enumerate(self._channels)
        }))

    def _save_failed(self, exc: OSError) -> None:
        self.counters["state_write_failures"] += 1
        log.warning("cannot save undelivered notifications to %s: %s (kept in memory)",
                    self._writer.location if self._writer else "?", exc)

    async def aclose(self) -> None:
        """Finish the write in flight and write the outbox as it is now (the agent's stop)."""
        if self._writer is not None:
            await self._writer.aclose()
            self._save_now()

    # ------------------------------------------------------------------ repeats

    def scan_repeats(self) -> None:
        """Re-queue firing alerts whose repeat interval passed (unacked, unsilenced; any, for
        state channels), and send "firing" to channels a silence kept it from, once it ends."""
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
            for index, channel in enumerate(self._channels):
                told = firing.last_sent[index]
                if not reports_state(channel) and (alert.ack is not None or alert.silenced_by):
                    continue
                if told is None:
                    # Its silence ended while it was still firing: now it gets its "firing".
                    firing.last_sent[index] = now
                    self._enqueue(index, _AlertNote(alert, "firing"))
                elif now - told >= (channel.repeat_interval_s or self._repeat):
                    firing.last_sent[index] = now
                    self.counters["repeats"] += 1
                    self._enqueue(index, _AlertNote(alert, "firing"))

    def _adopt(self, current: dict[str, AlertInfo], now: float) -> None:
        """Alerts that fired before an agent restart were notified then: repeat from now on."""
        for key, alert in current.items():
            if alert.state == "firing" and key not in self._firing:
                self._firing[key] = _Firing(alert, self._told(alert, now))

    # ------------------------------------------------------------------ delivery

    async def run(self) -> None:
        """Deliver until cancelled: one task per channel, plus the repeat scanner; a task
        that fails is restarted alone (no TaskGroup: one failure must not end the others).
        With no channel there is nothing to deliver: no HTTP client is loaded."""
        if not self._channels:
            return
        # Here, not at the top: httpx (~7 MiB resident with its CLI's click and rich, when
        # installed) and aiosmtplib (~1 MiB) are loaded by the agents that notify only.
        import aiosmtplib
        import httpx

        self._send_errors = (*_SEND_ERRORS, httpx.HTTPError, aiosmtplib.SMTPException)
        mask_httpx_logs()
        async with httpx.AsyncClient() as client:
            jobs: list[tuple[str, Callable[[], Coroutine[Any, Any, None]]]] = [
                (f"notify:{channel.name}", partial(self._deliver_forever, index, client))
                for index, channel in enumerate(self._channels)
            ]
            jobs.append(("notify:repeats", self._scan_forever))
            tasks = [asyncio.create_task(self._keep_running(name, job), name=name) for name, job in jobs]
            try:
                await asyncio.gather(*tasks)
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)

    async def _keep_running(self, name: str, job: Callable[[], Coroutine[Any, Any, None]]) -> None:
        retry = Backoff(self._backoff_base, self._backoff_cap)
        while True:
            try:
                await job()
                return
            except Exception:  # a bug in one channel must not stop the others
                self.counters["task_restarts"] += 1
                delay = retry.next()
                log.exception("%s failed; restarting it in %gs (other channels go on)", name, delay)
            await asyncio.sleep(delay)

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
            delivery = queue[0]  # stays in the outbox (and its file) until accepted or given up
            attempt = 1
            while True:
                try:
                    async with asyncio.timeout(channel.timeout_s):
                        await self._send(index, delivery, client)
                except self._send_errors as exc:
                    self.counters["failed_attempts"] += 1
                    reason = "timeout" if isinstance(exc, TimeoutError) else safe_reason(channel, exc)
                    if attempt >= self._max_attempts or (isinstance(exc, DeliveryError) and exc.permanent):
                        self.counters["gave_up"] += 1
                        log.error("giving up on %s via %s after %d attempts: %s",
                                  delivery.what(), describe(channel), attempt, reason)
                        self._done(index, delivery, sent=False)
                        break
                    delay = backoff_delay(attempt, self._backoff_base, self._backoff_cap)
                    log.warning("%s via %s failed (%s); retry in %gs",
                                delivery.what(), describe(channel), reason, delay)
                    attempt += 1
                    await asyncio.sleep(delay)
                except Exception:
                    # A bug, not a flaky receiver: retrying will not help, and letting it
                    # escape would end this channel's delivery task for good.
                    self.counters["gave_up"] += 1
                    log.exception("cannot send %s via %s; dropped", delivery.what(), describe(channel))
                    self._done(index, delivery, sent=False)
                    break
                else:
                    self.counters["sent"] += 1
                    self._done(index, delivery, sent=True)
                    break

    def _done(self, index: int, delivery: _Delivery, *, sent: bool) -> None:
        """Out of the outbox; when ``sent``, remember what the receiver now believes."""
        queue = self._queues[index]
        for position, queued in enumerate(queue):  # first, unless the outbox overflowed
            if queued is delivery:
                del queue[position]
                break
        if sent and isinstance(delivery, _AlertNote):
            key = delivery.alert.fingerprint
            if delivery.status == "firing":
                self._notified[index][key] = delivery.alert
            else:
                self._notified[index].pop(key, None)
        self._changed()

    async def _send(self, index: int, delivery: _Delivery, client: httpx.AsyncClient) -> None:
        channel = self._channels[index]
        if not isinstance(channel, AlertmanagerChannel):
            assert isinstance(delivery, _AlertNote)  # only Alertmanager channels mirror silences
            await send(channel, delivery.alert, delivery.status, client)
        elif isinstance(delivery, _AlertNote):
            await alertmanager.post_alert(channel, delivery.alert, delivery.status, self._origin(), client)
        elif isinstance(delivery, _MirrorSilence):
            silence = delivery.silence
            mirror_id = await alertmanager.post_silence(channel, silence, self._origin(), client)
            now = self._clock()
            # Silences that ran out need no expiry: forget them, so the map stays small.
            self._mirrors = {k: v for k, v in self._mirrors.items() if v[1] > now}
            self._mirrors[(index, silence.id)] = (mirror_id, silence.ends_at)
        else:
            mirror = self._mirrors.pop((index, delivery.silence_id), None)
            if mirror is not None:
                await alertmanager.expire_silence(channel, mirror[0], client)
