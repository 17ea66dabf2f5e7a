"""``obsview-agent`` from the outside: flags, one-line errors, signals."""

from __future__ import annotations

import asyncio
import os
import selectors
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from server_testkit import recv_until
from websockets.asyncio.client import connect

from obsview.backend.cli import build_parser, config_from_args, main
from obsview.common.protocol import Events, Subscribe, encode

AGENT = [sys.executable, "-m", "obsview.backend.cli"]


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    return dict(os.environ)


def test_bad_flag_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["--bogus"])
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--bogus" in err


def test_bad_listen_is_one_line_and_exit_2(env: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--listen", "127.0.0.1:http"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--listen" in err


def test_bad_config_file_is_one_line_and_exit_2(
    env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "agent.toml"
    bad.write_text("colour = 'blue'\n")
    assert main(["--config", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{bad} line 1: colour: unknown key" in err


def test_positional_paths_and_dash_mean_tail_and_stdin(env: dict[str, str]) -> None:
    args = build_parser().parse_args(["app.log", "-", "--tail", "b.log", "--tcp", "[::1]:5044"])
    config = config_from_args(args)
    assert config.tail == ["b.log", "app.log"]
    assert config.stdin
    assert config.tcp == [("::1", 5044)]


def test_flags_override_the_config_file(env: dict[str, str], tmp_path: Path) -> None:
    file = tmp_path / "agent.toml"
    file.write_text('listen = "127.0.0.1:1111"\nservice = "file"\ntail = ["file.log"]\n')
    args = build_parser().parse_args(["--config", str(file), "--listen", "127.0.0.1:2222", "x.log"])
    config = config_from_args(args)
    assert config.listen == ("127.0.0.1", 2222)
    assert config.service == "file"
    assert config.tail == ["x.log"]


def test_print_token_creates_a_private_token(env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--print-token"]) == 0
    token = capsys.readouterr().out.strip()
    path = tmp_path / "config" / "obsview" / "token"
    assert path.read_text().strip() == token
    assert path.stat().st_mode & 0o777 == 0o600


def test_port_in_use_exits_with_a_clear_line(env: dict[str, str]) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [*AGENT, "--listen", f"127.0.0.1:{port}"], env=env, capture_output=True, text=True, timeout=30
        )
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert f"127.0.0.1:{port} is already in use" in result.stderr


def test_non_loopback_without_token_exits_with_how_to_fix(env: dict[str, str]) -> None:
    result = subprocess.run([*AGENT, "--listen", "0.0.0.0:0"], env=env, capture_output=True, text=True, timeout=30)
    assert result.returncode == 1
    assert "--print-token" in result.stderr


def _read_line(proc: subprocess.Popen[str], timeout: float) -> str:
    assert proc.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ)
        if not selector.select(timeout):
            raise AssertionError("the agent printed nothing")
    return proc.stdout.readline()


def _started_agent(env: dict[str, str], log: Path, *, ignore_hangup: bool = False) -> subprocess.Popen[str]:
    """A real agent tailing ``log``, once it answers on HTTP (``nohup``'s SIGHUP, if asked)."""
    log.write_text("")
    proc = subprocess.Popen(
        [*AGENT, "--listen", "127.0.0.1:0", str(log)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, preexec_fn=(lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN)) if ignore_hangup else None,
    )
    line = _read_line(proc, timeout=30)
    assert "listening on ws://127.0.0.1:" in line and str(log) in line
    url = line.split("listening on ", 1)[1].split()[0].replace("ws://", "http://")
    assert httpx.get(f"{url}/api/health", timeout=5).status_code == 200
    return proc


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_signal_stops_a_real_agent_within_2_s(env: dict[str, str], tmp_path: Path, signum: int) -> None:
    # SIGHUP: the SSH session the agent was started from ended. Before, it died there with its
    # journal unclosed ("stopped abruptly ... at most 69632 lost" at the next start).
    proc = _started_agent(env, tmp_path / "app.log")
    try:
        proc.send_signal(signum)
        assert proc.wait(timeout=2) == 0, proc.stderr.read() if proc.stderr else ""
        assert proc.stderr is not None and "abrupt" not in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_an_agent_started_under_nohup_ignores_sighup(env: dict[str, str], tmp_path: Path) -> None:
    proc = _started_agent(env, tmp_path / "app.log", ignore_hangup=True)
    try:
        proc.send_signal(signal.SIGHUP)
        with pytest.raises(subprocess.TimeoutExpired):
            proc.wait(timeout=1)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=2) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


async def test_dash_reads_stdin_of_a_real_agent(env: dict[str, str]) -> None:
    proc = await asyncio.create_subprocess_exec(
        *AGENT, "--listen", "127.0.0.1:0", "-", env=env,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdin is not None and proc.stdout is not None
    try:
        line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
        assert "sources: stdin" in line
        url = line.split("listening on ", 1)[1].split()[0]
        proc.stdin.write(b'{"level":"warn","message":"from a pipe"}\n')
        await proc.stdin.drain()
        async with connect(url) as ws:
            await ws.send(encode(Subscribe(since_seq=0)))
            events, _ = await recv_until(ws, Events)
        assert [(e.level, e.message) for e in events.events] == [("WARN", "from a pipe")]
    finally:
        proc.terminate()
        assert await asyncio.wait_for(proc.wait(), 2) == 0
