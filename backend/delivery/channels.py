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
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

from obsview.backend.durations import parse_duration
from obsview.backend.errors import ConfigError, reject_repeated_names
from obsview.backend.ingest.redact import redact_text
from obsview.backend.signals.alerts import format_value
from obsview.common.iso_time import iso_utc
from obsview.common.protocol import AlertInfo

if TYPE_CHECKING:  # loaded by the Notifier that sends (see notify.Notifier.run)
    import httpx

_ZERO_TIME: Final = "0001-01-01T00:00:00Z"
"""Alertmanager's ``endsAt`` for an alert that has not ended."""
_KINDS: Final = ("webhook", "slack", "email", "alertmanager")
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


def parse_notifiers(raw: Mapping[str, Any]) -> list[Channel]:
    """The ``[notify]`` table → channels. Raises ConfigError naming the key.

    Keys: ``external_url``, ``repeat_interval`` (default for every channel); ``[[notify.webhook]]`` (url, name, timeout, repeat_interval);
    ``[[notify.slack]]`` (url, name, timeout, repeat_interval); ``[[notify.email]]`` (host,
    port, from, to, username, password or password_env, tls, name, timeout, repeat_interval);
    ``[[notify.alertmanager]]`` (url, name, timeout, resend_interval, mirror_silences, labels).
    """
    unknown = set(raw) - {*_KINDS, "external_url", "repeat_interval"}
    if unknown:
        raise ConfigError(
            f"notify.{sorted(unknown)[0]}: unknown key (expected {', '.join(_KINDS)}, external_url, repeat_interval)",
            at=(sorted(unknown)[0],),
        )
    repeat = raw.get("repeat_interval")
    default_repeat_s = None if repeat is None else parse_duration(repeat, "notify.repeat_interval", at="repeat_interval")
    external_url = raw.get("external_url", "")
    if not isinstance(external_url, str):
        raise ConfigError("notify.external_url: expected a URL string", at=("external_url",))
    channels: list[Channel] = []
    paths: list[tuple[str | int, ...]] = []
    for kind in _KINDS:
        tables = raw.get(kind, [])
        if not isinstance(tables, list):
            raise ConfigError(f"notify.{kind}: expected [[notify.{kind}]] tables", at=(kind,))
        for index, table in enumerate(tables):
            where = f"notify.{kind}[{index}]"
            if not isinstance(table, Mapping):
                raise ConfigError(f"{where}: expected a table", at=(kind, index))
            try:
                channels.append(_parse_channel(kind, where, table, external_url, default_repeat_s))
            except ConfigError as exc:
                raise exc.within(kind, index) from None
            paths.append((kind, index))
    # A channel without a name is named after its kind and index ("webhook-0"): say so.
    reject_repeated_names([channel.name for channel in channels], "channel", at=paths,
                          hint=" (give each a name = ...)")
    return channels


_CHANNEL_KEYS: Final = {
    "webhook": {"url"},
    "slack": {"url"},
    "email": {"host", "port", "from", "to", "username", "password", "password_env", "tls"},
    "alertmanager": {"url", "resend_interval", "mirror_silences", "labels"},
}


def _parse_channel(kind: str, where: str, table: Mapping[str, Any], external_url: str,
                   default_repeat_s: float | None) -> Channel:
    unknown = set(table) - _CHANNEL_KEYS[kind] - {"name", "timeout", "repeat_interval"}
    if kind == "alertmanager" and "repeat_interval" in table:
        raise ConfigError(f"{where}.repeat_interval: Alertmanager routes repeats itself;"
                          " set resend_interval (how often a firing alert is re-sent)")
    if unknown:
        raise ConfigError(f"{where}.{sorted(unknown)[0]}: unknown key", at=(sorted(unknown)[0],))
    name = table.get("name", f"{kind}-{where.rsplit('[', 1)[1].rstrip(']')}")
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{where}.name: expected a non-empty string", at=("name",))
    timeout = parse_duration(table.get("timeout", 10.0), f"{where}.timeout", at="timeout")
    if timeout <= 0:
        raise ConfigError(f"{where}.timeout: must be positive", at=("timeout",))
    repeat = table.get("repeat_interval")
    repeat_s = default_repeat_s if repeat is None else parse_duration(repeat, f"{where}.repeat_interval",
                                                                      at="repeat_interval")
    if kind in ("webhook", "slack", "alertmanager"):
        url = table.get("url")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise ConfigError(f"{where}.url: required, an http:// or https:// URL", at=("url",))
        if kind == "alertmanager":
            return _parse_alertmanager(name, where, table, url.rstrip("/"), timeout, external_url)
        if kind == "slack":
            return SlackChannel(name, url, timeout, repeat_s)
        return WebhookChannel(name, url, timeout, external_url, repeat_s)
    host, sender, recipients = table.get("host"), table.get("from"), table.get("to")
    if not isinstance(host, str) or not host:
        raise ConfigError(f"{where}.host: required, the SMTP server", at=("host",))
    if not isinstance(sender, str) or "@" not in sender:
        raise ConfigError(f"{where}.from: required, an email address", at=("from",))
    if isinstance(recipients, str):
        recipients = [recipients]
    if not isinstance(recipients, list) or not recipients or not all(isinstance(r, str) and "@" in r for r in recipients):
        raise ConfigError(f"{where}.to: required, a list of email addresses", at=("to",))
    port, tls = table.get("port", 587), table.get("tls", False)
    if type(port) is not int or not 0 < port < 65536:
        raise ConfigError(f"{where}.port: expected 1-65535", at=("port",))
    if not isinstance(tls, bool):
        raise ConfigError(f"{where}.tls: expected true or false", at=("tls",))
    username = table.get("username", "")
    password = table.get("password", "")
    if "password_env" in table:
        variable = table["password_env"]
        if not isinstance(variable, str) or variable not in os.environ:
            raise ConfigError(f"{where}.password_env: environment variable {variable!r} is not set", at=("password_env",))
        password = os.environ[variable]
    if not isinstance(username, str) or not isinstance(password, str):
        raise ConfigError(f"{where}.username: username and password must be strings", at=("username",))
    return EmailChannel(name, host, sender, tuple(recipients), port, username, password, tls, timeout, repeat_s)


def _parse_alertmanager(name: str, where: str, table: Mapping[str, Any], url: str, timeout: float,
                        external_url: str) -> AlertmanagerChannel:
    resend = parse_duration(table.get("resend_interval", DEFAULT_RESEND_S), f"{where}.resend_interval",
                            at="resend_interval")
    if resend <= 0:
        raise ConfigError(f"{where}.resend_interval: must be positive", at=("resend_interval",))
    mirror = table.get("mirror_silences", False)
    if not isinstance(mirror, bool):
        raise ConfigError(f"{where}.mirror_silences: expected true or false", at=("mirror_silences",))
    labels = table.get("labels", {})
    if not isinstance(labels, Mapping) or not all(isinstance(v, str) for v in labels.values()):
        raise ConfigError(f"{where}.labels: expected a table of strings", at=("labels",))
    for label in labels:
        if not _LABEL_NAME.fullmatch(label):
            raise ConfigError(f"{where}.labels.{label}: not a Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*)",
                              at=("labels", label))
    return AlertmanagerChannel(name, url, timeout, resend, mirror,
                               dict(labels), external_url)


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
