from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from msgspec.structs import replace
from polling import wait_until

from obsview.backend.delivery.channels import EmailChannel, SlackChannel, WebhookChannel, mask_url
from obsview.backend.delivery.notify import Notifier, parse_notifiers
from obsview.backend.errors import ConfigError
from obsview.backend.signals.alerts import Transition
from obsview.common.protocol import AckInfo, AlertInfo

FIRING = AlertInfo(
    fingerprint="abc123", rule="high_error_rate", severity="critical", state="firing", metric="error_rate",
    comparison=">", threshold=0.05, value=0.2, summary="Error rate 20.0% is above 5.0% <@U123> & <!here>",
    labels={"alertname": "high_error_rate", "severity": "critical"}, started_at=1000.0, fired_at=1060.0,
)
RESOLVED = replace(FIRING, state="resolved", resolved_at=1200.0)


def fired(alert: AlertInfo = FIRING) -> list[Transition]:
    return [Transition(alert, "pending", "firing", 0.0)]


def resolved(alert: AlertInfo = RESOLVED) -> list[Transition]:
    return [Transition(alert, "firing", "resolved", 0.0)]


def start(notifier: Notifier) -> asyncio.Task[None]:
    return asyncio.create_task(notifier.run())


async def stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_webhook_gets_alertmanager_v4_firing_then_resolved(receiver: Any) -> None:
    channel = WebhookChannel("ops", receiver.url, external_url="http://obsview.local/")
    notifier = Notifier([channel], backoff_base_s=0.01)
    task = start(notifier)
    try:
        notifier.submit(fired())
        notifier.submit(resolved())
        await receiver.wait_for(2)
        # The receiver records a body before it answers: "sent" counts once the answer is in.
        await wait_until(lambda: notifier.counters["sent"] == 2, what="two sends counted")
    finally:
        await stop(task)
    firing, done = receiver.bodies
    assert firing["version"] == "4" and firing["status"] == "firing" and firing["receiver"] == "ops"
    assert firing["groupLabels"] == {"alertname": "high_error_rate"}
    assert firing["commonLabels"] == FIRING.labels and firing["externalURL"] == "http://obsview.local/"
    assert firing["commonAnnotations"]["summary"].startswith("Error rate 20.0%")
    (alert,) = firing["alerts"]
    assert alert["fingerprint"] == "abc123" and alert["startsAt"] == "1970-01-01T00:17:40.000Z"
    assert alert["endsAt"] == "0001-01-01T00:00:00Z" and alert["status"] == "firing"
    assert done["status"] == "resolved" and done["alerts"][0]["endsAt"] == "1970-01-01T00:20:00.000Z"


async def test_a_receiver_that_is_down_then_recovers_gets_exactly_one_of_each(
    receiver: Any, caplog: pytest.LogCaptureFixture
) -> None:
    await receiver.stop()  # connection refused for now
    notifier = Notifier([WebhookChannel("ops", receiver.url)], backoff_base_s=0.02, backoff_cap_s=0.1)
    task = start(notifier)
    try:
        with caplog.at_level(logging.DEBUG):
            notifier.submit(fired())
            notifier.submit(resolved())
            async with asyncio.timeout(5):
                while notifier.counters["failed_attempts"] < 3:
                    await asyncio.sleep(0.01)
        receiver.failures = 2  # back, but answering 500 twice first
        await receiver.start()
        with caplog.at_level(logging.DEBUG):
            await receiver.wait_for(2)
        await asyncio.sleep(0.2)  # nothing more arrives
    finally:
        await stop(task)
    assert [b["status"] for b in receiver.bodies] == ["firing", "resolved"]
    assert notifier.counters["sent"] == 2 and notifier.counters["gave_up"] == 0
    # httpx logs each request at INFO: its URL is masked too.
    assert "HTTP Request: POST http://127.0.0.1" in caplog.text
    assert "s3cr3t" not in caplog.text and "retry in" in caplog.text


async def test_a_receiver_refusing_the_message_itself_is_not_asked_again(
    receiver: Any, caplog: pytest.LogCaptureFixture
) -> None:
    receiver.failures, receiver.failure_status = 1, b"400 Bad Request"
    notifier = Notifier([WebhookChannel("ops", receiver.url)], backoff_base_s=0.01)
    task = start(notifier)
    try:
        notifier.submit(fired())
        notifier.submit(fired(replace(FIRING, fingerprint="next")))
        await receiver.wait_for(1)
    finally:
        await stop(task)
    # The 400 was final (a retry sends the same body); the next alert went through.
    assert receiver.requests == 2 and [b["alerts"][0]["fingerprint"] for b in receiver.bodies] == ["next"]
    assert notifier.counters["gave_up"] == 1 and notifier.counters["failed_attempts"] == 1
    assert "giving up on firing notification for high_error_rate" in caplog.text and "HTTP 400" in caplog.text


async def test_silenced_alert_sends_neither_firing_nor_resolved(receiver: Any) -> None:
    notifier = Notifier([WebhookChannel("ops", receiver.url)])
    task = start(notifier)
    try:
        notifier.submit(fired(replace(FIRING, silenced_by="s1")))
        notifier.submit(resolved(replace(RESOLVED, silenced_by="s1")))
        notifier.submit(fired(replace(FIRING, fingerprint="other")))
        await receiver.wait_for(1)
        await asyncio.sleep(0.1)
    finally:
        await stop(task)
    assert [b["alerts"][0]["fingerprint"] for b in receiver.bodies] == ["other"]
    assert notifier.counters["suppressed"] == 1


def test_repeats_only_for_unacknowledged_unsilenced_firing_alerts(clock: Any) -> None:
    current = [FIRING]
    notifier = Notifier([WebhookChannel("ops", "http://127.0.0.1:1/")], clock=clock,
                        repeat_interval_s=60, current_alerts=lambda: current)
    notifier.submit(fired())
    assert notifier.pending == 1
    clock.advance(59)
    notifier.scan_repeats()
    assert notifier.pending == 1
    clock.advance(1)
    notifier.scan_repeats()
    assert notifier.pending == 2 and notifier.counters["repeats"] == 1
    current = [replace(FIRING, ack=AckInfo("alice", 0.0))]
    clock.advance(600)
    notifier.scan_repeats()
    current = [replace(FIRING, silenced_by="s1")]
    notifier.scan_repeats()
    assert notifier.pending == 2
    current = []  # resolved or gone: no more repeats, ever
    notifier.scan_repeats()
    current = [FIRING]
    clock.advance(600)
    notifier.scan_repeats()
    assert notifier.pending == 2


def test_a_silence_ending_while_firing_sends_the_firing_then(clock: Any) -> None:
    current = [replace(FIRING, silenced_by="s1")]
    notifier = Notifier([WebhookChannel("ops", "http://127.0.0.1:1/")], clock=clock, current_alerts=lambda: current)
    notifier.submit(fired(current[0]))
    notifier.scan_repeats()
    assert notifier.pending == 0
    current = [FIRING]
    notifier.scan_repeats()
    assert notifier.pending == 1
    notifier.submit(resolved())
    assert notifier.pending == 2


def test_outbox_is_bounded_and_drops_are_counted() -> None:
    notifier = Notifier([WebhookChannel("ops", "http://127.0.0.1:1/")], outbox_limit=2)
    for i in range(5):
        notifier.submit(fired(replace(FIRING, fingerprint=str(i))))
    assert notifier.pending == 2 and notifier.counters["dropped"] == 3


async def test_slack_text_is_plain_and_escaped(receiver: Any) -> None:
    notifier = Notifier([SlackChannel("chat", receiver.url)])
    task = start(notifier)
    try:
        notifier.submit(fired())
        await receiver.wait_for(1)
    finally:
        await stop(task)
    (body,) = receiver.bodies
    assert body["mrkdwn"] is False
    assert "&lt;@U123&gt; &amp; &lt;!here&gt;" in body["text"] and "<" not in body["text"]
    assert body["text"].startswith("[FIRING] high_error_rate (critical): ")


class SmtpServer:
    """Just enough SMTP (no TLS, no auth) on loopback to receive one message per session."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], str]] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 localhost ESMTP test\r\n")
        sender, recipients = "", []
        try:
            while line := await reader.readline():
                verb = line[:4].upper()
                if verb in (b"EHLO", b"HELO"):
                    writer.write(b"250-localhost\r\n250 8BITMIME\r\n")
                elif verb == b"MAIL":
                    sender = line.decode().split("<", 1)[1].split(">", 1)[0]
                    writer.write(b"250 OK\r\n")
                elif verb == b"RCPT":
                    recipients.append(line.decode().split("<", 1)[1].split(">", 1)[0])
                    writer.write(b"250 OK\r\n")
                elif verb == b"DATA":
                    writer.write(b"354 go on\r\n")
                    await writer.drain()
                    data = await reader.readuntil(b"\r\n.\r\n")
                    self.messages.append((sender, recipients, data.decode()))
                    writer.write(b"250 queued\r\n")
                elif verb == b"QUIT":
                    writer.write(b"221 bye\r\n")
                    await writer.drain()
                    break
                else:
                    writer.write(b"250 OK\r\n")
                await writer.drain()
        finally:
            writer.close()


async def test_email_through_a_real_smtp_server() -> None:
    smtp = SmtpServer()
    server = await asyncio.start_server(smtp.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    channel = EmailChannel("mail", "127.0.0.1", "obsview@example.com", ("ops@example.com",), port=port)
    notifier = Notifier([channel])
    task = start(notifier)
    try:
        notifier.submit(fired())
        async with asyncio.timeout(5):
            while not smtp.messages:
                await asyncio.sleep(0.01)
    finally:
        await stop(task)
        server.close()
        await server.wait_closed()
    ((sender, recipients, data),) = smtp.messages
    assert sender == "obsview@example.com" and recipients == ["ops@example.com"]
    assert "Subject: [FIRING] high_error_rate (critical)" in data and "fingerprint: abc123" in data


def test_parse_notifiers_reads_every_kind(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMTP_PASSWORD", "pw")
    webhook, slack, email = parse_notifiers({
        "external_url": "http://obsview.example/", "repeat_interval": "4h",
        "webhook": [{"name": "ops", "url": "https://hooks.example/x", "timeout": "5s", "repeat_interval": "2h"}],
        "slack": [{"url": "https://hooks.slack.com/services/T0/B0/SECRET"}],
        "email": [{"host": "smtp.example", "port": 465, "tls": True, "from": "a@example.com",
                   "to": ["b@example.com"], "username": "a", "password_env": "SMTP_PASSWORD"}],
    })
    assert webhook == WebhookChannel("ops", "https://hooks.example/x", 5.0, "http://obsview.example/", 7200.0)
    assert slack.name == "slack-0" and "SECRET" not in repr(slack) and slack.repeat_interval_s == 14400.0
    assert isinstance(email, EmailChannel) and email.password == "pw" and "pw" not in repr(email)
    assert mask_url(slack.url) == "https://hooks.slack.com/…"


@pytest.mark.parametrize(("raw", "message"), [
    ({"pager": []}, r"notify.pager: unknown key \(known keys: alertmanager, email, external_url, repeat_interval,"
                    r" slack, webhook\)$"),
    ({"repeat_interval": "often"}, "notify.repeat_interval"),
    ({"webhook": [{"url": "ftp://x"}]}, r"notify.webhook\[0\].url"),
    ({"webhook": [{"url": "http://x", "retries": 3}]},
     r"notify.webhook\[0\].retries: unknown key \(known keys: name, repeat_interval, timeout, url\)$"),
    ({"webhook": [{"url": "http://x", "timeout": 0}]}, r"notify.webhook\[0\].timeout: must be positive$"),
    ({"email": [{"host": "h", "from": "a", "to": "c@d"}]}, r"notify.email\[0\].from: expected `str` matching regex '@', got 'a'$"),
    ({"email": [{"host": "h", "from": "a@b", "to": ["c@d", "e"]}]}, r"notify.email\[0\].to\[1\]: expected `str` matching"),
    ({"email": [{"host": "h", "from": "a@b"}]}, r"notify.email\[0\].to: required$"),
    ({"slack": [{"url": "http://x", "timeout": "never"}]}, r"notify.slack\[0\].timeout"),
    ({"email": [{"host": "h", "from": "a@b", "to": []}]}, r"notify.email\[0\].to"),
    ({"email": [{"host": "h", "from": "a@b", "to": "c@d", "password_env": "OBSVIEW_UNSET_VAR"}]},
     r"notify.email\[0\].password_env"),
    ({"webhook": [{"url": "http://x"}, {"url": "http://y", "name": "webhook-0"}]},
     r"notify.webhook\[1\].name: 'webhook-0' is already the name of notify.webhook\[0\] \(give each a name = \.\.\.\)$"),
])
def test_parse_notifiers_errors_name_the_key(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_notifiers(raw)


@pytest.mark.parametrize("table", [
    {"url": "hooks.slack.com/services/T0/B0/SEKRET"},
    {"host": "h", "from": "a@b", "to": "c@d", "password": 12345678},
])
def test_a_config_error_does_not_repeat_a_secret(table: dict[str, Any]) -> None:
    kind = "slack" if "url" in table else "email"
    with pytest.raises(ConfigError, match=r"\.(url|password): expected") as raised:
        parse_notifiers({kind: [table]})
    assert "SEKRET" not in str(raised.value) and "12345678" not in str(raised.value)
