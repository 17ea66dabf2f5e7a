"""The console's first paint does only what the dashboard shows needs (issue 11: it cost 2.4x
an empty Textual app's first frame)."""

from __future__ import annotations

import subprocess
import sys

import pytest
from textual.geometry import Size

from obsview.tui.screens.dashboard import DashboardScreen

#: The dashboard painted in a fresh interpreter (this one has imported everything already).
FIRST_PAINT = """
import asyncio, sys
from obsview.tui.app import ObsviewApp

async def main() -> None:
    app = ObsviewApp(clock=lambda: 0.0)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert app.screen is app.dashboard

asyncio.run(main())
print(" ".join(sorted(sys.modules)))
"""
ON_DEMAND = (
    "obsview.tui.screens.alert_prompts",
    "obsview.tui.screens.detail",
    "obsview.tui.screens.help",
    "obsview.tui.screens.history",
    "obsview.tui.screens.routes",
    "obsview.tui.screens.trace",
    "obsview.tui.screens.traces",
    "obsview.tui.widgets.event_detail",
    "obsview.tui.widgets.route_table",
    "obsview.tui.incident",
    "obsview.tui.exemplars",
    "obsview.tui.waterfall",
    # A console on one agent: the fleet's merge is for several.
    "obsview.tui.fleet_view",
    "obsview.tui.fleet_merge",
)


@pytest.mark.timeout(90)
def test_the_first_paint_imports_no_screen_a_key_opens() -> None:
    """They are imported when a key opens them."""
    done = subprocess.run([sys.executable, "-c", FIRST_PAINT], capture_output=True, text=True,
                          timeout=60, check=True)
    loaded = set(done.stdout.split())
    assert "obsview.tui.screens.dashboard" in loaded
    assert sorted(loaded & set(ON_DEMAND)) == []


@pytest.mark.parametrize("width", [1, 99, 100, 120])
@pytest.mark.parametrize("height", [1, 15, 16, 21, 22, 33, 34, 40])
def test_the_dashboard_has_the_breakpoint_classes_textual_would_give_it(width: int, height: int) -> None:
    """Set before its widgets mount, so that they are styled once, not again at the first
    resize: they must be the classes that resize sets."""
    screen = DashboardScreen(clock=lambda: 0.0)
    textual = (screen._get_breakpoint_classes(width, screen.HORIZONTAL_BREAKPOINTS)
               | screen._get_breakpoint_classes(height, screen.VERTICAL_BREAKPOINTS))
    ours = screen.breakpoint_classes(Size(width, height))
    assert {name for name, on in ours.items() if on} == textual
    assert set(ours) == {name for _threshold, name in screen.HORIZONTAL_BREAKPOINTS + screen.VERTICAL_BREAKPOINTS}
