"""``ssh://[user@]server[:port][/[host:]agent-port]``: an agent on a server, through the system ssh.

obsview never handles SSH credentials. It runs the user's own ``ssh`` — their config, keys,
ssh-agent and known_hosts — as::

    ssh -N -L 127.0.0.1:LOCAL:127.0.0.1:8765 -o ExitOnForwardFailure=yes -o BatchMode=yes server

and the console connects to ``ws://127.0.0.1:LOCAL``, a free local port. ssh runs in its own
session with no terminal: it can never prompt into the full-screen console (BatchMode makes
it fail instead, and the error says how to log in without a prompt).

ssh's own messages say what went wrong; :func:`explain` turns them into one clear line for
the failures people meet: authentication, a changed or unknown host key, an unreachable
server, forwarding refused, and "no agent on the far side" (ssh is in, but nothing listens on
the agent's port there: ssh then says ``open failed: connect failed``).

:class:`SshTunnel` keeps the forward up while it is open: if ssh exits (the network dropped,
the server rebooted) it is started again on the same local port after obsview's one backoff
(1, 2, 4, 8, 16 s, then every 30 s; from 1 s again once a restart works), so the console's own
reconnect finds it there; an authentication or host key failure is not retried. Closing it (on quit) ends ssh and waits for it: nothing is left listening.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import socket
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Final, Literal
from urllib.parse import urlsplit

from obsview.common.backoff import Backoff

DEFAULT_AGENT_PORT: Final = 8765
START_TIMEOUT_S: Final = 20.0
STOP_TIMEOUT_S: Final = 5.0
RESTART_BACKOFF_BASE_S: Final = 1.0
RESTART_BACKOFF_CAP_S: Final = 30.0
SSH_COMMAND_ENV: Final = "OBSVIEW_SSH_COMMAND"
"""Replaces ``ssh`` (split like a shell would): ``ssh -F ~/.ssh/fleet_config``."""

Problem = Literal["auth", "host_key_changed", "host_key_unknown", "unreachable", "forwarding_refused",
                  "no_agent", "port_in_use", "no_ssh", "failed"]
_PERMANENT: Final = frozenset({"auth", "host_key_changed", "host_key_unknown", "no_ssh"})
"""Retrying cannot fix these: the user has to act."""


class SshError(Exception):
    """ssh could not make (or keep) the tunnel; ``str()`` is one line for the user."""

    def __init__(self, problem: Problem, message: str) -> None:
        super().__init__(message)
        self.problem: Problem = problem

    @property
    def permanent(self) -> bool:
        return self.problem in _PERMANENT


@dataclass(frozen=True, slots=True)
class SshTarget:
    host: str
    user: str = ""
    port: int | None = None
    """The SSH port; None: whatever the user's ssh config says (22 by default)."""
    agent_host: str = "127.0.0.1"
    agent_port: int = DEFAULT_AGENT_PORT

    @property
    def destination(self) -> str:
        return f"{self.user}@{self.host}" if self.user else self.host

    def display(self) -> str:
        port = f":{self.port}" if self.port is not None else ""
        agent = "" if (self.agent_host, self.agent_port) == ("127.0.0.1", DEFAULT_AGENT_PORT) else (
            f"/{self.agent_port}" if self.agent_host == "127.0.0.1" else f"/{self.agent_host}:{self.agent_port}")
        return f"ssh://{self.destination}{port}{agent}"

    def login_hint(self) -> str:
        """The command that shows the user what ssh itself says."""
        port = f" -p {self.port}" if self.port is not None else ""
        return f"ssh{port} {self.destination}"


def parse_ssh_url(url: str) -> SshTarget:
    """``ssh://deploy@web-1:2222/9000`` → host web-1, user deploy, ssh port 2222, agent port
    9000 on the server's loopback. Raises ValueError saying what is wrong."""
    parts = urlsplit(url)
    if parts.scheme != "ssh" or not parts.hostname:
        raise ValueError(f"{url!r} is not an ssh://[user@]server[:port] URL")
    if parts.password is not None:
        raise ValueError(f"{url!r}: no password in the URL — obsview never handles SSH credentials; "
                         "ssh uses your keys and ssh-agent")
    try:
        ssh_port = parts.port
    except ValueError:
        raise ValueError(f"{url!r}: the SSH port must be a number from 1 to 65535") from None
    agent_host, agent_port = "127.0.0.1", DEFAULT_AGENT_PORT
    path = parts.path.strip("/")
    if path:
        host, _, port_text = path.rpartition(":")
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise ValueError(f"{url!r}: after the server, /PORT or /HOST:PORT of the agent there")
        agent_host, agent_port = (host.strip("[]") or "127.0.0.1"), int(port_text)
    return SshTarget(host=parts.hostname, user=parts.username or "", port=ssh_port,
                     agent_host=agent_host, agent_port=agent_port)


def ssh_command() -> list[str]:
    """The ssh program and options: ``$OBSVIEW_SSH_COMMAND`` or plain ``ssh``."""
    return shlex.split(os.environ.get(SSH_COMMAND_ENV, "")) or ["ssh"]


def ssh_arguments(target: SshTarget, local_port: int) -> list[str]:
    forward = f"127.0.0.1:{local_port}:{target.agent_host}:{target.agent_port}"
    port = ["-p", str(target.port)] if target.port is not None else []
    return [
        "-N", "-L", forward,
        "-o", "ExitOnForwardFailure=yes",  # a local port we cannot have is an error, not a warning
        "-o", "BatchMode=yes",  # never a prompt: there is no terminal for it
        "-o", "ServerAliveInterval=15", "-o", "ServerAliveCountMax=3",  # notice a dead link
        "-o", "ConnectTimeout=10",
        # "open failed" (no agent on the far side) is an INFO message: a LogLevel of ERROR or
        # QUIET in the user's config would hide the one clue to it.
        "-o", "LogLevel=INFO",
        *port, "--", target.destination,
    ]


def explain(stderr: str, target: SshTarget) -> SshError:
    """ssh's messages → the problem, in one line that says what to do."""
    text = stderr.lower()
    where, hint = target.display(), target.login_hint()
    if "remote host identification has changed" in text or "host key for" in text and "has changed" in text:
        return SshError("host_key_changed", f"{where}: the server's host key does not match your known_hosts "
                        f"(the server was reinstalled, or someone is in the middle); check with: {hint}")
    if "host key verification failed" in text or "no ed25519 host key is known" in text \
            or "host key is known for" in text:
        return SshError("host_key_unknown", f"{where}: the server's host key is not in your known_hosts; "
                        f"connect once with: {hint}  (and check the fingerprint)")
    if "permission denied" in text or "too many authentication failures" in text:
        return SshError("auth", f"{where}: ssh could not log in without asking (obsview never prompts: "
                        f"load your key with ssh-add, or check that `{hint} true` works)")
    if "open failed" in text and "administratively prohibited" in text:
        return SshError("forwarding_refused", f"{where}: the server refuses port forwarding "
                        "(AllowTcpForwarding in its sshd_config)")
    if "open failed" in text or "connect failed" in text:
        return SshError("no_agent", f"{where}: logged in, but no obsview agent listens on "
                        f"{target.agent_host}:{target.agent_port} there (start obsview-agent on the server)")
    if "address already in use" in text or "cannot listen to port" in text:
        return SshError("port_in_use", f"{where}: the local port was taken; trying another")
    if any(words in text for words in ("could not resolve", "connection refused", "timed out",
                                       "no route to host", "network is unreachable", "connection closed")):
        return SshError("unreachable", f"{where}: cannot reach the SSH server ({_last_line(stderr)})")
    return SshError("failed", f"{where}: ssh failed ({_last_line(stderr) or 'no message'})")


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:200] if lines else ""


def free_local_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class SshTunnel:
    """One ssh process forwarding a local port to the agent, restarted while open."""

    def __init__(
        self,
        target: SshTarget,
        *,
        command: Sequence[str] | None = None,
        on_problem: Callable[[SshError | None], None] | None = None,
        start_timeout_s: float = START_TIMEOUT_S,
        backoff_base_s: float = RESTART_BACKOFF_BASE_S,
        backoff_cap_s: float = RESTART_BACKOFF_CAP_S,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        self.target = target
        self._command = list(command) if command is not None else ssh_command()
        self.on_problem = on_problem
        """Called with each new problem, and None once it is over (the console's status)."""
        self._start_timeout = start_timeout_s
        self._retry = Backoff(backoff_base_s, backoff_cap_s)
        self._sleep = sleep
        self.local_port = 0
        self.problem: SshError | None = None
        """What is wrong now (None while the tunnel works)."""
        self.restarts = 0
        self._process: asyncio.subprocess.Process | None = None
        self._stderr: deque[str] = deque(maxlen=40)
        self._reader: asyncio.Task[None] | None = None
        self._supervisor: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.local_port}"

    async def __aenter__(self) -> SshTunnel:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> str:
        """Bring the forward up (SshError if ssh cannot), then keep it up; returns the URL."""
        for _ in range(3):  # another program may take the free port between probe and bind
            self.local_port = free_local_port()
            try:
                await self._start_once()
            except SshError as exc:
                if exc.problem != "port_in_use":
                    raise
                continue
            break
        else:
            raise SshError("port_in_use", f"{self.target.display()}: no free local port for the tunnel")
        self._supervisor = asyncio.create_task(self._supervise(), name=f"ssh-tunnel {self.target.display()}")
        return self.url

    async def close(self) -> None:
        """End ssh and wait for it: the local port is closed when this returns."""
        supervisor, self._supervisor = self._supervisor, None
        if supervisor is not None:
            supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await supervisor
        await self._stop_process()

    async def _start_once(self) -> None:
        await self._stop_process()
        self._stderr.clear()
        argv = [*self._command, *ssh_arguments(self.target, self.local_port)]
        try:
            self._process = await asyncio.create_subprocess_exec(
                *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
                start_new_session=True,  # no controlling terminal: ssh cannot prompt into the console
            )
        except FileNotFoundError:
            raise SshError("no_ssh", f"{self.target.display()}: the ssh program ({self._command[0]}) "
                           "was not found; install OpenSSH's client") from None
        self._reader = asyncio.create_task(self._read_stderr(self._process))
        try:
            async with asyncio.timeout(self._start_timeout):
                await self._wait_forwarding(self._process)
        except TimeoutError:
            await self._stop_process()
            raise SshError("unreachable", f"{self.target.display()}: no tunnel after {self._start_timeout:g} s "
                           f"({_last_line(self.stderr) or 'ssh said nothing'})") from None
        except SshError:
            await self._stop_process()
            raise

    async def _wait_forwarding(self, process: asyncio.subprocess.Process) -> None:
        """Until ssh listens on the local port; SshError with ssh's reason if it exits first."""
        while True:
            if process.returncode is not None:
                await self._drain_reader()
                raise explain(self.stderr, self.target)
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", self.local_port)
            except OSError:
                await asyncio.sleep(0.05)
                continue
            # ssh is in and listening: an earlier problem is over. Cleared here, with no await
            # since the connect, because the probe connection opened a channel to the agent's
            # port: if nothing listens there, ssh says so on stderr right away, and the reader
            # must not see that before the clearing (cleared after it, "no agent" was lost).
            self._set_problem(None)
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
            return

    async def _supervise(self) -> None:
        while True:
            process = self._process
            assert process is not None
            await process.wait()
            await self._drain_reader()
            error = explain(self.stderr, self.target)
            self._set_problem(error)
            if error.permanent or not await self._restart():
                return

    async def _restart(self) -> bool:
        """Start ssh again (the same local port: the console's URL stays right) until it works
        (True) or fails for good (False), waiting the backoff before each attempt."""
        while True:
            await self._sleep(self._retry.next())
            self.restarts += 1
            try:
                await self._start_once()
            except SshError as exc:
                self._set_problem(exc)
                if exc.permanent:
                    return False
                continue
            self._retry.reset()
            return True

    async def _stop_process(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), STOP_TIMEOUT_S)
            except TimeoutError:
                process.kill()
                await process.wait()
        await self._drain_reader()

    # ------------------------------------------------------------------ ssh's messages

    @property
    def stderr(self) -> str:
        """The last lines ssh wrote (bounded)."""
        return "\n".join(self._stderr)

    async def _read_stderr(self, process: asyncio.subprocess.Process) -> None:
        assert process.stderr is not None
        while line := await process.stderr.readline():
            text = line.decode("utf-8", "replace").rstrip()
            self._stderr.append(text)
            if "open failed" in text and process is self._process and process.returncode is None:
                # The tunnel is up but its far end is not: the console's connects fail, and
                # this says why (no agent there, or forwarding refused).
                self._set_problem(explain(text, self.target))

    async def _drain_reader(self) -> None:
        reader, self._reader = self._reader, None
        if reader is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await reader

    def _set_problem(self, problem: SshError | None) -> None:
        if problem is None and self.problem is None:
            return
        self.problem = problem
        if self.on_problem is not None:
            self.on_problem(problem)

    def agent_answered(self) -> None:
        """The console reached the agent through the tunnel: whatever was wrong is over."""
        self._set_problem(None)
