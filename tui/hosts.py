"""The agents one console watches: ``obsview URL1 URL2 …`` or ``[[hosts]]`` in its config.

    [[hosts]]
    name = "web-1"                       # shown in the host column, the Hosts panel, host:
    url = "ws://10.0.0.11:8765"          # ws://, wss:// or ssh://[user@]server[:port]
    token_file = "~/.config/obsview/web-1.token"   # optional

Every entry is checked before anything connects: a bad one is one line naming the file, the
entry and the key, never a console that half-works. Names are untrusted text like any other
(shown only through :mod:`obsview.tui.render`), but they are also typed in ``host:`` filter
terms, so they must be short and hold no blank, comma or control character.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

from obsview.common.protocol import Dropped, Gap
from obsview.tui.ssh_tunnel import parse_ssh_url

HOST_SCHEMES: Final = ("ws://", "wss://", "ssh://")
HOST_KEYS: Final = frozenset({"name", "url", "token_file"})
#: What a name may hold: it is typed after ``host:`` (no blank or comma) and fits a column.
NAME_PATTERN: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@-]{0,39}")
MAX_HOSTS: Final = 32
_NOT_IN_NAMES: Final = re.compile(r"[^A-Za-z0-9._:@-]")
#: The label a fleet alert carries its host in (and a silence's matcher names it by).
HOST_LABEL: Final = "host"


@dataclass(frozen=True, slots=True)
class HostNote:
    """A gap or drops on one host's link, for a marker line that names the host (here, not
    in :mod:`obsview.tui.fleet_view`: the dashboard reads them, and a console on one agent
    never loads the fleet's merge)."""

    host: str
    message: Gap | Dropped


class HostsError(ValueError):
    """A bad ``[[hosts]]`` entry or URL list; the message names the entry and what to fix."""


@dataclass(frozen=True, slots=True)
class HostSpec:
    name: str
    url: str
    token_file: Path | None = None


def name_from_url(url: str) -> str:
    """``ws://10.0.0.11:8765`` → ``10.0.0.11:8765``; ``ssh://deploy@web-1`` → ``web-1``;
    ``ws://[::1]:8765`` → ``::1:8765`` (only what a ``host:`` term can hold is kept)."""
    try:
        address = parse_ssh_url(url).host if url.startswith("ssh://") else urlsplit(url).netloc
    except ValueError as exc:
        raise HostsError(f"{url!r}: {exc}") from None
    name = _NOT_IN_NAMES.sub("", address.rsplit("@", 1)[-1])[:40]
    return name or "host"


def hosts_from_urls(urls: Sequence[str], token_file: Path | None = None) -> tuple[HostSpec, ...]:
    """Hosts for URLs given on the command line, named after their address (``#2`` added
    when two share one: the same agent twice is allowed, it is just watched twice)."""
    hosts: list[HostSpec] = []
    seen: dict[str, int] = {}
    for url in urls:
        _check_url(url, repr(url))
        base = name_from_url(url)
        seen[base] = seen.get(base, 0) + 1
        name = base if seen[base] == 1 else f"{base}#{seen[base]}"
        hosts.append(HostSpec(name=name, url=url, token_file=token_file))
    return _checked(hosts, "the command line")


def hosts_from_config(entries: object, path: Path) -> tuple[HostSpec, ...]:
    """The ``[[hosts]]`` array of the console config at ``path``, validated."""
    if not isinstance(entries, list):
        raise HostsError(f"{path}: 'hosts' must be an array of tables: [[hosts]]")
    hosts: list[HostSpec] = []
    for number, entry in enumerate(entries, start=1):
        where = f"{path}: [[hosts]] entry {number}"
        if not isinstance(entry, Mapping):
            raise HostsError(f"{where}: must be a table with name and url")
        unknown = sorted(set(entry) - HOST_KEYS)
        if unknown:
            raise HostsError(f"{where}: unknown key {unknown[0]!r} (known: name, url, token_file)")
        for key in ("name", "url"):
            if key not in entry:
                raise HostsError(f"{where}: {key!r} is missing")
        for key in HOST_KEYS & set(entry):
            if not isinstance(entry[key], str):
                raise HostsError(f"{where}: {key!r} must be a string")
        name, url = entry["name"], entry["url"]
        where = f"{path}: [[hosts]] {name!r}" if NAME_PATTERN.fullmatch(name) else where
        if not NAME_PATTERN.fullmatch(name):
            raise HostsError(f"{where}: name {name!r} must be 1-40 letters, digits or . _ : @ - "
                             "(it is typed after host: in filters)")
        _check_url(url, where)
        token = entry.get("token_file")
        hosts.append(HostSpec(name=name, url=url,
                              token_file=Path(token).expanduser() if token else None))
    return _checked(hosts, str(path))


def _check_url(url: str, where: str) -> None:
    if not url.startswith(HOST_SCHEMES):
        raise HostsError(f"{where}: url {url!r} must start with ws://, wss:// or ssh://")
    if url.startswith("ssh://"):
        try:
            parse_ssh_url(url)
        except ValueError as exc:
            raise HostsError(f"{where}: {exc}") from None
    elif not urlsplit(url).hostname:
        raise HostsError(f"{where}: url {url!r} names no host (ws://HOST:PORT)")


def _checked(hosts: list[HostSpec], where: str) -> tuple[HostSpec, ...]:
    if len(hosts) > MAX_HOSTS:
        raise HostsError(f"{where}: {len(hosts)} hosts; one console watches at most {MAX_HOSTS}")
    names: set[str] = set()
    for host in hosts:
        if host.name.lower() in names:
            raise HostsError(f"{where}: two hosts are named {host.name!r} (host: filters by name)")
        names.add(host.name.lower())
    return tuple(hosts)
