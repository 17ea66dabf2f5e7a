"""Fixtures for delivery tests: a real Alertmanager per test, or a skip saying why not."""

from __future__ import annotations

import shutil
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

# pytest runs with --import-mode=importlib, which does not put test folders on sys.path;
# the shared helpers live beside the tests under a name no other folder uses.
sys.path.insert(0, str(Path(__file__).parent))

from alertmanager_kit import RealAlertmanager

BINARIES = ("prometheus-alertmanager", "alertmanager")


def find_alertmanager() -> tuple[str, str]:
    binary = next(filter(None, map(shutil.which, BINARIES)), None)
    amtool = shutil.which("amtool")
    if binary is None or amtool is None:
        pytest.skip("Alertmanager is not installed: these tests run a real one "
                    "(Debian: apt-get install prometheus-alertmanager, as .ci/run does)")
    return binary, amtool


@pytest.fixture
def resolve_timeout() -> str:
    """Alertmanager's resolve_timeout for the test (override the fixture to change it)."""
    return "5m"


@pytest.fixture
async def alertmanager(tmp_path: Path, resolve_timeout: str) -> AsyncIterator[RealAlertmanager]:
    binary, amtool = find_alertmanager()
    manager = RealAlertmanager(binary, amtool, tmp_path, resolve_timeout)
    try:
        await manager.start()
        yield manager
    finally:
        await manager.stop()
