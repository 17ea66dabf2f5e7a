"""``obsview FILE…`` and ``some-app | obsview -``: an agent embedded in the console reads them."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

from app_test_support import screen_text, wait_until
from terminal import run_in_terminal

from obsview.tui.app import ObsviewApp
from obsview.tui.embedded import file_agent


def write_log(path: Path, lines: int) -> None:
    with path.open("w") as f:
        for i in range(lines):
            f.write(json.dumps({"level": "warn" if i % 10 == 0 else "info", "message": f"line {i}",
                                "timestamp": "2026-12-03T10:00:00.000Z"}) + "\n")


def status_line(app: ObsviewApp) -> str:
    return str(app.dashboard.query_one("#sb-connection").content)  # type: ignore[attr-defined]


async def refused(url: str) -> bool:
    host, port = url.removeprefix("ws://").rsplit(":", 1)
    try:
        _, writer = await asyncio.open_connection(host, int(port))
    except OSError:
        return True
    writer.close()
    return False


async def test_a_file_is_shown_whole_with_its_load_and_nothing_listens_after(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    write_log(log, 2000)
    async with file_agent([str(log)]) as agent:
        app = ObsviewApp(url=agent.url, label="app.log", load_progress=agent.progress)
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_until(pilot, lambda: "2,000 lines read" in status_line(app))
            assert "connected to app.log · " in status_line(app)
            await wait_until(pilot, lambda: app.dashboard.buffer.total == 2000)
            assert app.dashboard.buffer[0].message == "line 0"  # from the start, like lnav
        url = agent.url
    assert await refused(url)


async def test_from_end_shows_only_new_lines(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    write_log(log, 50)
    async with file_agent([str(log)], from_start=False) as agent:
        with log.open("a") as f:
            f.write('{"level":"error","message":"written after the start"}\n')
        app = ObsviewApp(url=agent.url)
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_until(pilot, lambda: app.dashboard.buffer.total == 1)
            assert app.dashboard.buffer[0].message == "written after the start"


async def test_a_pipe_is_read_until_it_ends(tmp_path: Path) -> None:
    read_end, write_end = os.pipe()
    try:
        async with file_agent([], stdin_fd=read_end) as agent:
            app = ObsviewApp(url=agent.url, label="stdin", load_progress=agent.progress)
            async with app.run_test(size=(120, 40)) as pilot:
                os.write(write_end, b"[ERROR] first\n[INFO] second\n")
                os.close(write_end)
                write_end = -1
                await wait_until(pilot, lambda: "2 lines read" in status_line(app))
                await wait_until(pilot, lambda: "second" in screen_text(app))
    finally:
        os.close(read_end)
        if write_end != -1:
            os.close(write_end)


def test_the_commands_as_typed_in_a_terminal(tmp_path: Path) -> None:
    write_log(tmp_path / "app.log", 300)
    obsview = Path(sys.executable).parent / "obsview"
    code, _ = run_in_terminal(f"{obsview} app.log", tmp_path, wait_for=b"300 lines read")
    assert code == 0
    # The pipe: keys still come from the terminal (q quits), lines from the pipe.
    code, _ = run_in_terminal(f"cat app.log | {obsview} -", tmp_path, wait_for=b"300 lines read")
    assert code == 0


async def test_a_pipe_at_its_end_is_said_to_have_ended(tmp_path: Path) -> None:
    """stdin at EOF ended by itself: nobody stopped it. (The wire keeps the state ``stopped``.)"""
    read_end, write_end = os.pipe()
    try:
        async with file_agent([], stdin_fd=read_end) as agent:
            app = ObsviewApp(url=agent.url, label="stdin", load_progress=agent.progress)
            async with app.run_test(size=(160, 40)) as pilot:
                os.write(write_end, b"[INFO] only\n")
                os.close(write_end)
                write_end = -1
                sources = app.dashboard.query_one("#sb-sources")
                await wait_until(pilot, lambda: "stdin" in str(sources.content), timeout=20)  # type: ignore[attr-defined]
                assert str(sources.content) == "stdin ended"  # type: ignore[attr-defined]
    finally:
        os.close(read_end)
        if write_end != -1:
            os.close(write_end)
