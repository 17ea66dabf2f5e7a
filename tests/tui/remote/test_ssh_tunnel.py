"""``ssh://`` through the system ssh against a private sshd: a real agent at the far end."""

from __future__ import annotations

import asyncio
import sys
import textwrap
from pathlib import Path

import pytest
from loopback import free_port
from polling import wait_until
from sshd_kit import HOST_ALIAS, PrivateSshd, keygen
from websockets.asyncio.client import connect

from obsview.backend.agent import Agent
from obsview.backend.config import config_from_mapping
from obsview.common.protocol import Hello, decode
from obsview.tui.ssh_tunnel import SshError, SshTarget, SshTunnel, parse_ssh_url


def agent_at(tmp_path: Path) -> Agent:
    return Agent(config_from_mapping({"listen": "127.0.0.1:0", "state_dir": str(tmp_path / "agent")}))


async def hello_through(url: str) -> Hello:
    async with connect(url, open_timeout=10) as ws:
        message = decode(await asyncio.wait_for(ws.recv(), 10))
    assert isinstance(message, Hello)
    return message


async def refused(port: int) -> bool:
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return True
    writer.close()
    return False


async def test_the_tunnel_reaches_the_agent_and_closes_with_nothing_left_listening(
    sshd: PrivateSshd, tmp_path: Path
) -> None:
    async with agent_at(tmp_path) as agent:
        tunnel = SshTunnel(SshTarget(HOST_ALIAS, agent_port=agent.port), command=sshd.command)
        url = await tunnel.start()
        try:
            assert url == f"ws://127.0.0.1:{tunnel.local_port}" and tunnel.local_port != agent.port
            assert (await hello_through(url)).host == agent.hostname
            assert tunnel.problem is None
        finally:
            await tunnel.close()
        assert await refused(tunnel.local_port)


async def test_ssh_dropping_is_restarted_on_the_same_local_port(sshd: PrivateSshd, tmp_path: Path) -> None:
    async with agent_at(tmp_path) as agent:
        problems: list[SshError | None] = []
        tunnel = SshTunnel(SshTarget(HOST_ALIAS, agent_port=agent.port), command=sshd.command,
                           backoff_base_s=0.1, on_problem=problems.append)
        async with tunnel:
            port = tunnel.local_port
            assert tunnel._process is not None
            tunnel._process.kill()  # as if the link died
            await wait_until(lambda: tunnel.restarts == 1 and tunnel.problem is None, what="ssh restarted")
            assert tunnel.local_port == port
            await hello_through(tunnel.url)
        assert problems and problems[-1] is None


FAKE_SSH = textwrap.dedent("""
    import socket, sys, time
    state = open(sys.argv[1]).read()
    if state != "up":
        sys.exit("ssh: connect to host web-1 port 22: Connection refused")
    local_port = int(sys.argv[sys.argv.index("-L") + 1].split(":")[1])
    listener = socket.create_server(("127.0.0.1", local_port))
    while open(sys.argv[1]).read() == "up":
        time.sleep(0.01)
    sys.exit("Connection to web-1 closed by remote host.")
""")


async def test_restarts_follow_the_one_backoff_and_start_again_from_1s_after_one_works(tmp_path: Path) -> None:
    """A fake ssh whose server is "up" or "down" as a file says: the waits between restarts
    are common.backoff's 1, 2, 4, 8, 16, 30, 30 s, and a restart that works resets them."""
    (tmp_path / "fake_ssh.py").write_text(FAKE_SSH, encoding="utf-8")
    server = tmp_path / "server"
    server.write_text("up", encoding="utf-8")
    waits: list[float] = []

    async def sleep(delay: float) -> None:
        waits.append(delay)
        if len(waits) == 7:
            server.write_text("up", encoding="utf-8")  # the server is back: the 8th start works
        await asyncio.sleep(0)

    tunnel = SshTunnel(SshTarget("web-1"), command=[sys.executable, str(tmp_path / "fake_ssh.py"), str(server)],
                       sleep=sleep)
    async with tunnel:
        server.write_text("down", encoding="utf-8")
        await wait_until(lambda: tunnel.restarts == 7 and tunnel.problem is None, what="ssh back after 7 restarts")
        assert waits == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]
        server.write_text("down", encoding="utf-8")
        await wait_until(lambda: len(waits) == 9, what="two more waits")
        assert waits[7:9] == [1.0, 2.0]
        assert tunnel.problem is not None and tunnel.problem.problem == "unreachable"


async def test_no_agent_on_the_far_side_is_named(sshd: PrivateSshd) -> None:
    tunnel = SshTunnel(SshTarget(HOST_ALIAS, agent_port=free_port()), command=sshd.command)
    async with tunnel:
        await wait_until(lambda: tunnel.problem is not None, what="ssh to report the failed forward")
        assert tunnel.problem is not None and tunnel.problem.problem == "no_agent"
        assert "no obsview agent listens on 127.0.0.1:" in str(tunnel.problem)


async def test_a_key_the_server_does_not_accept_is_an_authentication_error(
    sshd: PrivateSshd, tmp_path: Path
) -> None:
    keygen(tmp_path / "stranger")
    sshd.write_client_config(tmp_path / "stranger")
    with pytest.raises(SshError) as caught:
        await SshTunnel(SshTarget(HOST_ALIAS), command=sshd.command).start()
    assert caught.value.problem == "auth" and caught.value.permanent
    assert "ssh could not log in without asking" in str(caught.value)


async def test_a_changed_host_key_is_refused(sshd: PrivateSshd, tmp_path: Path) -> None:
    sshd.trust(keygen(tmp_path / "impostor"))
    with pytest.raises(SshError) as caught:
        await SshTunnel(SshTarget(HOST_ALIAS), command=sshd.command).start()
    assert caught.value.problem == "host_key_changed"
    assert "does not match your known_hosts" in str(caught.value)


async def test_an_unknown_host_key_is_not_accepted_silently(sshd: PrivateSshd) -> None:
    sshd.known_hosts.write_text("", encoding="ascii")
    with pytest.raises(SshError) as caught:
        await SshTunnel(SshTarget(HOST_ALIAS), command=sshd.command).start()
    assert caught.value.problem == "host_key_unknown"
    assert f"connect once with: ssh {HOST_ALIAS}" in str(caught.value)


@pytest.mark.parametrize(("url", "target"), [
    ("ssh://web-1", SshTarget("web-1")),
    ("ssh://deploy@web-1:2222", SshTarget("web-1", "deploy", 2222)),
    ("ssh://deploy@web-1/9000", SshTarget("web-1", "deploy", agent_port=9000)),
    ("ssh://web-1/[::1]:9000", SshTarget("web-1", agent_host="::1", agent_port=9000)),
])
def test_ssh_urls(url: str, target: SshTarget) -> None:
    assert parse_ssh_url(url) == target
    assert parse_ssh_url(target.display()) == target


@pytest.mark.parametrize(("url", "message"), [
    ("ssh://deploy:hunter2@web-1", "no password in the URL"),
    ("ssh://web-1:99999", "SSH port must be a number"),
    ("ssh://web-1/agent", "/PORT or /HOST:PORT"),
    ("ssh://", "not an ssh://"),
])
def test_bad_ssh_urls_say_what_is_wrong(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_ssh_url(url)
