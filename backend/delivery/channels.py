"""Notification channels: what each one is configured with, and how one message is sent.

- webhook: JSON shaped like Alertmanager's webhook payload (version "4"), so existing
  receivers (PagerDuty bridges, alertmanager-discord…) work unchanged;
- slack: an incoming webhook, plain text with ``&``, ``<`` and ``>`` escaped as Slack
  requires, so alert text can never turn into a mention or a link;
- email: SMTP through aiosmtplib (STARTTLS when the server offers it, or implicit TLS);
- alertmanager: a real Alertmanager's API v2, as Prometheus itself pushes alerts
  (sending is in :mod:`obsview.backend.delivery.alertmanager`).

URLs of webhooks hold secrets (Slack's does): they are only ever shown through
:func:`mask_url`, and error text is passed through ``redact_text`` before it is logged.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import TYPE_CHECKING, Annotated, Any, Final
from urllib.parse import urlsplit

import msgspec

from obsview.backend.config_tables import (
    BadValue,
    HttpUrl,
    NonEmpty,
    Port,
    Table,
    convert_section,
    reject_repeated_names,
)
from obsview.backend.durations import Seconds
from obsview.backend.ingest.redact import redact_text
from obsview.backend.signals.alerts import format_value
from obsview.common.iso_time import iso_utc
from obsview.common.protocol import AlertInfo

if TYPE_CHECKING:  # loaded by the Notifier that sends (see notify.Notifier.run)
    import httpx

_ZERO_TIME: Final = "0001-01-01T00:00:00Z"
"""Alertmanager's ``endsAt`` for an alert that has not ended."""
_LABEL_NAME: Final = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
DEFAULT_RESEND_S: Final = 60.0
"""How often a firing alert is re-sent to Alertmanager: well inside its default
``resolve_timeout`` (5 m), after which an alert not re-sent counts as resolved."""


@dataclass(frozen=True, slots=True)
class WebhookChannel:
    name: str
    url: str = field(repr=False)
    timeout_s: float = 10.0
    external_url: str = ""
    repeat_interval_s: float | None = None


@dataclass(frozen=True, slots=True)
class SlackChannel:
    name: str
    url: str = field(repr=False)
    timeout_s: float = 10.0
    repeat_interval_s: float | None = None


@dataclass(frozen=True, slots=True)
class EmailChannel:
    name: str
    host: str
    sender: str
    recipients: tuple[str, ...]
    port: int = 587
    username: str = ""
    password: str = field(default="", repr=False)
    tls: bool = False
    """Implicit TLS (port 465); otherwise STARTTLS is used when the server offers it."""
    timeout_s: float = 10.0
    repeat_interval_s: float | None = None


@dataclass(frozen=True, slots=True)
class AlertmanagerChannel:
    name: str
    url: str = field(repr=False)
    """The Alertmanager's base URL (``http://127.0.0.1:9093``); ``/api/v2/...`` is appended."""
    timeout_s: float = 10.0
    repeat_interval_s: float | None = DEFAULT_RESEND_S
    """The resend interval: unlike the other channels, re-sent while firing whatever its
    ack or silence in obsview, since Alertmanager takes an alert not re-sent as resolved."""
    mirror_silences: bool = False
    """Silences made in obsview are also created (and expired) in Alertmanager."""
    labels: Mapping[str, str] = field(default_factory=dict)
    """Static labels added to every alert (``env = "prod"``), for Alertmanager's routing."""
    external_url: str = ""


Channel = WebhookChannel | SlackChannel | EmailChannel | AlertmanagerChannel


class DeliveryError(Exception):
    """The receiver answered, but not with success (the message is safe to log)."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent
        """Retrying cannot help (the receiver refused this very body: HTTP 4xx)."""


# --------------------------------------------------------------------------- config


EmailAddress = Annotated[str, msgspec.Meta(pattern="@")]


class _ChannelTable(Table):
    """A ``[[notify.KIND]]`` table: what every kind has. Without a name, a channel is named
    after its kind and index (``webhook-0``)."""

    name: NonEmpty | None = None
    timeout: Seconds = Seconds(10.0)

    def __post_init__(self) -> None:
        if self.timeout <= 0:
            raise BadValue("timeout", "must be positive")


class _PersonChannelTable(_ChannelTable):
    """A channel people read: re-notified every ``repeat_interval`` while an alert fires
    unacked (default: ``[notify]``'s, else never)."""

    repeat_interval: Seconds | None = None


class WebhookTable(_PersonChannelTable, kw_only=True):
    url: HttpUrl

    def channel(self, name: str, notify: NotifyTable) -> WebhookChannel:
        return WebhookChannel(name, self.url, float(self.timeout), notify.external_url,
                              notify.repeat_s(self.repeat_interval))


class SlackTable(_PersonChannelTable, kw_only=True):
    url: HttpUrl

    def channel(self, name: str, notify: NotifyTable) -> SlackChannel:
        return SlackChannel(name, self.url, float(self.timeout), notify.repeat_s(self.repeat_interval))


class EmailTable(_PersonChannelTable, kw_only=True):
    host: NonEmpty
    sender: EmailAddress = msgspec.field(name="from")
    to: EmailAddress | Annotated[list[EmailAddress], msgspec.Meta(min_length=1)]
    port: Port = 587
    username: str = ""
    password: str = ""
    password_env: str | None = None
    """The environment variable that holds the password (instead of ``password``)."""
    tls: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.password_env is not None and self.password_env not in os.environ:
            raise BadValue("password_env", f"environment variable {self.password_env!r} is not set")

    def channel(self, name: str, notify: NotifyTable) -> EmailChannel:
        password = self.password if self.password_env is None else os.environ[self.password_env]
        recipients = (self.to,) if isinstance(self.to, str) else tuple(self.to)
        return EmailChannel(name, self.host, self.sender, recipients, self.port, self.username, password,
                            self.tls, float(self.timeout), notify.repeat_s(self.repeat_interval))


class AlertmanagerTable(_ChannelTable, kw_only=True):
    url: HttpUrl
    resend_interval: Seconds = Seconds(DEFAULT_RESEND_S)
    mirror_silences: bool = False
    labels: dict[str, str] = {}
    repeat_interval: Seconds | None = None
    """Refused, with what to set instead (a person's repeat is not Alertmanager's resend)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.repeat_interval is not None:
            raise BadValue("repeat_interval", "Alertmanager routes repeats itself;"
                           " set resend_interval (how often a firing alert is re-sent)")
        if self.resend_interval <= 0:
            raise BadValue("resend_interval", "must be positive")
        for label in self.labels:
            if not _LABEL_NAME.fullmatch(label):
                raise BadValue(("labels", label), "not a Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*)")

    def channel(self, name: str, notify: NotifyTable) -> AlertmanagerChannel:
        return AlertmanagerChannel(name, self.url.rstrip("/"), float(self.timeout), float(self.resend_interval),
                                   self.mirror_silences, dict(self.labels), notify.external_url)


ChannelTable = WebhookTable | SlackTable | EmailTable | AlertmanagerTable


class NotifyTable(Table):
    """The ``[notify]`` table: defaults for every channel, and the channels kind by kind."""

    external_url: str = ""
    repeat_interval: Seconds | None = None
    webhook: list[WebhookTable] = []
    slack: list[SlackTable] = []
    email: list[EmailTable] = []
    alertmanager: list[AlertmanagerTable] = []

    def repeat_s(self, own: Seconds | None) -> float | None:
        """A channel's repeat interval: its own, else this table's, else none."""
        chosen = self.repeat_interval if own is None else own
        return None if chosen is None else float(chosen)

    def channels(self) -> list[Channel]:
        kinds: tuple[tuple[str, Sequence[ChannelTable]], ...] = (
            ("webhook", self.webhook), ("slack", self.slack), ("email", self.email),
            ("alertmanager", self.alertmanager),
        )
        channels: list[Channel] = []
        paths: list[tuple[str | int, ...]] = []
        for kind, tables in kinds:
            for index, table in enumerate(tables):
                channels.append(table.channel(table.name or f"{kind}-{index}", self))
                paths.append((kind, index))
        reject_repeated_names([channel.name for channel in channels], ("notify",), at=paths,
                              hint=" (give each a name = ...)")
        return channels


def parse_notifiers(raw: object) -> list[Channel]:
    """The ``[notify]`` table → channels. Raises ConfigError naming the key path.

    Keys: ``external_url``, ``repeat_interval`` (default for every channel); ``[[notify.webhook]]`` (url, name, timeout, repeat_interval);
    ``[[notify.slack]]`` (url, name, timeout, repeat_interval); ``[[notify.email]]`` (host,
    port, from, to, username, password or password_env, tls, name, timeout, repeat_interval);
    ``[[notify.alertmanager]]`` (url, name, timeout, resend_interval, mirror_silences, labels).
    """
    return convert_section(raw, NotifyTable, ("notify",)).channels()


# --------------------------------------------------------------------------- rendering


def mask_url(url: str) -> str:
    """``https://hooks.slack.com/services/T0/B0/secret`` → ``https://hooks.slack.com/…``."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}/…"


class MaskUrlsInHttpxLogs(logging.Filter):
    """httpx logs every request URL at INFO: a Slack webhook URL *is* its secret."""

    def filter(self, record: logging.LogRecord) -> bool:
        import httpx  # loaded already: only httpx's own records reach this filter

        if isinstance(record.args, tuple):
            record.args = tuple(mask_url(str(a)) if isinstance(a, httpx.URL) else a for a in record.args)
        return True


def mask_httpx_logs() -> None:
    """Install :class:`MaskUrlsInHttpxLogs` on httpx's logger (once)."""
    logger = logging.getLogger("httpx")
    if not any(isinstance(f, MaskUrlsInHttpxLogs) for f in logger.filters):
        logger.addFilter(MaskUrlsInHttpxLogs())


def describe(channel: Channel) -> str:
    """How a channel appears in logs: its kind, name and where it goes, never a secret."""
    if isinstance(channel, EmailChannel):
        return f"email {channel.name!r} ({channel.host}:{channel.port})"
    kind = {SlackChannel: "slack", AlertmanagerChannel: "alertmanager"}.get(type(channel), "webhook")
    return f"{kind} {channel.name!r} ({mask_url(channel.url)})"


def safe_reason(channel: Channel, exc: BaseException) -> str:
    """Why a send failed, with the channel's URL and credentials taken out."""
    text = str(exc) or type(exc).__name__
    if not isinstance(channel, EmailChannel):
        text = text.replace(channel.url, mask_url(channel.url))
    elif channel.password:
        text = text.replace(channel.password, "«redacted»")
    return redact_text(text)


def iso_time(ts: float | None) -> str:
    if ts is None:
        return _ZERO_TIME
    return iso_utc(ts)


def starts_at(alert: AlertInfo) -> float:
    """When the alert began, for receivers: when it fired (its pending time did not page)."""
    return alert.fired_at if alert.fired_at is not None else alert.started_at


def alert_annotations(alert: AlertInfo) -> dict[str, str]:
    """Summary, values and threshold, each value named for what it is: ``value`` the metric
    as the notification is sent (at the resolve, once resolved), ``value_when_fired``,
    ``peak`` (the worst meanwhile) and, once resolved, ``value_at_resolve``."""
    annotations = {"summary": redact_text(alert.summary)}
    if alert.value is not None:
        annotations["value"] = f"{alert.value:g}"
    annotations["threshold"] = f"{alert.comparison} {alert.threshold:g}"
    if alert.fired_value is not None:
        annotations["value_when_fired"] = f"{alert.fired_value:g}"
    if alert.peak is not None:
        annotations["peak"] = f"{alert.peak:g}"
    if alert.state == "resolved":
        annotations["value_at_resolve"] = ("n/a" if alert.resolved_value is None
                                           else f"{alert.resolved_value:g}")
    return annotations


def alert_figures(alert: AlertInfo) -> str:
    """The values for a person, each named: ``now 29.0%, peak 31.0%, fired at 10.2%``
    (firing), ``peak 31.0%, at resolve 2.0%`` (resolved)."""
    figures = []
    if alert.state != "resolved":
        figures.append(f"now {format_value(alert.metric, alert.value)}")
    if alert.peak is not None:
        figures.append(f"peak {format_value(alert.metric, alert.peak)}")
    if alert.state != "resolved" and alert.fired_value is not None:
        figures.append(f"fired at {format_value(alert.metric, alert.fired_value)}")
    if alert.state == "resolved":
        figures.append(f"at resolve {format_value(alert.metric, alert.resolved_value)}")
    return ", ".join(figures)


def alertmanager_payload(alert: AlertInfo, status: str, receiver: str, external_url: str = "") -> dict[str, Any]:
    """Alertmanager webhook v4 body for one alert (one group per alert)."""
    labels = dict(alert.labels)
    annotations = alert_annotations(alert)
    group = {"alertname": alert.rule}
    return {
        "version": "4",
        "groupKey": f"{{}}:{{alertname={_quote(alert.rule)}}}",
        "truncatedAlerts": 0,
        "status": status,
        "receiver": receiver,
        "groupLabels": group,
        "commonLabels": labels,
        "commonAnnotations": annotations,
        "externalURL": external_url,
        "alerts": [{
            "status": status,
            "labels": labels,
            "annotations": annotations,
            "startsAt": iso_time(starts_at(alert)),
            "endsAt": iso_time(alert.resolved_at) if status == "resolved" else _ZERO_TIME,
            "generatorURL": external_url,
            "fingerprint": alert.fingerprint,
        }],
    }


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def slack_escape(text: str) -> str:
    """Slack's three control characters, escaped as its docs require (no mentions, no links)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def headline(alert: AlertInfo, status: str) -> str:
    """``[FIRING] high_error_rate (critical): Error rate 10.2% is above 5.0% (now 29.0%,
    peak 31.0%, fired at 10.2%)`` — one line; the summary quotes the value it fired with."""
    text = f"[{status.upper()}] {alert.rule} ({alert.severity}): {redact_text(alert.summary)}"
    figures = alert_figures(alert)
    if figures:
        text += f" ({figures})"
    return " ".join(text.split())  # no newlines: this also becomes an email subject


def slack_payload(alert: AlertInfo, status: str) -> dict[str, Any]:
    lines = [headline(alert, status)]
    if alert.labels:
        lines.append(", ".join(f"{k}={v}" for k, v in sorted(alert.labels.items())))
    return {"text": slack_escape("\n".join(lines)), "mrkdwn": False}


def email_message(channel: EmailChannel, alert: AlertInfo, status: str) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = headline(alert, status)[:200]
    message["From"] = channel.sender
    message["To"] = ", ".join(channel.recipients)
    annotations = alert_annotations(alert)
    body = [headline(alert, status), ""]
    body += [f"{k}: {v}" for k, v in sorted(alert.labels.items())]
    body += [f"{k}: {v}" for k, v in annotations.items()]
    body += [f"started: {iso_time(alert.started_at)}", f"fingerprint: {alert.fingerprint}"]
    message.set_content("\n".join(body) + "\n")
    return message


# --------------------------------------------------------------------------- sending


async def send(channel: WebhookChannel | SlackChannel | EmailChannel, alert: AlertInfo, status: str,
               client: httpx.AsyncClient) -> None:
    """Deliver one notification. Raises on failure (the caller retries); the caller bounds
    the whole call with the channel's timeout."""
    if isinstance(channel, EmailChannel):
        import aiosmtplib  # loaded by the agents that send email only (see notify.Notifier.run)

        await aiosmtplib.send(
            email_message(channel, alert, status), hostname=channel.host, port=channel.port,
            username=channel.username or None, password=channel.password or None,
            use_tls=channel.tls, start_tls=None if not channel.tls else False, timeout=channel.timeout_s,
        )
        return
    if isinstance(channel, SlackChannel):
        body = slack_payload(alert, status)
    else:
        body = alertmanager_payload(alert, status, channel.name, channel.external_url)
    await post_json(client, channel.url, body, channel.timeout_s)


async def post_json(client: httpx.AsyncClient, url: str, body: object, timeout_s: float) -> httpx.Response:
    """POST ``body`` as JSON; DeliveryError unless the answer is 2xx (permanent for a 4xx
    other than 408 and 429, which say "later", not "never")."""
    # Alert text may hold lone surrogates (from a log line); "replace" keeps the body valid UTF-8.
    content = json.dumps(body, ensure_ascii=False).encode("utf-8", "replace")
    response = await client.post(url, content=content, timeout=timeout_s,
                                 headers={"Content-Type": "application/json"})
    status = response.status_code
    if not 200 <= status < 300:
        permanent = 400 <= status < 500 and status not in (408, 429)
        # The first line of the answer says why (Alertmanager names the bad field); redacted
        # like every error text before it is logged.
        reason = redact_text(response.text.strip().splitlines()[0][:200]) if response.text.strip() else ""
        raise DeliveryError(f"HTTP {status}{': ' + reason if reason else ''}", permanent=permanent)
    return response
