"""What to say when a command runs where its role's libraries were not installed.

The bare distribution is the instrument alone (it runs inside the user's service); the agent,
the console and the demo each come with an extra (``obsview[agent]``, ``obsview[console]``,
``obsview[demo]``). A command started without its extra says which one to install instead
of dying on an ImportError. Standard library only: it runs before anything else is imported.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterable


def missing_extra(command: str, extra: str, modules: Iterable[str]) -> str | None:
    """The message for ``command`` when one of ``modules`` cannot be imported; ``None`` when
    all of them can."""
    missing = [module for module in modules if not _importable(module)]
    if not missing:
        return None
    return (
        f"{command}: {', '.join(missing)} is not installed: {command} needs obsview's {extra!r} extra.\n"
        f"Install it with:  uv tool install 'obsview[{extra}]'   (or: pip install 'obsview[{extra}]')"
    )


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # its parent package is missing (``opentelemetry.proto``)
        return False
