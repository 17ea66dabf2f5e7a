"""Make the shared helpers importable by name (pytest runs with --import-mode=importlib):
``proof_kit`` (tests/reliability), the injection corpus (tests/tui) and the console's
screen reader (tests/tui/app)."""

from __future__ import annotations

import sys
from pathlib import Path

_TESTS = Path(__file__).resolve().parents[1]
for folder in (_TESTS / "reliability", _TESTS / "tui", _TESTS / "tui" / "app", _TESTS / "backend" / "otlp"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
