"""Every text the console draws reads at WCAG AA (4.5:1), in every theme and state.

The ratios are computed from the rendered cells' colours (see ``contrast_support``), on the
truecolor path and on the 256-colour path, never compared with colours written down here.
One app per theme walks through the states a person sees: the log following its newest line
(the followed line is the cursor row), paused on a selected line, blurred; each table with
its cursor focused and blurred and a row under the mouse; the filter bar, the help, the
detail, the trace's waterfall and a span, an alert's traces, the prompts and the command
palette; toasts; a maximized panel; the per-route table; the log-volume histogram (and, at
80×24, the line saying which panels it hides).

The fleet console (its Hosts panel, a host in each state), the replay's status line and the
history screen (against a real agent whose journal holds more than it sends) are walked too.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest
from app_test_support import wait_until
from contrast_support import Step, contrast_ratio, walk
from history_support import console_after_a_restart

from obsview.common.protocol import Gap, Health, Message, SourceStatus
from obsview.themes import load_themes
from obsview.tui.client import ConnectionState
from obsview.tui.incident import FORMAT, Header, Incident
from obsview.tui.replay import ReplayApp, Replayer
from obsview.tui.screens.history import PAGE, HistoryScreen
from obsview.tui.screenshots import SAMPLE_NOW, sample_app, sample_fleet_app, sample_messages, utc_time
from obsview.tui.widgets.hosts_panel import describe_fleet
from obsview.tui.widgets.log_view import LogView
from obsview.tui.widgets.status_bar import StatusBar

THEMES = [theme.name for theme in load_themes()]


def press(*keys: str) -> Step:
    async def step(pilot: Any) -> None:
        await pilot.press(*keys)

    return step


def focus(selector: str) -> Step:
    async def step(pilot: Any) -> None:
        pilot.app.screen.query_one(selector).focus()

    return step


def hover(selector: str, offset: tuple[int, int]) -> Step:
    async def step(pilot: Any) -> None:
        await pilot.hover(selector, offset=offset)

    return step


def dismiss_toasts() -> Step:
    async def step(pilot: Any) -> None:
        pilot.app.clear_notifications()

    return step


def steps(*parts: Step) -> Step:
    async def step(pilot: Any) -> None:
        for part in parts:
            await part(pilot)
            await pilot.pause()

    return step


def resize(width: int, height: int) -> Step:
    async def step(pilot: Any) -> None:
        await pilot.resize_terminal(width, height)

    return step


def gap() -> Step:
    async def step(pilot: Any) -> None:
        pilot.app.dashboard.enqueue(Gap(missed=1234, from_seq=186))
        pilot.app.dashboard.flush()

    return step


def connection(kind: str) -> Step:
    async def step(pilot: Any) -> None:
        pilot.app.dashboard.show_connection(kind, f"{kind}: ws://127.0.0.1:8765")

    return step


def sources(*states: str) -> Step:
    """The agent reports a log source in each of ``states`` (shown on the status line)."""
    async def step(pilot: Any) -> None:
        health = pilot.app.dashboard.state.health
        reported = tuple(SourceStatus(f"file:/var/log/app{n}.log", state, detail="no such file",
                                      restarts=n) for n, state in enumerate(states))
        pilot.app.dashboard.enqueue(Health(msgspec.structs.replace(health, sources=reported)))
        pilot.app.dashboard.flush()

    return step


def progress() -> Step:
    async def step(pilot: Any) -> None:
        pilot.app.dashboard.query_one(StatusBar).show_progress(
            "receiving the agent's buffer: 3,000 events to come · writing the incident file: 40 %")

    return step


def host_state(host: str, status: Any, **fields: Any) -> Step:
    """A fleet host's connection changes (as the fleet client reports it)."""
    async def step(pilot: Any) -> None:
        app = pilot.app
        app.fleet_view.connection_changed(host, ConnectionState(
            status=status, url="ws://10.0.0.12:8765", last_error="token rejected", **fields))
        app.dashboard.show_hosts(app.fleet_view)
        app.dashboard.show_connection(*describe_fleet(list(app.fleet_view.hosts.values())))

    return step


def until(done: Callable[[Any], bool]) -> Step:
    """Let the app run until ``done(app)``: the agent's answers come in their own time."""
    async def step(pilot: Any) -> None:
        await wait_until(pilot, lambda: done(pilot.app))

    return step


def history_shows(count: int) -> Callable[[Any], bool]:
    def done(app: Any) -> bool:
        return isinstance(app.screen, HistoryScreen) and app.screen.matched == count and not app.screen.waiting

    return done


def first_shown() -> Step:
    """The history's cursor on the first event shown (Home goes to the start of history)."""
    async def step(pilot: Any) -> None:
        pilot.app.screen.query_one(LogView).select_index(0)

    return step


async def _nothing(pilot: Any) -> None:
    return None


def toasts() -> Step:
    """One toast of each severity (the app's own are alerts firing and acks sent)."""
    async def step(pilot: Any) -> None:
        for severity in ("information", "warning", "error"):
            pilot.app.notify(f"a {severity} toast's text", title=f"{severity} title", severity=severity)

    return step


#: (what is on screen, how to get there from the previous state).
STATES: list[tuple[str, Step]] = [
    ("dashboard with toasts, log following its newest line", _nothing),
    ("a toast of each severity", toasts()),
    ("log following, no toasts", dismiss_toasts()),
    ("log paused on a selected line", press("up", "up", "up")),
    ("find: matches highlighted, one on the followed line", press("f", *"timeout", "enter")),
    ("find: a highlighted match on a selected line", press("N")),
    ("bookmarked lines, one selected", steps(press("b", "up", "b"), press("escape"))),
    ("DEBUG and TRACE toggled off", press("4", "5")),
    ("agent unreachable", steps(press("4", "5"), connection("unreachable"))),
    ("agent reconnecting", connection("reconnecting")),
    ("connected", connection("connected")),
    ("long work under way in the status bar", progress()),
    ("alerts focused (log cursor blurred), a row hovered",
     steps(focus("#alerts"), hover("#alerts", (20, 3)))),
    ("alerts cursor on the next row", press("down")),
    ("health focused, a row hovered", steps(focus("#health"), hover("#health", (5, 3)))),
    ("filter bar open with its placeholder", steps(focus("#log"), press("slash"))),
    ("filter bar with a query", press(*"timeout")),
    ("filter bar showing an error", press("ctrl+u", *"/(x/", "enter")),
    ("filter applied", press("ctrl+u", *"level:warn+", "enter")),
    ("help", steps(press("escape"), press("question_mark"))),
    ("help, a row hovered", hover("HelpScreen DataTable", (4, 3))),
    ("help, cursor on a striped row", press("down")),
    ("event detail", steps(press("escape"), press("enter"))),
    ("trace waterfall, cursor on its root span", steps(press("escape"), press("T"))),
    ("trace waterfall, cursor on a failed span", press("down", "down", "down", "down", "down")),
    ("trace waterfall, cursor on a log line", press("down", "down")),
    ("span detail", steps(press("up", "up"), press("enter"))),
    ("an alert's traces", steps(press("escape", "escape"), focus("#alerts"), press("down", "l"))),
    ("an alert's traces, a row hovered", hover("TraceList", (10, 2))),
    ("an alert's traces, cursor on the next row", press("down")),
    ("ack prompt", steps(press("escape"), focus("#alerts"), press("a"))),
    ("ack prompt with a note", press(*"on it")),
    ("silence prompt", steps(press("escape"), press("s"))),
    ("silence prompt, the next duration highlighted, one hovered",
     steps(press("down"), hover("SilencePrompt OptionList", (4, 2)))),
    ("command palette", steps(press("escape"), press("ctrl+p"))),
    ("command palette filtered", press(*"theme")),
    ("a gap marked in the stream", steps(press("escape"), focus("#log"), press("G"), gap())),
    ("alerts maximized", steps(press("escape"), focus("#alerts"), press("m"))),
    ("log maximized", steps(press("m"), focus("#log"), press("m"))),
    ("per-route latency table", steps(press("m"), press("R"))),
    ("per-route table, cursor on a red row, sorted by p99", press("down", "s")),
    ("per-route table, a row hovered", hover("RouteTable", (10, 4))),
    ("a route's slowest traces", press("enter")),
    ("log-volume histogram", steps(press("escape", "escape"), focus("#log"), press("i"))),
    ("log-volume histogram, a bucket selected", press("left", "left")),
    ("log-volume histogram, jumped to the bucket", press("enter")),
    ("log sources: one waiting", sources("reading", "waiting")),
    ("log sources: one restarting", sources("reading", "waiting", "restarting")),
    ("log-volume histogram at 80×24, saying the panels it hides", resize(80, 24)),
]

#: The fleet console (``sample_fleet_app``: web-2 with the alerts, web-3 reconnecting). Each
#: host state is seen on a plain row and under the cursor (which paints over its colour).
FLEET_STATES: list[tuple[str, Step]] = [
    ("fleet console, a host reconnecting", _nothing),
    ("hosts focused, cursor on the first host", steps(dismiss_toasts(), focus("#hosts"))),
    ("hosts cursor on the reconnecting host", press("down", "down")),
    ("a host refusing the token, events lost; cursor on the fleet row",
     steps(press("down"), host_state("web-2", "auth_failed", gap_total=1234))),
    ("hosts maximized, their Lost column shown", press("m")),
    ("hosts maximized, cursor on the host refusing the token", press("up", "up")),
    ("hosts, a row hovered, cursor blurred", steps(press("m"), focus("#log"), hover("#hosts", (6, 3)))),
    ("fleet log, a host's line selected", press("up", "up")),
]

#: The history screen, on a console whose agent restarted: 1,200 events in its journal only
#: (one ERROR every 50: 700 is one).
HISTORY_STATES: list[tuple[str, Step]] = [
    ("history below the oldest event held, cursor on its newest line",
     steps(focus("#log"), press("up"), until(history_shows(PAGE)))),
    ("history, an older page loaded, cursor on an ERROR line",
     steps(first_shown(), press("up"), until(history_shows(2 * PAGE)))),
    ("history, the start of the agent's history",
     steps(first_shown(), press("up"), until(history_shows(1200)))),
    ("history from its oldest event (Home), newer pages below", steps(press("home"), until(history_shows(PAGE)))),
    ("history, an event's detail", press("enter")),
    ("search all history with a filter",
     steps(press("escape", "escape"), press("slash", *"yesterday", "enter"), press("H"),
           until(history_shows(PAGE)))),
]

#: The replay's status line, playing and paused.
REPLAY_STATES: list[tuple[str, Step]] = [
    ("replay playing", _nothing),
    ("replay paused", press("P")),
]


def test_the_ratio_is_wcags() -> None:
    assert contrast_ratio((0, 0, 0), (255, 255, 255)) == pytest.approx(21.0)
    assert contrast_ratio((255, 255, 255), (255, 255, 255)) == pytest.approx(1.0)
    # WCAG's own example of a pair just below AA: #777777 on white is 4.48:1.
    assert contrast_ratio((0x77, 0x77, 0x77), (255, 255, 255)) == pytest.approx(4.48, abs=0.01)


@pytest.mark.parametrize("theme", THEMES)
async def test_every_text_reads_at_aa_in_every_state(theme: str) -> None:
    app = sample_app(theme)
    # notifications=True: run_test leaves toasts out by default, and they went unchecked.
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await pilot.pause()
        assert pilot.app.screen.query("Toast"), "the alerts' toasts are not on screen"
        problems = await walk(pilot, STATES)
    _assert_readable(problems)


@pytest.mark.parametrize("theme", THEMES)
async def test_the_fleet_console_reads_at_aa(theme: str) -> None:
    app = sample_fleet_app(theme)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await pilot.pause()
        assert "web-3 reconnecting" in str(app.dashboard.query_one("#sb-connection").content)
        problems = await walk(pilot, FLEET_STATES)
    _assert_readable(problems)


@pytest.mark.parametrize("theme", THEMES)
async def test_the_replay_status_line_reads_at_aa(theme: str) -> None:
    recorded = [(SAMPLE_NOW, message) for message in sample_messages() if isinstance(message, Message)]
    incident = Incident(Header(FORMAT, SAMPLE_NOW, "sample", SAMPLE_NOW, SAMPLE_NOW), recorded)
    app = ReplayApp(Replayer(incident, clock=lambda: 0.0), theme=theme, time_format=utc_time)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await pilot.pause()
        problems = await walk(pilot, REPLAY_STATES)
        assert "replay" in str(app.dashboard.query_one("#sb-connection").content)
    _assert_readable(problems)


@pytest.mark.parametrize("theme", THEMES)
async def test_the_history_screen_reads_at_aa(theme: str, tmp_path: Path) -> None:
    async with console_after_a_restart(tmp_path, theme=theme) as (_app, pilot):
        problems = await walk(pilot, HISTORY_STATES)
    _assert_readable(problems)


def _assert_readable(problems: list[str]) -> None:
    assert not problems, f"{len(problems)} pairs below 4.5:1:\n" + "\n".join(problems)
