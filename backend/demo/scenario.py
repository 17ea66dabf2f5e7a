"""The demo's script: what goes wrong when, so alerts fire, resolve and can be acknowledged
within the first two minutes, and again every cycle after that."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

from obsview.backend.demo.app import Chaos
from obsview.backend.demo.deps import FakeDependency

NORMAL_SLOW_FRACTION = 0.02
log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Phase:
    start_s: float
    end_s: float
    name: str
    error_fraction: float = 0.0
    slow_fraction: float | None = None
    db_down: bool = False
    redis_down: bool = False
    brute_force: bool = False


#: One cycle; it repeats for as long as the demo runs. Times are seconds into the cycle.
TIMELINE: tuple[Phase, ...] = (
    Phase(15, 40, "5xx burst: 30 % of database queries fail", error_fraction=0.3),
    Phase(30, 40, "brute force: failed logins from one IP", brute_force=True),
    Phase(60, 90, "database down", db_down=True),
    Phase(120, 140, "redis down: cache bypassed, health degraded", redis_down=True),
    Phase(150, 170, "slow queries", slow_fraction=0.35),
)
CYCLE_S = 240.0


@dataclass(frozen=True, slots=True)
class ScenarioState:
    error_fraction: float = 0.0
    slow_fraction: float = NORMAL_SLOW_FRACTION
    db_down: bool = False
    redis_down: bool = False
    brute_force: bool = False


def state_at(elapsed_s: float, timeline: tuple[Phase, ...] = TIMELINE, cycle_s: float = CYCLE_S) -> ScenarioState:
    """What the scenario wants ``elapsed_s`` seconds after the demo started (pure)."""
    t = elapsed_s % cycle_s
    active = [phase for phase in timeline if phase.start_s <= t < phase.end_s]
    slow = [phase.slow_fraction for phase in active if phase.slow_fraction is not None]
    return ScenarioState(
        error_fraction=max((phase.error_fraction for phase in active), default=0.0),
        slow_fraction=max(slow, default=NORMAL_SLOW_FRACTION),
        db_down=any(phase.db_down for phase in active),
        redis_down=any(phase.redis_down for phase in active),
        brute_force=any(phase.brute_force for phase in active),
    )


class Scenario:
    """Applies :func:`state_at` to the API's chaos knobs and the fake dependencies.

    ``time_scale`` > 1 plays the script faster; ``start_s`` starts it part-way through
    (``start_s=58`` shows the database outage at once).
    """

    def __init__(
        self,
        chaos: Chaos,
        database: FakeDependency,
        redis: FakeDependency,
        *,
        time_scale: float = 1.0,
        start_s: float = 0.0,
        clock: Callable[[], float] | None = None,
        step_s: float = 0.25,
    ) -> None:
        self.chaos = chaos
        self.database = database
        self.redis = redis
        self.time_scale = time_scale
        self.start_s = start_s
        self.step_s = step_s
        self._clock = clock
        self._started: float | None = None
        self.state = ScenarioState()

    def elapsed(self) -> float:
        now = self._now()
        if self._started is None:
            self._started = now
        return self.start_s + (now - self._started) * self.time_scale

    def _now(self) -> float:
        return self._clock() if self._clock else asyncio.get_running_loop().time()

    async def apply(self) -> ScenarioState:
        state = state_at(self.elapsed())
        self.chaos.error_fraction = state.error_fraction
        self.chaos.slow_fraction = state.slow_fraction
        for dependency, down in ((self.database, state.db_down), (self.redis, state.redis_down)):
            if down and dependency.is_up:
                await dependency.down()
            elif not down and not dependency.is_up:
                try:
                    await dependency.up()
                except OSError as exc:  # its port was taken meanwhile: say so, retry next step
                    log.warning("demo: cannot bring %s back on port %d: %s", dependency.name, dependency.port, exc)
        self.state = state
        return state

    async def run(self) -> None:
        """Apply the script every ``step_s`` until cancelled."""
        while True:
            await self.apply()
            await asyncio.sleep(self.step_s)
