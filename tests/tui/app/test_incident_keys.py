"""``w`` writes the filtered view as an incident file; ``obsview replay`` shows one again."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

import msgspec
import orjson
import pytest
from app_test_support import screen_lines, screen_text, wait_until

from obsview.backend.agent import Agent
from obsview.backend.config import AgentConfig
from obsview.common.iso_time import iso_utc
from obsview.common.protocol import AlertInfo, Alerts, Events, LogEvent, Metrics, encode
from obsview.tui.app import ObsviewApp
from obsview.tui.cli import main
from obsview.tui.export import export
from obsview.tui.incident import FORMAT, Header, event_frames, read_incident, write_incident
from obsview.tui.replay import ReplayApp, Replayer
from obsview.tui.screenshots import utc_time
from obsview.tui.widgets.latency import LatencyPanel
from obsview.tui.widgets.rate_chart import RateChart

NOW = 1_796_300_000.0
ALERT = AlertInfo("fp", "api_errors", "critical", "firing", "error_rate", ">", 0.05, 0.4, "errors at 40%")


def recorded() -> list[object]:
    events = tuple(LogEvent(ts=NOW + n, level="ERROR" if n % 2 else "INFO", message=f"line {n}", seq=n + 1)
                   for n in range(20))
    return [Events(events), Alerts((ALERT,))]


async def test_w_writes_the_filtered_view_and_replay_shows_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    app = ObsviewApp(messages=recorded(), clock=lambda: NOW)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.dashboard.buffer.total == 20)
        await pilot.press("slash", *"level:error", "enter")
        await pilot.press("w")
        await wait_until(pilot, lambda: any(tmp_path.glob("obsview-incident-*.jsonl.gz")))
    (path,) = tmp_path.glob("obsview-incident-*.jsonl.gz")
    incident = read_incident(path)
    assert incident.header.filter == "level:error"
    events = [e for _t, m in incident.frames if isinstance(m, Events) for e in m.events]
    assert [e.message for e in events] == [f"line {n}" for n in range(1, 20, 2)]

    clock = [0.0]
    replay = ReplayApp(Replayer(incident, speed=10, clock=lambda: clock[0]), clock=lambda: NOW)
    async with replay.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: "line 1" in screen_text(replay))
        assert "line 19" not in screen_text(replay) and "api_errors" in screen_text(replay)
        assert "replay" in screen_text(replay)
        clock[0] = 2.0  # 20 s of incident time at x10
        await wait_until(pilot, lambda: "line 19" in screen_text(replay))
        await pilot.press("less_than_sign")  # a minute back: the start, shown again from there
        await wait_until(pilot, lambda: replay.dashboard.buffer.total == 1)


def test_replay_refuses_a_file_that_is_not_an_incident(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    assert main(["replay", str(path)]) == 2
    assert "is not an obsview incident file" in capsys.readouterr().err


def test_export_says_what_a_when_should_look_like(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", "--since", "yesterday", "out.jsonl.gz"]) == 2
    assert "--since" in capsys.readouterr().err


@pytest.mark.timeout(30)
@pytest.mark.parametrize("when", ["15m", "10:00", "ISO"])
async def test_export_from_the_command_line_as_the_readme_writes_it(tmp_path: Path, when: str) -> None:
    """``obsview export URL --since WHEN --filter EXPR FILE``: a real process, a real agent."""
    now = time.time()
    since = {"15m": "15m", "10:00": time.strftime("%H:%M", time.localtime(now - 60)),
             "ISO": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(now - 60))}[when]
    path = tmp_path / "incident.jsonl.gz"
    config = AgentConfig(listen=("127.0.0.1", 0), state_dir=tmp_path / "state", rules=[])
    async with Agent(config) as agent:
        await agent.ingest([LogEvent(ts=now - 30 + n, level="ERROR" if n % 2 else "INFO", message=f"line {n}")
                            for n in range(20)])
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "obsview.tui.cli", "export", agent.url, "--since", since,
            "--filter", "level:error", str(path),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=os.environ | {"HOME": str(tmp_path)},
        )
        out, err = await asyncio.wait_for(process.communicate(), 20)
    assert process.returncode == 0, err.decode()
    assert out.decode().startswith(f"wrote {path}: 10 events")
    events = [e for _t, m in read_incident(path).frames if isinstance(m, Events) for e in m.events]
    assert [e.message for e in events] == [f"line {n}" for n in range(1, 20, 2)]


@pytest.mark.timeout(40)
async def test_an_export_of_history_read_from_a_backlog_replays_its_requests_and_latency(tmp_path: Path) -> None:
    """A log of yesterday read from its start, exported over a quarter of an hour of its own
    time: the file held its 6,251 events but no minute, and the replay said "waiting for
    metrics…" in the Requests and Latency panels all along."""
    start = (time.time() // 3600 - 20) * 3600  # yesterday, on the hour
    log = tmp_path / "app.log"
    log.write_bytes(b"".join(
        orjson.dumps({"timestamp": iso_utc(start + n * 6), "level": "info", "message": "Request completed",
                      "request": {"id": f"req-{n}", "method": "GET", "url": "/api/posts"},
                      "response": {"statusCode": 500 if n % 10 == 0 else 200, "responseTime": 20 + n % 30}})
        + b"\n" for n in range(300)))  # 30 minutes, 10 a minute
    path = tmp_path / "incident.jsonl.gz"
    config = AgentConfig(listen=("127.0.0.1", 0), state_dir=tmp_path / "state", tail=[str(log)], from_start=True)
    async with Agent(config) as agent:
        while agent.metrics.backlog.requests < 300:
            await asyncio.sleep(0.05)
        await asyncio.sleep(1.5)  # a tick journals the history's minutes
        line = await export(agent.url, token=None, since=start + 600, until=start + 1500 - 1, expression="", path=path)
    assert "150 events" in line and "15 minutes" in line, line
    (metrics,) = [m for _t, m in read_incident(path).frames if isinstance(m, Metrics)]
    backlog = metrics.backlog
    assert backlog is not None and backlog.requests == 150 and backlog.errors == 15
    assert [p.ts for p in backlog.minutes] == [start + 600 + 60 * m for m in range(15)]

    replay = ReplayApp(Replayer(read_incident(path), clock=lambda: 0.0), time_format=utc_time)
    async with replay.run_test(size=(120, 40)) as pilot:
        label = f"history, {utc_time(start + 600)[:5]}–{utc_time(start + 1494)[:5]}"
        await wait_until(pilot, lambda: replay.dashboard.query_one(RateChart).border_subtitle == label)
        assert replay.dashboard.query_one(LatencyPanel).border_subtitle == label
        text = screen_text(replay)
        assert "waiting for metrics" not in text and "failed ≥400 10.0 %" in text, text


async def test_a_replayed_alert_is_as_old_as_it_was_at_that_point_of_the_incident(tmp_path: Path) -> None:
    path = tmp_path / "incident.jsonl.gz"
    fired = msgspec.structs.replace(ALERT, fired_at=NOW + 10)
    frames = [(NOW, encode(Events((LogEvent(ts=NOW, level="INFO", message="start", seq=1),)))),
              (NOW + 10, encode(Alerts((fired,)))),
              (NOW + 300, encode(Events((LogEvent(ts=NOW + 300, level="INFO", message="end", seq=2),))))]
    write_incident(path, Header(FORMAT, NOW, "test", NOW, NOW + 300), frames)
    clock = [0.0]
    replay = ReplayApp(Replayer(read_incident(path), clock=lambda: clock[0]))  # no clock of its own
    async with replay.run_test(size=(120, 40)) as pilot:
        clock[0] = 40.0  # 30 s after the alert fired, in the incident's time
        await wait_until(pilot, lambda: "api_errors" in screen_text(replay))
        replay.dashboard.refresh_ages()
        await pilot.pause()
        assert "firing 30s" in screen_text(replay)


def minute_of_events(path: Path, minutes: int) -> Path:
    """An incident file of one event a second for ``minutes`` minutes (``second N``)."""
    events = [LogEvent(ts=NOW + n, level="INFO", message=f"second {n}", seq=n + 1) for n in range(minutes * 60)]
    write_incident(path, Header(FORMAT, NOW, "test", NOW, NOW + minutes * 60), event_frames(events))
    return path


def stream_line(app: ReplayApp) -> str:
    """The status bar's second line: levels, counts, losses, the follow state."""
    return next(line for line in screen_lines(app) if "levels" in line)


async def test_seeking_a_replay_back_and_forth_shows_true_counts_and_no_eviction(tmp_path: Path) -> None:
    """Seeking back started the dashboard over and counted every event it had shown as
    evicted: "1,810 of 1,810 events  2,227 oldest evicted" with a buffer of 100,000."""
    clock = [0.0]
    replay = ReplayApp(Replayer(read_incident(minute_of_events(tmp_path / "i.jsonl.gz", 10)), clock=lambda: clock[0]))
    clock[0] = 120.0  # two minutes in: seconds 0 to 120 shown
    async with replay.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: "121 of 121 events" in stream_line(replay))
        for key, shown in [(">", 181), (">", 241), ("<", 181), ("<", 121), ("<", 61), (">", 121), ("<", 61)]:
            await pilot.press({"<": "less_than_sign", ">": "greater_than_sign"}[key])
            await wait_until(pilot, lambda shown=shown: f"{shown} of {shown} events" in stream_line(replay))
            assert "evicted" not in stream_line(replay), (key, stream_line(replay))
            assert replay.dashboard.buffer.evicted == 0
        clock[0] += 600.0  # played on to the end
        await wait_until(pilot, lambda: "600 of 600 events" in stream_line(replay))
        assert "evicted" not in stream_line(replay)


async def test_a_paused_replay_does_not_say_that_the_log_follows(tmp_path: Path) -> None:
    clock = [0.0]
    replay = ReplayApp(Replayer(read_incident(minute_of_events(tmp_path / "i.jsonl.gz", 1)), clock=lambda: clock[0]))
    clock[0] = 30.0
    async with replay.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: "31 of 31 events" in stream_line(replay))
        assert stream_line(replay).endswith("following ")
        await pilot.press("P")
        await wait_until(pilot, lambda: "following" not in stream_line(replay))
        assert stream_line(replay).endswith("replay paused ")
        await pilot.press("greater_than_sign")  # seeking while paused: still paused
        await wait_until(pilot, lambda: "60 of 60 events" in stream_line(replay))
        assert stream_line(replay).endswith("replay paused ")
        await pilot.press("P")
        await wait_until(pilot, lambda: stream_line(replay).endswith("following "))
