"""The injection corpus (tests/tui/injection_corpus.py) through the whole console and through
notifications.

The console engineers test each widget alone; here one headless ``ObsviewApp`` gets every
hostile string at once — in events, alerts, health, metrics, the agent's hello and an error —
and the screen is read back after the dashboard, the detail view and the trace view: nothing
crashes and no control character reaches the terminal. Notifications go to real local HTTP
receivers: every body is valid JSON, Slack text has ``&``, ``<`` and ``>`` escaped.
"""

from __future__ import annotations

import asyncio
import re
import time

import msgspec
import pytest
from app_test_support import screen_text
from injection_corpus import FORBIDDEN_CHARS, INJECTION_CORPUS
from proof_kit import Receiver, wait_until

from obsview.backend.delivery.notify import Notifier, parse_notifiers
from obsview.backend.signals.alerts import Transition
from obsview.common.protocol import (
    AlertInfo,
    Alerts,
    Error,
    Events,
    Health,
    HealthReport,
    Hello,
    LogEvent,
    Metrics,
    MetricsPoint,
    MetricsSnapshot,
    ProbeStatus,
    RouteStats,
)
from obsview.tui.app import ObsviewApp

NOW = 1_795_618_800.0
HOSTILE = [text for _name, text in INJECTION_CORPUS]
# Short ones go where a value is a name (rules, probes, routes); all go into free-text fields.
SHORT = [text[:300] for text in HOSTILE]
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


def hostile_events() -> list[LogEvent]:
    events = []
    for i, text in enumerate(HOSTILE):
        events.append(LogEvent(
            ts=NOW - 60 + i, level=("ERROR", "WARN", "INFO", "DEBUG", "TRACE")[i % 5], message=text,
            seq=i + 1, service=SHORT[i], host=SHORT[i], trace_id=TRACE, request_id=SHORT[i],
            method="GET", route=SHORT[i], path=SHORT[i], status=500, duration_ms=12.0,
            ip=SHORT[i], user_agent=text, user_id=SHORT[i], error_type=SHORT[i],
            error_message=text, stack=text, source=SHORT[i], raw=text,
            extra={SHORT[i]: text, "nested": {"k": SHORT[i]}},
        ))
    return events


def hostile_alert(i: int, text: str) -> AlertInfo:
    return AlertInfo(
        fingerprint=f"fp{i}", rule=text[:120], severity="critical", state="firing", metric="error_rate",
        comparison=">", threshold=0.05, value=0.5, summary=text, labels={"alertname": text[:120], "probe": text[:80]},
        started_at=NOW - 120, fired_at=NOW - 60,
    )


def hostile_messages() -> list[object]:
    snapshot = MetricsSnapshot(
        ts=NOW, uptime_s=100.0, requests_total=10, errors_total=5, rate_1m=1.0, rate_5m=1.0,
        rate_15m=1.0, error_rate_1m=0.5, error_rate_5m=0.5, error_rate_15m=0.5, latency_avg_ms=10.0,
        latency_min_ms=1.0, latency_max_ms=20.0, p50_ms=10.0, p95_ms=15.0, p99_ms=19.0,
        cache_hit_rate=None, cpu_percent=1.0, memory_percent=1.0, disk_percent=1.0, load_1m=0.1,
        routes=tuple(RouteStats(route=text, method=text[:10], requests=1, errors=1, rate=1.0,
                                p50_ms=1.0, p95_ms=1.0, p99_ms=1.0) for text in SHORT),
        status_counts={text[:40]: 1 for text in SHORT},
        agent={text[:40]: 1 for text in SHORT},
    )
    history = tuple(MetricsPoint(ts=NOW - 60 + i, rate=1.0, error_rate=0.5, p50_ms=1.0, p95_ms=2.0, p99_ms=3.0)
                    for i in range(60))
    probes = tuple(
        ProbeStatus(name=text, kind="http", target=text, status="unhealthy", latency_ms=None,
                    error=text, checked_at=NOW, changed_at=NOW - 10)
        for text in SHORT
    )
    return [
        Hello(agent_version=SHORT[3], host=SHORT[7], service=SHORT[8], seq=len(HOSTILE), started_at=NOW - 100),
        Metrics(snapshot=snapshot, history=history),
        Health(HealthReport(status="unhealthy", ts=NOW, uptime_s=100.0, version=SHORT[0], probes=probes)),
        Alerts(alerts=tuple(hostile_alert(i, text) for i, text in enumerate(HOSTILE))),
        Events(tuple(hostile_events())),
        Error(code=SHORT[1], message=HOSTILE[7]),
    ]


def assert_clean_screen(app: ObsviewApp, where: str) -> str:
    text = screen_text(app)
    leaked = sorted({f"U+{ord(c):04X}" for c in text if c in FORBIDDEN_CHARS and c != "\n"})
    assert not leaked, f"{where}: control characters reached the screen: {leaked}"
    return text


@pytest.mark.timeout(60)
async def test_whole_console_shows_the_corpus_without_crashing_or_leaking_controls() -> None:
    app = ObsviewApp(messages=hostile_messages(), clock=lambda: NOW)
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        await wait_until(lambda: app.dashboard.buffer.total == len(HOSTILE), what="events applied")
        await pilot.pause()
        dashboard = assert_clean_screen(app, "dashboard")
        assert "[bold]not bold[/bold]" in dashboard or "not bold" in dashboard
        for row in range(0, len(HOSTILE), 10):  # walk the log, opening details on the way
            await pilot.press("enter")
            await pilot.pause()
            assert type(app.screen).__name__ == "EventDetailScreen", f"no detail view at row {row}"
            assert_clean_screen(app, f"detail {row}")
            await pilot.press("escape")
            await pilot.press(*["up"] * 10)
        await pilot.press("T")
        await pilot.pause()
        assert type(app.screen).__name__ == "TraceScreen"
        assert_clean_screen(app, "trace")
        await pilot.press("escape")
        await pilot.press("question_mark")
        await pilot.pause()
        assert_clean_screen(app, "help")
        assert app.is_running, "a hostile string must not run an action such as app.quit"


def transition(alert: AlertInfo, current: str) -> Transition:
    if current == "resolved":
        alert = msgspec.structs.replace(alert, state="resolved", resolved_at=NOW)
    return Transition(alert=alert, previous="firing" if current == "resolved" else "pending",
                      current=current, at=time.time())


# Text that cannot be encoded as UTF-8 at all (lone surrogates): tested on its own below.
UNENCODABLE = {"lone-surrogates", "invalid-utf8-surrogateescape"}
ENCODABLE = [text for name, text in INJECTION_CORPUS if name not in UNENCODABLE]


async def notify_all(texts: list[str]) -> tuple[Notifier, Receiver, Receiver, list[AlertInfo]]:
    """Send one firing notification per text to a real webhook and a real Slack receiver."""
    async with Receiver() as webhook, Receiver() as slack:
        channels = parse_notifiers({"webhook": [{"url": webhook.url, "timeout": 2}],
                                    "slack": [{"url": slack.url, "timeout": 2}]})
        notifier = Notifier(channels, backoff_base_s=0.05, backoff_cap_s=0.1, max_attempts=3)
        runner = asyncio.create_task(notifier.run())
        try:
            alerts = [hostile_alert(i, text) for i, text in enumerate(texts)]
            notifier.submit([transition(alert, "firing") for alert in alerts])
            await wait_until(
                lambda: runner.done()
                or notifier.counters["sent"] + notifier.counters["gave_up"] >= 2 * len(alerts),
                timeout=10, what="every notification",
            )
        finally:
            runner.cancel()
            await asyncio.gather(runner, return_exceptions=True)
    return notifier, webhook, slack, alerts


@pytest.mark.timeout(30)
async def test_notifications_carry_the_corpus_as_valid_escaped_json() -> None:
    notifier, webhook, slack, alerts = await notify_all(ENCODABLE)
    assert notifier.counters["gave_up"] == 0 and notifier.counters["failed_attempts"] == 0
    assert len(webhook.accepted()) == len(slack.accepted()) == len(alerts)
    for delivery in webhook.deliveries + slack.deliveries:
        assert delivery.body is not None, f"not valid JSON: {delivery.raw[:200]!r}"
    for body, alert in zip(webhook.accepted(), alerts):
        (sent,) = body["alerts"]
        assert sent["labels"] == alert.labels  # JSON escaping round-trips every character
        assert sent["fingerprint"] == alert.fingerprint
    for body in slack.accepted():
        text = body["text"]
        assert "<" not in text and ">" not in text, "Slack would read <...> as a link or mention"
        assert re.sub(r"&(amp|lt|gt);", "", text).count("&") == 0, "a bare & in Slack text"
        assert body.get("mrkdwn") is False


@pytest.mark.timeout(30)
async def test_unencodable_alert_text_does_not_stop_notifications() -> None:
    texts = [text for name, text in INJECTION_CORPUS if name in UNENCODABLE] + ["plain summary after"]
    _notifier, webhook, _slack, _alerts = await notify_all(texts)
    # Whatever happens to the unencodable ones, the notification after them is delivered.
    assert any(body["alerts"][0]["annotations"]["summary"] == "plain summary after" for body in webhook.accepted())
