"""Exponential backoff with a cap: the one rule every retry loop of obsview follows.

``base``, ``2 * base``, ``4 * base``… never above ``cap``; :meth:`Backoff.reset` starts again
from ``base`` once the thing retried has worked (or run long enough to count as a new
incident). Standard library only: the instrument's shipper thread uses it inside the user's
service.
"""

from __future__ import annotations

from dataclasses import dataclass


def backoff_delay(attempt: int, base: float, cap: float) -> float:
    """The delay before retry number ``attempt`` (1 for the first retry)."""
    return min(cap, base * 2.0 ** min(max(attempt - 1, 0), 64))


@dataclass(slots=True)
class Backoff:
    """Successive delays for one retry loop: :meth:`next` after each failure, :meth:`reset`
    after a success."""

    base: float
    cap: float
    failures: int = 0

    def next(self) -> float:
        """The delay to wait after one more failure."""
        self.failures += 1
        return backoff_delay(self.failures, self.base, self.cap)

    def reset(self) -> None:
        self.failures = 0
