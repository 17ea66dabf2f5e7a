"""run_demo end to end: a real agent, the blog API over HTTP, the dependency outage seen by
the probes and an alert acknowledged over the websocket — then nothing left listening."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable

import httpx
from websockets.asyncio.client import ClientConnection, connect

from obsview.backend.demo import run_demo
from obsview.backend.demo.http_server import bind_loopback
from obsview.common.protocol import Ack, Alerts, Events, Health, LogEvent, Message, Subscribe, decode, encode

#: 58 s into the script: the database outage (60–90 s) starts two seconds in.
JUST_BEFORE_OUTAGE_S = 58.0


def is_closed(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) != 0


async def receive_until(ws: ClientConnection, done: Callable[[Message], bool], timeout: float = 8.0) -> Message:
    async with asyncio.timeout(timeout):
        while True:
            message = decode(await ws.recv())
            if isinstance(message, Message) and done(message):
                return message


async def test_demo_streams_events_reports_the_outage_and_stops_everything() -> None:
    events: list[LogEvent] = []

    def keep_events(message: Message) -> bool:
        if isinstance(message, Events):
            events.extend(message.events)
        return False

    async with run_demo(duration_s=30, start_s=JUST_BEFORE_OUTAGE_S, seed=7) as demo:
        ports = [demo.agent.port, int(demo.api_url.rsplit(":", 1)[1]), demo.database.port, demo.redis.port]
        http_url = demo.agent_url.replace("ws://", "http://")
        async with httpx.AsyncClient(timeout=5) as client:
            assert (await client.get(f"{http_url}/api/metrics")).status_code == 200
        async with connect(demo.agent_url) as ws:
            await ws.send(encode(Subscribe(since_seq=0)))

            def database_down(message: Message) -> bool:
                keep_events(message)
                return isinstance(message, Health) and any(
                    p.name == "database" and p.status == "unhealthy" for p in message.report.probes
                )

            health = await receive_until(ws, database_down)
            assert isinstance(health, Health)
            assert {p.name for p in health.report.probes} == {"blog-api", "database", "redis"}

            def probe_alert_firing(message: Message) -> bool:
                keep_events(message)
                return isinstance(message, Alerts) and any(
                    a.rule == "probe_unhealthy" and a.state == "firing" for a in message.alerts
                )

            alerts = await receive_until(ws, probe_alert_firing)
            assert isinstance(alerts, Alerts)
            firing = next(a for a in alerts.alerts if a.rule == "probe_unhealthy" and a.state == "firing")
            await ws.send(encode(Ack(fingerprint=firing.fingerprint, by="pytest", note="looking")))
            acked = await receive_until(ws, lambda m: isinstance(m, Alerts) and any(
                a.fingerprint == firing.fingerprint and a.ack is not None for a in m.alerts))
            assert isinstance(acked, Alerts)

        access = [e for e in events if e.is_access and e.service == "blog-api"]
        assert access, "the middleware's access records reach the console"
        assert {e.route for e in access} & {"/api/posts", "/api/posts/:post_id", "/api/users/:user_id"}
        assert all(e.trace_id for e in access)
        app_logs = [e for e in events if e.source == "app:blog-api"]
        assert any(e.level == "ERROR" and e.message == "Unhandled error occurred" for e in app_logs)
        traced = {e.trace_id for e in access}
        assert any(e.trace_id in traced for e in app_logs), "app logs share the request's trace ID"
        assert demo.api.failures == 0 and demo.feed.dropped == 0
    assert all(is_closed(port) for port in ports)


async def test_busy_agent_port_falls_back_to_a_free_one() -> None:
    busy = bind_loopback()
    busy.listen()
    try:
        port = busy.getsockname()[1]
        async with run_demo(agent_port=port, duration_s=1) as demo:
            assert demo.agent.port not in (0, port)
            await demo.wait()
            assert demo.load.sent > 0
    finally:
        busy.close()


async def test_library_logs_do_not_reach_the_terminal() -> None:
    uvicorn_logger = logging.getLogger("uvicorn.error")
    before = (uvicorn_logger.propagate, uvicorn_logger.level)
    async with run_demo(duration_s=1) as demo:
        assert uvicorn_logger.propagate is False
        uvicorn_logger.warning("visible only in the console")
        await demo.feed.flush()
        stored = demo.agent.store.tail(50)
        assert any(e.message == "visible only in the console" for e in stored)
    assert (uvicorn_logger.propagate, uvicorn_logger.level) == before
