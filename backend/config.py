"""The agent's settings: one TOML file (platformdirs location by default), overridden by flags.

A bad file is a :class:`ConfigError` that names the file, the line that sets the bad value,
its key path and what was expected, so the user can fix it without reading a traceback: the
file is read by ``msgspec.convert`` into :class:`AgentFile` and its sections' tables (see
:mod:`obsview.backend.config_tables`), whose errors carry the key path; :func:`key_lines`
finds its line.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Final

import msgspec
import platformdirs

from obsview.backend.addresses import APP_NAME, format_host_port, parse_host_port
from obsview.backend.config_tables import KeyPath, Table, convert_section, spelled
from obsview.backend.delivery.channels import NotifyTable
from obsview.backend.delivery.notify import Channel
from obsview.backend.errors import ConfigError
from obsview.backend.signals.alerts import DEFAULT_RULES, AlertRule, AlertsTable, rules_of
from obsview.backend.signals.health import Probe, ProbeSpec, probe_specs
from obsview.backend.signals.routes import DEFAULT_ROUTE_RULES, RouteRule

DEFAULT_HOST: Final = "127.0.0.1"
DEFAULT_PORT: Final = 8765


def default_config_path() -> Path:
    return Path(platformdirs.user_config_dir(APP_NAME)) / "agent.toml"


@dataclass(slots=True)
class AgentConfig:
    listen: tuple[str, int] = (DEFAULT_HOST, DEFAULT_PORT)
    tail: list[str] = field(default_factory=list)
    from_start: bool = False
    tcp: list[tuple[str, int]] = field(default_factory=list)
    otlp: list[tuple[str, int]] = field(default_factory=list)
    """OTLP/HTTP JSON log receivers (``POST /v1/logs``), e.g. ``127.0.0.1:4318``."""
    stdin: bool = False
    stdin_fd: int | None = None
    """What ``stdin`` reads: None for standard input; set by an embedding program (the
    console reading ``cmd | obsview -``), never by a config file."""
    service: str = ""
    token_file: Path | None = None
    """Where the bearer token lives. ``None``: the default token file, required (and used)
    only for a non-loopback bind."""
    allowed_origins: list[str] = field(default_factory=list)
    allowed_hosts: list[str] = field(default_factory=list)
    """Names (besides localhost and loopback IPs) a loopback listener answers in ``Host``."""
    store_capacity: int = 100_000
    client_queue_events: int = 10_000
    probes: list[ProbeSpec] = field(default_factory=list)
    rules: list[AlertRule] = field(default_factory=lambda: list(DEFAULT_RULES))
    notifiers: list[Channel] = field(default_factory=list)
    route_rules: list[RouteRule] = field(default_factory=lambda: list(DEFAULT_ROUTE_RULES))
    state_dir: Path | None = None
    """Alert/ack state and file offsets live here; ``None``: a directory of this agent's own
    under the platformdirs user data dir (see :meth:`resolved_state_dir`)."""
    metrics_interval_s: float = 1.0
    history: bool = True
    """Keep every event in the on-disk journal under the state directory (scroll-back past
    RAM, resume across restarts, export)."""
    history_days: float = 7.0
    """Events older than this are dropped from the journal (oldest first, counted)."""
    history_max_mb: int = 1024
    """The journal never holds more than this (oldest events dropped first, counted)."""
    history_keep_free_mb: int | None = None
    """The journal leaves this much free on its disk (oldest events dropped first, counted);
    ``None``: 5 % of the file system, at most 1 GiB; 0: no such limit."""

    def resolved_state_dir(self) -> Path:
        """``state_dir``, or ``<user data dir>/agents/<service>@<host>_<port>``: two agents of
        one user (two services on one host) never share acks or file offsets by default."""
        if self.state_dir is not None:
            return self.state_dir
        return default_state_root() / "agents" / instance_name(self.service, self.listen)


def default_state_root() -> Path:
    """Where state lived before it was per agent (and where each agent's folder now is)."""
    return Path(platformdirs.user_data_dir(APP_NAME))


def instance_name(service: str, listen: tuple[str, int]) -> str:
    """A file name for one agent: its service and listen address (``blog-api@127.0.0.1_8765``)."""
    host, port = listen
    return _UNSAFE_IN_NAME.sub("_", f"{service or 'agent'}@{host}_{port}")


_UNSAFE_IN_NAME: Final = re.compile(r"[^A-Za-z0-9._@-]+")


# --------------------------------------------------------------------------- file loading

_DEFAULT: Final = AgentConfig()


class AgentFile(Table):
    """The agent's TOML file: each key is :class:`AgentConfig`'s of that name, with its
    default; addresses are ``HOST:PORT`` strings and the sections are their own tables."""

    listen: str = format_host_port(*_DEFAULT.listen)
    tail: list[str] = []
    from_start: bool = _DEFAULT.from_start
    tcp: list[str] = []
    otlp: list[str] = []
    stdin: bool = _DEFAULT.stdin
    service: str = _DEFAULT.service
    token_file: str | None = None
    allowed_origins: list[str] = []
    allowed_hosts: list[str] = []
    store_capacity: Annotated[int, msgspec.Meta(ge=1)] = _DEFAULT.store_capacity
    client_queue_events: Annotated[int, msgspec.Meta(ge=1)] = _DEFAULT.client_queue_events
    state_dir: str | None = None
    metrics_interval_s: Annotated[float, msgspec.Meta(gt=0)] = _DEFAULT.metrics_interval_s
    history: bool = _DEFAULT.history
    history_days: Annotated[float, msgspec.Meta(gt=0)] = _DEFAULT.history_days
    history_max_mb: Annotated[int, msgspec.Meta(gt=0)] = _DEFAULT.history_max_mb
    history_keep_free_mb: Annotated[int, msgspec.Meta(ge=0)] | None = _DEFAULT.history_keep_free_mb
    probes: list[Probe] = []
    alerts: AlertsTable | None = None
    """Absent: the seed's rules; ``[alerts]`` with no rules: none."""
    notify: NotifyTable | None = None
    routes: list[RouteRule] = []


def load_config(path: Path | None = None) -> AgentConfig:
    """Read ``path`` (or the default file when it exists) into an :class:`AgentConfig`.

    ``path=None`` and no default file: all defaults. An explicit path that does not exist is
    an error (the user asked for it).
    """
    if path is None:
        path = default_config_path()
        if not path.is_file():
            return AgentConfig()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"config file {path} is not UTF-8 text") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    return config_from_mapping(data, source=_Source(path, text))


_TABLE: Final = re.compile(r"[ \t]*(\[\[?)[ \t]*([^\]\r\n]+?)[ \t]*\]")
_KEY: Final = re.compile(r"[ \t]*((?:[A-Za-z0-9_-]+|\"[^\"\r\n]*\"|'[^'\r\n]*')"
                         r"(?:[ \t]*\.[ \t]*(?:[A-Za-z0-9_-]+|\"[^\"\r\n]*\"|'[^'\r\n]*'))*)[ \t]*=")
_KEY_PART: Final = re.compile(r"[A-Za-z0-9_-]+|\"([^\"]*)\"|'([^']*)'")


def _key_parts(text: str) -> tuple[str, ...]:
    return tuple(m.group(1) if m.group(1) is not None else m.group(2) if m.group(2) is not None
                 else m.group(0) for m in _KEY_PART.finditer(text))


def key_lines(text: str) -> dict[tuple[str | int, ...], int]:
    """Line (1-based) of each key path a TOML text sets, ``[[array]]`` tables by index.

    Enough TOML for error messages, not a parser (tomllib has already accepted the text):
    table headers, ``key = value`` lines (dotted keys too); a value spread over several
    lines (a multi-line string or array) is skipped, inner keys of an inline table are
    found at their key's line.
    """
    lines: dict[tuple[str | int, ...], int] = {}
    counts: dict[tuple[str | int, ...], int] = {}
    table: tuple[str | int, ...] = ()
    open_quote = ""  # inside a multi-line string: its delimiter
    depth = 0  # inside a multi-line array: the brackets still open
    for number, line in enumerate(text.splitlines(), 1):
        if open_quote or depth:
            if open_quote and line.count(open_quote) % 2:
                open_quote = ""
            elif not open_quote:
                depth = max(0, depth + _brackets(line))
            continue
        header = _TABLE.match(line)
        if header is not None and _KEY.match(line) is None:
            path: tuple[str | int, ...] = _key_parts(header.group(2))
            if header.group(1) == "[[":
                index = counts.get(path, 0)
                counts[path] = index + 1
                path = (*path, index)
            table = path
            for end in range(1, len(table) + 1):
                lines.setdefault(table[:end], number)
            continue
        key = _KEY.match(line)
        if key is None:
            continue
        path = (*table, *_key_parts(key.group(1)))
        for end in range(len(table) + 1, len(path) + 1):
            lines.setdefault(path[:end], number)
        value = line[key.end():]
        for quote in ('"""', "'''"):
            if value.count(quote) % 2:
                open_quote = quote
        if not open_quote:
            depth = max(0, _brackets(value))
    return lines


def _brackets(text: str) -> int:
    """Open minus closed ``[`` in a line, outside strings and comments (roughly: enough to
    follow a multi-line array)."""
    text = re.sub(r"\"(?:[^\"\\]|\\.)*\"|'[^']*'", "", text).split("#", 1)[0]
    return text.count("[") - text.count("]")


@dataclass(frozen=True, slots=True)
class _Source:
    path: Path
    text: str

    def where(self, at: KeyPath) -> str:
        """``FILE line N`` for the line that sets ``at`` (or the nearest table or key that
        holds it), or just ``FILE``."""
        lines = key_lines(self.text)
        for end in range(len(at), 0, -1):
            line = lines.get(at[:end])
            if line is not None:
                return f"{self.path} line {line}"
        return str(self.path)


def config_from_mapping(data: dict[str, Any], *, source: _Source | None = None) -> AgentConfig:
    """Validate already-parsed TOML data (also used by tests and embedded callers)."""
    try:
        file = convert_section(data, AgentFile)
        return AgentConfig(
            listen=_address(file.listen, ("listen",)),
            tail=file.tail,
            from_start=file.from_start,
            tcp=[_address(address, ("tcp", index)) for index, address in enumerate(file.tcp)],
            otlp=[_address(address, ("otlp", index)) for index, address in enumerate(file.otlp)],
            stdin=file.stdin,
            service=file.service,
            token_file=None if file.token_file is None else Path(file.token_file).expanduser(),
            allowed_origins=file.allowed_origins,
            allowed_hosts=file.allowed_hosts,
            store_capacity=file.store_capacity,
            client_queue_events=file.client_queue_events,
            probes=probe_specs(file.probes),
            rules=list(DEFAULT_RULES) if file.alerts is None else rules_of(file.alerts.rules),
            notifiers=[] if file.notify is None else file.notify.channels(),
            route_rules=file.routes,
            state_dir=None if file.state_dir is None else Path(file.state_dir).expanduser(),
            metrics_interval_s=file.metrics_interval_s,
            history=file.history,
            history_days=file.history_days,
            history_max_mb=file.history_max_mb,
            history_keep_free_mb=file.history_keep_free_mb,
        )
    except ConfigError as exc:
        raise ConfigError(f"{source.where(exc.at) if source else 'config'}: {exc}") from None


def _address(text: str, at: KeyPath) -> tuple[str, int]:
    try:
        return parse_host_port(text)
    except ConfigError as exc:
        raise ConfigError(f"{spelled(at)}: {exc}", at=at) from None
