"""The default alert rules with ``for`` durations short enough that the demo shows an alert
fire, resolve and get acknowledged within its first two minutes."""

from __future__ import annotations

from dataclasses import replace
from typing import Final

from obsview.backend.signals.alerts import DEFAULT_RULES, AlertRule

#: rule name → (for_s, keep_firing_for_s). Rules not listed keep their defaults.
DEMO_TIMINGS: Final = {
    "high_error_rate": (10.0, 15.0),
    "slow_responses": (15.0, 15.0),
    "low_cache_hit_rate": (10.0, 0.0),
}


def demo_rules() -> list[AlertRule]:
    rules = []
    for rule in DEFAULT_RULES:
        timing = DEMO_TIMINGS.get(rule.name)
        if timing is not None:
            rule = replace(rule, for_s=timing[0], keep_firing_for_s=timing[1])
        rules.append(rule)
    return rules
