"""The agent's settings: one TOML file (platformdirs location by default), overridden by flags.

A bad file is a :class:`ConfigError` that names the key, the file and the line that sets the
bad value (each section's parser says where inside its tables; :func:`key_lines` finds the
line), so the user can fix it without reading a traceback.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import platformdirs

from obsview.backend.addresses import APP_NAME, parse_host_port
from obsview.backend.delivery.notify import Channel, parse_notifiers
from obsview.backend.errors import ConfigError
from obsview.backend.signals.alerts import DEFAULT_RULES, AlertRule, parse_rules
from obsview.backend.signals.health import ProbeSpec, parse_probes
from obsview.backend.signals.routes import DEFAULT_ROUTE_RULES, RouteRule, parse_route_rules

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

_SCALAR_KEYS: Final[dict[str, type | tuple[type, ...]]] = {
    "listen": str,
    "from_start": bool,
    "stdin": bool,
    "service": str,
    "token_file": str,
    "store_capacity": int,
    "client_queue_events": int,
    "state_dir": str,
    "metrics_interval_s": (int, float),
    "history": bool,
    "history_days": (int, float),
    "history_max_mb": int,
}
_LIST_OF_STR_KEYS: Final = ("tail", "tcp", "otlp", "allowed_origins", "allowed_hosts")
_SECTION_KEYS: Final = ("probes", "alerts", "notify", "routes")
KNOWN_KEYS: Final = frozenset((*_SCALAR_KEYS, *_LIST_OF_STR_KEYS, *_SECTION_KEYS))


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

    def where(self, at: tuple[str | int, ...]) -> str:
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

    def fail(key: str, problem: str, at: tuple[str | int, ...] = ()) -> ConfigError:
        where = source.where((*key.split("."), *at)) if source else "config"
        return ConfigError(f"{where}: {key}: {problem}")

    for key in data:
        if key not in KNOWN_KEYS:
            known = ", ".join(sorted(KNOWN_KEYS))
            raise fail(key, f"unknown key (known keys: {known})")
    for key, expected in _SCALAR_KEYS.items():
        if key in data and (
            not isinstance(data[key], expected) or (expected is int and isinstance(data[key], bool))
        ):
            raise fail(key, f"expected {_type_name(expected)}, got {data[key]!r}")
    for key in _LIST_OF_STR_KEYS:
        value = data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise fail(key, "expected a list of strings")

    config = AgentConfig()
    if "listen" in data:
        config.listen = _in_section(fail, "listen", parse_host_port, data["listen"])
    config.tcp = [_in_section(fail, "tcp", parse_host_port, v) for v in data.get("tcp", [])]
    config.otlp = [_in_section(fail, "otlp", parse_host_port, v) for v in data.get("otlp", [])]
    config.tail = list(data.get("tail", []))
    config.allowed_origins = list(data.get("allowed_origins", []))
    config.allowed_hosts = list(data.get("allowed_hosts", []))
    config.from_start = data.get("from_start", False)
    config.stdin = data.get("stdin", False)
    config.service = data.get("service", "")
    if "token_file" in data:
        config.token_file = Path(data["token_file"]).expanduser()
    if "state_dir" in data:
        config.state_dir = Path(data["state_dir"]).expanduser()
    for key in ("store_capacity", "client_queue_events"):
        if key in data:
            if data[key] < 1:
                raise fail(key, f"must be at least 1, got {data[key]}")
            setattr(config, key, data[key])
    for key in ("metrics_interval_s", "history_days", "history_max_mb"):
        if key in data:
            if data[key] <= 0:
                raise fail(key, "must be positive")
            setattr(config, key, type(getattr(config, key))(data[key]))
    config.history = data.get("history", True)

    _load_sections(config, data, fail)
    return config


def _load_sections(config: AgentConfig, data: dict[str, Any], fail: Any) -> None:
    """Hand each section to the module that owns its meaning; they raise ConfigError."""
    if "probes" in data:
        config.probes = _in_section(fail, "probes", parse_probes, data["probes"])
    if "alerts" in data:
        alerts = data["alerts"]
        if not isinstance(alerts, dict) or set(alerts) - {"rules"}:
            raise fail("alerts", "expected an [alerts] table holding only rules = [...]")
        config.rules = _in_section(fail, "alerts.rules", parse_rules, alerts.get("rules", []))
    if "notify" in data:
        config.notifiers = _in_section(fail, "notify", parse_notifiers, data["notify"])
    if "routes" in data:
        config.route_rules = list(_in_section(fail, "routes", parse_route_rules, data["routes"]))


def _in_section(fail: Any, key: str, parse: Any, raw: Any) -> Any:
    try:
        return parse(raw)
    except ConfigError as exc:
        raise fail(key, str(exc), exc.at) from None


def _type_name(expected: type | tuple[type, ...]) -> str:
    if isinstance(expected, tuple):
        return "a number"
    return {str: "a string", bool: "true or false", int: "an integer"}.get(expected, str(expected))
