"""The injection corpus through the whole console: wire messages in, nothing hostile out."""

from __future__ import annotations

import pytest
from app_test_support import screen_text
from injection_corpus import FORBIDDEN_CHARS, INJECTION_CORPUS

from obsview.common.protocol import (
    AckInfo,
    AlertInfo,
    Alerts,
    Error,
    Events,
    Health,
    HealthReport,
    Hello,
    LogEvent,
    ProbeStatus,
)
from obsview.tui.app import ObsviewApp
from obsview.tui.screens.detail import EventDetailScreen
from obsview.tui.screens.trace import TraceScreen
from obsview.tui.screenshots import SAMPLE_NOW, sample_clock


def hostile_session(text: str) -> list[object]:
    event = LogEvent(ts=SAMPLE_NOW, level="ERROR", message=text, seq=1, service=text, host=text,
                     trace_id="t-1", method=text, route=text, path=text, status=500,
                     duration_ms=1.0, user_agent=text, error_message=text, stack=text, raw=text,
                     extra={text: text})
    return [
        Hello(agent_version=text, host=text, service=text, seq=1, started_at=0.0),
        Health(HealthReport("degraded", SAMPLE_NOW, 1.0, text,
                            (ProbeStatus(text, text, text, "degraded", 1.0, text, SAMPLE_NOW,
                                         SAMPLE_NOW),))),
        Alerts((AlertInfo(text, text, "critical", "firing", text, ">", 1.0, 2.0, text,
                          labels={"route": text}, fired_at=SAMPLE_NOW,
                          ack=AckInfo(text, SAMPLE_NOW, text)),)),
        Events((event,)),
        Error(code=text, message=text),
    ]


def assert_clean(app: ObsviewApp) -> None:
    shown = screen_text(app)
    leaked = {c for c in shown if c in FORBIDDEN_CHARS - {"\n"}}
    assert not leaked, f"reached the screen: {leaked!r}"


@pytest.mark.parametrize(("name", "text"), INJECTION_CORPUS, ids=[n for n, _ in INJECTION_CORPUS])
async def test_every_screen_survives_hostile_wire_text(name: str, text: str) -> None:
    app = ObsviewApp(messages=hostile_session(text), clock=sample_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert app.dashboard.buffer.total == 1
        assert_clean(app)
        await pilot.press("enter")
        assert isinstance(app.screen, EventDetailScreen)
        assert_clean(app)
        await pilot.press("escape", "T")
        assert isinstance(app.screen, TraceScreen)
        assert_clean(app)
        await pilot.press("escape", "c", "l")  # copy, then the alert's logs (its route label)
        await pilot.pause()
        assert_clean(app)
        assert app.is_running
