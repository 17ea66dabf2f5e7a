"""Snapshots of every screen and theme, from the fixed session the screenshots use.

Regenerate after an intended change with ``uv run pytest tests/tui/app/test_snapshots.py
--snapshot-update`` and look at the report before committing.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest

from obsview.themes import load_themes
from obsview.tui.app import ObsviewApp
from obsview.tui.screenshots import SIZE, sample_app, sample_fleet_app, shot_steps

STEPS = shot_steps()


@pytest.fixture(autouse=True)
def utc_local_time(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Local times (the detail view's, dates of other days) as the screenshots show them."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def make_app(theme: str | None = None) -> ObsviewApp:
    return sample_app(theme)


def before(steps: Callable[[Any], Awaitable[None]]) -> Callable[[Any], Awaitable[None]]:
    async def run_before(pilot: Any) -> None:
        await pilot.pause()
        await steps(pilot)
        await pilot.pause()

    return run_before


@pytest.mark.parametrize("name", sorted(STEPS))
def test_screen(snap_compare: Any, name: str) -> None:
    assert snap_compare(make_app(), terminal_size=SIZE, run_before=before(STEPS[name]))


@pytest.mark.parametrize("theme", [theme.name for theme in load_themes()])
def test_theme(snap_compare: Any, theme: str) -> None:
    assert snap_compare(make_app(theme), terminal_size=SIZE, run_before=before(STEPS["dashboard"]))


def test_fleet_dashboard(snap_compare: Any) -> None:
    """Three hosts (web-3 reconnecting): host column, Hosts panel with the fleet row, alerts
    naming their host. One host's snapshots above have none of these."""
    assert snap_compare(sample_fleet_app(), terminal_size=SIZE, run_before=before(STEPS["dashboard"]))
