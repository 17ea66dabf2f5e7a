"""``obsview-agent``: run the agent from a shell.

Every problem a user can cause (a bad flag, a bad config file, a port in use, an unsafe
bind) ends as one line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path
from typing import NoReturn

from obsview.backend.addresses import parse_host_port
from obsview.backend.agent import Agent, agent_version
from obsview.backend.auth import default_token_path, load_or_create_token
from obsview.backend.config import AgentConfig, load_config
from obsview.backend.errors import ConfigError, ObsviewError

PROG = "obsview-agent"
EXIT_USAGE = 2
EXIT_STARTUP = 1


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # One line instead of argparse's usage block: the message already says what is wrong.
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="Collect a service's logs, derive metrics, probe health, raise alerts, "
        "and stream it all to obsview consoles over one websocket.",
    )
    parser.add_argument("paths", nargs="*", metavar="PATH", help="log file to tail; - reads stdin")
    parser.add_argument("--tail", action="append", default=[], metavar="PATH", help="log file or glob to tail (repeatable)")
    parser.add_argument("--tcp", action="append", default=[], metavar="HOST:PORT", help="listen for JSON log lines over TCP (repeatable)")
    parser.add_argument("--otlp", action="append", default=[], metavar="HOST:PORT", help="receive OpenTelemetry logs, OTLP/HTTP (protobuf or JSON) on POST /v1/logs (repeatable; usually 127.0.0.1:4318)")
    parser.add_argument("--listen", metavar="HOST:PORT", help="websocket + HTTP address (default 127.0.0.1:8765)")
    parser.add_argument("--config", type=Path, metavar="FILE", help="TOML config file (default: the user config dir's obsview/agent.toml, if present)")
    parser.add_argument("--from-start", action="store_true", default=None, help="read tailed files from the beginning")
    parser.add_argument("--service", metavar="NAME", help="service name stamped on events")
    parser.add_argument("--token-file", type=Path, metavar="FILE", help="bearer token file (created 0600 if missing)")
    parser.add_argument("--print-token", action="store_true", help="print the token (creating it if needed) and exit")
    parser.add_argument("--version", action="version", version=f"{PROG} {agent_version()}")
    return parser


def config_from_args(args: argparse.Namespace) -> AgentConfig:
    """The config file, then every flag that was given on top of it."""
    config = load_config(args.config)
    paths = [*args.tail, *args.paths]
    if paths:
        config.tail = [path for path in paths if path != "-"]
        config.stdin = config.stdin or "-" in paths
    if args.tcp:
        config.tcp = [parse_host_port(value, what="--tcp") for value in args.tcp]
    if args.otlp:
        config.otlp = [parse_host_port(value, what="--otlp") for value in args.otlp]
    if args.listen is not None:
        config.listen = parse_host_port(args.listen, what="--listen")
    if args.from_start:
        config.from_start = True
    if args.service is not None:
        config.service = args.service
    if args.token_file is not None:
        config.token_file = args.token_file.expanduser()
    return config


def stop_signals() -> list[signal.Signals]:
    """SIGINT, SIGTERM, and SIGHUP: the terminal the agent runs in closed (an SSH session
    ended), and a clean stop commits the journal's last second where dying would lose it.
    Started under ``nohup``, SIGHUP is ignored and stays ignored, as the user asked."""
    signals = [signal.SIGINT, signal.SIGTERM]
    if signal.getsignal(signal.SIGHUP) is not signal.SIG_IGN:
        signals.append(signal.SIGHUP)
    return signals


async def run_until_signalled(config: AgentConfig) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in stop_signals():
        loop.add_signal_handler(signum, stop.set)
    async with Agent(config) as agent:
        print(agent.describe(), flush=True)
        await stop.wait()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format=f"{PROG}: %(levelname)s %(name)s: %(message)s")
    try:
        config = config_from_args(args)
        if args.print_token:
            print(load_or_create_token(config.token_file or default_token_path()))
            return 0
        asyncio.run(run_until_signalled(config))
    except ConfigError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except ObsviewError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return EXIT_STARTUP
    return 0


if __name__ == "__main__":
    sys.exit(main())
