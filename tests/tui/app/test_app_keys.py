"""Every binding of the console, pressed through a pilot on a fixed recorded session."""

from __future__ import annotations

import orjson
import pytest
from app_test_support import screen_text, wait_until
from msgspec.structs import replace

from obsview.common.protocol import Ack, AlertInfo, Alerts, ExpireSilence, Message, Silence, Unack
from obsview.tui.app import ObsviewApp
from obsview.tui.screens.alert_prompts import AckPrompt, SilencePrompt
from obsview.tui.screens.dashboard import DashboardScreen
from obsview.tui.screens.detail import EventDetailScreen
from obsview.tui.screens.help import HelpScreen
from obsview.tui.screens.trace import TraceScreen
from obsview.tui.screens.traces import TracesScreen
from obsview.tui.screenshots import SAMPLE_NOW, TRACE_ID, sample_clock, sample_messages
from obsview.tui.widgets.alert_feed import AlertFeed
from obsview.tui.widgets.filter_bar import FilterBar
from obsview.tui.widgets.log_view import LogView

TOTAL = 185


class Recorder:
    def __init__(self) -> None:
        self.sent: list[Message] = []
        self.themes: list[str] = []

    def send(self, message: Message, done: str) -> None:
        self.sent.append(message)

    def remember(self, name: str) -> None:
        self.themes.append(name)


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def app(recorder: Recorder) -> ObsviewApp:
    return ObsviewApp(messages=sample_messages(), clock=sample_clock, send=recorder.send,
                      remember_theme=recorder.remember)


def dashboard(app: ObsviewApp) -> DashboardScreen:
    return app.dashboard


@pytest.mark.parametrize(("key", "level"), [("1", "ERROR"), ("2", "WARN"), ("3", "INFO"),
                                            ("4", "DEBUG"), ("5", "TRACE")])
async def test_number_keys_toggle_levels(app: ObsviewApp, key: str, level: str) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        buffer = dashboard(app).buffer
        await pilot.press(key)
        assert level not in buffer.filter.levels
        assert all(event.level != level for event in (buffer[i] for i in range(len(buffer))))
        await pilot.press(key)
        assert level in buffer.filter.levels
        assert buffer.matched_count == TOTAL


async def test_level_toggle_is_visible_and_counted(app: ObsviewApp) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("3", "4")
        matched = dashboard(app).buffer.matched_count
        assert matched < TOTAL
        assert f"{matched} of {TOTAL} events" in screen_text(app)


async def test_slash_filters_and_escape_clears(app: ObsviewApp) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("slash")
        assert app.dashboard.query_one(FilterBar).is_open
        await pilot.press(*"level:warn+", "enter")
        buffer = dashboard(app).buffer
        assert buffer.filter.query == "level:warn+"
        assert not app.dashboard.query_one(FilterBar).is_open
        assert f"{buffer.matched_count} of {TOTAL} events · filter level:warn+" in screen_text(app)
        await pilot.press("escape")
        assert buffer.filter.query == ""
        assert buffer.matched_count == TOTAL


async def test_a_bad_regex_says_why_and_keeps_the_previous_filter(app: ObsviewApp) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("slash", *"status:5xx", "enter")
        await pilot.press("slash", "ctrl+u", *"/(unclosed/", "enter")
        bar = app.dashboard.query_one(FilterBar)
        assert bar.is_open
        assert "does not compile" in bar.error
        assert "does not compile" in screen_text(app)
        assert dashboard(app).buffer.filter.query == "status:5xx"
        await pilot.press("escape")
        assert not bar.is_open
        assert dashboard(app).buffer.filter.query == "status:5xx"


async def test_t_filters_to_the_selected_events_trace(app: ObsviewApp) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert dashboard(app).selected_event is not None
        assert dashboard(app).selected_event.trace_id == TRACE_ID  # type: ignore[union-attr]
        await pilot.press("t")
        assert dashboard(app).buffer.matched_count == 5


async def test_shift_t_opens_the_waterfall_with_the_logs_in_their_spans(app: ObsviewApp) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("T")
        screen = app.screen
        assert isinstance(screen, TraceScreen)
        rows = screen.view.rows
        assert [(row.depth, row.span.name if row.span else row.event.message)  # type: ignore[union-attr]
                for row in rows[:5]] == [
            (0, "GET /api/posts/:id"), (1, "request started"), (1, "auth.verify_token"),
            (1, "redis GET post:42"), (2, "cache miss for post 42")]
        assert [row.event.seq for row in rows if row.event] == [181, 182, 183, 184, 185]
        assert "6 spans · 5 log lines · over 1.21 s · 2 failed" in screen_text(app)
        await pilot.press("escape")
        assert isinstance(app.screen, DashboardScreen)


async def test_waterfall_keys_collapse_expand_find_and_open(app: ObsviewApp) -> None:
    from obsview.tui.screens.span_detail import SpanDetailScreen

    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("T")
        screen = app.screen
        assert isinstance(screen, TraceScreen)
        await pilot.press("left")  # folds the root: one row left
        assert len(screen.view.rows) == 1 and screen.view.rows[0].collapsed
        await pilot.press("right")
        assert len(screen.view.rows) == 11
        await pilot.press("slash", *"pool", "enter")
        assert screen.view.cursor_row is not None and screen.view.cursor_row.key == "b7ad6b7169203331"
        await pilot.press("left")  # a leaf: to its parent
        assert screen.view.cursor_row.span.name == "SELECT posts"  # type: ignore[union-attr]
        await pilot.press("enter")
        assert isinstance(app.screen, SpanDetailScreen)
        assert "QueryCanceled" in screen_text(app)
        await pilot.press("escape", "escape")
        assert isinstance(app.screen, DashboardScreen)


async def test_enter_opens_the_detail_and_escape_closes_it(app: ObsviewApp) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("enter")
        assert isinstance(app.screen, EventDetailScreen)
        assert f'"trace_id": "{TRACE_ID}"' in screen_text(app)
        await pilot.press("escape")
        assert isinstance(app.screen, DashboardScreen)


async def test_shift_c_copies_the_selected_event_as_json(app: ObsviewApp) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("C")
        copied = orjson.loads(app.clipboard)
        assert copied["seq"] == 185 and copied["trace_id"] == TRACE_ID


@pytest.mark.parametrize("key", ["p", "space"])
async def test_p_and_space_pause_and_follow(app: ObsviewApp, key: str) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        log = app.dashboard.query_one(LogView)
        await pilot.press(key)
        assert not log.following
        await pilot.pause()
        assert "paused · 0 new" in screen_text(app)
        await pilot.press(key)
        assert log.following


async def test_pause_works_from_another_panel(app: ObsviewApp) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        app.dashboard.query_one("#alerts").focus()
        await pilot.press("p")
        assert not app.dashboard.query_one(LogView).following


async def test_m_maximizes_the_focused_panel_and_back(app: ObsviewApp) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("m")
        assert app.screen.maximized is app.dashboard.query_one(LogView)
        await pilot.press("m")
        assert app.screen.maximized is None
        app.dashboard.query_one("#health").focus()
        await pilot.press("m")
        assert app.screen.maximized is app.dashboard.query_one("#health")
        await pilot.press("escape")
        assert app.screen.maximized is None


@pytest.mark.parametrize("key", ["question_mark", "f1"])
async def test_help_lists_every_binding(app: ObsviewApp, key: str) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press(key)
        assert isinstance(app.screen, HelpScreen)
        described = {row.description for row in app.screen.rows}
        for binding in [*DashboardScreen.BINDINGS, *ObsviewApp.BINDINGS]:
            assert binding.description in described  # type: ignore[union-attr]
        # Waited for: the modal is pushed before it is painted.
        await wait_until(pilot, lambda: "Filter trace" in screen_text(app))
        # The keys outgrow 40 rows: the table scrolls to the last ones.
        await pilot.press("ctrl+end")
        await wait_until(pilot, lambda: "Quit" in screen_text(app))
        await pilot.press("escape")
        assert isinstance(app.screen, DashboardScreen)


@pytest.mark.parametrize("screen_key", ["", "R", "T"])
async def test_help_lists_each_key_once_beside_what_it_does(app: ObsviewApp, screen_key: str) -> None:
    """On the routes and trace screens help read "esc / q  Back" and also "^q / q  Quit",
    though q goes back there; with a table focused, Enter was both "Select" and "Details"."""
    from obsview.tui.screens.help import bindings_help

    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        if screen_key:
            await pilot.press(screen_key)
            await pilot.pause()
            rows = {row.description: row.key for row in bindings_help(app.screen)}
            assert rows["Back"] == "esc / q" and rows["Quit"] == "^q"
        focusable = [widget for widget in app.screen.query("*") if widget.can_focus] or [None]
        for widget in focusable:
            if widget is not None:
                widget.focus()
                await pilot.pause()
            rows = bindings_help(app.screen)
            keys = [key for row in rows for key in row.key.split(" / ")]
            assert len(keys) == len(set(keys)), (widget, [(row.key, row.description) for row in rows])


async def test_ctrl_t_switches_theme_and_remembers_it(app: ObsviewApp, recorder: Recorder) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        before = app.theme
        await pilot.press("ctrl+t")
        await pilot.pause()
        assert app.theme != before and app.theme.startswith("obsview-")
        assert recorder.themes[-1] == app.theme


def first_alert(app: ObsviewApp) -> AlertInfo:
    alert = app.dashboard.query_one("#alerts").selected_alert  # type: ignore[attr-defined]
    assert alert is not None
    return alert  # type: ignore[no-any-return]


async def test_a_acknowledges_the_selected_alert_with_a_note(
    app: ObsviewApp, recorder: Recorder
) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        alert = first_alert(app)
        await pilot.press("a")
        assert isinstance(app.screen, AckPrompt)
        await pilot.press(*"on it", "enter")
        assert recorder.sent == [Ack(alert.fingerprint, by=recorder.sent[0].by, note="on it")]  # type: ignore[attr-defined]


async def test_a_on_a_resolved_alert_names_it_and_sends_nothing(
    app: ObsviewApp, recorder: Recorder
) -> None:
    """Issue 13.11: the console sent the ack, toasted "Acknowledged", then showed the agent's
    refusal naming only the alert's hash."""
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        feed = app.dashboard.query_one(AlertFeed)
        feed.focus()
        await pilot.press("down", "down", "down")  # the 4th row
        assert feed.selected_alert is not None and feed.selected_alert.rule == "HighMemory"
        assert feed.selected_alert.state == "resolved"
        before = len(app._notifications)
        await pilot.press("a")
        await pilot.pause()
        assert isinstance(app.screen, DashboardScreen) and recorder.sent == []
        (note,) = list(app._notifications)[before:]
        assert note.message == "HighMemory is resolved: there is nothing to acknowledge"


async def test_escape_cancels_the_ack(app: ObsviewApp, recorder: Recorder) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("a", "escape")
        assert recorder.sent == []
        assert isinstance(app.screen, DashboardScreen)


async def test_s_silences_the_selected_alert_for_a_chosen_time(
    app: ObsviewApp, recorder: Recorder
) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        alert = first_alert(app)
        await pilot.press("s")
        assert isinstance(app.screen, SilencePrompt)
        await pilot.press("down", "enter")
        (sent,) = recorder.sent
        assert isinstance(sent, Silence)
        assert sent.duration_s == 3600.0
        assert sent.matchers == {"alertname": alert.rule, **alert.labels}


async def test_u_takes_back_the_ack_else_ends_the_silence(recorder: Recorder) -> None:
    messages = sample_messages()
    alerts = next(message for message in messages if isinstance(message, Alerts))
    first, *rest = alerts.alerts
    messages[messages.index(alerts)] = Alerts((replace(first, silenced_by="s1"), *rest))
    app = ObsviewApp(messages=messages, clock=sample_clock, send=recorder.send)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        feed = app.dashboard.query_one(AlertFeed)
        feed.focus()
        for rule in ("DependencyDown", "HighErrorRate", "HighMemory"):  # acked, silenced, neither (rows in order)
            for _ in range(4):
                if feed.selected_alert is not None and feed.selected_alert.rule == rule:
                    break
                await pilot.press("down")
            await pilot.press("u")
        await pilot.pause()
        by = recorder.sent[0].by  # type: ignore[attr-defined]
        assert recorder.sent == [Unack("f3", by=by), ExpireSilence("s1", by=by)]
        assert list(app._notifications)[-1].message == "HighMemory is neither acknowledged nor silenced"


async def test_l_and_enter_on_an_alert_show_the_logs_behind_it(app: ObsviewApp) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        app.dashboard.query_one("#alerts").focus()
        await pilot.press("down")  # HighErrorRate, labelled with its route
        await pilot.press("enter")
        # First its window's traces: the failed sample trace (spans) on top, then the route's
        # other requests known from their access logs, slowest first.
        screen = app.screen
        assert isinstance(screen, TracesScreen)
        assert screen.summaries[0].trace_id == TRACE_ID and screen.summaries[0].spans == 6
        assert all(s.route == "/api/posts/:id" for s in screen.summaries)
        assert [s.duration_ms for s in screen.summaries[1:] if not s.error] == sorted(
            (s.duration_ms for s in screen.summaries[1:] if not s.error), reverse=True)
        await pilot.press("enter")
        assert isinstance(app.screen, TraceScreen) and app.screen.trace_id == TRACE_ID
        await pilot.press("escape", "escape")  # back to the logs behind the alert
        buffer = dashboard(app).buffer
        assert buffer.filter.query == "route:/api/posts/:id level:warn+"
        assert isinstance(app.focused, LogView)
        # Paused where the alert started, not at the newest line.
        alert = app.dashboard.query_one(AlertFeed).selected_alert
        assert alert is not None and not app.focused.following
        selected = app.focused.cursor_event
        assert selected is not None and selected.ts >= alert.started_at
        index = buffer.index_at_time(alert.started_at)
        assert index == 0 or buffer[index - 1].ts < alert.started_at
        await pilot.press("escape")
        app.dashboard.query_one("#alerts").focus()
        await pilot.press("up", "l")
        assert buffer.filter.query == "level:warn+"  # DependencyDown has no route label
        assert isinstance(app.screen, TracesScreen)


async def test_e_lists_the_slowest_traces_of_the_selected_requests_route(app: ObsviewApp) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("e")
        screen = app.screen
        assert isinstance(screen, TracesScreen)
        assert screen.summaries and all(s.route == "/api/posts/:id" for s in screen.summaries)
        assert "route /api/posts/:id" in screen_text(app)


async def test_q_quits(app: ObsviewApp) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("q")
        await pilot.pause()
        assert not app.is_running


async def test_d_is_hidden_when_there_is_no_demo_to_start(app: ObsviewApp) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert app.check_action("start_demo", ()) is False
        await pilot.press("d")
        assert app.demo_url is None


async def test_every_binding_is_in_the_command_palette(app: ObsviewApp) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        titles = {command.title for command in app.get_system_commands(app.screen)}
        for binding in DashboardScreen.BINDINGS:
            assert binding.description in titles  # type: ignore[union-attr]
        assert {"Help", "Theme", "Quit"} <= titles


async def test_a_newly_firing_alert_is_announced_with_cleaned_text(app: ObsviewApp) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        before = len(app._notifications)
        fresh = AlertInfo("new", "Boom\x1b]0;pwned\x07", "critical", "firing", "error_rate_1m",
                          ">", 0.05, 0.5, "[bold]sum[/bold]\x9b2J", fired_at=SAMPLE_NOW)
        app.dashboard.enqueue(Alerts((fresh,)))
        app.dashboard.flush()
        await pilot.pause()
        notes = list(app._notifications)[before:]
        assert any("Boom␛]0;pwned␇" in note.title and note.message.startswith("[bold]sum[/bold]")
                   for note in notes)
        assert all(not note.markup for note in notes)


@pytest.mark.parametrize("size", [(80, 24), (40, 12), (200, 60)])
async def test_small_and_large_terminals_do_not_crash(app: ObsviewApp, size: tuple[int, int]) -> None:
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        await pilot.press("slash", "x", "enter", "T", "escape", "question_mark", "escape", "m")
        await pilot.pause()
        assert app.is_running


async def test_80x24_still_shows_every_panel_and_some_log_lines(app: ObsviewApp) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        text = screen_text(app)
        for title in ("Requests", "Latency", "Health", "Alerts", "Logs"):
            assert title in text
        log_rows = [line for line in text.splitlines() if line.startswith("│ 14:59:")]
        assert len(log_rows) >= 5


async def test_a_query_typed_in_one_go_lands_in_the_filter_bar(app: ObsviewApp) -> None:
    """tmux send-keys and pastes deliver "/", the query and Enter before the app redraws."""
    from textual import events

    names = {":": "colon", "+": "plus"}
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        keys = [("slash", "/")] + [(names.get(c, c), c) for c in "level:warn+"] + [("enter", "\r")]
        for key, char in keys:
            app.post_message(events.Key(key, char))
        # Waited for, not slept on: 13 keys took 0.06-0.46 s on the shared build machine.
        await wait_until(pilot, lambda: dashboard(app).buffer.filter.query == "level:warn+")
        app.post_message(events.Key("escape", None))
        await wait_until(pilot, lambda: dashboard(app).buffer.filter.query == "")


async def test_a_then_enter_in_one_go_acknowledges(app: ObsviewApp, recorder: Recorder) -> None:
    from textual import events

    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        alert = first_alert(app)
        app.post_message(events.Key("a", "a"))
        app.post_message(events.Key("enter", "\r"))
        await wait_until(pilot, lambda: bool(recorder.sent))
        assert [m.fingerprint for m in recorder.sent] == [alert.fingerprint]  # type: ignore[attr-defined]
        assert isinstance(app.screen, DashboardScreen)


async def test_letters_typed_in_the_filter_bar_are_text_not_commands(
    app: ObsviewApp, recorder: Recorder
) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("slash", *"status", "enter")
        assert recorder.sent == []
        assert dashboard(app).buffer.filter.query == "status"


async def test_bell_rings_for_a_newly_firing_alert_only_with_bell(recorder: Recorder) -> None:
    rings: list[None] = []
    for bell in (False, True):
        app = ObsviewApp(messages=sample_messages(), clock=sample_clock, send=recorder.send,
                         bell=bell)
        app.bell = lambda: rings.append(None)  # type: ignore[method-assign]
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
        assert len(rings) == (2 if bell else 0)  # the two alerts firing in the session
