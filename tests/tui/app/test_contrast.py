"""Every text the console draws reads at WCAG AA (4.5:1), in every theme and state.

The ratios are computed from the rendered cells' colours (see ``contrast_support``), on the
truecolor path and on the 256-colour path, never compared with colours written down here.
One app per theme walks through the states a person sees: the log following its newest line
(the followed line is the cursor row), paused on a selected line, blurred; each table with
its cursor focused and blurred and a row under the mouse; the filter bar, the help, the
detail, the trace's waterfall and a span, an alert's traces, the prompts and the command
palette; toasts; a maximized panel; the per-route table; the log-volume histogram.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from contrast_support import contrast_ratio, failures

from obsview.common.protocol import Gap
from obsview.themes import load_themes
from obsview.tui.screenshots import sample_app

Step = Callable[[Any], Awaitable[None]]


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


def gap() -> Step:
    async def step(pilot: Any) -> None:
        pilot.app.dashboard.enqueue(Gap(missed=1234, from_seq=186))
        pilot.app.dashboard.flush()

    return step


def connection(kind: str) -> Step:
    async def step(pilot: Any) -> None:
        pilot.app.dashboard.show_connection(kind, f"{kind}: ws://127.0.0.1:8765")

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
    ("event detail", steps(press("escape"), press("enter"))),
    ("trace waterfall, cursor on its root span", steps(press("escape"), press("T"))),
    ("trace waterfall, cursor on a failed span", press("down", "down", "down", "down", "down")),
    ("trace waterfall, cursor on a log line", press("down", "down")),
    ("span detail", steps(press("up", "up"), press("enter"))),
    ("an alert's traces", steps(press("escape", "escape"), focus("#alerts"), press("down", "l"))),
    ("an alert's traces, a row hovered", hover("TraceList", (10, 2))),
    ("ack prompt", steps(press("escape"), focus("#alerts"), press("a"))),
    ("ack prompt with a note", press(*"on it")),
    ("silence prompt", steps(press("escape"), press("s"))),
    ("command palette", steps(press("escape"), press("ctrl+p"))),
    ("command palette filtered", press(*"theme")),
    ("a gap marked in the stream", steps(press("escape"), focus("#log"), press("G"), gap())),
    ("alerts maximized", steps(press("escape"), focus("#alerts"), press("m"))),
    ("log maximized", steps(press("m"), focus("#log"), press("m"))),
    ("per-route latency table", steps(press("m"), press("R"))),
    ("per-route table, cursor on a red row, sorted by p99", press("down", "s")),
    ("per-route table, a row hovered", hover("RouteTable", (10, 4))),
    ("log-volume histogram", steps(press("escape"), focus("#log"), press("i"))),
    ("log-volume histogram, a bucket selected", press("left", "left")),
    ("log-volume histogram, jumped to the bucket", press("enter")),
]


def test_the_ratio_is_wcags() -> None:
    assert contrast_ratio((0, 0, 0), (255, 255, 255)) == pytest.approx(21.0)
    assert contrast_ratio((255, 255, 255), (255, 255, 255)) == pytest.approx(1.0)
    # WCAG's own example of a pair just below AA: #777777 on white is 4.48:1.
    assert contrast_ratio((0x77, 0x77, 0x77), (255, 255, 255)) == pytest.approx(4.48, abs=0.01)


@pytest.mark.parametrize("theme", [theme.name for theme in load_themes()])
async def test_every_text_reads_at_aa_in_every_state(theme: str) -> None:
    app = sample_app(theme)
    problems: list[str] = []
    # notifications=True: run_test leaves toasts out by default, and they went unchecked.
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await pilot.pause()
        assert pilot.app.screen.query("Toast"), "the alerts' toasts are not on screen"
        for state, step in STATES:
            await step(pilot)
            await pilot.pause()
            for depth in ("truecolor", "256"):
                problems += [f"{state} [{depth}]: {problem}"
                             for problem in failures(app, depth=depth)]
    assert not problems, f"{len(problems)} pairs below 4.5:1:\n" + "\n".join(problems)
