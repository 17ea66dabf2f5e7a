"""Dependency probes (HTTP, TCP, disk, memory) and the seed's overall health status.

Each probe runs in its own task on its own interval (with jitter, so probes configured
alike do not fire in lockstep) and every check is bounded by the probe's timeout, so a hung
dependency only ever delays its own probe. The overall status follows the seed: every probe
healthy → ``healthy``; anything less → ``degraded`` (HTTP 200); a probe marked ``critical``
unhealthy → ``unhealthy`` (HTTP 503).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import socket
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Annotated, Any, Final

import msgspec
import psutil

from obsview.backend.config_tables import (
    BadValue,
    HttpUrl,
    NonEmpty,
    Port,
    Table,
    convert_section,
    reject_repeated_names,
)
from obsview.backend.durations import Seconds
from obsview.backend.ingest.redact import redact_text
from obsview.common.iso_time import iso_utc
from obsview.common.protocol import HealthReport, ProbeStatus

if TYPE_CHECKING:  # loaded by the agents with an HTTP probe only (see HealthMonitor._http_client)
    import httpx

MAX_BODY_BYTES: Final = 65536
"""How much of a response body ``body_contains`` looks at."""

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ProbeSpec:
    name: str
    kind: str
    """``http``, ``tcp``, ``disk`` or ``memory``: the tag of its table (:data:`Probe`)."""
    target: str = ""
    """URL (http), ``host:port`` (tcp), filesystem path (disk); empty for memory."""
    interval_s: float = 10.0
    timeout_s: float = 5.0
    critical: bool = False
    """An unhealthy critical probe makes the whole service unhealthy (HTTP 503)."""
    method: str = "GET"
    expect_status: int | None = None
    """None: any 2xx, like the seed's ``response.ok``."""
    body_contains: str = ""
    host: str = ""
    port: int = 0
    warn_percent: float = 0.0
    fail_percent: float = 0.0


Percent = Annotated[float, msgspec.Meta(ge=0, le=100)]


class _Probe(Table, tag_field="kind"):
    """A ``[[probes]]`` table: what every kind has (see :class:`ProbeSpec`)."""

    name: NonEmpty
    interval: Seconds = Seconds(10.0)
    timeout: Seconds = Seconds(5.0)
    critical: bool = False

    def __post_init__(self) -> None:
        for key, seconds in (("interval", self.interval), ("timeout", self.timeout)):
            if seconds <= 0:
                raise BadValue(key, "must be positive")

    def _spec(self) -> ProbeSpec:
        return ProbeSpec(self.name, str(self.__struct_config__.tag), interval_s=float(self.interval),
                         timeout_s=float(self.timeout), critical=self.critical)


class HttpProbe(_Probe, tag="http", kw_only=True):
    url: HttpUrl
    method: str = "GET"
    """GET or HEAD, in any case."""
    expect_status: Annotated[int, msgspec.Meta(ge=100, le=599)] | None = None
    body_contains: str = ""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.method.upper() not in ("GET", "HEAD"):
            raise BadValue("method", f"expected GET or HEAD, got {self.method!r}")
        if self.body_contains and self.method.upper() == "HEAD":
            raise BadValue("body_contains", "a HEAD response has no body")

    def spec(self) -> ProbeSpec:
        return replace(self._spec(), target=self.url, method=self.method.upper(), expect_status=self.expect_status,
                       body_contains=self.body_contains)


class TcpProbe(_Probe, tag="tcp", kw_only=True):
    host: NonEmpty
    port: Port

    def spec(self) -> ProbeSpec:
        return replace(self._spec(), target=f"{self.host}:{self.port}", host=self.host, port=self.port)


class _UsageProbe(_Probe, kw_only=True):
    """Disk or memory: ``warn`` and ``fail`` are the percentages used that make it degraded
    and unhealthy."""

    warn: Percent
    fail: Percent

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.warn > self.fail:
            raise BadValue("warn", f"must not be above fail ({self.fail:g})")

    def _usage_spec(self, target: str) -> ProbeSpec:
        return replace(self._spec(), target=target, warn_percent=self.warn, fail_percent=self.fail)


# The seed alerts at 80 % memory and 90 % disk: those are the "warn" (degraded) marks here.
class DiskProbe(_UsageProbe, tag="disk"):
    path: str = "/"
    warn: Percent = 90.0
    fail: Percent = 98.0

    def spec(self) -> ProbeSpec:
        return self._usage_spec(self.path)


class MemoryProbe(_UsageProbe, tag="memory"):
    warn: Percent = 80.0
    fail: Percent = 95.0

    def spec(self) -> ProbeSpec:
        return self._usage_spec("")


Probe = HttpProbe | TcpProbe | DiskProbe | MemoryProbe


def probe_specs(tables: Sequence[Probe]) -> list[ProbeSpec]:
    """The specs of ``[[probes]]`` tables; ConfigError at a name an earlier probe took."""
    specs = [table.spec() for table in tables]
    reject_repeated_names([spec.name for spec in specs], ("probes",))
    return specs


def parse_probes(raw: object) -> list[ProbeSpec]:
    """``[[probes]]`` tables → specs. Raises ConfigError naming the key path."""
    return probe_specs(convert_section(raw, list[Probe], ("probes",)))


def _seconds(value: float) -> str:
    return f"{value:g}s"


def _network_reason(exc: BaseException) -> str:
    """A short reason for a failed connection: what a person needs to act on it."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ConnectionRefusedError):
            return "connection refused"
        if isinstance(seen, socket.gaierror):
            return f"DNS: {seen.strerror or seen}"
        seen = seen.__cause__ or seen.__context__
    text = str(exc) or type(exc).__name__
    if "Connection refused" in text:
        return "connection refused"
    if "Name or service not known" in text or "nodename nor servname" in text:
        return f"DNS: {text}"
    return redact_text(text)


class HealthMonitor:
    def __init__(
        self,
        probes: Sequence[ProbeSpec],
        *,
        clock: Callable[[], float] = time.time,
        version: str,
        started_at: float,
        jitter: float = 0.1,
        rng: random.Random | None = None,
    ) -> None:
        self._probes = tuple(probes)
        self._clock = clock
        self._version = version
        self._started_at = started_at
        self._jitter = jitter
        self._rng = rng or random.Random()
        self.on_change: Callable[[HealthReport], None] | None = None
        """Called with the new report after every check: a status change, but also a new
        latency or error, which the console shows live (the server keeps only the latest)."""
        now = clock()
        self._statuses: dict[str, ProbeStatus] = {
            spec.name: ProbeStatus(spec.name, spec.kind, redact_text(spec.target), "degraded",
                                   None, "not checked yet", 0.0, now)
            for spec in self._probes
        }
        self._client: httpx.AsyncClient | None = None
        self._network_errors: tuple[type[BaseException], ...] = (OSError,)
        """What a failed check raises: httpx's errors too, once an HTTP probe loaded it."""

    # ------------------------------------------------------------------ status

    def report(self) -> HealthReport:
        now = self._clock()
        probes = tuple(self._statuses[spec.name] for spec in self._probes)
        if any(p.status == "unhealthy" and spec.critical for p, spec in zip(probes, self._probes)):
            overall = "unhealthy"
        elif all(p.status == "healthy" for p in probes):
            overall = "healthy"
        else:
            overall = "degraded"
        return HealthReport(overall, now, now - self._started_at, self._version, probes)

    def _record(self, spec: ProbeSpec, status: str, latency_ms: float | None, error: str) -> ProbeStatus:
        now = self._clock()
        previous = self._statuses[spec.name]
        changed = previous.status != status
        current = ProbeStatus(spec.name, spec.kind, previous.target, status, latency_ms, error,
                              now, now if changed else previous.changed_at)
        self._statuses[spec.name] = current
        if self.on_change is not None:
            try:
                self.on_change(self.report())
            except Exception:  # a broken listener must not stop the probes
                log.exception("health on_change callback failed")
        return current

    # ------------------------------------------------------------------ running

    async def run(self) -> None:
        """Probe forever, each probe in its own task, until cancelled."""
        if not self._probes:
            return
        async with self._http_client():
            async with asyncio.TaskGroup() as group:
                for spec in self._probes:
                    group.create_task(self._probe_forever(spec), name=f"probe:{spec.name}")

    async def check_all(self) -> HealthReport:
        """Run every probe once, concurrently (startup, tests)."""
        async with self._http_client():
            await asyncio.gather(*(self.check(spec) for spec in self._probes))
        return self.report()

    @contextlib.asynccontextmanager
    async def _http_client(self) -> AsyncIterator[None]:
        """Owns the shared httpx client for the duration of run() or check_all()."""
        if self._client is not None or not any(spec.kind == "http" for spec in self._probes):
            yield
            return
        # Here, not at the top: httpx (~7 MiB resident with its CLI's click and rich, when
        # installed) is loaded by the agents that probe over HTTP only.
        import httpx

        self._network_errors = (OSError, httpx.HTTPError)
        # No keep-alive across checks: a probe must see a dependency that went away.
        async with httpx.AsyncClient(limits=httpx.Limits(max_keepalive_connections=0)) as client:
            self._client = client
            try:
                yield
            finally:
                self._client = None

    async def _probe_forever(self, spec: ProbeSpec) -> None:
        rng, jitter = self._rng, self._jitter
        await asyncio.sleep(rng.uniform(0, min(spec.interval_s * jitter, 1.0)))
        while True:
            await self.check(spec)
            await asyncio.sleep(spec.interval_s * (1 + rng.uniform(-jitter, jitter)))

    async def check(self, spec: ProbeSpec) -> ProbeStatus:
        """One check of one probe, never longer than its timeout, never raising."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            async with asyncio.timeout(spec.timeout_s):
                status, error = await self._check(spec)
        except TimeoutError:
            return self._record(spec, "unhealthy", None, f"timeout after {_seconds(spec.timeout_s)}")
        except self._network_errors as exc:
            return self._record(spec, "unhealthy", None, _network_reason(exc))
        except Exception as exc:  # anything else is a bug here, but the probe loop must go on
            log.exception("probe %s failed unexpectedly", spec.name)
            return self._record(spec, "unhealthy", None, f"probe error: {type(exc).__name__}")
        latency = (loop.time() - started) * 1000
        return self._record(spec, status, latency, error)

    async def _check(self, spec: ProbeSpec) -> tuple[str, str]:
        if spec.kind == "http":
            return await self._check_http(spec)
        if spec.kind == "tcp":
            _reader, writer = await asyncio.open_connection(spec.host, spec.port)
            writer.close()
            await writer.wait_closed()
            return "healthy", ""
        percent = psutil.disk_usage(spec.target).percent if spec.kind == "disk" else psutil.virtual_memory().percent
        label = f"{spec.kind} {percent:.1f}% used"
        if percent >= spec.fail_percent:
            return "unhealthy", f"{label} (fail at {spec.fail_percent:g}%)"
        if percent >= spec.warn_percent:
            return "degraded", f"{label} (warn at {spec.warn_percent:g}%)"
        return "healthy", ""

    async def _check_http(self, spec: ProbeSpec) -> tuple[str, str]:
        client = self._client
        assert client is not None, "HTTP probes run inside run() or check_all()"
        async with client.stream(spec.method, spec.target, timeout=spec.timeout_s) as response:
            code = response.status_code
            ok = code == spec.expect_status if spec.expect_status is not None else 200 <= code < 300
            if not ok:
                return "unhealthy", f"HTTP {code}"
            if spec.body_contains:
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) >= MAX_BODY_BYTES:
                        break
                if spec.body_contains.encode() not in body:
                    return "unhealthy", f"HTTP {code}: body does not contain {spec.body_contains!r}"
        return "healthy", ""


NO_PROBES: Final = "no probes"
"""What ``/api/health`` and the console say when no probe is configured: no dependency is
checked, so nothing is known of them (the status stays the seed's ``healthy``, HTTP 200)."""


def health_json(report: HealthReport) -> dict[str, Any]:
    """The seed's ``/api/health`` body: status, timestamp, uptime, version, services; and,
    beyond the seed, ``sources``: each log source's state.

    With no probe configured ``services`` says so (``{"probes": {"status": "no probes"}}``)
    rather than being empty: an empty object next to ``"status": "healthy"`` reads as "every
    dependency checked and fine" when none was checked at all."""
    services: dict[str, dict[str, Any]] = {}
    if not report.probes:
        services["probes"] = {"status": NO_PROBES,
                              "detail": "no [[probes]] configured: no dependency is checked"}
    for probe in report.probes:
        service: dict[str, Any] = {"status": probe.status}
        if probe.latency_ms is not None:
            service["responseTime"] = round(probe.latency_ms, 3)
        if probe.error:
            service["error"] = probe.error
        services[probe.name] = service
    body: dict[str, Any] = {
        "status": report.status,
        "timestamp": iso_utc(report.ts),
        "uptime": round(report.uptime_s, 3),
        "version": report.version,
        "services": services,
    }
    if report.sources:  # obsview's own: what each log source is doing
        body["sources"] = {
            source.name: {"state": source.state, "detail": source.detail,
                          "since": iso_utc(source.since), "restarts": source.restarts}
            for source in report.sources
        }
    return body


def http_status(report: HealthReport) -> int:
    """200 for healthy and degraded, 503 for unhealthy: as the seed answers."""
    return 503 if report.status == "unhealthy" else 200
