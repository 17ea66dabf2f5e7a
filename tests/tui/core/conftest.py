"""Make ``tests/tui/injection_corpus.py`` importable as ``injection_corpus``."""

from __future__ import annotations

import sys
from pathlib import Path

_TUI_TESTS = str(Path(__file__).resolve().parents[1])
if _TUI_TESTS not in sys.path:
    sys.path.insert(0, _TUI_TESTS)
