"""The seed's blog API, instrumented, with a bounded load generator: obsview's demo.

``run_demo`` and ``DemoStack`` are resolved on first access (PEP 562), so importing the demo
app, its HTTP server helper or the load generator does not import the whole agent.

May import: any part of the agent (it wires one up, as ``agent`` does) and ``instrument``
(its blog API is instrumented the way a user's service is).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from obsview.backend.demo.runner import DemoStack, run_demo

__all__ = ["DemoStack", "run_demo"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from obsview.backend.demo import runner

        return getattr(runner, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
