from __future__ import annotations

import sys
from pathlib import Path

# pytest runs with --import-mode=importlib, which does not put test folders on sys.path;
# the shared helpers live beside the tests under a name no other folder uses.
sys.path.insert(0, str(Path(__file__).parent))
