"""``obsview-agent``'s entry point: checks the agent's libraries are installed, then runs the CLI."""

from __future__ import annotations

import sys
from typing import Final

from obsview.common.extras import missing_extra

#: One module of each library of the ``agent`` extra, checked (not imported) at start: some are
#: imported only when the config uses them, and a missing one must be said now, not at the first alert.
AGENT_MODULES: Final = ("httpx", "websockets", "msgspec", "psutil", "platformdirs", "prometheus_client",
                        "aiosmtplib", "opentelemetry.proto", "ahocorasick_rs", "lz4")


def main() -> int:
    problem = missing_extra("obsview-agent", "agent", AGENT_MODULES)
    if problem is not None:
        print(problem, file=sys.stderr)
        return 1
    from obsview.backend.cli import main as run

    return run()
