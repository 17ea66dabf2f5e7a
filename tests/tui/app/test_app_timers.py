"""The app's own timers never run while Textual closes the screens at exit."""

from __future__ import annotations

from obsview.tui.app import ObsviewApp

#: The race is a few milliseconds wide: on the code before the fix about a third of the runs
#: caught a tick between the screens' closing and the timers' stop.
RUNS = 10


async def test_an_app_timer_does_not_fire_after_the_dashboard_is_gone() -> None:
    ticks_without_dashboard = 0
    for _ in range(RUNS):
        app = ObsviewApp(url=None, messages=[])
        seen: list[bool] = []
        async with app.run_test(size=(120, 40)) as pilot:
            app.every(0.0002, lambda app=app, seen=seen: seen.append(
                app.is_screen_installed("dashboard")))
            await pilot.pause(0.02)
        assert seen
        ticks_without_dashboard += seen.count(False)
    assert ticks_without_dashboard == 0
