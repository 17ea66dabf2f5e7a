"""Fixtures for the ssh:// tests: a private sshd per test, or a skip saying why not."""

from __future__ import annotations

import shutil
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

# pytest runs with --import-mode=importlib, which does not put test folders on sys.path;
# the shared helpers live beside the tests under a name no other folder uses.
sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent / "app"))  # app_test_support: reading the screen

from loopback import free_port
from sshd_kit import HOST_ALIAS, PrivateSshd, find_sshd

from obsview.tui.ssh_tunnel import SshError, SshTarget, SshTunnel


@pytest.fixture
async def sshd(tmp_path: Path) -> AsyncIterator[PrivateSshd]:
    binary = find_sshd()
    if binary is None or shutil.which("ssh") is None or shutil.which("ssh-keygen") is None:
        pytest.skip("OpenSSH server or client is not installed: the ssh:// tests run a real sshd "
                    "(Debian: apt-get install openssh-server openssh-client, as .ci/run does)")
    server = PrivateSshd(binary, tmp_path, free_port())
    try:
        await server.start()
        await _can_log_in(server)
        yield server
    finally:
        await server.stop()


async def _can_log_in(server: PrivateSshd) -> None:
    """Skip where the account running the tests may not log in over SSH at all."""
    tunnel = SshTunnel(SshTarget(HOST_ALIAS), command=server.command)
    try:
        await tunnel.start()
        await tunnel.close()
    except SshError as exc:
        log = server.log_text()
        if "not allowed" in log:  # a locked account (useradd without a password), a nologin shell
            pytest.skip(f"sshd will not let {server.user} log in here: {log.split('not allowed', 1)[1][:80]}")
        raise AssertionError(f"{exc}\nsshd said:\n{log}") from None
