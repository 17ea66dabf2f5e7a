"""The alert engine's persistent state (active alerts with their acks, and silences).

Written atomically (a temporary file in the same directory, then ``os.replace``) so a crash
mid-write leaves the previous state intact. A missing file is an empty state; an unreadable
or corrupt one is logged and ignored: losing acks is better than an agent that will not start.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any, Final

import orjson

from obsview.backend.atomic_file import write_atomically
from obsview.common.protocol import AckInfo, AlertInfo, SilenceInfo

FORMAT_VERSION: Final = 1
log = logging.getLogger(__name__)


def save_state(path: Path, alerts: Sequence[AlertInfo], silences: Sequence[SilenceInfo]) -> None:
    """Raises OSError when the directory cannot be written (the caller decides to warn)."""
    body = orjson.dumps({
        "format": FORMAT_VERSION,
        "alerts": [asdict(alert) for alert in alerts],
        "silences": [asdict(silence) for silence in silences],
    })
    write_atomically(path, body)


def load_state(path: Path) -> tuple[list[AlertInfo], list[SilenceInfo]]:
    """The saved alerts and silences, or empty lists (with a warning) when unusable."""
    try:
        data = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        return [], []
    except (OSError, orjson.JSONDecodeError) as exc:
        log.warning("alert state %s is unreadable (%s); starting with no acks or silences", path, exc)
        return [], []
    try:
        if data.get("format") != FORMAT_VERSION:
            raise ValueError(f"unknown format {data.get('format')!r}")
        alerts = [_alert(item) for item in data["alerts"]]
        silences = [SilenceInfo(**_strings(item, "matchers")) for item in data["silences"]]
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        log.warning("alert state %s is corrupt (%s); starting with no acks or silences", path, exc)
        return [], []
    return alerts, silences


def _alert(item: dict[str, Any]) -> AlertInfo:
    ack = item.get("ack")
    fields = _strings(item, "labels")
    fields["ack"] = AckInfo(**ack) if ack is not None else None
    alert = AlertInfo(**fields)
    if not isinstance(alert.fingerprint, str) or not isinstance(alert.started_at, (int, float)):
        raise ValueError("bad alert entry")
    return alert


def _strings(item: dict[str, Any], key: str) -> dict[str, Any]:
    mapping = item[key]
    if not isinstance(mapping, dict) or not all(isinstance(v, str) for v in mapping.values()):
        raise ValueError(f"{key} must map names to strings")
    return dict(item)
