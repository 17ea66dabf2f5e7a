"""``obsview``: the console's command line.

    obsview [URL…] [--token-file F] [--theme NAME] [--bell]
    obsview ssh://[user@]server[:port]
    obsview FILE… | obsview -          (files and a pipe, read by an embedded agent)
    obsview demo [--theme NAME] [--bell]
    obsview export [URL] --since WHEN [--until WHEN] [--filter EXPR] FILE   (incident_cli)
    obsview replay FILE [--speed 10]

Without a URL the console connects to the address in its config file, else
ws://127.0.0.1:8765; if nothing answers, the status bar says so and ``d`` starts the demo.
Several URLs, or a ``[[hosts]]`` list in the config (:mod:`obsview.tui.hosts`), make one
console over several agents.
See :mod:`obsview.tui.targets` for what each argument may be.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import NoReturn

import platformdirs
import tomli_w

from obsview.common.atomic_file import write_atomically
from obsview.tui.hosts import HostsError, HostSpec, hosts_from_config, hosts_from_urls
from obsview.tui.targets import TargetError, Targets, classify

DEFAULT_URL = "ws://127.0.0.1:8765"
APP_NAME = "obsview"


class UsageError(Exception):
    """Bad arguments: printed as one line, exit status 2."""


@dataclass(frozen=True, slots=True)
class ConsoleConfig:
    url: str = DEFAULT_URL
    theme: str = ""
    token_file: Path | None = None
    hosts: tuple[HostSpec, ...] = ()
    """``[[hosts]]``: the agents to watch when no URL is given."""


def config_dir() -> Path:
    return Path(platformdirs.user_config_dir(APP_NAME))


def console_config_path() -> Path:
    return config_dir() / "console.toml"


def load_console_config(path: Path) -> ConsoleConfig:
    """The console's own settings; a missing file means defaults, a broken one is an error."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return ConsoleConfig()
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(f"cannot read {path}: {exc}") from None
    for key in ("url", "theme", "token_file"):
        if key in data and not isinstance(data[key], str):
            raise UsageError(f"{path}: key {key!r} must be a string")
    token_file = data.get("token_file")
    try:
        hosts = hosts_from_config(data["hosts"], path) if "hosts" in data else ()
    except HostsError as exc:
        raise UsageError(str(exc)) from None
    return ConsoleConfig(
        url=data.get("url", DEFAULT_URL),
        theme=data.get("theme", ""),
        token_file=Path(token_file).expanduser() if token_file else None,
        hosts=hosts,
    )


def save_theme(path: Path, theme: str) -> None:
    """Remember the theme, keeping the file's other settings. Best effort: a read-only
    config directory must not break theme switching."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        data = {}
    data["theme"] = theme
    body = tomli_w.dumps(data)
    try:  # whole or not at all: a half-written file would stop the next start
        write_atomically(path, body.encode())
    except OSError:
        pass


class UsageParser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    """The flags, and ``targets``: what the positional arguments ask to show."""
    parser = UsageParser(prog="obsview", description="Live monitoring console for obsview agents, "
                     "log files and pipes.")
    parser.add_argument("target", nargs="*", default=[],
                        help="ws://HOST:PORT or ssh://[user@]server[:port] of an agent; log files "
                        "or globs; - for a pipe; or 'demo' for the built-in demo")
    parser.add_argument("--token-file", type=Path, default=None,
                        help="file holding the agent's bearer token")
    parser.add_argument("--from-end", action="store_true",
                        help="files given on the command line: show only lines written from now on "
                        "(default: read them from the start)")
    parser.add_argument("--theme", default=None, help="colour theme (dark, light, high-contrast)")
    parser.add_argument("--bell", action="store_true", help="ring the bell when an alert fires")
    args = parser.parse_args(argv)
    try:
        args.targets = classify(args.target)
    except TargetError as exc:
        raise UsageError(str(exc)) from None
    return args


def resolve_theme(name: str | None, available: Sequence[str]) -> str | None:
    """``dark`` means ``obsview-dark``; an unknown name is a usage error."""
    if not name:
        return None
    for candidate in (name, f"obsview-{name}"):
        if candidate in available:
            return candidate
    raise UsageError(f"unknown theme {name!r}; choose from {', '.join(sorted(available))}")


def pick_theme(requested: str | None, remembered: str, config_path: Path,
               available: Sequence[str]) -> str | None:
    """``--theme`` if given, and then remembered as a ctrl+t switch is; else the remembered
    theme, unless it no longer exists (a stale config must not stop the console)."""
    chosen = resolve_theme(requested, available)
    if chosen is not None:
        save_theme(config_path, chosen)
        return chosen
    try:
        return resolve_theme(remembered or None, available)
    except UsageError:
        return None


def read_token(path: Path | None, *, required: bool) -> str | None:
    if path is None:
        return None
    try:
        token = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        if required:
            raise UsageError(f"token file {path} does not exist") from None
        return None
    except OSError as exc:
        raise UsageError(f"cannot read token file {path}: {exc.strerror or exc}") from None
    if not token and required:
        raise UsageError(f"token file {path} is empty")
    return token or None


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return run(sys.argv[1:] if argv is None else argv)
    except UsageError as exc:
        print(f"obsview: {exc}", file=sys.stderr)
        return 2


def run(argv: Sequence[str]) -> int:
    if argv and argv[0] in ("export", "replay"):
        from obsview.tui.incident_cli import export_main, replay_main

        return (export_main if argv[0] == "export" else replay_main)(argv[1:])
    from obsview.themes import load_themes
    from obsview.tui.app import ObsviewApp
    from obsview.tui.embedded import demo_agent

    args = parse_args(argv)
    targets: Targets = args.targets
    config_path = console_config_path()
    config = load_console_config(config_path)
    themes = [theme.name for theme in load_themes()]
    theme = pick_theme(args.theme, config.theme, config_path, themes)
    explicit_token = args.token_file is not None
    token_file = args.token_file or config.token_file or config_dir() / "token"
    token = read_token(token_file, required=explicit_token)

    def remember(name: str) -> None:
        save_theme(config_path, name)

    options = AppOptions(theme=theme, bell=args.bell, remember=remember, token=token)
    if targets.demo:
        return asyncio.run(_run_demo(theme=theme, bell=args.bell, remember=remember))
    if targets.local and targets.agents:
        raise UsageError("agents, or files and a pipe: not both at once")
    if targets.local:
        return asyncio.run(_run_local(targets, from_start=not args.from_end, options=options))
    hosts = _hosts(targets, args.token_file, config)
    if len(hosts) > 1:
        fleet = [(host, _host_token(host, token)) for host in hosts]
        return asyncio.run(_run_fleet(fleet, options=options))
    if hosts:
        options = replace(options, token=_host_token(hosts[0], token))
    url = hosts[0].url if hosts else config.url
    if url.startswith("ssh://"):
        return asyncio.run(_run_over_ssh(url, options=options))
    app = ObsviewApp(
        url=url,
        token=options.token,
        theme=theme,
        bell=args.bell,
        remember_theme=remember,
        start_demo=demo_agent,
    )
    app.run()
    return 0


def _hosts(targets: Targets, token_file: Path | None, config: ConsoleConfig) -> tuple[HostSpec, ...]:
    """The agents to watch: the URLs given, else the config's ``[[hosts]]`` (maybe none)."""
    if not targets.agents:
        return config.hosts
    try:
        return hosts_from_urls(targets.agents, token_file)
    except HostsError as exc:
        raise UsageError(str(exc)) from None


def _host_token(host: HostSpec, default: str | None) -> str | None:
    """A host's own token file (it must exist), else the console's token."""
    return read_token(host.token_file, required=True) if host.token_file is not None else default


@dataclass(frozen=True, slots=True)
class AppOptions:
    """The console settings every way of running it shares."""

    theme: str | None
    bell: bool
    remember: Callable[[str], None]
    token: str | None = None


def _take_pipe_off_stdin() -> int:
    """For ``some-app | obsview -``: the pipe moves to a new descriptor (returned) and the
    terminal takes fd 0, where the console reads its keys (``less`` does the same)."""
    try:
        terminal = os.open("/dev/tty", os.O_RDWR)
    except OSError as exc:
        raise UsageError(f"reading a pipe needs a terminal for the keys (/dev/tty: {exc.strerror})") from None
    pipe = os.dup(0)
    os.dup2(terminal, 0)
    os.close(terminal)
    return pipe


def _local_label(targets: Targets) -> str:
    """How the status bar names what was opened: ``app.log``, ``app.log +2``, ``stdin``."""
    names = [os.path.basename(path) for path in targets.files] + (["stdin"] if targets.stdin else [])
    return names[0] if len(names) == 1 else f"{names[0]} +{len(names) - 1}"


async def _run_local(targets: Targets, *, from_start: bool, options: AppOptions) -> int:
    from obsview.tui.app import ObsviewApp
    from obsview.tui.embedded import EmbeddedAgentError, file_agent

    stdin_fd = _take_pipe_off_stdin() if targets.stdin else None
    try:
        async with file_agent(targets.files, stdin_fd=stdin_fd, from_start=from_start) as agent:
            app = ObsviewApp(url=agent.url, label=_local_label(targets), load_progress=agent.progress,
                             theme=options.theme, bell=options.bell, remember_theme=options.remember)
            await app.run_async()
    except EmbeddedAgentError as exc:
        print(f"obsview: {exc}", file=sys.stderr)
        return 1
    return 0


async def _run_over_ssh(url: str, *, options: AppOptions) -> int:
    from obsview.tui.app import ObsviewApp
    from obsview.tui.ssh_tunnel import SshError, SshTunnel, parse_ssh_url

    target = parse_ssh_url(url)
    tunnel = SshTunnel(target)
    try:
        await tunnel.start()
    except SshError as exc:
        print(f"obsview: {exc}", file=sys.stderr)
        return 1
    try:
        app = ObsviewApp(url=tunnel.url, token=options.token, label=target.display(), tunnel=tunnel,
                         theme=options.theme, bell=options.bell, remember_theme=options.remember)
        await app.run_async()
    finally:
        await tunnel.close()  # ssh ends with the console: nothing is left listening
    return 0


async def _run_fleet(hosts: Sequence[tuple[HostSpec, str | None]], *, options: AppOptions) -> int:
    """One console over several agents; ssh:// hosts through their own tunnels, all brought
    up before the console starts (a host that cannot be reached through ssh is one line)."""
    from obsview.tui.app import ObsviewApp
    from obsview.tui.fleet import FleetHost
    from obsview.tui.ssh_tunnel import SshError, SshTunnel, parse_ssh_url

    tunnels = {host.name: SshTunnel(parse_ssh_url(host.url)) for host, _ in hosts
               if host.url.startswith("ssh://")}
    try:
        started = await asyncio.gather(*(tunnel.start() for tunnel in tunnels.values()),
                                       return_exceptions=True)
        for name, outcome in zip(tunnels, started):
            if isinstance(outcome, SshError):
                print(f"obsview: {name}: {outcome}", file=sys.stderr)
                return 1
            if isinstance(outcome, BaseException):
                raise outcome
        fleet = [FleetHost(host.name, tunnels[host.name].url if host.name in tunnels else host.url, token)
                 for host, token in hosts]
        app = ObsviewApp(hosts=fleet, theme=options.theme, bell=options.bell,
                         remember_theme=options.remember)
        await app.run_async()
    finally:
        await asyncio.gather(*(tunnel.close() for tunnel in tunnels.values()))
    return 0


async def _run_demo(*, theme: str | None, bell: bool, remember: Callable[[str], None]) -> int:
    from obsview.tui.app import ObsviewApp
    from obsview.tui.embedded import demo_agent

    async with demo_agent() as url:
        app = ObsviewApp(url=url, theme=theme, bell=bell, remember_theme=remember)
        await app.run_async()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
