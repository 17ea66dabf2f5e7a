"""Make helpers importable by name (pytest runs with --import-mode=importlib): this folder's
``proof_kit`` and the console's screen reader (tests/tui/app/app_test_support.py)."""

from __future__ import annotations

import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent
for folder in (_HERE, _HERE.parent / "tui" / "app"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
