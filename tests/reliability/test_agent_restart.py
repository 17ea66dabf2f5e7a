"""The agent killed with SIGKILL mid-stream and started again.

The agent runs as a real process (``python -m obsview.backend.cli``) with its state directory
in ``tmp_path``; the console side is the real :class:`AgentClient`. Acks and silences must
survive the kill; the console must notice the restart and resume from the new agent's start
instead of from a sequence number that means nothing to the new process.
"""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import pytest
from loopback import free_port
from proof_kit import agent_process, now_stamp, seed_line, wait_until
from proof_kit import console as recording_console

from obsview.common.protocol import Ack, Alerts, Events, Hello, LogEvent, Message, Silence
from obsview.tui.client import AgentClient, ConnectionState


def write_config(tmp_path: Path, port: int, log_file: Path) -> Path:
    config = tmp_path / "agent.toml"
    config.write_text(
        f'listen = "127.0.0.1:{port}"\n'
        f'tail = ["{log_file}"]\n'
        f'state_dir = "{tmp_path / "state"}"\n'
        "metrics_interval_s = 0.1\n"
        "[[alerts.rules]]\n"
        'name = "traffic_seen"\n'
        'metric = "request_rate"\n'
        'op = ">"\n'
        "threshold = 0\n"
        'keep_firing_for = "1h"\n'
        'summary = "requests are flowing"\n',
        encoding="utf-8",
    )
    return config


class Console:
    """What a console keeps: the events it holds, the last alert list, its connection state."""

    def __init__(self, url: str) -> None:
        self.events: list[LogEvent] = []
        self.alerts: Alerts | None = None
        self.states: list[ConnectionState] = []
        self.hellos: list[Hello] = []
        self.client = AgentClient(
            url, on_message=self.on_message, on_state=self.states.append,
            since_seq=lambda: self.events[-1].seq if self.events else None,
            backoff_initial=0.05, backoff_max=0.2,
        )

    def on_message(self, message: Message) -> None:
        if isinstance(message, Events):
            self.events.extend(message.events)
        elif isinstance(message, Alerts):
            self.alerts = message
        elif isinstance(message, Hello):
            self.hellos.append(message)

    def numbers(self) -> list[int]:
        return [int(event.extra["n"]) for event in self.events]

    def connected(self) -> bool:
        return bool(self.states) and self.states[-1].status == "connected"


def append(log_file: Path, numbers: range) -> None:
    with open(log_file, "ab") as file:
        file.write(b"".join(seed_line(n, stamp=now_stamp()) for n in numbers))  # live traffic


@pytest.mark.timeout(40)
async def test_sigkill_keeps_ack_and_silence_and_console_resumes_honestly(tmp_path: Path) -> None:
    log_file = tmp_path / "app.log"
    log_file.touch()
    port = free_port()
    config = write_config(tmp_path, port, log_file)
    console = Console(f"ws://127.0.0.1:{port}")
    runner = asyncio.create_task(console.client.run())
    try:
        async with agent_process(config) as first:
            await wait_until(console.connected, what="the console to connect")
            append(log_file, range(0, 100))
            await wait_until(lambda: len(console.events) >= 100, what="the first 100 lines")

            def firing() -> list[str]:
                alerts = console.alerts.alerts if console.alerts else ()
                return [a.fingerprint for a in alerts if a.state == "firing"]

            await wait_until(lambda: bool(firing()), what="the alert to fire")
            fingerprint = firing()[0]
            await console.client.send(Ack(fingerprint=fingerprint, by="alice", note="on it"))
            await console.client.send(
                Silence(matchers={"alertname": "other"}, duration_s=3600, by="alice", reason="maintenance")
            )

            def acked_and_silenced() -> bool:
                if console.alerts is None or not console.alerts.silences:
                    return False
                return any(a.ack is not None for a in console.alerts.alerts)

            await wait_until(acked_and_silenced, what="the ack and the silence")
            first.send_signal(signal.SIGKILL)
            await first.wait()
        await wait_until(lambda: console.states[-1].status == "reconnecting", what="reconnecting")
        before_kill = console.numbers()
        append(log_file, range(100, 150))  # written while no agent runs

        console.alerts = None
        async with agent_process(config):
            await wait_until(lambda: len(console.hellos) >= 2 and console.connected(), what="reconnect")
            append(log_file, range(150, 200))
            await wait_until(lambda: 199 in console.numbers(), what="lines after the restart")
            await wait_until(lambda: console.alerts is not None and bool(console.alerts.alerts), what="alerts")

            # Ack and silence survived SIGKILL (they are saved when made, not at exit).
            assert console.alerts is not None
            (alert,) = [a for a in console.alerts.alerts if a.fingerprint == fingerprint]
            assert alert.ack is not None and (alert.ack.by, alert.ack.note) == ("alice", "on it")
            assert [(s.matchers, s.by) for s in console.alerts.silences] == [({"alertname": "other"}, "alice")]

            # The console noticed the restart and did not skip the new agent's events because
            # its old sequence number was ahead of the new numbering.
            old_hello, new_hello = console.hellos[0], console.hellos[-1]
            assert new_hello.started_at != old_hello.started_at
            after = console.numbers()[len(before_kill):]
            assert before_kill == list(range(100))
            # Lines 100-149 were written while no agent ran: the tail checkpoint reads them.
            assert after == list(range(100, 200)), "every line the new agent read, once, in order"
    finally:
        await console.client.close()
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)


@pytest.mark.timeout(40)
async def test_lines_written_while_the_agent_was_down_are_read_after_restart(tmp_path: Path) -> None:
    log_file = tmp_path / "app.log"
    log_file.touch()
    port = free_port()
    config = write_config(tmp_path, port, log_file)
    url = f"ws://127.0.0.1:{port}"
    async with agent_process(config) as first:
        async with recording_console(url) as (_ws, recorded):
            append(log_file, range(0, 50))
            await wait_until(lambda: 49 in recorded.numbers(), what="the first lines")
        first.send_signal(signal.SIGKILL)
        await first.wait()
    append(log_file, range(50, 100))
    async with agent_process(config), recording_console(url, since_seq=0) as (_ws, recorded):
        append(log_file, range(100, 150))
        await wait_until(lambda: 149 in recorded.numbers(), what="lines after the restart")
        # A console that holds nothing gets the history too: the lines read before the kill
        # are in it once (committed then, or read again from the journal's offsets), then
        # the ones written while it was down.
        assert recorded.numbers() == list(range(150))
