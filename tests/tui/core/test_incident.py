"""Incident files (round trip, damaged files), times as people type them, and the replayer."""

from __future__ import annotations

import datetime
import gzip
from pathlib import Path

import pytest

from obsview.common.protocol import AlertInfo, Alerts, Events, LogEvent, encode
from obsview.tui.incident import FORMAT, Header, IncidentError, event_frames, parse_when, read_incident, write_incident
from obsview.tui.replay import Replayer

NOW = datetime.datetime(2026, 12, 3, 12, 30).astimezone().timestamp()


@pytest.mark.parametrize(("text", "expected"), [
    ("15m", NOW - 900), ("2h", NOW - 7200), ("1d", NOW - 86400), ("90s", NOW - 90),
    ("10:00", datetime.datetime(2026, 12, 3, 10, 0).astimezone().timestamp()),
    ("13:00", datetime.datetime(2026, 12, 2, 13, 0).astimezone().timestamp()),  # still to come: yesterday
    ("2026-12-03T09:15:00", datetime.datetime(2026, 12, 3, 9, 15).astimezone().timestamp()),
    ("2026-12-03T09:15:00Z", datetime.datetime(2026, 12, 3, 9, 15, tzinfo=datetime.UTC).timestamp()),
])
def test_when(text: str, expected: float) -> None:
    assert parse_when(text, NOW) == pytest.approx(expected)


@pytest.mark.parametrize("text", ["yesterday", "25:00", "15x", ""])
def test_a_time_nobody_can_read_says_what_is_expected(text: str) -> None:
    with pytest.raises(ValueError, match="expected|not a time"):
        parse_when(text, NOW)


def alerts(state: str) -> Alerts:
    return Alerts((AlertInfo("fp", "errors", "critical", state, "error_rate", ">", 0.05, 0.5, "boom"),))


def sample(path: Path) -> None:
    events = [LogEvent(ts=100.0 + n * 0.05, level="INFO", message=f"e{n}", seq=n + 1) for n in range(40)]
    frames = [*event_frames(events), (100.5, encode(alerts("firing"))), (101.5, encode(alerts("resolved")))]
    write_incident(path, Header(FORMAT, 0.0, "test", 100.0, 102.0, "level:info"), frames)


def test_an_incident_file_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "incident.jsonl.gz"
    sample(path)
    incident = read_incident(path)
    assert incident.header.filter == "level:info"
    kinds = [type(message).__name__ for _t, message in incident.frames]
    assert kinds.count("Alerts") == 2 and [t for t, _m in incident.frames] == sorted(t for t, _m in incident.frames)
    replayed = [e.message for _t, m in incident.frames if isinstance(m, Events) for e in m.events]
    assert replayed == [f"e{n}" for n in range(40)]


def test_a_write_reports_its_progress_every_hundredth_and_at_the_last_frame(tmp_path: Path) -> None:
    """The console shows it: writing 100k events took 3.8 s with nothing on screen."""
    frames = [(float(n), encode(alerts("firing"))) for n in range(251)]
    reported: list[tuple[int, int]] = []
    write_incident(tmp_path / "incident.jsonl.gz", Header(FORMAT, 0.0, "test", 0.0, 250.0), frames,
                   lambda written, total: reported.append((written, total)))
    assert reported == [(written, 251) for written in [*range(2, 251, 2), 251]]


def test_a_write_that_fails_midway_leaves_the_previous_file_whole(tmp_path: Path) -> None:
    """An incident file is replaced whole or not at all: a write that fails after its first
    lines (here a frame that cannot be encoded; a full disk alike) used to leave half a gzip
    where the previous file was."""
    path = tmp_path / "incident.jsonl.gz"
    sample(path)
    before = path.read_bytes()
    broken = [(100.0, encode(alerts("firing"))), (101.0, None)]
    with pytest.raises(TypeError):
        write_incident(path, Header(FORMAT, 0.0, "test", 100.0, 102.0), broken)  # type: ignore[list-item]
    assert path.read_bytes() == before and read_incident(path).header.filter == "level:info"
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


@pytest.mark.parametrize("content", [b"not gzip at all", gzip.compress(b"{}\n"), gzip.compress(
    b'{"obsview_incident":1,"created":0,"source":"x","since":0,"until":1}\n{"t":1,"frame":{"v":1,"type":"events"}}\n')])
def test_a_damaged_or_foreign_file_is_refused_with_its_name(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "x.jsonl.gz"
    path.write_bytes(content)
    with pytest.raises(IncidentError, match=str(path)):
        read_incident(path)


def test_the_replayer_delivers_frames_at_their_offsets_and_seeks(tmp_path: Path) -> None:
    path = tmp_path / "incident.jsonl.gz"
    sample(path)
    now = [0.0]
    replayer = Replayer(read_incident(path), speed=2.0, clock=lambda: now[0])
    assert replayer.length == pytest.approx(1.9)  # the last events frame, at 101.9
    first = replayer.due()
    assert [type(m).__name__ for m in first] == ["Events"]  # what is stamped at offset 0
    now[0] = 0.2  # x2: 0.4 s of incident time
    assert not any(isinstance(m, Alerts) for m in replayer.due())
    now[0] = 0.26
    assert [m.alerts[0].state for m in replayer.due() if isinstance(m, Alerts)] == ["firing"]
    replayer.toggle_pause()
    now[0] = 10.0
    assert replayer.due() == [] and replayer.offset == pytest.approx(0.52)
    assert replayer.seek(0.0) is True  # backwards: the caller starts over
    assert [type(m).__name__ for m in replayer.due()] == ["Events"]
    assert replayer.seek(5.0) is False
    assert [m.alerts[0].state for m in replayer.due() if isinstance(m, Alerts)] == ["firing", "resolved"]
