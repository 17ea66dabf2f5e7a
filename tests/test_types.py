"""``mypy --strict`` over every package, so the code stays typed as it grows."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_mypy_strict_is_clean(tmp_path: Path) -> None:
    # The folders install under other names (backend/ is obsview.backend); mypy follows
    # folders, so it reads them through an obsview/ tree of links.
    package = tmp_path / "obsview"
    package.mkdir()
    for folder in ("common", "backend", "tui", "themes"):
        (package / folder).symlink_to(ROOT / folder)
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--namespace-packages",
         "--explicit-package-bases", "--cache-dir", str(tmp_path / "cache"),
         "-p", "obsview.common", "-p", "obsview.backend", "-p", "obsview.tui", "-p", "obsview.themes"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
