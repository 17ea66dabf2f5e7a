"""The token file is private (0600 in a 0700 folder) and a non-loopback bind never runs open."""

from __future__ import annotations

import asyncio
import stat
import sys
from pathlib import Path

import pytest
from proof_kit import agent_config, running_agent

from obsview.backend.agent import Agent
from obsview.backend.errors import StartupError


@pytest.fixture(autouse=True)
def private_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep platformdirs (default token file, config, state) inside tmp_path."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_agent_creates_its_token_file_0600_in_a_0700_folder(tmp_path: Path) -> None:
    token_file = tmp_path / "secrets" / "token"
    async with running_agent(agent_config(tmp_path, token_file=token_file)):
        assert mode(token_file) == 0o600
        assert mode(token_file.parent) == 0o700
        assert len(token_file.read_text().strip()) >= 32


@pytest.mark.parametrize("loose", [0o640, 0o604, 0o666])
async def test_agent_refuses_a_token_file_others_can_read(tmp_path: Path, loose: int) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("some-token\n")
    token_file.chmod(loose)
    with pytest.raises(StartupError, match="chmod 600"):
        await Agent(agent_config(tmp_path, token_file=token_file)).start()


@pytest.mark.parametrize("host", ["0.0.0.0", "::"])
async def test_non_loopback_bind_without_a_token_refuses_to_start(tmp_path: Path, host: str) -> None:
    agent = Agent(agent_config(tmp_path, listen=(host, 0)))
    with pytest.raises(StartupError, match="needs a token"):
        await agent.start()


async def test_cli_refuses_non_loopback_bind_without_a_token_in_one_line(tmp_path: Path) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "obsview.backend.cli", "--listen", "0.0.0.0:0",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 20)
    assert process.returncode == 1
    assert b"needs a token" in err and b"Traceback" not in err
    assert b"listening" not in out


async def test_cli_print_token_creates_a_private_file(tmp_path: Path) -> None:
    token_file = tmp_path / "cli" / "token"
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "obsview.backend.cli", "--print-token", "--token-file", str(token_file),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, _err = await asyncio.wait_for(process.communicate(), 20)
    assert process.returncode == 0
    assert out.decode().strip() == token_file.read_text().strip()
    assert mode(token_file) == 0o600
