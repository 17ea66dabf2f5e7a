"""Host and process gauges from psutil, sampled once per metrics tick (never per event)."""

from __future__ import annotations

import os
from dataclasses import dataclass

import psutil


@dataclass(frozen=True, slots=True)
class HostSample:
    cpu_percent: float
    memory_percent: float
    disk_percent: float
    load_1m: float
    process_rss: int
    """Resident memory of the agent process, in bytes."""
    process_vms: int
    """Virtual memory of the agent process, in bytes."""


EMPTY_SAMPLE = HostSample(0.0, 0.0, 0.0, 0.0, 0, 0)


class HostSampler:
    """Callable returning a :class:`HostSample`. ``disk_path`` is the filesystem watched."""

    def __init__(self, disk_path: str = "/") -> None:
        self._disk_path = disk_path
        self._process = psutil.Process(os.getpid())
        psutil.cpu_percent(interval=None)  # primes the counter: the first reading is since now

    def __call__(self) -> HostSample:
        memory = self._process.memory_info()
        try:
            disk = psutil.disk_usage(self._disk_path).percent
        except OSError:
            disk = 0.0  # an unmounted path is reported by the disk probe, not here
        return HostSample(
            cpu_percent=psutil.cpu_percent(interval=None),
            memory_percent=psutil.virtual_memory().percent,
            disk_percent=disk,
            load_1m=os.getloadavg()[0],
            process_rss=memory.rss,
            process_vms=memory.vms,
        )
