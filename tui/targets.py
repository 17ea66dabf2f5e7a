"""What ``obsview ARG…`` was asked to show: agents by URL, log files, a pipe, or the demo.

    obsview                          the agent in the console config (or ws://127.0.0.1:8765)
    obsview ws://a:8765 ws://b:8765  several agents, one console
    obsview ssh://deploy@web-1       an agent on a server, through the system ssh
    obsview app.log 'logs/*.log'     files, read by an agent embedded in the console
    some-app | obsview -             a pipe, the same way
    obsview demo                     the built-in demo

Files and globs are checked here, before anything starts: a typo is one line on stderr, not
a console that waits for a file that will never come.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from obsview.tui.ssh_tunnel import parse_ssh_url

AGENT_SCHEMES = ("ws://", "wss://", "ssh://")


class TargetError(ValueError):
    """An argument that names nothing obsview can show; the message says what to type."""


@dataclass(frozen=True, slots=True)
class Targets:
    demo: bool = False
    agents: tuple[str, ...] = ()
    """ws://, wss:// and ssh:// URLs, in the order given."""
    files: tuple[str, ...] = ()
    """Paths and globs, each checked to name at least one readable file."""
    stdin: bool = False

    @property
    def local(self) -> bool:
        """Files or a pipe: an agent has to be started inside the console for them."""
        return bool(self.files) or self.stdin


def classify(args: Sequence[str]) -> Targets:
    if "demo" in args:
        if len(args) > 1:
            raise TargetError("'demo' runs on its own: obsview demo")
        return Targets(demo=True)
    agents: list[str] = []
    files: list[str] = []
    stdin = False
    for arg in args:
        if arg == "-":
            if stdin:
                raise TargetError("'-' (the pipe) can be given once")
            stdin = True
        elif arg.startswith(AGENT_SCHEMES):
            if arg.startswith("ssh://"):
                try:
                    parse_ssh_url(arg)
                except ValueError as exc:
                    raise TargetError(str(exc)) from None
            agents.append(arg)
        elif "://" in arg:
            raise TargetError(f"{arg!r}: an agent URL is ws://HOST:PORT (the agent's HTTP port serves "
                              "the websocket too) or ssh://[user@]server")
        else:
            files.append(_checked_file(arg))
    if stdin and os.isatty(0):
        raise TargetError("'-' reads a pipe: some-app | obsview -")
    return Targets(agents=tuple(agents), files=tuple(files), stdin=stdin)


def _checked_file(arg: str) -> str:
    path = os.path.expanduser(arg)
    if glob.has_magic(path):
        if not any(os.path.isfile(match) for match in glob.iglob(path)):
            raise TargetError(f"{arg}: no file matches")
        return path
    target = Path(path)
    if target.is_dir():
        raise TargetError(f"{arg} is a directory: give its files ({os.path.join(arg, '*.log')!r})")
    if not target.exists():
        raise TargetError(f"{arg}: no such file (an agent URL starts with ws:// or ssh://)")
    if not os.access(target, os.R_OK):
        raise TargetError(f"{arg}: not readable by you")
    return path
