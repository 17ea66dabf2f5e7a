"""``obsview export`` and ``obsview replay``: incident files from the command line.

    obsview export [URL] --since WHEN [--until WHEN] [--filter EXPR] [--token-file F] FILE
    obsview replay FILE [--speed 10] [--theme NAME]

WHEN is ``15m`` / ``2h`` / ``1d`` ago, a time of day (``10:00``: the last one) or an ISO time.
URL defaults to the console's agent (its config file, else ws://127.0.0.1:8765).
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Sequence
from pathlib import Path

from obsview.tui.cli import (
    UsageError,
    UsageParser,
    config_dir,
    console_config_path,
    load_console_config,
    pick_theme,
    read_token,
)


def _when(text: str, now: float, flag: str) -> float:
    from obsview.tui.incident import parse_when

    try:
        return parse_when(text, now)
    except ValueError as exc:
        raise UsageError(f"{flag}: {exc}") from None


def export_main(argv: Sequence[str]) -> int:
    from obsview.common.filters import FilterError, parse_filter
    from obsview.tui.export import ExportError, export

    parser = UsageParser(prog="obsview export", description="Write an incident file from an agent's history.")
    parser.add_argument("url", nargs="?", default=None, help="ws://HOST:PORT of the agent")
    parser.add_argument("file", type=Path, help="the incident file to write (.jsonl.gz)")
    parser.add_argument("--since", required=True, metavar="WHEN", help="15m, 2h, 10:00 or an ISO time")
    parser.add_argument("--until", default=None, metavar="WHEN", help="default: now")
    parser.add_argument("--filter", default="", metavar="EXPR", help="the console's filter language")
    parser.add_argument("--token-file", type=Path, default=None)
    args = _parse_positionals(parser, argv)
    now = time.time()
    since = _when(args.since, now, "--since")
    until = now if args.until is None else _when(args.until, now, "--until")
    if until <= since:
        raise UsageError("--until must be after --since")
    try:
        parse_filter(args.filter)
    except FilterError as exc:
        raise UsageError(f"--filter: {exc}") from None
    config = load_console_config(console_config_path())
    url = args.url or config.url
    token = read_token(args.token_file or config.token_file or config_dir() / "token",
                       required=args.token_file is not None)
    try:
        summary = asyncio.run(export(url, token=token, since=since, until=until,
                                     expression=args.filter, path=args.file))
    except ExportError as exc:
        raise UsageError(str(exc)) from None
    except OSError as exc:
        raise UsageError(f"cannot export from {url}: {exc.strerror or exc}") from None
    print(summary)
    return 0


def _parse_positionals(parser: argparse.ArgumentParser, argv: Sequence[str]) -> argparse.Namespace:
    """``[URL] FILE``: one positional is the file, two are the URL and the file. Options may
    come between them (``URL --since 15m FILE``, as the README shows): plain ``parse_args``
    gave the URL to FILE and refused the file as an unrecognized argument."""
    args = parser.parse_intermixed_args(argv)
    if args.url is not None and not args.url.startswith(("ws://", "wss://")):
        raise UsageError(f"{args.url!r} is not an agent URL: expected ws://HOST:PORT")
    return args


def replay_main(argv: Sequence[str]) -> int:
    from obsview.themes import load_themes
    from obsview.tui.incident import IncidentError, read_incident
    from obsview.tui.replay import ReplayApp, Replayer

    parser = UsageParser(prog="obsview replay", description="Replay an incident file in the dashboard.")
    parser.add_argument("file", type=Path)
    parser.add_argument("--speed", type=float, default=1.0, help="times faster than it happened")
    parser.add_argument("--theme", default=None)
    args = parser.parse_args(argv)
    if args.speed <= 0:
        raise UsageError("--speed must be positive")
    try:
        incident = read_incident(args.file)
    except IncidentError as exc:
        raise UsageError(str(exc)) from None
    config_path = console_config_path()
    theme = pick_theme(args.theme, load_console_config(config_path).theme, config_path,
                       [loaded.name for loaded in load_themes()])
    ReplayApp(Replayer(incident, speed=args.speed), theme=theme).run()
    return 0
