"""Keeps the suite away from the real user's obsview files, and shares ``polling``."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# pytest runs with --import-mode=importlib, which does not put test folders on sys.path:
# helpers every folder shares (polling.py) live here, under names no other folder uses.
if str(Path(__file__).parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(autouse=True, scope="session")
def private_user_dirs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    # platformdirs reads these on every call: a test that saves a theme, a token or alert
    # state writes into a throwaway home, and so do the agent subprocesses it starts.
    home = tmp_path_factory.mktemp("home")
    with pytest.MonkeyPatch.context() as patch:
        for name in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
            patch.setenv(name, str(home / name.lower()))
        yield
