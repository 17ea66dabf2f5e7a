"""The token file: created 0600 in a 0700 dir, refused when others can read it."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from obsview.backend.auth import (
    bearer_matches,
    default_token_path,
    load_or_create_token,
    token_for,
)
from obsview.backend.errors import StartupError


@pytest.fixture(autouse=True)
def private_config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    return tmp_path / "config"


def test_created_token_file_is_0600_in_a_0700_dir(private_config_dir: Path) -> None:
    path = default_token_path()
    token = load_or_create_token(path)
    assert path.is_relative_to(private_config_dir)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert len(token) >= 40
    assert load_or_create_token(path) == token  # loaded, not regenerated


def test_token_file_readable_by_others_is_refused_with_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text("abc\n")
    path.chmod(0o644)
    with pytest.raises(StartupError, match=f"chmod 600 {path}"):
        load_or_create_token(path)


def test_loopback_needs_no_token_but_a_configured_one_is_used(tmp_path: Path) -> None:
    assert token_for(("127.0.0.1", 8765), None) is None
    assert token_for(("::1", 8765), None) is None
    assert token_for(("localhost", 8765), None) is None
    assert token_for(("127.0.0.1", 8765), tmp_path / "t") is not None


def test_non_loopback_without_a_token_is_refused_with_how_to_fix() -> None:
    with pytest.raises(StartupError, match="--print-token"):
        token_for(("0.0.0.0", 8765), None)


def test_non_loopback_uses_the_default_token_once_created() -> None:
    token = load_or_create_token(default_token_path())
    assert token_for(("0.0.0.0", 8765), None) == token


@pytest.mark.parametrize(
    ("header", "ok"),
    [("Bearer abc", True), ("bearer abc", True), ("Bearer abd", False), ("abc", False), (None, False), ("Bearer ", False)],
)
def test_bearer_header_check(header: str | None, ok: bool) -> None:
    assert bearer_matches(header, "abc") is ok
