"""``obsview ssh://…``: the console on an agent behind a private sshd, in-process and as typed."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from app_test_support import screen_text, wait_until
from loopback import free_port
from sshd_kit import HOST_ALIAS, PrivateSshd, keygen
from terminal import run_in_terminal

from obsview.backend.agent import Agent
from obsview.backend.config import config_from_mapping
from obsview.common.protocol import LogEvent
from obsview.tui.app import ObsviewApp
from obsview.tui.ssh_tunnel import SSH_COMMAND_ENV, SshTarget, SshTunnel

OBSVIEW = str(Path(sys.executable).parent / "obsview")
FAST_RETRY = {"backoff_initial": 0.05, "backoff_max": 0.3}


def status_line(app: ObsviewApp) -> str:
    return str(app.dashboard.query_one("#sb-connection").content)  # type: ignore[attr-defined]


def agent_on(tmp_path: Path, port: int = 0) -> Agent:
    return Agent(config_from_mapping({"listen": f"127.0.0.1:{port}", "state_dir": str(tmp_path / "agent"),
                                      "service": "blog-api"}))


async def test_the_console_through_the_tunnel_and_without_an_agent_at_the_far_end(
    sshd: PrivateSshd, tmp_path: Path
) -> None:
    agent = agent_on(tmp_path)
    await agent.start()
    target = SshTarget(HOST_ALIAS, agent_port=agent.port)
    async with SshTunnel(target, command=sshd.command, backoff_base_s=0.1) as tunnel:
        app = ObsviewApp(url=tunnel.url, label=target.display(), tunnel=tunnel, client_options=FAST_RETRY)
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_until(pilot, lambda: f"connected to ssh://{HOST_ALIAS}/{agent.port}" in status_line(app))
            await agent.ingest([LogEvent(ts=1_795_618_800.0, level="WARN", message="over ssh")])
            await wait_until(pilot, lambda: "over ssh" in screen_text(app))
            await agent.stop()  # ssh stays up; nothing listens behind it any more
            await wait_until(pilot, lambda: "no obsview agent listens on 127.0.0.1:" in status_line(app))
            agent = agent_on(tmp_path, agent.port)
            await agent.start()
            await wait_until(pilot, lambda: "connected to ssh://" in status_line(app))
    await agent.stop()


async def test_obsview_ssh_as_typed_leaves_no_ssh_behind(sshd: PrivateSshd, tmp_path: Path) -> None:
    async with agent_on(tmp_path) as agent:
        env = {**os.environ, SSH_COMMAND_ENV: " ".join(sshd.command)}
        code, _ = await asyncio.to_thread(
            run_in_terminal, f"{OBSVIEW} ssh://{HOST_ALIAS}/{agent.port}", tmp_path,
            wait_for=f"connected to ssh://{HOST_ALIAS}/{agent.port}".encode(), env=env)
        assert code == 0
        assert agent.server.connections_total >= 1
    left = subprocess.run(["pgrep", "-f", str(sshd.client_config)], capture_output=True, text=True)
    assert left.stdout == "", f"ssh still running: {left.stdout}"


async def test_obsview_ssh_says_why_it_cannot_log_in(sshd: PrivateSshd, tmp_path: Path) -> None:
    keygen(tmp_path / "stranger")
    sshd.write_client_config(tmp_path / "stranger")
    process = await asyncio.create_subprocess_exec(
        OBSVIEW, f"ssh://{HOST_ALIAS}/{free_port()}", stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env={**os.environ, SSH_COMMAND_ENV: " ".join(sshd.command)})
    _, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 1
    assert err.decode().startswith(f"obsview: ssh://{HOST_ALIAS}/") and "ssh could not log in without asking" in err.decode()
