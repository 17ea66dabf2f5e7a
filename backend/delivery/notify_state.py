"""What the notifier must not forget across a restart: notifications not yet delivered, and
which firing alerts each receiver was told about.

A notification counts as sent only once its receiver accepted it. After a restart (a crash
included), a firing alert its receiver was not told about is sent again, and an alert a
receiver was told is firing but that is no longer firing gets its "resolved": a receiver may
get a notification twice, never miss one. Written like the alert state (atomically, fsync'd,
off the event loop), decoded by type; a file that does not fit is set aside as
``<name>.rejected`` with a warning, and the notifier starts from the alerts alone.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Final, Literal

import msgspec

from obsview.common.atomic_file import set_aside
from obsview.common.protocol import AlertInfo

FORMAT_VERSION: Final = 1
log = logging.getLogger(__name__)


class PendingNotification(msgspec.Struct, frozen=True):
    status: Literal["firing", "resolved"]
    alert: AlertInfo


class ChannelState(msgspec.Struct):
    pending: list[PendingNotification] = msgspec.field(default_factory=list)
    """Accepted by nobody yet, oldest first."""
    notified: dict[str, AlertInfo] = msgspec.field(default_factory=dict)
    """Fingerprint → the firing alert this receiver accepted a "firing" for (and no
    "resolved" since): its "resolved" is sent after a restart if it stopped firing."""


class NotifyState(msgspec.Struct):
    format: int = FORMAT_VERSION
    channels: dict[str, ChannelState] = msgspec.field(default_factory=dict)
    """By channel name (a channel removed from the config is forgotten)."""


_DECODER: Final = msgspec.json.Decoder(NotifyState)
_ENCODE: Final = msgspec.json.Encoder().encode


def encode_state(state: NotifyState) -> bytes:
    return _ENCODE(state)


def load_state(path: Path) -> NotifyState | None:
    """The saved state; None when there is none or it cannot be used (then logged, and a
    file that does not fit is kept aside as ``<name>.rejected``)."""
    try:
        body = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        log.warning("notification state %s is unreadable (%s); undelivered notifications are "
                    "rebuilt from the alerts", path, exc)
        return None
    try:
        state = _DECODER.decode(body)
        if state.format != FORMAT_VERSION:
            raise msgspec.ValidationError(f"unknown format {state.format!r}")
    except msgspec.DecodeError as exc:
        aside = set_aside(path, body)
        log.warning("notification state %s does not fit (%s); kept aside as %s, undelivered "
                    "notifications are rebuilt from the alerts", path, exc, aside)
        return None
    return state
