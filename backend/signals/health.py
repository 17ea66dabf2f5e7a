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
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Final

import psutil

from obsview.backend.durations import parse_duration
from obsview.backend.errors import ConfigError, parse_named_tables
from obsview.backend.ingest.redact import redact_text
from obsview.common.iso_time import iso_utc
from obsview.common.protocol import HealthReport, ProbeStatus

if TYPE_CHECKING:  # loaded by the agents with an HTTP probe only (see HealthMonitor._http_client)
    import httpx

PROBE_KINDS: Final = ("http", "tcp", "disk", "memory")
MAX_BODY_BYTES: Final = 65536
"""How much of a response body ``body_contains`` looks at."""
# The seed alerts at 80 % memory and 90 % disk: those are the "warn" (degraded) marks here.
_DEFAULT_THRESHOLDS: Final = {"memory": (80.0, 95.0), "disk": (90.0, 98.0)}
_KEYS: Final = {
    "http": {"url", "method", "expect_status", "body_contains"},
    "tcp": {"host", "port"},
    "disk": {"path", "warn", "fail"},
    "memory": {"warn", "fail"},
}
_COMMON_KEYS: Final = {"name", "kind", "interval", "timeout", "critical"}

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ProbeSpec:
    name: str
    kind: str
    """One of :data:`PROBE_KINDS`."""
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


def parse_probes(raw: Sequence[Mapping[str, Any]]) -> list[ProbeSpec]:
    """``[[probes]]`` tables → specs. Raises ConfigError naming the probe and the key."""
    return parse_named_tables(raw, "probes", "probe", _parse_probe)


def _parse_probe(name: str, table: Mapping[str, Any]) -> ProbeSpec:
    where = f"probe {name!r}"
    kind = table.get("kind")
    if kind not in PROBE_KINDS:
        raise ConfigError(f"{where}: kind: expected one of {', '.join(PROBE_KINDS)}, got {kind!r}", at=("kind",))
    unknown = set(table) - _COMMON_KEYS - _KEYS[kind]
    if unknown:
        raise ConfigError(f"{where}: {sorted(unknown)[0]}: not a key of a {kind} probe", at=(sorted(unknown)[0],))
    interval = parse_duration(table.get("interval", 10.0), f"{where}: interval", at="interval")
    timeout = parse_duration(table.get("timeout", 5.0), f"{where}: timeout", at="timeout")
    if interval <= 0 or timeout <= 0:
        raise ConfigError(f"{where}: interval and timeout must be positive")
    critical = table.get("critical", False)
    if not isinstance(critical, bool):
        raise ConfigError(f"{where}: critical: expected true or false", at=("critical",))
    spec = ProbeSpec(name=name, kind=kind, interval_s=interval, timeout_s=timeout, critical=critical)
    if kind == "http":
        url = table.get("url")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise ConfigError(f"{where}: url: required, an http:// or https:// URL", at=("url",))
        method = str(table.get("method", "GET")).upper()
        if method not in ("GET", "HEAD"):
            raise ConfigError(f"{where}: method: expected GET or HEAD, got {table.get('method')!r}", at=("method",))
        expect = table.get("expect_status")
        if expect is not None and (type(expect) is not int or not 100 <= expect <= 599):
            raise ConfigError(f"{where}: expect_status: expected an HTTP status code", at=("expect_status",))
        body = table.get("body_contains", "")
        if not isinstance(body, str):
            raise ConfigError(f"{where}: body_contains: expected a string", at=("body_contains",))
        if body and method == "HEAD":
            raise ConfigError(f"{where}: body_contains: a HEAD response has no body", at=("body_contains",))
        return replace(spec, target=url, method=method, expect_status=expect, body_contains=body)
    if kind == "tcp":
        host, port = table.get("host"), table.get("port")
        if not isinstance(host, str) or not host:
            raise ConfigError(f"{where}: host: required, a host name or address", at=("host",))
        if type(port) is not int or not 0 < port < 65536:
            raise ConfigError(f"{where}: port: required, 1-65535", at=("port",))
        return replace(spec, target=f"{host}:{port}", host=host, port=port)
    warn, fail = _DEFAULT_THRESHOLDS[kind]
    warn, fail = table.get("warn", warn), table.get("fail", fail)
    for key, value in (("warn", warn), ("fail", fail)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 100:
            raise ConfigError(f"{where}: {key}: expected a percentage 0-100", at=(key,))
    if warn > fail:
        raise ConfigError(f"{where}: warn: must not be above fail ({fail})", at=("warn",))
    path = table.get("path", "/") if kind == "disk" else ""
    if not isinstance(path, str):
        raise ConfigError(f"{where}: path: expected a string", at=("path",))
    return replace(spec, target=path, warn_percent=float(warn), fail_percent=float(fail))


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
