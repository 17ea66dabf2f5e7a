"""The agent's bearer token: where it lives, how it is created, and how a request is checked.

The token file is created with mode 0600 inside a 0700 directory. A token file that group or
others can read is refused rather than silently used: anyone who read it can read the logs.
"""

from __future__ import annotations

import hmac
import os
import secrets
import stat
from pathlib import Path
from typing import Final

import platformdirs

from obsview.backend.addresses import APP_NAME, format_host_port, is_loopback
from obsview.backend.errors import StartupError

TOKEN_BYTES: Final = 32


def default_token_path() -> Path:
    return Path(platformdirs.user_config_dir(APP_NAME)) / "token"


def load_token(path: Path) -> str:
    """Read an existing token file, refusing one that group/others may read."""
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise StartupError(f"cannot read token file {path}: {exc.strerror or exc}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise StartupError(
            f"token file {path} is accessible by group/others (mode {stat.S_IMODE(mode):04o});"
            f" fix it with: chmod 600 {path}"
        )
    try:
        token = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise StartupError(f"cannot read token file {path}: {exc}") from None
    if not token:
        raise StartupError(f"token file {path} is empty; delete it and a new token is created")
    return token


def load_or_create_token(path: Path) -> str:
    """The token stored at ``path``; a new random one (saved 0600) when the file is missing."""
    if path.exists():
        return load_token(path)
    token = secrets.token_urlsafe(TOKEN_BYTES)
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        # O_EXCL: never follow a planted symlink or overwrite a file created meanwhile.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return load_token(path)
    except OSError as exc:
        raise StartupError(f"cannot create token file {path}: {exc.strerror or exc}") from None
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        file.write(token + "\n")
    return token


def bearer_matches(authorization: str | None, token: str) -> bool:
    """Constant-time check of an ``Authorization: Bearer <token>`` header value."""
    if not authorization:
        return False
    scheme, _, presented = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(presented.strip().encode(), token.encode())


def token_for(listen: tuple[str, int], token_file: Path | None) -> str | None:
    """The token a listener enforces, or ``None`` for an open loopback listener.

    One policy for every listener: the websocket/HTTP port, the TCP and the OTLP sources.
    An explicit token file is always enforced (created when missing). A non-loopback bind
    without one uses the default token file, which must already exist: creating a secret
    silently would leave the user with an agent nobody knows how to reach.
    """
    if token_file is not None:
        return load_or_create_token(token_file)
    host, port = listen
    if is_loopback(host):
        return None
    default = default_token_path()
    if default.exists():
        return load_token(default)
    raise StartupError(
        f"listening on {format_host_port(host, port)} (not loopback) needs a token: run"
        f" `obsview-agent --print-token` once to create {default}, or pass --token-file FILE"
        " (or keep the default 127.0.0.1 and use `ssh -L`)"
    )
