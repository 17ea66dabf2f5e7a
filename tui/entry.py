"""``obsview``'s entry point: checks the console's libraries are installed, then runs the CLI.

The console runs an agent in itself (files, pipes, the demo), so it needs the agent's
libraries too; ``obsview demo`` also the demo's web app and server (``obsview[demo]``).
"""

from __future__ import annotations

import sys
from typing import Final

from obsview.common.extras import missing_extra

CONSOLE_MODULES: Final = ("textual", "tomli_w", "httpx", "websockets", "msgspec", "psutil", "platformdirs",
                          "prometheus_client", "aiosmtplib", "opentelemetry.proto", "ahocorasick_rs", "lz4")

DEMO_MODULES: Final = ("starlette", "uvicorn")


def main() -> int:
    problem = missing_extra("obsview", "console", CONSOLE_MODULES)
    if problem is None and sys.argv[1:2] == ["demo"]:
        problem = missing_extra("obsview demo", "demo", DEMO_MODULES)
    if problem is not None:
        print(problem, file=sys.stderr)
        return 1
    from obsview.tui.cli import main as run

    return run()
