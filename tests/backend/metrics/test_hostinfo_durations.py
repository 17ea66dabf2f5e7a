from __future__ import annotations

import pytest

from obsview.backend.durations import to_seconds
from obsview.backend.signals.hostinfo import HostSampler


def test_host_sampler_reads_real_gauges() -> None:
    sample = HostSampler("/")()
    assert 0 <= sample.cpu_percent <= 100 and 0 < sample.memory_percent <= 100
    assert 0 < sample.disk_percent <= 100 and sample.load_1m >= 0
    assert sample.process_rss > 0 and sample.process_vms >= sample.process_rss


def test_host_sampler_survives_a_missing_disk_path() -> None:
    assert HostSampler("/no/such/mount/point")().disk_percent == 0.0


@pytest.mark.parametrize(("value", "seconds"), [
    ("30s", 30.0), ("5m", 300.0), ("1h", 3600.0), ("250ms", 0.25), ("1.5m", 90.0), (10, 10.0), (0.5, 0.5),
    (" 2d ", 172800.0),
])
def test_durations(value: object, seconds: float) -> None:
    assert to_seconds(value) == seconds


@pytest.mark.parametrize("value", ["soon", "5 minutes", "-1s", -1, True, None, "1y"])
def test_bad_durations_say_what_a_duration_is(value: object) -> None:
    with pytest.raises(ValueError, match=r"^(expected a duration like \"30s\".*|a duration cannot be negative), got "):
        to_seconds(value)
