from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import pytest

from obsview.backend.errors import ConfigError
from obsview.backend.signals.health import (
    HealthMonitor,
    ProbeSpec,
    _network_reason,
    health_json,
    http_status,
    parse_probes,
)
from obsview.common.protocol import HealthReport


class Dependency:
    """A real HTTP/1.1 server on loopback: /ok answers 200, /fail 500, /hang never answers."""

    def __init__(self) -> None:
        self.server: asyncio.Server | None = None
        self.port = 0
        self.handlers: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        self.port = self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()
        for handler in self.handlers:  # Python 3.11 has no Server.close_clients()
            handler.cancel()
        await asyncio.gather(*self.handlers, return_exceptions=True)
        await self.server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.handlers.add(task)
        try:
            request = await reader.readuntil(b"\r\n\r\n")
            path = request.split(b" ")[1]
            if path == b"/hang":
                await asyncio.sleep(3600)
            status, body = (b"500 Internal Server Error", b"boom") if path == b"/fail" else (b"200 OK", b'{"status":"ok"}')
            writer.write(b"HTTP/1.1 " + status + b"\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body)
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()
            self.handlers.discard(task)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@pytest.fixture
async def dependency() -> AsyncIterator[Dependency]:
    dep = Dependency()
    await dep.start()
    yield dep
    await dep.stop()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def monitor(*specs: ProbeSpec) -> HealthMonitor:
    return HealthMonitor(specs, version="1.2.3", started_at=0.0, clock=lambda: 100.0)


def http(name: str, url: str, **kwargs: object) -> ProbeSpec:
    return ProbeSpec(name=name, kind="http", target=url, timeout_s=kwargs.pop("timeout_s", 2.0), **kwargs)  # type: ignore[arg-type]


async def test_http_probe_healthy_then_500(dependency: Dependency) -> None:
    health = monitor(http("api", dependency.url("/ok"), body_contains='"ok"'), http("bad", dependency.url("/fail")))
    report = await health.check_all()
    api, bad = report.probes
    assert api.status == "healthy" and api.error == "" and api.latency_ms is not None
    assert bad.status == "unhealthy" and bad.error == "HTTP 500"
    assert report.status == "degraded" and http_status(report) == 200


async def test_body_substring_and_expected_status(dependency: Dependency) -> None:
    health = monitor(
        http("missing", dependency.url("/ok"), body_contains="nope"),
        http("expects-500", dependency.url("/fail"), expect_status=500),
        http("head", dependency.url("/ok"), method="HEAD"),
    )
    missing, expects_500, head = (await health.check_all()).probes
    assert missing.status == "unhealthy" and "does not contain 'nope'" in missing.error
    assert expects_500.status == "healthy"
    assert head.status == "healthy"


async def test_closed_port_is_unhealthy_with_connection_refused() -> None:
    port = closed_port()
    health = monitor(http("web", f"http://127.0.0.1:{port}/"),
                     ProbeSpec(name="redis", kind="tcp", target=f"127.0.0.1:{port}", host="127.0.0.1", port=port,
                               critical=True))
    report = await health.check_all()
    assert [(p.status, p.error) for p in report.probes] == [("unhealthy", "connection refused")] * 2
    assert report.status == "unhealthy" and http_status(report) == 503


async def test_tcp_probe_against_a_real_listener(dependency: Dependency) -> None:
    health = monitor(ProbeSpec(name="db", kind="tcp", target="x", host="127.0.0.1", port=dependency.port,
                               critical=True))
    report = await health.check_all()
    assert report.status == "healthy" and report.probes[0].status == "healthy"


async def test_a_hang_times_out_and_never_stalls_the_other_probes(dependency: Dependency) -> None:
    fast = http("fast", dependency.url("/ok"), interval_s=0.02, timeout_s=1.0)
    hung = http("hung", dependency.url("/hang"), interval_s=0.02, timeout_s=0.3)
    health = monitor(fast, hung)
    checks: list[HealthReport] = []
    health.on_change = checks.append
    task = asyncio.create_task(health.run())
    try:
        async with asyncio.timeout(5):
            while health.report().probes[1].status != "unhealthy":
                await asyncio.sleep(0.01)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    fast_status, hung_status = health.report().probes
    assert hung_status.error == "timeout after 0.3s" and hung_status.latency_ms is None
    assert fast_status.status == "healthy"
    # on_change saw the fast probe go healthy before the hung one went unhealthy.
    assert [r.probes[0].status for r in checks][0] == "healthy"
    assert checks[-1].probes[1].status == "unhealthy"


async def test_a_stopped_dependency_turns_unhealthy_and_back(dependency: Dependency) -> None:
    spec = http("api", dependency.url("/ok"), critical=True)
    health = monitor(spec)
    assert (await health.check_all()).status == "healthy"
    await dependency.stop()
    report = await health.check_all()
    assert report.status == "unhealthy" and report.probes[0].error == "connection refused"
    await dependency.start()  # same port
    assert (await health.check_all()).status == "healthy"


async def test_host_thresholds_use_real_readings() -> None:
    health = monitor(
        ProbeSpec(name="disk", kind="disk", target="/", warn_percent=0.0, fail_percent=100.0),
        ProbeSpec(name="memory", kind="memory", warn_percent=0.0, fail_percent=0.0),
        ProbeSpec(name="roomy", kind="disk", target="/", warn_percent=100.0, fail_percent=100.0),
    )
    disk, memory, roomy = (await health.check_all()).probes
    assert disk.status == "degraded" and "warn at 0%" in disk.error
    assert memory.status == "unhealthy" and "fail at 0%" in memory.error
    assert roomy.status == "healthy"


def test_reasons_for_dns_and_refusal() -> None:
    assert _network_reason(socket.gaierror(-2, "Name or service not known")) == "DNS: Name or service not known"
    assert _network_reason(ConnectionRefusedError(111, "Connection refused")) == "connection refused"


def test_health_json_has_the_seed_shape() -> None:
    health = monitor(http("database", "http://user:hunter2@127.0.0.1:1/"))
    body = health_json(health.report())
    assert body["status"] == "degraded" and body["version"] == "1.2.3" and body["uptime"] == 100.0
    assert body["services"] == {"database": {"status": "degraded", "error": "not checked yet"}}
    assert body["timestamp"] == "1970-01-01T00:01:40.000Z"
    assert "hunter2" not in health.report().probes[0].target


def test_no_probes_is_healthy() -> None:
    assert monitor().report().status == "healthy"


def test_parse_probes_reads_every_kind() -> None:
    specs = parse_probes([
        {"name": "api", "kind": "http", "url": "http://127.0.0.1:8000/api/health", "method": "head",
         "expect_status": 204, "interval": "30s", "timeout": "2s", "critical": True},
        {"name": "redis", "kind": "tcp", "host": "127.0.0.1", "port": 6379},
        {"name": "disk", "kind": "disk", "path": "/var", "warn": 85, "fail": 95},
        {"name": "memory", "kind": "memory"},
    ])
    api, redis, disk, memory = specs
    assert (api.method, api.expect_status, api.interval_s, api.timeout_s, api.critical) == ("HEAD", 204, 30.0, 2.0, True)
    assert redis.target == "127.0.0.1:6379"
    assert (disk.target, disk.warn_percent, disk.fail_percent) == ("/var", 85.0, 95.0)
    assert (memory.warn_percent, memory.fail_percent) == (80.0, 95.0)


@pytest.mark.parametrize(("table", "message"), [
    ({"kind": "tcp"}, "name: required$"),
    ({"name": "x"}, "kind: required, one of http, tcp, disk, memory$"),
    ({"name": "x", "kind": "ftp"}, "kind: expected one of http, tcp, disk, memory, got 'ftp'$"),
    ({"name": "x", "kind": "http", "url": "ftp://a"}, r"url: expected `str` matching regex '\^https\?://'$"),
    ({"name": "x", "kind": "http", "url": "http://a", "method": "POST"}, "method: expected GET or HEAD, got 'POST'$"),
    ({"name": "x", "kind": "http", "url": "http://a", "method": "head", "body_contains": "ok"},
     "body_contains: a HEAD response has no body$"),
    ({"name": "x", "kind": "tcp", "host": "h", "port": 70000}, "port: expected `int` <= 65535, got 70000$"),
    ({"name": "x", "kind": "tcp", "host": "h", "port": True}, "port: expected `int`, got True$"),
    ({"name": "x", "kind": "tcp", "host": "h", "port": 1, "interval": "soon"}, "interval: expected a duration"),
    ({"name": "x", "kind": "tcp", "host": "h", "port": 1, "timeout": 0}, "timeout: must be positive$"),
    ({"name": "x", "kind": "memory", "warn": 90, "fail": 80}, r"warn: must not be above fail \(80\)$"),
    ({"name": "x", "kind": "disk", "fail": 101}, "fail: expected `float` <= 100.0, got 101$"),
    ({"name": "x", "kind": "tcp", "host": "h", "port": 1, "url": "u"},
     r"url: unknown key \(known keys: critical, host, interval, kind, name, port, timeout\)$"),
])
def test_parse_probes_errors_name_the_key(table: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=r"^probes\[0\]\." + message):
        parse_probes([table])


async def test_a_failing_on_change_listener_does_not_stop_probing(caplog: pytest.LogCaptureFixture) -> None:
    health = monitor(ProbeSpec(name="memory", kind="memory", warn_percent=100.0, fail_percent=100.0))

    def broken(report: HealthReport) -> None:
        raise RuntimeError("listener bug")

    health.on_change = broken
    report = await health.check_all()
    assert report.probes[0].status == "healthy" and "on_change callback failed" in caplog.text
