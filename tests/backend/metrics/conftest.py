from __future__ import annotations

import pytest

from obsview.backend.hostinfo import HostSample


class FakeClock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def fixed_host() -> HostSample:
    return HostSample(cpu_percent=12.0, memory_percent=40.0, disk_percent=50.0, load_1m=0.5,
                      process_rss=50_000_000, process_vms=400_000_000)


@pytest.fixture
def make_metrics(clock: FakeClock):  # type: ignore[no-untyped-def]
    """RequestMetrics on the fake clock with fixed host gauges (pytest cannot import conftest)."""
    from obsview.backend.metrics import RequestMetrics

    def make(**kwargs: object) -> RequestMetrics:
        return RequestMetrics(clock=clock, host_sampler=fixed_host, **kwargs)  # type: ignore[arg-type]

    return make
