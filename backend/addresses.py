"""Listen addresses: parsing ``HOST:PORT``, printing it back, and telling loopback apart.

Stdlib only: every listener (websocket server, TCP and OTLP sources) and the token check
import it without loading the configuration and everything it validates.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Final

from obsview.backend.errors import ConfigError

APP_NAME: Final = "obsview"
LOOPBACK_NAMES: Final = frozenset({"localhost", "ip6-localhost"})


def is_loopback(host: str) -> bool:
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


HOST_REFUSED: Final = "Host not allowed (name it in allowed_hosts in the agent config)"


def host_header_allowed(value: str | None, allowed: frozenset[str]) -> bool:
    """Whether a ``Host`` header names this machine on a loopback listener: a loopback name or
    IP (any port), or one of ``allowed`` (lower-case names the operator configured).

    A DNS-rebinding page reaches 127.0.0.1 under its own name (``evil.example:8765``), which
    this refuses; a request without ``Host`` is no browser's and passes here (HTTP/1.1 requires
    one: the OTLP receiver's h11 framing refuses an HTTP/1.1 head without it before this check).
    """
    if value is None:
        return True
    match = _HOST_HEADER.fullmatch(value.strip().lower())
    if match is None:
        return False
    host = (match.group(1) or match.group(2)).rstrip(".")
    return bool(host) and (is_loopback(host) or host in allowed)


_HOST_HEADER: Final = re.compile(r"(?:\[([0-9a-f:.]+)\]|([^:\[\]]+))(?::[0-9]{1,5})?")
"""``name``, ``name:port``, ``1.2.3.4:port``, ``[v6]:port``: nothing after the port."""


def parse_host_port(text: str, *, what: str = "address") -> tuple[str, int]:
    """``127.0.0.1:8765``, ``localhost:0``, ``[::1]:8765`` → (host, port)."""
    text = text.strip()
    match = re.fullmatch(r"\[([0-9A-Fa-f:.%a-zA-Z]+)\]:(\S+)|([^:\s\[\]]+):(\S+)", text)
    if match is None:
        raise ConfigError(
            f"{what} {text!r} is not HOST:PORT (for IPv6 write [::1]:8765)"
        )
    host = match.group(1) or match.group(3)
    port_text = match.group(2) or match.group(4)
    if not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise ConfigError(f"{what} {text!r}: port {port_text!r} must be a number from 0 to 65535")
    return host, int(port_text)


def format_host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
