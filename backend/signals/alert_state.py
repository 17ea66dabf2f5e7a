"""The alert engine's persistent state (active alerts with their acks, and silences).

Written atomically (a temporary file in the same directory, then ``os.replace``) so a crash
mid-write leaves the previous state intact. A missing file is an empty state; an unreadable
or corrupt one is logged and ignored: losing acks is better than an agent that will not start.

Each alert and silence is decoded by its protocol type (msgspec, as on the wire), one entry
at a time: an entry of the wrong shape (a null expiry, a string value: a hand edit, another
version's writer) is left out with one warning naming the file and the path of the bad
field, the rest is kept, and the file as it was is copied to ``<name>.rejected`` first, so
the next save loses nothing a person could still want.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Final, TypeVar

import msgspec

from obsview.common.atomic_file import set_aside
from obsview.common.protocol import AlertInfo, SilenceInfo

FORMAT_VERSION: Final = 1
log = logging.getLogger(__name__)

_Entry = TypeVar("_Entry", AlertInfo, SilenceInfo)


class _State(msgspec.Struct):
    format: int
    alerts: list[msgspec.Raw]
    silences: list[msgspec.Raw]


_STATE: Final = msgspec.json.Decoder(_State)
_ALERT: Final = msgspec.json.Decoder(AlertInfo)
_SILENCE: Final = msgspec.json.Decoder(SilenceInfo)
_ENCODE: Final = msgspec.json.Encoder().encode


def encode_state(alerts: Sequence[AlertInfo], silences: Sequence[SilenceInfo]) -> bytes:
    """The state file's content (the engine writes it with a background writer)."""
    return _ENCODE({"format": FORMAT_VERSION, "alerts": alerts, "silences": silences})


def load_state(path: Path) -> tuple[list[AlertInfo], list[SilenceInfo]]:
    """The saved alerts and silences that fit their types; empty lists when unusable."""
    try:
        body = path.read_bytes()
    except FileNotFoundError:
        return [], []
    except OSError as exc:
        log.warning("alert state %s is unreadable (%s); starting with no acks or silences", path, exc)
        return [], []
    try:
        state = _STATE.decode(body)
        if state.format != FORMAT_VERSION:
            raise msgspec.ValidationError(f"unknown format {state.format!r}")
    except msgspec.DecodeError as exc:
        log.warning("alert state %s is corrupt (%s); starting with no acks or silences", path, exc)
        return [], []
    rejected: list[str] = []
    alerts = _entries(state.alerts, _ALERT, "alerts", rejected)
    silences = _entries(state.silences, _SILENCE, "silences", rejected)
    if rejected:
        aside = set_aside(path, body)
        log.warning("alert state %s: left out %d entries that do not fit (%s); the file as it was "
                    "is kept in %s", path, len(rejected), "; ".join(rejected), aside)
    return alerts, silences


def _entries(
    items: list[msgspec.Raw], decoder: msgspec.json.Decoder[_Entry], key: str, rejected: list[str]
) -> list[_Entry]:
    kept: list[_Entry] = []
    for index, item in enumerate(items):
        try:
            kept.append(decoder.decode(item))
        except msgspec.ValidationError as exc:
            # msgspec names the path inside the entry ("at `$.value`"): say which entry.
            where = f"$.{key}[{index}]"
            text = str(exc)
            rejected.append(text.replace("`$", f"`{where}") if "`$" in text else f"{text} - at `{where}`")
    return kept
