"""Realistic traffic for the demo API over real HTTP, bounded in rate, count and time.

Readers browse posts and users, authors log in and write, some clients mistype passwords or
probe paths that do not exist, and during the scenario's brute-force phase one address
hammers the login endpoint. Only loopback targets are accepted.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import random
from collections import Counter
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

import httpx

from obsview.backend.demo.app import DEMO_PASSWORD
from obsview.backend.demo.scenario import Scenario

MAX_RATE = 50.0
"""Requests per second the generator never exceeds, whatever it is asked."""
REQUEST_TIMEOUT_S = 5.0
ATTACKER_IP = "198.51.100.66"
USER_AGENTS = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
    "blog-mobile/2.3.1 (Android 14)",
    "curl/8.5.0",
)
SCANNER_PATHS = ("/wp-login.php", "/.env", "/api/v2/posts", "/admin", "/api/posts/latest")

Action = Callable[[httpx.AsyncClient, dict[str, str]], Awaitable[httpx.Response]]


def require_loopback(url: str) -> None:
    host = urlsplit(url).hostname or ""
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback:
        raise ValueError(f"the load generator only targets loopback addresses, not {host!r}")


class LoadGenerator:
    """Sends up to ``rate`` requests per second (capped at :data:`MAX_RATE`) with at most
    ``max_in_flight`` outstanding; stops after ``max_requests`` or ``duration_s``, or when
    cancelled. A tick that finds every slot busy is skipped and counted, never queued."""

    def __init__(
        self,
        base_url: str,
        scenario: Scenario | None = None,
        *,
        rate: float = 20.0,
        max_in_flight: int = 16,
        max_requests: int = 200_000,
        duration_s: float | None = 3600.0,
        rng: random.Random | None = None,
    ) -> None:
        require_loopback(base_url)
        self.base_url = base_url
        self.scenario = scenario
        self.rate = min(max(rate, 0.1), MAX_RATE)
        self.max_in_flight = max_in_flight
        self.max_requests = max_requests
        self.duration_s = duration_s
        self.rng = rng or random.Random()
        self.sent = 0
        self.skipped = 0
        self.transport_errors = 0
        self.status_counts: Counter[int] = Counter()
        self._in_flight = 0
        self._token = ""
        self._actions: list[Action] = [
            self._browse_posts, self._read_post, self._read_user, self._list_users,
            self._write_post, self._login, self._bad_login, self._register, self._health,
            self._scan,
        ]
        # Normal traffic keeps 4xx near 3 %, under the seed's 5 % error-rate threshold, so
        # the alert fires only when the scenario breaks something.
        self._weights = [30, 25, 10, 4, 8, 8, 0.5, 1, 2, 0.5]

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.duration_s if self.duration_s is not None else float("inf")
        interval = 1.0 / self.rate
        limits = httpx.Limits(max_connections=self.max_in_flight, max_keepalive_connections=self.max_in_flight)
        async with (
            httpx.AsyncClient(base_url=self.base_url, timeout=REQUEST_TIMEOUT_S, limits=limits) as client,
            asyncio.TaskGroup() as requests,
        ):
            next_at = loop.time()
            while self.sent < self.max_requests and loop.time() < deadline:
                if self._in_flight < self.max_in_flight:
                    self.sent += 1
                    self._in_flight += 1
                    requests.create_task(self._one(client))
                else:
                    self.skipped += 1
                next_at += interval * self.rng.uniform(0.5, 1.5)
                await asyncio.sleep(max(0.0, next_at - loop.time()))

    async def _one(self, client: httpx.AsyncClient) -> None:
        try:
            if self.scenario is not None and self.scenario.state.brute_force and self.rng.random() < 0.3:
                response = await self._brute_force(client, self._headers(ATTACKER_IP))
            else:
                action = self.rng.choices(self._actions, self._weights)[0]
                response = await action(client, self._headers())
            self.status_counts[response.status_code] += 1
        except (httpx.HTTPError, ValueError):  # ValueError: a reply that is not the JSON expected
            self.transport_errors += 1
        finally:
            self._in_flight -= 1

    def _headers(self, ip: str | None = None) -> dict[str, str]:
        rng = self.rng
        headers = {
            "User-Agent": rng.choice(USER_AGENTS),
            "X-Forwarded-For": ip or f"203.0.113.{rng.randint(1, 254)}",
        }
        roll = rng.random()
        if roll < 0.3:  # an upstream service that propagates W3C trace context
            headers["traceparent"] = f"00-{os.urandom(16).hex()}-{os.urandom(8).hex()}-01"
        elif roll < 0.4:
            headers["X-Request-Id"] = f"req-{os.urandom(6).hex()}"
        if self._token and rng.random() < 0.5:
            headers["Authorization"] = f"Bearer {self._token}"
        return headers

    # ----------------------------------------------------------------- actions

    async def _browse_posts(self, client: httpx.AsyncClient, headers: dict[str, str]) -> httpx.Response:
        return await client.get("/api/posts", headers=headers)

    async def _read_post(self, client: httpx.AsyncClient, headers: dict[str, str]) -> httpx.Response:
        # Mostly posts that exist; a few stale links (404) as real traffic has.
        post_id = self.rng.randint(1, 50) if self.rng.random() < 0.97 else self.rng.randint(900, 999)
        return await client.get(f"/api/posts/{post_id}", headers=headers)

    async def _read_user(self, client: httpx.AsyncClient, headers: dict[str, str]) -> httpx.Response:
        return await client.get(f"/api/users/{self.rng.randint(1, 20)}", headers=headers)

    async def _list_users(self, client: httpx.AsyncClient, headers: dict[str, str]) -> httpx.Response:
        return await client.get("/api/users", headers=headers)

    async def _write_post(self, client: httpx.AsyncClient, headers: dict[str, str]) -> httpx.Response:
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        title = self.rng.choice(("Release notes", "Why we log in JSON", "Caching 101")) if self.rng.random() < 0.95 else ""
        return await client.post("/api/posts", json={"title": title, "body": "…"}, headers=headers)

    async def _login(self, client: httpx.AsyncClient, headers: dict[str, str]) -> httpx.Response:
        email = f"user{self.rng.randint(1, 20)}@example.com"
        response = await client.post("/api/auth/login", json={"email": email, "password": DEMO_PASSWORD},
                                     headers=headers)
        if response.status_code == 200:
            self._token = str(response.json().get("token", ""))
        return response

    async def _bad_login(self, client: httpx.AsyncClient, headers: dict[str, str]) -> httpx.Response:
        email = self.rng.choice((f"user{self.rng.randint(1, 20)}@example.com", "admin@example.com"))
        return await client.post("/api/auth/login", json={"email": email, "password": "hunter2"}, headers=headers)

    async def _brute_force(self, client: httpx.AsyncClient, headers: dict[str, str]) -> httpx.Response:
        return await client.post("/api/auth/login", json={"email": "admin@example.com",
                                                          "password": f"guess{self.rng.randint(1, 9999)}"},
                                 headers=headers)

    async def _register(self, client: httpx.AsyncClient, headers: dict[str, str]) -> httpx.Response:
        n = self.rng.randint(1, 400)  # small range: some addresses are taken → 409
        password = "a long passphrase" if self.rng.random() < 0.8 else "short"  # short → 400
        return await client.post("/api/auth/register", headers=headers,
                                 json={"name": f"Reader {n}", "email": f"reader{n}@example.com", "password": password})

    async def _health(self, client: httpx.AsyncClient, headers: dict[str, str]) -> httpx.Response:
        return await client.get("/api/health", headers=headers)

    async def _scan(self, client: httpx.AsyncClient, headers: dict[str, str]) -> httpx.Response:
        return await client.get(self.rng.choice(SCANNER_PATHS), headers=headers)
