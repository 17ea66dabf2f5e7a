"""The demo's blog API, fake dependencies, scenario and load generator, without an agent."""

from __future__ import annotations

import logging
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from obsview.backend.demo.app import DEMO_PASSWORD, Chaos, create_app
from obsview.backend.demo.deps import FakeDependency, ping
from obsview.backend.demo.http_server import serve_app
from obsview.backend.demo.loadgen import LoadGenerator, require_loopback
from obsview.backend.demo.scenario import CYCLE_S, Scenario, state_at
from obsview.backend.instrument import TRACE, record_to_dict


class DictHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record_to_dict(record))

    def messages(self) -> list[str]:
        return [r["message"] for r in self.records]


@dataclass(slots=True)
class Blog:
    url: str
    database: FakeDependency
    redis: FakeDependency
    chaos: Chaos
    logs: DictHandler
    access: list[dict[str, Any]]


@pytest.fixture
async def blog() -> AsyncIterator[Blog]:
    database, redis = FakeDependency("database"), FakeDependency("redis")
    await database.start()
    await redis.start()
    logs = DictHandler()
    logger = logging.getLogger("tests.demo.blog")
    logger.handlers[:] = [logs]
    logger.propagate = False
    logger.setLevel(TRACE)
    access: list[dict[str, Any]] = []
    chaos = Chaos(slow_fraction=0.0, rng=random.Random(1))
    app = create_app(db_port=database.port, redis_port=redis.port, chaos=chaos, logger=logger, emit=access.append)
    try:
        async with serve_app(app) as url:
            yield Blog(url, database, redis, chaos, logs, access)
    finally:
        await database.stop()
        await redis.stop()


async def test_dependency_goes_down_and_comes_back_on_the_same_port() -> None:
    dependency = FakeDependency("db")
    await dependency.start()
    port = dependency.port
    assert await ping(port) >= 0
    await dependency.down()
    with pytest.raises(OSError):
        await ping(port)
    await dependency.up()
    assert dependency.port == port
    assert await ping(port) >= 0
    await dependency.stop()


async def test_health_follows_dependencies(blog: Blog) -> None:
    async with httpx.AsyncClient(base_url=blog.url, timeout=5) as client:
        healthy = await client.get("/api/health")
        await blog.redis.down()
        degraded = await client.get("/api/health")
        await blog.database.down()
        unhealthy = await client.get("/api/health")
    assert (healthy.status_code, healthy.json()["status"]) == (200, "healthy")
    assert (degraded.status_code, degraded.json()["status"]) == (200, "degraded")
    assert (unhealthy.status_code, unhealthy.json()["status"]) == (503, "unhealthy")
    assert unhealthy.json()["services"]["database"]["status"] == "unhealthy"


async def test_failed_logins_are_security_warnings_and_repeats_are_suspicious(blog: Blog) -> None:
    headers = {"X-Forwarded-For": "198.51.100.9", "User-Agent": "hydra"}
    async with httpx.AsyncClient(base_url=blog.url, timeout=5) as client:
        ok = await client.post("/api/auth/login", json={"email": "user1@example.com", "password": DEMO_PASSWORD})
        statuses = [
            (await client.post("/api/auth/login", json={"email": "user1@example.com", "password": "x"},
                               headers=headers)).status_code
            for _ in range(5)
        ]
    assert ok.status_code == 200 and ok.json()["token"]
    assert statuses == [401] * 5
    failed = [r for r in blog.logs.records if r["message"] == "User login failed"]
    assert len(failed) == 5
    assert (failed[0]["level"], failed[0]["email"], failed[0]["reason"], failed[0]["ip"]) == (
        "WARN", "user1@example.com", "wrong password", "198.51.100.9")
    assert "User login successful" in blog.logs.messages()
    (suspicious,) = [r for r in blog.logs.records if r["message"] == "Suspicious activity detected"]
    assert (suspicious["ip"], suspicious["userAgent"]) == ("198.51.100.9", "hydra")
    assert not any(DEMO_PASSWORD in str(r) for r in blog.logs.records)  # passwords are never logged
    assert [a["request"]["ip"] for a in blog.access[-5:]] == ["198.51.100.9"] * 5


async def test_unhandled_error_has_error_id_and_shares_the_trace_id(blog: Blog) -> None:
    blog.chaos.error_fraction = 1.0
    async with httpx.AsyncClient(base_url=blog.url, timeout=5) as client:
        response = await client.get("/api/users/3")
    assert response.status_code == 500
    (error,) = [r for r in blog.logs.records if r["message"] == "Unhandled error occurred"]
    assert error["errorId"] == response.json()["errorId"]
    assert error["error"]["type"] == "RuntimeError"
    assert "deadlock" in error["error"]["stack"]
    assert error["traceId"] == response.headers["x-trace-id"] == blog.access[-1]["traceId"]
    assert (blog.access[-1]["level"], blog.access[-1]["route"]) == ("ERROR", "/api/users/:user_id")


async def test_database_down_turns_data_requests_into_500s(blog: Blog) -> None:
    await blog.database.down()
    async with httpx.AsyncClient(base_url=blog.url, timeout=5) as client:
        response = await client.get("/api/users/1")
    assert response.status_code == 500
    assert blog.logs.records[-1]["error"]["type"] in ("ConnectionRefusedError", "OSError")


async def test_posts_log_cache_and_trace_lines_and_need_auth_to_write(blog: Blog) -> None:
    async with httpx.AsyncClient(base_url=blog.url, timeout=5) as client:
        assert (await client.get("/api/posts")).status_code == 200
        assert (await client.get("/api/posts/999")).status_code == 404
        assert (await client.post("/api/posts", json={"title": "t"})).status_code == 401
        token = (await client.post("/api/auth/login", json={"email": "user2@example.com",
                                                             "password": DEMO_PASSWORD})).json()["token"]
        created = await client.post("/api/posts", json={"title": "t"}, headers={"Authorization": f"Bearer {token}"})
    assert created.status_code == 201
    assert {"Cache hit", "Cache miss"} & set(blog.logs.messages())
    assert any(r["level"] == "TRACE" and r["message"].startswith("SQL:") for r in blog.logs.records)
    assert blog.access[-1]["request"]["userId"] == 2


def test_scenario_timeline_breaks_things_early_and_repeats() -> None:
    assert state_at(5).error_fraction == 0 and not state_at(5).db_down
    assert state_at(30).error_fraction > 0.05
    assert state_at(35).brute_force
    assert state_at(70).db_down and not state_at(110).db_down
    assert state_at(130).redis_down
    assert state_at(155).slow_fraction > 0.3
    assert state_at(CYCLE_S + 70).db_down


def test_load_generator_refuses_non_loopback_targets() -> None:
    for url in ("http://example.com", "http://10.0.0.1:8000", "http://0.0.0.0:80"):
        with pytest.raises(ValueError):
            require_loopback(url)
    require_loopback("http://127.0.0.1:8000")
    require_loopback("http://[::1]:8000")


async def test_load_generator_stops_at_its_request_budget(blog: Blog) -> None:
    load = LoadGenerator(blog.url, rate=500, max_requests=40, rng=random.Random(3))
    assert load.rate == 50  # capped
    await load.run()
    assert load.sent == 40
    assert sum(load.status_counts.values()) + load.transport_errors == 40
    assert len(blog.access) == 40
    assert {200, 404} <= set(load.status_counts)


async def test_scenario_takes_the_database_down_and_brings_it_back() -> None:
    database, redis = FakeDependency("database"), FakeDependency("redis")
    await database.start()
    await redis.start()
    now = [100.0]
    chaos = Chaos()
    scenario = Scenario(chaos, database, redis, clock=lambda: now[0])
    try:
        await scenario.apply()
        assert database.is_up and chaos.error_fraction == 0
        now[0] += 20
        await scenario.apply()
        assert chaos.error_fraction == 0.3
        now[0] += 41
        await scenario.apply()
        assert not database.is_up and redis.is_up
        with pytest.raises(OSError):
            await ping(database.port)
        now[0] += 30
        await scenario.apply()
        assert await ping(database.port) >= 0
    finally:
        await database.stop()
        await redis.stop()
