"""The detail view (issue 13, item 10): a human time, only the fields an event has, the raw
line once; ``c`` copies the raw line and ``C`` the whole event as JSON."""

from __future__ import annotations

import time
from collections.abc import Iterator

import orjson
import pytest
from app_test_support import screen_text
from injection_corpus import FORBIDDEN_CHARS

from obsview.common.protocol import Events, Hello, LogEvent
from obsview.tui.app import ObsviewApp
from obsview.tui.screens.dashboard import DashboardScreen
from obsview.tui.screens.detail import EventDetailScreen
from obsview.tui.screenshots import SAMPLE_NOW, sample_clock

# 2026-11-25 15:00:00.250 UTC; 18:00:00.250 at UTC+3.
TS = SAMPLE_NOW + 0.25
RAW = '{"level":"error","msg":"db down","path":"/api/posts"}'
HOSTILE_RAW = 'x [/bold] [@click=app.quit] \x1b[2J\x1b]0;owned\x07 y'


@pytest.fixture
def utc_plus_3(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The machine's zone at UTC+3 (POSIX TZ: no zone database needed), so local and UTC
    times differ on screen."""
    monkeypatch.setenv("TZ", "OBS-3")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def one_event_app(event: LogEvent) -> ObsviewApp:
    messages: list[object] = [Hello(agent_version="1", host="h", service="s", seq=1, started_at=0.0),
                              Events((event,))]
    return ObsviewApp(messages=messages, clock=sample_clock)


def access_event(raw: str = RAW) -> LogEvent:
    return LogEvent(ts=TS, level="ERROR", message="db down", seq=7, service="blog-api",
                    method="GET", route="/api/posts", path="/api/posts", status=500,
                    duration_ms=0.0, raw=raw)


@pytest.mark.usefixtures("utc_plus_3")
async def test_detail_shows_local_and_utc_time_only_set_fields_and_the_raw_line_once() -> None:
    app = one_event_app(access_event())
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("enter")
        assert isinstance(app.screen, EventDetailScreen)
        text = screen_text(app)
        # Each named: which is the local time, which UTC.
        assert "local 2026-11-25T18:00:00.250+03:00 · UTC 2026-11-25T15:00:00.250Z" in text
        assert str(TS) not in text and '"ts"' not in text  # no Unix seconds
        assert text.count("db down") == 3  # title, message, raw line: the raw line only once
        assert text.count(RAW) == 1
        assert '"raw"' not in text
        for empty in ('"host"', '"trace_id"', '"span_id"', '"user_agent"', '"extra"',
                      '"truncated"', '"parse_error"', '"redacted"', '"stack"'):
            assert empty not in text, f"{empty} is empty and still shown"
        assert '"status": 500' in text and '"route": "/api/posts"' in text
        assert '"duration_ms": 0.0' in text  # a zero is a value, not an empty field


async def test_c_copies_the_raw_line_and_shift_c_the_whole_event() -> None:
    event = access_event()
    app = one_event_app(event)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("enter", "c")
        assert app.clipboard == RAW
        await pilot.press("C")
        copied = orjson.loads(app.clipboard)
        assert copied["ts"] == TS and copied["raw"] == RAW  # the full form: every field
        assert copied["host"] == "" and copied["extra"] == {} and copied["truncated"] is False
        await pilot.press("escape")
        assert isinstance(app.screen, DashboardScreen)
        app.copy_to_clipboard("")
        await pilot.press("c")  # the same keys on the selected row
        assert app.clipboard == RAW
        await pilot.press("C")
        assert orjson.loads(app.clipboard)["seq"] == 7


async def test_c_without_a_raw_line_says_so_and_copies_nothing() -> None:
    app = one_event_app(access_event(raw=""))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("enter")
        app.copy_to_clipboard("before")
        await pilot.press("c")
        assert app.clipboard == "before"
        assert "(the agent kept no raw line for this event)" in screen_text(app)


async def test_hostile_raw_line_is_shown_literally_and_copied_exactly() -> None:
    app = one_event_app(access_event(raw=HOSTILE_RAW))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("enter")
        assert isinstance(app.screen, EventDetailScreen)
        text = screen_text(app)
        assert "x [/bold] [@click=app.quit] ␛[2J␛]0;owned␇ y" in text
        assert not {c for c in text if c in FORBIDDEN_CHARS - {"\n"}}
        await pilot.click("#detail-raw")  # a click on "[@click=app.quit]" runs nothing
        await pilot.press("c")
        assert app.clipboard == HOSTILE_RAW  # OSC 52 carries it base64-encoded
        assert app.is_running


async def test_footer_and_help_name_both_copies() -> None:
    app = one_event_app(access_event())
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("enter")
        footer = screen_text(app).splitlines()[-1]
        assert "Copy raw line" in footer and "Copy JSON" in footer


def test_a_raw_line_with_lone_surrogates_is_copied_with_replacement_characters() -> None:
    from obsview.tui.widgets.event_detail import raw_for_clipboard

    assert raw_for_clipboard("a \ud800 b \udfff") == "a \ufffd b \ufffd"
    assert raw_for_clipboard("é ok") == "é ok"
