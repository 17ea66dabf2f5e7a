"""What obsview costs while nothing happens (issue 11), each beside the same stack doing nothing.

* **agent idle CPU**: ``obsview-agent --tail EMPTY_FILE`` (journal on, no console), its CPU
  time over a window after it settled, as a share of one core; baseline: a bare
  ``websockets`` server in the same interpreter over the same window, the floor of any asyncio
  agent on this stack. Target: ≤ 0.5 %.
* **agent idle RSS**: the same two processes' resident memory at the end. Target: ≤ 35 MiB.
* **console idle CPU**: ``obsview ws://AGENT`` connected to that idle agent in a 120×40 tmux
  pane; baseline: an empty Textual app in the same kind of pane. Target: ≤ 1 %.
* **console first paint**: from spawning it to the dashboard on screen ("connected to"),
  beside an empty Textual app's first frame, both without bytecode caches (a fresh
  ``PYTHONPYCACHEPREFIX``: what the issue measured) and with them (what a pip install gives);
  the median of interleaved rounds, and the CPU seconds each had used by then, which other
  load on the machine moves less than the wall time. Target: ≤ 1.3×.

Needs tmux for the console rows (skipped with a message without it).

    uv run python benchmarks/idle.py [--quick]
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psutil

if __package__ in (None, ""):  # run as a script: make ``benchmarks`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.figures import Figure, figure, run_alone

BIN = Path(sys.executable).parent
BARE_SERVER = """
import asyncio
from websockets.asyncio.server import serve

async def main():
    async with serve(lambda ws: ws.wait_closed(), "127.0.0.1", 0) as server:
        print("listening", flush=True)
        await asyncio.Future()

asyncio.run(main())
"""
EMPTY_APP = """
from textual.app import App
from textual.widgets import Static

class Empty(App):
    def compose(self):
        yield Static("empty app ready")

Empty().run()
"""


def _cpu_s(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


def _idle_share(pid: int, settle: float, window: float) -> tuple[float, float]:
    """CPU share of one core over ``window`` seconds after ``settle``, and RSS in MiB."""
    process = psutil.Process(pid)
    time.sleep(settle)
    started, cpu = time.monotonic(), _cpu_s(process)
    time.sleep(window)
    share = (_cpu_s(process) - cpu) / (time.monotonic() - started)
    return share, process.memory_info().rss / 2**20


@contextlib.contextmanager
def _started(argv: list[str], env: dict[str, str]) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """A process that prints one line when it is ready; that line."""
    process = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert process.stdout is not None
        yield process, process.stdout.readline()
    finally:
        process.terminate()
        process.wait(timeout=10)


def _env(home: Path, **extra: str) -> dict[str, str]:
    """The user's environment with its own data and config dirs (the agent's journal there)."""
    return {**os.environ, "HOME": str(home), "XDG_DATA_HOME": str(home / "data"),
            "XDG_CONFIG_HOME": str(home / "config"), "XDG_STATE_HOME": str(home / "state"), **extra}


_PASSED = ("HOME", "XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_STATE_HOME", "PYTHONPYCACHEPREFIX",
           "PYTHONDONTWRITEBYTECODE")


class _Pane:
    """A program in a detached tmux pane, as a person's terminal would run it."""

    def __init__(self, tmux: str, name: str, argv: list[str], env: dict[str, str]) -> None:
        self.tmux, self.name = tmux, name
        self.started = time.monotonic()
        # A pane gets the tmux server's environment, not this one's (a server started earlier
        # by someone else has its own): the variables that matter go on the command line.
        settings = [f"{key}={env[key]}" for key in _PASSED if key in env]
        unset = [f"-u{key}" for key in _PASSED if key not in env]
        command = shlex.join(["env", *unset, *settings, *argv])
        subprocess.run([tmux, "new-session", "-d", "-s", name, "-x", "120", "-y", "40", command], check=True)
        pane = subprocess.run([tmux, "list-panes", "-t", name, "-F", "#{pane_pid}"], capture_output=True,
                              text=True, check=True)
        self.pid = int(pane.stdout.split()[0])

    def program_pid(self) -> int:
        """The program's pid: the pane's shell may have started it as its child."""
        shell = psutil.Process(self.pid)
        children = shell.children()
        return children[0].pid if children else shell.pid

    def wait_for(self, text: str, timeout: float = 60) -> float:
        """Seconds from the start until ``text`` is on screen."""
        while time.monotonic() - self.started < timeout:
            screen = subprocess.run([self.tmux, "capture-pane", "-p", "-t", self.name], capture_output=True,
                                    text=True).stdout
            if text in screen:
                return time.monotonic() - self.started
            time.sleep(0.01)
        raise TimeoutError(f"{text!r} not on screen after {timeout} s")

    def stop(self) -> None:
        subprocess.run([self.tmux, "kill-session", "-t", self.name], capture_output=True)


def agent_figures(home: Path, window: float) -> list[Figure]:
    """Idle CPU and RSS of a real agent beside a bare websockets server."""
    log = home / "empty.log"
    log.touch()
    env = _env(home)
    with _started([sys.executable, "-c", BARE_SERVER], env) as (bare, _):
        bare_cpu, bare_rss = _idle_share(bare.pid, 3, window)
    agent_argv = [str(BIN / "obsview-agent"), "--tail", str(log), "--listen", "127.0.0.1:0"]
    with _started(agent_argv, env) as (agent, _line):
        agent_cpu, agent_rss = _idle_share(agent.pid, 5, window)
    return [
        figure("agent idle CPU (% of a core)", agent_cpu * 100, "%", "bare websockets server", bare_cpu * 100),
        figure("agent idle RSS", agent_rss, "MiB", "bare websockets server", bare_rss),
    ]


def _first_paint(tmux: str, argv: list[str], text: str, env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds from spawning ``argv`` until ``text`` is on screen, and the CPU seconds
    the program had used by then (what the machine's other load moves least)."""
    pane = _Pane(tmux, "obsview-bench-paint", argv, env)
    try:
        wall = pane.wait_for(text)
        return wall, _cpu_s(psutil.Process(pane.program_pid()))
    finally:
        pane.stop()


def console_figures(home: Path, window: float, tmux: str, rounds: int) -> list[Figure]:
    log = home / "empty.log"
    env = _env(home)
    agent_argv = [str(BIN / "obsview-agent"), "--tail", str(log), "--listen", "127.0.0.1:0"]
    figures: list[Figure] = []
    with _started(agent_argv, env) as (_agent, line):
        url = line.split("listening on ", 1)[1].split()[0]
        programs = {"console": ([str(BIN / "obsview"), url], "connected to"),
                    "empty": ([sys.executable, "-c", EMPTY_APP], "empty app ready")}
        for label, caches in (("without bytecode caches", False), ("with bytecode caches", True)):
            paint_env = {**env, "PYTHONPYCACHEPREFIX": tempfile.mkdtemp(dir=home)}
            paint_env.pop("PYTHONDONTWRITEBYTECODE", None)
            if not caches:
                paint_env["PYTHONDONTWRITEBYTECODE"] = "1"
            else:  # a first run of each writes the caches the measured ones read
                for argv, text in programs.values():
                    _first_paint(tmux, argv, text, paint_env)
            samples: dict[str, list[tuple[float, float]]] = {name: [] for name in programs}
            for _round in range(rounds):  # interleaved: a burst of other load hits both
                for name, (argv, text) in programs.items():
                    samples[name].append(_first_paint(tmux, argv, text, paint_env))
            wall = {name: statistics.median(s[0] for s in runs) for name, runs in samples.items()}
            cpu = {name: statistics.median(s[1] for s in runs) for name, runs in samples.items()}
            figures.append(figure(f"console first paint, {label} (median of {rounds})", wall["console"], "s",
                                  f"empty Textual app, {label}", wall["empty"]))
            figures.append(figure(f"console CPU until first paint, {label}", cpu["console"], "s",
                                  f"empty Textual app, {label}", cpu["empty"]))
        idle = {}
        for name, (argv, text) in programs.items():
            pane = _Pane(tmux, "obsview-bench-idle", argv, paint_env)  # the last: with caches
            try:
                pane.wait_for(text)
                idle[name], _rss = _idle_share(pane.program_pid(), 3, window)
            finally:
                pane.stop()
        figures.append(figure("console idle CPU (% of a core), connected", idle["console"] * 100, "%",
                              "empty Textual app", idle["empty"] * 100))
    return figures


def run(quick: bool = False) -> list[Figure]:
    window = 10.0 if quick else 30.0
    with tempfile.TemporaryDirectory(prefix="obsview-idle-") as tmp:
        home = Path(tmp)
        figures = agent_figures(home, window)
        tmux = shutil.which("tmux")
        if tmux is None:
            print("idle: tmux not installed, the console rows are skipped", file=sys.stderr)
            return figures
        return figures + console_figures(home, window, tmux, rounds=3 if quick else 7)


if __name__ == "__main__":
    run_alone(run, __doc__, "10 s windows instead of 30 s")
