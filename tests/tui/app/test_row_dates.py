"""Rows of the main log stream from another day than today show their date (as lnav does),
today's only the time; the columns stay in line."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from app_test_support import screen_lines

from obsview.common.protocol import Events, Hello, LogEvent
from obsview.tui.app import ObsviewApp
from obsview.tui.screenshots import SAMPLE_NOW, sample_clock

DAY = 86400.0


@pytest.fixture(autouse=True)
def utc_local_time(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "UTC")  # SAMPLE_NOW is 2026-11-25 15:00 UTC
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def app_with(*stamps: float) -> ObsviewApp:
    events = tuple(LogEvent(ts=ts, level="INFO", message=f"event {n}", seq=n + 1)
                   for n, ts in enumerate(stamps))
    return ObsviewApp(messages=[Hello(agent_version="1", host="h", service="s", seq=1,
                                      started_at=0.0), Events(events)], clock=sample_clock)


def log_rows(app: ObsviewApp) -> list[str]:
    return [line for line in screen_lines(app) if "event " in line]


async def test_a_row_of_yesterday_shows_its_date_and_todays_rows_stay_in_line() -> None:
    app = app_with(SAMPLE_NOW - DAY - 60, SAMPLE_NOW - 300, SAMPLE_NOW - 1)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        rows = log_rows(app)
        assert len(rows) == 3, rows
        assert "11-24 14:59:00.000 INFO" in rows[0]
        assert "      14:55:00.000 INFO" in rows[1] and "11-2" not in rows[1]
        assert "      14:59:59.000 INFO" in rows[2]
        assert len({row.index("INFO") for row in rows}) == 1  # one column for the level


async def test_only_today_shows_the_time_alone() -> None:
    app = app_with(SAMPLE_NOW - 300, SAMPLE_NOW - 1)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        rows = log_rows(app)
        assert len(rows) == 2
        assert all(row.startswith((" ", "│", "┃")) for row in rows)
        assert " 14:55:00.000 INFO" in rows[0] and "      14:55" not in rows[0]
