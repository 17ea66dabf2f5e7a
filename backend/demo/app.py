"""The seed's blog API (posts, users, auth, health) as a small Starlette app.

It logs the way the seed's Express app does — login successes and failures, suspicious
activity, data access, unhandled errors with an ``errorId``, cache hits and misses, slow
queries, TRACE lines — and depends on a "database" and a "Redis" that are real TCP services
(:mod:`obsview.backend.demo.deps`), so their outages show up as real errors.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import os
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from obsview.backend.demo.deps import ping
from obsview.backend.instrument import TRACE, ObsviewMiddleware, SpanSink, span

Endpoint = Callable[[Request], Awaitable[JSONResponse]]

#: Failed logins from one IP within this window that count as a brute-force attempt.
BRUTE_FORCE_WINDOW_S = 60.0
BRUTE_FORCE_ATTEMPTS = 5
DEMO_PASSWORD = "correct horse"
SLOW_QUERY_MS = 500.0
#: Comfortably above the seed's 70 % alert threshold, so only the Redis outage trips it.
CACHE_HIT_RATIO = 0.85


@dataclass(slots=True)
class Chaos:
    """Knobs the demo's scenario turns while the API runs."""

    error_fraction: float = 0.0
    """Share of data requests that fail with an unhandled error."""
    slow_fraction: float = 0.02
    """Share of database queries that take 0.6–1.5 s."""
    rng: random.Random = field(default_factory=random.Random)


@dataclass(slots=True)
class User:
    id: int
    name: str
    email: str
    password_hash: bytes
    role: str = "author"


def _hash(password: str) -> bytes:
    return hashlib.sha256(password.encode()).digest()


class BlogData:
    """In-memory users, posts and session tokens: the demo's "database" contents."""

    def __init__(self, rng: random.Random, users: int = 20, posts: int = 50) -> None:
        self.users: dict[int, User] = {}
        self.by_email: dict[str, User] = {}
        self.tokens: dict[str, int] = {}
        for i in range(1, users + 1):
            self.add_user(f"User {i}", f"user{i}@example.com", DEMO_PASSWORD)
        self.posts: dict[int, dict[str, Any]] = {}
        for i in range(1, posts + 1):
            self.add_post(rng.randint(1, users), f"Post number {i}", "Lorem ipsum " * 8)

    def add_user(self, name: str, email: str, password: str) -> User:
        user = User(len(self.users) + 1, name, email, _hash(password))
        self.users[user.id] = user
        self.by_email[email] = user
        return user

    def add_post(self, author_id: int, title: str, body: str) -> dict[str, Any]:
        post_id = max(self.posts, default=0) + 1
        post = {"id": post_id, "authorId": author_id, "title": title, "body": body}
        self.posts[post_id] = post
        return post


async def _json_body(request: Request) -> dict[str, Any]:
    """The request's JSON object, or ``{}`` for a missing or malformed body (a 400 later)."""
    try:
        body = await request.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def client_ip(request: Request) -> str:
    forwarded = request.headers.get("x-forwarded-for")
    if forwarded:
        return forwarded.split(",")[0].strip()
    return request.client.host if request.client else ""


class BlogApi:
    """The endpoints; every one runs through :meth:`_guarded` so a failure becomes the
    seed's "Unhandled error occurred" log and a 500 with an ``errorId``."""

    def __init__(self, *, db_port: int, redis_port: int, chaos: Chaos, logger: logging.Logger) -> None:
        self.db_port = db_port
        self.redis_port = redis_port
        self.chaos = chaos
        self.log = logger
        self.data = BlogData(chaos.rng)
        self.started_at = time.time()
        self._failed_logins: dict[str, deque[float]] = {}

    def routes(self) -> list[Route]:
        guarded = self._guarded
        return [
            Route("/api/health", self.health),
            Route("/api/auth/login", guarded(self.login), methods=["POST"]),
            Route("/api/auth/register", guarded(self.register), methods=["POST"]),
            Route("/api/users", guarded(self.list_users)),
            Route("/api/users/{user_id:int}", guarded(self.get_user)),
            Route("/api/posts", guarded(self.list_posts)),
            Route("/api/posts", guarded(self.create_post), methods=["POST"]),
            Route("/api/posts/{post_id:int}", guarded(self.get_post)),
        ]

    # ----------------------------------------------------------------- plumbing

    def _guarded(self, endpoint: Endpoint) -> Endpoint:
        async def run(request: Request) -> JSONResponse:
            self._authenticate(request)
            try:
                return await endpoint(request)
            except Exception as exc:
                error_id = os.urandom(6).hex()
                self.log.error(
                    "Unhandled error occurred",
                    exc_info=exc,
                    extra={
                        "errorId": error_id,
                        "request": {"method": request.method, "url": request.url.path},
                        "userId": getattr(request.state, "user_id", None),
                    },
                )
                return JSONResponse(
                    {"error": "internal_server_error", "message": "An unexpected error occurred",
                     "errorId": error_id},
                    status_code=500,
                )

        return run

    def _authenticate(self, request: Request) -> None:
        header = request.headers.get("authorization", "")
        if header.startswith("Bearer "):
            user_id = self.data.tokens.get(header[7:])
            if user_id is not None:
                request.state.user_id = user_id

    async def _query(self, sql: str) -> None:
        """A database round trip (a span): a real PING to the fake DB plus simulated query time."""
        operation = sql.split(" ", 1)[0]
        with span(f"db {operation}", kind="client", **{
            "db.system": "postgresql", "db.operation": operation, "db.statement": sql,
            "server.port": self.db_port,
        }):
            with span("db connect", kind="client", **{"server.port": self.db_port}):
                await ping(self.db_port)
            self.log.log(TRACE, "SQL: %s", sql)
            chaos = self.chaos
            if chaos.rng.random() < chaos.error_fraction:
                raise RuntimeError("deadlock detected while executing query")
            slow = chaos.rng.random() < chaos.slow_fraction
            seconds = chaos.rng.uniform(0.6, 1.5) if slow else chaos.rng.uniform(0.001, 0.015)
            await asyncio.sleep(seconds)
            if seconds * 1000 >= SLOW_QUERY_MS:
                self.log.debug("Slow query", extra={"query": sql, "duration": round(seconds * 1000)})

    async def _cached(self, key: str) -> bool:
        """True on a cache hit. Redis being down is a warning, not an error: fall back to the DB."""
        try:
            with span("redis GET", kind="client", **{"db.system": "redis", "db.operation": "GET",
                                                      "redis.key": key, "server.port": self.redis_port}):
                await ping(self.redis_port)
        except (OSError, TimeoutError) as exc:
            self.log.warning("Cache unavailable, falling back to database",
                             extra={"cache": "miss", "key": key, "reason": str(exc) or type(exc).__name__})
            return False
        hit = self.chaos.rng.random() < CACHE_HIT_RATIO
        self.log.debug("Cache hit" if hit else "Cache miss", extra={"cache": "hit" if hit else "miss", "key": key})
        return hit

    # ----------------------------------------------------------------- endpoints

    async def health(self, request: Request) -> JSONResponse:
        services: dict[str, dict[str, Any]] = {}
        for name, port in (("database", self.db_port), ("redis", self.redis_port)):
            try:
                services[name] = {"status": "healthy", "responseTime": round(await ping(port), 2)}
            except (OSError, TimeoutError) as exc:
                services[name] = {"status": "unhealthy", "error": str(exc) or type(exc).__name__}
        status = "healthy"
        if services["redis"]["status"] != "healthy":
            status = "degraded"
        if services["database"]["status"] != "healthy":
            status = "unhealthy"
        body = {"status": status, "timestamp": time.time(), "uptime": time.time() - self.started_at,
                "version": "1.0.0", "services": services}
        return JSONResponse(body, status_code=503 if status == "unhealthy" else 200)

    async def login(self, request: Request) -> JSONResponse:
        started = time.perf_counter()
        body = await _json_body(request)
        email = str(body.get("email", ""))
        user = self.data.by_email.get(email)
        await self._query("SELECT * FROM users WHERE email = ?")
        ip = client_ip(request)
        if user is None or not hmac.compare_digest(user.password_hash, _hash(str(body.get("password", "")))):
            reason = "unknown email" if user is None else "wrong password"
            self.log.warning("User login failed", extra={
                "email": email, "reason": reason, "ip": ip,
                "userAgent": request.headers.get("user-agent", ""),
                "duration": round((time.perf_counter() - started) * 1000, 2),
            })
            self._note_failed_login(request, ip)
            return JSONResponse({"error": "Invalid credentials"}, status_code=401)
        token = os.urandom(16).hex()
        self.data.tokens[token] = user.id
        request.state.user_id = user.id
        self.log.info("User login successful", extra={
            "userId": user.id, "email": user.email, "method": "password", "ip": ip,
            "duration": round((time.perf_counter() - started) * 1000, 2),
        })
        return JSONResponse({"token": token, "user": {"id": user.id, "name": user.name}})

    def _note_failed_login(self, request: Request, ip: str) -> None:
        now = time.monotonic()
        attempts = self._failed_logins.setdefault(ip, deque(maxlen=BRUTE_FORCE_ATTEMPTS))
        attempts.append(now)
        if len(attempts) == BRUTE_FORCE_ATTEMPTS and now - attempts[0] <= BRUTE_FORCE_WINDOW_S:
            attempts.clear()
            self.log.warning("Suspicious activity detected", extra={
                "ip": ip, "activity": "repeated failed logins", "severity": "high",
                "endpoint": request.url.path, "userAgent": request.headers.get("user-agent", ""),
            })
        if len(self._failed_logins) > 10_000:  # bounded: forget the oldest IPs
            del self._failed_logins[next(iter(self._failed_logins))]

    async def register(self, request: Request) -> JSONResponse:
        body = await _json_body(request)
        email, name, password = (str(body.get(k, "")) for k in ("email", "name", "password"))
        if "@" not in email or not name or len(password) < 8:
            return JSONResponse({"error": "validation_error", "message": "name, email and an 8+ character password are required"},
                                status_code=400)
        await self._query("SELECT id FROM users WHERE email = ?")
        if email in self.data.by_email:
            return JSONResponse({"error": "conflict", "message": "email already registered"}, status_code=409)
        if len(self.data.users) >= 10_000:  # bounded demo data
            return JSONResponse({"error": "registrations closed"}, status_code=403)
        await self._query("INSERT INTO users (name, email, password_hash) VALUES (?, ?, ?)")
        user = self.data.add_user(name, email, password)
        self.log.info("User registered", extra={"userId": user.id, "email": email, "ip": client_ip(request)})
        return JSONResponse({"id": user.id, "name": user.name}, status_code=201)

    async def list_users(self, request: Request) -> JSONResponse:
        await self._query("SELECT id, name FROM users LIMIT 20")
        return JSONResponse({"data": [{"id": u.id, "name": u.name} for u in list(self.data.users.values())[:20]]})

    async def get_user(self, request: Request) -> JSONResponse:
        user_id = request.path_params["user_id"]
        await self._query("SELECT id, name, email FROM users WHERE id = ?")
        user = self.data.users.get(user_id)
        if user is None:
            return JSONResponse({"error": "not_found"}, status_code=404)
        self.log.info("Data access", extra={
            "userId": getattr(request.state, "user_id", None), "resource": "user", "action": "read",
            "resourceId": user_id, "ip": client_ip(request),
        })
        return JSONResponse({"id": user.id, "name": user.name, "email": user.email})

    async def list_posts(self, request: Request) -> JSONResponse:
        if not await self._cached("posts:recent"):
            await self._query("SELECT * FROM posts ORDER BY id DESC LIMIT 10")
        recent = sorted(self.data.posts)[-10:]
        return JSONResponse({"data": [self.data.posts[i] for i in reversed(recent)]})

    async def get_post(self, request: Request) -> JSONResponse:
        post_id = request.path_params["post_id"]
        if not await self._cached(f"post:{post_id}"):
            await self._query("SELECT * FROM posts WHERE id = ?")
        post = self.data.posts.get(post_id)
        if post is None:
            return JSONResponse({"error": "not_found"}, status_code=404)
        return JSONResponse(post)

    async def create_post(self, request: Request) -> JSONResponse:
        user_id = getattr(request.state, "user_id", None)
        if user_id is None:
            return JSONResponse({"error": "unauthorized"}, status_code=401)
        body = await _json_body(request)
        title = str(body.get("title", "")).strip()
        if not title:
            return JSONResponse({"error": "validation_error", "message": "title is required"}, status_code=400)
        await self._query("INSERT INTO posts (author_id, title, body) VALUES (?, ?, ?)")
        if len(self.data.posts) >= 10_000:  # bounded demo data: recycle the oldest post
            del self.data.posts[min(self.data.posts)]
        post = self.data.add_post(user_id, title[:200], str(body.get("body", ""))[:2000])
        self.log.info("Data access", extra={
            "userId": user_id, "resource": "post", "action": "create", "resourceId": post["id"],
            "ip": client_ip(request),
        })
        return JSONResponse(post, status_code=201)


def create_app(
    *,
    db_port: int,
    redis_port: int,
    chaos: Chaos | None = None,
    logger: logging.Logger | None = None,
    emit: Callable[[dict[str, Any]], None] | None = None,
    spans: SpanSink | None = None,
) -> ObsviewMiddleware:
    """The blog API wrapped in :class:`ObsviewMiddleware` (the returned object, whose
    ``failures`` counter the demo reports). The load generator varies ``X-Forwarded-For``
    to look like many clients, so the middleware trusts it here. With ``spans``, every
    request is traced: its handler and its database and Redis calls become spans."""
    api = BlogApi(
        db_port=db_port, redis_port=redis_port, chaos=chaos or Chaos(),
        logger=logger or logging.getLogger("obsview.demo.blog"),
    )
    return ObsviewMiddleware(Starlette(routes=api.routes()), emit=emit, service="blog-api",
                             trust_forwarded=True, spans=spans)
