"""Running a command on a pseudo-terminal, as a person at a terminal would."""

from __future__ import annotations

import os
import pty
import select
import signal
import time
from collections.abc import Mapping
from pathlib import Path


def run_in_terminal(shell_command: str, cwd: Path, *, wait_for: bytes, timeout: float = 60.0,
                    env: Mapping[str, str] | None = None) -> tuple[int, bytes]:
    """Run ``shell_command`` on a new pseudo-terminal as a person would (with ``env``, else
    this process's environment), wait until the screen shows ``wait_for``, press q, and
    return the exit status and everything it drew."""
    pid, master = pty.fork()
    if pid == 0:  # the child: its controlling terminal is the pty (so /dev/tty is too)
        try:
            os.chdir(cwd)
            child_env = {**(os.environ if env is None else env), "TERM": "xterm-256color",
                         "COLUMNS": "120", "LINES": "40"}
            os.execvpe("bash", ["bash", "-c", shell_command], child_env)
        finally:
            os._exit(127)  # never back into the test runner's own code in a forked copy
    screen = b""
    deadline = time.monotonic() + timeout
    pressed = False
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # the child ended and the terminal closed
                    break
                if not chunk:
                    break
                screen += chunk
            if not pressed and wait_for in screen:
                os.write(master, b"q")
                pressed = True
        else:
            raise AssertionError(f"{shell_command!r} still running after {timeout:g} s; it drew: {screen[-2000:]!r}")
    finally:
        if not pressed:
            os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        os.close(master)
    assert pressed, f"never saw {wait_for!r}; it drew: {screen[-2000:]!r}"
    return os.waitstatus_to_exitcode(status), screen
