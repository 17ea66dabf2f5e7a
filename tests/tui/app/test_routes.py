"""The per-route latency table (``R``): every route's p50/p95/p99, rate and failed share, from
a real agent's figures, coloured by the agent's own rules, sortable from the keyboard, whole
at 80×24, and ``e`` on a row lists that route's slowest traces."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from app_test_support import screen_lines, screen_text, wait_until
from injection_corpus import FORBIDDEN_CHARS

from obsview.backend.agent import Agent
from obsview.backend.config import AgentConfig
from obsview.backend.signals.alerts import AlertRule
from obsview.common.protocol import LogEvent, Metrics
from obsview.tui.app import ObsviewApp
from obsview.tui.screens.routes import RoutesScreen
from obsview.tui.screens.traces import TracesScreen
from obsview.tui.screenshots import _snapshot, sample_app
from obsview.tui.widgets.route_table import RouteTable

HOSTILE = "/x/[bold]\x1b]0;pwned\x07[@click=app.quit]"


def requests(route: str, count: int, took_ms: float, *, failed: int = 0) -> list[LogEvent]:
    now = time.time()
    return [
        LogEvent(ts=now, level="INFO", message="request completed", trace_id=f"{route}-{n}",
                 method="GET", route=route, path=route, status=500 if n < failed else 200,
                 duration_ms=took_ms + n % 3)
        for n in range(count)
    ]


def flat(text: str) -> str:
    """The screen's words on one line (the title wraps at 80 columns)."""
    return " ".join(text.split())


def headers(table: RouteTable) -> list[str]:
    return [column.label.plain.split(" ")[0] for column in table.columns.values()]


def first_column(table: RouteTable) -> list[str]:
    return [table.get_row_at(row)[0].plain for row in range(table.row_count)]


async def test_a_real_agents_routes_coloured_by_its_rule_and_e_opens_the_slowest(tmp_path: Path) -> None:
    config = AgentConfig(listen=("127.0.0.1", 0), state_dir=tmp_path / "state",
                         rules=[AlertRule("slow", "p95_ms", ">", 300.0)])
    async with Agent(config) as agent:
        await agent.ingest(requests("/fast", 40, 20.0) + requests("/slow", 40, 400.0, failed=8)
                           + requests(HOSTILE, 20, 10.0))
        app = ObsviewApp(url=agent.url)
        async with app.run_test(size=(80, 24)) as pilot:
            dashboard = app.dashboard
            await wait_until(pilot, lambda: dashboard.state.metrics is not None
                             and len(dashboard.state.metrics.routes) == 3)
            await pilot.press("R")
            await wait_until(pilot, lambda: isinstance(app.screen, RoutesScreen))
            table = app.screen.query_one(RouteTable)
            await wait_until(pilot, lambda: table.row_count == 3)
            await pilot.pause()
            assert headers(table) == ["Route", "Req/s", "Failed", "p50", "p95", "p99"]
            assert first_column(table)[0] == "GET /slow"  # slowest p95 first
            text = screen_text(app)
            assert "Req/s  Failed" in text and "p99" in text, text
            slow = next(line for line in screen_lines(app) if "GET /slow" in line)
            assert "20.0 %" in slow and "40" in slow, slow  # 8 of 40 failed; 40 requests
            assert "[bold]" in text and "[@click=app.qui" in text and app.is_running
            assert not any(set(line) & FORBIDDEN_CHARS for line in screen_lines(app))
            # The agent's rule (p95 > 300 ms), not the seed's 1000 ms: /slow's p95 is red.
            assert "red above p95 300 ms" in flat(text)
            p95 = [table.get_row_at(row)[4] for row in range(3)]
            assert str(p95[0].style) == table._style("bad")
            assert str(p95[1].style) == table._style("ok")

            await pilot.press("e")
            await wait_until(pilot, lambda: isinstance(app.screen, TracesScreen))
            traces = app.screen
            assert isinstance(traces, TracesScreen)
            assert traces.title_text == "route /slow"
            assert len(traces.summaries) == 40 and traces.summaries[0].error


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_sorted_from_the_keyboard_and_the_cursor_keeps_its_route(size: tuple[int, int]) -> None:
    app = sample_app()
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        app.clear_notifications()
        await pilot.press("R")
        await pilot.pause()
        table = app.screen.query_one(RouteTable)
        assert len(screen_text(app).splitlines()[2].split()) >= 7, "a column is hidden"
        assert first_column(table)[0] == "GET /api/posts/:id"  # p95 900 ms
        await pilot.press("s")  # p99
        assert first_column(table)[0] == "POST /api/posts"  # p99 2.10 s
        assert "sorted by p99 highest first" in flat(screen_text(app))
        await pilot.press("r")
        assert first_column(table)[0] == "GET /api/users/:id"
        await pilot.press("less_than_sign", "less_than_sign", "less_than_sign", "less_than_sign")
        assert table.order.key == "rate"
        await pilot.press("down")
        chosen = first_column(table)[1]
        # A new snapshot re-sorts the rows: the cursor follows its route.
        snapshot = _snapshot()
        routes = tuple(reversed(snapshot.routes))
        app.dashboard.enqueue(Metrics(snapshot=type(snapshot)(**{
            **{f: getattr(snapshot, f) for f in snapshot.__struct_fields__}, "routes": routes})))
        app.dashboard.flush()
        await pilot.pause()
        assert first_column(table)[table.cursor_row] == chosen


@pytest.mark.parametrize("key", ["escape", "q"])
async def test_closing_the_table_then_new_figures_do_not_crash(key: str) -> None:
    """Esc and q closed the screen without its result callback: the dashboard kept feeding
    the closed table the next snapshot, whose widgets were gone (NoMatches, the console died)."""
    app = sample_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("R")
        await wait_until(pilot, lambda: isinstance(app.screen, RoutesScreen))
        await pilot.press(key)
        await wait_until(pilot, lambda: not isinstance(app.screen, RoutesScreen))
        app.dashboard.enqueue(Metrics(snapshot=_snapshot()))
        app.dashboard.flush()
        await pilot.pause()
        assert app.is_running and app.screen is app.dashboard
        await pilot.press("R")  # opens again, fed as before
        await wait_until(pilot, lambda: isinstance(app.screen, RoutesScreen))
        assert app.screen.query_one(RouteTable).row_count == len(_snapshot().routes)


async def test_a_rare_route_shows_its_rate_not_zero() -> None:
    """One request a minute is 0.017/s: the table read "0.0", as for a route with none."""
    from obsview.common.protocol import RouteStats
    from obsview.tui.widgets.units import format_rate

    app = sample_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        snapshot = _snapshot()
        rare = (RouteStats("/rare", "GET", 1, 0, 1 / 60, 5.0, 5.0, 5.0),
                RouteStats("/rarer", "GET", 1, 0, 1 / 900, 5.0, 5.0, 5.0))
        app.dashboard.enqueue(Metrics(snapshot=type(snapshot)(**{
            **{f: getattr(snapshot, f) for f in snapshot.__struct_fields__}, "routes": snapshot.routes + rare})))
        app.dashboard.flush()
        await pilot.press("R")
        await wait_until(pilot, lambda: isinstance(app.screen, RoutesScreen))
        lines = screen_lines(app)
        assert next(line for line in lines if "/rare " in line).split()[2] == "0.02", lines
        assert next(line for line in lines if "/rarer" in line).split()[2] == "0.001", lines
    assert [format_rate(v) for v in (0.0, 0.05, 0.1, 12.34, 1234.0, 1e-5)] == [
        "0.0/s", "0.05/s", "0.1/s", "12.3/s", "1,234/s", "<0.001/s"]


async def test_the_latency_and_requests_panels_follow_the_agents_rules_too(tmp_path: Path) -> None:
    # The panels said "threshold 1.00 s" and coloured by the seed's 1 s and 5 % whatever the
    # agent's rules were, while the routes table beside them used the rules.
    config = AgentConfig(listen=("127.0.0.1", 0), state_dir=tmp_path / "state",
                         rules=[AlertRule("slow", "p95_ms", ">", 300.0),
                                AlertRule("failing", "error_rate", ">", 0.5)])
    async with Agent(config) as agent:
        await agent.ingest(requests("/slow", 40, 400.0, failed=8))  # p95 ~400 ms, 20 % failed
        app = ObsviewApp(url=agent.url)
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_until(pilot, lambda: "threshold 300 ms" in screen_text(app))
            p95 = app.dashboard.query_one("#latency-p95")  # type: ignore[attr-defined]
            errors = app.dashboard.query_one("#errors-now")  # type: ignore[attr-defined]
            assert p95.has_class("-bad"), "400 ms is above the agent's 300 ms"
            assert errors.has_class("-ok"), "20 % failed is under the agent's 50 %, not the seed's 5 %"


async def test_the_heading_breaks_between_whole_phrases() -> None:
    """The heading wrapped mid-phrase: "sorted by p95" / "highest first" at 80 columns,
    "red above p95 1.00 s or" / "5.0 % failed" at 120."""

    async def heading(width: int) -> list[str]:
        app = sample_app()
        async with app.run_test(size=(width, 30)) as pilot:
            await pilot.pause()
            await pilot.press("R")
            await wait_until(pilot, lambda: isinstance(app.screen, RoutesScreen))
            await pilot.pause()
            lines = screen_lines(app)
            return [line.strip() for line in lines[:next(i for i, line in enumerate(lines)
                                                         if line.split()[:2] == ["Route", "Req/s"])]]

    whole = await heading(300)
    assert len(whole) == 1, whole
    phrases = set(whole[0].split(" · "))
    for width in (80, 120):
        lines = await heading(width)
        assert len(lines) > 1 or width == 120, lines
        for line in lines:
            assert set(line.split(" · ")) <= phrases, (width, line, phrases)
