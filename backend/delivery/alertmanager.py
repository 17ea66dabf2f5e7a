"""Alertmanager API v2: alerts pushed the way Prometheus pushes them, silences mirrored.

An alert is posted to ``POST /api/v2/alerts`` with its labels (obsview's, plus ``instance``,
``service`` and the channel's static labels, so a fleet's alerts route and dedupe by host),
its annotations, ``startsAt`` and ``generatorURL``. While it fires no ``endsAt`` is sent:
Alertmanager then holds it for its ``resolve_timeout`` (5 m by default) and the notifier
re-sends it well before that. On resolve ``endsAt`` is the resolve time, and Alertmanager
drops it from its active alerts.

A silence made in obsview can be mirrored with ``POST /api/v2/silences`` (scoped to this
agent's ``instance``) and expired with ``DELETE /api/v2/silence/{id}`` when it is ended early
(the notifier remembers Alertmanager's IDs in memory: across an agent restart it cannot).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from obsview.backend.delivery.channels import (
    AlertmanagerChannel,
    DeliveryError,
    alert_annotations,
    iso_time,
    post_json,
    starts_at,
)
from obsview.common.protocol import AlertInfo, SilenceInfo

if TYPE_CHECKING:  # loaded by the Notifier that sends (see notify.Notifier.run)
    import httpx

_NOT_LABEL_CHAR: Final = re.compile(r"[^a-zA-Z0-9_]")


@dataclass(frozen=True, slots=True)
class Origin:
    """Which agent raised the alerts: labels every alert carries, and where to read more."""

    instance: str
    service: str = ""
    generator_url: str = ""
    """The agent's ``/api/alerts`` (``notify.external_url`` replaces it: the agent's own
    address is often loopback, useless from Alertmanager's web page)."""


def label_name(name: str) -> str:
    """A Prometheus label name: Alertmanager refuses the whole batch over one bad name."""
    cleaned = _NOT_LABEL_CHAR.sub("_", name)
    return "_" + cleaned if not cleaned or cleaned[0].isdigit() else cleaned


def alert_labels(alert: AlertInfo, origin: Origin, channel: AlertmanagerChannel) -> dict[str, str]:
    """The alert's identity in Alertmanager: the channel's static labels, the origin, then
    the alert's own labels (``alertname``, ``severity``, ``probe``…), which win."""
    labels = dict(channel.labels)
    labels["instance"] = origin.instance
    if origin.service:
        labels["service"] = origin.service
    labels.update({label_name(k): v for k, v in alert.labels.items()})
    labels.setdefault("alertname", alert.rule)
    labels.setdefault("severity", alert.severity)
    return labels


def postable_alert(alert: AlertInfo, status: str, origin: Origin, channel: AlertmanagerChannel
                   ) -> dict[str, Any]:
    """One ``PostableAlert``: ``endsAt`` only once resolved (firing: Alertmanager's timeout)."""
    body: dict[str, Any] = {
        "labels": alert_labels(alert, origin, channel),
        "annotations": alert_annotations(alert),
        "startsAt": iso_time(starts_at(alert)),
    }
    generator_url = channel.external_url or origin.generator_url
    if generator_url:
        body["generatorURL"] = generator_url
    if status == "resolved":
        body["endsAt"] = iso_time(alert.resolved_at)
    return body


def postable_silence(silence: SilenceInfo, origin: Origin) -> dict[str, Any]:
    """The obsview silence as an Alertmanager one, for this agent's alerts only."""
    matchers = {label_name(k): v for k, v in silence.matchers.items()} | {"instance": origin.instance}
    return {
        "matchers": [
            {"name": name, "value": value, "isRegex": False, "isEqual": True}
            for name, value in matchers.items()
        ],
        "startsAt": iso_time(silence.starts_at),
        "endsAt": iso_time(silence.ends_at),
        "createdBy": silence.by or "obsview",
        "comment": silence.reason or f"silenced in obsview ({silence.id})",
    }


async def post_alert(channel: AlertmanagerChannel, alert: AlertInfo, status: str, origin: Origin,
                     client: httpx.AsyncClient) -> None:
    body = [postable_alert(alert, status, origin, channel)]
    await post_json(client, f"{channel.url}/api/v2/alerts", body, channel.timeout_s)


async def post_silence(channel: AlertmanagerChannel, silence: SilenceInfo, origin: Origin,
                       client: httpx.AsyncClient) -> str:
    """Create the mirror silence; returns Alertmanager's ID for it."""
    response = await post_json(client, f"{channel.url}/api/v2/silences",
                               postable_silence(silence, origin), channel.timeout_s)
    silence_id = _json_field(response, "silenceID")
    if not silence_id:
        raise DeliveryError("Alertmanager answered without a silenceID", permanent=True)
    return silence_id


async def expire_silence(channel: AlertmanagerChannel, silence_id: str, client: httpx.AsyncClient) -> None:
    response = await client.delete(f"{channel.url}/api/v2/silence/{silence_id}", timeout=channel.timeout_s)
    # 404: already expired or gone (an Alertmanager restart without storage): nothing to undo.
    if response.status_code != 404 and not 200 <= response.status_code < 300:
        raise DeliveryError(f"HTTP {response.status_code}", permanent=400 <= response.status_code < 500)


def _json_field(response: httpx.Response, key: str) -> str:
    try:
        data = response.json()
    except ValueError:
        return ""
    value = data.get(key) if isinstance(data, Mapping) else None
    return value if isinstance(value, str) else ""
