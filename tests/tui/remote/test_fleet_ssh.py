"""``obsview URL1 URL2`` as typed: ws:// agents, and an ssh:// host mixed in (private sshd)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from sshd_kit import HOST_ALIAS, PrivateSshd
from terminal import run_in_terminal

from obsview.backend.agent import Agent
from obsview.backend.config import config_from_mapping
from obsview.tui.ssh_tunnel import SSH_COMMAND_ENV

OBSVIEW = str(Path(sys.executable).parent / "obsview")


def agent_on(tmp_path: Path, name: str) -> Agent:
    return Agent(config_from_mapping({"listen": "127.0.0.1:0", "state_dir": str(tmp_path / name),
                                      "service": "blog-api"}))


def clean_env(tmp_path: Path) -> dict[str, str]:
    """No console config or token of the user's."""
    return {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "config"),
            "XDG_DATA_HOME": str(tmp_path / "data")}


async def test_two_agent_urls_as_typed_make_one_console(tmp_path: Path) -> None:
    async with agent_on(tmp_path, "a") as one, agent_on(tmp_path, "b") as two:
        code, _ = await asyncio.to_thread(
            run_in_terminal, f"{OBSVIEW} {one.url} {two.url}", tmp_path,
            wait_for=b"2 of 2 hosts connected", env=clean_env(tmp_path))
        assert code == 0
        assert one.server.connections_total >= 1 and two.server.connections_total >= 1


async def test_an_ssh_host_mixed_with_a_ws_host_and_no_ssh_left_after(
    sshd: PrivateSshd, tmp_path: Path
) -> None:
    async with agent_on(tmp_path, "far") as far, agent_on(tmp_path, "near") as near:
        env = {**clean_env(tmp_path), SSH_COMMAND_ENV: " ".join(sshd.command)}
        code, _ = await asyncio.to_thread(
            run_in_terminal, f"{OBSVIEW} ssh://{HOST_ALIAS}/{far.port} {near.url}", tmp_path,
            wait_for=b"2 of 2 hosts connected", env=env)
        assert code == 0
        assert far.server.connections_total >= 1 and near.server.connections_total >= 1
    left = subprocess.run(["pgrep", "-f", str(sshd.client_config)], capture_output=True, text=True)
    assert left.stdout == "", f"ssh still running: {left.stdout}"
